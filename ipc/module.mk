# ipc/: the library every process links.
IPC_SRCS := ipc/log.c ipc/frame.c ipc/msg.c ipc/conn.c ipc/config.c ipc/actor.c
$(eval $(call library,ipc,$(IPC_SRCS)))
