/*
 * Batches, admin actions and periodic work (see batch.h). Status changes
 * set transition_reason so migration 002's trigger logs them in job_events.
 */
#include "sql/batch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/log.h"
#include "sql/fragments.h"

/* Columns every batch statement ends with: see read_batch. */
#define SQL_BATCH_TAIL                                                                           \
	" (SELECT to_char(completed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"    \
	"   FROM viral_ideas_queue WHERE status = 'completed' ORDER BY completed_at DESC LIMIT " \
	"1),"                                                                                    \
	" (SELECT COALESCE(avg(extract(epoch FROM completed_at - started_processing_at)), 0)"    \
	"   FROM (SELECT completed_at, started_processing_at FROM viral_ideas_queue"             \
	"   WHERE status = 'completed' AND started_processing_at IS NOT NULL"                    \
	"   ORDER BY completed_at DESC LIMIT 50) r)"

/* $1 source, $2 owner, $3 legacy ms. */
static const char SQL_BATCH_OPEN[] =
    "WITH cand AS (SELECT q.id, " SQL_DUE " AS due FROM viral_ideas_queue q"
    "  WHERE q.status IN ('pending', 'processing') AND (" SQL_DUE
    " OR " SQL_STUCK("3") ")),"
                          " b AS (INSERT INTO batches (trigger_source, owner_id, total_jobs)"
                          "  SELECT $1, $2::bigint, count(*) FROM cand HAVING count(*) > 0 "
                          "RETURNING id, total_jobs),"
                          " tag AS (UPDATE viral_ideas_queue q SET batch_id = b.id FROM b, cand"
                          "  WHERE q.id = cand.id RETURNING 1)"
                          " SELECT (SELECT id FROM b), (SELECT count(*) FROM cand WHERE due),"
                          "  (SELECT count(*) FROM cand WHERE NOT due), COALESCE((SELECT "
                          "total_jobs FROM b), 0), 0, 0,"
                          "  false, (SELECT count(*) FROM tag)," SQL_BATCH_TAIL;

/* $1 batch id. */
static const char SQL_BATCH_JOIN[] =
    "WITH j AS (UPDATE viral_ideas_queue q SET batch_id = $1::uuid"
    "  WHERE " SQL_DUE " AND q.batch_id IS DISTINCT FROM $1::uuid RETURNING 1),"
    " b AS (UPDATE batches SET total_jobs = total_jobs + (SELECT count(*) FROM j),"
    "  finished_at = NULL WHERE id = $1::uuid AND (SELECT count(*) FROM j) > 0"
    "  RETURNING id)"
    " SELECT x.id, (SELECT count(*) FROM j), 0,"
    "  x.total_jobs + (SELECT count(*) FROM j), x.completed_jobs, x.failed_jobs,"
    "  x.finished_at IS NOT NULL AND (SELECT count(*) FROM j) = 0, 0," SQL_BATCH_TAIL
    " FROM batches x WHERE x.id = $1::uuid";

static const char SQL_BATCH_GET[] =
    "SELECT id, 0, 0, total_jobs, completed_jobs, failed_jobs,"
    " finished_at IS NOT NULL OR completed_jobs + failed_jobs >= total_jobs, 0," SQL_BATCH_TAIL
    " FROM batches WHERE id = $1::uuid";

/* The newest batch still open: finished_at unset and jobs left to finish. */
static const char SQL_BATCH_FIND[] =
    "SELECT id, 0, 0, total_jobs, completed_jobs, failed_jobs, false, 0," SQL_BATCH_TAIL
    " FROM batches WHERE finished_at IS NULL AND completed_jobs + failed_jobs < total_jobs"
    " ORDER BY started_at DESC LIMIT 1";

/* $1 id. Admin actions: lock the row, act only from the right states. */
static const char SQL_MAKE_DUE[] =
    "WITH cur AS (SELECT id, status FROM viral_ideas_queue WHERE id = $1::uuid FOR UPDATE),"
    " upd AS (UPDATE viral_ideas_queue q SET status = 'pending', next_attempt_at = NULL,"
    "  attempts = CASE WHEN cur.status IN ('failed', 'completed') THEN 0 ELSE q.attempts END,"
    "  rescues = CASE WHEN cur.status IN ('failed', 'completed') THEN 0 ELSE q.rescues END,"
    "  crash_suspect = CASE WHEN cur.status IN ('failed', 'completed') THEN false"
    "   ELSE q.crash_suspect END,"
    "  error_message = NULL, lease_expires_at = NULL,"
    "  transition_reason = 'process now requested'"
    "  FROM cur WHERE q.id = cur.id AND cur.status <> 'processing' RETURNING 1)"
    " SELECT cur.status, EXISTS (SELECT 1 FROM upd) FROM cur";

static const char SQL_CANCEL[] =
    "WITH cur AS (SELECT id, status, batch_id FROM viral_ideas_queue WHERE id = $1::uuid"
    "  FOR UPDATE),"
    " upd AS (UPDATE viral_ideas_queue q SET status = 'failed',"
    "  error_message = 'cancelled by an administrator', current_step = 'Cancelled',"
    "  lease_expires_at = NULL, next_attempt_at = NULL, transition_reason = 'cancelled'"
    "  FROM cur WHERE q.id = cur.id AND cur.status IN ('pending', 'processing', 'paused')"
    "  RETURNING q.id),"
    " bat AS (UPDATE batches b SET failed_jobs = b.failed_jobs + 1 FROM cur, upd"
    "  WHERE b.id = cur.batch_id)"
    " SELECT cur.status, EXISTS (SELECT 1 FROM upd) FROM cur";

static const char SQL_RETRY[] =
    "WITH cur AS (SELECT id, status FROM viral_ideas_queue WHERE id = $1::uuid FOR UPDATE),"
    " upd AS (UPDATE viral_ideas_queue q SET status = 'pending', attempts = 0, rescues = 0,"
    "  crash_suspect = false, next_attempt_at = NULL, error_message = NULL, last_error = NULL,"
    "  progress_percentage = 0, current_step = NULL, lease_expires_at = NULL,"
    "  transition_reason = 'retry requested'"
    "  FROM cur WHERE q.id = cur.id AND cur.status = 'failed' RETURNING 1)"
    " SELECT cur.status, EXISTS (SELECT 1 FROM upd) FROM cur";

/* $1 job, $2 token, $3 username, $4 status, $5 error: fenced by the job's lease. */
static const char SQL_COMPETITOR_MARK[] =
    "UPDATE viral_ideas_competitors c SET processing_status = $4, error_message = $5,"
    " processed_at = now() FROM viral_ideas_queue q"
    " WHERE c.queue_id = $1::uuid AND c.competitor_username = $3 AND q.id = c.queue_id"
    " AND q.lease_token = $2::uuid AND q.status = 'processing'";

static const char SQL_NEWEST[] =
    "SELECT u, COALESCE((SELECT extract(epoch FROM max(c.date_posted))::bigint FROM content c"
    " WHERE c.username = u), 0) FROM unnest($1::text[]) AS u";

static const char SQL_RERUNS[] =
    "WITH due AS (SELECT id FROM viral_ideas_queue WHERE status = 'completed'"
    "  AND auto_rerun_enabled AND next_scheduled_run <= now()"
    "  ORDER BY next_scheduled_run LIMIT $1::int FOR UPDATE SKIP LOCKED),"
    " upd AS (UPDATE viral_ideas_queue q SET status = 'pending', attempts = 0, rescues = 0, "
    "crash_suspect = false,"
    "  progress_percentage = 0, next_attempt_at = NULL, error_message = NULL,"
    "  current_step = 'Re-run scheduled', transition_reason = 'auto re-run due'"
    "  FROM due WHERE q.id = due.id RETURNING 1)"
    " SELECT count(*) FROM upd";

static const char SQL_SCHEDULE_FIRE[] =
    "INSERT INTO schedule_fires (schedule_name, fire_at, owner_id)"
    " VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2::int) * $2::int), $3::bigint)"
    " ON CONFLICT DO NOTHING RETURNING 1";

enum call_kind {
	CALL_BATCH,
	CALL_ACTION,
	CALL_NEWEST,
	CALL_COUNT,
	CALL_FIRE,
	CALL_OWNERS,
	CALL_BATCH_FIND
};

struct call {
	enum call_kind kind;
	void *cb;
	void *arg;
};

