# viralsup-analyzer: the engine (library "analysis") behind an actor.
$(eval $(call program,viralsup-analyzer,actors/analyzer/main.c,analysis_llm analysis sql curlev ipc))
