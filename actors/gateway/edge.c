/*
 * The edge: what the gateway decides about a request before a route runs.
 *
 * - The client's address: the TCP peer, unless the peer is one of
 *   http.trusted_proxies; then the nearest untrusted address of the last
 *   X-Forwarded-For header (walking from the right, so addresses a client
 *   put there itself are never believed), else X-Real-IP.
 * - CORS (http.cors_origins): listed origins are echoed with credentials
 *   allowed; "*" answers every origin, never with credentials (browsers
 *   refuse that pair, and a wildcard must not carry cookies anyway).
 * - CSRF: JSON endpoints take only application/json, which a cross-site
 *   form or a "simple" fetch cannot send without a preflight.
 */
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/gateway/gateway.h"
#include "ipc/log.h"

#define CORS_MAX_ORIGIN 255

/* ---- the client's address ------------------------------------------------- */

/* The value of the last header called name (a proxy appends its own line
 * after whatever the client sent), or NULL. */
static const char *header_last(const struct http_request *req, const char *name)
{
	const char *v = NULL;
	for (int i = 0; i < req->nheaders; i++)
		if (req->headers[i].name && !strcmp(req->headers[i].name, name))
			v = req->headers[i].value;
	return v;
}

/* Item i of a comma-separated list, trimmed, into dst; false past the end. */
static bool list_item(const char *list, int i, char *dst, size_t len)
{
	const char *p = list;
	for (int k = 0; k < i; k++) {
		p = strchr(p, ',');
		if (!p)
			return false;
		p++;
	}
	p += strspn(p, " \t");
	size_t n = strcspn(p, ",");
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	snprintf(dst, len, "%.*s", (int)(n < len ? n : len - 1), p);
	return true;
}

void edge_client(struct gateway *gw, struct gw_req *r)
{
	struct http_request *req = r->req;
	strlcpy(r->client, req->peer, sizeof r->client);
	addr_parse(req->peer, &r->client_addr);
	if (!gw->trusted_proxies || !addr_list_match(gw->trusted_proxies, &r->client_addr))
		return;
	const char *xff = header_last(req, "x-forwarded-for");
	if (xff) {
		int n = 0;
		char item[64];
		while (list_item(xff, n, item, sizeof item))
			n++;
		/* From the right: the first address that is not one of our proxies
		 * is the client as the last trusted hop saw it. */
		for (int i = n - 1; i >= 0; i--) {
			struct gw_addr a;
			list_item(xff, i, item, sizeof item);
			if (addr_parse(item, &a) < 0)
				break; /* garbage below a trusted hop: stop believing */
			r->client_addr = a;
			addr_format(&a, r->client, sizeof r->client);
			if (!addr_list_match(gw->trusted_proxies, &a))
				return;
		}
		return;
	}
	const char *xri = header_last(req, "x-real-ip");
	struct gw_addr a;
	if (xri && addr_parse(xri, &a) == 0) {
		r->client_addr = a;
		addr_format(&a, r->client, sizeof r->client);
	}
}

/* ---- CORS ----------------------------------------------------------------------- */

static bool cors_any(const struct gateway *gw)
{
	return gw->cors_origins && !strcmp(gw->cors_origins, "*");
}

/* Whether origin is one of the listed origins (exact, ASCII case-insensitive:
 * scheme and host are case-insensitive, and we list no paths). */
static bool cors_listed(const struct gateway *gw, const char *origin)
{
	if (!gw->cors_origins || cors_any(gw))
		return false;
	char item[CORS_MAX_ORIGIN + 1];
	for (int i = 0; list_item(gw->cors_origins, i, item, sizeof item); i++)
		if (*item && !strcasecmp(item, origin))
			return true;
	return false;
}

void edge_cors_headers(const struct gateway *gw, const struct http_request *req, char *buf,
                       size_t len)
{
	buf[0] = '\0';
	if (!gw->cors_origins)
		return;
	const char *origin = http_header_get(req, "origin");
	if (cors_any(gw)) {
		if (origin)
			snprintf(buf, len,
			         "Access-Control-Allow-Origin: *\r\n"
			         "Access-Control-Expose-Headers: X-Request-Id, Retry-After\r\n");
		return;
	}
	/* The answer depends on Origin: caches must keep one per origin. */
	if (origin && strlen(origin) <= CORS_MAX_ORIGIN && cors_listed(gw, origin))
		snprintf(buf, len,
		         "Access-Control-Allow-Origin: %s\r\n"
		         "Access-Control-Allow-Credentials: true\r\n"
		         "Access-Control-Expose-Headers: X-Request-Id, Retry-After\r\n"
		         "Vary: Origin\r\n",
		         origin);
	else
		snprintf(buf, len, "Vary: Origin\r\n");
}

bool edge_preflight(struct gateway *gw, struct http_request *req)
{
	const char *origin = http_header_get(req, "origin");
	const char *want = http_header_get(req, "access-control-request-method");
	if (req->method != HTTP_OPTIONS || !origin || !want)
		return false;
	bool ok = cors_any(gw) || (strlen(origin) <= CORS_MAX_ORIGIN && cors_listed(gw, origin));
	if (!ok) {
		/* As Starlette's CORSMiddleware: no CORS headers, so the browser
		 * refuses the real request. */
		log_info("CORS preflight from origin not allowed request_id=%s", req->request_id);
		gw_error(gw, req, 400, "Disallowed CORS origin", NULL);
		return true;
	}
	char extra[1024];
	snprintf(extra, sizeof extra,
	         "Access-Control-Allow-Origin: %s\r\n"
	         "%s"
	         "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
	         "Access-Control-Allow-Headers: Authorization, Content-Type, X-Request-Id, "
	         "Accept, Accept-Language, Content-Language\r\n"
	         "Access-Control-Max-Age: 600\r\n"
	         "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers\r\n",
	         cors_any(gw) ? "*" : origin,
	         cors_any(gw) ? "" : "Access-Control-Allow-Credentials: true\r\n");
	/* Straight to the HTTP layer: gw_send would add the CORS headers again. */
	struct gw_req *r = req->app;
	metrics_record(gw, r ? r->route : GW_ROUTE_UNMATCHED, 204,
	               gw->loop ? ev_time() - req->started : 0);
	free(r);
	req->app = NULL;
	http_respond(req, 204, NULL, extra, "", 0);
	return true;
}

/* ---- CSRF: JSON only ------------------------------------------------------------ */

/* Whether a Content-Type value is application/json (parameters allowed). */
static bool is_json_type(const char *v)
{
	v += strspn(v, " \t");
	size_t n = strcspn(v, ";");
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	return n == 16 && !strncasecmp(v, "application/json", 16);
}

bool edge_json_only(struct gateway *gw, struct http_request *req, bool body_required)
{
	const char *ct = http_header_get(req, "content-type");
	/* A POST without a body and without a Content-Type (curl -X POST) is
	 * no form: browsers always label what a form or simple fetch sends. */
	if (!ct && !body_required && req->body_len == 0)
		return true;
	if (ct && is_json_type(ct))
		return true;
	gw_error(gw, req, 415, "Unsupported Media Type: the request body must be application/json",
	         NULL);
	return false;
}

int edge_config_check(const char *cors, const char *proxies, char *why, size_t len)
{
	char bad[96];
	if (proxies && !addr_list_valid(proxies, bad, sizeof bad)) {
		snprintf(why, len, "http.trusted_proxies: not an address or CIDR: \"%s\"", bad);
		return -EINVAL;
	}
	if (!cors || !*cors || !strcmp(cors, "*"))
		return 0;
	char item[CORS_MAX_ORIGIN + 2];
	for (int i = 0; list_item(cors, i, item, sizeof item); i++) {
		bool scheme = !strncasecmp(item, "http://", 7) || !strncasecmp(item, "https://", 8);
		if (!scheme || strlen(item) > CORS_MAX_ORIGIN || strchr(item, '*') ||
		    strpbrk(item, " \r\n\t") || strchr(strstr(item, "//") + 2, '/')) {
			snprintf(why, len,
			         "http.cors_origins: \"%.100s\" is not an origin "
			         "(scheme://host[:port], or a lone *)",
			         item);
			return -EINVAL;
		}
	}
	return 0;
}
