# actors/analyzer: the analysis engine (library "analysis"); the actor's
# main.c, written by the pipeline, links it.
ANALYSIS_SRCS := actors/analyzer/engine.c actors/analyzer/text.c actors/analyzer/metrics.c \
                 actors/analyzer/select.c actors/analyzer/hooks.c actors/analyzer/trends.c \
                 actors/analyzer/ideas.c
$(eval $(call library,analysis,$(ANALYSIS_SRCS)))
$(eval $(call test,test_analysis,tests/unit/test_analysis.c,analysis))
$(eval $(call fuzzer,fuzz_analysis,tests/fuzz/fuzz_analysis.c $(ANALYSIS_SRCS)))
