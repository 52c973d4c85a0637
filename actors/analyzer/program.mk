# The viralsup-analyzer program (its main.c started as a skeleton).
$(eval $(call program,viralsup-analyzer,actors/analyzer/main.c,ipc))
