/*
 * curl_ev and the rapidapi provider against the fake provider
 * (tests/fake_provider/fake_provider.py) over loopback: pagination,
 * transcripts, retries (429 + Retry-After, 5xx, reset), permanent failures
 * (404, private, malformed, truncated, too large), timeouts, rate limit,
 * cancellation. Each test starts its own fake server.
 */
#include <curl/curl.h>
#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actors/fetcher/provider.h"
#include "tests/harness.h"

static pid_t fake_pid;
static int fake_port;
static char fake_url[64];

/* Starts the fake provider with extra "NAME=value" environment entries. */
static void fake_start(const char *const *env)
{
	const char *all[32] = {"FAKE_KEY=test-key"};
	int n = 1;
	for (; env && *env && n < 31; env++)
		all[n++] = *env; /* later entries win */
	fake_port = test_fake_server_start("tests/fake_provider/fake_provider.py", all, &fake_pid);
	snprintf(fake_url, sizeof(fake_url), "http://127.0.0.1:%d", fake_port);
}

static void fake_stop(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGKILL);
		waitpid(fake_pid, NULL, 0);
		fake_pid = 0;
	}
}

static size_t collect(char *d, size_t s, size_t n, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), k = s * n;
	if (have + k < 65535) {
		memcpy(buf + have, d, k);
		buf[have + k] = '\0';
	}
	return s * n;
}

/* A blocking request to the fake's control endpoints; returns the answer JSON. */
static json_t *fake_call(const char *path, const char *post_json)
{
	static char buf[65536];
	char url[128];
	buf[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", fake_url, path);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
	if (post_json)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_json);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		FAIL("fake %s: %s", path, curl_easy_strerror(rc));
	json_t *j = json_loads(buf, 0, NULL);
	if (!j)
		FAIL("fake %s: bad answer %s", path, buf);
	return j;
}

static long long fake_requests_of(const char *user)
{
	json_t *s = fake_call("/_stats", NULL);
	long long n = json_integer_value(json_object_get(json_object_get(s, "by_user"), user));
	json_decref(s);
	return n;
}

static struct provider_opts opts(void)
{
	struct provider_opts o = {.scraper_url = fake_url,
	                          .transcript_url = fake_url,
	                          .api_key = "test-key",
	                          .max_attempts = 4,
	                          .backoff_base_ms = 20,
	                          .http = {.connect_timeout_ms = 2000, .total_timeout_ms = 5000}};
	return o;
}

static struct provider *rapidapi(const struct provider_opts *o)
{
	char err[256];
	struct provider *p = provider_new(EV_DEFAULT, "rapidapi", o, err, sizeof(err));
	if (!p)
		FAIL("provider_new: %s", err);
	return p;
}

struct outcome {
	int calls;
	enum fetch_status st;
	char reason[512];
	json_t *doc;
	int *remaining;
};

static void on_done(void *arg, enum fetch_status st, const char *why, json_t *doc)
{
	struct outcome *o = arg;
	o->calls++;
	o->st = st;
	snprintf(o->reason, sizeof(o->reason), "%s", why);
	o->doc = doc;
	if (!o->remaining || --*o->remaining == 0)
		ev_break(EV_DEFAULT, EVBREAK_ALL);
}

static void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until a callback breaks it or ms pass (never longer). */
static void loop_run_bounded(int ms)
{
	ev_timer guard;
	ev_timer_init(&guard, guard_cb, ms / 1000.0, 0.);
	ev_timer_start(EV_DEFAULT, &guard);
	ev_run(EV_DEFAULT, 0);
	ev_timer_stop(EV_DEFAULT, &guard);
}

/* Runs the loop until the outcome(s) arrive or ms pass; fails on timeout. */
static void run_until_done(struct outcome *o, int ms)
{
	loop_run_bounded(ms);
	if (o->calls == 0)
		FAIL("no fetch result within %d ms", ms);
}

/* Fetches one account; returns the outcome. */
static struct outcome fetch_one(struct provider *p, struct fetch_request req, int ms)
{
	struct outcome o = {0};
	ASSERT_EQ_INT(provider_fetch(p, &req, on_done, &o), 0);
	run_until_done(&o, ms);
	return o;
}

static json_t *fetch_info(struct outcome *o)
{
	return json_object_get(o->doc, "fetch");
}

static long long info_int(struct outcome *o, const char *k)
{
	return json_integer_value(json_object_get(fetch_info(o), k));
}

TEST(rapidapi_fetches_profile_paginated_reels_and_transcripts)
{
	const char *env[] = {"FAKE_REELS=30", NULL};
	fake_start(env);
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	struct outcome r =
	    fetch_one(p, (struct fetch_request){.username = "maya.lifts", .transcripts = 3}, 10000);
	ASSERT_EQ_STR(r.reason, "");
	ASSERT_EQ_INT(r.st, FETCH_OK);
	json_t *profile = json_object_get(r.doc, "profile");
	json_t *fixture = json_load_file("examples/instagram/maya.lifts/profile.json", 0, NULL);
	ASSERT(fixture != NULL);
	ASSERT_EQ_INT(json_integer_value(json_object_get(profile, "followers")),
	              json_integer_value(json_object_get(fixture, "follower_count")));
	ASSERT_EQ_STR(json_string_value(json_object_get(profile, "username")), "maya.lifts");
	ASSERT_EQ_INT(json_array_size(json_object_get(r.doc, "reels")), 30);
	ASSERT_EQ_INT(info_int(&r, "pages"), 3); /* 12 + 12 + 6 */
	ASSERT_EQ_STR(json_string_value(json_object_get(fetch_info(&r), "stop")), "end");
	ASSERT_EQ_INT(info_int(&r, "transcripts_requested"), 3);
	ASSERT_CMP_INT(info_int(&r, "transcripts_fetched"), >=, 1);
	ASSERT_EQ_INT(info_int(&r, "requests"), 1 + 3 + 3);
	ASSERT_EQ_INT(info_int(&r, "retries"), 0);
	/* The fake checked key, host header and form encoding on each of them. */
	json_t *s = fake_call("/_stats", NULL);
	json_t *bp = json_object_get(s, "by_path");
	ASSERT_EQ_INT(json_integer_value(json_object_get(bp, "/ig_get_fb_profile.php")), 1);
	ASSERT_EQ_INT(json_integer_value(json_object_get(bp, "/get_ig_user_reels.php")), 3);
	ASSERT_EQ_INT(json_integer_value(json_object_get(bp, "/transcript")), 3);
	json_decref(s);
	json_decref(fixture);
	json_decref(r.doc);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_wrong_key_is_a_permanent_failure)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.api_key = "wrong";
	struct provider *p = rapidapi(&o);
	struct outcome r = fetch_one(p, (struct fetch_request){.username = "maya.lifts"}, 5000);
	ASSERT_EQ_INT(r.st, FETCH_PERMANENT);
	ASSERT_CONTAINS(r.reason, "profile: HTTP 403");
	ASSERT_CONTAINS(r.reason, "not subscribed");
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_incremental_fetch_stops_at_the_newest_known_reel)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	struct outcome first = fetch_one(
	    p, (struct fetch_request){.username = "frugal.finn", .transcripts = -1}, 10000);
	ASSERT_EQ_INT(first.st, FETCH_OK);
	const char *newest = json_string_value(
	    json_object_get(json_array_get(json_object_get(first.doc, "reels"), 0), "shortcode"));
	json_decref(fake_call("/_control", "{\"username\":\"frugal.finn\",\"add_reels\":2}"));
	struct outcome again =
	    fetch_one(p,
	              (struct fetch_request){
	                  .username = "frugal.finn", .known_shortcode = newest, .transcripts = 1},
	              10000);
	ASSERT_EQ_INT(again.st, FETCH_OK);
	ASSERT_EQ_INT(json_array_size(json_object_get(again.doc, "reels")), 2);
	ASSERT_EQ_STR(json_string_value(json_object_get(fetch_info(&again), "stop")), "known");
	ASSERT_EQ_INT(info_int(&again, "pages"), 1);
	json_decref(first.doc);
	json_decref(again.doc);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_429_waits_for_retry_after_then_succeeds)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.backoff_base_ms = 10; /* if Retry-After were ignored, the retry would come at once */
	struct provider *p = rapidapi(&o);
	double t0 = test_now_ms();
	struct outcome r = fetch_one(
	    p, (struct fetch_request){.username = "e429x1__bob", .transcripts = -1}, 10000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_STR(r.reason, "");
	ASSERT_EQ_INT(r.st, FETCH_OK);
	ASSERT_EQ_INT(info_int(&r, "retries"), 1);
	ASSERT_CMP_INT(took, >=, 950); /* Retry-After: 1 */
	ASSERT_CMP_INT(took, <, 5000);
	json_decref(r.doc);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_429_with_retry_after_over_the_limit_fails_transient_at_once)
{
	fake_start(NULL);
	json_decref(
	    fake_call("/_control", "{\"username\":\"zed\",\"mode\":\"e429\",\"arg\":3600}"));
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	struct outcome r = fetch_one(p, (struct fetch_request){.username = "zed"}, 5000);
	ASSERT_EQ_INT(r.st, FETCH_TRANSIENT);
	ASSERT_CONTAINS(r.reason, "Retry-After 3600s is over the limit");
	ASSERT_EQ_INT(fake_requests_of("zed"), 1);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_retries_5xx_with_exponential_backoff)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.backoff_base_ms = 100;
	struct provider *p = rapidapi(&o);
	double t0 = test_now_ms();
	struct outcome r = fetch_one(
	    p, (struct fetch_request){.username = "e503x2__carl", .transcripts = -1}, 10000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(r.st, FETCH_OK);
	ASSERT_EQ_INT(info_int(&r, "retries"), 2);
	ASSERT_CMP_INT(took, >=, 300); /* 100 ms + 200 ms */
	json_decref(r.doc);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_persistent_5xx_is_transient_after_the_attempt_bound)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.max_attempts = 3;
	struct provider *p = rapidapi(&o);
	struct outcome r = fetch_one(p, (struct fetch_request){.username = "e503__dan"}, 10000);
	ASSERT_EQ_INT(r.st, FETCH_TRANSIENT);
	ASSERT_EQ_STR(r.reason, "profile: HTTP 503 after 3 attempts");
	ASSERT_EQ_INT(fake_requests_of("e503__dan"), 3);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_connection_reset_is_retried)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	struct outcome r = fetch_one(
	    p, (struct fetch_request){.username = "resetx1__kim", .transcripts = -1}, 10000);
	ASSERT_EQ_STR(r.reason, "");
	ASSERT_EQ_INT(r.st, FETCH_OK);
	ASSERT_EQ_INT(info_int(&r, "retries"), 1);
	json_decref(r.doc);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_404_is_permanent_without_retry)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	struct outcome r = fetch_one(p, (struct fetch_request){.username = "e404__erin"}, 5000);
	ASSERT_EQ_INT(r.st, FETCH_PERMANENT);
	ASSERT_CONTAINS(r.reason, "profile: HTTP 404 (not found)");
	ASSERT_EQ_INT(fake_requests_of("e404__erin"), 1);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_private_account_is_permanent)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	struct outcome r = fetch_one(p, (struct fetch_request){.username = "private__fay"}, 5000);
	ASSERT_EQ_INT(r.st, FETCH_PERMANENT);
	ASSERT_EQ_STR(r.reason, "private account");
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_malformed_and_truncated_json_are_permanent_with_reason)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	struct outcome r = fetch_one(p, (struct fetch_request){.username = "malformed__gus"}, 5000);
	ASSERT_EQ_INT(r.st, FETCH_PERMANENT);
	ASSERT_CONTAINS(r.reason, "profile: malformed JSON");
	/* Truncation on the reels page only: the account fails at that page. */
	json_decref(fake_call("/_control", "{\"username\":\"hal\",\"mode\":\"truncated\","
	                                   "\"path\":\"/get_ig_user_reels.php\"}"));
	r = fetch_one(p, (struct fetch_request){.username = "hal"}, 5000);
	ASSERT_EQ_INT(r.st, FETCH_PERMANENT);
	ASSERT_CONTAINS(r.reason, "reels page 1: reels: malformed JSON");
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_body_over_the_maximum_is_rejected)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.http.max_body = 1 << 20; /* the fake streams 16 MiB without Content-Length */
	struct provider *p = rapidapi(&o);
	double t0 = test_now_ms();
	struct outcome r = fetch_one(p, (struct fetch_request){.username = "huge__ivy"}, 10000);
	ASSERT_EQ_INT(r.st, FETCH_PERMANENT);
	ASSERT_CONTAINS(r.reason, "answer larger than 1048576 bytes");
	ASSERT_CMP_INT(test_now_ms() - t0, <, 5000);
	provider_free(p);
	fake_stop();
}

