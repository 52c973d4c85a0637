build/obj/ipc/config.o: ipc/config.c ipc/config.h ipc/log.h
ipc/config.h:
ipc/log.h:
