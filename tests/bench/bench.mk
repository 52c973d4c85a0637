# tests/bench: programs of `make bench` (tests/bench/run.sh). bench_claims is
# built by sql/module.mk and bench_restart by supervisor/module.mk.
$(eval $(call program,bench_ipc,tests/bench/bench_ipc.c,ipc))
$(eval $(call program,bench_scale,tests/bench/bench_scale.c,sql ipc))
$(eval $(call program,bare_http,tests/bench/bare_http.c tests/bench/mini_http.c,))
$(eval $(call program,fake_provider,tests/fake_provider/fake_provider.c tests/bench/mini_http.c,))
