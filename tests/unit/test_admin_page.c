/*
 * The operations page (issue 15): its files, its admin JSON endpoints over
 * real HTTP against the whole stack (real PostgreSQL, the real supervisor
 * answering the gateway's status request), and a real browser: Debian's
 * headless chromium driven by tests/browser/admin_page.js over the
 * DevTools protocol, against a batch that is running.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/stack.h"

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	char *s = NULL;
	if (vasprintf(&s, f, ap) < 0)
		FAIL("vasprintf");
	va_end(ap);
	return s;
}

struct answer {
	long status;
	char *body, *head;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	return fwrite(p, sz, n, ud);
}

/* GET (or method) base+path with extra header lines (NULL-terminated, may
 * be NULL); the head and the body of the answer. */
static struct answer http(struct stack *s, const char *method, const char *path,
                          const char *const *headers)
{
	struct answer a = {0};
	size_t bl = 0, hl = 0;
	FILE *b = open_memstream(&a.body, &bl), *h = open_memstream(&a.head, &hl);
	char *url = fmt("%s%s", s->url, path);
	struct curl_slist *hs = NULL;
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	for (int i = 0; headers && headers[i]; i++)
		hs = curl_slist_append(hs, headers[i]);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
	CURLcode rc = curl_easy_perform(c);
	fclose(b);
	fclose(h);
	if (rc != CURLE_OK)
		FAIL("%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
	curl_easy_cleanup(c);
	curl_slist_free_all(hs);
	free(url);
	return a;
}

static const char *const ADMIN[] = {"Authorization: Bearer " STACK_ADMIN_TOKEN, NULL};

/* The "data" of a 200 admin answer, parsed (caller decrefs). */
static json_t *admin_data(struct stack *s, const char *path)
{
	struct answer a = http(s, "GET", path, ADMIN);
	if (a.status != 200)
		FAIL("GET %s: %ld %s", path, a.status, a.body);
	json_error_t e;
	json_t *root = json_loads(a.body, 0, &e);
	if (!root || !json_is_true(json_object_get(root, "success")))
		FAIL("GET %s: not a success envelope: %s", path, a.body);
	json_t *d = json_incref(json_object_get(root, "data"));
	json_decref(root);
	free(a.body);
	free(a.head);
	return d;
}

/* The value of header name (lower-case) in head, malloc'd, or NULL. */
static char *header(const char *head, const char *name)
{
	for (const char *p = head; p && *p;) {
		const char *eol = strstr(p, "\r\n");
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		size_t nl = strlen(name);
		if (len > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			return strndup(v, (size_t)(p + len - v));
		}
		p = eol ? eol + 2 : NULL;
	}
	return NULL;
}

static long long jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_integer(v))
		FAIL("\"%s\" is not an integer", k);
	return json_integer_value(v);
}

static const char *const DATA_PATHS[] = {
    "/admin/api/summary", "/admin/api/actors", "/admin/api/jobs",
    "/admin/api/jobs/00000000-0000-4000-8000-000000000000", NULL};

TEST(page_is_served_without_a_token_under_a_strict_csp_and_revalidates)
{
	struct stack s;
	stack_init(&s);
	stack_start(&s);
	struct answer a = http(&s, "GET", "/admin/", NULL);
	ASSERT_EQ_INT(a.status, 200);
	char *ct = header(a.head, "content-type");
	ASSERT_CONTAINS(ct, "text/html");
	char *csp = header(a.head, "content-security-policy");
	ASSERT_CONTAINS(csp, "default-src 'none'");
	ASSERT_CONTAINS(csp, "script-src 'self'");
	ASSERT_CONTAINS(csp, "frame-ancestors 'none'");
	ASSERT_CONTAINS(a.body, "<script src=\"/admin/app.js\"");
	/* Nothing from elsewhere: no scheme-qualified address in the page. */
	ASSERT(!strstr(a.body, "http://") && !strstr(a.body, "https://"));
	char *etag = header(a.head, "etag");
	ASSERT(etag && *etag == '"');
	char *inm = fmt("If-None-Match: %s", etag);
	const char *const h304[] = {inm, NULL};
	struct answer again = http(&s, "GET", "/admin/", h304);
	ASSERT_EQ_INT(again.status, 304);
	ASSERT_EQ_INT(strlen(again.body), 0);

	struct answer js = http(&s, "GET", "/admin/app.js", NULL);
	ASSERT_EQ_INT(js.status, 200);
	ASSERT_CONTAINS(header(js.head, "content-type"), "text/javascript");
	ASSERT_CONTAINS(js.body, "Authorization");
	struct answer css = http(&s, "GET", "/admin/app.css", NULL);
	ASSERT_EQ_INT(css.status, 200);
	ASSERT_CONTAINS(css.body, "prefers-color-scheme: dark");
	ASSERT_EQ_INT(http(&s, "GET", "/admin/missing.js", NULL).status, 404);
	ASSERT_EQ_INT(http(&s, "POST", "/admin/", NULL).status, 405);
	stack_stop(&s);
}

TEST(data_endpoints_401_without_token_403_with_a_wrong_one_and_ignore_tokens_in_urls)
{
	struct stack s;
	stack_init(&s);
	stack_start(&s);
	const char *const wrong[] = {"Authorization: Bearer not-the-admin-token", NULL};
	for (int i = 0; DATA_PATHS[i]; i++) {
		struct answer a = http(&s, "GET", DATA_PATHS[i], NULL);
		if (a.status != 401)
			FAIL("%s without a token: %ld", DATA_PATHS[i], a.status);
		ASSERT_CONTAINS(header(a.head, "www-authenticate"), "Bearer");
		a = http(&s, "GET", DATA_PATHS[i], wrong);
		if (a.status != 403)
			FAIL("%s with a wrong token: %ld", DATA_PATHS[i], a.status);
		/* A token in the query string is no token: only the header counts. */
		char *q = fmt("%s?token=%s&access_token=%s", DATA_PATHS[i], STACK_ADMIN_TOKEN,
		              STACK_ADMIN_TOKEN);
		a = http(&s, "GET", q, NULL);
		if (a.status != 401)
			FAIL("%s with the token in the URL: %ld", q, a.status);
		free(q);
	}
	/* The wrong tries were counted as failed authentications (auth.c). */
	char *metrics = NULL;
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/metrics", NULL, false, &metrics), 200);
	ASSERT_CONTAINS(metrics, "route=\"/admin/api/summary\",status=\"403\"");
	stack_stop(&s);
}

TEST(page_and_data_answer_503_with_the_reason_without_an_admin_token)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "ADMIN_API_TOKEN=");
	stack_start(&s);
	struct answer a = http(&s, "GET", "/admin/", NULL);
	ASSERT_EQ_INT(a.status, 503);
	ASSERT_CONTAINS(a.body, "ADMIN_API_TOKEN");
	ASSERT_EQ_INT(http(&s, "GET", "/admin/app.js", NULL).status, 503);
	for (int i = 0; DATA_PATHS[i]; i++)
		ASSERT_EQ_INT(http(&s, "GET", DATA_PATHS[i], ADMIN).status, 503);
	stack_stop(&s);
}

/* Jobs in every state written as another client would, through updates so
 * that job_events (the trigger) has their transitions. The pending ones are
 * not due for an hour: the scheduler resumes the open batch at start and
 * must not run them. */
static void seed_jobs(struct stack *s)
{
	sql_exec(s,
	         "INSERT INTO viral_ideas_queue (session_id, primary_username, status, priority,"
	         " next_attempt_at) SELECT 'seed-' || i, 'acct' || i, 'pending', 5,"
	         " now() + interval '1 hour' FROM generate_series(1, 9) i",
	         NULL);
	sql_exec(s,
	         "UPDATE viral_ideas_queue SET status = 'completed', progress_percentage = 100,"
	         " completed_at = now() WHERE session_id IN ('seed-1', 'seed-2', 'seed-3')",
	         NULL);
	sql_exec(s,
	         "UPDATE viral_ideas_queue SET status = 'failed', last_error = 'profile not found'"
	         " WHERE session_id IN ('seed-4', 'seed-5')",
	         NULL);
	sql_exec(s, "UPDATE viral_ideas_queue SET status = 'paused' WHERE session_id = 'seed-6'",
	         NULL);
	sql_exec(s,
	         "INSERT INTO batches (trigger_source, requested_by, total_jobs, completed_jobs,"
	         " failed_jobs, started_at) VALUES ('api', 'test', 10, 3, 2,"
	         " now() - interval '100 seconds')",
	         NULL);
}

TEST(summary_counts_trend_and_open_batch_match_the_database)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	seed_jobs(&s);
	stack_start(&s);
	json_t *d = admin_data(&s, "/admin/api/summary");
	json_t *c = json_object_get(d, "counts");
	const char *st[] = {"pending", "processing", "completed", "failed", "paused"};
	for (int i = 0; i < 5; i++) {
		long long db = sql_int(
		    &s, "SELECT count(*) FROM viral_ideas_queue WHERE status = $1", st[i], NULL);
		if (jint(c, st[i]) != db)
			FAIL("%s: summary %lld, database %lld", st[i], jint(c, st[i]), db);
	}
	ASSERT_EQ_INT(jint(c, "pending"), 3);
	ASSERT_EQ_INT(jint(d, "queue_depth"), 3);
	json_t *series = json_object_get(d, "series");
	ASSERT_EQ_INT(json_array_size(series), 60);
	long long done = 0, failed = 0;
	size_t i;
	json_t *p;
	json_array_foreach(series, i, p)
	{
		done += jint(p, "completed");
		failed += jint(p, "failed");
	}
	ASSERT_EQ_INT(done, 3);
	ASSERT_EQ_INT(failed, 2);
	ASSERT_EQ_INT(jint(json_object_get(d, "last_hour"), "completed"), 3);
	/* The depth now is the queue's: 9 jobs entered pending, 6 left. */
	ASSERT_EQ_INT(jint(json_array_get(series, 59), "depth"), 3);
	json_t *b = json_object_get(d, "batch");
	ASSERT(json_is_object(b));
	ASSERT_EQ_INT(jint(b, "total_jobs"), 10);
	/* 5 of 10 done in ~100 s: 5 left at that rate is ~100 s. */
	double pct = json_number_value(json_object_get(b, "progress_pct"));
	double eta = json_number_value(json_object_get(b, "eta_s"));
	ASSERT(pct == 50.0);
	ASSERT_CMP_INT((long long)eta, >=, 99);
	ASSERT_CMP_INT((long long)eta, <=, 115);
	json_t *g = json_object_get(d, "gateway");
	ASSERT(json_is_true(json_object_get(g, "database")));
	json_decref(d);
	stack_stop(&s);
}

TEST(an_unchanged_answer_is_a_304_and_a_change_gives_a_new_etag)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	seed_jobs(&s);
	stack_start(&s);
	struct answer a = http(&s, "GET", "/admin/api/jobs?status=failed", ADMIN);
	ASSERT_EQ_INT(a.status, 200);
	char *etag = header(a.head, "etag");
	ASSERT(etag);
	ASSERT_CONTAINS(header(a.head, "cache-control"), "no-store");
	char *inm = fmt("If-None-Match: %s", etag);
	const char *const h[] = {ADMIN[0], inm, NULL};
	struct answer same = http(&s, "GET", "/admin/api/jobs?status=failed", h);
	ASSERT_EQ_INT(same.status, 304);
	ASSERT_EQ_INT(strlen(same.body), 0);
	ASSERT_EQ_STR(header(same.head, "etag"), etag);
	sql_exec(&s, "UPDATE viral_ideas_queue SET status = 'failed' WHERE session_id = 'seed-7'",
	         NULL);
	struct answer changed = http(&s, "GET", "/admin/api/jobs?status=failed", h);
	ASSERT_EQ_INT(changed.status, 200);
	ASSERT(strcmp(header(changed.head, "etag"), etag) != 0);
	ASSERT_CONTAINS(changed.body, "\"total\" : 3,"); /* json_build_object spacing */
	stack_stop(&s);
}

TEST(actors_are_the_supervisors_status_as_viralctl_gives_it)
{
	struct stack s;
	stack_init(&s);
	stack_start(&s);
	pid_t sched = stack_pid(&s, "scheduler", 0);
	json_t *d = admin_data(&s, "/admin/api/actors");
	json_t *kids = json_object_get(d, "children");
	ASSERT_CMP_INT(json_array_size(kids), >=, 5);
	json_t *st = suptest_status(&s.sup);
	ASSERT_EQ_INT(json_array_size(kids), json_array_size(json_object_get(st, "children")));
	ASSERT_EQ_INT(jint(d, "pid"), s.sup.pid);
	bool found = false;
	size_t i;
	json_t *k;
	json_array_foreach(kids, i, k)
	{
		const char *name = json_string_value(json_object_get(k, "name"));
		if (strcmp(name, "scheduler"))
			continue;
		found = true;
		ASSERT_EQ_INT(jint(k, "pid"), sched);
		ASSERT_EQ_STR(json_string_value(json_object_get(k, "state")), "ready");
		ASSERT_CMP_INT(jint(k, "rss_kb"), >, 0);
		jint(k, "restarts_total");
		jint(k, "hangs_total");
		ASSERT(json_is_number(json_object_get(k, "uptime_s")));
	}
	ASSERT(found);
	/* The supervisor lets an actor ask for nothing else: its log says so
	 * if one tries; here only status was asked, so no such line. */
	char *log = stack_log_tail(&s, 400);
	ASSERT(!strstr(log, "actors may ask only for status"));
	json_decref(st);
	json_decref(d);
	stack_stop(&s);
}

static json_t *post_admin(struct stack *s, const char *path, long want)
{
	const char *const h[] = {ADMIN[0], "Content-Type: application/json", NULL};
	struct answer a = http(s, "POST", path, h);
	if (a.status != want)
		FAIL("POST %s: expected %ld, seen %ld %s", path, want, a.status, a.body);
	json_t *root = json_loads(a.body, 0, NULL);
	free(a.body);
	free(a.head);
	return root;
}

/* Whether the last lines of the stack's log hold needle. */
static bool log_has(struct stack *s, const char *needle)
{
	char *log = stack_log_tail(s, 200);
	bool has = log && strstr(log, needle);
	free(log);
	return has;
}

TEST(pause_and_resume_reach_the_scheduler_through_the_supervisor_as_viralctl_does)
{
	struct stack s;
	stack_init(&s);
	stack_start(&s);
	json_t *d = admin_data(&s, "/admin/api/actors");
	json_t *sched = json_object_get(d, "scheduler");
	ASSERT(json_is_object(sched));
	ASSERT(json_is_false(json_object_get(sched, "paused")));
	ASSERT(json_is_array(json_object_get(sched, "workers")));
	json_decref(d);
	/* The CSRF rule of the other admin actions: JSON only, token needed. */
	const char *const form[] = {ADMIN[0], "Content-Type: text/plain", NULL};
	ASSERT_EQ_INT(http(&s, "POST", "/admin/api/claiming/pause", form).status, 415);
	const char *const anon[] = {"Content-Type: application/json", NULL};
	ASSERT_EQ_INT(http(&s, "POST", "/admin/api/claiming/pause", anon).status, 401);

	json_t *r = post_admin(&s, "/admin/api/claiming/pause", 200);
	json_t *data = json_object_get(r, "data");
	ASSERT(json_is_true(json_object_get(data, "paused")));
	ASSERT(json_is_false(json_object_get(data, "was_paused")));
	json_decref(r);
	/* The scheduler's log says who paused it: the page, for which client. */
	WAIT_UNTIL(log_has(&s, "claiming paused by the operations page for 127.0.0.1 ("), 3000);
	ASSERT(!log_has(&s, "claiming paused by viralctl"));
	/* viralctl, on control.sock, sees the same scheduler. */
	json_t *v = suptest_json(&s.sup, "scheduler");
	ASSERT(v != NULL);
	ASSERT(json_is_true(json_object_get(v, "paused")));
	json_decref(v);
	d = admin_data(&s, "/admin/api/actors");
	ASSERT(json_is_true(json_object_get(json_object_get(d, "scheduler"), "paused")));
	json_decref(d);

	r = post_admin(&s, "/admin/api/claiming/resume", 200);
	ASSERT(json_is_false(json_object_get(json_object_get(r, "data"), "paused")));
	ASSERT_CONTAINS(json_string_value(json_object_get(r, "message")), "resumed");
	json_decref(r);
	WAIT_UNTIL(log_has(&s, "claiming resumed by the operations page for 127.0.0.1 ("), 3000);
	v = suptest_json(&s.sup, "scheduler");
	ASSERT(v != NULL);
	ASSERT(json_is_false(json_object_get(v, "paused")));
	json_decref(v);
	/* From viralctl, the log says viralctl. */
	const char *const pause[] = {"pause", NULL}, *const resume[] = {"resume", NULL};
	ASSERT_EQ_INT(suptest_ctl(&s.sup, NULL, NULL, pause), 0);
	WAIT_UNTIL(log_has(&s, "claiming paused by viralctl ("), 3000);
	ASSERT_EQ_INT(suptest_ctl(&s.sup, NULL, NULL, resume), 0);
	/* The scheduler stopped: the page's action answers 503, not a hang. */
	const char *const stop[] = {"stop", "scheduler", NULL};
	ASSERT_EQ_INT(suptest_ctl(&s.sup, NULL, NULL, stop), 0);
	WAIT_UNTIL(suptest_state_is(&s.sup, "scheduler", "stopped"), 10000);
	json_decref(post_admin(&s, "/admin/api/claiming/pause", 503));
	d = admin_data(&s, "/admin/api/actors");
	ASSERT(json_is_null(json_object_get(d, "scheduler")));
	ASSERT(json_is_string(json_object_get(d, "scheduler_error")));
	json_decref(d);
	stack_stop(&s);
}

TEST(jobs_list_filters_pages_and_refuses_an_unknown_status)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	seed_jobs(&s);
	stack_start(&s);
	json_t *d = admin_data(&s, "/admin/api/jobs?status=completed");
	ASSERT_EQ_INT(jint(d, "total"), 3);
	ASSERT_EQ_INT(json_array_size(json_object_get(d, "jobs")), 3);
	json_t *j = json_array_get(json_object_get(d, "jobs"), 0);
	ASSERT_EQ_STR(json_string_value(json_object_get(j, "status")), "completed");
	ASSERT_EQ_INT(jint(j, "progress_pct"), 100);
	ASSERT(json_object_get(j, "current_step") && json_object_get(j, "attempts"));
	json_decref(d);
	d = admin_data(&s, "/admin/api/jobs?limit=4&offset=4");
	ASSERT_EQ_INT(jint(d, "total"), 9);
	ASSERT_EQ_INT(json_array_size(json_object_get(d, "jobs")), 4);
	ASSERT_EQ_INT(jint(d, "offset"), 4);
	json_decref(d);
	d = admin_data(&s, "/admin/api/jobs?status=failed");
	ASSERT_CONTAINS(json_string_value(json_object_get(
	                    json_array_get(json_object_get(d, "jobs"), 0), "error")),
	                "profile not found");
	json_decref(d);
	struct answer a = http(&s, "GET", "/admin/api/jobs?status=exploded", ADMIN);
	ASSERT_EQ_INT(a.status, 422);
	ASSERT_CONTAINS(a.body, "\"status\"");
	ASSERT_EQ_INT(http(&s, "GET", "/admin/api/jobs?limit=0", ADMIN).status, 422);
	ASSERT_EQ_INT(http(&s, "GET", "/admin/api/jobs?limit=201", ADMIN).status, 422);
	stack_stop(&s);
}

TEST(job_detail_has_history_attempts_hooks_scripts_and_top_reels)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROVIDER=fixtures");
	stack_env(&s, "VIRALSUP_PROCESSING=continuous");
	stack_start(&s);
	char *id = stack_submit(&s, "detail-1", "maya.lifts", "frugal.finn", 5);
	char *sql = fmt("SELECT status FROM viral_ideas_queue WHERE id = '%s'", id);
	stack_wait_sql(&s, 30000, "completed", sql);
	char *path = fmt("/admin/api/jobs/%s", id);
	json_t *d = admin_data(&s, path);
	json_t *job = json_object_get(d, "job");
	ASSERT_EQ_STR(json_string_value(json_object_get(job, "status")), "completed");
	ASSERT_EQ_STR(json_string_value(json_object_get(job, "primary_username")), "maya.lifts");
	ASSERT_CMP_INT(jint(job, "attempts"), >=, 1);
	jint(job, "rescues");
	ASSERT(json_is_boolean(json_object_get(job, "crash_suspect")));
	/* The history is job_events, in order. */
	long long nev =
	    sql_int(&s, "SELECT count(*) FROM job_events WHERE job_id = $1::uuid", id, NULL);
	json_t *ev = json_object_get(d, "events");
	ASSERT_EQ_INT(json_array_size(ev), nev);
	ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(ev, nev - 1), "to_status")),
	              "completed");
	ASSERT(json_is_array(json_object_get(d, "errors")));
	ASSERT_EQ_INT(json_array_size(json_object_get(d, "competitors")), 1);
	/* The results: the first five hooks as stored, scripts, top reels. */
	json_t *r = json_object_get(d, "result");
	ASSERT(json_is_object(r));
	long long nhooks =
	    sql_int(&s,
	            "SELECT LEAST(jsonb_array_length(analysis_data -> 'generated_hooks'), 5)"
	            " FROM viral_analysis_results WHERE queue_id = $1::uuid",
	            id, NULL);
	ASSERT_CMP_INT(nhooks, >, 0);
	json_t *hooks = json_object_get(r, "hooks");
	ASSERT_EQ_INT(json_array_size(hooks), nhooks);
	char *first = sql_str(&s,
	                      "SELECT analysis_data -> 'generated_hooks' -> 0 ->> 'hook_text'"
	                      " FROM viral_analysis_results WHERE queue_id = $1::uuid",
	                      id, NULL);
	ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(hooks, 0), "hook_text")),
	              first);
	long long nscripts = sql_int(&s,
	                             "SELECT LEAST(count(*), 5) FROM viral_scripts s JOIN"
	                             " viral_analysis_results r ON r.id = s.analysis_id"
	                             " WHERE r.queue_id = $1::uuid",
	                             id, NULL);
	ASSERT_EQ_INT(json_array_size(json_object_get(r, "scripts")), nscripts);
	json_t *reels = json_object_get(r, "top_reels");
	ASSERT_CMP_INT(json_array_size(reels), >, 0);
	ASSERT_CMP_INT(json_array_size(reels), <=, 5);
	/* In outlier order, the best one first. */
	char *best = sql_str(&s,
	                     "SELECT x.content_id FROM viral_analysis_reels x JOIN"
	                     " viral_analysis_results r ON r.id = x.analysis_id"
	                     " WHERE r.queue_id = $1::uuid"
	                     " ORDER BY x.outlier_score_at_analysis DESC NULLS LAST, x.content_id"
	                     " LIMIT 1",
	                     id, NULL);
	ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(reels, 0), "content_id")),
	              best);
	/* The engine that wrote them: the default rules engine and its version. */
	json_t *eng = json_object_get(r, "engine");
	ASSERT_EQ_STR(json_string_value(json_object_get(eng, "used")), "rules");
	char *ver = sql_str(&s,
	                    "SELECT analysis_data ->> 'engine_version' FROM viral_analysis_results"
	                    " WHERE queue_id = $1::uuid",
	                    id, NULL);
	ASSERT(ver != NULL);
	ASSERT_EQ_STR(json_string_value(json_object_get(eng, "engine_version")), ver);
	json_decref(d);
	ASSERT_EQ_INT(
	    http(&s, "GET", "/admin/api/jobs/00000000-0000-4000-8000-000000000000", ADMIN).status,
	    404);
	ASSERT_EQ_INT(http(&s, "GET", "/admin/api/jobs/not-a-uuid", ADMIN).status, 400);
	stack_stop(&s);
}

/* ---- provider and model health ------------------------------------------------- */

/* The value of one sample line "name{labels} N" in a Prometheus text, -1
 * when absent. */
static long long prom_value(const char *text, const char *series)
{
	char *needle = fmt("\n%s ", series);
	const char *p = strstr(text, needle);
	long long v = p ? atoll(p + strlen(needle)) : -1;
	free(needle);
	return v;
}

struct upstream_seen {
	long long requests, ok, throttled, errors;
};

/* The rapidapi counters as /metrics shows them (-1: absent). */
static struct upstream_seen metrics_provider(struct stack *s)
{
	char *m = NULL;
	if (stack_http(s, NULL, "GET", "/metrics", NULL, false, &m) != 200)
		FAIL("GET /metrics: not 200");
	struct upstream_seen u = {
	    .ok = prom_value(m, "viralsup_provider_requests_total{provider=\"rapidapi\","
	                        "outcome=\"ok\"}"),
	    .throttled = prom_value(m, "viralsup_provider_requests_total{provider=\"rapidapi\","
	                               "outcome=\"throttled\"}"),
	    .errors = prom_value(m, "viralsup_provider_requests_total{provider=\"rapidapi\","
	                            "outcome=\"error\"}"),
	};
	u.requests = u.ok + u.throttled + u.errors;
	free(m);
	return u;
}

static long long fake_requests(struct stack *s)
{
	char base[64], *resp = NULL;
	snprintf(base, sizeof base, "http://127.0.0.1:%d", s->fake_port);
	if (stack_http(s, base, "GET", "/_stats", NULL, false, &resp) != 200)
		FAIL("fake /_stats: not 200");
	json_t *st = json_loads(resp, 0, NULL);
	long long n = jint(st, "requests");
	json_decref(st);
	free(resp);
	return n;
}

TEST(provider_429s_and_requests_reach_metrics_and_the_page_from_the_fetchers_counters)
{
	struct stack s;
	stack_init(&s);
	stack_fake_start(&s, NULL);
	stack_env(&s, "VIRALSUP_WATCHDOG_MS=1000"); /* PONGs every 200 ms */
	stack_start(&s);
	/* Before any request: the counters exist (from the fetchers' first
	 * PONGs), at zero. */
	struct upstream_seen u;
	WAIT_UNTIL((u = metrics_provider(&s)).ok >= 0, 3000);
	ASSERT_EQ_INT(u.ok, 0);
	ASSERT_EQ_INT(u.throttled, 0);
	char *m = NULL;
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/metrics", NULL, false, &m), 200);
	ASSERT_CONTAINS(m, "# TYPE viralsup_provider_requests_total counter");
	ASSERT_EQ_INT(prom_value(m, "viralsup_upstream_stats_up"), 1);
	free(m);
	/* The provider answers this account's first two requests with 429
	 * (Retry-After: 1 s); the fetcher waits and retries, the job completes. */
	char *id = stack_submit(&s, "throttled-1", "e429x2__busy.acct", "", 5);
	char *q = fmt("SELECT status FROM viral_ideas_queue WHERE id = '%s'", id);
	stack_wait_sql(&s, 30000, "completed", q);
	long long served = fake_requests(&s);
	ASSERT_CMP_INT(served, >, 2);
	/* Within a few PONGs the supervisor has the fetchers' final figures:
	 * every request the fake served, two of them 429s, the rest 2xx. */
	WAIT_UNTIL((u = metrics_provider(&s)).requests == served, 5000);
	ASSERT_EQ_INT(u.throttled, 2);
	ASSERT_EQ_INT(u.errors, 0);
	ASSERT_EQ_INT(u.ok, served - 2);
	/* The page's data: the same sums, and each fetcher's own in its row. */
	json_t *d = admin_data(&s, "/admin/api/actors");
	json_t *up = json_object_get(d, "upstream");
	ASSERT_EQ_INT(json_array_size(up), 1);
	json_t *p = json_array_get(up, 0);
	ASSERT_EQ_STR(json_string_value(json_object_get(p, "kind")), "provider");
	ASSERT_EQ_STR(json_string_value(json_object_get(p, "name")), "rapidapi");
	ASSERT_EQ_INT(jint(p, "requests"), served);
	ASSERT_EQ_INT(jint(p, "throttled"), 2);
	ASSERT_EQ_INT(jint(p, "ok"), served - 2);
	ASSERT_EQ_INT(jint(p, "actors"), 2); /* the two fetchers */
	long long per_actor = 0;
	size_t i;
	json_t *k;
	json_array_foreach(json_object_get(d, "children"), i, k)
	{
		json_t *st = json_object_get(k, "stats");
		const char *role = json_string_value(json_object_get(k, "role"));
		if (strcmp(role, "fetcher")) {
			ASSERT(json_is_null(st)); /* only the fetchers make provider requests */
			continue;
		}
		per_actor += jint(json_array_get(json_object_get(st, "upstream"), 0), "requests");
	}
	ASSERT_EQ_INT(per_actor, served);
	json_decref(d);
	/* viralctl status --json shows the same figures (one truth). */
	json_t *st = suptest_status(&s.sup);
	long long ctl_throttled = 0;
	json_array_foreach(json_object_get(st, "children"), i, k)
	{
		json_t *first =
		    json_array_get(json_object_get(json_object_get(k, "stats"), "upstream"), 0);
		if (first)
			ctl_throttled += jint(first, "throttled");
	}
	ASSERT_EQ_INT(ctl_throttled, 2);
	json_decref(st);
	stack_stop(&s);
}

TEST(
    provider_counters_need_the_token_on_the_page_and_metrics_answers_while_the_supervisor_is_silent)
{
	struct stack s;
	stack_init(&s);
	stack_fake_start(&s, NULL);
	stack_start(&s);
	struct answer a = http(&s, "GET", "/admin/api/actors", NULL);
	ASSERT_EQ_INT(a.status, 401);
	ASSERT(!strstr(a.body, "upstream"));
	/* /metrics holds counters only, no secret: open as before. */
	WAIT_UNTIL(metrics_provider(&s).ok == 0, 7000);
	char *m = NULL;
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/metrics", NULL, false, &m), 200);
	ASSERT_CONTAINS(m, "# TYPE viralsup_model_requests_total counter");
	/* The rules engine asks no model: no model series. */
	ASSERT(!strstr(m, "viralsup_model_requests_total{"));
	ASSERT_CONTAINS(m, "# TYPE viralsup_model_tokens_total counter");
	ASSERT(!strstr(m, "viralsup_model_tokens_total{"));
	free(m);
	/* The supervisor gone, /metrics still answers, and says the counters
	 * are not there rather than showing zeros. */
	kill(s.sup.pid, SIGSTOP);
	m = NULL;
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/metrics", NULL, false, &m), 200);
	kill(s.sup.pid, SIGCONT);
	ASSERT_EQ_INT(prom_value(m, "viralsup_upstream_stats_up"), 0);
	ASSERT(!strstr(m, "viralsup_provider_requests_total{"));
	ASSERT_CMP_INT(prom_value(m, "viralsup_gateway_database_up"), ==, 1);
	free(m);
	stack_stop(&s);
}

/* The llm engine's requests to its model server, counted the same way:
 * the fake model answers the first two calls 429 (Retry-After: 1 s), the
 * engine retries, and /metrics counts two throttled requests for the model
 * and as many in all as the job's own record of its calls. */
/* A figure of the llm engine's own record of job id (analysis_data.engine.KEY). */
static long long engine_figure(struct stack *s, const char *id, const char *key)
{
	return sql_int(s,
	               "SELECT (analysis_data -> 'engine' ->> $2)::bigint FROM"
	               " viral_analysis_results WHERE queue_id = $1::uuid",
	               id, key, NULL);
}

TEST(model_429s_requests_and_tokens_reach_metrics_from_the_analyzers_counters)
{
	pid_t llm_pid;
	const char *env[] = {"FAKE_LLM_MODE=e429:2", NULL};
	int port = test_fake_server_start("tests/fake_llm/fake_llm.py", env, &llm_pid);
	char kv[96];
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROVIDER=fixtures");
	stack_env(&s, "VIRALSUP_ANALYZER_ENGINE=llm");
	snprintf(kv, sizeof kv, "VIRALSUP_LLM_BASE_URL=http://127.0.0.1:%d/v1", port);
	stack_env(&s, kv);
	stack_env(&s, "VIRALSUP_LLM_MODEL=fake-llm");
	stack_env(&s, "VIRALSUP_LLM_API_KEY=sk-admin-page");
	stack_env(&s, "VIRALSUP_WATCHDOG_MS=1000");
	stack_start(&s);
	char *id = stack_submit(&s, "model-1", "maya.lifts", "coach.dante.fit", 5);
	char *q = fmt("SELECT status FROM viral_ideas_queue WHERE id = '%s'", id);
	stack_wait_sql(&s, 30000, "completed", q);
	long long calls = engine_figure(&s, id, "calls");
	ASSERT_CMP_INT(calls, >, 0);
	/* The tokens the model reported, as the job recorded them. */
	long long job_prompt = engine_figure(&s, id, "prompt_tokens");
	long long job_completion = engine_figure(&s, id, "completion_tokens");
	ASSERT_CMP_INT(job_prompt, >, 0);
	ASSERT_CMP_INT(job_completion, >, 0);
	const char *ok_series = "viralsup_model_requests_total{model=\"fake-llm\",outcome=\"ok\"}";
	const char *th_series =
	    "viralsup_model_requests_total{model=\"fake-llm\",outcome=\"throttled\"}";
	const char *pt_series = "viralsup_model_tokens_total{model=\"fake-llm\",kind=\"prompt\"}";
	const char *ct_series =
	    "viralsup_model_tokens_total{model=\"fake-llm\",kind=\"completion\"}";
	char *m = NULL;
	long long ok = -1, throttled = -1;
	for (double t0 = test_now_ms(); test_now_ms() - t0 < 5000;) {
		free(m);
		m = NULL;
		ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/metrics", NULL, false, &m), 200);
		ok = prom_value(m, ok_series);
		throttled = prom_value(m, th_series);
		if (throttled == 2 && ok + throttled == calls &&
		    prom_value(m, pt_series) == job_prompt &&
		    prom_value(m, ct_series) == job_completion)
			break;
		usleep(50 * 1000); /* the next PONG: every 200 ms */
	}
	ASSERT_EQ_INT(throttled, 2);
	/* One job: the analyzer's token counters are that job's usage. */
	ASSERT_EQ_INT(prom_value(m, pt_series), job_prompt);
	ASSERT_EQ_INT(prom_value(m, ct_series), job_completion);
	/* The job's record counts every HTTP request it made (its 429s too):
	 * the same number as the counters, the rest answered 2xx. */
	ASSERT_EQ_INT(ok + throttled, calls);
	ASSERT_EQ_INT(prom_value(m, "viralsup_model_requests_total{model=\"fake-llm\","
	                            "outcome=\"error\"}"),
	              0);
	/* The fixtures provider makes no HTTP requests: no provider series. */
	ASSERT(!strstr(m, "viralsup_provider_requests_total{"));
	free(m);
	json_t *d = admin_data(&s, "/admin/api/actors");
	json_t *u = json_array_get(json_object_get(d, "upstream"), 0);
	ASSERT_EQ_STR(json_string_value(json_object_get(u, "kind")), "model");
	ASSERT_EQ_STR(json_string_value(json_object_get(u, "name")), "fake-llm");
	ASSERT_EQ_INT(jint(u, "throttled"), 2);
	json_decref(d);
	stack_stop(&s);
	kill(llm_pid, SIGTERM);
}

/* ---- the browser ------------------------------------------------------------ */

static const char *chromium_path(void)
{
	const char *c = getenv("CHROMIUM");
	return c && *c ? c : "/usr/bin/chromium";
}

/* Runs the node script with spec; its one JSON line (malloc'd), exit status in *rc. */
static char *run_browser(const char *spec, int *rc)
{
	int p[2];
	if (pipe(p) < 0)
		FAIL("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		char script[4096];
		if (access("tests/browser/admin_page.js", R_OK) == 0)
			snprintf(script, sizeof script, "tests/browser/admin_page.js");
		else
			snprintf(script, sizeof script, "%s/../../tests/browser/admin_page.js",
			         suptest_bin());
		execlp("node", "node", script, spec, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	char buf[4096];
	ssize_t n;
	while ((n = read(p[0], buf, sizeof buf)) > 0)
		fwrite(buf, 1, (size_t)n, m);
	fclose(m);
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return out;
}

TEST(browser_shows_the_running_batch_a_jobs_hooks_and_a_cancel_without_reload)
{
	if (access(chromium_path(), X_OK) != 0)
		test_skip("chromium is not installed (scripts/deps.sh installs it as root)");
	struct stack s;
	stack_init(&s);
	stack_fake_start(&s, NULL);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	stack_env(&s, "VIRALSUP_CONCURRENCY=2");
	stack_start(&s);
	/* Claimed in priority order, two at a time: two quick accounts that
	 * complete, one whose profile does not exist (fails at once), then slow
	 * ones whose every provider answer takes 20 s: two hold the slots,
	 * the rest wait, so the counts stay put while the browser looks. */
	char *fast1 = stack_submit(&s, "b-fast-1", "maya.lifts", "", 1);
	char *fast2 = stack_submit(&s, "b-fast-2", "frugal.finn", "", 1);
	char *gone = stack_submit(&s, "b-gone", "e404__nobody", "", 2);
	char *slow[4];
	for (int i = 0; i < 4; i++) {
		char sess[32], user[32];
		snprintf(sess, sizeof sess, "b-slow-%d", i);
		snprintf(user, sizeof user, "slowx20000__acct%d", i);
		slow[i] = stack_submit(&s, sess, user, "", 5);
	}
	free(stack_trigger(&s));
	stack_wait_sql(&s, 30000, "2/1/2/2",
	               "SELECT count(*) FILTER (WHERE status = 'completed') || '/' ||"
	               " count(*) FILTER (WHERE status = 'failed') || '/' ||"
	               " count(*) FILTER (WHERE status = 'processing') || '/' ||"
	               " count(*) FILTER (WHERE status = 'pending') FROM viral_ideas_queue");
	/* A pending slow one to cancel (the two others hold the slots). */
	char *victim = sql_str(&s,
	                       "SELECT id FROM viral_ideas_queue WHERE status = 'pending'"
	                       " ORDER BY submitted_at LIMIT 1",
	                       NULL);
	ASSERT(victim);
	const char *shot = getenv("ADMIN_PAGE_SCREENSHOT");
	json_t *spec = json_pack("{s:s, s:s, s:{s:i, s:i, s:i, s:i}, s:s, s:s, s:s?}", "url", s.url,
	                         "token", STACK_ADMIN_TOKEN, "counts", "pending", 2, "processing",
	                         2, "completed", 2, "failed", 1, "hooks_job", fast1, "cancel_job",
	                         victim, "screenshot", shot && *shot ? shot : NULL);
	char *text = json_dumps(spec, JSON_COMPACT);
	double t0 = test_now_ms();
	int rc;
	char *out = run_browser(text, &rc);
	double ms = test_now_ms() - t0;
	if (rc != 0)
		FAIL("browser run failed (exit %d, %.0f ms): %s\n%s", rc, ms, out,
		     stack_log_tail(&s, 20));
	printf("browser run: %.0f ms: %.300s\n", ms, out);
	json_error_t e;
	json_t *res = json_loads(out, 0, &e);
	ASSERT(json_is_true(json_object_get(res, "ok")));
	/* The hooks the page showed are the stored ones. */
	json_t *hooks = json_object_get(res, "hooks");
	ASSERT_CMP_INT(json_array_size(hooks), >, 0);
	char *h0 = sql_str(&s,
	                   "SELECT analysis_data -> 'generated_hooks' -> 0 ->> 'hook_text'"
	                   " FROM viral_analysis_results WHERE queue_id = $1::uuid",
	                   fast1, NULL);
	ASSERT_CONTAINS(json_string_value(json_array_get(hooks, 0)), h0);
	/* The cancel went through the admin endpoint and the scheduler. */
	char *q = fmt("SELECT status || ':' || error_message FROM viral_ideas_queue"
	              " WHERE id = '%s'",
	              victim);
	stack_wait_sql(&s, 2000, "failed:cancelled by an administrator", q);
	/* Provider health: the page's figures are /metrics' (the slow
	 * answers are still out, so nothing moves meanwhile). */
	json_t *up = json_object_get(res, "upstream");
	char digits[32] = "";
	for (const char *c = json_string_value(json_object_get(up, "Requests")); c && *c; c++)
		if (*c != ',' && strlen(digits) < sizeof digits - 1)
			strncat(digits, c, 1); /* "1,234" as the page shows it */
	ASSERT_EQ_INT(atoll(digits), metrics_provider(&s).requests);
	ASSERT_CMP_INT(metrics_provider(&s).requests, >, 0);
	ASSERT_EQ_STR(json_string_value(json_object_get(up, "429s")), "0");
	ASSERT_CMP_INT((long long)ms, <, 60000);
	(void)fast2;
	(void)gone;
	(void)slow;
	json_decref(res);
	json_decref(spec);
	stack_stop(&s);
}

/* The "Done when" of issue 15, in a real browser: a batch runs (one slot
 * holds a job whose provider answers take 25 s, so the batch stays open;
 * the other runs paced jobs one after the other, so its progress moves); a
 * job failed because the provider said its account does not exist; the
 * provider then knows the account again (its rule changed at run time), and
 * the operator, on the page only, opens the failed job's history, retries
 * it and watches it complete. */
TEST(browser_operator_sees_the_batch_move_retries_a_failed_job_and_watches_it_complete)
{
	if (access(chromium_path(), X_OK) != 0)
		test_skip("chromium is not installed (scripts/deps.sh installs it as root)");
	struct stack s;
	stack_init(&s);
	stack_fake_start(&s, NULL);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	stack_env(&s, "VIRALSUP_CONCURRENCY=2");
	stack_start(&s);
	stack_fake_control(&s, "{\"username\":\"comeback.kid\",\"mode\":\"e404\"}");
	stack_fake_control(&s, "{\"username\":\"hold.open\",\"mode\":\"slow\",\"arg\":25000,"
	                       "\"path\":\"/ig_get_fb_profile.php\"}");
	char *flaky = stack_submit(&s, "story-flaky", "comeback.kid", "", 1);
	char *hold = stack_submit(&s, "story-hold", "hold.open", "", 3);
	for (int i = 0; i < 6; i++) {
		char sess[32], user[32], rule[160];
		snprintf(sess, sizeof sess, "story-pace-%d", i);
		snprintf(user, sizeof user, "pace.acct%d", i);
		snprintf(rule, sizeof rule,
		         "{\"username\":\"%s\",\"mode\":\"slow\",\"arg\":1500,"
		         "\"path\":\"/ig_get_fb_profile.php\"}",
		         user);
		stack_fake_control(&s, rule);
		free(stack_submit(&s, sess, user, "", 5));
	}
	free(stack_trigger(&s));
	char *q = fmt("SELECT status FROM viral_ideas_queue WHERE id = '%s'", flaky);
	stack_wait_sql(&s, 15000, "failed", q);
	/* The provider knows the account again: a retry can succeed. */
	stack_fake_control(&s, "{\"username\":\"comeback.kid\",\"clear\":true}");
	json_t *spec = json_pack("{s:s, s:s, s:b, s:s}", "url", s.url, "token", STACK_ADMIN_TOKEN,
	                         "story", 1, "failed_job", flaky);
	char *text = json_dumps(spec, JSON_COMPACT);
	double t0 = test_now_ms();
	int rc;
	char *out = run_browser(text, &rc);
	double ms = test_now_ms() - t0;
	if (rc != 0)
		FAIL("browser run failed (exit %d, %.0f ms): %s\n%s", rc, ms, out,
		     stack_log_tail(&s, 20));
	printf("browser run: %.0f ms: %.600s\n", ms, out);
	json_t *res = json_loads(out, 0, NULL);
	ASSERT(json_is_true(json_object_get(res, "ok")));
	/* What the page showed is what the database holds: the job completed,
	 * after a failed attempt, a retry back to pending, and a new run. */
	ASSERT_EQ_STR(sql_str(&s, q, NULL), "completed");
	char *path = sql_str(&s,
	                     "SELECT string_agg(to_status, ',' ORDER BY id) FROM job_events"
	                     " WHERE job_id = $1::uuid",
	                     flaky, NULL);
	ASSERT_CONTAINS(path, "processing,failed,pending,processing");
	ASSERT(!strncmp(path + strlen(path) - strlen("completed"), "completed", 9));
	json_t *seen = json_object_get(res, "seen");
	ASSERT_EQ_STR(json_string_value(json_array_get(seen, json_array_size(seen) - 1)),
	              "completed");
	/* The history the page showed before the retry had the failure. */
	long long nfail_ev = sql_int(&s,
	                             "SELECT count(*) FROM job_events WHERE job_id = $1::uuid"
	                             " AND to_status = 'failed'",
	                             flaky, NULL);
	ASSERT_EQ_INT(nfail_ev, 1);
	ASSERT(json_is_true(json_object_get(res, "errors")));
	/* The completed run's hooks are on the page, as many as stored (<= 5). */
	long long nhooks =
	    sql_int(&s,
	            "SELECT LEAST(jsonb_array_length(analysis_data -> 'generated_hooks'), 5)"
	            " FROM viral_analysis_results WHERE queue_id = $1::uuid",
	            flaky, NULL);
	ASSERT_EQ_INT(jint(res, "hooks"), nhooks);
	/* The batch moved while the page was open. */
	json_t *pr = json_object_get(res, "progress");
	ASSERT_CMP_INT(json_integer_value(json_array_get(pr, 1)), >,
	               json_integer_value(json_array_get(pr, 0)));
	ASSERT_EQ_STR(
	    sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1::uuid", hold, NULL),
	    "processing");
	ASSERT_CMP_INT((long long)ms, <, 45000);
	json_decref(res);
	json_decref(spec);
	stack_stop(&s);
}
