# viralctl's job commands against the whole stack (real actors, real PostgreSQL).
$(eval $(call test,test_viralctl_jobs,tests/unit/test_viralctl_jobs.c tests/unit/suptest.c,ipc))
$(B)/tests/test_viralctl_jobs: | $(B)/bin/viralsup $(B)/bin/viralctl $(B)/bin/viralsup-writer \
	$(B)/bin/viralsup-scheduler $(B)/bin/viralsup-fetcher $(B)/bin/viralsup-analyzer \
	$(B)/bin/viralsup-gateway
