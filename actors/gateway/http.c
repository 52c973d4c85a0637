/*
 * HTTP/1.1 connections on libev around http_parser. See http.h.
 *
 * Life of a connection: IDLE (waiting for a request's first byte) ->
 * HEAD (request line and headers, header_timeout from the first byte) ->
 * BODY (body_timeout) -> BUSY (the handler has it; the parser is paused)
 * -> IDLE again after http_respond, or closed. A connection is only ever
 * freed from settle(), at the top of an event callback, so nothing below
 * a callback frame can pull the connection away from under it.
 */
#include "actors/gateway/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/gateway/addr.h"
#include "ipc/log.h"

#define IN_CAP   (32 * 1024)  /* read buffer; the parser streams through it */
#define OUT_HIGH (256 * 1024) /* stop parsing further requests above this */

enum conn_state { ST_IDLE, ST_HEAD, ST_BODY, ST_BUSY };

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	struct http_conn *idle_prev, *idle_next; /* the server's idle list, oldest first */
	bool in_idle;
	struct gw_addr key; /* the client key the per-address cap counts */
	int fd;             /* -1 for in-memory connections */
	ev_io rio, wio;
	ev_timer timer;
	http_parser parser;
	enum conn_state state;

	char *in;
	size_t in_len, in_pos;

	struct http_request req;
	size_t head_bytes;
	bool last_was_value; /* header callbacks come in pieces */
	bool head_done;      /* this request's head is parsed whole (names lower-case) */
	size_t body_cap;

	char *out;
	size_t out_len, out_off, out_cap;

	int depth;    /* event callbacks on the stack */
	bool closing; /* close once the output is flushed */
	bool dead;    /* close now (write error, peer reset) */
	bool eof;     /* the peer will send nothing more */
	bool reading;
	bool writing;
	int err_status;
	const char *err_detail;
	char peer[64];
};

struct http_server {
	struct ev_loop *loop;
	int listen_fd;
	ev_io accept_io;
	ev_timer accept_retry;
	struct http_limits lim;
	http_handler_fn handler;
	void *ud;
	http_error_headers_fn error_headers;
	void *error_headers_ud;
	struct http_conn *conns;
	int nconns;
	struct http_conn *idle_head, *idle_tail;
	unsigned long long reaped, per_addr_refused, full_refused;
	uint32_t id_prefix;
	uint64_t id_counter;
};

static const http_parser_settings settings;

const char *http_status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Payload Too Large";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Unknown";
	}
}

/* ---- output ------------------------------------------------------------ */

static void out_append(struct http_conn *c, const char *data, size_t len)
{
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len)
			cap *= 2;
		c->out = xrealloc(c->out, cap);
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
}

static void conn_update_watchers(struct http_conn *c);

/* Writes what the socket takes now; the rest waits for writability. */
static void conn_flush(struct http_conn *c)
{
	if (c->fd < 0 || c->dead)
		return;
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		c->dead = true; /* EPIPE, ECONNRESET: the client is gone */
		return;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
}

static void request_id_new(struct http_conn *c)
{
	struct http_server *s = c->srv;
	snprintf(c->req.request_id, sizeof c->req.request_id, "%08x%010llx", s->id_prefix,
	         (unsigned long long)++s->id_counter);
}

/* Writes a status line, headers and body into the output buffer. */
static void write_response(struct http_conn *c, int status, const char *ctype, const char *extra,
                           const char *body, size_t len, bool keep_alive)
{
	char head[2048], framing[160] = "";
	/* A 204 or 304 has neither a body nor the headers that describe one
	 * (RFC 9110 8.6, 15.4.5). */
	if (status != 204 && status != 304)
		snprintf(framing, sizeof framing, "Content-Type: %s\r\nContent-Length: %zu\r\n",
		         ctype ? ctype : "application/json", len);
	else
		len = 0;
	int n = snprintf(head, sizeof head,
	                 "HTTP/1.1 %d %s\r\n"
	                 "%s"
	                 "X-Request-Id: %s\r\n"
	                 "%s"
	                 "Connection: %s\r\n\r\n",
	                 status, http_status_text(status), framing, c->req.request_id,
	                 extra ? extra : "", keep_alive ? "keep-alive" : "close");
	if (n < 0 || (size_t)n >= sizeof head)
		log_fatal("http: response head too long"); /* extra headers are ours: a bug */
	out_append(c, head, (size_t)n);
	if (len)
		out_append(c, body, len);
}

