/*
 * The llm engine's I/O half: a job's chat-completions calls, concurrently
 * on curl_ev in the caller's libev loop. See llm.h.
 *
 *   phase 1: profile analysis + one hook analysis per picked reel (unless
 *            cached) + the five hooks, all at once;
 *   phase 2: once the hooks are valid, the five scripts, all at once.
 *
 * Each call: transport failures (connect, timeout, 429, 5xx) are retried
 * with backoff (Retry-After honoured) up to cfg.retries, inside the job's
 * deadline; a reply that does not parse or validate is asked again once;
 * then that part keeps the rules engine's output and a note says why. The
 * API key goes into one header and nowhere else (not in notes, logs or
 * metrics; errors name the HTTP status, never the body).
 */
#include <errno.h>
#include <ev.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/llm.h"
#include "ipc/config.h"
#include "ipc/conn.h"
#include "ipc/curl_ev.h"

#define MAX_PICKS 16
#define NSCRIPTS  5

struct call {
	struct llm_job *job;
	enum llm_part part;
	int index;      /* hook analysis: entry index; script: hook index */
	int attempts;   /* HTTP attempts made */
	bool reasked;   /* an invalid reply was asked again */
	bool in_flight; /* a transfer is running */
	bool queued;    /* waiting for a concurrency slot */
	bool schema;    /* the last attempt asked for json_schema */
	ev_timer backoff;
	json_t *messages;
	struct call *next_queued, *next_in_job;
};

struct llm {
	struct ev_loop *loop;
	struct llm_config cfg;
	char *base_url, *model, *api_key, *auth_header;
	struct curl_ev *http;
	int inflight;
	struct call *queue_head, *queue_tail;
	struct llm_totals totals;
};

struct llm_job {
	struct llm *l;
	json_t *input, *out, *ctx;
	char job_id[64];
	ev_timer deadline;
	bool running, finished, expired;
	bool cancelling; /* job_cancel_calls is walking the calls: finish after it */
	llm_done_fn done;
	void *arg;
	struct call *calls;
	int pending;
	/* replies */
	json_t *profile, *hooks, *scripts[NSCRIPTS];
	json_t *analyses[MAX_PICKS];
	const char *analysis_by[MAX_PICKS]; /* "llm" | "cache" | NULL (rules) */
	int npicks;
	char keys[MAX_PICKS][33];
	const char *keyptr[MAX_PICKS];
	json_t *cached;    /* key -> analysis */
	json_t *new_cache; /* key -> analysis */
	json_t *notes;
	long long prompt_tokens, completion_tokens;
	int calls_made, calls_failed, retries;
};

static void *xzalloc(size_t n)
{
	void *p = calloc(1, n);
	if (!p) {
		fprintf(stderr, "llm: out of memory\n");
		abort();
	}
	return p;
}

static char *sdup(const char *s)
{
	char *d = strdup(s ? s : "");
	if (!d) {
		fprintf(stderr, "llm: out of memory\n");
		abort();
	}
	return d;
}

int llm_config_load(const struct config *cfg, struct llm_config *out, char *err, size_t errlen)
{
	const char *key = getenv("VIRALSUP_LLM_API_KEY");
	if (!key || !*key)
		key = getenv("OPENAI_API_KEY");
	const char *rf = config_str(cfg, "llm.response_format");
	*out = (struct llm_config){
	    .base_url = config_str(cfg, "llm.base_url"),
	    .model = config_str(cfg, "llm.model"),
	    .api_key = key ? key : "",
	    .temperature = config_double(cfg, "llm.temperature"),
	    .max_tokens = config_int(cfg, "llm.max_tokens"),
	    .timeout_ms = config_int(cfg, "llm.timeout_ms"),
	    .job_timeout_ms = config_int(cfg, "llm.job_timeout_ms"),
	    .concurrency = (int)config_int(cfg, "llm.concurrency"),
	    .retries = (int)config_int(cfg, "llm.retries"),
	    .json_schema = !strcmp(rf, "json_schema"),
	};
	if (strcmp(rf, "json_schema") && strcmp(rf, "json_object")) {
		snprintf(err, errlen, "llm.response_format must be json_schema or json_object");
		return -EINVAL;
	}
	if (strncmp(out->base_url, "http://", 7) && strncmp(out->base_url, "https://", 8)) {
		snprintf(err, errlen, "llm.base_url must start with http:// or https://");
		return -EINVAL;
	}
	if (!*out->model || strlen(out->model) > 100) {
		snprintf(err, errlen, "llm.model must be 1 to 100 characters");
		return -EINVAL;
	}
	if (strpbrk(out->api_key, "\r\n")) {
		snprintf(err, errlen, "the LLM API key contains a line break");
		return -EINVAL;
	}
	return 0;
}

/* The model server's HTTP answers by outcome (2xx, 429, anything else) and
 * the tokens it reported, sent in the analyzer's PONGs like the fetchers'
 * provider counters (the operations page, /metrics: what the model costs).
 * One llm per analyzer process. */
static struct {
	const struct llm *owner;
	uint64_t v[4]; /* requests, ok, throttled, errors */
} llm_counts;

static void llm_pack_stats(msgpack_packer *pk)
{
	static const char *const keys[] = {"requests", "ok", "throttled", "errors"};
	msgpack_pack_map(pk, 1);
	msg_pack_str(pk, "upstream");
	msgpack_pack_array(pk, 1);
	msgpack_pack_map(pk, 8);
	msg_pack_str(pk, "kind");
	msg_pack_str(pk, "model");
	msg_pack_str(pk, "name");
	msg_pack_str(pk, llm_counts.owner->model);
	for (int i = 0; i < 4; i++) {
		msg_pack_str(pk, keys[i]);
		msgpack_pack_uint64(pk, llm_counts.v[i]);
	}
	msg_pack_str(pk, "prompt_tokens");
	msgpack_pack_uint64(pk, llm_counts.owner->totals.prompt_tokens);
	msg_pack_str(pk, "completion_tokens");
	msgpack_pack_uint64(pk, llm_counts.owner->totals.completion_tokens);
}

struct llm *llm_new(struct ev_loop *loop, const struct llm_config *cfg)
{
	struct llm *l = xzalloc(sizeof *l);
	l->loop = loop;
	l->cfg = *cfg;
	l->base_url = sdup(cfg->base_url);
	size_t n = strlen(l->base_url);
	while (n > 0 && l->base_url[n - 1] == '/')
		l->base_url[--n] = '\0';
	l->model = sdup(cfg->model);
	l->api_key = sdup(cfg->api_key);
	l->cfg.base_url = l->base_url;
	l->cfg.model = l->model;
	l->cfg.api_key = l->api_key;
	if (l->cfg.concurrency < 1)
		l->cfg.concurrency = 1;
	if (*l->api_key) {
		size_t hn = strlen(l->api_key) + 32;
		l->auth_header = xzalloc(hn);
		snprintf(l->auth_header, hn, "Authorization: Bearer %s", l->api_key);
	}
	struct curl_ev_opts o = {.connect_timeout_ms = 5000,
	                         .total_timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 25000,
	                         .max_body = 4u << 20,
	                         .max_host_conns = l->cfg.concurrency};
	l->http = curl_ev_new(loop, &o);
	if (!llm_counts.owner) {
		llm_counts.owner = l;
		memset(llm_counts.v, 0, sizeof llm_counts.v);
		conn_set_pong_stats(llm_pack_stats);
	}
	return l;
}

