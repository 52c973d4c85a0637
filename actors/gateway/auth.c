/*
 * Admin and API authentication, the admin IP allowlist and the per-client
 * admin rate limit. Tokens come from the environment and are compared in
 * constant time; they are never logged.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "actors/gateway/gateway.h"
#include "ipc/log.h"

/* The token of "Authorization: Bearer <token>", or NULL. */
static const char *bearer(const struct http_request *req)
{
	const char *h = http_header_get(req, "authorization");
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return h;
}

/* libbsd on Debian has no timingsafe_bcmp: the same loop, OR-ing every
 * byte difference so the time does not depend on where they differ. */
static int ct_bcmp(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d != 0;
}

/* Constant time in the length of the secret: a wrong guess of any length
 * costs the same and reveals nothing about the token. */
static bool token_equal(const char *given, const char *secret)
{
	size_t gl = strlen(given), sl = strlen(secret);
	char buf[512];
	if (sl >= sizeof buf)
		return false;
	memset(buf, 0, sizeof buf);
	memcpy(buf, given, gl < sl ? gl : sl);
	int diff = ct_bcmp(buf, secret, sl);
	return diff == 0 && gl == sl;
}

static bool ip_allowed(const char *list, const char *ip)
{
	char item[64];
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ", ");
		if (n > 0 && n < sizeof item) {
			memcpy(item, p, n);
			item[n] = '\0';
			if (!strcmp(item, ip))
				return true;
			/* IPv4 clients on a dual-stack socket appear as ::ffff:a.b.c.d. */
			if (!strncmp(ip, "::ffff:", 7) && !strcmp(item, ip + 7))
				return true;
		}
		p += n;
		p += strspn(p, ", ");
	}
	return false;
}

/* Fixed one-minute windows per client address, in a small table; a full
 * table recycles the oldest window (bounded memory whatever the clients). */
static int rate_take(struct gateway *gw, const char *ip, double now, int *retry_after)
{
	struct gw_rate_entry *e = NULL, *oldest = &gw->rate[0];
	for (int i = 0; i < GW_RATE_SLOTS; i++) {
		if (!strcmp(gw->rate[i].ip, ip)) {
			e = &gw->rate[i];
			break;
		}
		if (gw->rate[i].window_start < oldest->window_start)
			oldest = &gw->rate[i];
	}
	if (!e) {
		e = oldest;
		strlcpy(e->ip, ip, sizeof e->ip);
		e->window_start = now;
		e->count = 0;
	}
	if (now - e->window_start >= 60.) {
		e->window_start = now;
		e->count = 0;
	}
	if (e->count >= gw->admin_rate_per_min) {
		*retry_after = (int)ceil(60. - (now - e->window_start));
		if (*retry_after < 1)
			*retry_after = 1;
		return -1;
	}
	e->count++;
	return 0;
}

int auth_admin(struct gateway *gw, struct http_request *req)
{
	if (!gw->admin_token) {
		gw_error(gw, req, 503, "admin token not configured", NULL);
		return -1;
	}
	if (gw->allowed_ips && !ip_allowed(gw->allowed_ips, req->peer)) {
		log_warn("admin request from %s refused by ADMIN_ALLOWED_IPS request_id=%s",
		         req->peer, req->request_id);
		gw_error(gw, req, 403, "Client address not allowed", NULL);
		return -1;
	}
	/* Every admin attempt takes from the client's budget, before the token
	 * is looked at (security review: counting only accepted requests left
	 * token guessing unlimited). */
	int retry;
	if (rate_take(gw, req->peer, gw->loop ? ev_now(gw->loop) : 0, &retry) < 0) {
		char extra[64];
		snprintf(extra, sizeof extra, "Retry-After: %d\r\n", retry);
		gw_error(gw, req, 429, "Too many admin requests, slow down", extra);
		return -1;
	}
	const char *tok = bearer(req);
	if (!tok) {
		gw_error(gw, req, 401, "Admin authentication required",
		         "WWW-Authenticate: Bearer\r\n");
		return -1;
	}
	if (!token_equal(tok, gw->admin_token)) {
		log_warn("admin request from %s with a wrong token request_id=%s", req->peer,
		         req->request_id);
		gw_error(gw, req, 403, "Invalid admin token", NULL);
		return -1;
	}
	return 0;
}

int auth_api(struct gateway *gw, struct http_request *req)
{
	if (!gw->api_token)
		return 0;
	const char *tok = bearer(req);
	/* The admin token opens the public endpoints too. */
	if (tok && (token_equal(tok, gw->api_token) ||
	            (gw->admin_token && token_equal(tok, gw->admin_token))))
		return 0;
	if (!tok)
		gw_error(gw, req, 401, "Authentication required", "WWW-Authenticate: Bearer\r\n");
	else
		gw_error(gw, req, 403, "Invalid API token", NULL);
	return -1;
}
