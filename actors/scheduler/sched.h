/*
 * The scheduler actor: claims due jobs from PostgreSQL, drives each one
 * through fetch → analyse → complete by sending small requests to the
 * fetcher pool and the analyzer, and keeps every job's lease alive while it
 * holds it. Bulk data never passes through here.
 *
 *   main.c      set-up, timers, the claim loop, leases, NOTIFY wake-ups
 *   job.c       one job's state machine, dispatch into workers' free slots
 *   control.c   requests from the gateway / viralctl (trigger, process,
 *               cancel, retry), batches, auto re-runs, the schedule
 */
#ifndef VIRALSUP_SCHEDULER_SCHED_H
#define VIRALSUP_SCHEDULER_SCHED_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "ipc/ipc.h"
#include "sql/batch.h"
#include "sql/pg.h"
#include "sql/queue.h"

/* A fetcher or the analyzer, known from its CREDIT hello. */
struct worker {
	struct conn *conn;
	char name[64];
	char role[16]; /* "fetcher" | "analyzer" */
	int pid;       /* from the socket's peer credentials */
	int slots;     /* requests it takes at once */
	int inflight;
	/* Dedicated to one suspect job (job.isolate) while it has units here:
	 * nothing else is sent, so a death here is certainly that job's. */
	struct job *alone_job;
	bool dead;    /* its connection failed a request: closing, take nothing more */
	bool slow;    /* a unit timed out here: no new units until it answers a PING */
	bool probing; /* that PING is in flight */
	struct worker *next;
};

enum acct_state { ACCT_WAITING, ACCT_INFLIGHT, ACCT_OK, ACCT_FAILED };

enum job_step { STEP_FETCHING, STEP_ANALYZING, STEP_DONE };

/* A job this scheduler holds a lease on. Refcounted: the job table holds
 * one reference and every outstanding unit of work one more. */
struct job {
	int refs;
	bool gone; /* left the table: replies for it are dropped */
	char id[QUEUE_UUID_LEN];
	char token[QUEUE_UUID_LEN];
	char *session_id, *strategy, *batch_id;
	int run;
	bool recurring;
	int naccounts; /* [0] is the primary */
	char **accounts;
	enum acct_state *acct;
	int64_t *since; /* recurring runs: newest stored reel per account */
	int settled, transcripts;
	enum job_step step;
	int timeouts; /* units re-sent because a worker did not answer in time */
	int kills;    /* units re-sent because a worker running them alone was killed */
	int pct;      /* progress not yet written (coalesced, see job.c) */
	char step_text[101];
	bool dirty;
	struct job *dirty_next;
	int attempts;    /* from the claim, this one included */
	bool isolate;    /* a worker died while holding one of its units among others'
	                    (crash_suspect): from then on its units run alone, so that a
	                    death is charged (a strike) only to the job that caused it */
	char holder[64]; /* the worker the newest unit went to (viralctl jobs) */
	double started;
	struct job *next;
};

/*
 * A unit whose worker died while running it alone waits here for the
 * supervisor's word on why (PEER_DOWN): a crash or a hang is the job's
 * strike, a SIGKILL from outside is not (job.c, "Blame").
 */
struct verdict {
	struct unit *unit;
	int pid;
	char worker[64];
	double since;
	struct verdict *next;
};

/* One request to a worker: fetch one account, or analyse the job. */
struct unit {
	struct job *job;
	int account; /* -1: analyse */
	bool alone;  /* sent to a worker dedicated to its job (job.isolate) */
	struct worker *worker;
	struct unit *next; /* in the dispatch queue */
};

struct sched {
	struct actor *actor;
	struct ev_loop *loop;
	struct pg *pg;    /* claims, leases, progress */
	struct pg *admin; /* batches, admin actions, periodic work */
	struct listener *listener;
	long long owner;
	char node[64];
	bool owner_pending;
	/* The owner identity whose sweep of this node's dead owners was sent
	 * (it needs the admin connection, which may come up later). */
	long long swept_for;
	double started_at; /* ev_now at start */
	/* A release/fail/rescue never reached the database (it was down): that
	 * job stays processing under our live owner until its lease expires.
	 * When the database is back we take a new owner identity instead, so
	 * the old one's jobs are claimable at once (see on_pg_state). */
	bool lost_update;

	/* configuration */
	int concurrency, claim_batch, lease_ms, owner_expiry_ms, legacy_stuck_ms;
	int max_attempts, rescue_cap, poll_ms;
	double fetch_timeout_s, analyze_timeout_s;
	bool triggered; /* VIRALSUP_PROCESSING=triggered */
	bool paused;    /* viralctl pause: no new claims */
	int schedule_s; /* built-in schedule interval, 0 = none */

	struct worker *workers;
	struct job *jobs;
	int njobs;
	struct unit *queue_head, *queue_tail; /* units waiting for a free slot */
	int queued;

	bool claim_inflight, claim_again;
	bool backlog;                 /* the last claim came back full: more jobs are waiting */
	char only_id[QUEUE_UUID_LEN]; /* a job to claim out of turn (process now) */

	/* The open batch ("" if none) */
	char batch_id[37];
	bool batch_check_inflight;
	bool batch_unconfirmed;     /* nothing in flight: is the batch finished? (asked) */
	ev_timer batch_check_timer; /* batch checks at most every 200 ms */

	ev_timer poll_timer, lease_timer, periodic_timer, schedule_timer;
	ev_timer progress_timer;
	struct verdict *verdicts; /* units waiting for the cause of their worker's death */
	ev_timer verdict_timer;
	struct {
		int pid;
		char reason[64];
		double at;
	} deaths[16]; /* the supervisor's recent PEER_DOWN reports, a ring */
	unsigned ndeaths;
	struct job *dirty; /* jobs whose progress waits for the next write */
	bool progress_inflight;

	/* counters for status */
	uint64_t claimed, completed, failed, released, rescued;
	uint64_t held_by_pause; /* claim chances (wake-ups, polls) the pause let pass */
};

extern struct sched S;

/* job.c */
void job_start(struct queue_job *q);
void job_reply_worker_gone(struct worker *w);
void dispatch_pump(void);
void job_drop(struct job *j);
struct job *job_find(const char *id);
void job_unref(struct job *j);
void progress_init(void);
/* The supervisor reported worker pid dead for reason (PEER_DOWN). */
void job_worker_died(int pid, const char *reason);

/* control.c */
void control_on_msg(struct conn *c, const struct msg *m);
void control_periodic(void);
void control_batch_maybe_done(void);
void control_conn_closed(struct conn *c);
/* Triggered mode, no batch held: adopt the open batch from the database
 * (after a restart, or one another node opened). */
void control_batch_resume(void);
/* The owner registration finished (S.owner > 0, or failed): answer the
 * triggers that waited for it. */
void control_owner_known(void);
/* A batch trigger's answer: status as BATCH_TRIGGER's REPLY ("processing_started",
 * "already_processing", "no_jobs_pending"), or status and b NULL when the database or
 * the scheduler's owner registration is not there. */
typedef void (*control_trigger_fn)(const char *status, const struct batch_info *b, void *arg);
/* Triggers a batch exactly like BATCH_TRIGGER {source}; done runs once. */
void control_trigger(const char *source, control_trigger_fn done, void *arg);

/* ctl.c: CONTROL commands the supervisor forwards (docs/viralctl.md) */
void ctl_on_parent_msg(struct actor *a, const struct msg *m);

/* control.c: a 36-character UUID text; t as ISO 8601 UTC. */
bool sched_uuid_ok(const char *s);
void sched_iso_time(time_t t, char *buf, size_t len);

/* main.c */
void sched_claim_soon(void);
bool sched_claiming_allowed(void);

#endif
