# The viralsup-writer program (its main.c started as a skeleton).
$(eval $(call program,viralsup-writer,actors/writer/main.c,ipc))
