/*
 * curl_ev: libcurl's multi_socket interface on a libev loop.
 *
 * libcurl tells us which sockets to watch (sock_cb) and when to call it back
 * for timeouts (timer_cb); libev tells libcurl when a socket is ready
 * (io_cb -> curl_multi_socket_action). Finished transfers are collected with
 * curl_multi_info_read after every action and handed to their callbacks.
 *
 * A transfer gets its easy handle only when its origin has a connection
 * free (max_host_conns): libcurl would park the others in its pending state,
 * each already holding an easy handle and a 16 KiB receive buffer (~22 KiB;
 * a fetcher with 32 accounts x 5 transcripts parked ~150, 3.4 MiB of its
 * 5 MiB heap peak). Queued here they are bare requests; the concurrency is
 * the same. An origin that answers over HTTP/2 multiplexes (libcurl runs many
 * transfers per connection): once such an answer came, its queue drains.
 */
#include "ipc/curl_ev.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <ev.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The transfers to one scheme://host:port. */
struct origin {
	char *key;
	int refs;                       /* transfers (queued or running) that point here */
	int running;                    /* handed to libcurl */
	bool multiplexed;               /* an answer came over HTTP/2 or later: no cap */
	struct transfer *qhead, *qtail; /* waiting for a connection, oldest first */
	struct origin *prev, *next;
};

struct transfer {
	struct curl_ev *cev;
	struct origin *origin;
	CURL *easy; /* NULL while queued */
	/* The request, kept until the transfer starts. */
	char *url, *body; /* body NULL for GET */
	long timeout_ms;
	ev_tstamp submitted;  /* the total timeout counts from here, queueing included */
	ev_timer queue_timer; /* ends a transfer that stays queued for its whole timeout */
	struct transfer *qprev, *qnext;
	bool queued;
	struct curl_slist *headers;
	char *buf; /* the body received so far, NUL-terminated */
	size_t len, cap;
	bool too_large;
	long retry_after_ms;
	curl_ev_cb cb;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
	struct transfer *prev, *next;
};

/* One watched socket (curl_multi_assign'ed to its fd). */
struct sock_watch {
	ev_io io;
	struct curl_ev *cev;
};

struct curl_ev {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	struct curl_ev_opts opts;
	int active;
	bool cancelling_all; /* no queued transfer starts while everything is ending */
	struct transfer *head;
	struct origin *origins;
};

static void *cev_alloc(size_t n)
{
	void *p = calloc(1, n);
	if (!p) {
		fprintf(stderr, "curl_ev: out of memory\n");
		abort();
	}
	return p;
}

const char *curl_ev_result_name(enum curl_ev_result r)
{
	switch (r) {
	case CURL_EV_OK:
		return "ok";
	case CURL_EV_TIMEOUT:
		return "timeout";
	case CURL_EV_CONNECT:
		return "connect failed";
	case CURL_EV_NETWORK:
		return "network error";
	case CURL_EV_TOO_LARGE:
		return "body too large";
	case CURL_EV_CANCELLED:
		return "cancelled";
	case CURL_EV_ERROR:
		return "error";
	}
	return "?";
}

static void transfer_unlink(struct transfer *t)
{
	struct curl_ev *cev = t->cev;
	if (t->prev)
		t->prev->next = t->next;
	else
		cev->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	cev->active--;
}

/* scheme://host:port of url (the default port filled in), or NULL for a bad URL. */
static char *origin_key(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *key = NULL;

	/* CURLU_GUESS_SCHEME: libcurl reads a URL without a scheme the same way. */
	bool ok = u && curl_url_set(u, CURLUPART_URL, url, CURLU_GUESS_SCHEME) == CURLUE_OK &&
	          curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	          curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	          curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
	if (!ok || asprintf(&key, "%s://%s:%s", scheme, host, port) < 0)
		key = NULL;
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return key;
}

/* The origin of key (taking a reference), created on first use. Takes key. */
static struct origin *origin_get(struct curl_ev *cev, char *key)
{
	struct origin *o;
	for (o = cev->origins; o; o = o->next)
		if (strcmp(o->key, key) == 0)
			break;
	if (o) {
		free(key);
	} else {
		o = cev_alloc(sizeof(*o));
		o->key = key;
		o->next = cev->origins;
		if (cev->origins)
			cev->origins->prev = o;
		cev->origins = o;
	}
	o->refs++;
	return o;
}

static void origin_put(struct curl_ev *cev, struct origin *o)
{
	if (--o->refs > 0)
		return;
	if (o->prev)
		o->prev->next = o->next;
	else
		cev->origins = o->next;
	if (o->next)
		o->next->prev = o->prev;
	free(o->key);
	free(o);
}