/* An answer of the HTTP layer itself; the connection closes after it. */
static void conn_fail(struct http_conn *c, int status, const char *detail, const char *extra)
{
	char body[256], app[768], lines[1024];
	int n = snprintf(body, sizeof body, "{\"success\":false,\"detail\":\"%s\"}", detail);
	if (!c->req.request_id[0])
		request_id_new(c);
	/* A browser shows a cross-origin answer only with its CORS headers: a
	 * 413 or a body timeout must reach the page as what it is. Before the
	 * head is whole, Origin is not known (or not trustworthy): none. */
	if (c->head_done && c->srv->error_headers) {
		c->srv->error_headers(&c->req, app, sizeof app, c->srv->error_headers_ud);
		snprintf(lines, sizeof lines, "%s%s", extra ? extra : "", app);
		extra = lines;
	}
	write_response(c, status, NULL, extra, body, (size_t)n, false);
	log_info("http %s %d %s request_id=%s", c->peer, status, detail, c->req.request_id);
	c->closing = true;
	conn_flush(c);
}

/* ---- the idle list ------------------------------------------------------- */

/* Socket connections waiting for a request's first byte, oldest first:
 * the ones closed first when the table is nearly full. */
static void idle_leave(struct http_conn *c)
{
	struct http_server *s = c->srv;
	if (!c->in_idle)
		return;
	if (c->idle_prev)
		c->idle_prev->idle_next = c->idle_next;
	else
		s->idle_head = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_prev = c->idle_prev;
	else
		s->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	c->in_idle = false;
}

static void idle_enter(struct http_conn *c)
{
	struct http_server *s = c->srv;
	if (c->fd < 0 || c->in_idle)
		return;
	c->idle_prev = s->idle_tail;
	c->idle_next = NULL;
	if (s->idle_tail)
		s->idle_tail->idle_next = c;
	else
		s->idle_head = c;
	s->idle_tail = c;
	c->in_idle = true;
}

/* ---- request state ------------------------------------------------------ */

static void request_reset(struct http_conn *c)
{
	struct http_request *r = &c->req;
	free(r->url);
	free(r->path);
	free(r->query);
	for (int i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->body);
	memset(r, 0, sizeof *r);
	r->conn = c;
	strlcpy(r->peer, c->peer, sizeof r->peer);
	c->head_bytes = 0;
	c->body_cap = 0;
	c->last_was_value = false;
}

static void str_append(char **s, const char *at, size_t len)
{
	size_t have = *s ? strlen(*s) : 0;
	*s = xrealloc(*s, have + len + 1);
	memcpy(*s + have, at, len);
	(*s)[have + len] = '\0';
}

static void timer_arm(struct http_conn *c, double after)
{
	if (!c->srv->loop)
		return;
	ev_timer_stop(c->srv->loop, &c->timer);
	ev_timer_set(&c->timer, after, 0.);
	ev_timer_start(c->srv->loop, &c->timer);
}

static void timer_stop(struct http_conn *c)
{
	if (c->srv->loop)
		ev_timer_stop(c->srv->loop, &c->timer);
}

