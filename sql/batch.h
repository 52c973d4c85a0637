/*
 * The scheduler's SQL beside the queue protocol (queue.h): batches
 * (what a "process pending" trigger covers), admin actions on single jobs,
 * and periodic work (auto re-runs, the cluster-wide schedule). All async
 * on a struct pg; each callback runs exactly once when the call returned 0.
 */
#ifndef VIRALSUP_SQL_BATCH_H
#define VIRALSUP_SQL_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "sql/pg.h"

struct batch_info {
	char batch_id[37];          /* "" when no batch was opened */
	int pending;                /* due pending jobs covered */
	int stuck;                  /* processing jobs whose lease/owner expired */
	int total;                  /* batch total_jobs */
	int completed, failed;      /* batch counters so far */
	bool finished;              /* the batch's finished_at is set */
	char last_processed_at[40]; /* newest completion, ISO 8601, "" if none */
	double avg_job_s;           /* mean duration of the last 50 completed jobs, 0 if none */
};

typedef void (*batch_fn)(const struct batch_info *b, const char *err, void *arg);

/*
 * Opens a batch covering every due pending job and every stuck one (lease
 * expired, owner dead, or legacy rows older than legacy_stuck_ms), tags
 * them with it, and reports the counts; opens nothing when there are none.
 */
int batch_open_async(struct pg *pg, const char *source, long long owner, int legacy_stuck_ms,
                     batch_fn cb, void *arg);
/* Adds due pending jobs not yet in batch_id to it; reports its counts. */
int batch_join_async(struct pg *pg, const char *batch_id, batch_fn cb, void *arg);
/* Reads a batch's counters (finished when completed + failed >= total). */
int batch_get_async(struct pg *pg, const char *batch_id, batch_fn cb, void *arg);

/* The newest open batch (batch_id "" when none): a restarted scheduler, or
 * another node, resumes it (batches live in the database, not in a process). */
int batch_find_open_async(struct pg *pg, batch_fn cb, void *arg);

/* Result of an admin action on one job. */
enum job_action_rc {
	JOB_ACTION_OK = 0,
	JOB_ACTION_NOT_FOUND = 1,
	JOB_ACTION_WRONG_STATE = 2, /* e.g. retry of a job that is not failed */
	JOB_ACTION_ERROR = -1,
};
/* status: the job's status before the action ("" when not found). */
typedef void (*job_action_fn)(int rc, const char *status, const char *err, void *arg);

/* Failed / completed / paused / pending job → pending and due now (a new run when completed);
 * WRONG_STATE when it is processing. */
int job_make_due_async(struct pg *pg, const char *id, job_action_fn cb, void *arg);
/* Pending / paused / processing job → failed "cancelled by an administrator" (fences its
 * holder); WRONG_STATE when already completed or failed. */
int job_cancel_async(struct pg *pg, const char *id, job_action_fn cb, void *arg);
/* Failed job → pending with attempts and rescues reset; WRONG_STATE otherwise. */
int job_retry_async(struct pg *pg, const char *id, job_action_fn cb, void *arg);

/* Marks one competitor of a job held with token: status "completed" or "failed" (+ error). */
int competitor_mark_async(struct pg *pg, const char *job_id, const char *token,
                          const char *username, const char *status, const char *error);

/* For incremental runs: newest stored reel time (Unix s) per username. */
typedef void (*newest_fn)(int n, char **usernames, int64_t *newest, const char *err, void *arg);
int content_newest_async(struct pg *pg, const char *const *usernames, int n, newest_fn cb,
                         void *arg);

/* Completed jobs whose next_scheduled_run is due (auto re-run) → pending, at most limit. */
typedef void (*count_fn)(long long n, const char *err, void *arg);
int reruns_requeue_async(struct pg *pg, int limit, count_fn cb, void *arg);

/*
 * The cluster-wide schedule: claims the fire time now rounded down to
 * interval_s for this owner. n = 1 when this node won the fire (it should
 * trigger a batch), 0 when another node already did.
 */
int schedule_fire_async(struct pg *pg, const char *name, int interval_s, long long owner,
                        count_fn cb, void *arg);

/*
 * The live-looking owners (not stopped) of a node and role but owner: ids,
 * pids and whether their heartbeat expired, valid during the call; n = -1
 * on error. A scheduler that starts retires those it knows are dead (their
 * process is gone from this host, or their heartbeat expired) so their jobs
 * are claimable at once, and leaves live ones alone: a second viralsup on
 * the same host and database is another owner, not a predecessor.
 */
typedef void (*owners_fn)(int n, const long long *ids, const int *pids, const bool *expired,
                          const char *err, void *arg);
int owners_of_node_async(struct pg *pg, const char *node, const char *role, long long owner,
                         owners_fn cb, void *arg);
/* Marks the n owners stopped (their jobs become claimable); count retired. */
int owners_retire_async(struct pg *pg, int n, const long long *ids, count_fn cb, void *arg);

#endif
