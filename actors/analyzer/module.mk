# actors/analyzer: the analysis engine (library "analysis", pure) and the llm
# engine (library "analysis_llm": prompts, parsing and merging in
# llm_prompt.c, the calls on curl_ev in llm.c); the actor's main.c links both.
ANALYSIS_SRCS := actors/analyzer/engine.c actors/analyzer/text.c actors/analyzer/metrics.c \
                 actors/analyzer/select.c actors/analyzer/hooks.c actors/analyzer/trends.c \
                 actors/analyzer/ideas.c
$(eval $(call library,analysis,$(ANALYSIS_SRCS)))
$(eval $(call library,analysis_llm,actors/analyzer/llm.c actors/analyzer/llm_prompt.c))
$(eval $(call test,test_analysis,tests/unit/test_analysis.c tests/fixtures.c,analysis))
$(eval $(call fuzzer,fuzz_analysis,tests/fuzz/fuzz_analysis.c $(ANALYSIS_SRCS)))
# viralsup-analyze: the engines on one input document (stdin -> stdout), for
# make quality and for reading what a prompt change does.
$(eval $(call program,viralsup-analyze,actors/analyzer/analyze_file.c,analysis_llm analysis curlev ipc))
$(eval $(call fuzzer,fuzz_llm_reply,tests/fuzz/fuzz_llm_reply.c actors/analyzer/llm_prompt.c))
