# Golden outputs of the analysis engine for the example jobs (tests/golden).
# `make golden` rewrites them deliberately; review `git diff tests/golden`.
$(eval $(call test,test_golden,tests/golden/test_golden.c tests/fixtures.c,analysis))

.PHONY: golden
golden: $(B)/tests/test_golden
	rm -f tests/golden/*.json
	GOLDEN_UPDATE=1 $(B)/tests/test_golden
