# tests/security: hostile input and outside faults against the real stack
# (docs/SECURITY.md), and `make memcheck`: the unit test binaries that need
# no stack, under valgrind.
SECTEST_SRCS := tests/security/sectest.c tests/stack.c tests/unit/suptest.c
SECTEST_BINS := $(B)/bin/viralsup $(B)/bin/viralctl $(B)/bin/viralsup-migrate \
	$(B)/bin/viralsup-gateway $(B)/bin/viralsup-scheduler $(B)/bin/viralsup-fetcher \
	$(B)/bin/viralsup-analyzer $(B)/bin/viralsup-writer
$(eval $(call test,test_security_http,tests/security/test_security_http.c $(SECTEST_SRCS),ipc))
$(B)/tests/test_security_http: | $(SECTEST_BINS)
$(eval $(call test,test_security_ops,tests/security/test_security_ops.c $(SECTEST_SRCS),ipc))
$(B)/tests/test_security_ops: | $(SECTEST_BINS)

# make memcheck: no stack needed, real PostgreSQL for the sql tests. Not in
# `make check` (4-5 minutes on 2 shared cores); see docs/SECURITY.md.
# test_gateway is left out: it runs the real gateway binary (not under
# valgrind) and its own helpers keep their response buffers to the end.
MEMCHECK_TESTS := test_ipc_frame test_ipc_conn test_ipc_config test_gateway_http \
	test_fetch_parse test_fetch_http test_analysis test_sql_pg test_migrate test_queue
.PHONY: memcheck
memcheck: $(addprefix $(B)/tests/,$(MEMCHECK_TESTS))
	@if [ -n "$(SANFLAGS)" ]; then echo "memcheck: not with SANITIZE=1 (valgrind and ASan do not mix)"; exit 2; fi
	@B=$(B) ./tests/security/memcheck.sh $(MEMCHECK_TESTS)