void llm_free(struct llm *l)
{
	if (!l)
		return;
	if (llm_counts.owner == l) {
		conn_set_pong_stats(NULL);
		llm_counts.owner = NULL;
	}
	curl_ev_free(l->http);
	if (l->auth_header) {
		explicit_bzero(l->auth_header, strlen(l->auth_header));
		free(l->auth_header);
	}
	explicit_bzero(l->api_key, strlen(l->api_key));
	free(l->api_key);
	free(l->base_url);
	free(l->model);
	free(l);
}

const struct llm_totals *llm_totals(const struct llm *l)
{
	return &l->totals;
}

/* ---- the job ---- */

struct llm_job *llm_job_new(struct llm *l, const json_t *input, json_t *out, const char *job_id)
{
	struct llm_job *j = xzalloc(sizeof *j);
	j->l = l;
	j->input = json_incref((json_t *)input);
	j->out = json_incref(out);
	snprintf(j->job_id, sizeof j->job_id, "%s", job_id ? job_id : "");
	j->ctx = llm_context(input, out);
	j->cached = json_object();
	j->new_cache = json_object();
	j->notes = json_array();
	json_t *a =
	    json_object_get(json_object_get(out, "analysis_data"), "individual_reel_analyses");
	j->npicks = (int)json_array_size(a);
	if (j->npicks > MAX_PICKS)
		j->npicks = MAX_PICKS;
	for (int i = 0; i < j->npicks; i++) {
		llm_reel_key(input, json_array_get(a, (size_t)i), l->cfg.model, j->keys[i]);
		j->keyptr[i] = j->keys[i];
	}
	return j;
}

int llm_job_cache_keys(const struct llm_job *j, const char ***keys)
{
	*keys = (const char **)j->keyptr;
	return j->npicks;
}

void llm_job_cache_put(struct llm_job *j, const char *key, const json_t *analysis)
{
	char why[200];
	char *s = json_dumps(analysis, JSON_COMPACT);
	/* A cached entry is checked like a reply: a stale shape is ignored. */
	json_t *v = s ? llm_parse_reply(LLM_HOOK_ANALYSIS, s, strlen(s), why, sizeof why) : NULL;
	free(s);
	if (v)
		json_object_set_new(j->cached, key, v);
}

const json_t *llm_job_new_cache(const struct llm_job *j)
{
	return j->new_cache;
}

static void note(struct llm_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct llm_job *j, const char *fmt, ...)
{
	char buf[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (json_array_size(j->notes) < 24)
		json_array_append_new(j->notes, json_string(buf));
}

static void call_free(struct call *c)
{
	json_decref(c->messages);
	free(c);
}

static void call_send(struct call *c);
static void call_end(struct call *c, json_t *reply, const char *why);

static void queue_remove(struct llm *l, struct call *c)
{
	struct call **pp = &l->queue_head, *prev = NULL;
	for (; *pp; prev = *pp, pp = &(*pp)->next_queued)
		if (*pp == c) {
			*pp = c->next_queued;
			if (l->queue_tail == c)
				l->queue_tail = prev;
			c->next_queued = NULL;
			c->queued = false;
			return;
		}
}

/* Starts queued calls while there are free slots. */
static void pump(struct llm *l)
{
	while (l->queue_head && l->inflight < l->cfg.concurrency) {
		struct call *c = l->queue_head;
		queue_remove(l, c);
		call_send(c);
	}
}

static double job_left_ms(struct llm_job *j)
{
	return ev_timer_remaining(j->l->loop, &j->deadline) * 1000.0;
}

static void on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct call *c = w->data;
	call_send(c);
}

static void call_submit(struct call *c)
{
	struct llm *l = c->job->l;
	if (l->inflight >= l->cfg.concurrency) {
		c->queued = true;
		if (l->queue_tail)
			l->queue_tail->next_queued = c;
		else
			l->queue_head = c;
		l->queue_tail = c;
		return;
	}
	call_send(c);
}

static void on_http(const struct curl_ev_response *resp, void *arg);

static void call_send(struct call *c)
{
	struct llm_job *j = c->job;
	struct llm *l = j->l;
	if (l->inflight >= l->cfg.concurrency) {
		call_submit(c);
		return;
	}
	double left = job_left_ms(j);
	if (left < 50) {
		call_end(c, NULL, "job deadline reached");
		return;
	}
	json_t *body = json_pack(
	    "{s:s, s:O, s:f, s:I}", "model", l->model, "messages", c->messages, "temperature",
	    c->part == LLM_PROFILE || c->part == LLM_HOOK_ANALYSIS ? fmin(0.3, l->cfg.temperature)
	                                                           : l->cfg.temperature,
	    "max_tokens", (json_int_t)l->cfg.max_tokens);
	json_t *rf;
	c->schema = l->cfg.json_schema;
	if (c->schema)
		rf = json_pack("{s:s, s:{s:s, s:b, s:O}}", "type", "json_schema", "json_schema",
		               "name", llm_part_name(c->part), "strict", 1, "schema",
		               (json_t *)llm_schema(c->part));
	else
		rf = json_pack("{s:s}", "type", "json_object");
	json_object_set_new(body, "response_format", rf);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	char url[1200];
	snprintf(url, sizeof url, "%s/chat/completions", l->base_url);
	const char *headers[3] = {"Content-Type: application/json", "Accept: application/json",
	                          l->auth_header};
	long timeout = l->cfg.timeout_ms;
	if (left < timeout)
		timeout = (long)left;
	struct curl_ev_request req = {.method = "POST",
	                              .url = url,
	                              .headers = headers,
	                              .nheaders = l->auth_header ? 3 : 2,
	                              .body = text,
	                              .timeout_ms = timeout};
	int r = text ? curl_ev_submit(l->http, &req, on_http, c) : -ENOMEM;
	free(text);
	if (r < 0) {
		call_end(c, NULL, r == -EINVAL ? "bad llm.base_url" : "out of memory");
		return;
	}
	c->attempts++;
	c->in_flight = true;
	l->inflight++;
	j->calls_made++;
	l->totals.calls++;
}

/* Transport-level retry; false when out of attempts or time. */
static bool call_retry(struct call *c, long retry_after_ms)
{
	struct llm_job *j = c->job;
	if (c->attempts > j->l->cfg.retries)
		return false;
	double delay = retry_after_ms >= 0
	                   ? (double)retry_after_ms
	                   : 500.0 * (double)(1 << (c->attempts - 1 < 4 ? c->attempts - 1 : 4));
	if (delay > 20000)
		delay = 20000;
	if (delay + 100 > job_left_ms(j))
		return false;
	j->retries++;
	j->l->totals.retries++;
	ev_timer_init(&c->backoff, on_backoff, delay / 1000.0, 0.);
	c->backoff.data = c;
	ev_timer_start(j->l->loop, &c->backoff);
	return true;
}

