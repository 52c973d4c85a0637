/*
 * The llm analysis engine (actors/analyzer/llm*.c) against the fake
 * chat-completions server (tests/fake_llm/fake_llm.py) over loopback: what
 * the prompts carry, what ends up in the output, and every failure mode
 * (server down, 429, 500, slow, truncated, prose, fenced JSON, wrong
 * shapes, a server without json_schema) ending in a complete analysis.
 *
 * The input is written the way creators write: unpunctuated auto-captions,
 * emoji, hashtags, Spanish mixed in.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/analyzer/engine.h"
#include "actors/analyzer/llm.h"
#include "tests/harness.h"

#define KEY "sk-test-secret-4242"

static pid_t fake_pid;
static int fake_port;

static void fake_start(const char *mode)
{
	static char modeenv[256];
	snprintf(modeenv, sizeof modeenv, "FAKE_LLM_MODE=%s", mode ? mode : "");
	const char *env[] = {"FAKE_LLM_KEY=" KEY, mode ? modeenv : NULL, NULL};
	fake_port = test_fake_server_start("tests/fake_llm/fake_llm.py", env, &fake_pid);
}

static size_t collect(char *d, size_t s, size_t n, void *arg)
{
	struct {
		char *p;
		size_t len;
	} *b = arg;
	char *q = realloc(b->p, b->len + s * n + 1);
	if (!q)
		return 0;
	memcpy(q + b->len, d, s * n);
	b->p = q;
	b->len += s * n;
	b->p[b->len] = '\0';
	return s * n;
}

/* GET /_requests of the fake: every completion request and what it answered. */
static json_t *fake_requests(void)
{
	char url[64];
	struct {
		char *p;
		size_t len;
	} b = {0};
	snprintf(url, sizeof url, "http://127.0.0.1:%d/_requests", fake_port);
	CURL *e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	if (curl_easy_perform(e) != CURLE_OK)
		FAIL("GET /_requests failed");
	curl_easy_cleanup(e);
	json_t *v = json_loads(b.p ? b.p : "", 0, NULL);
	free(b.p);
	if (!json_is_array(v))
		FAIL("/_requests: not an array");
	return v;
}

static int count_part(json_t *reqs, const char *part)
{
	int n = 0;
	json_t *r;
	size_t i;
	json_array_foreach(reqs, i, r) n +=
	    !strcmp(json_string_value(json_object_get(r, "part")), part);
	return n;
}

/* ---- the input: creators as they write ---- */

static json_t *reel(const char *id, const char *user, long long views, long long days_ago,
                    const char *caption, const char *transcript)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "content_id", id, "shortcode",
	                      id, "username", user, "view_count", (json_int_t)views, "like_count",
	                      (json_int_t)(views / 20), "comment_count", (json_int_t)(views / 300),
	                      "date_posted", (json_int_t)(1795824000 - days_ago * 86400));
	json_object_set_new(r, "description", caption ? json_string(caption) : json_null());
	json_object_set_new(r, "transcript_text",
	                    transcript ? json_string(transcript) : json_null());
	return r;
}

static json_t *job_input(void)
{
	json_t *reels = json_array();
	const char *me = "glow.with.vale", *c1 = "skin.by.sofi", *c2 = "dermadiaries.br";
	static const char *const own[] = {
	    "my night routine 🌙 nada complicado #skincare #nightroutine",
	    "stop buying 10 serums u need like 3 things ok",
	    "morning skin check ☀️ sunscreen every day even if its cloudy",
	    "trying the viral pimple patches honest review #acne",
	    "what i use for dry skin in winter 🥶 #dryskin"};
	for (int i = 0; i < 5; i++) {
		char id[16];
		snprintf(id, sizeof id, "GV%d", i);
		json_array_append_new(reels, reel(id, me, 4000 + 900 * i, 2 + 3 * i, own[i],
		                                  i == 1 ? "ok so stop buying ten serums you need "
		                                           "like three things a gentle cleanser a "
		                                           "moisturizer and sunscreen thats it"
		                                         : NULL));
	}
	static const char *const comp[] = {
	    "if i had to pick only 3 products it would be these 👇 #skincareroutine #barrierrepair",
	    "3 signs your skin barrier is damaged 😬 #barrierrepair",
	    "retinol para principiantes 🧴 empieza despacio #retinol",
	    "double cleansing explained in 30 sec #doublecleansing",
	    "stop over exfoliating por favor #barrierrepair",
	    "my 5 min routine antes del trabajo #skincareroutine",
	    "sunscreen reapplication over makeup hack #sunscreen",
	    "niacinamide vs vitamin c which one first #niacinamide"};
	for (int i = 0; i < 8; i++) {
		char id[16];
		snprintf(id, sizeof id, "C%d", i);
		json_array_append_new(
		    reels,
		    reel(id, i % 2 ? c2 : c1, i < 3 ? 90000 - 20000 * i : 8000 + 500 * i, 1 + 2 * i,
		         comp[i],
		         i == 0 ? "if i had to pick only three products it would be a gentle "
		                  "cleanser a barrier cream and sunscreen and honestly thats "
		                  "all you need"
		                : NULL));
	}
	json_t *profiles = json_pack(
	    "[{s:s, s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:i}, {s:s, s:s, s:s, s:i}]", "username",
	    me, "role", "primary", "profile_name", "Vale", "bio",
	    "esthetician 🌿 skincare sin complicaciones | bogotá", "followers", 12000, "username",
	    c1, "role", "competitor", "bio", "skin tips daily", "followers", 80000, "username", c2,
	    "role", "competitor", "bio", "pele saudável 🇧🇷", "followers", 150000);
	return json_pack("{s:I, s:{s:s, s:s, s:i, s:s, s:{s:s, s:s, s:s}}, s:o, s:o, s:n}", "now",
	                 (json_int_t)1795824000, "job", "queue_id", "test-llm-job",
	                 "primary_username", me, "analysis_run", 1, "analysis_type", "initial",
	                 "content_strategy", "contentType", "Short talking-head skincare tips",
	                 "targetAudience", "Women 25-35 with sensitive skin on a budget", "goals",
	                 "Sell 1:1 skin consultations", "profiles", profiles, "reels", reels,
	                 "since");
}

/* ---- running the engine ---- */

struct run {
	json_t *input, *rules, *out;
	double ms;
};

static void on_done(struct llm_job *j, void *arg)
{
	(void)j;
	*(bool *)arg = true;
}

static struct llm_config config(long job_ms)
{
	static char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", fake_port);
	return (struct llm_config){.base_url = url,
	                           .model = "fake-llm",
	                           .api_key = KEY,
	                           .temperature = 0.8,
	                           .max_tokens = 1500,
	                           .timeout_ms = 3000,
	                           .job_timeout_ms = job_ms,
	                           .concurrency = 3,
	                           .retries = 2,
	                           .json_schema = true};
}

/* Runs the rules engine, then the llm engine over it with cfg; cache (may be
 * NULL): key -> analysis entries given before the run. */
static struct run run_llm(const struct llm_config *cfg, json_t *cache, json_t **new_cache)
{
	struct run r = {.input = job_input()};
	char err[200];
	if (analysis_run(r.input, &r.rules, err, sizeof err) < 0)
		FAIL("rules engine: %s", err);
	r.out = json_deep_copy(r.rules);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct llm *l = llm_new(loop, cfg);
	struct llm_job *j = llm_job_new(l, r.input, r.out, "test");
	const char *key;
	json_t *v;
	json_object_foreach(cache, key, v) llm_job_cache_put(j, key, v);
	bool done = false;
	double t0 = test_now_ms();
	llm_job_run(j, on_done, &done);
	while (!done) {
		if (test_now_ms() - t0 > 20000)
			FAIL("llm job not done after 20 s");
		ev_run(loop, EVRUN_ONCE);
	}
	r.ms = test_now_ms() - t0;
	if (new_cache)
		*new_cache = json_deep_copy(llm_job_new_cache(j));
	llm_job_free(j);
	llm_free(l);
	ev_loop_destroy(loop);
	return r;
}

static void run_free(struct run *r)
{
	json_decref(r->input);
	json_decref(r->rules);
	json_decref(r->out);
}

static json_t *at(json_t *o, const char *path)
{
	char key[64];
	while (o && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof key, "%.*s", (int)n, path);
		o = isdigit((unsigned char)key[0]) ? json_array_get(o, (size_t)atoi(key))
		                                   : json_object_get(o, key);
		path += n + (path[n] == '.');
	}
	return o;
}

static const char *str(json_t *o, const char *path)
{
	return json_string_value(at(o, path));
}

static long long num(json_t *o, const char *path)
{
	return (long long)json_integer_value(at(o, path));
}

/* The hooks of the output equal those of the rules output (the fallback). */
static bool hooks_are_rules(struct run *r)
{
	json_t *a = at(r->out, "analysis_data.generated_hooks"),
	       *b = at(r->rules, "analysis_data.generated_hooks");
	if (json_array_size(a) != json_array_size(b))
		return false;
	for (size_t i = 0; i < json_array_size(a); i++)
		if (strcmp(str(json_array_get(a, i), "hook_text"),
		           str(json_array_get(b, i), "hook_text")))
			return false;
	return true;
}

/* ---- tests ---- */

TEST(llm_hooks_and_scripts_are_the_models_and_the_prompts_carry_strategy_and_statistics)
{
	fake_start(NULL);
	struct llm_config cfg = config(15000);
	struct run r = run_llm(&cfg, NULL, NULL);
	json_t *reqs = fake_requests();

	/* What was asked: one profile, one per picked reel, the hooks, five scripts. */
	size_t picks = json_array_size(at(r.out, "analysis_data.individual_reel_analyses"));
	ASSERT_CMP_INT(picks, >, 0);
	if (count_part(reqs, "generated_hooks") != 1)
		FAIL("notes: %s", json_dumps(at(r.out, "analysis_data.engine.notes"), 0));
	ASSERT_EQ_INT(count_part(reqs, "profile_analysis"), 1);
	ASSERT_EQ_INT(count_part(reqs, "hook_analysis"), picks);
	ASSERT_EQ_INT(count_part(reqs, "generated_hooks"), 1);
	ASSERT_EQ_INT(count_part(reqs, "script"), 5);

	/* The hooks request carried the job's strategy and the competitors' statistics. */
	json_t *hreq = NULL, *q;
	size_t i;
	json_array_foreach(reqs, i, q) if (!strcmp(str(q, "part"), "generated_hooks")) hreq = q;
	ASSERT(json_is_true(json_object_get(hreq, "auth_ok")));
	ASSERT_EQ_STR(str(hreq, "body.model"), "fake-llm");
	ASSERT_EQ_STR(str(hreq, "body.response_format.type"), "json_schema");
	const char *user = str(hreq, "body.messages.1.content");
	ASSERT_CONTAINS(user, "Women 25-35 with sensitive skin on a budget");
	ASSERT_CONTAINS(user, "Sell 1:1 skin consultations");
	ASSERT_CONTAINS(user, "\"competitor_outliers\"");
	ASSERT_CONTAINS(user, "\"outlier_vs_account_median\"");
	ASSERT_CONTAINS(user, "\"lift\"");
	ASSERT_CONTAINS(user, "if i had to pick only three products");
	ASSERT_CONTAINS(str(hreq, "body.messages.0.content"), "Never invent credentials");

	/* What was stored: the model's hooks and scripts, in place of the rules'. */
	json_t *reply = json_loads(str(hreq, "content"), 0, NULL);
	ASSERT(reply);
	for (int k = 0; k < 5; k++) {
		char p[64];
		snprintf(p, sizeof p, "hooks.%d.hook_text", k);
		const char *model_hook = str(reply, p);
		snprintf(p, sizeof p, "analysis_data.generated_hooks.%d.hook_text", k);
		ASSERT_EQ_STR(str(r.out, p), model_hook);
		snprintf(p, sizeof p, "scripts.%d.primary_hook", k);
		ASSERT_EQ_STR(str(r.out, p), model_hook);
		snprintf(p, sizeof p, "scripts.%d.ai_model", k);
		ASSERT_EQ_STR(str(r.out, p), "fake-llm");
		snprintf(p, sizeof p, "analysis_data.complete_scripts.%d.script_kind", k);
		ASSERT_EQ_STR(str(r.out, p), "spoken");
		snprintf(p, sizeof p, "analysis_data.complete_scripts.%d.script.full_script", k);
		ASSERT_CONTAINS(str(r.out, p), model_hook);
	}
	json_decref(reply);
	ASSERT(json_array_size(at(r.out, "analysis_data.profile_analysis.profile_summary."
	                                 "audience_pain_points")) > 0);

	/* Tokens: the sum of what the server reported. */
	long long pt = 0, ct = 0;
	json_array_foreach(reqs, i, q)
	{
		pt += num(q, "usage.prompt_tokens");
		ct += num(q, "usage.completion_tokens");
	}
	ASSERT_EQ_INT(num(r.out, "analysis_data.engine.prompt_tokens"), pt);
	ASSERT_EQ_INT(num(r.out, "analysis_data.engine.completion_tokens"), ct);
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.used"), "llm");
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.model"), "fake-llm");
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.prompt_version"), LLM_PROMPT_VERSION);
	ASSERT_CMP_INT(num(r.out, "analysis_data.engine.prompt_tokens"), >, 1000);
	ASSERT_CMP_INT(num(r.out, "analysis_data.engine.completion_tokens"), >, 100);
	ASSERT_EQ_INT(num(r.out, "analysis_data.engine.calls"), json_array_size(reqs));
	json_decref(reqs);
	run_free(&r);
}

TEST(llm_server_down_completes_with_the_rules_output_and_says_so)
{
	fake_start(NULL);
	struct llm_config cfg = config(5000);
	static char url[] = "http://127.0.0.1:1/v1"; /* nothing listens on port 1 */
	cfg.base_url = url;
	cfg.retries = 1;
	struct run r = run_llm(&cfg, NULL, NULL);
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.used"), "rules");
	ASSERT(hooks_are_rules(&r));
	ASSERT_EQ_STR(str(r.out, "scripts.0.ai_model"), "viralsup-engine");
	ASSERT_EQ_STR(str(r.out, "analysis_data.complete_scripts.0.script_kind"), "outline");
	ASSERT_CONTAINS(str(r.out, "analysis_data.engine.notes.0"), "connect");
	char *dump = json_dumps(at(r.out, "analysis_data.analysis_summary.notes"), 0);
	ASSERT_CONTAINS(dump, "rules engine's output");
	free(dump);
	ASSERT_CMP_INT(r.ms, <, 5000);
	run_free(&r);
}

TEST(llm_prose_replies_are_asked_again_once_then_fall_back)
{
	fake_start("nonjson");
	struct llm_config cfg = config(10000);
	struct run r = run_llm(&cfg, NULL, NULL);
	json_t *reqs = fake_requests();
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.used"), "rules");
	ASSERT(hooks_are_rules(&r));
	/* Each part asked twice; no script asked (no valid hooks). */
	ASSERT_EQ_INT(count_part(reqs, "generated_hooks"), 2);
	ASSERT_EQ_INT(count_part(reqs, "profile_analysis"), 2);
	ASSERT_EQ_INT(count_part(reqs, "script"), 0);
	ASSERT_CONTAINS(json_dumps(at(r.out, "analysis_data.engine.notes"), 0), "no JSON object");
	json_decref(reqs);
	run_free(&r);
}

TEST(llm_truncated_wrong_shape_and_empty_replies_fall_back_per_part)
{
	/* Hooks: truncated twice -> rules hooks; profile: wrong shape -> rules profile;
	 * hook analyses fine. */
	fake_start("truncated:2:generated_hooks");
	char ctl[128];
	snprintf(
	    ctl, sizeof ctl,
	    "curl -s -o /dev/null -d '{\"mode\":\"wrongshape\",\"part\":\"profile_analysis\"}' "
	    "http://127.0.0.1:%d/_control",
	    fake_port);
	ASSERT_EQ_INT(system(ctl), 0);
	struct llm_config cfg = config(10000);
	struct run r = run_llm(&cfg, NULL, NULL);
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.used"), "llm+rules");
	ASSERT(hooks_are_rules(&r));
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.parts.profile_analysis"), "rules");
	ASSERT_EQ_STR(str(r.out, "analysis_data.individual_reel_analyses.0.generated_by"), "llm");
	ASSERT_EQ_STR(str(r.out, "analysis_data.generated_hooks.0.generated_by"), "rules");
	char *notes = json_dumps(at(r.out, "analysis_data.engine.notes"), 0);
	ASSERT_CONTAINS(notes, "max_tokens");
	ASSERT_CONTAINS(notes, "missing");
	free(notes);
	run_free(&r);
}

TEST(llm_fenced_json_is_accepted)
{
	fake_start("fenced");
	struct llm_config cfg = config(10000);
	struct run r = run_llm(&cfg, NULL, NULL);
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.used"), "llm");
	ASSERT_EQ_INT(num(r.out, "analysis_data.engine.retries"), 0);
	ASSERT(!hooks_are_rules(&r));
	run_free(&r);
}