/*
 * How long one ordinary fetch (profile and one page, no transcripts) takes
 * right now: the unit of the upper bounds below, so a loaded machine
 * widens them instead of failing them. Needs the fake started.
 */
static double one_fetch_ms(void)
{
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	double t0 = test_now_ms();
	struct outcome r = fetch_one(
	    p, (struct fetch_request){.username = "lia", .max_pages = 1, .transcripts = -1}, 10000);
	double ms = test_now_ms() - t0;
	ASSERT_EQ_INT(r.st, FETCH_OK);
	json_decref(r.doc);
	provider_free(p);
	return ms;
}

/* took (ms) is at most base_ms plus ten ordinary fetches' worth (unit, from
 * one_fetch_ms) and 100 ms: the upper bound of every timed test below. */
#define ASSERT_TOOK_AT_MOST(took, base_ms, unit)                                                   \
	do {                                                                                       \
		if ((took) > (base_ms) + 10 * (unit) + 100)                                        \
			FAIL("took %.0f ms, more than %d + 10 x %.0f ms (one ordinary fetch now)", \
			     (double)(took), (int)(base_ms), (double)(unit));                      \
	} while (0)

TEST(rapidapi_timeout_is_retried_then_transient)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.http.total_timeout_ms = 300;
	o.max_attempts = 2;
	struct provider *p = rapidapi(&o);
	double unit = one_fetch_ms();
	double t0 = test_now_ms();
	struct outcome r =
	    fetch_one(p, (struct fetch_request){.username = "slowx3000__jay"}, 20000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(r.st, FETCH_TRANSIENT);
	ASSERT_CONTAINS(r.reason, "profile: timeout");
	ASSERT_CONTAINS(r.reason, "after 2 attempts");
	/* Two attempts of 300 ms, plus at most ten ordinary fetches' worth of
	 * overhead; an uncut attempt alone would take the fake's 3,000 ms. */
	ASSERT_CMP_INT(took, >=, 600);
	ASSERT_TOOK_AT_MOST(took, 600, unit);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_slow_drip_answer_hits_the_total_timeout)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.http.total_timeout_ms = 400;
	o.max_attempts = 1;
	struct provider *p = rapidapi(&o);
	double unit = one_fetch_ms();
	double t0 = test_now_ms();
	/* one byte every 100 ms: the headers arrive, the body never completes in time */
	struct outcome r = fetch_one(p, (struct fetch_request){.username = "dripx100__ned"}, 20000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(r.st, FETCH_TRANSIENT);
	ASSERT_CONTAINS(r.reason, "profile: timeout");
	ASSERT_CMP_INT(took, >=, 400);
	ASSERT_TOOK_AT_MOST(took, 400, unit);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_failed_transcripts_do_not_fail_the_account)
{
	fake_start(NULL);
	json_decref(fake_call("/_control", "{\"username\":\"lia\",\"mode\":\"e500\","
	                                   "\"path\":\"/transcript\"}"));
	struct provider_opts o = opts();
	o.max_attempts = 2;
	struct provider *p = rapidapi(&o);
	struct outcome r =
	    fetch_one(p, (struct fetch_request){.username = "lia", .transcripts = 2}, 10000);
	ASSERT_EQ_INT(r.st, FETCH_OK);
	ASSERT_EQ_INT(info_int(&r, "transcripts_failed"), 2);
	ASSERT_EQ_INT(info_int(&r, "transcripts_fetched"), 0);
	int failed = 0;
	size_t i;
	json_t *reel;
	json_array_foreach(json_object_get(r.doc, "reels"), i, reel)
	{
		if (strcmp(json_string_value(json_object_get(reel, "transcript_status")),
		           "failed") == 0) {
			failed++;
			ASSERT_CONTAINS(
			    json_string_value(json_object_get(reel, "transcript_error")),
			    "transcript: HTTP 500 after 2 attempts");
			ASSERT(json_is_null(json_object_get(reel, "transcript")));
		}
	}
	ASSERT_EQ_INT(failed, 2);
	json_decref(r.doc);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_many_accounts_concurrently_under_the_rate_limit)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.rate_per_sec = 40;
	o.burst = 1;
	double unit = one_fetch_ms();
	struct provider *p = rapidapi(&o);
	enum { N = 10 };
	struct outcome out[N] = {0};
	char names[N][32];
	int remaining = N;
	double t0 = test_now_ms();
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "user%d.bench", i);
		out[i].remaining = &remaining;
		struct fetch_request req = {
		    .username = names[i], .max_pages = 1, .transcripts = -1};
		ASSERT_EQ_INT(provider_fetch(p, &req, on_done, &out[i]), 0);
	}
	ASSERT_EQ_INT(provider_active(p), N);
	run_until_done(&out[0], 10000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(remaining, 0);
	for (int i = 0; i < N; i++) {
		ASSERT_EQ_INT(out[i].st, FETCH_OK);
		ASSERT_EQ_INT(info_int(&out[i], "requests"), 2);
		json_decref(out[i].doc);
	}
	/* 20 requests, 1 token at start, 40/s: at least 19/40 s; at most that
	 * plus ten ordinary fetches' worth (the machine's pace, measured). */
	ASSERT_CMP_INT(took, >=, 19 * 1000 / 40 - 5);
	ASSERT_TOOK_AT_MOST(took, 19 * 1000 / 40, unit);
	ASSERT_EQ_INT(provider_active(p), 0);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_cancel_all_ends_fetches_in_flight)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	struct outcome r = {0};
	struct fetch_request req = {.username = "slowx2000__max"};
	ASSERT_EQ_INT(provider_fetch(p, &req, on_done, &r), 0);
	/* Let the request reach the server, then cancel. */
	ev_run(EV_DEFAULT, EVRUN_NOWAIT);
	WAIT_UNTIL((ev_run(EV_DEFAULT, EVRUN_NOWAIT), fake_requests_of("slowx2000__max") == 1),
	           3000);
	provider_cancel_all(p);
	ASSERT_EQ_INT(r.calls, 1);
	ASSERT_EQ_INT(r.st, FETCH_CANCELLED);
	ASSERT_EQ_INT(provider_active(p), 0);
	provider_free(p);
	ASSERT_EQ_INT(r.calls, 1);
	fake_stop();
}

/* ---- the scheduler's deadline (fetch_request.deadline) ---- */

/* A deadline ms from now on the loop's clock, as the fetcher sets it from
 * FETCH_ACCOUNT's deadline_ms (the loop's time is refreshed first: a test's
 * loop has not run since its last callback). */
static double deadline_in(int ms)
{
	ev_now_update(EV_DEFAULT);
	return ev_now(EV_DEFAULT) + ms / 1000.0;
}

TEST(rapidapi_retry_after_past_the_deadline_fails_transient_at_once_and_pauses_nobody)
{
	fake_start(NULL);
	/* 40 s: under the 60 s retry_after_max_ms, so without a deadline it is waited. */
	json_decref(fake_call("/_control", "{\"username\":\"zoe\",\"mode\":\"e429\",\"arg\":40}"));
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	double unit = one_fetch_ms();
	double t0 = test_now_ms();
	struct outcome r = fetch_one(
	    p, (struct fetch_request){.username = "zoe", .deadline = deadline_in(12500)}, 10000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(r.st, FETCH_TRANSIENT);
	ASSERT_CONTAINS(r.reason,
	                "profile: HTTP 429: Retry-After 40s is past the scheduler's deadline (12.");
	ASSERT_CONTAINS(r.reason, "s left)");
	ASSERT_EQ_INT(fake_requests_of("zoe"), 1);
	printf("  %s (after %.0f ms)\n", r.reason, took);
	ASSERT_TOOK_AT_MOST(took, 0, unit);
	/* The Retry-After was not waited for, so it holds no other request. */
	t0 = test_now_ms();
	struct outcome other = fetch_one(
	    p, (struct fetch_request){.username = "lia", .max_pages = 1, .transcripts = -1}, 10000);
	ASSERT_EQ_INT(other.st, FETCH_OK);
	if (test_now_ms() - t0 > 10 * unit + 100)
		FAIL("another account took %.0f ms after the 429: the bucket was paused",
		     test_now_ms() - t0);
	json_decref(other.doc);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_backoff_past_the_deadline_is_not_waited)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.backoff_base_ms = 2000;
	struct provider *p = rapidapi(&o);
	double unit = one_fetch_ms();
	double t0 = test_now_ms();
	struct outcome r = fetch_one(
	    p, (struct fetch_request){.username = "e503__carl", .deadline = deadline_in(1000)},
	    10000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(r.st, FETCH_TRANSIENT);
	ASSERT_CONTAINS(r.reason,
	                "profile: HTTP 503: a retry in 2s is past the scheduler's deadline (");
	ASSERT_EQ_INT(fake_requests_of("e503__carl"), 1);
	ASSERT_TOOK_AT_MOST(took, 0, unit);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_attempt_timeout_is_cut_to_the_deadline)
{
	fake_start(NULL);
	struct provider_opts o = opts(); /* 5 s per attempt, 4 attempts */
	struct provider *p = rapidapi(&o);
	double unit = one_fetch_ms();
	double t0 = test_now_ms();
	struct outcome r = fetch_one(
	    p, (struct fetch_request){.username = "slowx3000__jay", .deadline = deadline_in(600)},
	    20000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(r.st, FETCH_TRANSIENT);
	ASSERT_CONTAINS(r.reason, "profile: timeout (");
	ASSERT_CONTAINS(r.reason, "the scheduler's deadline has passed");
	ASSERT_EQ_INT(fake_requests_of("slowx3000__jay"), 1);
	printf("  %s (after %.0f ms)\n", r.reason, took);
	/* Cut at 600 ms, not the attempt's 5 s nor the fake's 3 s. */
	ASSERT_CMP_INT(took, >=, 550);
	ASSERT_TOOK_AT_MOST(took, 600, unit);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_request_waiting_for_a_connection_ends_at_the_deadline)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.http.max_host_conns = 1;
	struct provider *p = rapidapi(&o);
	int remaining = 1;
	struct outcome slow = {0}, queued = {.remaining = &remaining};
	/* The only connection is busy for 3 s with an account without a deadline. */
	ASSERT_EQ_INT(provider_fetch(p, &(struct fetch_request){.username = "slowx3000__kai"},
	                             on_done, &slow),
	              0);
	double t0 = test_now_ms();
	ASSERT_EQ_INT(
	    provider_fetch(p,
	                   &(struct fetch_request){.username = "kai", .deadline = deadline_in(500)},
	                   on_done, &queued),
	    0);
	run_until_done(&queued, 10000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(queued.st, FETCH_TRANSIENT);
	ASSERT_CONTAINS(queued.reason, "profile: timeout (no connection to http://127.0.0.1:");
	ASSERT_CONTAINS(queued.reason, "the scheduler's deadline has passed");
	ASSERT_EQ_INT(fake_requests_of("kai"), 0);
	ASSERT_CMP_INT(took, >=, 450);
	ASSERT_CMP_INT(took, <, 2900); /* before the slow answer freed the connection */
	ASSERT_EQ_INT(slow.calls, 0);
	provider_free(p); /* the slow one ends cancelled */
	ASSERT_EQ_INT(slow.st, FETCH_CANCELLED);
	fake_stop();
}

TEST(rapidapi_request_waiting_for_the_rate_limit_ends_at_the_deadline)
{
	fake_start(NULL);
	struct provider_opts o = opts();
	o.rate_per_sec = 0.5; /* one token, the next 2 s later */
	o.burst = 1;
	struct provider *p = rapidapi(&o);
	double t0 = test_now_ms();
	struct outcome r =
	    fetch_one(p,
	              (struct fetch_request){
	                  .username = "lev", .transcripts = -1, .deadline = deadline_in(500)},
	              10000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(r.st, FETCH_TRANSIENT);
	ASSERT_EQ_STR(r.reason,
	              "reels page 1: waited for the rate limit until the scheduler's deadline");
	ASSERT_EQ_INT(fake_requests_of("lev"), 1); /* the profile only */
	ASSERT_CMP_INT(took, >=, 450);
	ASSERT_CMP_INT(took, <, 1900);
	provider_free(p);
	fake_stop();
}

TEST(rapidapi_without_a_deadline_waits_a_retry_after_as_before)
{
	fake_start(NULL);
	json_decref(fake_call("/_control",
	                      "{\"username\":\"uma\",\"mode\":\"e429\",\"count\":1,\"arg\":1}"));
	struct provider_opts o = opts();
	struct provider *p = rapidapi(&o);
	/* deadline 0: a scheduler from before deadline_ms, or a field that was ignored */
	struct outcome r = fetch_one(
	    p, (struct fetch_request){.username = "uma", .transcripts = -1, .deadline = 0}, 10000);
	ASSERT_EQ_INT(r.st, FETCH_OK);
	ASSERT_EQ_INT(info_int(&r, "retries"), 1);
	json_decref(r.doc);
	provider_free(p);
	fake_stop();
}

/* ---- curl_ev directly ---- */

/* A POST to the fake's profile endpoint for user, as the rapidapi provider
 * sends it (the URL and form live in static buffers until the next call). */
static struct curl_ev_request profile_request(const char *user, long timeout_ms)
{
	static char url[128], form[128];
	static const char *h[] = {"x-rapidapi-key: test-key",
	                          "x-rapidapi-host: instagram-scraper-stable-api.p.rapidapi.com",
	                          "Content-Type: application/x-www-form-urlencoded"};
	snprintf(url, sizeof(url), "%s/ig_get_fb_profile.php", fake_url);
	snprintf(form, sizeof(form), "username_or_url=%s", user);
	return (struct curl_ev_request){.method = "POST",
	                                .url = url,
	                                .headers = h,
	                                .nheaders = 3,
	                                .body = form,
	                                .timeout_ms = timeout_ms};
}

struct raw {
	int calls;
	struct curl_ev_response resp;
	char body[256];
};

static void on_raw(const struct curl_ev_response *resp, void *arg)
{
	struct raw *r = arg;
	r->calls++;
	r->resp = *resp;
	snprintf(r->body, sizeof(r->body), "%s", resp->body);
	r->resp.body = r->body;
	ev_break(EV_DEFAULT, EVBREAK_ALL);
}

TEST(curl_ev_reports_status_retry_after_and_body)
{
	fake_start(NULL);
	json_decref(fake_call("/_control", "{\"username\":\"rob\",\"mode\":\"e429\",\"arg\":7}"));
	struct curl_ev *cev = curl_ev_new(EV_DEFAULT, NULL);
	struct curl_ev_request req = profile_request("rob", 0);
	struct raw r = {0};
	ASSERT_EQ_INT(curl_ev_submit(cev, &req, on_raw, &r), 0);
	ASSERT_EQ_INT(r.calls, 0);
	ASSERT_EQ_INT(curl_ev_active(cev), 1);
	loop_run_bounded(10000);
	ASSERT_EQ_INT(r.calls, 1);
	ASSERT_EQ_INT(r.resp.result, CURL_EV_OK);
	ASSERT_EQ_INT(r.resp.status, 429);
	ASSERT_EQ_INT(r.resp.retry_after_ms, 7000);
	ASSERT_CONTAINS(r.body, "Too many requests");
	ASSERT_EQ_INT(curl_ev_active(cev), 0);

	struct curl_ev_request bad = {.method = "DELETE", .url = req.url};
	ASSERT_EQ_INT(curl_ev_submit(cev, &bad, on_raw, &r), -EINVAL);
	curl_ev_free(cev);
	fake_stop();
}

TEST(curl_ev_connect_refused_is_reported)
{
	struct curl_ev_opts o = {.connect_timeout_ms = 1000};
	struct curl_ev *cev = curl_ev_new(EV_DEFAULT, &o);
	/* Port 1 on loopback: nothing listens there. */
	struct curl_ev_request req = {.method = "GET", .url = "http://127.0.0.1:1/x"};
	struct raw r = {0};
	ASSERT_EQ_INT(curl_ev_submit(cev, &req, on_raw, &r), 0);
	loop_run_bounded(10000);
	ASSERT_EQ_INT(r.calls, 1);
	ASSERT_EQ_INT(r.resp.result, CURL_EV_CONNECT);
	ASSERT_EQ_INT(r.resp.status, 0);
	curl_ev_free(cev);
}

TEST(curl_ev_free_cancels_running_transfers)
{
	fake_start(NULL);
	struct curl_ev *cev = curl_ev_new(EV_DEFAULT, NULL);
	char url[128];
	snprintf(url, sizeof(url), "%s/_stats", fake_url);
	struct raw r[3] = {0};
	struct curl_ev_request req = {.method = "GET", .url = url};
	for (int i = 0; i < 3; i++)
		ASSERT_EQ_INT(curl_ev_submit(cev, &req, on_raw, &r[i]), 0);
	curl_ev_free(cev);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ_INT(r[i].calls, 1);
		ASSERT_EQ_INT(r[i].resp.result, CURL_EV_CANCELLED);
	}
	fake_stop();
}

/* ---- curl_ev's queue: transfers beyond max_host_conns wait for a connection ---- */

struct many {
	int calls, ok, timeouts, cancelled;
	int order[8]; /* which transfer (index) finished n-th */
	char error[CURL_ERROR_SIZE];
	int want;
};

struct many_arg {
	struct many *m;
	int index;
};

static void on_many(const struct curl_ev_response *resp, void *arg)
{
	struct many_arg *a = arg;
	struct many *m = a->m;
	if (m->calls < 8)
		m->order[m->calls] = a->index;
	m->calls++;
	if (resp->result == CURL_EV_OK && resp->status == 200)
		m->ok++;
	else if (resp->result == CURL_EV_TIMEOUT) {
		m->timeouts++;
		snprintf(m->error, sizeof(m->error), "%s", resp->error);
	} else if (resp->result == CURL_EV_CANCELLED)
		m->cancelled++;
	if (m->calls == m->want)
		ev_break(EV_DEFAULT, EVBREAK_ALL);
}

/* A profile request for user (the fake's fault prefixes apply). */
static int submit_profile(struct curl_ev *cev, const char *user, long timeout_ms,
                          struct many_arg *a)
{
	struct curl_ev_request req = profile_request(user, timeout_ms);
	return curl_ev_submit(cev, &req, on_many, a);
}

static void run_many(struct many *m, int ms)
{
	loop_run_bounded(ms);
	if (m->calls < m->want)
		FAIL("%d of %d transfers ended within %d ms", m->calls, m->want, ms);
}

TEST(curl_ev_runs_max_host_conns_transfers_at_once_and_queues_the_rest)
{
	fake_start(NULL);
	struct curl_ev_opts o = {.max_host_conns = 2};
	struct curl_ev *cev = curl_ev_new(EV_DEFAULT, &o);
	struct many m = {.want = 6};
	struct many_arg a[6];
	double t0 = test_now_ms();
	for (int i = 0; i < 6; i++) {
		a[i] = (struct many_arg){&m, i};
		/* each answer takes 300 ms */
		ASSERT_EQ_INT(submit_profile(cev, "slowx300__amy", 0, &a[i]), 0);
	}
	ASSERT_EQ_INT(curl_ev_active(cev), 6);
	ASSERT_EQ_INT(m.calls, 0);
	run_many(&m, 10000);
	double took = test_now_ms() - t0;
	ASSERT_EQ_INT(m.ok, 6);
	ASSERT_EQ_INT(curl_ev_active(cev), 0);
	/* Two at a time: three rounds of 300 ms; all six at once would take one. */
	ASSERT_CMP_INT(took, >=, 880);
	/* Queued in submission order: the first two finish before the last two. */
	for (int i = 4; i < 6; i++)
		ASSERT_CMP_INT(m.order[i], >=, 2);
	curl_ev_free(cev);
	fake_stop();
}

TEST(curl_ev_transfer_queued_past_its_timeout_ends_with_a_timeout)
{
	fake_start(NULL);
	struct curl_ev_opts o = {.max_host_conns = 1};
	struct curl_ev *cev = curl_ev_new(EV_DEFAULT, &o);
	struct many m = {.want = 2};
	struct many_arg slow = {&m, 0}, queued = {&m, 1};
	ASSERT_EQ_INT(submit_profile(cev, "slowx1500__bea", 5000, &slow), 0);
	ASSERT_EQ_INT(submit_profile(cev, "bea", 200, &queued), 0);
	run_many(&m, 10000);
	/* The queued one gave up after its 200 ms, long before the slow answer. */
	ASSERT_EQ_INT(m.order[0], 1);
	ASSERT_EQ_INT(m.timeouts, 1);
	ASSERT_CONTAINS(m.error, "no connection to http://127.0.0.1:");
	ASSERT_EQ_INT(m.ok, 1);
	curl_ev_free(cev);
	fake_stop();
}

TEST(curl_ev_cancel_ends_queued_transfers_and_the_queue_moves_on)
{
	fake_start(NULL);
	struct curl_ev_opts o = {.max_host_conns = 1};
	struct curl_ev *cev = curl_ev_new(EV_DEFAULT, &o);
	struct many m = {.want = 3};
	struct many_arg a[3] = {{&m, 0}, {&m, 1}, {&m, 2}};
	for (int i = 0; i < 3; i++)
		ASSERT_EQ_INT(submit_profile(cev, "slowx200__cy", 0, &a[i]), 0);
	/* The second waits for the first's connection; cancelling it runs its
	 * callback now and leaves the third queued. */
	ASSERT_EQ_INT(curl_ev_cancel(cev, &a[1]), 1);
	ASSERT_EQ_INT(m.calls, 1);
	ASSERT_EQ_INT(m.cancelled, 1);
	ASSERT_EQ_INT(curl_ev_active(cev), 2);
	run_many(&m, 10000);
	ASSERT_EQ_INT(m.ok, 2);
	ASSERT_EQ_INT(m.order[1], 0);
	ASSERT_EQ_INT(m.order[2], 2);
	/* Freeing with transfers queued cancels them too. */
	struct many m2 = {.want = 3};
	struct many_arg b[3] = {{&m2, 0}, {&m2, 1}, {&m2, 2}};
	for (int i = 0; i < 3; i++)
		ASSERT_EQ_INT(submit_profile(cev, "slowx200__cy", 0, &b[i]), 0);
	curl_ev_free(cev);
	ASSERT_EQ_INT(m2.calls, 3);
	ASSERT_EQ_INT(m2.cancelled, 3);
	fake_stop();
}

TEST(curl_ev_rejects_a_url_without_a_host_at_submit)
{
	struct curl_ev *cev = curl_ev_new(EV_DEFAULT, NULL);
	struct many m = {.want = 1};
	struct many_arg a = {&m, 0};
	struct curl_ev_request req = {.method = "GET", .url = "http://"};
	ASSERT_EQ_INT(curl_ev_submit(cev, &req, on_many, &a), -EINVAL);
	ASSERT_EQ_INT(curl_ev_active(cev), 0);
	curl_ev_free(cev);
	ASSERT_EQ_INT(m.calls, 0);
}
