# actors/fetcher/: the fetch library (providers; the HTTP engine is ipc/curl_ev, library "curlev"); the actor's
# main.c is added by the pipeline.
FETCH_SRCS := actors/fetcher/provider.c actors/fetcher/provider_parse.c \
              actors/fetcher/provider_rapidapi.c actors/fetcher/provider_fixtures.c \
              actors/fetcher/deadline.c
$(eval $(call library,fetch,$(FETCH_SRCS)))
$(eval $(call test,test_fetch_parse,tests/unit/test_fetch_parse.c,fetch curlev ipc))
$(eval $(call test,test_fetch_http,tests/unit/test_fetch_http.c,fetch curlev))
$(eval $(call fuzzer,fuzz_provider,tests/fuzz/fuzz_provider.c actors/fetcher/provider_parse.c))
