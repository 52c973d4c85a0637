/*
 * The RapidAPI transport (SEED-SYSTEM.md appendix A): the Instagram scraper
 * API (profile, reels pages) and the transcript API, with x-rapidapi-key /
 * x-rapidapi-host headers and form-encoded POST bodies.
 *
 * Each request goes through the process's token bucket, then curl_ev; a
 * transient failure (429, 5xx, 408, timeout, connection error) is retried
 * after an exponential backoff (or the 429's Retry-After, which also pauses
 * the bucket) up to max_attempts; anything else is permanent.
 *
 * With a deadline (the scheduler's, actors/fetcher/deadline.h) every attempt's
 * timeout is at most the time left, a request still waiting for a token or a
 * connection at the deadline ends, and a retry that would start past it is
 * not made: the request ends FETCH_TRANSIENT with the reason.
 */
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/fetcher/deadline.h"
#include "actors/fetcher/provider_impl.h"

struct rreq {
	struct provider *p;
	enum doc_kind kind;
	char *url;
	char *form; /* POST body, NULL for GET */
	const char *host;
	doc_cb cb;
	void *cbarg;
	int attempts;
	double deadline; /* 0: none */
	bool in_flight, queued;
	ev_timer wait;            /* backoff before the next attempt; while queued, the deadline */
	struct rreq *prev, *next; /* all requests */
	struct rreq *qprev, *qnext; /* waiting for a token */
};

struct rapid {
	struct curl_ev *cev;
	struct ratelimit rl;
	ev_timer rl_timer;
	struct rreq *all;
	struct rreq *qhead, *qtail;
	char *key_header;
};

static struct rapid *rapid_of(struct provider *p)
{
	return p->impl;
}

static void rreq_dequeue(struct rapid *r, struct rreq *q)
{
	if (!q->queued)
		return;
	if (q->qprev)
		q->qprev->qnext = q->qnext;
	else
		r->qhead = q->qnext;
	if (q->qnext)
		q->qnext->qprev = q->qprev;
	else
		r->qtail = q->qprev;
	q->qprev = q->qnext = NULL;
	q->queued = false;
}

/* Ends q: unlinks it, runs its callback, frees it. */
static void rreq_complete(struct rreq *q, enum fetch_status st, const char *reason,
                          const char *body, size_t len)
{
	struct rapid *r = rapid_of(q->p);
	rreq_dequeue(r, q);
	ev_timer_stop(q->p->loop, &q->wait);
	if (q->prev)
		q->prev->next = q->next;
	else
		r->all = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->cb(q->cbarg, st, reason, body, len, q->attempts);
	free(q->url);
	free(q->form);
	free(q);
}

static void on_http(const struct curl_ev_response *resp, void *arg);

static void rreq_send(struct rreq *q)
{
	struct rapid *r = rapid_of(q->p);
	const char *hdrs[4];
	char hosthdr[300];
	size_t n = 0;

	snprintf(hosthdr, sizeof(hosthdr), "x-rapidapi-host: %s", q->host);
	hdrs[n++] = r->key_header;
	hdrs[n++] = hosthdr;
	hdrs[n++] = "Accept: application/json";
	if (q->form)
		hdrs[n++] = "Content-Type: application/x-www-form-urlencoded";
	long timeout_ms = fetch_attempt_timeout_ms(q->deadline, ev_now(q->p->loop),
	                                           q->p->opts.http.total_timeout_ms);
	if (timeout_ms <= 0) {
		rreq_complete(q, FETCH_TRANSIENT,
		              "the scheduler's deadline passed before the request could start",
		              NULL, 0);
		return;
	}
	/* curl_ev counts the timeout from here, its own queue included: a
	 * transfer still waiting for a connection at the deadline ends then. */
	struct curl_ev_request req = {.method = q->form ? "POST" : "GET",
	                              .url = q->url,
	                              .headers = hdrs,
	                              .nheaders = n,
	                              .body = q->form,
	                              .timeout_ms = timeout_ms};
	q->attempts++;
	int rc = curl_ev_submit(r->cev, &req, on_http, q);
	if (rc) {
		char why[128];
		snprintf(why, sizeof(why), "cannot start request to %.60s (%s)", q->url,
		         strerror(-rc));
		rreq_complete(q, FETCH_PERMANENT, why, NULL, 0);
		return;
	}
	q->in_flight = true;
}

/* Sends queued requests while the bucket has tokens; re-arms the timer. */
static void rate_pump(struct rapid *r, struct provider *p)
{
	while (r->qhead) {
		double wait = ratelimit_take(&r->rl, ev_now(p->loop));
		if (wait > 0) {
			ev_timer_stop(p->loop, &r->rl_timer);
			ev_timer_set(&r->rl_timer, wait, 0.);
			ev_timer_start(p->loop, &r->rl_timer);
			return;
		}
		struct rreq *q = r->qhead;
		rreq_dequeue(r, q);
		ev_timer_stop(p->loop, &q->wait); /* its deadline watch */
		rreq_send(q);
	}
}

static void rl_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct provider *p = w->data;
	rate_pump(rapid_of(p), p);
}

/* Queues q behind the requests already waiting for a token (FIFO). */
static void rreq_enqueue(struct rreq *q)
{
	struct rapid *r = rapid_of(q->p);
	q->queued = true;
	q->qprev = r->qtail;
	q->qnext = NULL;
	if (r->qtail)
		r->qtail->qnext = q;
	else
		r->qhead = q;
	r->qtail = q;
	if (q->deadline > 0) {
		/* A paused or empty bucket may hold it past the deadline: watch. */
		long left = fetch_deadline_left_ms(q->deadline, ev_now(q->p->loop));
		ev_timer_set(&q->wait, left / 1000.0, 0.);
		ev_timer_start(q->p->loop, &q->wait);
	}
	rate_pump(r, q->p);
}

static void wait_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rreq *q = w->data;
	(void)loop;
	(void)revents;
	if (q->queued) {
		rreq_complete(q, FETCH_TRANSIENT,
		              "waited for the rate limit until the scheduler's deadline", NULL, 0);
		return;
	}
	rreq_enqueue(q);
}

/* ms as "40s" or "12.3s". */
static void secs(char *out, size_t cap, long ms)
{
	if (ms % 1000 == 0)
		snprintf(out, cap, "%lds", ms / 1000);
	else
		snprintf(out, cap, "%.1fs", ms / 1000.0);
}

/* Ends q when a retry after delay_ms would start past its deadline; why is
 * the failure so far. Returns true when it did. */
static bool rreq_past_deadline(struct rreq *q, const char *why, long delay_ms, bool retry_after)
{
	double now = ev_now(q->p->loop);
	char reason[560], d[32], l[32];
	if (fetch_deadline_allows(q->deadline, now, delay_ms))
		return false;
	long left = fetch_deadline_left_ms(q->deadline, now);
	secs(d, sizeof(d), delay_ms);
	secs(l, sizeof(l), left);
	if (left == 0)
		snprintf(reason, sizeof(reason), "%s: the scheduler's deadline has passed", why);
	else if (retry_after)
		snprintf(reason, sizeof(reason),
		         "%s: Retry-After %s is past the scheduler's deadline (%s left)", why, d,
		         l);
	else
		snprintf(reason, sizeof(reason),
		         "%s: a retry in %s is past the scheduler's deadline (%s left)", why, d, l);
	rreq_complete(q, FETCH_TRANSIENT, reason, NULL, 0);
	return true;
}

/* A short, printable piece of an error answer for the reason text. */
static void snippet(char *out, size_t cap, const char *body, size_t len)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 1 < cap && i < 120; i++) {
		unsigned char c = (unsigned char)body[i];
		out[j++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
	}
	out[j] = '\0';
}

static void on_http(const struct curl_ev_response *resp, void *arg)
{
	struct rreq *q = arg;
	struct provider *p = q->p;
	struct rapid *r = rapid_of(p);
	char why[400], snip[128];
	bool transient = false;
	long delay_ms = -1;

	q->in_flight = false;
	if (resp->result == CURL_EV_CANCELLED) {
		rreq_complete(q, FETCH_CANCELLED, "cancelled", NULL, 0);
		return;
	}
	p->counts.requests++;
	if (resp->result == CURL_EV_OK && resp->status >= 200 && resp->status < 300)
		p->counts.ok++;
	else if (resp->result == CURL_EV_OK && resp->status == 429)
		p->counts.throttled++;
	else
		p->counts.errors++;
	if (resp->result == CURL_EV_OK && resp->status == 200) {
		rreq_complete(q, FETCH_OK, "", resp->body, resp->body_len);
		return;
	}
	switch (resp->result) {
	case CURL_EV_OK:
		snippet(snip, sizeof(snip), resp->body, resp->body_len);
		if (resp->status == 429 || resp->status == 408 || resp->status >= 500) {
			transient = true;
			snprintf(why, sizeof(why), "HTTP %ld", resp->status);
			if (resp->status == 429 && resp->retry_after_ms >= 0) {
				if (resp->retry_after_ms > p->opts.retry_after_max_ms) {
					snprintf(why, sizeof(why),
					         "HTTP 429, Retry-After %lds is over the limit",
					         resp->retry_after_ms / 1000);
					rreq_complete(q, FETCH_TRANSIENT, why, NULL, 0);
					return;
				}
				delay_ms = resp->retry_after_ms;
				/* Not waited for: ends now and, like one over the limit,
				 * pauses nobody (docs/DECISIONS.md D26). */
				if (rreq_past_deadline(q, why, delay_ms, true))
					return;
				/* The limit is the API's, not this request's: hold everyone. */
				ratelimit_pause(&r->rl, ev_now(p->loop) + delay_ms / 1000.0);
			}
		} else if (resp->status == 404) {
			snprintf(why, sizeof(why), "HTTP 404 (not found)%s%s", snip[0] ? ": " : "",
			         snip);
		} else {
			snprintf(why, sizeof(why), "HTTP %ld%s%s", resp->status,
			         snip[0] ? ": " : "", snip);
		}
		break;
	case CURL_EV_TIMEOUT:
	case CURL_EV_CONNECT:
	case CURL_EV_NETWORK:
		transient = true;
		snprintf(why, sizeof(why), "%s (%s)", curl_ev_result_name(resp->result),
		         resp->error);
		break;
	case CURL_EV_TOO_LARGE:
		snprintf(why, sizeof(why), "answer larger than %zu bytes", p->opts.http.max_body);
		break;
	default:
		snprintf(why, sizeof(why), "%s (%s)", curl_ev_result_name(resp->result),
		         resp->error);
		break;
	}
	if (!transient) {
		rreq_complete(q, FETCH_PERMANENT, why, NULL, 0);
		return;
	}
	if (q->attempts >= p->opts.max_attempts) {
		char final[460];
		snprintf(final, sizeof(final), "%s after %d attempts", why, q->attempts);
		rreq_complete(q, FETCH_TRANSIENT, final, NULL, 0);
		return;
	}
	if (delay_ms < 0) {
		delay_ms = p->opts.backoff_base_ms;
		for (int i = 1; i < q->attempts && delay_ms < p->opts.backoff_max_ms; i++)
			delay_ms *= 2;
		if (delay_ms > p->opts.backoff_max_ms)
			delay_ms = p->opts.backoff_max_ms;
		if (rreq_past_deadline(q, why, delay_ms, false))
			return;
	}
	ev_timer_set(&q->wait, delay_ms / 1000.0, 0.);
	ev_timer_start(p->loop, &q->wait);
}

static char *strip_slash(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	size_t n = strlen(d);
	while (n > 0 && d[n - 1] == '/')
		d[--n] = '\0';
	return d;
}

static int rapid_get(struct provider *p, enum doc_kind kind, const char *username, const char *arg,
                     double deadline, doc_cb cb, void *cbarg)
{
	struct rapid *r = rapid_of(p);
	char enc_user[3 * PROVIDER_MAX_USERNAME + 1], enc[3 * PROVIDER_MAX_TOKEN + 1];
	char *base = NULL, *url = NULL, *form = NULL;
	const char *host;

	if (curl_ev_urlencode(enc_user, sizeof(enc_user), username) < 0)
		return -EINVAL;
	switch (kind) {
	case DOC_PROFILE:
		base = strip_slash(p->opts.scraper_url);
		host = p->opts.scraper_host;
		if (asprintf(&url, "%s/ig_get_fb_profile.php", base) < 0 ||
		    asprintf(&form, "username_or_url=%s", enc_user) < 0)
			abort();
		break;
	case DOC_REELS:
		if (arg && curl_ev_urlencode(enc, sizeof(enc), arg) < 0)
			return -EINVAL;
		base = strip_slash(p->opts.scraper_url);
		host = p->opts.scraper_host;
		if (asprintf(&url, "%s/get_ig_user_reels.php", base) < 0 ||
		    asprintf(&form, "username_or_url=%s&count=%d%s%s", enc_user,
		             p->opts.reels_page_count, arg ? "&max_id=" : "", arg ? enc : "") < 0)
			abort();
		break;
	case DOC_TRANSCRIPT: {
		char reel[160];
		if (!provider_shortcode_ok(arg))
			return -EINVAL;
		snprintf(reel, sizeof(reel), "https://www.instagram.com/p/%s/", arg);
		curl_ev_urlencode(enc, sizeof(enc), reel);
		base = strip_slash(p->opts.transcript_url);
		host = p->opts.transcript_host;
		if (asprintf(&url, "%s/transcript?url=%s&chunkSize=500&text=false", base, enc) < 0)
			abort();
		break;
	}
	default:
		return -EINVAL;
	}
	free(base);
	struct rreq *q = calloc(1, sizeof(*q));
	if (!q)
		abort();
	q->p = p;
	q->kind = kind;
	q->url = url;
	q->form = form;
	q->host = host;
	q->cb = cb;
	q->cbarg = cbarg;
	q->deadline = deadline;
	ev_timer_init(&q->wait, wait_cb, 0., 0.);
	q->wait.data = q;
	q->next = r->all;
	if (r->all)
		r->all->prev = q;
	r->all = q;
	/* Even with a token at hand, send from the loop: callbacks never run
	 * inside get, and a failed submit must not either. */
	ev_timer_set(&q->wait, 0., 0.);
	ev_timer_start(p->loop, &q->wait);
	return 0;
}

static void rapid_cancel_all(struct provider *p)
{
	struct rapid *r = rapid_of(p);
	curl_ev_cancel_all(r->cev); /* in-flight ones complete through on_http */
	while (r->all)
		rreq_complete(r->all, FETCH_CANCELLED, "cancelled", NULL, 0);
	ev_timer_stop(p->loop, &r->rl_timer);
}

static void rapid_destroy(struct provider *p)
{
	struct rapid *r = rapid_of(p);
	curl_ev_free(r->cev);
	ev_timer_stop(p->loop, &r->rl_timer);
	free(r->key_header);
	free(r);
	p->impl = NULL;
}

static const struct transport_ops rapid_ops = {
    .name = "rapidapi",
    .get = rapid_get,
    .cancel_all = rapid_cancel_all,
    .destroy = rapid_destroy,
};

int transport_rapidapi_init(struct provider *p, char *err, size_t errlen)
{
	if (!p->opts.api_key || !*p->opts.api_key) {
		snprintf(err, errlen, "provider rapidapi needs RAPIDAPI_KEY");
		return -EINVAL;
	}
	if (strpbrk(p->opts.api_key, "\r\n")) {
		snprintf(err, errlen, "RAPIDAPI_KEY contains a line break");
		return -EINVAL;
	}
	struct rapid *r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	if (p->opts.http.max_body == 0)
		p->opts.http.max_body = 8u << 20;
	if (p->opts.http.total_timeout_ms <= 0) /* curl_ev's default, which the deadline shortens */
		p->opts.http.total_timeout_ms = 30000;
	r->cev = curl_ev_new(p->loop, &p->opts.http);
	ratelimit_init(&r->rl, p->opts.rate_per_sec, p->opts.burst, ev_now(p->loop));
	ev_timer_init(&r->rl_timer, rl_timer_cb, 0., 0.);
	r->rl_timer.data = p;
	if (asprintf(&r->key_header, "x-rapidapi-key: %s", p->opts.api_key) < 0)
		abort();
	p->impl = r;
	p->ops = &rapid_ops;
	return 0;
}
