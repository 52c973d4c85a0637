# Golden outputs of the analysis engine for the example jobs (tests/golden).
# `make golden` rewrites them deliberately; review `git diff tests/golden`.
# tests/golden/results/ holds the results endpoint's answers for the same
# outputs (test_gateway, results_of_the_example_jobs_answer_exactly_as_committed);
# after `make golden` rewrite them with a test PostgreSQL (tests/run.sh):
# TEST_PG_CONNINFO=... GOLDEN_UPDATE=1 build/tests/test_gateway results_of_the_example
$(eval $(call test,test_golden,tests/golden/test_golden.c tests/fixtures.c,analysis))

.PHONY: golden
golden: $(B)/tests/test_golden
	rm -f tests/golden/*.json
	GOLDEN_UPDATE=1 $(B)/tests/test_golden
