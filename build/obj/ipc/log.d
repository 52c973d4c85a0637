build/obj/ipc/log.o: ipc/log.c ipc/log.h
ipc/log.h:
