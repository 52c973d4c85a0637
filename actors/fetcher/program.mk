# viralsup-fetcher: providers (library "fetch") behind an actor.
$(eval $(call program,viralsup-fetcher,actors/fetcher/main.c,fetch curlev ipc))