static bool origin_full(const struct curl_ev *cev, const struct origin *o)
{
	return !o->multiplexed && o->running >= cev->opts.max_host_conns;
}

/* Appends t to its origin's queue, its queue timeout running. */
static void queue_push(struct transfer *t)
{
	struct origin *o = t->origin;
	t->queued = true;
	t->qprev = o->qtail;
	if (o->qtail)
		o->qtail->qnext = t;
	else
		o->qhead = t;
	o->qtail = t;
	ev_timer_start(t->cev->loop, &t->queue_timer);
}

static void queue_remove(struct transfer *t)
{
	struct origin *o = t->origin;
	if (!t->queued)
		return;
	if (t->qprev)
		t->qprev->qnext = t->qnext;
	else
		o->qhead = t->qnext;
	if (t->qnext)
		t->qnext->qprev = t->qprev;
	else
		o->qtail = t->qprev;
	t->qprev = t->qnext = NULL;
	t->queued = false;
	ev_timer_stop(t->cev->loop, &t->queue_timer);
}

static void transfer_free(struct transfer *t)
{
	if (t->easy)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	free(t->url);
	free(t->body);
	free(t->buf);
	origin_put(t->cev, t->origin);
	free(t);
}

static enum curl_ev_result map_code(CURLcode rc, bool too_large)
{
	switch (rc) {
	case CURLE_OK:
		return CURL_EV_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return CURL_EV_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return CURL_EV_CONNECT;
	case CURLE_FILESIZE_EXCEEDED:
		return CURL_EV_TOO_LARGE;
	case CURLE_WRITE_ERROR:
		return too_large ? CURL_EV_TOO_LARGE : CURL_EV_ERROR;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
		return CURL_EV_NETWORK;
	default:
		return CURL_EV_ERROR;
	}
}

static void origin_pump(struct curl_ev *cev, struct origin *o);

/* Completes t (queued or running): detaches it, lets the next queued
 * transfer of its origin start, runs its callback, frees it. */
static void transfer_finish(struct transfer *t, enum curl_ev_result result)
{
	struct curl_ev *cev = t->cev;
	struct curl_ev_response r = {.result = result, .retry_after_ms = -1};
	double secs = 0;

	transfer_unlink(t);
	if (t->easy) {
		curl_multi_remove_handle(cev->multi, t->easy);
		t->origin->running--;
		if (result == CURL_EV_OK)
			curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &r.status);
		curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &secs);
	} else {
		queue_remove(t);
		secs = ev_now(cev->loop) - t->submitted;
	}
	/* Before the callback, so that what it submits queues behind. */
	if (!cev->cancelling_all)
		origin_pump(cev, t->origin);
	r.total_ms = secs * 1000.0;
	r.retry_after_ms = t->retry_after_ms;
	r.body = t->buf ? t->buf : "";
	r.body_len = t->len;
	r.error =
	    result == CURL_EV_OK ? "" : (t->errbuf[0] ? t->errbuf : curl_ev_result_name(result));
	if (result == CURL_EV_CANCELLED)
		r.error = "cancelled";
	t->cb(&r, t->arg);
	transfer_free(t);
}

static void check_done(struct curl_ev *cev)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(cev->multi, &left))) {
		struct transfer *t = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURLcode rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		transfer_finish(t, map_code(rc, t->too_large));
	}
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	struct sock_watch *sw = (struct sock_watch *)w;
	/* The action may close the socket and free sw: keep what we need. */
	struct curl_ev *cev = sw->cev;
	int flags =
	    (revents & EV_READ ? CURL_CSELECT_IN : 0) | (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;

	curl_multi_socket_action(cev->multi, w->fd, flags, &running);
	check_done(cev);
}

static void timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct curl_ev *cev = w->data;
	int running;

	curl_multi_socket_action(cev->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(cev);
}

