build/obj/ipc/frame.o: ipc/frame.c ipc/frame.h
ipc/frame.h:
