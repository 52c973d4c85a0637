/*
 * viralsup-analyzer: turns a job's stored content into its analysis.
 *
 *   scheduler ── ANALYZE_JOB ──► read input (one query) ─► engine ─►
 *   writer ◄── WRITE_RESULT ── … WRITE_ACK ──► ANALYZE_DONE ──► scheduler
 *
 * The engine (engine.h) is pure; this file is the plumbing. The analyzer
 * never writes to the database. A crash here costs the scheduler one
 * rescue of the job it was working on. For crash-isolation tests,
 * analyzer.crash_on (VIRALSUP_ANALYZER_CRASH_ON) names a job id or primary
 * username on which this process aborts.
 *
 * analyzer.engine = llm (VIRALSUP_ANALYZER_ENGINE): the rules engine's
 * output is then rewritten by a chat-completions model (llm.h) before it
 * goes to the writer; calls run in this loop, concurrently, and a model
 * that fails leaves the rules output in place. Cached hook analyses are
 * read from and added to llm_hook_cache (sql/010), the one table this
 * process writes: it is a cache, not job data.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/engine.h"
#include "actors/analyzer/llm.h"
#include "ipc/ipc.h"
#include "sql/pg.h"
#include "sql/store.h"

struct task {
	struct conn *sched; /* NULL once the scheduler's connection closed */
	uint64_t re;
	char job[40], lease[40], type[16];
	char *primary, *strategy;
	char **accounts;
	int naccounts;
	int run;
	long long since, owner;
	double waiting_since; /* > 0: waiting for the database to come back */
	/* llm engine: the rules output being rewritten */
	json_t *input, *output;
	struct llm_job *lj;
	bool cache_query; /* a cache lookup is in flight: its callback frees an abandoned task */
	bool abandoned;
	struct task *next;
};

static struct {
	struct actor *actor;
	struct pg *pg;
	struct link *sched, *writer;
	int slots, reels_per_account;
	ev_timer wait_timer;
	const char *crash_on;
	struct task *tasks;
	uint64_t done, failed;
	struct llm *llm; /* NULL: rules engine */
	char model[101];
} A;

static void task_free(struct task *t)
{
	for (struct task **pp = &A.tasks; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	llm_job_free(t->lj);
	json_decref(t->input);
	json_decref(t->output);
	for (int i = 0; i < t->naccounts; i++)
		free(t->accounts[i]);
	free(t->accounts);
	free(t->primary);
	free(t->strategy);
	free(t);
}

/* Answers the scheduler and ends the task. class: "transient" | "permanent". */
static void task_finish(struct task *t, bool ok, bool fenced, const char *class, const char *error)
{
	struct msg_out out;
	if (ok)
		A.done++;
	else {
		A.failed++;
		log_event(LOG_WARN, t->job, "analysis failed (%s): %s", class ? class : "-",
		          error ? error : "?");
	}
	if (t->sched) {
		msg_out_init(&out, MSG_ANALYZE_DONE, t->re, 4);
		msg_put_bool(&out, "ok", ok);
		msg_put_bool(&out, "fenced", fenced);
		msg_put_str(&out, "class", class);
		msg_put_str(&out, "error", error);
		conn_send(t->sched, &out);
		msg_out_free(&out);
	}
	task_free(t);
}

static void on_write_ack(struct conn *c, const struct msg *reply, int err, void *arg)
{
	struct task *t = arg;
	bool ok = false, fenced = false;
	char error[256] = "writer refused the result";
	(void)c;
	if (err) {
		task_finish(t, false, false, "transient",
		            err == -ETIMEDOUT ? "writer did not answer in time"
		                              : "writer unavailable");
		return;
	}
	msg_get_bool(reply->body, "ok", &ok);
	msg_get_bool(reply->body, "fenced", &fenced);
	msg_copy_str(reply->body, "error", error, sizeof error);
	task_finish(t, ok, fenced, ok ? NULL : "transient", ok ? NULL : error);
}

/* While PostgreSQL is away a task waits (up to WAIT_DB_S) instead of
 * failing: an outage must cost time, not attempts. */
#define WAIT_DB_S 30.0

static void on_input(const char *json, const char *err, void *arg);

/* Sends the analysis to the writer (output is consumed). */
static void task_send_result(struct task *t, json_t *output)
{
	char *result = json_dumps(output, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(output);

	struct msg_out out;
	msg_out_init(&out, MSG_WRITE_RESULT, 0, 5);
	msg_put_str(&out, "job", t->job);
	msg_put_int(&out, "run", t->run);
	msg_put_str(&out, "lease", t->lease);
	msg_put_int(&out, "owner", t->owner);
	msg_put_str(&out, "result", result ? result : "{}");
	/* Idempotent (fenced completion): re-sent if the writer restarts before acking. */
	int r = link_request(A.writer, &out, 60.0, on_write_ack, t);
	msg_out_free(&out);
	free(result);
	if (r < 0)
		task_finish(t, false, false, "transient",
		            r == -EMSGSIZE ? "analysis result larger than a frame"
		                           : "writer unavailable");
}

/* Adds the job's new hook analyses to the cache (fire and forget: a lost row costs a call). */
static void llm_cache_store(struct llm_job *lj)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)llm_job_new_cache(lj), key, v)
	{
		char *doc = json_dumps(v, JSON_COMPACT);
		const char *params[] = {key, A.model, LLM_PROMPT_VERSION, doc};
		if (doc)
			pg_query(A.pg,
			         "INSERT INTO llm_hook_cache (reel_key, model, prompt_version, "
			         "analysis) "
			         "VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT (reel_key) DO NOTHING",
			         4, params, NULL, NULL);
		free(doc);
	}
}

static void on_llm_done(struct llm_job *lj, void *arg)
{
	struct task *t = arg;
	const json_t *eng = json_object_get(json_object_get(t->output, "analysis_data"), "engine");
	const struct llm_totals *tot = llm_totals(A.llm);
	log_event(LOG_INFO, t->job,
	          "llm engine: %s; %lld prompt + %lld completion tokens (process: %llu jobs, "
	          "%llu + %llu tokens, %llu cache hits)",
	          json_string_value(json_object_get(eng, "used")),
	          (long long)json_integer_value(json_object_get(eng, "prompt_tokens")),
	          (long long)json_integer_value(json_object_get(eng, "completion_tokens")),
	          (unsigned long long)tot->jobs, (unsigned long long)tot->prompt_tokens,
	          (unsigned long long)tot->completion_tokens, (unsigned long long)tot->cache_hits);
	llm_cache_store(lj);
	json_t *output = t->output;
	t->output = NULL;
	llm_job_free(lj);
	t->lj = NULL;
	json_decref(t->input);
	t->input = NULL;
	task_send_result(t, output);
}

static void on_cache(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	struct task *t = arg;
	(void)pg;
	t->cache_query = false;
	if (t->abandoned) {
		task_free(t);
		return;
	}
	for (int i = 0; !err && res && i < PQntuples(res); i++) {
		json_t *v = json_loads(PQgetvalue(res, i, 1), 0, NULL);
		if (v)
			llm_job_cache_put(t->lj, PQgetvalue(res, i, 0), v);
		json_decref(v);
	}
	llm_job_run(t->lj, on_llm_done, t);
}

static void task_run_llm(struct task *t)
{
	const char **keys;
	t->lj = llm_job_new(A.llm, t->input, t->output, t->job);
	int n = llm_job_cache_keys(t->lj, &keys);
	char *arr = n ? pg_text_array(keys, n) : NULL;
	const char *params[] = {arr};
	if (arr && pg_query(A.pg,
	                    "SELECT reel_key, analysis::text FROM llm_hook_cache "
	                    "WHERE reel_key = ANY($1::text[])",
	                    1, params, on_cache, t) == 0)
		t->cache_query = true;
	free(arr);
	if (!t->cache_query)
		llm_job_run(t->lj, on_llm_done, t);
}

/* The scheduler is gone: its job will be dispatched again, so the model's calls
 * stop here (what they already produced stays in the cache). */
static void task_abandon(struct task *t)
{
	if (!t->lj)
		return;
	llm_cache_store(t->lj);
	if (t->cache_query) {
		t->abandoned = true;
		for (struct task **pp = &A.tasks; *pp; pp = &(*pp)->next)
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		t->next = NULL;
		return;
	}
	task_finish(t, false, false, "transient", "scheduler gone: llm calls cancelled");
}

static void task_read_input(struct task *t)
{
	struct analysis_input_req req = {
	    .job_id = t->job,
	    .primary = t->primary,
	    .analysis_type = t->type,
	    .content_strategy = t->strategy ? t->strategy : "{}",
	    .run = t->run,
	    .since = t->since,
	    .accounts = (const char *const *)t->accounts,
	    .naccounts = t->naccounts,
	    .reels_per_account = A.reels_per_account,
	};
	if (store_analysis_input_async(A.pg, &req, on_input, t) == 0) {
		t->waiting_since = 0;
		return;
	}
	if (pg_is_up(A.pg))
		task_finish(t, false, false, "transient", "database refused the query");
	else if (t->waiting_since == 0)
		t->waiting_since = ev_now(A.actor->loop);
}

static void on_wait_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	for (struct task *t = A.tasks, *next; t; t = next) {
		next = t->next;
		if (t->waiting_since > 0 && ev_now(loop) - t->waiting_since > WAIT_DB_S)
			task_finish(t, false, false, "transient", "database unavailable");
	}
}

static void on_input(const char *json, const char *err, void *arg)
{
	struct task *t = arg;
	json_error_t jerr;
	char why[300];

	if (!json && !pg_is_up(A.pg)) {
		/* The connection went away under the query: ask again when back. */
		t->waiting_since = ev_now(A.actor->loop);
		return;
	}
	if (!json) {
		task_finish(t, false, false, "transient", "could not read the job's content");
		log_event(LOG_WARN, t->job, "input query failed: %s", err ? err : "?");
		return;
	}
	json_t *input = json_loads(json, 0, &jerr), *output = NULL;
	if (!input) {
		snprintf(why, sizeof why, "analysis input is not JSON: %s", jerr.text);
		task_finish(t, false, false, "permanent", why);
		return;
	}
	if (analysis_run(input, &output, why, sizeof why) < 0) {
		json_decref(input);
		task_finish(t, false, false, "permanent", why);
		return;
	}
	if (!A.llm) {
		json_decref(input);
		task_send_result(t, output);
		return;
	}
	t->input = input;
	t->output = output;
	task_run_llm(t);
}

static void on_analyze(struct conn *c, const struct msg *m)
{
	struct task *t = xcalloc(1, sizeof *t);
	const msgpack_object *comps = msg_field(m->body, "competitors");
	int64_t run = 0, since = 0, owner = 0;

	t->sched = c;
	t->re = m->id;
	t->next = A.tasks;
	A.tasks = t;
	t->primary = msg_dup_str(m->body, "primary");
	t->strategy = msg_dup_str(m->body, "content_strategy");
	if (msg_copy_str(m->body, "job", t->job, sizeof t->job) < 0 ||
	    msg_copy_str(m->body, "lease", t->lease, sizeof t->lease) < 0 ||
	    msg_copy_str(m->body, "analysis_type", t->type, sizeof t->type) < 0 ||
	    msg_get_int(m->body, "run", &run) < 0 || run < 1 || !t->primary ||
	    (comps && comps->type != MSGPACK_OBJECT_ARRAY) ||
	    (comps && comps->via.array.size > 1000)) {
		task_finish(t, false, false, "permanent", "malformed ANALYZE_JOB");
		return;
	}
	msg_get_int(m->body, "since", &since);
	msg_get_int(m->body, "owner", &owner);
	t->run = (int)run;
	t->since = since;
	t->owner = owner;
	if (*A.crash_on && (!strcmp(A.crash_on, t->job) || !strcmp(A.crash_on, t->primary))) {
		log_event(LOG_ERROR, t->job, "crash_on matched: aborting (test fault switch)");
		abort();
	}
	int n = 1 + (comps ? (int)comps->via.array.size : 0);
	t->accounts = xcalloc((size_t)n, sizeof *t->accounts);
	t->accounts[t->naccounts++] = xstrdup(t->primary);
	for (int i = 0; comps && i < (int)comps->via.array.size; i++) {
		const msgpack_object *o = &comps->via.array.ptr[i];
		if (o->type == MSGPACK_OBJECT_STR && o->via.str.size < 256)
			t->accounts[t->naccounts++] = xstrndup(o->via.str.ptr, o->via.str.size);
	}
	task_read_input(t);
}

static void on_sched_msg(struct link *l, struct conn *c, const struct msg *m, void *ud)
{
	(void)l;
	(void)ud;
	if (m->type == MSG_ANALYZE_JOB)
		on_analyze(c, m);
	else
		log_warn("unexpected %s from the scheduler", msg_type_name(m->type));
}

