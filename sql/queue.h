/*
 * The job queue protocol on viral_ideas_queue (issue 3); all of its SQL
 * lives in queue.c.
 *
 * An owner is one process boot (queue_owner_register); it heartbeats, and
 * when its heartbeat is older than its expiry, its jobs are claimable by
 * others. queue_claim takes up to K ready jobs in one statement (FOR UPDATE
 * SKIP LOCKED, priority then submitted_at): pending and due, processing
 * with an expired lease or a dead owner, or legacy rows stuck in
 * processing without a lease. Each claim gets a fresh lease token.
 *
 * Every later change names (job id, lease token) and changes nothing when
 * the job is no longer held with that token: QUEUE_LOST_LEASE. The
 * database logs every status transition in job_events (with the reason
 * given here), and NOTIFYs channel QUEUE_CHANNEL when jobs become pending.
 *
 * Each operation comes twice: blocking on a PGconn (tests, tools, the
 * bench) and async on a struct pg (processes that must stay responsive).
 * Both run the same SQL text.
 */
#ifndef VIRALSUP_SQL_QUEUE_H
#define VIRALSUP_SQL_QUEUE_H

#include "sql/pg.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define QUEUE_CHANNEL  "viralsup_jobs"
#define QUEUE_UUID_LEN 37 /* 36 characters and a NUL */

enum queue_rc {
	QUEUE_OK = 0,         /* done, or already done with this same lease (idempotent) */
	QUEUE_LOST_LEASE = 1, /* not held with this token any more: nothing changed */
	QUEUE_GAVE_UP = 2,    /* release/rescue: failed for good (attempts or rescue cap) */
	QUEUE_ERROR = -1,     /* database error; err says why */
};

struct queue_claim_opts {
	long long owner;     /* from queue_owner_register */
	int limit;           /* K jobs at most, default 1 */
	int lease_ms;        /* lease length, default 60000 */
	int legacy_stuck_ms; /* lease-less processing rows older than this are reclaimed, default
	                        60000 */
	const char *only_id; /* claim just this job (process now), or NULL */
};

/* One claimed job. Strings are owned by the array (queue_jobs_free). */
struct queue_job {
	char id[QUEUE_UUID_LEN];
	char lease_token[QUEUE_UUID_LEN];
	char *session_id;
	char *primary_username;
	char *content_strategy; /* JSON object text */
	char *batch_id;         /* NULL when the job belongs to no batch */
	char **competitors;     /* active competitor usernames */
	int ncompetitors;
	int priority, attempts, max_attempts, rescues;
	int analysis_run;   /* the run this claim is for: completed runs + 1 */
	bool reclaimed;     /* taken over from a dead owner / expired lease / legacy row */
	bool crash_suspect; /* a worker died while its unit was there among others: runs alone */
};
void queue_jobs_free(struct queue_job *jobs, int n);

struct queue_result {
	int analysis_run;          /* from the claim */
	const char *analysis_data; /* JSON object text, or NULL to keep what the row has */
	const char *current_step;  /* or NULL for "Analysis completed" */
	/* The analysis engine's output {analysis_data, reels, scripts, counts} (JSON
	 * text) or NULL: stored with the result row in the same transaction. */
	const char *result;
};

/* One job's completion, for queue_complete_many_async (strings borrowed). */
struct queue_completion {
	const char *id, *token; /* ids and tokens that are not UUIDs never match */
	int run;                /* analysis_run from the claim */
	const char *result; /* engine output JSON text {analysis_data, reels, scripts, counts} */
	const char *analysis_data; /* JSON text overriding result's analysis_data, or NULL */
	const char *step;          /* current_step override, or NULL for the original's text */
};

/* ---- blocking, on a PGconn; err (may be NULL) gets a one-line reason ---- */

/* A new per-boot owner identity (never reused); its id, or -1. */
long long queue_owner_register(PGconn *c, const char *node, const char *role,
                               int heartbeat_expiry_ms, char *err, size_t errlen);
/* QUEUE_OK, QUEUE_LOST_LEASE when the owner was stopped, QUEUE_ERROR. */
int queue_owner_heartbeat(PGconn *c, long long owner, char *err, size_t errlen);
/* Marks the owner stopped: its remaining leases become claimable at once. */
int queue_owner_stop(PGconn *c, long long owner, char *err, size_t errlen);

/* Claims up to opts->limit jobs into *jobs (caller frees with queue_jobs_free); count or -1. */
int queue_claim(PGconn *c, const struct queue_claim_opts *opts, struct queue_job **jobs, char *err,
                size_t errlen);
/*
 * Extends the leases of the n jobs (ids[i], tokens[i]) held by owner and
 * heartbeats the owner. Returns how many were NOT renewed (lost: reclaimed
 * by someone else or finished) and copies their ids into lost[] when not
 * NULL (room for n); -1 on error.
 */
int queue_renew(PGconn *c, long long owner, int lease_ms, int n, const char *const *ids,
                const char *const *tokens, char (*lost)[QUEUE_UUID_LEN], char *err, size_t errlen);
/* Back to pending after a delay of base*2^(attempts-1) (capped, +-25% jitter); QUEUE_GAVE_UP
 * (failed) when attempts reached max_attempts. */
int queue_release(PGconn *c, const char *id, const char *token, const char *reason, int base_ms,
                  int cap_ms, char *err, size_t errlen);
/* Permanently failed with error_message = error. */
int queue_fail(PGconn *c, const char *id, const char *token, const char *error, char *err,
               size_t errlen);
/* A strike: the worker running this job's unit alone died. Back to pending now (marked
 * crash_suspect), or QUEUE_GAVE_UP (failed, "poison job") past rescue_cap strikes. */
int queue_rescue(PGconn *c, const char *id, const char *token, const char *reason, int rescue_cap,
                 char *err, size_t errlen);
/* Result row (upsert on queue_id, analysis_run) + completed + counters + next_scheduled_run +
 * competitor statuses, in one transaction. Repeating it with the same token is QUEUE_OK. */
int queue_complete(PGconn *c, const char *id, const char *token, const struct queue_result *r,
                   char *err, size_t errlen);
/* n completions in one statement and one transaction, as queue_complete_many_async (the
 * writer's group commit): rc[i] gets the enum queue_rc of completion i. 0, or QUEUE_ERROR. */
int queue_complete_many(PGconn *c, int n, const struct queue_completion *comp, int *rc, char *err,
                        size_t errlen);
/* progress_percentage (<0: unchanged) and current_step (NULL: unchanged). */
int queue_progress(PGconn *c, const char *id, const char *token, int pct, const char *step,
                   char *err, size_t errlen);
/* Deletes up to max_rows job_events older than retention_s; rows deleted or -1. */
long long queue_prune_events(PGconn *c, int retention_s, int max_rows, char *err, size_t errlen);

/* The claim statement's text ($1 owner, $2 K, $3 lease ms, $4 legacy ms, $5 only_id or
 * NULL), for EXPLAIN in tools and docs. */
const char *queue_claim_sql(void);

/* ---- async, on a struct pg: 0 when accepted (cb runs once later), or -errno from pg_query ---- */

typedef void (*queue_done_fn)(int rc, const char *err, void *arg); /* rc: enum queue_rc */
/* jobs belong to the callee (queue_jobs_free); n = -1 on error. */
typedef void (*queue_claim_fn)(struct queue_job *jobs, int n, const char *err, void *arg);
/* lost ids are valid during the call only; nlost = -1 on error. */
typedef void (*queue_renew_fn)(int nlost, char (*lost)[QUEUE_UUID_LEN], const char *err, void *arg);
/* id = -1 on error (owner register, prune). */
typedef void (*queue_id_fn)(long long id, const char *err, void *arg);

int queue_owner_register_async(struct pg *pg, const char *node, const char *role,
                               int heartbeat_expiry_ms, queue_id_fn cb, void *arg);
int queue_owner_heartbeat_async(struct pg *pg, long long owner, queue_done_fn cb, void *arg);
int queue_owner_stop_async(struct pg *pg, long long owner, queue_done_fn cb, void *arg);
int queue_claim_async(struct pg *pg, const struct queue_claim_opts *opts, queue_claim_fn cb,
                      void *arg);
int queue_renew_async(struct pg *pg, long long owner, int lease_ms, int n, const char *const *ids,
                      const char *const *tokens, queue_renew_fn cb, void *arg);
int queue_release_async(struct pg *pg, const char *id, const char *token, const char *reason,
                        int base_ms, int cap_ms, queue_done_fn cb, void *arg);
int queue_fail_async(struct pg *pg, const char *id, const char *token, const char *error,
                     queue_done_fn cb, void *arg);
int queue_rescue_async(struct pg *pg, const char *id, const char *token, const char *reason,
                       int rescue_cap, queue_done_fn cb, void *arg);
/* No strike: a worker died while this job's unit was there among others'. Marks the job
 * crash_suspect (it runs alone from now on, also after a reclaim); the holder keeps it. */
int queue_suspect_async(struct pg *pg, const char *id, const char *token, const char *reason,
                        queue_done_fn cb, void *arg);
/* rc[i] (enum queue_rc) for completion i, valid during the call; n = -1 on error. */
typedef void (*queue_many_fn)(int n, const int *rc, const char *err, void *arg);
/*
 * Completes n jobs in one statement and one transaction (the writer's
 * group commit of results). Each is fenced by its own token; an error
 * (e.g. one malformed document) fails them all: retry them one by one.
 */
int queue_complete_many_async(struct pg *pg, int n, const struct queue_completion *c,
                              queue_many_fn cb, void *arg);
int queue_complete_async(struct pg *pg, const char *id, const char *token,
                         const struct queue_result *r, queue_done_fn cb, void *arg);
int queue_progress_async(struct pg *pg, const char *id, const char *token, int pct,
                         const char *step, queue_done_fn cb, void *arg);
/*
 * Progress of many jobs in one statement (fenced per job like
 * queue_progress): ids, tokens, steps and pcts are n-element arrays. The
 * scheduler coalesces its progress writes through this.
 */
int queue_progress_many_async(struct pg *pg, int n, const char *const *ids,
                              const char *const *tokens, const int *pcts, const char *const *steps,
                              queue_done_fn cb, void *arg);
int queue_prune_events_async(struct pg *pg, int retention_s, int max_rows, queue_id_fn cb,
                             void *arg);

#endif
