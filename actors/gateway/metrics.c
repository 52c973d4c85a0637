/*
 * Prometheus text exposition: requests by route and status, a latency
 * histogram, and (from the database, per scrape) jobs by status and batch
 * counters.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/gateway/gateway.h"
#include "ipc/log.h"

static const int status_slots[GW_STATUS_SLOTS] = {200, 400, 401, 403, 404, 405, 408, 409,
                                                  413, 422, 429, 431, 500, 503, 504, 0};
static const double lat_bounds[GW_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
static const char *const route_names[GW_ROUTE_COUNT] = {
#define GW_ROUTE_NAME_(id, path) path,
    GW_ROUTES(GW_ROUTE_NAME_)
#undef GW_ROUTE_NAME_
};

void metrics_record(struct gateway *gw, int route, int status, double seconds)
{
	struct gw_metrics *m = &gw->metrics;
	int slot = GW_STATUS_SLOTS - 1; /* "other" */
	for (int i = 0; i < GW_STATUS_SLOTS - 1; i++)
		if (status_slots[i] == status)
			slot = i;
	if (route < 0 || route >= GW_ROUTE_COUNT)
		route = GW_ROUTE_UNMATCHED;
	m->requests[route][slot]++;
	if (seconds < 0)
		seconds = 0;
	int b = 0;
	while (b < GW_LAT_BUCKETS && seconds > lat_bounds[b])
		b++;
	m->lat_buckets[b]++;
	m->lat_sum += seconds;
	m->lat_count++;
}

struct sbuf {
	char *s;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->s + b->len, room, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 0);
		b->s = xrealloc(b->s, b->cap);
	}
}

json_t *metrics_upstream(const json_t *status)
{
	/* Tokens: the llm engine's (a model's usage reports); a provider has none. */
	static const char *const keys[] = {
	    "requests", "ok", "throttled", "errors", "prompt_tokens", "completion_tokens"};
	json_t *sums = json_array();
	size_t i, k;
	json_t *child, *u;
	json_array_foreach(json_object_get(status, "children"), i, child)
	{
		json_array_foreach(json_object_get(json_object_get(child, "stats"), "upstream"), k,
		                   u)
		{
			const char *kind = json_string_value(json_object_get(u, "kind"));
			const char *name = json_string_value(json_object_get(u, "name"));
			if (!kind || !name)
				continue;
			json_t *sum = NULL, *s;
			size_t j;
			json_array_foreach(sums, j, s)
			{
				if (!strcmp(json_string_value(json_object_get(s, "kind")), kind) &&
				    !strcmp(json_string_value(json_object_get(s, "name")), name))
					sum = s;
			}
			if (!sum) {
				sum = json_pack("{s:s, s:s, s:I}", "kind", kind, "name", name,
				                "actors", (json_int_t)0);
				for (size_t n = 0; n < sizeof keys / sizeof keys[0]; n++)
					json_object_set_new(sum, keys[n], json_integer(0));
				json_array_append_new(sums, sum);
			}
			for (size_t n = 0; n < sizeof keys / sizeof keys[0]; n++)
				json_object_set_new(
				    sum, keys[n],
				    json_integer(json_integer_value(json_object_get(sum, keys[n])) +
				                 json_integer_value(json_object_get(u, keys[n]))));
			json_object_set_new(
			    sum, "actors",
			    json_integer(json_integer_value(json_object_get(sum, "actors")) + 1));
		}
	}
	return sums;
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void sb_label(struct sbuf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			sb_printf(b, "\\%c", *v);
		else if (*v == '\n')
			sb_printf(b, "\\n");
		else
			sb_printf(b, "%c", *v);
	}
}

