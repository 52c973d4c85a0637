# Unit tests and fuzz target of the ipc library.
$(eval $(call test,test_ipc_frame,tests/unit/test_ipc_frame.c,ipc))
$(eval $(call test,test_ipc_conn,tests/unit/test_ipc_conn.c,ipc))
$(eval $(call test,test_ipc_config,tests/unit/test_ipc_config.c,ipc))
$(eval $(call fuzzer,fuzz_frame,tests/fuzz/fuzz_frame.c $(IPC_SRCS)))
$(eval $(call fuzzer,fuzz_config,tests/fuzz/fuzz_config.c $(IPC_SRCS)))
