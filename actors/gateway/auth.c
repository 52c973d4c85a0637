/*
 * Admin and API authentication, the admin IP allowlist and failed-
 * authentication accounting. Tokens come from the environment and are
 * compared in constant time; they are never logged.
 *
 * Failed authentication (a token presented and wrong) is counted in
 * one-minute windows at three levels: the client (an IPv4 address, an
 * IPv6 /64), its network (an IPv4 /24, an IPv6 /48) and everyone. A
 * correct token is never counted and never refused because of anyone
 * else's failures; only the client's own failures can stop its token
 * from being checked:
 *
 *   allowance = http.admin_rate_per_min failures per client, or 1 while
 *               the client's network or everyone is over budget;
 *   client already at its allowance  -> 429, token not checked;
 *   token right                       -> go on (nothing counted);
 *   token wrong                       -> counted at all three levels;
 *                                        429 if the network or everyone
 *                                        is now at its budget, else 403
 *                                        (the client's own next try is
 *                                        the one refused unchecked).
 *
 * So rotating addresses buys at most one guess per fresh client per
 * minute once the network or global budget is spent, and an attacker
 * cannot lock anyone else out: a client with no failures of its own is
 * always checked. docs/SECURITY.md gives the reasoning and the figures.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "actors/gateway/gateway.h"
#include "ipc/log.h"

#define WINDOW 60.0 /* seconds */

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

/* ---- failure accounting ------------------------------------------------------ */

static unsigned addr_hash(const struct gw_addr *a)
{
	uint32_t h = 2166136261u ^ a->family; /* FNV-1a */
	for (int i = 0; i < 16; i++)
		h = (h ^ a->b[i]) * 16777619u;
	return h;
}

#define PROBES 8

/* The entry of key in table (n slots, a power of two), with its window
 * current. create: take the stalest slot of the probe run when key is
 * absent; otherwise NULL when absent. */
static struct gw_fail_entry *fail_find(struct gw_fail_entry *table, unsigned n,
                                       const struct gw_addr *key, double now, bool create)
{
	unsigned h = addr_hash(key);
	struct gw_fail_entry *stalest = NULL, *e = NULL;
	for (unsigned i = 0; i < PROBES && !e; i++) {
		struct gw_fail_entry *s = &table[(h + i) & (n - 1)];
		if (s->count > 0 && addr_equal(&s->key, key))
			e = s;
		else if (!stalest || (stalest->count != 0 &&
		                      (s->count == 0 || s->window_start < stalest->window_start)))
			stalest = s; /* an unused slot, else the oldest window */
	}
	if (!e && !create)
		return NULL;
	if (!e) {
		e = stalest;
		e->key = *key;
		e->window_start = now;
		e->count = 0;
	}
	if (now - e->window_start >= WINDOW) {
		e->window_start = now;
		e->count = 0;
	}
	return e;
}

static int count_of(struct gw_fail_entry *table, unsigned n, const struct gw_addr *key, double now)
{
	struct gw_fail_entry *e = fail_find(table, n, key, now, false);
	return e ? e->count : 0;
}

static void global_roll(struct gateway *gw, double now)
{
	if (now - gw->fail_all.window_start >= WINDOW) {
		gw->fail_all.window_start = now;
		gw->fail_all.count = 0;
	}
}

/* Seconds until a window started at start ends (at least 1). */
static int retry_after(double start, double now)
{
	int s = (int)ceil(WINDOW - (now - start));
	return s < 1 ? 1 : s;
}

static void answer_throttled(struct gateway *gw, struct gw_req *r, int retry)
{
	char extra[64];
	snprintf(extra, sizeof extra, "Retry-After: %d\r\n", retry);
	gw->auth_throttled++;
	gw_error(gw, r->req, 429, "Too many failed authentication attempts, slow down", extra);
}

/*
 * Checks tok against secret (and secret2, may be NULL) under the failure
 * accounting above. Returns 1 when right, 0 when wrong (not answered:
 * the caller says 403), -1 when answered 429.
 */
static int token_check(struct gateway *gw, struct gw_req *r, const char *tok, const char *secret,
                       const char *secret2)
{
	double now = gw->loop ? ev_now(gw->loop) : 0;
	struct gw_addr ck = addr_client_key(&r->client_addr);
	struct gw_addr pk = addr_prefix_key(&r->client_addr);
	global_roll(gw, now);
	int prefix_n = count_of(gw->fail_prefixes, GW_FAIL_PREFIXES, &pk, now);
	bool pressed = prefix_n >= gw->fail_per_prefix || gw->fail_all.count >= gw->fail_global;
	int allowance = pressed ? 1 : gw->fail_per_client;
	struct gw_fail_entry *ce = fail_find(gw->fail_clients, GW_FAIL_CLIENTS, &ck, now, false);
	if (ce && ce->count >= allowance) {
		answer_throttled(gw, r, retry_after(ce->window_start, now));
		return -1;
	}
	if (token_equal(tok, secret) || (secret2 && token_equal(tok, secret2)))
		return 1;
	ce = fail_find(gw->fail_clients, GW_FAIL_CLIENTS, &ck, now, true);
	struct gw_fail_entry *pe = fail_find(gw->fail_prefixes, GW_FAIL_PREFIXES, &pk, now, true);
	ce->count++;
	pe->count++;
	gw->fail_all.count++;
	if (gw->fail_all.count == gw->fail_global)
		log_warn("failed authentications reached http.auth_fail_global_per_min (%d): "
		         "one try per client until the window ends",
		         gw->fail_global);
	if (pe->count >= gw->fail_per_prefix || gw->fail_all.count >= gw->fail_global) {
		answer_throttled(gw, r, retry_after(ce->window_start, now));
		return -1;
	}
	return 0;
}

int auth_admin(struct gateway *gw, struct gw_req *r)
{
	struct http_request *req = r->req;
	if (!gw->admin_token) {
		gw_error(gw, req, 503, "admin token not configured", NULL);
		return -1;
	}
	if (gw->allowed_ips && !addr_list_match(gw->allowed_ips, &r->client_addr)) {
		log_warn("admin request from %s refused by ADMIN_ALLOWED_IPS request_id=%s",
		         r->client, req->request_id);
		gw_error(gw, req, 403, "Client address not allowed", NULL);
		return -1;
	}
	const char *tok = bearer(req);
	if (!tok) {
		gw_error(gw, req, 401, "Admin authentication required",
		         "WWW-Authenticate: Bearer\r\n");
		return -1;
	}
	int ok = token_check(gw, r, tok, gw->admin_token, NULL);
	if (ok < 0)
		return -1;
	if (!ok) {
		log_warn("admin request from %s with a wrong token request_id=%s", r->client,
		         req->request_id);
		gw_error(gw, req, 403, "Invalid admin token", NULL);
		return -1;
	}
	return 0;
}

int auth_api(struct gateway *gw, struct gw_req *r)
{
	struct http_request *req = r->req;
	if (!gw->api_token)
		return 0;
	const char *tok = bearer(req);
	if (!tok) {
		gw_error(gw, req, 401, "Authentication required", "WWW-Authenticate: Bearer\r\n");
		return -1;
	}
	/* The admin token opens the public endpoints too. */
	int ok = token_check(gw, r, tok, gw->api_token, gw->admin_token);
	if (ok < 0)
		return -1;
	if (!ok) {
		gw_error(gw, req, 403, "Invalid API token", NULL);
		return -1;
	}
	return 0;
}