static void render_upstream(struct sbuf *b, const json_t *upstream)
{
	static const char *const kinds[] = {"provider", "model"};
	static const char *const outcome_keys[] = {"ok", "throttled", "errors"};
	static const char *const outcomes[] = {"ok", "throttled", "error"};
	for (int k = 0; k < 2; k++) {
		sb_printf(b,
		          "# HELP viralsup_%s_requests_total HTTP requests to the %s since each "
		          "actor making them started (summed over those actors), by outcome: ok "
		          "(2xx), throttled (429), error (other status, timeout, connection).\n"
		          "# TYPE viralsup_%s_requests_total counter\n",
		          kinds[k], k == 0 ? "data provider" : "LLM server", kinds[k]);
		size_t i;
		json_t *u;
		json_array_foreach(upstream, i, u)
		{
			if (strcmp(json_string_value(json_object_get(u, "kind")), kinds[k]))
				continue;
			for (int o = 0; o < 3; o++) {
				sb_printf(b, "viralsup_%s_requests_total{%s=\"", kinds[k],
				          kinds[k]);
				sb_label(b, json_string_value(json_object_get(u, "name")));
				sb_printf(b, "\",outcome=\"%s\"} %lld\n", outcomes[o],
				          (long long)json_integer_value(
				              json_object_get(u, outcome_keys[o])));
			}
		}
	}
	sb_printf(b, "# HELP viralsup_model_tokens_total Tokens the LLM server reported using "
	             "(its usage field) since each analyzer started, by kind: prompt, "
	             "completion.\n# TYPE viralsup_model_tokens_total counter\n");
	size_t i;
	json_t *u;
	json_array_foreach(upstream, i, u)
	{
		if (strcmp(json_string_value(json_object_get(u, "kind")), "model"))
			continue;
		for (int t = 0; t < 2; t++) {
			sb_printf(b, "viralsup_model_tokens_total{model=\"");
			sb_label(b, json_string_value(json_object_get(u, "name")));
			sb_printf(b, "\",kind=\"%s\"} %lld\n", t ? "completion" : "prompt",
			          (long long)json_integer_value(json_object_get(
			              u, t ? "completion_tokens" : "prompt_tokens")));
		}
	}
}

