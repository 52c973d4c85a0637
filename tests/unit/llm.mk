# The llm analysis engine against the fake chat-completions server
# (tests/fake_llm/fake_llm.py), in-process on its own event loop.
$(eval $(call test,test_llm,tests/unit/test_llm.c,analysis_llm analysis curlev ipc))
