# Chaos (issue 7): the chaos driver, the chaos tests and `make chaos`.
#   build/bin/chaos_driver   SIGKILLs random actors of a running node (tests/chaos/driver.c)
#   build/tests/test_chaos   the scenarios; short in `make check`, long with CHAOS_LONG=1
#   make chaos               the long versions (tests/chaos/run.sh), figures in build/chaos/
$(eval $(call program,chaos_driver,tests/chaos/driver.c tests/chaos/chaos.c,ipc))
$(eval $(call test,test_chaos,tests/unit/test_chaos.c tests/chaos/chaos.c tests/stack.c tests/unit/suptest.c,ipc))
$(B)/tests/test_chaos: | $(B)/bin/viralsup $(B)/bin/viralctl $(B)/bin/viralsup-migrate \
	$(B)/bin/viralsup-gateway $(B)/bin/viralsup-scheduler $(B)/bin/viralsup-fetcher \
	$(B)/bin/viralsup-analyzer $(B)/bin/viralsup-writer

chaos: all $(B)/tests/test_chaos $(B)/bin/chaos_driver
	@B=$(B) ./tests/chaos/run.sh
