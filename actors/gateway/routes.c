/*
 * Routing and the endpoints (docs/API.md). Reads are one parameterised
 * query each on the gateway's own PostgreSQL connections, with the
 * response JSON built by PostgreSQL; business actions are messages to the
 * scheduler with a reply timeout.
 */
#include <ctype.h>
#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/gateway/admin.h"
#include "actors/gateway/gateway.h"
#include "ipc/conn.h"
#include "ipc/log.h"
#include "ipc/msg.h"
#include "sql/pg.h"

#define RETRY_DB    "Retry-After: 2\r\n"
#define RETRY_SCHED "Retry-After: 2\r\n"

enum { M_GET = 1, M_POST = 2 };

struct route {
	enum gw_route id;
	int methods;
	const char *segs[6]; /* "{}" matches any one segment */
	bool admin;
	void (*fn)(struct gw_req *r);
};

static void h_health(struct gw_req *r);
static void h_healthz(struct gw_req *r);
static void h_readyz(struct gw_req *r);
static void h_metrics(struct gw_req *r);
static void h_queue_create(struct gw_req *r);
static void h_queue_get(struct gw_req *r);
static void h_check_existing(struct gw_req *r);
static void h_queue_start(struct gw_req *r);
static void h_action(struct gw_req *r);
static void h_queue_status(struct gw_req *r);
static void h_results(struct gw_req *r);
static void h_content(struct gw_req *r);

static const struct route routes[] = {
    {GW_ROUTE_HEALTH, M_GET, {"health"}, false, h_health},
    {GW_ROUTE_HEALTHZ, M_GET, {"healthz"}, false, h_healthz},
    {GW_ROUTE_READYZ, M_GET, {"readyz"}, false, h_readyz},
    {GW_ROUTE_METRICS, M_GET, {"metrics"}, false, h_metrics},
    {GW_ROUTE_QUEUE_CREATE, M_POST, {"api", "viral-ideas", "queue"}, false, h_queue_create},
    {GW_ROUTE_QUEUE_GET, M_GET, {"api", "viral-ideas", "queue", "{}"}, false, h_queue_get},
    {GW_ROUTE_CHECK_EXISTING,
     M_GET,
     {"api", "viral-ideas", "check-existing", "{}"},
     false,
     h_check_existing},
    {GW_ROUTE_QUEUE_START,
     M_POST,
     {"api", "viral-ideas", "queue", "{}", "start"},
     false,
     h_queue_start},
    {GW_ROUTE_QUEUE_PROCESS,
     M_POST,
     {"api", "viral-ideas", "queue", "{}", "process"},
     true,
     h_action},
    {GW_ROUTE_QUEUE_CANCEL,
     M_POST,
     {"api", "viral-ideas", "queue", "{}", "cancel"},
     true,
     h_action},
    {GW_ROUTE_QUEUE_RETRY, M_POST, {"api", "viral-ideas", "queue", "{}", "retry"}, true, h_action},
    {GW_ROUTE_PROCESS_PENDING, M_POST, {"api", "viral-ideas", "process-pending"}, true, h_action},
    {GW_ROUTE_QUEUE_STATUS, M_GET, {"api", "viral-ideas", "queue-status"}, false, h_queue_status},
    {GW_ROUTE_RESULTS, M_GET, {"api", "viral-analysis", "{}", "results"}, false, h_results},
    {GW_ROUTE_CONTENT, M_GET, {"api", "viral-analysis", "{}", "content"}, false, h_content},
    /* The operations page (admin.c): the page itself needs no token, its data does. */
    {GW_ROUTE_ADMIN_PAGE, M_GET, {"admin"}, false, admin_page},
    {GW_ROUTE_ADMIN_ASSET, M_GET, {"admin", "{}"}, false, admin_asset},
    {GW_ROUTE_ADMIN_SUMMARY, M_GET, {"admin", "api", "summary"}, true, admin_summary},
    {GW_ROUTE_ADMIN_ACTORS, M_GET, {"admin", "api", "actors"}, true, admin_actors},
    {GW_ROUTE_ADMIN_JOBS, M_GET, {"admin", "api", "jobs"}, true, admin_jobs},
    {GW_ROUTE_ADMIN_JOB, M_GET, {"admin", "api", "jobs", "{}"}, true, admin_job},
    {GW_ROUTE_ADMIN_PAUSE, M_POST, {"admin", "api", "claiming", "pause"}, true, admin_claiming},
    {GW_ROUTE_ADMIN_RESUME, M_POST, {"admin", "api", "claiming", "resume"}, true, admin_claiming},
};
#define NROUTES (sizeof routes / sizeof routes[0])

/* ---- small helpers ------------------------------------------------------- */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Strict UTF-8 (no overlong forms, surrogates or code points above
 * U+10FFFF): what PostgreSQL accepts as text. */
static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned c = *s++;
		int more = c < 0x80             ? 0
		           : (c & 0xe0) == 0xc0 ? 1
		           : (c & 0xf0) == 0xe0 ? 2
		           : (c & 0xf8) == 0xf0 ? 3
		                                : -1;
		if (more < 0)
			return false;
		unsigned cp = more == 0 ? c : c & (0x3fu >> more);
		for (int k = 0; k < more; k++, s++) {
			if ((*s & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (*s & 0x3fu);
		}
		static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
		if (cp < min[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

/* Percent-decodes src (n bytes) into dst; -EINVAL on a bad escape, a NUL
 * byte or invalid UTF-8 (security review: such a parameter reached
 * PostgreSQL as text and failed there with a 500), -ENAMETOOLONG when it
 * does not fit. */
static int pct_decode(const char *src, size_t n, char *dst, size_t dstlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int ch = (unsigned char)src[i];
		if (ch == '%') {
			if (i + 2 >= n)
				return -EINVAL;
			int h = hexval(src[i + 1]), l = hexval(src[i + 2]);
			if (h < 0 || l < 0)
				return -EINVAL;
			ch = h * 16 + l;
			i += 2;
		}
		if (ch == 0)
			return -EINVAL;
		if (o + 1 >= dstlen)
			return -ENAMETOOLONG;
		dst[o++] = (char)ch;
	}
	dst[o] = '\0';
	return utf8_valid((const unsigned char *)dst) ? 0 : -EINVAL;
}

static bool uuid_valid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* Names that are Instagram's own paths, never an account's: a job for one
 * would fetch a page that is not a profile. */
static const char *const reserved_names[] = {"accounts", "api",   "developer", "direct", "explore",
                                             "graphql",  "legal", "p",         "reel",   "reels",
                                             "stories",  "tv",    "web",       NULL};

/* Instagram rules: surrounding spaces and a leading '@' dropped, lower-cased,
 * 1-30 of [a-z0-9._], not only dots ("." and ".." are path components, not
 * accounts), not a reserved name. */
static bool username_normalise(const char *in, char *out, size_t outlen)
{
	while (*in == ' ' || *in == '\t')
		in++;
	if (*in == '@')
		in++;
	size_t n = strlen(in);
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
	if (n < 1 || n > 30 || n >= outlen)
		return false;
	for (size_t i = 0; i < n; i++) {
		int c = tolower((unsigned char)in[i]);
		if (!isalnum(c) && c != '.' && c != '_')
			return false;
		if (c >= 0x80)
			return false;
		out[i] = (char)c;
	}
	out[n] = '\0';
	if (strspn(out, ".") == n)
		return false;
	for (int i = 0; reserved_names[i]; i++)
		if (!strcmp(out, reserved_names[i]))
			return false;
	return true;
}

/* The value of query parameter name (decoded into dst), 1 found, 0 absent,
 * -EINVAL malformed. */
static int query_get(const char *query, const char *name, char *dst, size_t dstlen)
{
	size_t nl = strlen(name);
	const char *p = query;
	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > nl && !strncmp(p, name, nl) && p[nl] == '=')
			return pct_decode(p + nl + 1, len - nl - 1, dst, dstlen) < 0 ? -EINVAL : 1;
		if (len == nl && !strncmp(p, name, nl)) {
			*dst = '\0';
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* ---- database ------------------------------------------------------------ */

struct pg *gw_pg(struct gateway *gw)
{
	struct pg *best = NULL;
	for (int i = 0; i < GW_PG_POOL; i++)
		if (gw->pg[i] && pg_is_up(gw->pg[i]) &&
		    (!best || pg_pending(gw->pg[i]) < pg_pending(best)))
			best = gw->pg[i];
	return best;
}

/* Internal failures are logged with the request id and never shown. */
static void fail_internal(struct gw_req *r, const char *what, const char *why)
{
	log_error("%s failed: %s request_id=%s", what, why ? why : "?", r->req->request_id);
	gw_error(r->gw, r->req, 500, what, NULL);
}

typedef void (*row_fn)(struct gw_req *r, PGresult *res);

struct qctx {
	struct gw_req *r;
	row_fn fn;
	const char *fail_detail;
};

/* Answers a request whose query failed: 503 when the database is away, 409
 * for a duplicate session, else 500 with the detail logged, not shown. */
static void answer_query_error(struct gw_req *r, PGresult *res, const char *err,
                               const char *fail_detail)
{
	{
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		if (!res || !state || !strncmp(state, "08", 2) || !strcmp(state, "57014") ||
		    !strncmp(state, "57P", 3)) {
			/* Connection lost, statement timeout, server shutting down. */
			log_warn("database unavailable: %s request_id=%s", err, r->req->request_id);
			r->gw->metrics.db_unavailable++;
			gw_error(r->gw, r->req, 503, "Database unavailable, retry shortly",
			         RETRY_DB);
		} else if (!strcmp(state, "23505") && r->route == GW_ROUTE_QUEUE_CREATE) {
			gw_error(r->gw, r->req, 409,
			         "A queue entry with this session_id already exists", NULL);
		} else {
			fail_internal(r, fail_detail, err);
		}
	}
}

static void on_query(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	(void)pg;
	struct qctx *q = arg;
	if (!err)
		q->fn(q->r, res);
	else
		answer_query_error(q->r, res, err, q->fail_detail);
	free(q);
}

/* Runs sql; fn gets the result. Answers 503 itself when no database. */
static void run_query(struct gw_req *r, const char *sql, int n, const char *const *params,
                      row_fn fn, const char *fail_detail)
{
	struct pg *pg = gw_pg(r->gw);
	if (!pg) {
		r->gw->metrics.db_unavailable++;
		gw_error(r->gw, r->req, 503, "Database unavailable, retry shortly", RETRY_DB);
		return;
	}
	struct qctx *q = xcalloc(1, sizeof *q);
	q->r = r;
	q->fn = fn;
	q->fail_detail = fail_detail;
	int rc = pg_query(pg, sql, n, params, on_query, q);
	if (rc < 0) {
		free(q);
		r->gw->metrics.db_unavailable++;
		gw_error(r->gw, r->req, 503, "Database unavailable, retry shortly", RETRY_DB);
	}
}

/* Row 0 column 0 as the data of a success envelope, or 404 with detail. */
static const char *first_value(PGresult *res)
{
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
		return NULL;
	return PQgetvalue(res, 0, 0);
}

/* ---- health ---------------------------------------------------------------- */

static void h_healthz(struct gw_req *r)
{
	static const char body[] = "{\"status\":\"ok\"}";
	gw_send(r->gw, r->req, 200, NULL, NULL, body, sizeof body - 1);
}

static void health_done(struct gw_req *r, PGresult *res)
{
	(void)res;
	char *body = xasprintf("{\"status\":\"healthy\",\"api_available\":true,"
	                       "\"simple_similar_api_available\":false,\"timestamp\":%s}",
	                       first_value(res) ? first_value(res) : "null");
	gw_send(r->gw, r->req, 200, NULL, NULL, body, strlen(body));
	free(body);
}

static void h_health(struct gw_req *r)
{
	/* The original's shape; api_available says whether the database answers. */
	if (!gw_pg(r->gw)) {
		char ts[64];
		time_t t = time(NULL);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(ts, sizeof ts, "\"%Y-%m-%dT%H:%M:%S\"", &tm);
		char *body = xasprintf("{\"status\":\"healthy\",\"api_available\":false,"
		                       "\"simple_similar_api_available\":false,\"timestamp\":%s}",
		                       ts);
		gw_send(r->gw, r->req, 200, NULL, NULL, body, strlen(body));
		free(body);
		return;
	}
	run_query(r, "SELECT to_json(now() AT TIME ZONE 'UTC')", 0, NULL, health_done,
	          "Health check failed");
}

static void readyz_done(struct gw_req *r, PGresult *res)
{
	(void)res;
	if (!r->gw->sched_up) {
		static const char body[] =
		    "{\"status\":\"not ready\",\"database\":true,\"scheduler\":false}";
		gw_send(r->gw, r->req, 503, NULL, RETRY_SCHED, body, sizeof body - 1);
		return;
	}
	static const char body[] = "{\"status\":\"ready\",\"database\":true,\"scheduler\":true}";
	gw_send(r->gw, r->req, 200, NULL, NULL, body, sizeof body - 1);
}

static void h_readyz(struct gw_req *r)
{
	if (!gw_pg(r->gw)) {
		char *body = xasprintf("{\"status\":\"not ready\",\"database\":false,"
		                       "\"scheduler\":%s}",
		                       r->gw->sched_up ? "true" : "false");
		gw_send(r->gw, r->req, 503, NULL, RETRY_DB, body, strlen(body));
		free(body);
		return;
	}
	run_query(r, "SELECT 1", 0, NULL, readyz_done, "Readiness check failed");
}

static const char SQL_METRICS[] = "SELECT json_build_object("
                                  " 'pending', count(*) FILTER (WHERE status = 'pending'),"
                                  " 'processing', count(*) FILTER (WHERE status = 'processing'),"
                                  " 'completed', count(*) FILTER (WHERE status = 'completed'),"
                                  " 'failed', count(*) FILTER (WHERE status = 'failed'),"
                                  " 'paused', count(*) FILTER (WHERE status = 'paused'),"
                                  " 'batches', (SELECT json_build_object('total', count(*),"
                                  "   'running', count(*) FILTER (WHERE finished_at IS NULL),"
                                  "   'completed_jobs', COALESCE(sum(completed_jobs), 0),"
                                  "   'failed_jobs', COALESCE(sum(failed_jobs), 0)) FROM batches))"
                                  " FROM viral_ideas_queue";

/* The database's figures wait here for the supervisor's status. */
struct metrics_ctx {
	struct gw_req *r;
	char *jobs;
};

static void on_metrics_status(struct conn *c, const struct msg *reply, int err, void *arg)
{
	(void)c;
	struct metrics_ctx *x = arg;
	json_t *status = admin_reply_data(reply, err);
	json_t *upstream = status ? metrics_upstream(status) : NULL;
	char *text = metrics_render(x->r->gw, x->jobs, upstream);
	gw_send(x->r->gw, x->r->req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text,
	        strlen(text));
	free(text);
	json_decref(upstream);
	json_decref(status);
	free(x->jobs);
	free(x);
}

/* Then the actors' provider and model counters, from the supervisor's
 * status (their PONGs): without a supervisor, the rest only. */
static void metrics_send(struct gw_req *r, const char *jobs)
{
	struct metrics_ctx *x = xcalloc(1, sizeof *x);
	x->r = r;
	x->jobs = jobs ? xstrdup(jobs) : NULL;
	if (admin_ask_status(r, on_metrics_status, x) < 0)
		on_metrics_status(NULL, NULL, -ENOTCONN, x);
}

static void metrics_done(struct gw_req *r, PGresult *res)
{
	metrics_send(r, first_value(res));
}

static void on_metrics_query(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	(void)pg;
	struct gw_req *r = arg;
	/* Metrics must answer even without a database: gateway figures only. */
	if (err)
		metrics_send(r, NULL);
	else
		metrics_done(r, res);
}

static void h_metrics(struct gw_req *r)
{
	struct pg *pg = gw_pg(r->gw);
	if (!pg || pg_query(pg, SQL_METRICS, 0, NULL, on_metrics_query, r) < 0)
		metrics_send(r, NULL);
}

/* ---- POST /api/viral-ideas/queue ------------------------------------------ */

/* One statement: the job and its competitors commit together or not at
 * all. A duplicate session_id inserts nothing and returns no row. */
static const char SQL_CREATE[] =
    "WITH q AS ("
    " INSERT INTO viral_ideas_queue (session_id, primary_username, content_strategy, status,"
    "  priority)"
    " VALUES ($1, $2, $3::jsonb, 'pending', $4::int)"
    " ON CONFLICT (session_id) DO NOTHING"
    " RETURNING id, session_id, primary_username, status, submitted_at),"
    " c AS ("
    " INSERT INTO viral_ideas_competitors (queue_id, competitor_username, selection_method,"
    "  is_active, processing_status, added_at)"
    " SELECT q.id, t.u, 'manual', TRUE, 'pending', clock_timestamp()"
    "  FROM q, unnest($5::text[]) WITH ORDINALITY AS t(u, n) ORDER BY t.n)"
    " SELECT json_build_object('id', id, 'session_id', session_id, 'primary_username',"
    "  primary_username, 'status', status, 'submitted_at', submitted_at) FROM q";

static void create_done(struct gw_req *r, PGresult *res)
{
	const char *data = first_value(res);
	if (!data) {
		gw_error(r->gw, r->req, 409, "A queue entry with this session_id already exists",
		         NULL);
		return;
	}
	char *msg = xasprintf("Viral ideas analysis queued for @%s", r->aux);
	gw_ok(r->gw, r->req, data, msg);
	free(msg);
}

static const char *jtype_name(const char *want)
{
	if (!strcmp(want, "string"))
		return "string_type";
	if (!strcmp(want, "list"))
		return "list_type";
	if (!strcmp(want, "object"))
		return "dict_type";
	return "int_type";
}

static void h_queue_create(struct gw_req *r)
{
	struct http_request *req = r->req;
	json_error_t jerr;
	json_t *root = json_loadb(req->body, req->body_len, 0, &jerr);
	json_t *errs = json_array();
	if (!root) {
		char pos[32];
		snprintf(pos, sizeof pos, "%d", jerr.position > 0 ? (int)jerr.position : 0);
		verr_add(errs, "JSON decode error", "json_invalid", "body", pos, NULL);
		gw_validation_list(r->gw, req, errs);
		return;
	}
	if (!json_is_object(root)) {
		verr_add(errs,
		         "Input should be a valid dictionary or object to extract fields from",
		         "model_attributes_type", "body", NULL);
		json_decref(root);
		gw_validation_list(r->gw, req, errs);
		return;
	}

	json_t *sid = json_object_get(root, "session_id");
	json_t *pu = json_object_get(root, "primary_username");
	json_t *comps = json_object_get(root, "selected_competitors");
	json_t *cs = json_object_get(root, "content_strategy");
	json_t *prio = json_object_get(root, "priority");
	char primary[64] = "";
	long priority = 5;

	if (!sid)
		verr_add(errs, "Field required", "missing", "body", "session_id", NULL);
	else if (!json_is_string(sid))
		verr_add(errs, "Input should be a valid string", jtype_name("string"), "body",
		         "session_id", NULL);
	else if (json_string_length(sid) < 1)
		verr_add(errs, "String should have at least 1 character", "string_too_short",
		         "body", "session_id", NULL);
	else if (json_string_length(sid) > 255)
		verr_add(errs, "String should have at most 255 characters", "string_too_long",
		         "body", "session_id", NULL);
	else if (memchr(json_string_value(sid), 0, json_string_length(sid)))
		verr_add(errs, "String should not contain NUL characters", "value_error", "body",
		         "session_id", NULL);

	if (!pu)
		verr_add(errs, "Field required", "missing", "body", "primary_username", NULL);
	else if (!json_is_string(pu))
		verr_add(errs, "Input should be a valid string", "string_type", "body",
		         "primary_username", NULL);
	else if (!username_normalise(json_string_value(pu), primary, sizeof primary))
		verr_add(errs,
		         "Value error, not a valid Instagram username (1-30 letters, digits, '.' "
		         "or '_'; not only dots; not a reserved name)",
		         "value_error", "body", "primary_username", NULL);

	/* Competitors: normalised, duplicates dropped, kept in given order. */
	size_t ncomp = 0;
	char(*list)[32] = NULL;
	if (!comps)
		verr_add(errs, "Field required", "missing", "body", "selected_competitors", NULL);
	else if (!json_is_array(comps))
		verr_add(errs, "Input should be a valid list", "list_type", "body",
		         "selected_competitors", NULL);
	else {
		size_t n = json_array_size(comps);
		list = xcalloc(n ? n : 1, sizeof *list);
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_array_get(comps, i);
			char idx[24], u[32];
			snprintf(idx, sizeof idx, "%zu", i);
			if (!json_is_string(e)) {
				verr_add(errs, "Input should be a valid string", "string_type",
				         "body", "selected_competitors", idx, NULL);
				continue;
			}
			if (!username_normalise(json_string_value(e), u, sizeof u)) {
				verr_add(errs,
				         "Value error, not a valid Instagram username (1-30 "
				         "letters, digits, '.' or '_'; not only dots; not a "
				         "reserved name)",
				         "value_error", "body", "selected_competitors", idx, NULL);
				continue;
			}
			bool dup = false;
			for (size_t j = 0; j < ncomp && !dup; j++)
				dup = !strcmp(list[j], u);
			if (!dup)
				strlcpy(list[ncomp++], u, sizeof list[0]);
		}
		if (ncomp > 50)
			verr_add(errs, "List should have at most 50 items after validation",
			         "too_long", "body", "selected_competitors", NULL);
	}

	if (!cs)
		verr_add(errs, "Field required", "missing", "body", "content_strategy", NULL);
	else if (!json_is_object(cs))
		verr_add(errs, "Input should be a valid dictionary", "dict_type", "body",
		         "content_strategy", NULL);
	else {
		static const char *const keys[] = {"contentType", "targetAudience", "goals"};
		for (int i = 0; i < 3; i++) {
			json_t *v = json_object_get(cs, keys[i]);
			if (!v)
				verr_add(errs, "Field required", "missing", "body",
				         "content_strategy", keys[i], NULL);
			else if (!json_is_string(v))
				verr_add(errs, "Input should be a valid string", "string_type",
				         "body", "content_strategy", keys[i], NULL);
		}
	}

	if (prio && !json_is_null(prio)) {
		if (!json_is_integer(prio))
			verr_add(errs, "Input should be a valid integer", "int_type", "body",
			         "priority", NULL);
		else if ((priority = (long)json_integer_value(prio)) < 1)
			verr_add(errs, "Input should be greater than or equal to 1",
			         "greater_than_equal", "body", "priority", NULL);
		else if (priority > 10)
			verr_add(errs, "Input should be less than or equal to 10",
			         "less_than_equal", "body", "priority", NULL);
	}

	if (json_array_size(errs) > 0) {
		free(list);
		json_decref(root);
		gw_validation_list(r->gw, req, errs);
		return;
	}
	json_decref(errs);

	/* content_strategy: exactly the three keys, as the original stored it. */
	json_t *strat = json_pack(
	    "{s:O,s:O,s:O}", "contentType", json_object_get(cs, "contentType"), "targetAudience",
	    json_object_get(cs, "targetAudience"), "goals", json_object_get(cs, "goals"));
	char *strat_s = json_dumps(strat, JSON_COMPACT);
	json_decref(strat);
	/* A text[] literal; names are [a-z0-9._] so quoting is trivial. */
	size_t cap = 3 + ncomp * 35;
	char *arr = xmalloc(cap), *p = arr;
	*p++ = '{';
	for (size_t i = 0; i < ncomp; i++)
		p += sprintf(p, "%s\"%s\"", i ? "," : "", list[i]);
	*p++ = '}';
	*p = '\0';
	char prio_s[16];
	snprintf(prio_s, sizeof prio_s, "%ld", priority);
	strlcpy(r->aux, primary, sizeof r->aux);
	const char *params[5] = {json_string_value(sid), primary, strat_s, prio_s, arr};
	run_query(r, SQL_CREATE, 5, params, create_done, "Failed to create queue");
	free(strat_s);
	free(arr);
	free(list);
	json_decref(root);
}

/* ---- GET /api/viral-ideas/queue/{session_id} ------------------------------- */

/* The table directly (same values as viral_queue_summary, which cannot
 * push the session_id filter below its GROUP BY). */
static const char SQL_QUEUE_GET[] =
    "SELECT json_build_object('id', q.id, 'session_id', q.session_id,"
    " 'primary_username', q.primary_username, 'status', q.status,"
    " 'progress_percentage', q.progress_percentage,"
    " 'content_type', q.content_strategy ->> 'contentType',"
    " 'target_audience', q.content_strategy ->> 'targetAudience',"
    " 'main_goals', q.content_strategy ->> 'goals',"
    " 'competitors', COALESCE((SELECT json_agg(c.competitor_username ORDER BY c.added_at, c.id)"
    "   FROM viral_ideas_competitors c WHERE c.queue_id = q.id AND c.is_active), '[]'::json),"
    " 'submitted_at', q.submitted_at, 'started_processing_at', q.started_processing_at,"
    " 'completed_at', q.completed_at, 'current_step', q.current_step,"
    " 'error_message', COALESCE(q.error_message, q.last_error), 'attempts', q.attempts,"
    " 'priority', q.priority)"
    " FROM viral_ideas_queue q WHERE q.session_id = $1";

static void queue_get_done(struct gw_req *r, PGresult *res)
{
	const char *data = first_value(res);
	if (!data)
		gw_error(r->gw, r->req, 404, "Queue entry not found", NULL);
	else
		gw_ok(r->gw, r->req, data, NULL);
}

static void h_queue_get(struct gw_req *r)
{
	const char *p[1] = {r->param};
	run_query(r, SQL_QUEUE_GET, 1, p, queue_get_done, "Failed to get queue status");
}

/* ---- GET /api/viral-ideas/check-existing/{username} ------------------------ */

static const char SQL_CHECK_EXISTING[] =
    "SELECT json_build_object('id', x.id, 'session_id', x.session_id,"
    " 'primary_username', x.primary_username, 'status', x.status,"
    " 'progress_percentage', COALESCE(x.progress_percentage, CASE WHEN x.ord = 0 THEN 100 ELSE 0"
    " END), 'submitted_at', x.submitted_at, 'started_at', x.started_processing_at,"
    " 'completed_at', x.completed_at, 'error_message', x.error_message,"
    " 'analysis_type', CASE WHEN x.ord = 0 THEN 'completed' ELSE 'active' END)"
    " FROM ((SELECT q.*, 0 AS ord FROM viral_ideas_queue q"
    "   WHERE q.primary_username IN ($1, $2) AND q.status = 'completed'"
    "   ORDER BY q.completed_at DESC NULLS LAST LIMIT 1)"
    "  UNION ALL (SELECT q.*, 1 AS ord FROM viral_ideas_queue q"
    "   WHERE q.primary_username IN ($1, $2) AND q.status IN ('pending', 'processing')"
    "   ORDER BY q.submitted_at DESC LIMIT 1)) x ORDER BY x.ord LIMIT 1";

static void check_existing_done(struct gw_req *r, PGresult *res)
{
	const char *data = first_value(res);
	if (!data) {
		gw_error(r->gw, r->req, 404, "No existing analysis found", NULL);
		return;
	}
	bool completed = strstr(data, "\"analysis_type\" : \"completed\"") ||
	                 strstr(data, "\"analysis_type\":\"completed\"");
	char *msg = xasprintf("Found existing %s analysis for @%s",
	                      completed ? "completed" : "active", r->param);
	gw_ok(r->gw, r->req, data, msg);
	free(msg);
}

static void h_check_existing(struct gw_req *r)
{
	/* Rows written by the original are exact; ours are normalised. A name
	 * that cannot be an account is a client error, as in the body. */
	char norm[64];
	if (!username_normalise(r->param, norm, sizeof norm)) {
		static const char *const loc[] = {"path", "username", NULL};
		gw_validation(r->gw, r->req, loc,
		              "Value error, not a valid Instagram username (1-30 letters, digits, "
		              "'.' or '_'; not only dots; not a reserved name)",
		              "value_error");
		return;
	}
	const char *p[2] = {r->param, norm};
	run_query(r, SQL_CHECK_EXISTING, 2, p, check_existing_done,
	          "Failed to check existing analysis");
}

/* ---- POST /api/viral-ideas/queue/{queue_id}/start --------------------------- */

static void start_done(struct gw_req *r, PGresult *res)
{
	const char *data = first_value(res);
	if (!data)
		gw_error(r->gw, r->req, 404, "Queue entry not found", NULL);
	else
		gw_ok(r->gw, r->req, data,
		      "Analysis queued successfully - processor will start shortly");
}

static void h_queue_start(struct gw_req *r)
{
	const char *p[1] = {r->param};
	run_query(r,
	          "SELECT json_build_object('queue_id', id, 'status', status)"
	          " FROM viral_ideas_queue WHERE id = $1::uuid",
	          1, p, start_done, "Failed to start analysis");
}

/* ---- GET /api/viral-ideas/queue-status ------------------------------------- */

static const char SQL_QUEUE_STATUS[] =
    "SELECT json_build_object('statistics', (SELECT json_build_object("
    "   'pending', count(*) FILTER (WHERE status = 'pending'),"
    "   'processing', count(*) FILTER (WHERE status = 'processing'),"
    "   'completed', count(*) FILTER (WHERE status = 'completed'),"
    "   'failed', count(*) FILTER (WHERE status = 'failed'),"
    "   'total', count(*) FILTER (WHERE status IN ('pending', 'processing', 'completed',"
    "     'failed'))) FROM viral_ideas_queue),"
    " 'recent_items', COALESCE((SELECT json_agg(json_build_object('id', q.id,"
    "   'primary_username', q.primary_username, 'status', q.status,"
    "   'progress_percentage', q.progress_percentage, 'current_step', q.current_step,"
    "   'submitted_at', q.submitted_at,"
    "   'content_type', q.content_strategy ->> 'contentType',"
    "   'target_audience', q.content_strategy ->> 'targetAudience',"
    "   'active_competitors_count', (SELECT count(*) FROM viral_ideas_competitors c"
    "     WHERE c.queue_id = q.id AND c.is_active)) ORDER BY q.submitted_at DESC)"
    "  FROM (SELECT * FROM viral_ideas_queue ORDER BY submitted_at DESC LIMIT 10) q),"
    "  '[]'::json))";

static void queue_status_done(struct gw_req *r, PGresult *res)
{
	const char *data = first_value(res);
	if (!data)
		fail_internal(r, "Failed to get queue status", "no row");
	else
		gw_ok(r->gw, r->req, data, NULL);
}

/*
 * Dashboards poll queue-status, often many at once. Requests that arrive
 * while its query runs wait for the next one, and that one query answers
 * them all: every answer is still a snapshot taken after its request
 * arrived, and a thousand pollers cost one query at a time.
 */
#define QS_WAITERS_MAX 4096
static struct {
	struct gw_req *waiting[QS_WAITERS_MAX], *running[QS_WAITERS_MAX];
	int nwaiting, nrunning;
} qs;

static void qs_start(struct gateway *gw);

static void qs_done(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	(void)pg;
	for (int i = 0; i < qs.nrunning; i++) {
		if (err)
			answer_query_error(qs.running[i], res, err, "Failed to get queue status");
		else
			queue_status_done(qs.running[i], res);
	}
	qs.nrunning = 0;
	if (qs.nwaiting)
		qs_start(arg);
}

static void qs_start(struct gateway *gw)
{
	struct pg *pg = gw_pg(gw);
	memcpy(qs.running, qs.waiting, sizeof qs.waiting[0] * (size_t)qs.nwaiting);
	qs.nrunning = qs.nwaiting;
	qs.nwaiting = 0;
	if (pg && pg_query(pg, SQL_QUEUE_STATUS, 0, NULL, qs_done, gw) == 0)
		return;
	for (int i = 0; i < qs.nrunning; i++) {
		gw->metrics.db_unavailable++;
		gw_error(gw, qs.running[i]->req, 503, "Database unavailable, retry shortly",
		         RETRY_DB);
	}
	qs.nrunning = 0;
}

static void h_queue_status(struct gw_req *r)
{
	if (qs.nwaiting == QS_WAITERS_MAX) {
		run_query(r, SQL_QUEUE_STATUS, 0, NULL, queue_status_done,
		          "Failed to get queue status");
		return;
	}
	qs.waiting[qs.nwaiting++] = r;
	if (qs.nrunning == 0)
		qs_start(r->gw);
}

/* ---- GET /api/viral-analysis/{queue_id}/results ---------------------------- */

/* The frontend reel item (SEED-SYSTEM 2.11) from content ct and profile pp. */
#define REEL_ITEM                                                                                 \
	"json_build_object('id', ct.content_id, 'reel_id', ct.content_id, 'content_id',"          \
	" ct.content_id, 'content_type', ct.content_type, 'shortcode', ct.shortcode, 'url', "     \
	"ct.url,"                                                                                 \
	" 'description', ct.description, 'title', ct.description,"                                \
	" 'thumbnail_url', COALESCE(ct.thumbnail_path, ct.display_url_path, ct.thumbnail_url),"   \
	" 'thumbnail_local', COALESCE(ct.thumbnail_path, ct.display_url_path, ct.thumbnail_url)," \
	" 'thumbnail', COALESCE(ct.thumbnail_path, ct.display_url_path, ct.thumbnail_url),"       \
	" 'view_count', ct.view_count, 'like_count', ct.like_count, 'comment_count',"             \
	" ct.comment_count, 'outlier_score', ct.outlier_score::float8, 'outlierScore',"           \
	" to_char(COALESCE(ct.outlier_score, 0), 'FM9999999990.0') || 'x',"                       \
	" 'date_posted', ct.date_posted, 'username', ct.username, 'profile', '@' || ct.username," \
	" 'profile_name', COALESCE(pp.profile_name, ct.username), 'bio', pp.bio,"                 \
	" 'profile_followers', pp.followers, 'followers', pp.followers,"                          \
	" 'profile_image_url', COALESCE(pp.profile_image_path, pp.profile_image_url),"            \
	" 'profileImage', COALESCE(pp.profile_image_path, pp.profile_image_url),"                 \
	" 'is_verified', COALESCE(pp.is_verified, FALSE), 'primary_category',"                    \
	" ct.primary_category, 'secondary_category', ct.secondary_category,"                      \
	" 'tertiary_category', ct.tertiary_category, 'keyword_1', ct.keyword_1, 'keyword_2',"     \
	" ct.keyword_2, 'keyword_3', ct.keyword_3, 'keyword_4', ct.keyword_4,"                    \
	" 'categorization_confidence', ct.categorization_confidence::float8, 'content_style',"    \
	" ct.content_style, 'views', viralsup_gw_count(ct.view_count), 'likes',"                  \
	" viralsup_gw_count(ct.like_count), 'comments', viralsup_gw_count(ct.comment_count))"

/* viralsup_gw_count(n), viralsup_gw_try_json(s) and viralsup_gw_json_text(j)
 * below are expanded into inline SQL by sql_expand: the schema belongs to
 * sql/, not to us. */
static const char SQL_RESULTS_TMPL[] =
    "WITH q AS (SELECT id, primary_username, status, started_processing_at"
    "   FROM viral_ideas_queue WHERE id = $1::uuid),"
    /* done: the newest completed run, whose results are shown; r: done, or
     * else the newest run of any status (only its status is shown). */
    " done AS (SELECT * FROM viral_analysis_results WHERE queue_id = $1::uuid"
    "   AND status = 'completed' ORDER BY analysis_run DESC LIMIT 1),"
    " r AS (SELECT * FROM done UNION ALL (SELECT * FROM viral_analysis_results"
    "   WHERE queue_id = $1::uuid AND NOT EXISTS (SELECT 1 FROM done)"
    "   ORDER BY analysis_run DESC LIMIT 1)),"
    " ad0 AS (SELECT CASE WHEN jsonb_typeof(analysis_data) = 'object' THEN analysis_data"
    "   WHEN jsonb_typeof(analysis_data) = 'string' THEN"
    "     COALESCE(viralsup_gw_try_json(analysis_data #>> '{}'), '{}'::jsonb)"
    "   ELSE '{}'::jsonb END AS d FROM done),"
    /* d: the engine's document; rows: the row documents stored in it
     * (010_stored_once.sql), or NULL for runs stored before. */
    " ad AS (SELECT CASE WHEN jsonb_typeof(d) = 'object' THEN d - 'viralsup_row_documents'"
    "   ELSE d END AS d, d -> 'viralsup_row_documents' AS rows FROM ad0),"
    " comp AS (SELECT competitor_username AS u FROM viral_ideas_competitors"
    "   WHERE queue_id = $1::uuid AND is_active)"
    " SELECT (SELECT count(*) FROM q), (SELECT count(*) FROM r),"
    " (SELECT json_build_object("
    /* Before any run row exists (our runs write theirs when they end), the
     * job's own state stands in: the original showed its run as pending. */
    "  'analysis', json_build_object('id', r.id, 'status', COALESCE(r.status,"
    "    CASE WHEN q.status = 'failed' THEN 'failed' ELSE 'pending' END), 'workflow_version',"
    "    r.workflow_version, 'started_at', COALESCE(r.started_at, q.started_processing_at),"
    "    'analysis_completed_at', r.analysis_completed_at, 'total_reels_analyzed',"
    "    COALESCE(r.total_reels_analyzed, 0), 'primary_reels_count',"
    "    COALESCE(r.primary_reels_count, 0), 'competitor_reels_count',"
    "    COALESCE(r.competitor_reels_count, 0), 'transcripts_fetched',"
    "    COALESCE(r.transcripts_fetched, 0)),"
    /* Always an object: the original's defaults when no profile row exists. */
    "  'primary_profile', (SELECT json_build_object('username', q.primary_username,"
    "    'profile_name', CASE WHEN p.username IS NULL THEN '' ELSE p.profile_name END,"
    "    'bio', CASE WHEN p.username IS NULL THEN '' ELSE p.bio END,"
    "    'followers', CASE WHEN p.username IS NULL THEN 0 ELSE p.followers END,"
    "    'posts_count', CASE WHEN p.username IS NULL THEN 0 ELSE p.posts_count END,"
    "    'is_verified', CASE WHEN p.username IS NULL THEN FALSE ELSE p.is_verified END,"
    "    'profile_image_url', COALESCE(p.profile_image_path, p.profile_image_url),"
    "    'profile_image_path', p.profile_image_path,"
    "    'account_type', COALESCE(p.account_type::text, 'Personal'),"
    "    'total_reels', CASE WHEN p.username IS NULL THEN 0 ELSE p.total_reels END,"
    "    'median_views', CASE WHEN p.username IS NULL THEN 0 ELSE p.median_views END,"
    "    'total_views', CASE WHEN p.username IS NULL THEN 0 ELSE p.total_views END,"
    "    'total_likes', CASE WHEN p.username IS NULL THEN 0 ELSE p.total_likes END,"
    "    'total_comments', CASE WHEN p.username IS NULL THEN 0 ELSE p.total_comments END)"
    "    FROM (SELECT 1) one LEFT JOIN primary_profiles p"
    "    ON p.username = q.primary_username),"
    /* A reel's metadata m (010) and ha, the hook analysis its row repeated
     * when the row documents' "hooks" name it (012), as in the view
     * viral_analysis_reels_full. */
    "  'analyzed_reels', COALESCE((SELECT json_agg(json_build_object('content_id',"
    "    a.content_id, 'reel_type', a.reel_type, 'username', a.username, 'rank_in_selection',"
    "    a.rank_in_selection, 'view_count_at_analysis', a.view_count_at_analysis,"
    "    'like_count_at_analysis', a.like_count_at_analysis, 'comment_count_at_analysis',"
    "    a.comment_count_at_analysis, 'transcript_completed', a.transcript_completed,"
    "    'hook_text', COALESCE(a.hook_text, ha ->> 'hook_text'), 'power_words',"
    "    COALESCE(a.power_words, ha -> 'power_words'), 'analysis_metadata',"
    "    COALESCE(a.analysis_metadata, CASE WHEN ha IS NULL THEN m"
    "    ELSE m || jsonb_build_object('hook_analysis', ha) END))"
    "    ORDER BY a.reel_type, a.rank_in_selection)"
    "    FROM viral_analysis_reels a"
    "    CROSS JOIN LATERAL (SELECT (SELECT rows FROM ad) -> 'reels' -> a.content_id AS m) rm"
    "    CROSS JOIN LATERAL (SELECT (SELECT d FROM ad) -> 'individual_reel_analyses'"
    "    -> (((SELECT rows FROM ad) -> 'hooks' ->> a.content_id)::int) -> 'hook_analysis' AS ha) rh"
    "    WHERE a.analysis_id = (SELECT id FROM done)), '[]'::json),"
    "  'primary_user_reels', COALESCE((SELECT json_agg(" REEL_ITEM " ORDER BY ct.view_count"
    "    DESC NULLS LAST) FROM (SELECT c.* FROM content c, q WHERE c.username ="
    "    q.primary_username ORDER BY c.view_count DESC NULLS LAST LIMIT 50) ct"
    "    LEFT JOIN primary_profiles pp ON pp.username = ct.username), '[]'::json),"
    "  'competitor_reels', COALESCE((SELECT json_agg(" REEL_ITEM " ORDER BY ct.outlier_score"
    "    DESC NULLS LAST) FROM (SELECT c.* FROM content c WHERE c.username IN (SELECT u FROM"
    "    comp) ORDER BY c.outlier_score DESC NULLS LAST LIMIT 100) ct"
    "    LEFT JOIN primary_profiles pp ON pp.username = ct.username), '[]'::json),"
    "  'competitor_profiles', COALESCE((SELECT json_agg(json_build_object('username',"
    "    pp.username, 'profile_name', pp.profile_name, 'followers', pp.followers,"
    "    'profile_image_url', COALESCE(pp.profile_image_path, pp.profile_image_url),"
    "    'profile_image_path', pp.profile_image_path, 'is_verified', pp.is_verified,"
    "    'account_type', pp.account_type) ORDER BY ct.outlier_score DESC NULLS LAST)"
    "    FROM (SELECT c.* FROM content c WHERE c.username IN (SELECT u FROM comp)"
    "    ORDER BY c.outlier_score DESC NULLS LAST LIMIT 100) ct"
    "    JOIN primary_profiles pp ON pp.username = ct.username), '[]'::json),"
    /* A script's row document (010) e, and cs, the complete_scripts entry
     * whose text the row repeated when e says which (012): a non-NULL
     * column wins, as in the view viral_scripts_full. */
    "  'viral_scripts_table', COALESCE((SELECT json_agg(json_build_object('id', s.id,"
    "    'script_title', COALESCE(s.script_title, cs -> 'script' ->> 'title'),"
    "    'script_content', COALESCE(s.script_content, cs -> 'script' ->> 'full_script'),"
    "    'script_type', s.script_type, 'estimated_duration', COALESCE(s.estimated_duration,"
    "    (cs -> 'script' ->> 'estimated_duration')::int), 'target_audience',"
    "    COALESCE(s.target_audience, cs -> 'adaptation_context' ->> 'target_audience'),"
    "    'primary_hook', COALESCE(s.primary_hook, cs ->> 'source_hook'), 'call_to_action',"
    "    COALESCE(s.call_to_action, cs -> 'script' -> 'structure_breakdown' ->> 'cta_section'),"
    "    'source_reels', viralsup_gw_json_text(COALESCE(s.source_reels, e -> 'source_reels')),"
    "    'script_structure', viralsup_gw_json_text(COALESCE(s.script_structure,"
    "    e -> 'script_structure', cs -> 'script' -> 'structure_breakdown')),"
    "    'status', s.status)"
    "    ORDER BY s.created_at DESC)"
    "    FROM viral_scripts s"
    "    CROSS JOIN LATERAL (SELECT (SELECT rows FROM ad) -> 'scripts' -> s.id::text AS e) se"
    "    CROSS JOIN LATERAL (SELECT (SELECT d FROM ad) -> 'complete_scripts'"
    "    -> ((e ->> 'n')::int) AS cs) sc"
    "    WHERE s.analysis_id = (SELECT id FROM done)), '[]'::json),"
    "  'analysis_data', COALESCE(ad.d, '{}'::jsonb),"
    "  'viral_ideas', COALESCE((SELECT json_agg(json_build_object('id', 'hook_' || (h.i - 1),"
    "    'idea_text', h.v -> 'hook_text', 'explanation', h.v -> 'adaptation_strategy',"
    "    'confidence_score', COALESCE(h.v -> 'effectiveness_score', '0'::jsonb),"
    "    'power_words', h.v -> 'psychological_triggers') ORDER BY h.i)"
    "    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(ad.d -> 'generated_hooks') ="
    "    'array' THEN ad.d -> 'generated_hooks' ELSE '[]'::jsonb END)"
    "    WITH ORDINALITY AS h(v, i)), '[]'::json),"
    "  'profile_analysis', COALESCE(ad.d -> 'profile_analysis', '{}'::jsonb),"
    "  'generated_hooks', COALESCE(ad.d -> 'generated_hooks', '[]'::jsonb),"
    "  'individual_reel_analyses', COALESCE(ad.d -> 'individual_reel_analyses', '[]'::jsonb),"
    "  'complete_scripts', COALESCE(ad.d -> 'complete_scripts', '[]'::jsonb),"
    "  'scripts_summary', COALESCE(ad.d -> 'scripts_summary', '[]'::jsonb),"
    "  'analysis_summary', COALESCE(ad.d -> 'analysis_summary', '{}'::jsonb))"
    " FROM q LEFT JOIN r ON TRUE LEFT JOIN ad ON TRUE)";

static char *sql_results;

/* Substitutes the helper names in the template with inline SQL. */
static char *sql_expand(const char *tmpl)
{
	size_t cap = strlen(tmpl) * 2 + 4096;
	char *out = xmalloc(cap);
	size_t o = 0;
	const char *p = tmpl;
	while (*p) {
		const char *a = strstr(p, "viralsup_gw_count(");
		const char *b = strstr(p, "viralsup_gw_try_json(");
		const char *t = strstr(p, "viralsup_gw_json_text(");
		const char *m = a && (!b || a < b) ? a : b;
		if (t && (!m || t < m))
			m = t;
		if (!m) {
			size_t n = strlen(p);
			while (o + n + 1 > cap)
				out = xrealloc(out, cap *= 2);
			memcpy(out + o, p, n + 1);
			o += n;
			break;
		}
		size_t pre = (size_t)(m - p);
		const char *arg = strchr(m, '(') + 1;
		/* The argument: up to the matching parenthesis. */
		int depth = 1;
		const char *e = arg;
		while (*e && depth) {
			if (*e == '(')
				depth++;
			else if (*e == ')')
				depth--;
			e++;
		}
		char *argtxt = xstrndup(arg, (size_t)(e - 1 - arg));
		char *rep;
		if (m == a) {
			rep = xasprintf("(CASE WHEN %s >= 1000000 THEN to_char(%s / 1000000.0, "
			                "'FM999999990.0') || 'M' WHEN %s >= 1000 THEN round(%s / "
			                "1000.0)::text || 'K' ELSE COALESCE(%s, 0)::text END)",
			                argtxt, argtxt, argtxt, argtxt, argtxt);
		} else if (m == t) {
			/* The original's wire form of a JSONB document: a JSON string
			 * holding its text (a string already stored so stays as is). */
			rep = xasprintf("(CASE WHEN jsonb_typeof(%s) = 'string' THEN %s "
			                "ELSE to_jsonb((%s)::text) END)",
			                argtxt, argtxt, argtxt);
		} else {
			/* A JSON-encoded string column: decode it when it parses. */
			rep = xasprintf("(CASE WHEN left(ltrim(%s), 1) IN ('{', '[') THEN "
			                "(%s)::jsonb END)",
			                argtxt, argtxt);
		}
		size_t need = o + pre + strlen(rep) + 1;
		while (need > cap)
			out = xrealloc(out, cap *= 2);
		memcpy(out + o, p, pre);
		o += pre;
		memcpy(out + o, rep, strlen(rep));
		o += strlen(rep);
		out[o] = '\0';
		free(rep);
		free(argtxt);
		p = e;
	}
	return out;
}

static void results_done(struct gw_req *r, PGresult *res)
{
	if (PQntuples(res) < 1 || !strcmp(PQgetvalue(res, 0, 0), "0")) {
		gw_error(r->gw, r->req, 404, "Queue not found", NULL);
		return;
	}
	if (PQgetisnull(res, 0, 2)) {
		fail_internal(r, "Failed to get analysis results", "no document");
		return;
	}
	gw_ok(r->gw, r->req, PQgetvalue(res, 0, 2), NULL);
}

static void h_results(struct gw_req *r)
{
	if (!sql_results)
		sql_results = sql_expand(SQL_RESULTS_TMPL);
	const char *p[1] = {r->param};
	run_query(r, sql_results, 1, p, results_done, "Failed to get analysis results");
}

/* ---- GET /api/viral-analysis/{queue_id}/content ---------------------------- */

static const char SQL_CONTENT[] =
    "WITH q AS (SELECT id, primary_username FROM viral_ideas_queue WHERE id = $1::uuid),"
    " comp AS (SELECT competitor_username AS u FROM viral_ideas_competitors"
    "   WHERE queue_id = $1::uuid AND is_active),"
    " page AS (SELECT c.content_id, c.shortcode, c.url, c.description, c.view_count,"
    "   c.like_count, c.comment_count, c.date_posted, c.username,"
    "   c.outlier_score::float8 AS outlier_score, c.transcript, c.transcript_language,"
    "   c.transcript_available,"
    "   CASE WHEN c.username = q.primary_username THEN 'primary' ELSE 'competitor' END"
    "   AS reel_type"
    "   FROM content c, q"
    "   WHERE ($2 = 'primary' AND c.username = q.primary_username)"
    "      OR ($2 = 'competitor' AND c.username IN (SELECT u FROM comp))"
    "      OR ($2 = 'all' AND (c.username = q.primary_username"
    "          OR c.username IN (SELECT u FROM comp)))"
    "   ORDER BY CASE WHEN $2 = 'primary' THEN c.view_count::float8"
    "     ELSE c.outlier_score::float8 END DESC NULLS LAST, c.content_id"
    "   LIMIT $3::int OFFSET $4::int)"
    " SELECT (SELECT count(*) FROM q),"
    "  (SELECT count(*) FROM viral_analysis_results WHERE queue_id = $1::uuid),"
    "  (SELECT count(*) FROM comp),"
    "  json_build_object('reels', COALESCE((SELECT json_agg(page) FROM page), '[]'::json),"
    "   'total_count', (SELECT count(*) FROM page),"
    "   'has_more', (SELECT count(*) FROM page) = $3::int,"
    "   'primary_username', (SELECT primary_username FROM q))";

static void content_done(struct gw_req *r, PGresult *res)
{
	if (PQntuples(res) < 1 || !strcmp(PQgetvalue(res, 0, 0), "0")) {
		gw_error(r->gw, r->req, 404, "Queue not found", NULL);
		return;
	}
	/* No "Analysis not found" before a run has a row: our runs write theirs
	 * when they end, and the original's page for a running job was 200. */
	if (!strcmp(r->aux, "competitor") && !strcmp(PQgetvalue(res, 0, 2), "0")) {
		/* As the original: an empty page without primary_username. */
		gw_ok(r->gw, r->req, "{\"reels\":[],\"total_count\":0,\"has_more\":false}", NULL);
		return;
	}
	gw_ok(r->gw, r->req, PQgetvalue(res, 0, 3), NULL);
}

/* An integer query parameter in [lo, hi]; 0 ok, -1 answered 422. */
static int query_int(struct gw_req *r, json_t *errs, const char *name, long def, long lo, long hi,
                     long *out)
{
	char v[64];
	int rc = query_get(r->req->query, name, v, sizeof v);
	*out = def;
	if (rc == 0)
		return 0;
	char *end;
	long n = rc > 0 ? strtol(v, &end, 10) : 0;
	if (rc < 0 || !*v || *end) {
		verr_add(errs,
		         "Input should be a valid integer, unable to parse string as an integer",
		         "int_parsing", "query", name, NULL);
		return -1;
	}
	if (n < lo) {
		char *msg = xasprintf("Input should be greater than or equal to %ld", lo);
		verr_add(errs, msg, "greater_than_equal", "query", name, NULL);
		free(msg);
		return -1;
	}
	if (n > hi) {
		char *msg = xasprintf("Input should be less than or equal to %ld", hi);
		verr_add(errs, msg, "less_than_equal", "query", name, NULL);
		free(msg);
		return -1;
	}
	*out = n;
	return 0;
}

static void h_content(struct gw_req *r)
{
	json_t *errs = json_array();
	char ctype[32] = "all";
	int rc = query_get(r->req->query, "content_type", ctype, sizeof ctype);
	if (rc < 0 || (rc > 0 && strcmp(ctype, "all") && strcmp(ctype, "primary") &&
	               strcmp(ctype, "competitor")))
		verr_add(errs, "Input should be 'all', 'primary' or 'competitor'", "literal_error",
		         "query", "content_type", NULL);
	long limit, offset;
	query_int(r, errs, "limit", 100, 1, 200, &limit);
	query_int(r, errs, "offset", 0, 0, 1000000000, &offset);
	if (json_array_size(errs) > 0) {
		gw_validation_list(r->gw, r->req, errs);
		return;
	}
	json_decref(errs);
	strlcpy(r->aux, ctype, sizeof r->aux);
	char ls[24], os[24];
	snprintf(ls, sizeof ls, "%ld", limit);
	snprintf(os, sizeof os, "%ld", offset);
	const char *p[4] = {r->param, ctype, ls, os};
	run_query(r, SQL_CONTENT, 4, p, content_done, "Failed to get analysis content");
}

/* ---- actions: messages to the scheduler ------------------------------------- */

static const char *action_message(int route, const char *status)
{
	if (route == GW_ROUTE_PROCESS_PENDING) {
		if (!strcmp(status, "no_jobs_pending"))
			return "No pending viral ideas queue items to process";
		if (!strcmp(status, "already_processing"))
			return "A batch is already processing; new pending items join it";
		return "Processing of pending viral ideas queue items started";
	}
	if (route == GW_ROUTE_QUEUE_PROCESS) {
		if (!strcmp(status, "already_processing"))
			return "Viral ideas processing is already running for this item";
		return "Viral ideas processing started in background";
	}
	if (route == GW_ROUTE_QUEUE_CANCEL)
		return "Queue item cancelled";
	return "Queue item queued for retry";
}

static void on_action_reply(struct conn *c, const struct msg *reply, int err, void *arg)
{
	(void)c;
	struct gw_req *r = arg;
	struct gateway *gw = r->gw;
	if (err) {
		log_warn("scheduler %s for %s request_id=%s",
		         err == -ETIMEDOUT ? "timed out" : "connection lost", r->req->path,
		         r->req->request_id);
		gw->metrics.sched_unavailable++;
		gw_error(gw, r->req, 503, "Scheduler unavailable, retry shortly", RETRY_SCHED);
		return;
	}
	if (reply->type == MSG_ERROR) {
		char code[64] = "", detail[512] = "";
		msg_copy_str(reply->body, "code", code, sizeof code);
		msg_copy_str(reply->body, "detail", detail, sizeof detail);
		if (!strcmp(code, "not_found"))
			gw_error(gw, r->req, 404, "Queue entry not found", NULL);
		else if (!strcmp(code, "conflict"))
			gw_error(gw, r->req, 409,
			         *detail ? detail : "Conflict with the job's state", NULL);
		else if (!strcmp(code, "unavailable"))
			gw_error(gw, r->req, 503, "Scheduler unavailable, retry shortly",
			         RETRY_SCHED);
		else
			fail_internal(r, "Failed to start processing", *detail ? detail : code);
		return;
	}
	if (reply->type != MSG_REPLY) {
		fail_internal(r, "Failed to start processing", msg_type_name(reply->type));
		return;
	}
	json_t *data = msg_to_json(reply->body);
	char *msg = NULL;
	json_t *m = json_object_get(data, "message");
	if (json_is_string(m))
		msg = xstrdup(json_string_value(m));
	json_object_del(data, "message");
	if (r->route != GW_ROUTE_PROCESS_PENDING && !json_object_get(data, "queue_id"))
		json_object_set_new(data, "queue_id", json_string(r->param));
	const char *status = json_string_value(json_object_get(data, "status"));
	char *text = json_dumps(data, JSON_COMPACT);
	gw_ok(gw, r->req, text, msg ? msg : action_message(r->route, status ? status : ""));
	free(text);
	free(msg);
	json_decref(data);
}

static void h_action(struct gw_req *r)
{
	struct gateway *gw = r->gw;
	struct conn *c = gw->sched ? link_conn(gw->sched) : NULL;
	if (!c) {
		gw->metrics.sched_unavailable++;
		gw_error(gw, r->req, 503, "Scheduler unavailable, retry shortly", RETRY_SCHED);
		return;
	}
	struct msg_out out;
	enum msg_type t = r->route == GW_ROUTE_PROCESS_PENDING ? MSG_BATCH_TRIGGER
	                  : r->route == GW_ROUTE_QUEUE_PROCESS ? MSG_JOB_PROCESS
	                  : r->route == GW_ROUTE_QUEUE_CANCEL  ? MSG_JOB_CANCEL
	                                                       : MSG_JOB_RETRY;
	if (t == MSG_BATCH_TRIGGER) {
		msg_out_init(&out, t, 0, 3);
	} else {
		msg_out_init(&out, t, 0, 4);
		msg_put_str(&out, "job_id", r->param);
	}
	msg_put_str(&out, "source", "http");
	msg_put_str(&out, "requested_by", r->client);
	msg_put_str(&out, "request_id", r->req->request_id);
	int rc = conn_request(c, &out, gw->action_timeout, on_action_reply, r);
	msg_out_free(&out);
	if (rc < 0) {
		gw->metrics.sched_unavailable++;
		gw_error(gw, r->req, 503, "Scheduler unavailable, retry shortly", RETRY_SCHED);
	}
}

/* ---- shared with admin.c (gateway.h) ---------------------------------------- */

void gw_query(struct gw_req *r, const char *sql, int n, const char *const *params, gw_row_fn fn,
              const char *fail_detail)
{
	run_query(r, sql, n, params, fn, fail_detail);
}

int gw_query_param(const char *query, const char *name, char *dst, size_t dstlen)
{
	return query_get(query, name, dst, dstlen);
}

int gw_query_int(struct gw_req *r, json_t *errs, const char *name, long def, long lo, long hi,
                 long *out)
{
	return query_int(r, errs, name, def, lo, hi, out);
}

void gw_fail_internal(struct gw_req *r, const char *detail, const char *why)
{
	fail_internal(r, detail, why);
}

/* ---- the router ----------------------------------------------------------- */

static const char *allow_header(int methods)
{
	return methods == M_GET    ? "Allow: GET\r\n"
	       : methods == M_POST ? "Allow: POST\r\n"
	                           : "Allow: GET, POST\r\n";
}

void routes_handle(struct http_request *req, void *ud)
{
	struct gateway *gw = ud;
	struct gw_req *r = xcalloc(1, sizeof *r);
	r->gw = gw;
	r->req = req;
	r->route = GW_ROUTE_UNMATCHED;
	req->app = r;
	edge_client(gw, r);
	if (edge_preflight(gw, req))
		return;

	/* Split the path into at most 8 segments (raw, still encoded). */
	const char *segs[8];
	size_t lens[8];
	int nseg = 0;
	const char *p = req->path;
	if (*p != '/') {
		gw_error(gw, req, 400, "Malformed request target", NULL);
		return;
	}
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, "/");
		if (nseg == 8) {
			nseg = 9;
			break;
		}
		segs[nseg] = p;
		lens[nseg++] = n;
		p += n;
	}

	int method = req->method == HTTP_GET ? M_GET : req->method == HTTP_POST ? M_POST : 0;
	int allowed = 0;
	const struct route *hit = NULL;
	int param_seg = -1;
	for (size_t i = 0; i < NROUTES && nseg <= 8; i++) {
		const struct route *rt = &routes[i];
		int n = 0, ps = -1;
		bool match = true;
		while (n < 6 && rt->segs[n]) {
			if (n >= nseg) {
				match = false;
				break;
			}
			if (!strcmp(rt->segs[n], "{}"))
				ps = n;
			else if (strlen(rt->segs[n]) != lens[n] ||
			         strncmp(rt->segs[n], segs[n], lens[n]))
				match = false;
			n++;
		}
		if (!match || n != nseg)
			continue;
		allowed |= rt->methods;
		if (rt->methods & method) {
			hit = rt;
			param_seg = ps;
		}
	}
	if (!hit) {
		if (allowed) {
			r->route = GW_ROUTE_UNMATCHED;
			gw_error(gw, req, 405, "Method Not Allowed", allow_header(allowed));
		} else {
			gw_error(gw, req, 404, "Not Found", NULL);
		}
		return;
	}
	r->route = (int)hit->id;
	if (param_seg >= 0 &&
	    pct_decode(segs[param_seg], lens[param_seg], r->param, sizeof r->param) < 0) {
		gw_error(gw, req, 400, "Malformed path parameter", NULL);
		return;
	}
	bool uuid_param = hit->id == GW_ROUTE_QUEUE_START || hit->id == GW_ROUTE_QUEUE_PROCESS ||
	                  hit->id == GW_ROUTE_QUEUE_CANCEL || hit->id == GW_ROUTE_QUEUE_RETRY ||
	                  hit->id == GW_ROUTE_RESULTS || hit->id == GW_ROUTE_CONTENT ||
	                  hit->id == GW_ROUTE_ADMIN_JOB;
	/* Before authentication: a cross-site form is refused whoever sent
	 * it, and its junk never counts as a failed token. */
	if (method == M_POST && !edge_json_only(gw, req, hit->id == GW_ROUTE_QUEUE_CREATE))
		return;
	if (hit->admin) {
		if (auth_admin(gw, r) < 0)
			return;
	} else if (hit->id != GW_ROUTE_HEALTHZ && hit->id != GW_ROUTE_READYZ &&
	           hit->id != GW_ROUTE_HEALTH && hit->id != GW_ROUTE_METRICS &&
	           hit->id != GW_ROUTE_ADMIN_PAGE && hit->id != GW_ROUTE_ADMIN_ASSET) {
		if (auth_api(gw, r) < 0)
			return;
	}
	if (uuid_param && !uuid_valid(r->param)) {
		gw_error(gw, req, 400, "Invalid queue_id: not a UUID", NULL);
		return;
	}
	hit->fn(r);
}
