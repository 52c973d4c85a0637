/*
 * The operations page: its embedded files and its read-only JSON
 * endpoints (docs/API.md, "Operations page"). Each data endpoint is one
 * parameterised query whose JSON PostgreSQL builds, answered with an ETag
 * so that the page's polling costs a 304 and no body when nothing changed
 * (docs/DECISIONS.md, D19). The actors come from the supervisor: the same
 * CONTROL status viralctl asks for, sent on the gateway's parent channel.
 * Actions are not here: the page calls the existing admin endpoints.
 */
#include <errno.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/gateway/admin.h"
#include "actors/gateway/gateway.h"
#include "ipc/actor.h"
#include "ipc/conn.h"
#include "ipc/log.h"
#include "ipc/msg.h"

#define STATUS_TIMEOUT_S 2.0 /* the supervisor answers status from memory */

/* What the page's own files may do: nothing but load themselves and call
 * this origin (no inline script, no third party, no framing). */
#define PAGE_HEADERS                                                                         \
	"Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "    \
	"frame-ancestors 'none'\r\n"                                                         \
	"X-Content-Type-Options: nosniff\r\n"                                                \
	"Referrer-Policy: no-referrer\r\n"

/* ---- ETags ------------------------------------------------------------------ */

static unsigned long long fnv1a64(const char *s, size_t n)
{
	unsigned long long h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/* True when If-None-Match names etag (or is "*"). */
static bool etag_matches(const struct http_request *req, const char *etag)
{
	const char *inm = http_header_get(req, "if-none-match");
	if (!inm)
		return false;
	if (!strcmp(inm, "*"))
		return true;
	size_t el = strlen(etag);
	for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
		char after = p[el];
		if (after == '\0' || after == ',' || after == ' ')
			return true;
	}
	return false;
}

/* Answers data (JSON text) in the success envelope with a strong ETag of
 * the whole body; 304 without a body when the client already has it. */
static void send_data(struct gw_req *r, const char *data)
{
	char *body = xasprintf("{\"success\":true,\"data\":%s,\"message\":null,\"error\":null}",
	                       data ? data : "null");
	size_t len = strlen(body);
	char etag[40], extra[160];
	snprintf(etag, sizeof etag, "\"d-%016llx\"", fnv1a64(body, len));
	/* no-store: the data is for the operator's eyes, never for a disk cache;
	 * the page keeps the last body itself and revalidates with If-None-Match. */
	snprintf(extra, sizeof extra, "ETag: %s\r\nCache-Control: no-store\r\n", etag);
	if (etag_matches(r->req, etag))
		gw_send(r->gw, r->req, 304, NULL, extra, NULL, 0);
	else
		gw_send(r->gw, r->req, 200, NULL, extra, body, len);
	free(body);
}

/* ---- the page ----------------------------------------------------------------- */

static bool page_enabled(struct gw_req *r)
{
	if (r->gw->admin_token)
		return true;
	gw_error(r->gw, r->req, 503,
	         "The operations page is off: set ADMIN_API_TOKEN to turn it (and the admin "
	         "endpoints) on",
	         NULL);
	return false;
}

static void send_asset(struct gw_req *r, const struct admin_asset *a)
{
	char extra[768];
	snprintf(extra, sizeof extra, "%sETag: %s\r\nCache-Control: no-cache\r\n", PAGE_HEADERS,
	         a->etag);
	if (etag_matches(r->req, a->etag))
		gw_send(r->gw, r->req, 304, NULL, extra, NULL, 0);
	else
		gw_send(r->gw, r->req, 200, a->ctype, extra, a->body, strlen(a->body));
}

static const struct admin_asset *asset_find(const char *name)
{
	for (int i = 0; i < admin_assets_count; i++)
		if (!strcmp(admin_assets[i].name, name))
			return &admin_assets[i];
	return NULL;
}

void admin_page(struct gw_req *r)
{
	if (!page_enabled(r))
		return;
	const struct admin_asset *a = asset_find("index.html");
	if (!a) {
		gw_fail_internal(r, "Operations page missing", "no index.html embedded");
		return;
	}
	send_asset(r, a);
}

void admin_asset(struct gw_req *r)
{
	if (!page_enabled(r))
		return;
	const struct admin_asset *a = asset_find(r->param);
	if (!a) {
		gw_error(r->gw, r->req, 404, "Not Found", NULL);
		return;
	}
	send_asset(r, a);
}

/* ---- GET /admin/api/summary ---------------------------------------------------- */

/* Counts now; per minute of the last hour the completions and failures
 * (job_events, idx_job_events_at) and the queue depth at the minute's end
 * (pending + processing now, minus the net entries since); the open batch
 * with its ETA at the rate it has run so far. */
static const char SQL_SUMMARY[] =
    "WITH m0 AS (SELECT date_trunc('minute', now()) AS t),"
    " mins AS (SELECT generate_series((SELECT t FROM m0) - interval '59 minutes',"
    "   (SELECT t FROM m0), interval '1 minute') AS t),"
    " ev AS (SELECT at, to_status,"
    "   CASE WHEN to_status IN ('pending', 'processing') AND (from_status IS NULL OR"
    "     from_status NOT IN ('pending', 'processing')) THEN 1"
    "   WHEN from_status IN ('pending', 'processing') AND"
    "     to_status NOT IN ('pending', 'processing') THEN -1 ELSE 0 END AS d"
    "   FROM job_events WHERE at >= (SELECT t FROM m0) - interval '59 minutes'),"
    " c AS (SELECT count(*) FILTER (WHERE status = 'pending') AS pending,"
    "   count(*) FILTER (WHERE status = 'processing') AS processing,"
    "   count(*) FILTER (WHERE status = 'completed') AS completed,"
    "   count(*) FILTER (WHERE status = 'failed') AS failed,"
    "   count(*) FILTER (WHERE status = 'paused') AS paused,"
    "   count(*) FILTER (WHERE crash_suspect) AS crash_suspect,"
    "   count(*) AS total FROM viral_ideas_queue),"
    " agg AS (SELECT date_trunc('minute', at) AS t,"
    "   count(*) FILTER (WHERE to_status = 'completed') AS completed,"
    "   count(*) FILTER (WHERE to_status = 'failed') AS failed, sum(d) AS d"
    "   FROM ev GROUP BY 1),"
    /* The depth at a minute's end: now's, minus what entered since. */
    " s AS (SELECT mins.t, COALESCE(agg.completed, 0) AS completed,"
    "   COALESCE(agg.failed, 0) AS failed,"
    "   (SELECT c.pending + c.processing FROM c) - COALESCE(sum(agg.d) OVER (ORDER BY mins.t"
    "     DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS depth"
    "   FROM mins LEFT JOIN agg ON agg.t = mins.t),"
    " b AS (SELECT id, trigger_source, requested_by, total_jobs, completed_jobs, failed_jobs,"
    "   started_at, extract(epoch FROM now() - started_at)::float8 AS elapsed_s"
    "   FROM batches WHERE finished_at IS NULL ORDER BY started_at DESC LIMIT 1),"
    " lb AS (SELECT id, total_jobs, completed_jobs, failed_jobs, started_at, finished_at"
    "   FROM batches WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1)"
    " SELECT json_build_object("
    "  'counts', (SELECT row_to_json(c) FROM c),"
    "  'queue_depth', (SELECT pending + processing FROM c),"
    "  'window', json_build_object('minutes', 60, 'step_s', 60),"
    "  'series', COALESCE((SELECT json_agg(json_build_object('t', t, 'completed', completed,"
    "    'failed', failed, 'depth', GREATEST(depth, 0)) ORDER BY t) FROM s), '[]'::json),"
    "  'last_hour', json_build_object("
    "    'completed', (SELECT COALESCE(sum(completed), 0) FROM agg),"
    "    'failed', (SELECT COALESCE(sum(failed), 0) FROM agg)),"
    "  'batch', (SELECT json_build_object('id', id, 'trigger_source', trigger_source,"
    "    'requested_by', requested_by, 'total_jobs', total_jobs,"
    "    'completed_jobs', completed_jobs, 'failed_jobs', failed_jobs, 'started_at', started_at,"
    "    'elapsed_s', round(elapsed_s::numeric, 1),"
    "    'progress_pct', CASE WHEN total_jobs > 0 THEN round(100.0 * (completed_jobs +"
    "      failed_jobs) / total_jobs, 1) ELSE 0 END,"
    "    'eta_s', CASE WHEN completed_jobs + failed_jobs > 0 AND total_jobs >"
    "      completed_jobs + failed_jobs THEN round((elapsed_s / (completed_jobs + failed_jobs)"
    "      * (total_jobs - completed_jobs - failed_jobs))::numeric, 0)"
    "      WHEN total_jobs <= completed_jobs + failed_jobs THEN 0 END) FROM b),"
    "  'last_batch', (SELECT row_to_json(lb) FROM lb))";

/* The summary counts the whole queue table: one query a second at most,
 * whoever asks, so ten open pages cost the database what one does. */
#define SUMMARY_TTL_S 1.0
static struct {
	char *text;
	double at;
} summary_cache;

static void summary_done(struct gw_req *r, PGresult *res)
{
	struct gateway *gw = r->gw;
	json_error_t jerr;
	json_t *d = PQntuples(res) > 0 ? json_loads(PQgetvalue(res, 0, 0), 0, &jerr) : NULL;
	if (!d) {
		gw_fail_internal(r, "Failed to build the summary", "summary: no row");
		return;
	}
	/* The gateway's own view, counted since it started (as /metrics). */
	json_object_set_new(
	    d, "gateway",
	    json_pack("{s:b, s:b, s:I, s:I, s:I, s:I, s:I}", "database", gw_pg(gw) != NULL,
	              "scheduler", gw->sched_up, "actor_exits_total", (json_int_t)gw->actor_exits,
	              "actor_hangs_total", (json_int_t)gw->actor_hangs, "auth_throttled_total",
	              (json_int_t)gw->auth_throttled, "scheduler_unavailable_total",
	              (json_int_t)gw->metrics.sched_unavailable, "database_unavailable_total",
	              (json_int_t)gw->metrics.db_unavailable));
	char *text = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	if (!text)
		log_fatal("json_dumps: out of memory");
	send_data(r, text);
	free(summary_cache.text);
	summary_cache.text = text;
	summary_cache.at = ev_now(gw->loop);
}

void admin_summary(struct gw_req *r)
{
	if (summary_cache.text && ev_now(r->gw->loop) - summary_cache.at < SUMMARY_TTL_S) {
		send_data(r, summary_cache.text);
		return;
	}
	gw_query(r, SQL_SUMMARY, 0, NULL, summary_done, "Failed to build the summary");
}

/* ---- the supervisor: the actors, pausing and resuming claiming ------------------ */

/* Sends CONTROL {v:1, cmd, source, requested_by} on the parent channel;
 * cb gets the reply. Answers nothing itself: -ENOTCONN without a
 * supervisor, or conn_request's error (cb is then not called). */
static int sup_send(struct gw_req *r, const char *cmd, conn_reply_fn cb, void *arg)
{
	struct conn *parent = r->gw->a ? r->gw->a->parent : NULL;
	if (!parent)
		return -ENOTCONN;
	struct msg_out out;
	msg_out_init(&out, MSG_CONTROL, 0, 4);
	msg_put_int(&out, "v", 1);
	msg_put_str(&out, "cmd", cmd);
	msg_put_str(&out, "source", "http");
	msg_put_str(&out, "requested_by", r->client);
	int rc = conn_request(parent, &out, STATUS_TIMEOUT_S, cb, arg);
	msg_out_free(&out);
	return rc;
}

/* The same for a request the reply answers: -1 when it could not be sent
 * (answered 503 here). */
static int sup_request(struct gw_req *r, const char *cmd, conn_reply_fn cb, void *arg)
{
	int rc = sup_send(r, cmd, cb, arg);
	if (rc == -ENOTCONN)
		gw_error(r->gw, r->req, 503, "No supervisor: the gateway runs standalone", NULL);
	else if (rc < 0)
		gw_error(r->gw, r->req, 503, "The supervisor went away", "Retry-After: 2\r\n");
	return rc < 0 ? -1 : 0;
}

int admin_ask_status(struct gw_req *r, conn_reply_fn cb, void *arg)
{
	return sup_send(r, "status", cb, arg) < 0 ? -1 : 0;
}