static void on_http(const struct curl_ev_response *resp, void *arg)
{
	struct call *c = arg;
	struct llm_job *j = c->job;
	struct llm *l = j->l;
	char why[300];

	c->in_flight = false;
	l->inflight--;
	if (resp->result == CURL_EV_CANCELLED) {
		call_end(c, NULL, j->expired ? "job deadline reached" : "cancelled");
		pump(l);
		return;
	}
	if (llm_counts.owner == l) {
		llm_counts.v[0]++;
		llm_counts.v[resp->result == CURL_EV_OK && resp->status / 100 == 2 ? 1
		             : resp->result == CURL_EV_OK && resp->status == 429   ? 2
		                                                                   : 3]++;
	}
	if (resp->result != CURL_EV_OK) {
		snprintf(why, sizeof why, "%s", curl_ev_result_name(resp->result));
		if (!call_retry(c, -1))
			call_end(c, NULL, why);
		pump(l);
		return;
	}
	if (resp->status == 400 && c->schema && resp->body &&
	    (strstr(resp->body, "response_format") || strstr(resp->body, "json_schema"))) {
		/* The server has no structured outputs: json_object from now on. */
		l->cfg.json_schema = false;
		call_send(c);
		pump(l);
		return;
	}
	if (resp->status == 429 || resp->status == 408 || resp->status >= 500) {
		snprintf(why, sizeof why, "HTTP %ld", resp->status);
		if (!call_retry(c, resp->status == 429 ? resp->retry_after_ms : -1))
			call_end(c, NULL, why);
		pump(l);
		return;
	}
	if (resp->status != 200) {
		snprintf(why, sizeof why, "HTTP %ld", resp->status); /* never the body */
		call_end(c, NULL, why);
		pump(l);
		return;
	}
	json_error_t jerr;
	json_t *doc = json_loadb(resp->body, resp->body_len, 0, &jerr);
	json_t *usage = json_object_get(doc, "usage");
	long long pt = (long long)json_integer_value(json_object_get(usage, "prompt_tokens"));
	long long ct = (long long)json_integer_value(json_object_get(usage, "completion_tokens"));
	j->prompt_tokens += pt;
	j->completion_tokens += ct;
	l->totals.prompt_tokens += (uint64_t)pt;
	l->totals.completion_tokens += (uint64_t)ct;
	json_t *choice = json_array_get(json_object_get(doc, "choices"), 0);
	const json_t *content = json_object_get(json_object_get(choice, "message"), "content");
	const char *finish = json_string_value(json_object_get(choice, "finish_reason"));
	json_t *reply = NULL;
	if (!doc)
		snprintf(why, sizeof why, "answer is not a chat completion: %s", jerr.text);
	else if (!json_is_string(content))
		snprintf(why, sizeof why, "answer has no choices[0].message.content");
	else {
		reply = llm_parse_reply(c->part, json_string_value(content),
		                        json_string_length(content), why, sizeof why);
		if (!reply && finish && !strcmp(finish, "length"))
			snprintf(why, sizeof why, "reply cut at max_tokens (%ld)",
			         l->cfg.max_tokens);
	}
	json_decref(doc);
	if (!reply && !c->reasked && job_left_ms(j) > 100) {
		c->reasked = true;
		j->retries++;
		l->totals.retries++;
		call_send(c);
		pump(l);
		return;
	}
	call_end(c, reply, why);
	pump(l);
}

static void job_finish(struct llm_job *j);

static struct call *call_new(struct llm_job *j, enum llm_part part, int index, const json_t *arg)
{
	struct call *c = xzalloc(sizeof *c);
	c->job = j;
	c->part = part;
	c->index = index;
	c->messages = llm_messages(part, j->ctx, j->input, arg, j->hooks);
	c->next_in_job = j->calls;
	j->calls = c;
	j->pending++;
	return c;
}

static void call_unlink(struct call *c)
{
	for (struct call **pp = &c->job->calls; *pp; pp = &(*pp)->next_in_job)
		if (*pp == c) {
			*pp = c->next_in_job;
			return;
		}
}

/* A call is over: keep its reply (stolen) or note why not. */
static void call_end(struct call *c, json_t *reply, const char *why)
{
	struct llm_job *j = c->job;
	if (!reply) {
		j->calls_failed++;
		j->l->totals.call_failures++;
		if (c->part == LLM_HOOK_ANALYSIS || c->part == LLM_SCRIPT)
			note(j, "%s %d: %s; the rules engine's output is kept",
			     llm_part_name(c->part), c->index + 1, why);
		else
			note(j, "%s: %s; the rules engine's output is kept", llm_part_name(c->part),
			     why);
	}
	switch (c->part) {
	case LLM_PROFILE:
		j->profile = reply;
		break;
	case LLM_HOOK_ANALYSIS:
		j->analyses[c->index] = reply;
		j->analysis_by[c->index] = reply ? "llm" : NULL;
		if (reply)
			json_object_set(j->new_cache, j->keys[c->index], reply);
		break;
	case LLM_HOOKS:
		j->hooks = reply;
		break;
	case LLM_SCRIPT:
		j->scripts[c->index] = reply;
		break;
	default:
		json_decref(reply);
	}
	call_unlink(c);
	enum llm_part part = c->part;
	call_free(c);
	j->pending--;
	if (part == LLM_HOOKS && j->hooks && !j->expired)
		for (int i = 0; i < NSCRIPTS; i++) {
			json_t *idx = json_integer(i);
			call_submit(call_new(j, LLM_SCRIPT, i, idx));
			json_decref(idx);
		}
	if (j->pending == 0 && !j->cancelling)
		job_finish(j);
}

/* Ends every call of the job (each is noted as why). The job is not finished
 * (its callback may free it) until the walk is over. */
static void job_cancel_calls(struct llm_job *j)
{
	struct llm *l = j->l;
	j->cancelling = true;
	while (j->calls) {
		struct call *c = j->calls;
		if (c->queued)
			queue_remove(l, c);
		ev_timer_stop(l->loop, &c->backoff);
		if (c->in_flight)
			curl_ev_cancel(l->http, c); /* on_http -> call_end */
		else
			call_end(c, NULL, j->expired ? "job deadline reached" : "cancelled");
	}
	j->cancelling = false;
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct llm_job *j = w->data;
	j->expired = true;
	job_cancel_calls(j);
	if (j->pending == 0)
		job_finish(j); /* may free j */
}

void llm_job_run(struct llm_job *j, llm_done_fn done, void *arg)
{
	struct llm *l = j->l;
	j->done = done;
	j->arg = arg;
	j->running = true;
	ev_timer_init(&j->deadline, on_deadline,
	              (double)(l->cfg.job_timeout_ms > 0 ? l->cfg.job_timeout_ms : 50000) / 1000.0,
	              0.);
	j->deadline.data = j;
	ev_timer_start(l->loop, &j->deadline);
	j->pending++; /* held while the calls are created */
	call_submit(call_new(j, LLM_PROFILE, 0, NULL));
	json_t *a =
	    json_object_get(json_object_get(j->out, "analysis_data"), "individual_reel_analyses");
	for (int i = 0; i < j->npicks; i++) {
		json_t *hit = json_object_get(j->cached, j->keys[i]);
		if (hit) {
			j->analyses[i] = json_incref(hit);
			j->analysis_by[i] = "cache";
			l->totals.cache_hits++;
			continue;
		}
		call_submit(call_new(j, LLM_HOOK_ANALYSIS, i, json_array_get(a, (size_t)i)));
	}
	call_submit(call_new(j, LLM_HOOKS, 0, NULL));
	if (--j->pending == 0)
		job_finish(j);
}

static void job_merge(struct llm_job *j)
{
	struct llm *l = j->l;
	json_t *ad = json_object_get(j->out, "analysis_data");
	int nllm = 0, ncache = 0, nrules = 0, pairs = 0;
	if (j->profile)
		llm_merge_profile(j->out, j->profile);
	json_t *pa = json_object_get(ad, "profile_analysis");
	if (!j->profile && pa)
		json_object_set_new(pa, "generated_by", json_string("rules"));
	for (int i = 0; i < j->npicks; i++) {
		if (j->analyses[i]) {
			llm_merge_hook_analysis(j->out, (size_t)i, j->analyses[i],
			                        j->analysis_by[i]);
			*(strcmp(j->analysis_by[i], "cache") ? &nllm : &ncache) += 1;
		} else {
			json_t *e = json_array_get(json_object_get(ad, "individual_reel_analyses"),
			                           (size_t)i);
			if (e)
				json_object_set_new(e, "generated_by", json_string("rules"));
			nrules++;
		}
	}
	size_t rules_pairs = json_array_size(json_object_get(ad, "generated_hooks"));
	for (int i = 0; i < NSCRIPTS; i++) {
		const json_t *h =
		    j->hooks ? json_array_get(json_object_get(j->hooks, "hooks"), (size_t)i) : NULL;
		if (h && j->scripts[i]) {
			llm_merge_pair(j->out, j->input, i, h, j->scripts[i], &l->cfg);
			pairs++;
		} else {
			llm_merge_pair(j->out, j->input, i, NULL, NULL, &l->cfg);
			if (h && (size_t)i >= rules_pairs)
				note(j,
				     "hook %d: no script from the model and no rules hook to fall "
				     "back "
				     "on; dropped",
				     i + 1);
		}
	}
	json_t *sum = json_object_get(ad, "analysis_summary");
	size_t nh = json_array_size(json_object_get(ad, "generated_hooks"));
	json_object_set_new(sum, "hooks_generated", json_integer((json_int_t)nh));
	json_object_set_new(
	    sum, "scripts_created",
	    json_integer((json_int_t)json_array_size(json_object_get(ad, "complete_scripts"))));
	bool all = j->profile && nrules == 0 && pairs == NSCRIPTS;
	bool none = !j->profile && nllm + ncache == 0 && pairs == 0;
	const char *used = all ? "llm" : none ? "rules" : "llm+rules";
	l->totals.jobs++;
	*(all ? &l->totals.jobs_llm : none ? &l->totals.jobs_rules : &l->totals.jobs_partial) += 1;
	json_t *eng = json_pack(
	    "{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:{s:s, s:{s:i, s:i, s:i}, s:i, s:i}}",
	    "requested", "llm", "used", used, "model", l->model, "prompt_version",
	    LLM_PROMPT_VERSION, "calls", j->calls_made, "failed_calls", j->calls_failed, "retries",
	    j->retries, "prompt_tokens", (json_int_t)j->prompt_tokens, "completion_tokens",
	    (json_int_t)j->completion_tokens, "parts", "profile_analysis",
	    j->profile ? "llm" : "rules", "hook_analyses", "llm", nllm, "cache", ncache, "rules",
	    nrules, "pairs_llm", pairs, "pairs_rules", (int)nh - pairs);
	json_object_set(eng, "notes", j->notes);
	json_object_set_new(eng, "cache_hits", json_integer(ncache));
	json_object_set_new(ad, "engine", eng);
	if (!all) {
		json_t *notes = json_object_get(sum, "notes");
		char buf[300];
		snprintf(
		    buf, sizeof buf,
		    none
		        ? "LLM engine (%s) gave nothing usable: this is the rules engine's output "
		          "(see engine.notes)"
		        : "LLM engine (%s) partly failed: some parts are the rules engine's output "
		          "(see engine.notes)",
		    l->model);
		if (json_is_array(notes))
			json_array_append_new(notes, json_string(buf));
	}
}

static void job_finish(struct llm_job *j)
{
	if (j->finished || !j->running)
		return;
	j->finished = true;
	ev_timer_stop(j->l->loop, &j->deadline);
	job_merge(j);
	if (j->done)
		j->done(j, j->arg); /* may free j: nothing after this */
}

void llm_job_free(struct llm_job *j)
{
	if (!j)
		return;
	j->finished = true; /* cancelling calls must not finish (and call back) */
	job_cancel_calls(j);
	ev_timer_stop(j->l->loop, &j->deadline);
	json_decref(j->profile);
	json_decref(j->hooks);
	for (int i = 0; i < NSCRIPTS; i++)
		json_decref(j->scripts[i]);
	for (int i = 0; i < MAX_PICKS; i++)
		json_decref(j->analyses[i]);
	json_decref(j->cached);
	json_decref(j->new_cache);
	json_decref(j->notes);
	json_decref(j->ctx);
	json_decref(j->input);
	json_decref(j->out);
	free(j);
}
