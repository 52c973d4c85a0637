# The viralsup-scheduler program (its main.c started as a skeleton).
$(eval $(call program,viralsup-scheduler,actors/scheduler/main.c,ipc))