/* The data of a successful CONTROL_REPLY (caller decrefs), or NULL with
 * the reason (code, error) copied out. */
static json_t *sup_data(const struct msg *reply, int err, char *code, size_t codelen, char *why,
                        size_t whylen)
{
	bool ok = false;
	*code = *why = '\0';
	if (err) {
		strlcpy(code, err == -ETIMEDOUT ? "timeout" : "unavailable", codelen);
		strlcpy(why,
		        err == -ETIMEDOUT ? "the supervisor did not answer"
		                          : "the supervisor went away",
		        whylen);
		return NULL;
	}
	if (reply->type != MSG_CONTROL_REPLY || msg_get_bool(reply->body, "ok", &ok) < 0 || !ok) {
		msg_copy_str(reply->body, "code", code, codelen);
		msg_copy_str(reply->body, "error", why, whylen);
		if (!*why)
			strlcpy(why, msg_type_name(reply->type), whylen);
		return NULL;
	}
	const msgpack_object *data = msg_field(reply->body, "data");
	json_t *d = data ? msg_to_json(data) : NULL;
	if (!json_is_object(d)) {
		json_decref(d);
		strlcpy(why, "no data in the reply", whylen);
		return NULL;
	}
	return d;
}

json_t *admin_reply_data(const struct msg *reply, int err)
{
	char code[32], why[256];
	return sup_data(reply, err, code, sizeof code, why, sizeof why);
}

/* The status, then the scheduler's own state (paused, jobs in flight, its
 * workers' in-flight work): the page's actors panel. */
struct actors_ctx {
	struct gw_req *r;
	json_t *status;
};

static void actors_send(struct actors_ctx *x)
{
	char *text = json_dumps(x->status, JSON_COMPACT);
	if (!text)
		log_fatal("json_dumps: out of memory");
	send_data(x->r, text);
	free(text);
	json_decref(x->status);
	free(x);
}

static void on_scheduler_reply(struct conn *c, const struct msg *reply, int err, void *arg)
{
	(void)c;
	struct actors_ctx *x = arg;
	char code[32], why[256];
	json_t *d = sup_data(reply, err, code, sizeof code, why, sizeof why);
	/* The scheduler down is part of the picture, not a failed request. */
	json_object_set_new(x->status, "scheduler", d ? d : json_null());
	if (!d)
		json_object_set_new(x->status, "scheduler_error", json_string(why));
	actors_send(x);
}

static void on_status_reply(struct conn *c, const struct msg *reply, int err, void *arg)
{
	(void)c;
	struct actors_ctx *x = arg;
	struct gw_req *r = x->r;
	char code[32], why[256];
	x->status = sup_data(reply, err, code, sizeof code, why, sizeof why);
	/* The provider and model health: the sums /metrics exposes. */
	if (x->status)
		json_object_set_new(x->status, "upstream", metrics_upstream(x->status));
	if (!x->status) {
		if (err)
			gw_error(r->gw, r->req, 503, why, "Retry-After: 2\r\n");
		else
			gw_fail_internal(r, "The supervisor refused the status request", why);
		free(x);
		return;
	}
	if (sup_request(r, "scheduler", on_scheduler_reply, x) < 0) {
		json_decref(x->status); /* answered already */
		free(x);
	}
}

void admin_actors(struct gw_req *r)
{
	struct actors_ctx *x = xcalloc(1, sizeof *x);
	x->r = r;
	if (sup_request(r, "status", on_status_reply, x) < 0)
		free(x);
}

static void on_claiming_reply(struct conn *c, const struct msg *reply, int err, void *arg)
{
	(void)c;
	struct gw_req *r = arg;
	char code[32], why[256];
	json_t *d = sup_data(reply, err, code, sizeof code, why, sizeof why);
	if (!d) {
		/* The scheduler not running (the supervisor says unknown_command
		 * then), busy or slow: try again later, as for the other actions. */
		if (err || !strcmp(code, "timeout") || !strcmp(code, "unavailable") ||
		    !strcmp(code, "unknown_command")) {
			r->gw->metrics.sched_unavailable++;
			gw_error(r->gw, r->req, 503, "Scheduler unavailable, retry shortly",
			         "Retry-After: 2\r\n");
		} else {
			gw_fail_internal(r, "Failed to change claiming", why);
		}
		return;
	}
	char *text = json_dumps(d, JSON_COMPACT);
	bool paused = json_is_true(json_object_get(d, "paused"));
	json_decref(d);
	gw_ok(r->gw, r->req, text,
	      paused ? "Claiming paused: jobs in flight finish, no new ones start"
	             : "Claiming resumed");
	free(text);
}