TEST(llm_429_with_retry_after_and_500_are_retried)
{
	fake_start("e429:1:generated_hooks:1");
	char ctl[160];
	snprintf(ctl, sizeof ctl,
	         "curl -s -o /dev/null -d '{\"mode\":\"e500\",\"count\":1,\"part\":\"script\"}' "
	         "http://127.0.0.1:%d/_control",
	         fake_port);
	ASSERT_EQ_INT(system(ctl), 0);
	struct llm_config cfg = config(15000);
	struct run r = run_llm(&cfg, NULL, NULL);
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.used"), "llm");
	ASSERT_EQ_INT(num(r.out, "analysis_data.engine.retries"), 2);
	/* Retry-After: 1 s was honoured before the hooks were asked again. */
	ASSERT_CMP_INT(r.ms, >=, 1000);
	run_free(&r);
}

TEST(llm_five_hooks_on_one_subject_are_rejected)
{
	fake_start("same_subject");
	struct llm_config cfg = config(10000);
	struct run r = run_llm(&cfg, NULL, NULL);
	ASSERT(hooks_are_rules(&r));
	ASSERT_CONTAINS(json_dumps(at(r.out, "analysis_data.engine.notes"), 0),
	                "share the subject");
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.parts.profile_analysis"), "llm");
	run_free(&r);
}

TEST(llm_server_without_json_schema_gets_json_object)
{
	fake_start("no_schema");
	struct llm_config cfg = config(10000);
	struct run r = run_llm(&cfg, NULL, NULL);
	json_t *reqs = fake_requests();
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.used"), "llm");
	ASSERT_EQ_STR(
	    str(json_array_get(reqs, json_array_size(reqs) - 1), "body.response_format.type"),
	    "json_object");
	json_decref(reqs);
	run_free(&r);
}

TEST(llm_job_deadline_bounds_a_slow_server)
{
	fake_start("slow:::4000");
	struct llm_config cfg = config(800);
	struct run r = run_llm(&cfg, NULL, NULL);
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.used"), "rules");
	ASSERT(hooks_are_rules(&r));
	ASSERT_CMP_INT(r.ms, <, 2000);
	ASSERT_CONTAINS(json_dumps(at(r.out, "analysis_data.engine.notes"), 0),
	                "job deadline reached");
	run_free(&r);
}

TEST(llm_api_key_is_never_in_the_output_or_notes)
{
	fake_start(NULL);
	struct llm_config cfg = config(5000);
	static char wrong[] = "sk-wrong-key-0000";
	cfg.api_key = wrong; /* the fake answers 401 "Incorrect API key provided" */
	struct run r = run_llm(&cfg, NULL, NULL);
	ASSERT_EQ_STR(str(r.out, "analysis_data.engine.used"), "rules");
	char *dump = json_dumps(r.out, 0);
	ASSERT(!strstr(dump, wrong));
	ASSERT(!strstr(dump, "Incorrect API key")); /* the body is never echoed */
	ASSERT_CONTAINS(dump, "HTTP 401");
	free(dump);
	run_free(&r);
}

TEST(llm_cached_hook_analyses_are_not_asked_again)
{
	fake_start(NULL);
	struct llm_config cfg = config(15000);
	json_t *cache = NULL;
	struct run r = run_llm(&cfg, NULL, &cache);
	size_t picks = json_array_size(at(r.out, "analysis_data.individual_reel_analyses"));
	ASSERT_EQ_INT(json_object_size(cache), picks);
	run_free(&r);
	json_t *before = fake_requests();
	struct run again = run_llm(&cfg, cache, NULL);
	json_t *after = fake_requests();
	ASSERT_EQ_INT(count_part(after, "hook_analysis"), count_part(before, "hook_analysis"));
	ASSERT_EQ_INT(num(again.out, "analysis_data.engine.cache_hits"), picks);
	ASSERT_EQ_STR(str(again.out, "analysis_data.individual_reel_analyses.0.generated_by"),
	              "cache");
	/* Another model is another key: nothing cached for it. */
	cfg.model = "other-model";
	struct run other = run_llm(&cfg, cache, NULL);
	ASSERT_EQ_INT(num(other.out, "analysis_data.engine.cache_hits"), 0);
	json_decref(before), json_decref(after), json_decref(cache);
	run_free(&again);
	run_free(&other);
}

/* A job on the example input (its rules output computed first) started
 * against the fake on a loop of its own, for the cancellation tests. */
struct started_job {
	struct ev_loop *loop;
	struct llm *l;
	struct llm_job *j;
	json_t *in, *out;
};

