# actors/fetcher/: the fetch library (HTTP engine, providers); the actor's
# main.c is added by the pipeline.
FETCH_SRCS := actors/fetcher/curl_ev.c actors/fetcher/provider.c actors/fetcher/provider_parse.c \
              actors/fetcher/provider_rapidapi.c actors/fetcher/provider_fixtures.c
$(eval $(call library,fetch,$(FETCH_SRCS)))
$(eval $(call test,test_fetch_parse,tests/unit/test_fetch_parse.c,fetch))
$(eval $(call test,test_fetch_http,tests/unit/test_fetch_http.c,fetch))
$(eval $(call fuzzer,fuzz_provider,tests/fuzz/fuzz_provider.c actors/fetcher/provider_parse.c))