static int head_count(struct http_conn *c, size_t len)
{
	c->head_bytes += len;
	if (c->head_bytes > HTTP_MAX_HEAD) {
		c->err_status = 431;
		c->err_detail = "Request header fields too large";
		return -1;
	}
	return 0;
}

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;
	request_reset(c);
	request_id_new(c);
	idle_leave(c);
	c->state = ST_HEAD;
	c->head_done = false;
	timer_arm(c, c->srv->lim.header_timeout);
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	if (head_count(c, len) < 0)
		return -1;
	str_append(&c->req.url, at, len);
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_request *r = &c->req;
	if (head_count(c, len + 4) < 0)
		return -1;
	/* "Transfer-Encoding : chunked" must not be read as chunked by us
	 * and as something else by a proxy in front (request smuggling):
	 * whitespace in a field name is an error (RFC 9112 5.1). */
	if (memchr(at, ' ', len) || memchr(at, '\t', len)) {
		c->err_status = 400;
		c->err_detail = "Whitespace in a header field name";
		return -1;
	}
	if (c->last_was_value || r->nheaders == 0) {
		if (r->nheaders == HTTP_MAX_HEADERS) {
			c->err_status = 431;
			c->err_detail = "Too many header fields";
			return -1;
		}
		r->nheaders++;
		r->headers[r->nheaders - 1].value = xstrdup("");
	}
	c->last_was_value = false;
	str_append(&r->headers[r->nheaders - 1].name, at, len);
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_request *r = &c->req;
	if (head_count(c, len) < 0)
		return -1;
	if (r->nheaders == 0)
		return -1;
	c->last_was_value = true;
	str_append(&r->headers[r->nheaders - 1].value, at, len);
	return 0;
}

