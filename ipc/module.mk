# ipc/: the library every process links.
IPC_SRCS := ipc/log.c ipc/frame.c ipc/msg.c ipc/conn.c ipc/config.c ipc/actor.c
$(eval $(call library,ipc,$(IPC_SRCS)))
# curl_ev: libcurl multi on a libev loop, the HTTP client of the fetcher
# (providers) and the analyzer (LLM engine). Its own library so programs
# that make no HTTP calls do not link it.
$(eval $(call library,curlev,ipc/curl_ev.c))
