build/obj/ipc/actor.o: ipc/actor.c ipc/actor.h ipc/conn.h ipc/msg.h \
 ipc/config.h ipc/log.h
ipc/actor.h:
ipc/conn.h:
ipc/msg.h:
ipc/config.h:
ipc/log.h:
