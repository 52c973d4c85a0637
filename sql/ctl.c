/*
 * viralctl's read-only SQL (see ctl.h). Every statement returns one row
 * with one json column; timestamps are ISO 8601 in UTC, ages and durations
 * are seconds.
 */
#include "sql/ctl.h"

#include <stdio.h>
#include <stdlib.h>

#include "ipc/log.h"
#include "sql/fragments.h"

#define ISO(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* Events follow each other within milliseconds: they get them. */
#define ISO_MS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* $1 batch id or NULL, $2 legacy ms. */
static const char SQL_QUEUE[] =
    "WITH c AS (SELECT count(*) FILTER (WHERE q.status = 'pending') AS pending,"
    "  count(*) FILTER (WHERE q.status = 'processing') AS processing,"
    "  count(*) FILTER (WHERE q.status = 'completed') AS completed,"
    "  count(*) FILTER (WHERE q.status = 'failed') AS failed,"
    "  count(*) FILTER (WHERE q.status = 'paused') AS paused,"
    "  count(*) AS total,"
    "  count(*) FILTER (WHERE " SQL_DUE ") AS due,"
    "  count(*) FILTER (WHERE " SQL_STUCK(
        "2") ") AS stuck,"
             "  extract(epoch FROM now() - min(q.submitted_at) FILTER (WHERE q.status = 'pending'))"
             "   AS oldest_pending_s"
             "  FROM viral_ideas_queue q),"
             " a AS (SELECT COALESCE(avg(extract(epoch FROM completed_at - "
             "started_processing_at)), 0)"
             "  AS avg_job_s FROM (SELECT completed_at, started_processing_at FROM "
             "viral_ideas_queue"
             "  WHERE status = 'completed' AND started_processing_at IS NOT NULL"
             "  ORDER BY completed_at DESC LIMIT 50) r),"
             " b AS (SELECT * FROM batch_summary WHERE id = COALESCE(NULLIF($1, '')::uuid,"
             "  (SELECT id FROM batches WHERE finished_at IS NULL ORDER BY started_at DESC LIMIT "
             "1)))"
             " SELECT json_build_object("
             "  'counts', json_build_object('pending', c.pending, 'processing', c.processing,"
             "   'completed', c.completed, 'failed', c.failed, 'paused', c.paused, 'total', "
             "c.total),"
             "  'due', c.due, 'stuck', c.stuck, 'oldest_pending_s', round(c.oldest_pending_s, 3),"
             "  'avg_job_s', round(a.avg_job_s, 3),"
             "  'batch', (SELECT json_build_object('id', b.id, 'source', b.trigger_source,"
             "   'total', b.total_jobs, 'completed', b.completed_jobs, 'failed', b.failed_jobs,"
             "   'started_at', " ISO("b.started_at") ", 'finished_at', " ISO(
                 "b.finished_at") ","
                                  "   'pending_now', b.pending_now, 'processing_now', "
                                  "b.processing_now) FROM b))"
                                  " FROM c, a";

/* $1 limit. */
static const char SQL_RECENT[] =
    "SELECT COALESCE(json_agg(r ORDER BY r.fin DESC), '[]') FROM ("
    " SELECT q.id, q.session_id AS session, q.primary_username AS \"primary\", q.status,"
    "  q.total_runs AS runs, q.attempts,"
    "  " ISO(
        "q.started_processing_at") " AS started_at,"
                                   "  " ISO(
                                       "COALESCE(q.completed_at, q.updated_at)") " AS finished_at,"
                                                                                 "  "
                                                                                 "round(extract("
                                                                                 "epoch FROM "
                                                                                 "COALESCE(q."
                                                                                 "completed_at, "
                                                                                 "q.updated_at)"
                                                                                 "   - "
                                                                                 "q.started_"
                                                                                 "processing_at), "
                                                                                 "3) AS duration_s,"
                                                                                 "  CASE WHEN "
                                                                                 "q.status = "
                                                                                 "'failed' THEN "
                                                                                 "COALESCE(q.error_"
                                                                                 "message, "
                                                                                 "q.last_error) "
                                                                                 "END AS error,"
                                                                                 "  "
                                                                                 "COALESCE(q."
                                                                                 "completed_at, "
                                                                                 "q.updated_at) AS "
                                                                                 "fin"
                                                                                 " FROM "
                                                                                 "viral_ideas_"
                                                                                 "queue q WHERE "
                                                                                 "q.status IN "
                                                                                 "('completed', "
                                                                                 "'failed')"
                                                                                 " ORDER BY "
                                                                                 "COALESCE(q."
                                                                                 "completed_at, "
                                                                                 "q.updated_at) "
                                                                                 "DESC LIMIT "
                                                                                 "$1::int) r";

