/*
 * A minimal HTTP/1.1 server on libev + http_parser, shared by the bench's
 * bare responder (bare_http.c) and the C fake provider
 * (tests/fake_provider/fake_provider.c). Keep-alive and pipelining; every
 * response goes out with Content-Length in as few writes as the kernel
 * allows. Happy path only: a malformed request closes the connection.
 */
#ifndef VIRALSUP_BENCH_MINI_HTTP_H
#define VIRALSUP_BENCH_MINI_HTTP_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#define MH_MAX_URL    4096
#define MH_MAX_BODY   65536
#define MH_MAX_HEADER 256

/* One growable output buffer (a connection's pending bytes). */
struct mh_buf {
	char *data;
	size_t len, cap, off;
};

/* A parsed request; valid during the handler call only. */
struct mh_req {
	const char *method; /* "GET", "POST", ... */
	const char *url;    /* path and query, NUL-terminated */
	const char *body;   /* NUL-terminated, body_len bytes */
	size_t body_len;
	const char *api_key; /* value of x-rapidapi-key, "" when absent */
};

/* Appends the whole response to out. */
typedef void (*mh_handler)(const struct mh_req *req, struct mh_buf *out);

/* Appends len bytes (aborts on OOM). */
void mh_buf_add(struct mh_buf *b, const char *s, size_t len);
/* Appends printf-formatted text. */
void mh_buf_printf(struct mh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a status line, Content-Type, Content-Length and the body. */
void mh_respond(struct mh_buf *out, int status, const char *body, size_t len);

/*
 * Listens on 127.0.0.1:port (0: any free port) and serves with h on loop.
 * Returns the bound port, or -errno.
 */
int mh_listen(struct ev_loop *loop, int port, mh_handler h);

#endif