static void on_sched_up(struct link *l, struct conn *c, void *ud)
{
	(void)l;
	(void)ud;
	actor_offer_slots(A.actor, c, A.slots);
}

static void on_sched_down(struct link *l, const char *reason, void *ud)
{
	(void)l;
	(void)ud;
	log_info("scheduler connection lost (%s): finishing tasks without replies", reason);
	for (struct task *t = A.tasks, *next; t; t = next) {
		next = t->next;
		t->sched = NULL;
		task_abandon(t);
	}
}

static const struct link_ops sched_ops = {on_sched_up, on_sched_msg, on_sched_down};
static const struct link_ops writer_ops = {NULL, NULL, NULL};

/* Offers our slots to the scheduler (CREDIT) only once the database first
 * answers: a freshly (re)started analyzer would otherwise take jobs it can
 * only refuse ("database unavailable"), each costing an attempt and a
 * backoff (seen in tests/unit/test_pipeline.c after analyzer crashes). */
static void on_pg_state(struct pg *pg, bool up, const char *why, void *arg)
{
	(void)pg;
	(void)why;
	(void)arg;
	for (struct task *t = A.tasks, *next; up && t; t = next) {
		next = t->next;
		if (t->waiting_since > 0)
			task_read_input(t);
	}
	if (up && !A.sched) {
		char *sp = actor_socket_path(A.actor, "scheduler");
		A.sched = link_new(A.actor->loop, sp, "scheduler", &sched_ops, NULL);
		free(sp);
	}
}

int main(int argc, char **argv)
{
	struct actor a;
	actor_init(&a, "analyzer", argc, argv);
	A.actor = &a;
	A.slots = (int)config_int(a.config, "analyzer.slots");
	A.reels_per_account = (int)config_int(a.config, "analyzer.reels_per_account");
	A.crash_on = config_str(a.config, "analyzer.crash_on");
	const char *engine = config_str(a.config, "analyzer.engine");
	if (!strcmp(engine, "llm")) {
		struct llm_config lc;
		char err[200];
		if (llm_config_load(a.config, &lc, err, sizeof err) < 0) {
			log_error("%s", err);
			return EXIT_PERMANENT;
		}
		long sched_ms = config_int(a.config, "scheduler.analyze_timeout_ms");
		if (lc.job_timeout_ms + 5000 > sched_ms)
			log_warn(
			    "llm.job_timeout_ms (%ld) + 5 s exceeds scheduler.analyze_timeout_ms "
			    "(%ld): slow jobs will time out at the scheduler before the llm "
			    "engine falls back; raise VIRALSUP_ANALYZE_TIMEOUT_MS",
			    lc.job_timeout_ms, sched_ms);
		snprintf(A.model, sizeof A.model, "%s", lc.model);
		A.llm = llm_new(a.loop, &lc);
		log_info("analysis engine: llm (model %s at %s, key %s)", lc.model, lc.base_url,
		         *lc.api_key ? "set" : "not set");
	} else if (strcmp(engine, "rules")) {
		log_error("analyzer.engine must be rules or llm, not \"%s\"", engine);
		return EXIT_PERMANENT;
	}
	const char *url = config_str(a.config, "database.url");
	if (!*url) {
		log_error("database.url (DATABASE_URL) is not set");
		return EXIT_PERMANENT;
	}
	struct pg_config pc = {.conninfo = url,
	                       .reconnect_max_ms = 1000, /* tasks may be waiting */
	                       .application_name = "viralsup-analyzer",
	                       .statement_timeout_ms = 30000,
	                       .on_state = on_pg_state};
	char *wp = actor_socket_path(&a, "writer");
	A.writer = link_new(a.loop, wp, "writer", &writer_ops, NULL);
	free(wp);
	A.pg = pg_new(a.loop, &pc); /* the scheduler link follows (on_pg_state) */
	ev_timer_init(&A.wait_timer, on_wait_timer, 1.0, 1.0);
	ev_timer_start(a.loop, &A.wait_timer);
	actor_ready(&a);
	int code = actor_run(&a);
	for (struct task *t = A.tasks; t; t = t->next)
		t->sched = NULL; /* about to close: no replies from here on */
	link_free(A.writer);
	if (A.sched)
		link_free(A.sched);
	pg_free(A.pg);
	while (A.tasks)
		task_free(A.tasks);
	llm_free(A.llm);
	actor_cleanup(&a);
	return code;
}
