/*
 * HTTP/1.1 server glue: accepted sockets, http_parser (nodejs/http-parser,
 * Debian libhttp-parser-dev), keep-alive, pipelining, limits, timeouts.
 *
 * One request per connection is in the hands of the application at a
 * time: when a request is complete the parser is paused until the
 * handler answers with http_respond, so pipelined requests are answered
 * in order and a client that sends faster than it reads is throttled by
 * TCP, not by our memory.
 *
 * Answers of the HTTP layer itself (never reach the handler):
 *   request line + headers over HTTP_MAX_HEAD   431, close
 *   body over HTTP_MAX_BODY                      413, close
 *   header/body not received in time             408, close
 *   malformed request, whitespace before a colon 400, close
 *   Upgrade / CONNECT (no route supports them)   400, close
 *   Expect other than 100-continue               417, close
 *   (Expect: 100-continue gets "100 Continue" once the head is accepted
 *    and a body is to be read)
 *   more than max_connections_per_addr open from one client (an IPv4
 *   address, an IPv6 /64)                        429 + Retry-After, close
 *   more than max_connections open               503 + Retry-After, close
 *
 * Fairness: when the table is nearly full (within 1/16 of
 * max_connections), each new connection first closes the connection that
 * has been idle longest (a keep-alive connection between requests, or a
 * fresh one that has sent nothing), so held-open idle sockets can never
 * keep a new client out.
 */
#ifndef VIRALSUP_GATEWAY_HTTP_H
#define VIRALSUP_GATEWAY_HTTP_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEAD    (16 * 1024)
#define HTTP_MAX_BODY    (1024 * 1024)
#define HTTP_MAX_HEADERS 100

struct http_limits {
	int max_connections;
	double header_timeout; /* seconds from the first byte of a request to its last header */
	double body_timeout;   /* seconds from the last header to the last body byte */
	double idle_timeout;   /* seconds a keep-alive connection may sit between requests */
	int max_per_addr;      /* connections per client key (addr.h); 0: max_connections */
};

struct http_conn;

struct http_header {
	char *name; /* lower-cased */
	char *value;
};

/* A complete request, owned by its connection; valid until http_respond. */
struct http_request {
	struct http_conn *conn;
	int method; /* enum http_method */
	const char *method_name;
	char *url;   /* raw target as received */
	char *path;  /* url up to '?' */
	char *query; /* after '?', or "" */
	struct http_header headers[HTTP_MAX_HEADERS];
	int nheaders;
	char *body; /* NUL-terminated, body_len bytes */
	size_t body_len;
	bool keep_alive;
	char request_id[48];
	char peer[64];  /* the TCP peer's address as text */
	double started; /* ev_now at dispatch */
	void *app;      /* for the handler */
};

/* The handler gets every complete request and must call http_respond
 * once, now or later (e.g. from a database callback). */
typedef void (*http_handler_fn)(struct http_request *req, void *ud);

struct http_server;

/*
 * Serves connections accepted on listen_fd (non-blocking, already
 * listening; ownership stays with the caller). loop may be NULL for
 * in-memory connections only (fuzzing). Returns a new server.
 */
struct http_server *http_server_new(struct ev_loop *loop, int listen_fd,
                                    const struct http_limits *lim, http_handler_fn handler,
                                    void *ud);
/* Header lines for the HTTP layer's own error answers (413, 417, a body
 * timeout) once a request's head is whole: fn writes them into buf ("" for
 * none); the gateway adds its CORS headers so a browser can read them. */
typedef void (*http_error_headers_fn)(const struct http_request *req, char *buf, size_t len,
                                      void *ud);
void http_server_set_error_headers(struct http_server *s, http_error_headers_fn fn, void *ud);
/* Stops accepting and closes every connection (pending handlers' requests
 * are answered into the void). */
void http_server_free(struct http_server *s);
int http_server_connections(const struct http_server *s);
/* Idle connections closed to make room, connections refused by the
 * per-address cap and by the table limit, since the start. */
void http_server_counters(const struct http_server *s, unsigned long long *reaped,
                          unsigned long long *per_addr_refused, unsigned long long *full_refused);

/* The value of header name (lower-case), or NULL. */
const char *http_header_get(const struct http_request *req, const char *name);

/*
 * Answers req with status, a Content-Type (NULL: application/json),
 * optional extra header lines (each ending in "\r\n", or NULL) and body.
 * Adds Content-Length, Date-less minimal headers, X-Request-Id and
 * Connection. After this call req is gone.
 */
void http_respond(struct http_request *req, int status, const char *ctype, const char *extra,
                  const char *body, size_t len);

/* The reason phrase of a status ("Not Found"). */
const char *http_status_text(int status);

/* In-memory connections for the fuzzer and unit tests: bytes go in with
 * http_conn_feed, answers accumulate in an internal buffer. */
struct http_conn *http_conn_memory(struct http_server *s);
/* Feeds bytes; returns 0, or -EPIPE once the connection wants to close. */
int http_conn_feed(struct http_conn *c, const char *data, size_t len);
/* The bytes answered so far (valid until the next feed or free). */
const char *http_conn_output(struct http_conn *c, size_t *len);
void http_conn_free(struct http_conn *c);

#endif