char *metrics_render(struct gateway *gw, const char *jobs_json, const json_t *upstream)
{
	struct gw_metrics *m = &gw->metrics;
	struct sbuf b = {xmalloc(8192), 0, 8192};
	sb_printf(&b, "# HELP viralsup_http_requests_total HTTP requests answered, by route and "
	              "status.\n# TYPE viralsup_http_requests_total counter\n");
	for (int r = 0; r < GW_ROUTE_COUNT; r++)
		for (int s = 0; s < GW_STATUS_SLOTS; s++)
			if (m->requests[r][s]) {
				char st[8];
				if (status_slots[s])
					snprintf(st, sizeof st, "%d", status_slots[s]);
				else
					snprintf(st, sizeof st, "other");
				sb_printf(
				    &b,
				    "viralsup_http_requests_total{route=\"%s\",status=\"%s\"} "
				    "%llu\n",
				    route_names[r], st, (unsigned long long)m->requests[r][s]);
			}
	sb_printf(&b, "# HELP viralsup_http_request_duration_seconds Time from a complete "
	              "request to its answer.\n# TYPE viralsup_http_request_duration_seconds "
	              "histogram\n");
	uint64_t cum = 0;
	for (int i = 0; i < GW_LAT_BUCKETS; i++) {
		cum += m->lat_buckets[i];
		sb_printf(&b, "viralsup_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
		          lat_bounds[i], (unsigned long long)cum);
	}
	cum += m->lat_buckets[GW_LAT_BUCKETS];
	sb_printf(&b, "viralsup_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
	          (unsigned long long)cum);
	sb_printf(&b, "viralsup_http_request_duration_seconds_sum %.6f\n", m->lat_sum);
	sb_printf(&b, "viralsup_http_request_duration_seconds_count %llu\n",
	          (unsigned long long)m->lat_count);
	sb_printf(&b, "# TYPE viralsup_http_connections gauge\nviralsup_http_connections %d\n",
	          gw->http ? http_server_connections(gw->http) : 0);
	if (gw->http) {
		unsigned long long reaped, per_addr, full;
		http_server_counters(gw->http, &reaped, &per_addr, &full);
		sb_printf(
		    &b,
		    "# HELP viralsup_http_connections_closed_total Connections the gateway "
		    "closed or refused to stay fair: idle ones closed to make room, refused "
		    "by the per-address cap, refused with the table full.\n"
		    "# TYPE viralsup_http_connections_closed_total counter\n"
		    "viralsup_http_connections_closed_total{reason=\"idle_reaped\"} %llu\n"
		    "viralsup_http_connections_closed_total{reason=\"per_address_cap\"} %llu\n"
		    "viralsup_http_connections_closed_total{reason=\"table_full\"} %llu\n",
		    reaped, per_addr, full);
	}
	sb_printf(&b,
	          "# HELP viralsup_http_auth_throttled_total Requests answered 429 for failed "
	          "authentication.\n# TYPE viralsup_http_auth_throttled_total counter\n"
	          "viralsup_http_auth_throttled_total %llu\n",
	          gw->auth_throttled);
	sb_printf(&b,
	          "# TYPE viralsup_gateway_scheduler_up gauge\nviralsup_gateway_scheduler_up %d\n",
	          gw->sched_up ? 1 : 0);
	sb_printf(&b,
	          "# HELP viralsup_actor_exits_total Actor deaths the supervisor reported since "
	          "this gateway started.\n# TYPE viralsup_actor_exits_total counter\n"
	          "viralsup_actor_exits_total %llu\n",
	          gw->actor_exits);
	sb_printf(&b,
	          "# HELP viralsup_actor_hangs_total Of those, hung actors the watchdog killed.\n"
	          "# TYPE viralsup_actor_hangs_total counter\nviralsup_actor_hangs_total %llu\n",
	          gw->actor_hangs);

	json_t *j = jobs_json ? json_loads(jobs_json, 0, NULL) : NULL;
	sb_printf(&b,
	          "# TYPE viralsup_gateway_database_up gauge\nviralsup_gateway_database_up %d\n",
	          j ? 1 : 0);
	if (j) {
		static const char *const st[] = {"pending", "processing", "completed", "failed",
		                                 "paused"};
		sb_printf(&b, "# HELP viralsup_jobs Jobs by status.\n# TYPE viralsup_jobs gauge\n");
		for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
			sb_printf(&b, "viralsup_jobs{status=\"%s\"} %lld\n", st[i],
			          (long long)json_integer_value(json_object_get(j, st[i])));
		json_t *bt = json_object_get(j, "batches");
		sb_printf(&b,
		          "# TYPE viralsup_batches_total counter\nviralsup_batches_total %lld\n",
		          (long long)json_integer_value(json_object_get(bt, "total")));
		sb_printf(&b,
		          "# TYPE viralsup_batches_running gauge\nviralsup_batches_running %lld\n",
		          (long long)json_integer_value(json_object_get(bt, "running")));
		sb_printf(&b,
		          "# TYPE viralsup_batch_jobs_total counter\n"
		          "viralsup_batch_jobs_total{outcome=\"completed\"} %lld\n"
		          "viralsup_batch_jobs_total{outcome=\"failed\"} %lld\n",
		          (long long)json_integer_value(json_object_get(bt, "completed_jobs")),
		          (long long)json_integer_value(json_object_get(bt, "failed_jobs")));
		json_decref(j);
	}
	/* Without a supervisor's answer there are no counters to show, and no
	 * zeros pretending there are. */
	sb_printf(&b,
	          "# HELP viralsup_upstream_stats_up Whether the supervisor's status (where the "
	          "actors' provider and model counters are) answered this scrape.\n"
	          "# TYPE viralsup_upstream_stats_up gauge\nviralsup_upstream_stats_up %d\n",
	          upstream ? 1 : 0);
	if (upstream)
		render_upstream(&b, upstream);
	return b.s;
}
