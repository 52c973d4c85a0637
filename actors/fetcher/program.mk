# The viralsup-fetcher program (its main.c started as a skeleton).
$(eval $(call program,viralsup-fetcher,actors/fetcher/main.c,ipc))
