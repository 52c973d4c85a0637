/*
 * The chaos driver: SIGKILLs a random ready actor of a running viralsup
 * every min_ms..max_ms and measures how long the supervisor takes to have a
 * new ready process in its place (the "recovery time" of docs/RELIABILITY.md).
 *
 * It reads pids from the supervisor's control socket (the CONTROL "status"
 * command viralctl uses), directly, so it can poll every 10 ms without
 * spawning a process. Used by build/bin/chaos_driver (tests/chaos/driver.c)
 * and, in-process, by the chaos tests (tests/unit/test_chaos.c).
 */
#ifndef VIRALSUP_TESTS_CHAOS_H
#define VIRALSUP_TESTS_CHAOS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* The status data object of the supervisor at sock ({node, pid, children:
 * [{name, role, pid, state, ...}]}), or NULL when it does not answer within
 * timeout_ms. Caller decrefs. */
json_t *chaos_status(const char *sock, int timeout_ms);

struct chaos_opts {
	const char *sock;   /* control.sock of the node to torment */
	int min_ms, max_ms; /* pause between kills (uniform) */
	const char *roles;  /* comma-separated roles to kill, NULL = every actor */
	unsigned seed;      /* for the choice of victim and pause */
	long duration_ms;   /* stop after this long (0: only on *stop) */
	volatile int *stop; /* set to non-zero (e.g. by a signal handler) to stop */
	FILE *log;          /* one line per kill when not NULL */
};

struct chaos_stats {
	int kills;                        /* SIGKILLs delivered */
	int recovered;                    /* of which a new ready process was seen */
	int failed_children;              /* children seen in state "failed" at the end */
	double median_ms, p99_ms, max_ms; /* recovery times (kill -> new pid ready) */
	char by_role[256];                /* "scheduler:12,fetcher:20,..." */
};

/* Runs until opts->stop or the duration; waits up to 10 s at the end for the
 * last victims to come back. Returns 0, or -EIO when the supervisor stopped
 * answering for more than 10 s. */
int chaos_run(const struct chaos_opts *opts, struct chaos_stats *out);

/* The summary line ("kills=N recovered=N median_ms=… p99_ms=… max_ms=…
 * failed=N by_role=…"), into buf. */
void chaos_format(const struct chaos_stats *st, char *buf, size_t len);

/* Milliseconds on the monotonic clock. */
double chaos_now_ms(void);

/* Peak resident set (VmHWM) of pid in kB, -1 when it is gone. */
long chaos_vmhwm_kb(pid_t pid);

#endif
