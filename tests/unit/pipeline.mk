# End-to-end tests of the batch pipeline: the real viralsup stack (every
# actor), real PostgreSQL, the fixtures provider or the fake RapidAPI server.
$(eval $(call test,test_pipeline,tests/unit/test_pipeline.c tests/stack.c tests/unit/suptest.c,ipc))
$(B)/tests/test_pipeline: | $(B)/bin/viralsup $(B)/bin/viralctl $(B)/bin/viralsup-migrate \
	$(B)/bin/viralsup-gateway $(B)/bin/viralsup-scheduler $(B)/bin/viralsup-fetcher \
	$(B)/bin/viralsup-analyzer $(B)/bin/viralsup-writer