/* A client-chosen X-Request-Id is kept when it is short and plain. */
static void request_id_from_client(struct http_request *r)
{
	const char *v = http_header_get(r, "x-request-id");
	if (!v || !*v || strlen(v) >= sizeof r->request_id)
		return;
	for (const char *q = v; *q; q++)
		if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_' && *q != '.')
			return;
	strlcpy(r->request_id, v, sizeof r->request_id);
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_request *r = &c->req;
	for (int i = 0; i < r->nheaders; i++)
		for (char *q = r->headers[i].name; q && *q; q++)
			*q = (char)tolower((unsigned char)*q);
	c->head_done = true;
	request_id_from_client(r);
	if (!r->url)
		return -1;
	if (p->content_length != ULLONG_MAX && p->content_length > HTTP_MAX_BODY) {
		c->err_status = 413;
		c->err_detail = "Request body too large (limit 1 MiB)";
		return -1;
	}
	/* No route speaks another protocol: an upgrade request is refused
	 * rather than served as if the header were not there. */
	if (p->method == HTTP_CONNECT || http_header_get(r, "upgrade")) {
		c->err_status = 400;
		c->err_detail = "Protocol upgrade not supported";
		return -1;
	}
	const char *expect = http_header_get(r, "expect");
	if (expect && (p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1))) {
		if (strcasecmp(expect, "100-continue") != 0) {
			c->err_status = 417;
			c->err_detail = "Only Expect: 100-continue is supported";
			return -1;
		}
		/* The head passed every check: the body will be read. */
		bool body_follows = (p->flags & F_CHUNKED) ||
		                    (p->content_length != ULLONG_MAX && p->content_length > 0);
		if (body_follows) {
			static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
			out_append(c, cont, sizeof cont - 1);
			conn_flush(c);
		}
	}
	c->state = ST_BODY;
	timer_arm(c, c->srv->lim.body_timeout);
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	struct http_request *r = &c->req;
	if (r->body_len + len > HTTP_MAX_BODY) {
		c->err_status = 413;
		c->err_detail = "Request body too large (limit 1 MiB)";
		return -1;
	}
	if (r->body_len + len + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 1024;
		while (cap < r->body_len + len + 1)
			cap *= 2;
		r->body = xrealloc(r->body, cap);
		c->body_cap = cap;
	}
	memcpy(r->body + r->body_len, at, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_request *r = &c->req;
	r->method = (int)p->method;
	r->method_name = http_method_str((enum http_method)p->method);
	r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	if (!r->body)
		r->body = xstrdup("");
	/* Hand over after execute returns (see conn_process). */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

const char *http_header_get(const struct http_request *req, const char *name)
{
	for (int i = 0; i < req->nheaders; i++)
		if (req->headers[i].name && !strcmp(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}

/* ---- the connection machine -------------------------------------------- */

static void dispatch(struct http_conn *c)
{
	struct http_request *r = &c->req;
	char *q = strchr(r->url, '?');
	size_t plen = q ? (size_t)(q - r->url) : strlen(r->url);
	r->path = xstrndup(r->url, plen);
	r->query = xstrdup(q ? q + 1 : "");
	r->started = c->srv->loop ? ev_time() : 0;
	c->state = ST_BUSY;
	timer_stop(c);
	c->srv->handler(r, c->srv->ud);
}

/* Parses buffered input while no request is with the handler. */
static void conn_process(struct http_conn *c)
{
	while (c->state != ST_BUSY && !c->closing && !c->dead && c->in_pos < c->in_len) {
		if (c->out_len - c->out_off > OUT_HIGH)
			break; /* resumes when the client has read its answers */
		size_t n = http_parser_execute(&c->parser, &settings, c->in + c->in_pos,
		                               c->in_len - c->in_pos);
		c->in_pos += n;
		enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
		if (e == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			if (c->parser.upgrade) {
				/* Upgrade/CONNECT: the rest is not HTTP; answer and close. */
				c->in_pos = c->in_len;
			}
			dispatch(c);
			continue;
		}
		if (e != HPE_OK) {
			if (c->err_status)
				conn_fail(c, c->err_status, c->err_detail, NULL);
			else if (e == HPE_HEADER_OVERFLOW)
				conn_fail(c, 431, "Request header fields too large", NULL);
			else
				conn_fail(c, 400, "Malformed HTTP request", NULL);
			break;
		}
		if (c->parser.upgrade) {
			conn_fail(c, 400, "Protocol upgrade not supported", NULL);
			break;
		}
	}
	if (c->in_pos == c->in_len)
		c->in_pos = c->in_len = 0;
	else if (c->in_pos > 0 && c->in_len - c->in_pos < IN_CAP / 2) {
		memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
		c->in_len -= c->in_pos;
		c->in_pos = 0;
	}
}

static void conn_free(struct http_conn *c)
{
	struct http_server *s = c->srv;
	if (s->loop && c->fd >= 0) {
		ev_io_stop(s->loop, &c->rio);
		ev_io_stop(s->loop, &c->wio);
	}
	timer_stop(c);
	idle_leave(c);
	if (c->fd >= 0) {
		close(c->fd);
		if (c->prev)
			c->prev->next = c->next;
		else
			s->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		s->nconns--;
		if (s->loop && s->nconns < s->lim.max_connections && s->listen_fd >= 0)
			ev_io_start(s->loop, &s->accept_io);
	}
	request_reset(c);
	free(c->in);
	free(c->out);
	free(c);
}

static void conn_update_watchers(struct http_conn *c)
{
	struct ev_loop *loop = c->srv->loop;
	if (!loop || c->fd < 0)
		return;
	bool want_read = !c->eof && !c->closing && !c->dead && c->state != ST_BUSY &&
	                 c->in_len < IN_CAP && c->out_len - c->out_off <= OUT_HIGH;
	bool want_write = !c->dead && c->out_off < c->out_len;
	if (want_read != c->reading) {
		(want_read ? ev_io_start : ev_io_stop)(loop, &c->rio);
		c->reading = want_read;
	}
	if (want_write != c->writing) {
		(want_write ? ev_io_start : ev_io_stop)(loop, &c->wio);
		c->writing = want_write;
	}
}

/*
 * Decides, at the top of an event, whether the connection lives on.
 * Returns false when it was freed (or, in memory, has ended).
 */
static bool conn_settle(struct http_conn *c)
{
	bool drained = c->out_off == c->out_len;
	bool done = c->dead || (c->closing && drained) ||
	            (c->eof && c->state != ST_BUSY && c->in_pos == c->in_len && drained);
	if (done && c->state == ST_BUSY) {
		/* The handler still holds req: free when it answers. */
		c->dead = true;
		conn_update_watchers(c);
		return true;
	}
	if (done) {
		if (c->fd < 0) {
			c->closing = true;
			return false;
		}
		conn_free(c);
		return false;
	}
	if (c->state == ST_IDLE && !c->eof)
		timer_arm(c, c->srv->lim.idle_timeout);
	conn_update_watchers(c);
	return true;
}

void http_respond(struct http_request *req, int status, const char *ctype, const char *extra,
                  const char *body, size_t len)
{
	struct http_conn *c = req->conn;
	if (c->state != ST_BUSY)
		log_fatal("http_respond on a request that is not pending"); /* a bug */
	if (!c->dead) {
		bool ka = req->keep_alive && !c->eof;
		write_response(c, status, ctype, extra, body, len, ka);
		if (!ka)
			c->closing = true;
		conn_flush(c);
	}
	request_reset(c);
	c->state = ST_IDLE;
	idle_enter(c);
	if (c->dead && c->fd >= 0 && c->depth == 0) {
		conn_free(c);
		return;
	}
	if (c->depth > 0)
		return; /* conn_process is on the stack and continues */
	/* Answered later (from a database or scheduler callback). */
	c->depth++;
	conn_process(c);
	c->depth--;
	conn_settle(c);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct http_conn *c = w->data;
	c->depth++;
	ssize_t n = recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);
	if (n > 0) {
		c->in_len += (size_t)n;
		conn_process(c);
	} else if (n == 0) {
		c->eof = true;
		if (c->state == ST_HEAD || c->state == ST_BODY)
			c->dead = true; /* half a request and no more coming */
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		c->dead = true;
	}
	c->depth--;
	conn_settle(c);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct http_conn *c = w->data;
	c->depth++;
	conn_flush(c);
	if (c->out_len - c->out_off <= OUT_HIGH)
		conn_process(c);
	c->depth--;
	conn_settle(c);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct http_conn *c = w->data;
	c->depth++;
	if (c->state == ST_HEAD)
		conn_fail(c, 408, "Timed out reading the request headers", NULL);
	else if (c->state == ST_BODY)
		conn_fail(c, 408, "Timed out reading the request body", NULL);
	else if (c->state == ST_IDLE)
		c->closing = true; /* idle keep-alive (or silent) connection: just close */
	c->depth--;
	conn_settle(c);
}

static struct http_conn *conn_alloc(struct http_server *s, int fd)
{
	struct http_conn *c = xcalloc(1, sizeof *c);
	c->srv = s;
	c->fd = fd;
	c->in = xmalloc(IN_CAP);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->state = ST_IDLE;
	request_reset(c);
	if (s->loop) {
		ev_timer_init(&c->timer, on_timeout, 0., 0.);
		c->timer.data = c;
	}
	return c;
}

/* ---- accepting ------------------------------------------------------------ */

static void refuse(struct http_server *s, int fd, int status, const char *detail)
{
	/* A short, complete answer, then close. The socket buffer of a fresh
	 * connection always takes these few bytes. */
	char body[128], msg[512];
	int bl = snprintf(body, sizeof body, "{\"success\":false,\"detail\":\"%s\"}", detail);
	int n = snprintf(msg, sizeof msg,
	                 "HTTP/1.1 %d %s\r\n"
	                 "Content-Type: application/json\r\nContent-Length: %d\r\n"
	                 "X-Request-Id: %08x%010llx\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
	                 "%s",
	                 status, http_status_text(status), bl, s->id_prefix,
	                 (unsigned long long)++s->id_counter, body);
	ssize_t w = send(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	close(fd);
}

/* Connections open from the client key of a. */
static int conns_from(const struct http_server *s, const struct gw_addr *key)
{
	int n = 0;
	for (const struct http_conn *c = s->conns; c; c = c->next)
		n += addr_equal(&c->key, key);
	return n;
}

/* Near the limit: closes the connection idle longest (nothing in flight,
 * nothing buffered), so idle sockets never keep a new client out. */
static void reap_idle(struct http_server *s)
{
	int reserve = s->lim.max_connections / 16;
	if (reserve < 1)
		reserve = 1;
	if (s->nconns < s->lim.max_connections - reserve)
		return;
	for (struct http_conn *c = s->idle_head; c; c = c->idle_next) {
		if (c->state != ST_IDLE || c->depth > 0 || c->out_off < c->out_len ||
		    c->in_pos < c->in_len)
			continue;
		s->reaped++;
		conn_free(c);
		return;
	}
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	struct http_server *s = w->data;
	ev_io_start(loop, &s->accept_io);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct http_server *s = w->data;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &sl,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn("http: accept: %s; pausing 100 ms", strerror(errno));
				ev_io_stop(loop, &s->accept_io);
				ev_timer_set(&s->accept_retry, 0.1, 0.);
				ev_timer_start(loop, &s->accept_retry);
			}
			return;
		}
		struct gw_addr peer, key;
		addr_from_sockaddr((struct sockaddr *)&ss, &peer);
		key = addr_client_key(&peer);
		int cap = s->lim.max_per_addr > 0 ? s->lim.max_per_addr : s->lim.max_connections;
		if (conns_from(s, &key) >= cap) {
			s->per_addr_refused++;
			refuse(s, fd, 429, "Too many connections from your address");
			continue;
		}
		reap_idle(s);
		if (s->nconns >= s->lim.max_connections) {
			s->full_refused++;
			refuse(s, fd, 503, "Too many connections, retry shortly");
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct http_conn *c = conn_alloc(s, fd);
		c->key = key;
		addr_format(&peer, c->peer, sizeof c->peer);
		strlcpy(c->req.peer, c->peer, sizeof c->req.peer);
		ev_io_init(&c->rio, on_readable, fd, EV_READ);
		ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
		c->rio.data = c->wio.data = c;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		idle_enter(c);
		/* A fresh connection gets the header timeout, not the idle one:
		 * opening sockets and sending nothing is the cheapest attack. */
		timer_arm(c, s->lim.header_timeout);
		conn_update_watchers(c);
	}
}

struct http_server *http_server_new(struct ev_loop *loop, int listen_fd,
                                    const struct http_limits *lim, http_handler_fn handler,
                                    void *ud)
{
	struct http_server *s = xcalloc(1, sizeof *s);
	s->loop = loop;
	s->listen_fd = listen_fd;
	s->lim = *lim;
	s->handler = handler;
	s->ud = ud;
	s->id_prefix = arc4random();
	if (loop && listen_fd >= 0) {
		ev_io_init(&s->accept_io, on_accept, listen_fd, EV_READ);
		s->accept_io.data = s;
		ev_timer_init(&s->accept_retry, on_accept_retry, 0., 0.);
		s->accept_retry.data = s;
		ev_io_start(loop, &s->accept_io);
	}
	return s;
}

void http_server_set_error_headers(struct http_server *s, http_error_headers_fn fn, void *ud)
{
	s->error_headers = fn;
	s->error_headers_ud = ud;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->loop && s->listen_fd >= 0) {
		ev_io_stop(s->loop, &s->accept_io);
		ev_timer_stop(s->loop, &s->accept_retry);
	}
	s->listen_fd = -1;
	while (s->conns) {
		struct http_conn *c = s->conns;
		conn_free(c);
	}
	free(s);
}

int http_server_connections(const struct http_server *s)
{
	return s->nconns;
}

void http_server_counters(const struct http_server *s, unsigned long long *reaped,
                          unsigned long long *per_addr_refused, unsigned long long *full_refused)
{
	*reaped = s->reaped;
	*per_addr_refused = s->per_addr_refused;
	*full_refused = s->full_refused;
}

/* ---- in memory ------------------------------------------------------------- */

struct http_conn *http_conn_memory(struct http_server *s)
{
	struct http_conn *c = conn_alloc(s, -1);
	snprintf(c->peer, sizeof c->peer, "memory");
	strlcpy(c->req.peer, c->peer, sizeof c->req.peer);
	return c;
}

int http_conn_feed(struct http_conn *c, const char *data, size_t len)
{
	while (len > 0 && !c->closing && !c->dead) {
		size_t room = IN_CAP - c->in_len;
		if (room == 0)
			return 0; /* a handler holds a request: the rest waits */
		size_t n = len < room ? len : room;
		memcpy(c->in + c->in_len, data, n);
		c->in_len += n;
		data += n;
		len -= n;
		c->depth++;
		conn_process(c);
		c->depth--;
		if (!conn_settle(c))
			break;
		c->out_off = 0; /* memory output is kept whole for the caller */
	}
	return c->closing || c->dead ? -EPIPE : 0;
}

const char *http_conn_output(struct http_conn *c, size_t *len)
{
	*len = c->out_len;
	return c->out;
}

void http_conn_free(struct http_conn *c)
{
	if (c)
		conn_free(c);
}
