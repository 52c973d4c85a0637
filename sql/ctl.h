/*
 * Read-only SQL behind viralctl's queue, jobs --all and job commands
 * (docs/viralctl.md). Each query builds its whole answer in PostgreSQL as
 * one JSON document (json_build_object), so the scheduler relays it without
 * knowing its shape. All async on a struct pg: 0 when accepted (cb then runs
 * exactly once), or -errno from pg_query (cb never runs).
 */
#ifndef VIRALSUP_SQL_CTL_H
#define VIRALSUP_SQL_CTL_H

#include "sql/pg.h"

/*
 * json: the answer (valid during the call only), or NULL: on error (err
 * says why) or, for ctl_job_async, when the job is unknown (err NULL).
 */
typedef void (*ctl_json_fn)(const char *json, const char *err, void *arg);

/*
 * The queue at a glance: {counts: {pending, processing, completed, failed,
 * paused, total}, due, stuck, oldest_pending_s, avg_job_s, batch}. batch is
 * batch_id's row (or, when batch_id is NULL or "", the newest unfinished
 * batch) as {id, source, total, completed, failed, started_at, finished_at,
 * pending_now, processing_now}, or null. stuck uses the claim's rule
 * (expired lease, dead owner, lease-less rows older than legacy_stuck_ms).
 */
int ctl_queue_async(struct pg *pg, const char *batch_id, int legacy_stuck_ms, ctl_json_fn cb,
                    void *arg);

/* The limit newest completed or failed jobs, newest first: [{id, session, primary, status,
 * runs, attempts, started_at, finished_at, duration_s, error}]. */
int ctl_recent_async(struct pg *pg, int limit, ctl_json_fn cb, void *arg);

/*
 * One job: {job: {...the row...} or null (deleted), events: [...],
 * competitors: [...], results: [...]}; NULL json and NULL err when neither
 * the row nor any event exists. id must be a UUID.
 */
int ctl_job_async(struct pg *pg, const char *id, ctl_json_fn cb, void *arg);

#endif
