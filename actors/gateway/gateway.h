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

#include "actors/gateway/http.h"

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

struct gw_rate_entry {
	char ip[64];
	double window_start;
	int count;
};
#define GW_RATE_SLOTS 256

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
	int admin_rate_per_min;
	struct gw_rate_entry rate[GW_RATE_SLOTS];

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
};

/* routes.c: the request handler given to the HTTP server. */
void routes_handle(struct http_request *req, void *ud);
/* A free database connection of the pool, or NULL when all are down. */
struct pg *gw_pg(struct gateway *gw);

/* auth.c. Each returns 0 when the request may go on, otherwise it has
 * answered the request itself (401/403/429/503). */
int auth_admin(struct gateway *gw, struct http_request *req);
int auth_api(struct gateway *gw, struct http_request *req);

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
 * (jobs_json: {"pending":n,...,"batches":{...}} from the database, or NULL). */
char *metrics_render(struct gateway *gw, const char *jobs_json);

#endif
