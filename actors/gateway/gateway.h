/*
 * The HTTP gateway actor: shared state and the module interfaces
 * (routes.c, auth.c, json.c, metrics.c). See docs/API.md.
 */
#ifndef VIRALSUP_GATEWAY_H
#define VIRALSUP_GATEWAY_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/gateway/addr.h"
#include "actors/gateway/http.h"
#include "ipc/conn.h"

struct actor;
struct pg;
struct link;

#define GW_PG_POOL 4 /* database connections: one slow query never blocks the rest */

/* Route ids double as metric labels. */
#define GW_ROUTES(X)                                                    \
	X(HEALTH, "/health")                                            \
	X(HEALTHZ, "/healthz")                                          \
	X(READYZ, "/readyz")                                            \
	X(METRICS, "/metrics")                                          \
	X(QUEUE_CREATE, "/api/viral-ideas/queue")                       \
	X(QUEUE_GET, "/api/viral-ideas/queue/{session_id}")             \
	X(CHECK_EXISTING, "/api/viral-ideas/check-existing/{username}") \
	X(QUEUE_START, "/api/viral-ideas/queue/{queue_id}/start")       \
	X(QUEUE_PROCESS, "/api/viral-ideas/queue/{queue_id}/process")   \
	X(QUEUE_CANCEL, "/api/viral-ideas/queue/{queue_id}/cancel")     \
	X(QUEUE_RETRY, "/api/viral-ideas/queue/{queue_id}/retry")       \
	X(PROCESS_PENDING, "/api/viral-ideas/process-pending")          \
	X(QUEUE_STATUS, "/api/viral-ideas/queue-status")                \
	X(RESULTS, "/api/viral-analysis/{queue_id}/results")            \
	X(CONTENT, "/api/viral-analysis/{queue_id}/content")            \
	X(ADMIN_PAGE, "/admin/")                                        \
	X(ADMIN_ASSET, "/admin/{file}")                                 \
	X(ADMIN_SUMMARY, "/admin/api/summary")                          \
	X(ADMIN_ACTORS, "/admin/api/actors")                            \
	X(ADMIN_JOBS, "/admin/api/jobs")                                \
	X(ADMIN_JOB, "/admin/api/jobs/{queue_id}")                      \
	X(ADMIN_PAUSE, "/admin/api/claiming/pause")                     \
	X(ADMIN_RESUME, "/admin/api/claiming/resume")                   \
	X(UNMATCHED, "unmatched")

enum gw_route {
#define GW_ROUTE_ENUM_(id, path) GW_ROUTE_##id,
	GW_ROUTES(GW_ROUTE_ENUM_)
#undef GW_ROUTE_ENUM_
	    GW_ROUTE_COUNT
};

#define GW_LAT_BUCKETS  12
#define GW_STATUS_SLOTS 16

struct gw_metrics {
	uint64_t requests[GW_ROUTE_COUNT][GW_STATUS_SLOTS];
	uint64_t lat_buckets[GW_LAT_BUCKETS + 1]; /* cumulative at render time */
	double lat_sum;
	uint64_t lat_count;
	uint64_t sched_unavailable, db_unavailable;
};

/* Failed authentications of one key in its current one-minute window. */
struct gw_fail_entry {
	struct gw_addr key;
	double window_start;
	int count;
};
/* Bounded tables (open addressing, the oldest of a probe run recycled):
 * eviction can only give an evicted key a fresh window, which under attack
 * is one more try (docs/SECURITY.md). */
#define GW_FAIL_CLIENTS  4096
#define GW_FAIL_PREFIXES 1024

struct gateway {
	struct actor *a;
	struct ev_loop *loop;
	struct http_server *http;
	struct pg *pg[GW_PG_POOL];
	struct link *sched;
	bool sched_up;     /* linked and answering its PINGs (a stopped scheduler is not up) */
	bool sched_linked; /* the link is connected */
	bool sched_probing;
	/* Deaths of other actors the supervisor reported (PEER_DOWN) since this
	 * gateway started; hangs are the watchdog's kills. */
	unsigned long long actor_exits, actor_hangs;
	ev_timer sched_probe;
	double action_timeout; /* seconds */

	/* Security (from the environment; never logged). */
	char *admin_token; /* NULL: admin endpoints answer 503 */
	char *api_token;   /* NULL: public endpoints are open */
	char *allowed_ips; /* comma-separated, NULL: any */

	/* Failed-authentication accounting (auth.c). */
	int fail_per_client, fail_per_prefix, fail_global; /* per minute */
	struct gw_fail_entry fail_clients[GW_FAIL_CLIENTS];
	struct gw_fail_entry fail_prefixes[GW_FAIL_PREFIXES];
	struct gw_fail_entry fail_all;
	unsigned long long auth_throttled; /* 429s for failed authentication */

	/* The edge (edge.c): NULL/empty lists mean none. */
	char *cors_origins;    /* comma-separated origins, or "*" */
	char *trusted_proxies; /* addresses and CIDRs */

	struct gw_metrics metrics;
};

/* Per-request state of the application, in http_request.app; freed by gw_send. */
struct gw_req {
	struct gateway *gw;
	struct http_request *req;
	int route;
	char param[256]; /* the path parameter, percent-decoded */
	int pg_slot;     /* which pool connection runs its query */
	int kind;        /* routes.c: which answer the query feeds */
	char aux[256];   /* routes.c: e.g. the username for a message */
	char client[64]; /* the client's address (behind a trusted proxy: the forwarded one) */
	struct gw_addr client_addr;
};

/* routes.c: the request handler given to the HTTP server. */
void routes_handle(struct http_request *req, void *ud);
/* A free database connection of the pool, or NULL when all are down. */
struct pg *gw_pg(struct gateway *gw);

/* auth.c. Each returns 0 when the request may go on, otherwise it has
 * answered the request itself (401/403/429/503). */
int auth_admin(struct gateway *gw, struct gw_req *r);
int auth_api(struct gateway *gw, struct gw_req *r);

/* edge.c: what is decided before a route runs. */
/* Sets r->client / r->client_addr from the peer, or from X-Forwarded-For /
 * X-Real-IP when the peer is a trusted proxy. */
void edge_client(struct gateway *gw, struct gw_req *r);
/* A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method)
 * is answered here: 204 with the CORS headers for an allowed origin, 400
 * otherwise. Returns true when it answered. */
bool edge_preflight(struct gateway *gw, struct http_request *req);
/* The CORS header lines for an answer to req ("" when none) into buf. */
void edge_cors_headers(const struct gateway *gw, const struct http_request *req, char *buf,
                       size_t len);
/* JSON endpoints take only application/json (cross-site forms cannot send
 * it without a preflight): false when req was answered 415. */
bool edge_json_only(struct gateway *gw, struct http_request *req, bool body_required);
/* Checks the http.cors_origins and http.trusted_proxies values at start:
 * 0, or -EINVAL with the reason in why. */
int edge_config_check(const char *cors, const char *proxies, char *why, size_t len);

/* json.c: answers with the envelopes. */
/* {"success":true,"data":<data_json>,"message":<message or null>,"error":null} */
void gw_ok(struct gateway *gw, struct http_request *req, const char *data_json,
           const char *message);
/* {"success":false,"detail":"<detail>"} with optional extra header lines. */
void gw_error(struct gateway *gw, struct http_request *req, int status, const char *detail,
              const char *extra);
/* 422 with detail [{loc:[where, field...], msg, type}] (FastAPI style); loc
 * is a NULL-terminated list. */
void gw_validation(struct gateway *gw, struct http_request *req, const char *const *loc,
                   const char *msg, const char *type);
/* 422 with a list of errors built by verr_add (takes ownership of errors). */
typedef struct json_t json_t;
void gw_validation_list(struct gateway *gw, struct http_request *req, json_t *errors);
/* Appends {loc:[parts...], msg, type}; the loc parts end with NULL. */
void verr_add(json_t *errors, const char *msg, const char *type, ...);
/* Any status with a finished body (and content type). */
void gw_send(struct gateway *gw, struct http_request *req, int status, const char *ctype,
             const char *extra, const char *body, size_t len);
/* JSON string literal of s (quotes included), malloc'd. */
char *json_quote(const char *s);

/* metrics.c */
void metrics_record(struct gateway *gw, int route, int status, double seconds);
/* Prometheus text for the gateway counters plus job/batch figures
 * (jobs_json: {"pending":n,...,"batches":{...}} from the database, or NULL)
 * and the upstream counters (metrics_upstream's array, or NULL). */
char *metrics_render(struct gateway *gw, const char *jobs_json, const json_t *upstream);
/* The actors' upstream counters (their PONG "stats", in the supervisor's
 * status: children[].stats.upstream[]) summed per kind and name: a new
 * array of {kind, name, requests, ok, throttled, errors, actors}. */
json_t *metrics_upstream(const json_t *status);

/* admin.c: CONTROL status to the supervisor without answering the request
 * (for /metrics): cb gets the reply; -1 when there is no supervisor. */
int admin_ask_status(struct gw_req *r, conn_reply_fn cb, void *arg);
/* The data of a successful CONTROL_REPLY as JSON (caller decrefs), or NULL. */
json_t *admin_reply_data(const struct msg *reply, int err);

/* routes.c helpers shared with admin.c. */
typedef struct pg_result PGresult;
typedef void (*gw_row_fn)(struct gw_req *r, PGresult *res);
/* Runs sql on a pool connection; fn gets the result. Answers 503 itself
 * when no database, 500 (detail logged, not shown) on a failed query. */
void gw_query(struct gw_req *r, const char *sql, int n, const char *const *params, gw_row_fn fn,
              const char *fail_detail);
/* Query parameter name of query, decoded into dst: 1 found, 0 absent, -EINVAL malformed. */
int gw_query_param(const char *query, const char *name, char *dst, size_t dstlen);
/* An integer query parameter in [lo, hi] (def when absent): 0, or -1 with a
 * FastAPI-style error appended to errs. */
int gw_query_int(struct gw_req *r, json_t *errs, const char *name, long def, long lo, long hi,
                 long *out);
/* 500 with detail shown and why logged with the request id. */
void gw_fail_internal(struct gw_req *r, const char *detail, const char *why);

#endif
