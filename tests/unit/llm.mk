# The llm analysis engine against the fake chat-completions server
# (tests/fake_llm/fake_llm.py), in-process on its own event loop.
$(eval $(call test,test_llm,tests/unit/test_llm.c,analysis_llm analysis curlev ipc))
# ... and inside the whole stack (real actors and PostgreSQL).
$(eval $(call test,test_llm_stack,tests/unit/test_llm_stack.c tests/stack.c tests/unit/suptest.c,ipc))
$(B)/tests/test_llm_stack: | $(B)/bin/viralsup $(B)/bin/viralctl $(B)/bin/viralsup-migrate \
	$(B)/bin/viralsup-gateway $(B)/bin/viralsup-scheduler $(B)/bin/viralsup-fetcher \
	$(B)/bin/viralsup-analyzer $(B)/bin/viralsup-writer
