build/obj/ipc/conn.o: ipc/conn.c ipc/conn.h ipc/msg.h ipc/frame.h \
 ipc/log.h
ipc/conn.h:
ipc/msg.h:
ipc/frame.h:
ipc/log.h:
