# actors/gateway: the HTTP API actor (docs/API.md).
GATEWAY_SRCS := actors/gateway/main.c actors/gateway/http.c actors/gateway/addr.c \
		actors/gateway/routes.c actors/gateway/auth.c actors/gateway/edge.c \
		actors/gateway/json.c actors/gateway/metrics.c
# sql/pg.c and the migrations directly, not libsql: the gateway needs only
# the async connection, not the queue protocol.
GATEWAY_SQL := sql/pg.c
$(eval $(call program,viralsup-gateway,$(GATEWAY_SRCS) $(GATEWAY_SQL),ipc))

$(eval $(call test,test_gateway_http,tests/unit/test_gateway_http.c actors/gateway/http.c actors/gateway/addr.c,ipc))
$(eval $(call test,test_gateway,tests/unit/test_gateway.c,sql ipc))
$(eval $(call fuzzer,fuzz_http,tests/fuzz/fuzz_http.c actors/gateway/http.c actors/gateway/addr.c ipc/log.c))
