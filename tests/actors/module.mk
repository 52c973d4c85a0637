# tests/actors: programs the supervisor tests run as children.
$(eval $(call program,viralsup-test-actor,tests/actors/test_actor.c,ipc))