static void read_batch(PGresult *res, struct batch_info *b)
{
	memset(b, 0, sizeof *b);
	if (PQntuples(res) < 1)
		return;
	strlcpy(b->batch_id, PQgetvalue(res, 0, 0), sizeof b->batch_id);
	b->pending = atoi(PQgetvalue(res, 0, 1));
	b->stuck = atoi(PQgetvalue(res, 0, 2));
	b->total = atoi(PQgetvalue(res, 0, 3));
	b->completed = atoi(PQgetvalue(res, 0, 4));
	b->failed = atoi(PQgetvalue(res, 0, 5));
	b->finished = PQgetvalue(res, 0, 6)[0] == 't';
	strlcpy(b->last_processed_at, PQgetvalue(res, 0, 8), sizeof b->last_processed_at);
	b->avg_job_s = atof(PQgetvalue(res, 0, 9));
}

static void on_result(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	(void)pg;
	switch (c->kind) {
	case CALL_BATCH:
	case CALL_BATCH_FIND: {
		struct batch_info b;
		if (!err && PQntuples(res) < 1 && c->kind == CALL_BATCH)
			err = "no such batch";
		if (!err)
			read_batch(res, &b);
		((batch_fn)c->cb)(err ? NULL : &b, err, c->arg);
		break;
	}
	case CALL_ACTION: {
		int rc = JOB_ACTION_ERROR;
		const char *status = "";
		if (!err) {
			if (PQntuples(res) == 0) {
				rc = JOB_ACTION_NOT_FOUND;
			} else {
				status = PQgetvalue(res, 0, 0);
				rc = PQgetvalue(res, 0, 1)[0] == 't' ? JOB_ACTION_OK
				                                     : JOB_ACTION_WRONG_STATE;
			}
		}
		((job_action_fn)c->cb)(rc, status, err, c->arg);
		break;
	}
	case CALL_NEWEST: {
		int n = err ? 0 : PQntuples(res);
		char **names = xcalloc((size_t)n + 1, sizeof *names);
		int64_t *newest = xcalloc((size_t)n + 1, sizeof *newest);
		for (int i = 0; i < n; i++) {
			names[i] = PQgetvalue(res, i, 0);
			newest[i] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		}
		((newest_fn)c->cb)(err ? -1 : n, names, newest, err, c->arg);
		free(names);
		free(newest);
		break;
	}
	case CALL_COUNT:
		((count_fn)c->cb)(err ? -1 : strtoll(PQgetvalue(res, 0, 0), NULL, 10), err, c->arg);
		break;
	case CALL_FIRE:
		((count_fn)c->cb)(err ? -1 : PQntuples(res), err, c->arg);
		break;
	case CALL_OWNERS: {
		int n = err ? 0 : PQntuples(res);
		long long *ids = xcalloc((size_t)n + 1, sizeof *ids);
		int *pids = xcalloc((size_t)n + 1, sizeof *pids);
		bool *expired = xcalloc((size_t)n + 1, sizeof *expired);
		for (int i = 0; i < n; i++) {
			ids[i] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			pids[i] = atoi(PQgetvalue(res, i, 1));
			expired[i] = PQgetvalue(res, i, 2)[0] == 't';
		}
		((owners_fn)c->cb)(err ? -1 : n, ids, pids, expired, err, c->arg);
		free(ids);
		free(pids);
		free(expired);
		break;
	}
	}
	free(c);
}

static int call(struct pg *pg, enum call_kind kind, const char *sql, int n,
                const char *const *params, void *cb, void *arg)
{
	struct call *c = xmalloc(sizeof *c);
	c->kind = kind;
	c->cb = cb;
	c->arg = arg;
	int r = pg_query(pg, sql, n, params, on_result, c);
	if (r < 0)
		free(c);
	return r;
}

int batch_open_async(struct pg *pg, const char *source, long long owner, int legacy_stuck_ms,
                     batch_fn cb, void *arg)
{
	char o[24], l[24];
	snprintf(o, sizeof o, "%lld", owner);
	snprintf(l, sizeof l, "%d", legacy_stuck_ms);
	const char *p[] = {source, o, l};
	return call(pg, CALL_BATCH, SQL_BATCH_OPEN, 3, p, (void *)cb, arg);
}

