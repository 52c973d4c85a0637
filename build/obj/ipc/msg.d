build/obj/ipc/msg.o: ipc/msg.c ipc/msg.h ipc/frame.h ipc/log.h
ipc/msg.h:
ipc/frame.h:
ipc/log.h:
