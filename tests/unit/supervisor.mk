# Tests of viralsup and viralctl: they run the real binaries.
$(eval $(call test,test_supervisor,tests/unit/test_supervisor.c tests/unit/suptest.c,ipc))
$(eval $(call test,test_viralctl,tests/unit/test_viralctl.c tests/unit/suptest.c,ipc))
$(B)/tests/test_supervisor $(B)/tests/test_viralctl: | $(B)/bin/viralsup $(B)/bin/viralctl $(B)/bin/viralsup-test-actor
