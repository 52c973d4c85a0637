# supervisor/: the viralsup program and its control tool viralctl.
SUP_SRCS := supervisor/main.c supervisor/child.c supervisor/control.c supervisor/logcap.c
$(eval $(call program,viralsup,$(SUP_SRCS),ipc))
$(eval $(call program,viralctl,supervisor/viralctl.c,ipc))
$(eval $(call program,bench_restart,tests/bench/bench_restart.c,ipc))
