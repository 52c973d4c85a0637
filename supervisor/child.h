/*
 * Supervised children: specs, the per-child state machine, spawning,
 * readiness, restart with backoff and an intensity limit, ordered stop.
 *
 *              spawn                READY
 *   stopped ─────────► starting ─────────► ready
 *      ▲                  │ exit / not ready in time │ exit
 *      │                  ▼                          ▼
 *      │   (timer)    backing-off ◄──── restart? ────┘
 *      │                  │ too many restarts in the window, exit 100
 *      │                  ▼
 *      │               failed        (start NAME leaves failed/stopped)
 *      └── stopping ◄── stop NAME / shutdown (SIGTERM, SIGKILL after timeout)
 */
#ifndef VIRALSUP_SUPERVISOR_CHILD_H
#define VIRALSUP_SUPERVISOR_CHILD_H

/* The largest PONG "stats" a child may send that status shows. */
#define CHILD_STATS_MAX 4096

#include <ev.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "ipc/config.h"
#include "ipc/conn.h"
#include "supervisor/logcap.h"

enum child_restart { RESTART_PERMANENT, RESTART_TRANSIENT, RESTART_TEMPORARY };

enum child_state {
	CHILD_STOPPED,
	CHILD_STARTING,
	CHILD_READY,
	CHILD_BACKOFF,
	CHILD_FAILED,
	CHILD_STOPPING,
};

struct sup;

struct child {
	struct sup *sup;
	char name[64]; /* "fetcher[1]" */
	char role[32]; /* "fetcher" */
	int index;     /* position in its pool, 0 otherwise */
	bool pooled;   /* passes --index */
	char **argv;   /* program (resolved) and its arguments, NULL-terminated; owned */
	enum child_restart restart;
	double shutdown_timeout;

	enum child_state state;
	pid_t pid; /* 0 when not running */
	struct conn *chan;
	ev_child cw;
	ev_timer timer; /* ready deadline, backoff delay, or stop deadline */
	ev_io errw;
	int errfd;
	struct logcap log;
	ev_tstamp spawned_at, ready_at;

	bool admin_stopped;   /* stop NAME: do not restart */
	bool restart_pending; /* restart NAME: spawn again once it has exited */
	bool ready_timed_out;
	bool killed_on_stop;
	double backoff; /* seconds; next delay */
	unsigned restarts_total;
	ev_tstamp *window; /* restart times, ring of intensity+1 */
	int window_len, window_pos;

	ev_tstamp heard_at; /* last message on its channel (watchdog) */
	bool unresponsive;  /* silent for two watchdog intervals */
	bool hung_kill;     /* the watchdog SIGKILLed it: its exit is a hang */
	unsigned hangs_total;
	/* The "stats" map of its last PONG (msgpack bytes, at most
	 * CHILD_STATS_MAX; NULL: none), shown as is in status; dropped when
	 * it exits (its counters die with the process). */
	char *stats;
	size_t stats_len;
	bool stats_refused; /* one warning per process, not one per PONG */

	bool has_exit;
	int last_code, last_signal; /* one is -1 */
	time_t last_exit_at;
	char last_reason[64];
};

/* The supervisor's state shared by child.c, control.c and main.c. */
struct sup {
	struct ev_loop *loop;
	struct config *cfg;
	char run_dir[4096];
	char node_id[128];
	char exe_dir[4096];
	time_t started_at;
	struct child **children; /* in start order */
	int nchildren;
	struct logring *ring;
	bool shutting_down;
	int shutdown_next; /* index of the next child to stop, counting down */
	bool notified_ready;
	ev_timer watchdog;
	ev_tstamp watchdog_at; /* its last tick: a late one means we were stopped */
	void (*on_all_stopped)(struct sup *s);
	void (*on_child_change)(struct sup *s, struct child *c);
};

/* "starting", "ready", ... */
const char *child_state_name(enum child_state st);
const char *child_restart_name(enum child_restart r);

/*
 * Builds the children from the [child NAME] sections of the config, or
 * the five default actors when there are none. Returns 0, or -EINVAL with
 * a message in err.
 */
int sup_children_build(struct sup *s, char *err, size_t errlen);
void sup_children_free(struct sup *s);

/* The child called name, or NULL. */
struct child *sup_child_find(struct sup *s, const char *name);

/* Spawns c now (from stopped, failed or backing-off). 0 or -errno. */
int child_start(struct child *c);
/* Graceful stop (SIGTERM, SIGKILL after its timeout); no restart after. */
void child_stop(struct child *c);
/* Stops c if running, then starts it again (not counted as a crash). */
void child_restart(struct child *c);
/* SIGKILL now; handled as a crash. Returns the pid killed or -ESRCH. */
int child_kill(struct child *c);

/* Starts the watchdog over every ready child (supervisor.watchdog_ms). */
void sup_watchdog_start(struct sup *s);
/* "ready", or "unresponsive" for a ready child the watchdog has not heard from. */
const char *child_status_name(const struct child *c);

/* Begins the ordered shutdown: reverse start order, one at a time. */
void sup_shutdown(struct sup *s);
/* Second signal: SIGKILL every child now. */
void sup_kill_all(struct sup *s);

/* Current restarts within supervisor.period_ms. */
int child_restarts_in_window(const struct child *c);
/* Resident set of pid in kB from /proc, or -1. */
long proc_rss_kb(pid_t pid);

#endif
