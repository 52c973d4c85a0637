# actors/gateway: the HTTP API actor (docs/API.md).
GATEWAY_SRCS := actors/gateway/main.c actors/gateway/http.c actors/gateway/addr.c \
		actors/gateway/routes.c actors/gateway/auth.c actors/gateway/edge.c \
		actors/gateway/json.c actors/gateway/metrics.c actors/gateway/admin.c \
		$(B)/gen/admin_assets.c
# The operations page's files, embedded at build time (admin/embed.sh).
ADMIN_ASSETS := actors/gateway/admin/index.html actors/gateway/admin/app.css \
		actors/gateway/admin/app.js
$(B)/gen/admin_assets.c: $(ADMIN_ASSETS) actors/gateway/admin/embed.sh
	@mkdir -p $(dir $@)
	sh actors/gateway/admin/embed.sh $(ADMIN_ASSETS) > $@.tmp && mv $@.tmp $@
# sql/pg.c and the migrations directly, not libsql: the gateway needs only
# the async connection, not the queue protocol.
GATEWAY_SQL := sql/pg.c
$(eval $(call program,viralsup-gateway,$(GATEWAY_SRCS) $(GATEWAY_SQL),ipc))

$(eval $(call test,test_gateway_http,tests/unit/test_gateway_http.c actors/gateway/http.c actors/gateway/addr.c,ipc))
$(eval $(call test,test_gateway,tests/unit/test_gateway.c,sql ipc))
$(eval $(call test,test_admin_page,tests/unit/test_admin_page.c tests/stack.c tests/unit/suptest.c,ipc))
$(B)/tests/test_admin_page: | $(B)/bin/viralsup $(B)/bin/viralctl $(B)/bin/viralsup-migrate \
	$(B)/bin/viralsup-gateway $(B)/bin/viralsup-scheduler $(B)/bin/viralsup-fetcher \
	$(B)/bin/viralsup-analyzer $(B)/bin/viralsup-writer
$(eval $(call fuzzer,fuzz_http,tests/fuzz/fuzz_http.c actors/gateway/http.c actors/gateway/addr.c ipc/log.c))