/* $1 job id. No row when neither the job nor any event of it exists. */
static const char SQL_JOB[] =
    "SELECT json_build_object("
    " 'job', (SELECT json_build_object('id', q.id, 'session', q.session_id,"
    "  'primary', q.primary_username, 'status', q.status, 'priority', q.priority,"
    "  'progress', q.progress_percentage, 'step', q.current_step, 'attempts', q.attempts,"
    "  'max_attempts', q.max_attempts, 'rescues', q.rescues, 'runs', q.total_runs,"
    "  'error', q.error_message, 'last_error', q.last_error,"
    "  'submitted_at', " ISO(
        "q.submitted_at") ","
                          "  'started_at', " ISO(
                              "q.started_processing_at") ","
                                                         "  'completed_at', " ISO(
                                                             "q."
                                                             "completed_"
                                                             "at") ","
                                                                   "  "
                                                                   "'next"
                                                                   "_atte"
                                                                   "mpt_"
                                                                   "at',"
                                                                   " " ISO(
                                                                       "q"
                                                                       "."
                                                                       "n"
                                                                       "e"
                                                                       "x"
                                                                       "t"
                                                                       "_"
                                                                       "a"
                                                                       "t"
                                                                       "t"
                                                                       "e"
                                                                       "m"
                                                                       "p"
                                                                       "t"
                                                                       "_"
                                                                       "a"
                                                                       "t") ","
                                                                            "  "
                                                                            "'next_scheduled_run',"
                                                                            " " ISO(
                                                                                "q.next_scheduled_"
                                                                                "run") ","
                                                                                       "  "
                                                                                       "'lease_"
                                                                                       "owner', "
                                                                                       "q.lease_"
                                                                                       "owner,"
                                                                                       "  "
                                                                                       "'lease_"
                                                                                       "node', "
                                                                                       "(SELECT "
                                                                                       "o.node "
                                                                                       "FROM "
                                                                                       "owners o "
                                                                                       "WHERE o.id "
                                                                                       "= "
                                                                                       "q.lease_"
                                                                                       "owner),"
                                                                                       "  "
                                                                                       "'lease_"
                                                                                       "expires_at'"
                                                                                       ", " ISO(
                                                                                           "q."
                                                                                           "lease_"
                                                                                           "expires"
                                                                                           "_at") ", 'batch_id', q.batch_id)"
                                                                                                  "  FROM viral_ideas_queue q WHERE q.id = $1::uuid),"
                                                                                                  " 'events', (SELECT COALESCE(json_agg(json_build_object('id', e.id,"
                                                                                                  "  'at', " ISO_MS(
                                                                                                      "e.at") ", 'from', e.from_status, 'to', e.to_status,"
                                                                                                              "  'owner', e.owner_id, 'node', e.node, 'actor', e.actor, 'attempt', e.attempt,"
                                                                                                              "  'reason', e.reason) ORDER BY e.id), '[]')"
                                                                                                              "  FROM (SELECT * FROM job_events WHERE job_id = $1::uuid ORDER BY id DESC LIMIT 1000) e),"
                                                                                                              " 'competitors', (SELECT COALESCE(json_agg(json_build_object("
                                                                                                              "  'username', c.competitor_username, 'active', c.is_active,"
                                                                                                              "  'status', c.processing_status, 'error', c.error_message,"
                                                                                                              "  'processed_at', " ISO(
                                                                                                                  "c.processed_at") ") ORDER BY c.competitor_username), '[]')"
                                                                                                                                    "  FROM viral_ideas_competitors c WHERE c.queue_id = $1::uuid),"
                                                                                                                                    " 'results', (SELECT COALESCE(json_agg(json_build_object('run', r.analysis_run,"
                                                                                                                                    "  'type', r.analysis_type, 'status', r.status, 'reels', r.total_reels_analyzed,"
                                                                                                                                    "  'primary_reels', r.primary_reels_count, 'competitor_reels', r.competitor_reels_count,"
                                                                                                                                    "  'transcripts', r.transcripts_fetched, 'engine', r.analysis_data->'engine',"
                                                                                                                                    "  'completed_at', " ISO(
                                                                                                                                        "r.analysis_completed_at") ","
                                                                                                                                                                   "  'selected_reels', (SELECT count(*) FROM viral_analysis_reels x"
                                                                                                                                                                   "   WHERE x.analysis_id = r.id),"
                                                                                                                                                                   "  'scripts', (SELECT count(*) FROM viral_scripts s WHERE s.analysis_id = r.id))"
                                                                                                                                                                   "  ORDER BY r.analysis_run), '[]')"
                                                                                                                                                                   "  FROM viral_analysis_results r WHERE r.queue_id = $1::uuid))"
                                                                                                                                                                   " WHERE EXISTS (SELECT 1 FROM viral_ideas_queue WHERE id = $1::uuid)"
                                                                                                                                                                   "  OR EXISTS (SELECT 1 FROM job_events WHERE job_id = $1::uuid)";

struct ctl_call {
	ctl_json_fn cb;
	void *arg;
};

static void on_json(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	struct ctl_call *c = arg;
	(void)pg;
	if (err)
		c->cb(NULL, err, c->arg);
	else if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
		c->cb(NULL, NULL, c->arg);
	else
		c->cb(PQgetvalue(res, 0, 0), NULL, c->arg);
	free(c);
}

static int ctl_call(struct pg *pg, const char *sql, int n, const char *const *params,
                    ctl_json_fn cb, void *arg)
{
	struct ctl_call *c = xmalloc(sizeof *c);
	c->cb = cb;
	c->arg = arg;
	int r = pg_query(pg, sql, n, params, on_json, c);
	if (r < 0)
		free(c);
	return r;
}

int ctl_queue_async(struct pg *pg, const char *batch_id, int legacy_stuck_ms, ctl_json_fn cb,
                    void *arg)
{
	char l[24];
	snprintf(l, sizeof l, "%d", legacy_stuck_ms);
	const char *p[] = {batch_id && *batch_id ? batch_id : NULL, l};
	return ctl_call(pg, SQL_QUEUE, 2, p, cb, arg);
}

int ctl_recent_async(struct pg *pg, int limit, ctl_json_fn cb, void *arg)
{
	char l[24];
	snprintf(l, sizeof l, "%d", limit);
	const char *p[] = {l};
	return ctl_call(pg, SQL_RECENT, 1, p, cb, arg);
}

int ctl_job_async(struct pg *pg, const char *id, ctl_json_fn cb, void *arg)
{
	const char *p[] = {id};
	return ctl_call(pg, SQL_JOB, 1, p, cb, arg);
}
