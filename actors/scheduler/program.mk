# viralsup-scheduler: claims, leases, per-job state machine, batches.
SCHED_SRCS := actors/scheduler/main.c actors/scheduler/job.c actors/scheduler/control.c actors/scheduler/ctl.c
$(eval $(call program,viralsup-scheduler,$(SCHED_SRCS),sql ipc))