static void started_job_run(struct started_job *s, long deadline_ms, llm_done_fn done, bool *flag)
{
	struct llm_config cfg = config(deadline_ms);
	char err[200];
	s->in = job_input();
	ASSERT_EQ_INT(analysis_run(s->in, &s->out, err, sizeof err), 0);
	s->loop = ev_loop_new(EVFLAG_AUTO);
	s->l = llm_new(s->loop, &cfg);
	s->j = llm_job_new(s->l, s->in, s->out, "test");
	llm_job_run(s->j, done, flag);
}

static void started_job_end(struct started_job *s)
{
	llm_free(s->l);
	ev_loop_destroy(s->loop);
	json_decref(s->in), json_decref(s->out);
}

TEST(llm_job_freed_while_running_cancels_its_calls_without_callback)
{
	fake_start("slow:::3000");
	struct started_job s;
	bool done = false;
	started_job_run(&s, 10000, on_done, &done);
	/* Until a call is on the wire: the fake has it (and answers in 3 s). */
	double t0 = test_now_ms();
	for (;;) {
		ev_run(s.loop, EVRUN_NOWAIT);
		json_t *reqs = fake_requests();
		size_t seen = json_array_size(reqs);
		json_decref(reqs);
		if (seen > 0)
			break;
		if (test_now_ms() - t0 > 5000)
			FAIL("no call reached the fake within 5 s");
	}
	llm_job_free(s.j);
	ASSERT(!done);
	ASSERT_CMP_INT(llm_totals(s.l)->calls, >, 0);
	started_job_end(&s);
}

TEST(llm_parse_reply_tolerates_fences_and_rejects_wrong_shapes)
{
	char why[200];
	const char *ok =
	    "{\"hook_analysis\":{\"hook_text\":\"Stop buying ten serums.\","
	    "\"hook_type\":\"warning\",\"hook_strategy\":\"s\",\"power_words\":[],"
	    "\"emotional_triggers\":[],\"effectiveness_score\":14,\"why_it_works\":\"w\","
	    "\"psychological_principles\":[],\"audience_hook_match\":\"a\","
	    "\"improvement_potential\":\"i\"},\"engagement_correlation\":{"
	    "\"hook_to_engagement_strength\":\"high\",\"likely_scroll_stop_factors\":[],"
	    "\"retention_elements\":[]}}";
	char fenced[2048];
	snprintf(fenced, sizeof fenced, "Sure!\n```json\n%s\n```\nHope it helps", ok);
	json_t *v = llm_parse_reply(LLM_HOOK_ANALYSIS, fenced, strlen(fenced), why, sizeof why);
	ASSERT(v);
	/* Out-of-range scores are clamped. */
	ASSERT(json_real_value(at(v, "hook_analysis.effectiveness_score")) == 10.0);
	json_decref(v);
	ASSERT(!llm_parse_reply(LLM_HOOK_ANALYSIS, ok, strlen(ok) / 2, why, sizeof why));
	ASSERT_CONTAINS(why, "not JSON");
	ASSERT(!llm_parse_reply(LLM_HOOK_ANALYSIS, "{\"hook_analysis\":[]}", 20, why, sizeof why));
	ASSERT_CONTAINS(why, "hook_analysis: expected an object");
	ASSERT(!llm_parse_reply(LLM_HOOKS, "{\"hooks\":[]}", 12, why, sizeof why));
	ASSERT_CONTAINS(why, "hooks: 0 of 5");
	ASSERT(!llm_parse_reply(LLM_SCRIPT, "I can't help with that.", 23, why, sizeof why));
	ASSERT_CONTAINS(why, "no JSON object");
}

static void on_done_free(struct llm_job *j, void *arg)
{
	llm_job_free(j); /* as the analyzer does: the job ends inside its callback */
	*(bool *)arg = true;
}

TEST(llm_job_may_be_freed_by_its_callback_when_the_deadline_cancels_it)
{
	fake_start("slow:::3000");
	struct started_job s;
	bool done = false;
	started_job_run(&s, 300, on_done_free, &done);
	double t0 = test_now_ms();
	while (!done) {
		if (test_now_ms() - t0 > 5000)
			FAIL("not done 5 s after a 300 ms deadline");
		ev_run(s.loop, EVRUN_ONCE);
	}
	ASSERT_EQ_STR(str(s.out, "analysis_data.engine.used"), "rules");
	started_job_end(&s);
}
