/*
 * mini_http.h: a libev + http_parser server for bench helpers. One
 * connection = one parser and one output buffer; responses to pipelined
 * requests are appended in order and flushed after each read.
 */
#include "tests/bench/mini_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

struct mh_conn {
	int fd;
	ev_io rw, ww;
	struct ev_loop *loop;
	mh_handler h;
	http_parser parser;
	char url[MH_MAX_URL + 1];
	size_t url_len;
	char *body;
	size_t body_len;
	char field[MH_MAX_HEADER + 1], key[MH_MAX_HEADER + 1];
	size_t field_len, key_len;
	bool in_value, is_key, close_after;
	struct mh_buf out;
};

struct mh_server {
	ev_io io;
	mh_handler h;
};

void mh_buf_add(struct mh_buf *b, const char *s, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (!b->data)
			abort();
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void mh_buf_printf(struct mh_buf *b, const char *fmt, ...)
{
	char small[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof small) {
		mh_buf_add(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big)
		abort();
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	mh_buf_add(b, big, (size_t)n);
	free(big);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	default:
		return "Error";
	}
}

void mh_respond(struct mh_buf *out, int status, const char *body, size_t len)
{
	mh_buf_printf(out,
	              "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	              "Content-Length: %zu\r\n\r\n",
	              status, reason(status), len);
	mh_buf_add(out, body, len);
}

static void conn_free(struct mh_conn *c)
{
	ev_io_stop(c->loop, &c->rw);
	ev_io_stop(c->loop, &c->ww);
	close(c->fd);
	free(c->body);
	free(c->out.data);
	free(c);
}

static int on_begin(http_parser *p)
{
	struct mh_conn *c = p->data;
	c->url_len = c->body_len = c->field_len = c->key_len = 0;
	c->in_value = c->is_key = false;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct mh_conn *c = p->data;
	if (c->url_len + len > MH_MAX_URL)
		return 1;
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
	struct mh_conn *c = p->data;
	if (c->in_value) {
		c->in_value = false;
		c->field_len = 0;
	}
	size_t n = len < MH_MAX_HEADER - c->field_len ? len : MH_MAX_HEADER - c->field_len;
	memcpy(c->field + c->field_len, at, n);
	c->field_len += n;
	return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
	struct mh_conn *c = p->data;
	if (!c->in_value) {
		c->in_value = true;
		c->field[c->field_len] = '\0';
		c->is_key = strcasecmp(c->field, "x-rapidapi-key") == 0;
		if (c->is_key)
			c->key_len = 0;
	}
	if (!c->is_key)
		return 0;
	size_t n = len < MH_MAX_HEADER - c->key_len ? len : MH_MAX_HEADER - c->key_len;
	memcpy(c->key + c->key_len, at, n);
	c->key_len += n;
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct mh_conn *c = p->data;
	if (c->body_len + len > MH_MAX_BODY)
		return 1;
	if (!c->body && !(c->body = malloc(MH_MAX_BODY + 1)))
		abort();
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_complete(http_parser *p)
{
	struct mh_conn *c = p->data;
	c->url[c->url_len] = '\0';
	c->key[c->key_len] = '\0';
	if (c->body)
		c->body[c->body_len] = '\0';
	struct mh_req r = {.method = http_method_str(p->method),
	                   .url = c->url,
	                   .body = c->body ? c->body : "",
	                   .body_len = c->body_len,
	                   .api_key = c->key};
	c->h(&r, &c->out);
	if (!http_should_keep_alive(p))
		c->close_after = true;
	return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* Writes what it can; returns -1 when the connection must go. */
static int flush(struct mh_conn *c)
{
	while (c->out.off < c->out.len) {
		ssize_t n =
		    send(c->fd, c->out.data + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ev_io_start(c->loop, &c->ww);
				return 0;
			}
			if (errno == EINTR)
				continue;
			return -1;
		}
		c->out.off += (size_t)n;
	}
	c->out.off = c->out.len = 0;
	ev_io_stop(c->loop, &c->ww);
	return c->close_after ? -1 : 0;
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct mh_conn *c = w->data;
	if (flush(c) < 0)
		conn_free(c);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct mh_conn *c = w->data;
	char buf[16384];
	ssize_t n = recv(c->fd, buf, sizeof buf, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(c);
		return;
	}
	size_t used = http_parser_execute(&c->parser, &settings, buf, (size_t)n);
	if (used != (size_t)n || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK)
		c->close_after = true;
	if (flush(c) < 0)
		conn_free(c);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct mh_server *s = (struct mh_server *)w;
	for (;;) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct mh_conn *c = calloc(1, sizeof *c);
		if (!c)
			abort();
		c->fd = fd;
		c->loop = loop;
		c->h = s->h;
		http_parser_init(&c->parser, HTTP_REQUEST);
		c->parser.data = c;
		ev_io_init(&c->rw, on_readable, fd, EV_READ);
		ev_io_init(&c->ww, on_writable, fd, EV_WRITE);
		c->rw.data = c->ww.data = c;
		ev_io_start(loop, &c->rw);
	}
}

int mh_listen(struct ev_loop *loop, int port, mh_handler h)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof sa;
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct mh_server *s = calloc(1, sizeof *s);
	if (!s)
		abort();
	s->h = h;
	ev_io_init(&s->io, on_accept, fd, EV_READ);
	ev_io_start(loop, &s->io);
	return ntohs(sa.sin_port);
}