void admin_claiming(struct gw_req *r)
{
	sup_request(r, r->route == GW_ROUTE_ADMIN_PAUSE ? "pause" : "resume", on_claiming_reply, r);
}

/* ---- GET /admin/api/jobs ------------------------------------------------------------ */

/* Not a CTE over the table: that would materialise every matching row
 * (jsonb columns included) to count them and to sort a page. */
static const char SQL_JOBS[] =
    "SELECT json_build_object('total', (SELECT count(*) FROM viral_ideas_queue"
    "   WHERE $1 = '' OR status = $1), 'status', NULLIF($1, ''),"
    "  'limit', $2::int, 'offset', $3::int,"
    "  'jobs', COALESCE((SELECT json_agg(j) FROM (SELECT id, session_id, primary_username,"
    "    status, priority, COALESCE(progress_percentage, 0) AS progress_pct, current_step,"
    "    attempts, max_attempts, rescues, crash_suspect,"
    "    COALESCE(last_error, error_message) AS error, batch_id, submitted_at,"
    "    started_processing_at, completed_at, updated_at"
    "    FROM viral_ideas_queue WHERE $1 = '' OR status = $1"
    "    ORDER BY submitted_at DESC, id LIMIT $2::int OFFSET $3::int) j), '[]'::json))";

static const char *const job_statuses[] = {"pending", "processing", "completed",
                                           "failed",  "paused",     NULL};

static void jobs_done(struct gw_req *r, PGresult *res)
{
	const char *v = PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : NULL;
	if (!v) {
		gw_fail_internal(r, "Failed to list jobs", "jobs: no row");
		return;
	}
	send_data(r, v);
}

void admin_jobs(struct gw_req *r)
{
	json_t *errs = json_array();
	char status[32] = "";
	int rc = gw_query_param(r->req->query, "status", status, sizeof status);
	bool known = rc == 0 || !*status || !strcmp(status, "all");
	for (int i = 0; !known && job_statuses[i]; i++)
		known = !strcmp(status, job_statuses[i]);
	if (rc < 0 || !known)
		verr_add(errs,
		         "Input should be 'all', 'pending', 'processing', 'completed', 'failed' or "
		         "'paused'",
		         "literal_error", "query", "status", NULL);
	if (!strcmp(status, "all"))
		*status = '\0';
	long limit, offset;
	gw_query_int(r, errs, "limit", 50, 1, 200, &limit);
	gw_query_int(r, errs, "offset", 0, 0, 1000000000, &offset);
	if (json_array_size(errs) > 0) {
		gw_validation_list(r->gw, r->req, errs);
		return;
	}
	json_decref(errs);
	char ls[24], os[24];
	snprintf(ls, sizeof ls, "%ld", limit);
	snprintf(os, sizeof os, "%ld", offset);
	const char *p[3] = {status, ls, os};
	gw_query(r, SQL_JOBS, 3, p, jobs_done, "Failed to list jobs");
}

/* ---- GET /admin/api/jobs/{id} ---------------------------------------------------------- */

/* The job, its last 200 events, the failed or requeued attempts among
 * them, its competitors, and its newest analysis run's results: the first
 * five hooks, up to five scripts, the five top outlier reels and the
 * engine that wrote them (the llm engine's record: model, tokens, calls;
 * for the rules engine its version). */
static const char SQL_JOB[] =
    "WITH q AS (SELECT * FROM viral_ideas_queue WHERE id = $1::uuid),"
    " r AS (SELECT id, analysis_run, status, analysis_completed_at, analysis_data,"
    "   total_reels_analyzed FROM viral_analysis_results WHERE queue_id = $1::uuid"
    "   ORDER BY analysis_run DESC LIMIT 1),"
    " ev AS (SELECT id, at, from_status, to_status, actor, node, attempt, reason"
    "   FROM job_events WHERE job_id = $1::uuid ORDER BY id DESC LIMIT 200)"
    " SELECT (SELECT count(*) FROM q), json_build_object("
    "  'job', (SELECT json_build_object('id', id, 'session_id', session_id,"
    "    'primary_username', primary_username, 'status', status, 'priority', priority,"
    "    'progress_pct', COALESCE(progress_percentage, 0), 'current_step', current_step,"
    "    'attempts', attempts, 'max_attempts', max_attempts, 'rescues', rescues,"
    "    'crash_suspect', crash_suspect, 'last_error', last_error,"
    "    'error_message', error_message, 'next_attempt_at', next_attempt_at,"
    "    'batch_id', batch_id, 'total_runs', total_runs, 'submitted_at', submitted_at,"
    "    'started_processing_at', started_processing_at, 'completed_at', completed_at,"
    "    'updated_at', updated_at) FROM q),"
    "  'competitors', COALESCE((SELECT json_agg(json_build_object('username',"
    "    competitor_username, 'status', processing_status, 'error', error_message)"
    "    ORDER BY added_at, competitor_username) FROM viral_ideas_competitors"
    "    WHERE queue_id = $1::uuid AND is_active), '[]'::json),"
    "  'events', COALESCE((SELECT json_agg(ev ORDER BY ev.id) FROM ev), '[]'::json),"
    "  'errors', COALESCE((SELECT json_agg(json_build_object('at', at, 'attempt', attempt,"
    "    'to_status', to_status, 'reason', reason) ORDER BY id) FROM ev"
    "    WHERE from_status = 'processing' AND to_status IN ('pending', 'failed')), '[]'::json),"
    "  'result', (SELECT json_build_object('analysis_run', r.analysis_run, 'status', r.status,"
    "    'completed_at', r.analysis_completed_at, 'reels_analyzed', r.total_reels_analyzed,"
    "    'hooks', COALESCE((SELECT json_agg(h.v ORDER BY h.i) FROM jsonb_array_elements("
    "      CASE WHEN jsonb_typeof(r.analysis_data -> 'generated_hooks') = 'array'"
    "      THEN r.analysis_data -> 'generated_hooks' ELSE '[]'::jsonb END)"
    "      WITH ORDINALITY AS h(v, i) WHERE h.i <= 5), '[]'::json),"
    "    'scripts', COALESCE((SELECT json_agg(json_build_object('title', s.script_title,"
    "      'hook', s.primary_hook, 'content', s.script_content, 'duration_s',"
    "      s.estimated_duration, 'call_to_action', s.call_to_action) ORDER BY s.created_at)"
    "      FROM (SELECT * FROM viral_scripts_full WHERE analysis_id = r.id"
    "      ORDER BY created_at LIMIT 5) s), '[]'::json),"
    "    'top_reels', COALESCE((SELECT json_agg(json_build_object('content_id', x.content_id,"
    "      'username', x.username, 'reel_type', x.reel_type, 'outlier_score',"
    "      x.outlier_score_at_analysis::float8, 'views', x.view_count_at_analysis,"
    "      'hook_text', x.hook_text) ORDER BY x.outlier_score_at_analysis DESC NULLS LAST)"
    "      FROM (SELECT * FROM viral_analysis_reels_full WHERE analysis_id = r.id"
    "      ORDER BY outlier_score_at_analysis DESC NULLS LAST, content_id LIMIT 5) x),"
    "      '[]'::json),"
    "    'engine', CASE WHEN r.analysis_data ? 'engine' THEN r.analysis_data -> 'engine'"
    "      WHEN r.analysis_data ? 'engine_version' THEN jsonb_build_object('used', 'rules',"
    "      'engine_version', r.analysis_data -> 'engine_version') END) FROM r))";

static void job_done(struct gw_req *r, PGresult *res)
{
	if (PQntuples(res) < 1 || !strcmp(PQgetvalue(res, 0, 0), "0")) {
		gw_error(r->gw, r->req, 404, "Queue entry not found", NULL);
		return;
	}
	send_data(r, PQgetvalue(res, 0, 1));
}

void admin_job(struct gw_req *r)
{
	const char *p[1] = {r->param};
	gw_query(r, SQL_JOB, 1, p, job_done, "Failed to get the job");
}
