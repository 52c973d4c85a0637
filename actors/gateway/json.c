/*
 * Response envelopes. Success and error bodies have the original's exact
 * keys; a body built by PostgreSQL (json_build_object) is spliced in as
 * text, so nothing is parsed twice.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/gateway/gateway.h"
#include "ipc/log.h"

char *json_quote(const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (!j) /* not UTF-8: keep it safe rather than exact */
		j = json_string("<invalid utf-8>");
	char *out = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	json_decref(j);
	if (!out)
		log_fatal("json_dumps: out of memory");
	return out;
}

void gw_send(struct gateway *gw, struct http_request *req, int status, const char *ctype,
             const char *extra, const char *body, size_t len)
{
	struct gw_req *r = req->app;
	metrics_record(gw, r ? r->route : GW_ROUTE_UNMATCHED, status,
	               gw->loop ? ev_time() - req->started : 0);
	free(r);
	req->app = NULL;
	char cors[768], all[1280];
	edge_cors_headers(gw, req, cors, sizeof cors);
	if (*cors) {
		snprintf(all, sizeof all, "%s%s", extra ? extra : "", cors);
		extra = all;
	}
	http_respond(req, status, ctype, extra, body, len);
}

void gw_ok(struct gateway *gw, struct http_request *req, const char *data_json, const char *message)
{
	char *msg = message ? json_quote(message) : NULL;
	char *body = xasprintf("{\"success\":true,\"data\":%s,\"message\":%s,\"error\":null}",
	                       data_json ? data_json : "null", msg ? msg : "null");
	gw_send(gw, req, 200, NULL, NULL, body, strlen(body));
	free(body);
	free(msg);
}

void gw_error(struct gateway *gw, struct http_request *req, int status, const char *detail,
              const char *extra)
{
	char *d = json_quote(detail);
	char *body = xasprintf("{\"success\":false,\"detail\":%s}", d);
	gw_send(gw, req, status, NULL, extra, body, strlen(body));
	free(body);
	free(d);
}

void gw_validation(struct gateway *gw, struct http_request *req, const char *const *loc,
                   const char *msg, const char *type)
{
	json_t *l = json_array();
	for (int i = 0; loc && loc[i]; i++) {
		/* A numeric part is a list index, as FastAPI reports it. */
		char *end;
		long n = strtol(loc[i], &end, 10);
		if (*loc[i] && !*end)
			json_array_append_new(l, json_integer(n));
		else
			json_array_append_new(l, json_string(loc[i]));
	}
	json_t *e = json_pack("{s:o,s:s,s:s}", "loc", l, "msg", msg, "type", type);
	json_t *root = json_pack("{s:b,s:[o]}", "success", 0, "detail", e);
	char *body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!body)
		log_fatal("json_dumps: out of memory");
	gw_send(gw, req, 422, NULL, NULL, body, strlen(body));
	free(body);
}

void gw_validation_list(struct gateway *gw, struct http_request *req, json_t *errors)
{
	json_t *root = json_pack("{s:b,s:o}", "success", 0, "detail", errors);
	char *body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!body)
		log_fatal("json_dumps: out of memory");
	gw_send(gw, req, 422, NULL, NULL, body, strlen(body));
	free(body);
}

void verr_add(json_t *errors, const char *msg, const char *type, ...)
{
	json_t *l = json_array();
	va_list ap;
	va_start(ap, type);
	const char *part;
	while ((part = va_arg(ap, const char *)) != NULL) {
		char *end;
		long n = strtol(part, &end, 10);
		if (*part && !*end)
			json_array_append_new(l, json_integer(n));
		else
			json_array_append_new(l, json_string(part));
	}
	va_end(ap);
	json_array_append_new(errors,
	                      json_pack("{s:o,s:s,s:s}", "loc", l, "msg", msg, "type", type));
}
