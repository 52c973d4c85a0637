# Promises of the docs held against the whole stack (tests/unit/test_promises.c).
$(eval $(call test,test_promises,tests/unit/test_promises.c tests/stack.c tests/unit/suptest.c,ipc))
$(B)/tests/test_promises: | $(B)/bin/viralsup $(B)/bin/viralctl $(B)/bin/viralsup-migrate \
	$(B)/bin/viralsup-gateway $(B)/bin/viralsup-scheduler $(B)/bin/viralsup-fetcher \
	$(B)/bin/viralsup-analyzer $(B)/bin/viralsup-writer