int batch_join_async(struct pg *pg, const char *batch_id, batch_fn cb, void *arg)
{
	const char *p[] = {batch_id};
	return call(pg, CALL_BATCH, SQL_BATCH_JOIN, 1, p, (void *)cb, arg);
}

int batch_get_async(struct pg *pg, const char *batch_id, batch_fn cb, void *arg)
{
	const char *p[] = {batch_id};
	return call(pg, CALL_BATCH, SQL_BATCH_GET, 1, p, (void *)cb, arg);
}

int batch_find_open_async(struct pg *pg, batch_fn cb, void *arg)
{
	return call(pg, CALL_BATCH_FIND, SQL_BATCH_FIND, 0, NULL, (void *)cb, arg);
}

int job_make_due_async(struct pg *pg, const char *id, job_action_fn cb, void *arg)
{
	const char *p[] = {id};
	return call(pg, CALL_ACTION, SQL_MAKE_DUE, 1, p, (void *)cb, arg);
}

int job_cancel_async(struct pg *pg, const char *id, job_action_fn cb, void *arg)
{
	const char *p[] = {id};
	return call(pg, CALL_ACTION, SQL_CANCEL, 1, p, (void *)cb, arg);
}

int job_retry_async(struct pg *pg, const char *id, job_action_fn cb, void *arg)
{
	const char *p[] = {id};
	return call(pg, CALL_ACTION, SQL_RETRY, 1, p, (void *)cb, arg);
}

int competitor_mark_async(struct pg *pg, const char *job_id, const char *token,
                          const char *username, const char *status, const char *error)
{
	const char *p[] = {job_id, token, username, status, error};
	return pg_query(pg, SQL_COMPETITOR_MARK, 5, p, NULL, NULL);
}

int content_newest_async(struct pg *pg, const char *const *usernames, int n, newest_fn cb,
                         void *arg)
{
	char *arr = pg_text_array(usernames, n);
	const char *p[] = {arr};
	int r = call(pg, CALL_NEWEST, SQL_NEWEST, 1, p, (void *)cb, arg);
	free(arr);
	return r;
}

int reruns_requeue_async(struct pg *pg, int limit, count_fn cb, void *arg)
{
	char l[24];
	snprintf(l, sizeof l, "%d", limit);
	const char *p[] = {l};
	return call(pg, CALL_COUNT, SQL_RERUNS, 1, p, (void *)cb, arg);
}

int schedule_fire_async(struct pg *pg, const char *name, int interval_s, long long owner,
                        count_fn cb, void *arg)
{
	char i[24], o[24];
	snprintf(i, sizeof i, "%d", interval_s);
	snprintf(o, sizeof o, "%lld", owner);
	const char *p[] = {name, i, o};
	return call(pg, CALL_FIRE, SQL_SCHEDULE_FIRE, 3, p, (void *)cb, arg);
}

/* $1 node, $2 role, $3 the new owner. */
static const char SQL_OWNERS_OF_NODE[] =
    "SELECT id, pid, heartbeat_at + heartbeat_expiry < now() FROM owners"
    " WHERE node = $1 AND role = $2 AND id <> $3::bigint AND stopped_at IS NULL";

int owners_of_node_async(struct pg *pg, const char *node, const char *role, long long owner,
                         owners_fn cb, void *arg)
{
	char o[24];
	snprintf(o, sizeof o, "%lld", owner);
	const char *p[] = {node, role, o};
	return call(pg, CALL_OWNERS, SQL_OWNERS_OF_NODE, 3, p, (void *)cb, arg);
}

/* $1 owner ids. */
static const char SQL_RETIRE[] =
    "WITH r AS (UPDATE owners SET stopped_at = now() WHERE id = ANY($1::bigint[])"
    "  AND stopped_at IS NULL RETURNING 1) SELECT count(*) FROM r";

int owners_retire_async(struct pg *pg, int n, const long long *ids, count_fn cb, void *arg)
{
	size_t cap = (size_t)n * 24 + 3, len = 0;
	char *arr = xmalloc(cap);
	arr[len++] = '{';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(arr + len, cap - len, "%s%lld", i ? "," : "", ids[i]);
	snprintf(arr + len, cap - len, "}");
	const char *p[] = {arr};
	int r = call(pg, CALL_COUNT, SQL_RETIRE, 1, p, (void *)cb, arg);
	free(arr);
	return r;
}
