/*
 * curl_ev: many concurrent HTTP transfers in one process, a libcurl multi
 * handle driven by a libev loop (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION
 * mapped onto ev_io / ev_timer, curl_multi_socket_action). Connections are
 * reused across transfers by the multi handle's connection cache.
 *
 *   struct curl_ev *cev = curl_ev_new(loop, &opts);
 *   curl_ev_submit(cev, &req, on_done, arg);   // on_done runs later, once
 *   ev_run(loop, 0);
 *   curl_ev_free(cev);                          // cancels what is left
 *
 * Every transfer ends with exactly one callback (also when cancelled), run
 * from the event loop, never from inside curl_ev_submit. The callback may
 * submit new transfers.
 */
#ifndef VIRALSUP_IPC_CURL_EV_H
#define VIRALSUP_IPC_CURL_EV_H

#include <stddef.h>

struct ev_loop;
struct curl_ev;

struct curl_ev_opts {
	long connect_timeout_ms; /* default 5000 */
	long total_timeout_ms;   /* whole transfer; default 30000 */
	size_t max_body;         /* larger answers are aborted; default 8 MiB */
	long max_host_conns;     /* parallel connections per host; default 32. Transfers
	                            beyond it wait in a queue (no libcurl handle yet) and
	                            start in submission order; their total timeout counts
	                            from submit. */
};

/* What a transfer ended with; only CURL_EV_OK carries an HTTP status. */
enum curl_ev_result {
	CURL_EV_OK,        /* an HTTP answer arrived (any status) */
	CURL_EV_TIMEOUT,   /* connect or total timeout */
	CURL_EV_CONNECT,   /* could not connect / resolve */
	CURL_EV_NETWORK,   /* connection reset, truncated transfer, protocol error */
	CURL_EV_TOO_LARGE, /* body exceeded max_body */
	CURL_EV_CANCELLED, /* curl_ev_cancel_all / curl_ev_free */
	CURL_EV_ERROR,     /* anything else (bad URL, out of memory) */
};

const char *curl_ev_result_name(enum curl_ev_result r);

struct curl_ev_request {
	const char *method;         /* "GET" or "POST" */
	const char *url;            /* copied */
	const char *const *headers; /* "Name: value" lines, copied; may be NULL */
	size_t nheaders;
	const char *body; /* POST body (form-encoded or JSON), copied; may be NULL */
	long timeout_ms;  /* whole transfer; 0 = curl_ev_opts.total_timeout_ms */
};

struct curl_ev_response {
	enum curl_ev_result result;
	long status;         /* HTTP status, 0 when no answer */
	long retry_after_ms; /* from Retry-After (seconds or HTTP date), -1 when absent */
	const char *body;    /* NUL-terminated, valid during the callback only */
	size_t body_len;
	const char *error; /* curl's message when result != OK, else "" */
	double total_ms;   /* time the transfer took */
};

typedef void (*curl_ev_cb)(const struct curl_ev_response *resp, void *arg);

/* A new transfer engine on loop; opts may be NULL (defaults). Never NULL. */
struct curl_ev *curl_ev_new(struct ev_loop *loop, const struct curl_ev_opts *opts);
/* Cancels every transfer (callbacks run with CURL_EV_CANCELLED) and frees. */
void curl_ev_free(struct curl_ev *cev);

/*
 * Starts a transfer, or queues it while its host has max_host_conns running.
 * Returns 0 (cb will be called exactly once) or -EINVAL for a bad request
 * (method, a URL without a host) / -ENOMEM (cb is never called).
 */
int curl_ev_submit(struct curl_ev *cev, const struct curl_ev_request *req, curl_ev_cb cb,
                   void *arg);

/* Ends every running transfer; each callback runs with CURL_EV_CANCELLED. */
void curl_ev_cancel_all(struct curl_ev *cev);

/* Ends the running transfers submitted with this arg (callbacks run with
 * CURL_EV_CANCELLED before this returns). Returns how many. */
int curl_ev_cancel(struct curl_ev *cev, const void *arg);

/* Number of transfers submitted and not yet completed. */
int curl_ev_active(const struct curl_ev *cev);

/* Appends s form/url-encoded (RFC 3986 unreserved kept, the rest %XX) to out (cap bytes, NUL
 * included). Returns the length written or -ENOSPC. */
int curl_ev_urlencode(char *out, size_t cap, const char *s);

#endif