/* libcurl asks for a (new) timeout; -1 means none. Never act from here. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	(void)multi;
	struct curl_ev *cev = userp;

	ev_timer_stop(cev->loop, &cev->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&cev->timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(cev->loop, &cev->timer);
	}
	return 0;
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	(void)easy;
	struct curl_ev *cev = userp;
	struct sock_watch *sw = socketp;

	if (what == CURL_POLL_REMOVE) {
		if (sw) {
			ev_io_stop(cev->loop, &sw->io);
			curl_multi_assign(cev->multi, s, NULL);
			free(sw);
		}
		return 0;
	}
	int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
	if (!sw) {
		sw = cev_alloc(sizeof(*sw));
		sw->cev = cev;
		ev_io_init(&sw->io, io_cb, s, events);
		curl_multi_assign(cev->multi, s, sw);
	} else {
		ev_io_stop(cev->loop, &sw->io);
		ev_io_set(&sw->io, s, events);
	}
	ev_io_start(cev->loop, &sw->io);
	return 0;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;
	size_t max = t->cev->opts.max_body;

	if (n > max || t->len > max - n) {
		t->too_large = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->len + n + 1)
			cap *= 2;
		if (cap > max + 1)
			cap = max + 1;
		char *p = realloc(t->buf, cap);
		if (!p)
			return 0;
		t->buf = p;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return n;
}

/* Retry-After: delta-seconds or an HTTP date (RFC 9110 10.2.3). */
static long parse_retry_after(const char *v, size_t n)
{
	char tmp[128];
	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, v, n);
	tmp[n] = '\0';
	if (isdigit((unsigned char)tmp[0])) {
		char *end;
		long s = strtol(tmp, &end, 10);
		if (s < 0 || s > 86400)
			return -1;
		return s * 1000;
	}
	time_t at = curl_getdate(tmp, NULL);
	if (at == -1)
		return -1;
	time_t now = time(NULL);
	return at > now ? (long)(at - now) * 1000 : 0;
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		t->retry_after_ms = -1; /* a new answer (after 100-continue) */
		if (n >= 6 && data[5] >= '2' && data[5] <= '9')
			t->origin->multiplexed = true; /* its queue drains at the next finish */
	}
	if (n > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
		const char *v = data + sizeof(name) - 1, *e = data + n;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
			e--;
		t->retry_after_ms = parse_retry_after(v, (size_t)(e - v));
	}
	return n;
}

struct curl_ev *curl_ev_new(struct ev_loop *loop, const struct curl_ev_opts *opts)
{
	static bool global_done;
	struct curl_ev *cev = cev_alloc(sizeof(*cev));

	if (!global_done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		global_done = true;
	}
	cev->loop = loop;
	if (opts)
		cev->opts = *opts;
	if (cev->opts.connect_timeout_ms <= 0)
		cev->opts.connect_timeout_ms = 5000;
	if (cev->opts.total_timeout_ms <= 0)
		cev->opts.total_timeout_ms = 30000;
	if (cev->opts.max_body == 0)
		cev->opts.max_body = 8u << 20;
	if (cev->opts.max_host_conns <= 0)
		cev->opts.max_host_conns = 32;
	cev->multi = curl_multi_init();
	if (!cev->multi) {
		fprintf(stderr, "curl_ev: curl_multi_init failed\n");
		abort();
	}
	curl_multi_setopt(cev->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(cev->multi, CURLMOPT_SOCKETDATA, cev);
	curl_multi_setopt(cev->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(cev->multi, CURLMOPT_TIMERDATA, cev);
	curl_multi_setopt(cev->multi, CURLMOPT_MAX_HOST_CONNECTIONS, cev->opts.max_host_conns);
	/* Keep enough idle connections around that a burst reuses them. */
	curl_multi_setopt(cev->multi, CURLMOPT_MAXCONNECTS, cev->opts.max_host_conns * 2);
	ev_timer_init(&cev->timer, timeout_cb, 0., 0.);
	cev->timer.data = cev;
	return cev;
}

void curl_ev_cancel_all(struct curl_ev *cev)
{
	bool was = cev->cancelling_all;
	cev->cancelling_all = true;
	while (cev->head)
		transfer_finish(cev->head, CURL_EV_CANCELLED);
	cev->cancelling_all = was;
}

int curl_ev_cancel(struct curl_ev *cev, const void *arg)
{
	int n = 0;
	for (struct transfer *t = cev->head, *next; t; t = next) {
		next = t->next;
		if (t->arg == arg) {
			/* The callback may submit or cancel others: restart the walk. */
			transfer_finish(t, CURL_EV_CANCELLED);
			n++;
			next = cev->head;
		}
	}
	return n;
}

void curl_ev_free(struct curl_ev *cev)
{
	if (!cev)
		return;
	curl_ev_cancel_all(cev);
	ev_timer_stop(cev->loop, &cev->timer);
	/* Closes the cached connections; sock_cb frees their watchers. */
	curl_multi_cleanup(cev->multi);
	free(cev);
}

int curl_ev_active(const struct curl_ev *cev)
{
	return cev->active;
}

/* Hands t to libcurl: an easy handle with t's request, the timeout less
 * the time t spent queued. 0 or -errno. */
static int transfer_start(struct transfer *t)
{
	struct curl_ev *cev = t->cev;
	long waited_ms = (long)((ev_now(cev->loop) - t->submitted) * 1000.0);
	long left_ms = t->timeout_ms - waited_ms;

	t->easy = curl_easy_init();
	if (!t->easy)
		return -ENOMEM;
	CURL *e = t->easy;
	if (curl_easy_setopt(e, CURLOPT_URL, t->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK)
		return -EINVAL;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cev->opts.connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left_ms > 0 ? left_ms : 1L);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cev->opts.max_body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Most answers are a few KiB (profile, transcript, chat reply); a long one
	 * costs more reads, not more memory: 4 KiB per running transfer, not 16
	 * (0.45 MiB of a fetcher's heap peak in the pipeline bench). */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	if (t->body && curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, t->body) != CURLE_OK)
		return -ENOMEM;
	/* Copied by libcurl now. */
	free(t->body);
	t->body = NULL;
	if (curl_multi_add_handle(cev->multi, e) != CURLM_OK)
		return -ENOMEM;
	t->origin->running++;
	return 0;
}

/* Starts the queued transfers of o while it has connections free. */
static void origin_pump(struct curl_ev *cev, struct origin *o)
{
	o->refs++; /* a failed start's callback must not free o under us */
	while (o->qhead && !origin_full(cev, o)) {
		struct transfer *t = o->qhead;
		queue_remove(t);
		int rc = transfer_start(t);
		if (rc < 0) {
			if (t->easy) {
				curl_easy_cleanup(t->easy);
				t->easy = NULL;
			}
			snprintf(t->errbuf, sizeof(t->errbuf), "cannot start the transfer (%s)",
			         strerror(-rc));
			transfer_finish(t, CURL_EV_ERROR);
		}
	}
	origin_put(cev, o);
}

static void queue_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct transfer *t = w->data;
	snprintf(t->errbuf, sizeof(t->errbuf),
	         "no connection to %s came free within the %ld ms timeout", t->origin->key,
	         t->timeout_ms);
	transfer_finish(t, CURL_EV_TIMEOUT);
}

int curl_ev_submit(struct curl_ev *cev, const struct curl_ev_request *req, curl_ev_cb cb, void *arg)
{
	bool post;

	if (!req || !req->url || !req->method || !cb)
		return -EINVAL;
	if (strcmp(req->method, "GET") == 0)
		post = false;
	else if (strcmp(req->method, "POST") == 0)
		post = true;
	else
		return -EINVAL;
	char *key = origin_key(req->url);
	if (!key)
		return -EINVAL;

	struct transfer *t = cev_alloc(sizeof(*t));
	t->cev = cev;
	t->origin = origin_get(cev, key);
	t->cb = cb;
	t->arg = arg;
	t->retry_after_ms = -1;
	t->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : cev->opts.total_timeout_ms;
	/* Submitted outside a loop iteration, ev_now may be stale: the total
	 * timeout (queueing included) must count from now. */
	ev_now_update(cev->loop);
	t->submitted = ev_now(cev->loop);
	ev_timer_init(&t->queue_timer, queue_timeout_cb, t->timeout_ms / 1000.0, 0.);
	t->queue_timer.data = t;
	t->url = strdup(req->url);
	t->body = post ? strdup(req->body ? req->body : "") : NULL;
	if (!t->url || (post && !t->body)) {
		transfer_free(t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < req->nheaders; i++) {
		struct curl_slist *l = curl_slist_append(t->headers, req->headers[i]);
		if (!l) {
			transfer_free(t);
			return -ENOMEM;
		}
		t->headers = l;
	}
	/* No "Expect: 100-continue" round trip for our small bodies. */
	struct curl_slist *l = curl_slist_append(t->headers, "Expect:");
	if (!l) {
		transfer_free(t);
		return -ENOMEM;
	}
	t->headers = l;

	if (origin_full(cev, t->origin)) {
		queue_push(t);
	} else {
		int rc = transfer_start(t);
		if (rc < 0) {
			transfer_free(t);
			return rc;
		}
	}
	t->next = cev->head;
	if (cev->head)
		cev->head->prev = t;
	cev->head = t;
	cev->active++;
	return 0;
}

int curl_ev_urlencode(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			if (n + 1 >= cap)
				return -ENOSPC;
			out[n++] = (char)c;
		} else {
			if (n + 3 >= cap)
				return -ENOSPC;
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	if (n >= cap)
		return -ENOSPC;
	out[n] = '\0';
	return (int)n;
}
