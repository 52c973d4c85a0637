/*
 * Client addresses (see addr.h).
 */
#include "actors/gateway/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static void from_v6(const uint8_t b[16], struct gw_addr *out)
{
	memset(out, 0, sizeof *out);
	if (!memcmp(b, v4mapped, sizeof v4mapped)) {
		out->family = 4;
		memcpy(out->b, b + 12, 4);
	} else {
		out->family = 6;
		memcpy(out->b, b, 16);
	}
}

int addr_parse(const char *text, struct gw_addr *out)
{
	uint8_t b[16];
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, text, b) == 1) {
		out->family = 4;
		memcpy(out->b, b, 4);
		return 0;
	}
	if (inet_pton(AF_INET6, text, b) == 1) {
		from_v6(b, out);
		return 0;
	}
	return -EINVAL;
}

void addr_from_sockaddr(const struct sockaddr *sa, struct gw_addr *out)
{
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET) {
		out->family = 4;
		memcpy(out->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		from_v6((const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr, out);
	}
}

void addr_format(const struct gw_addr *a, char *dst, size_t len)
{
	snprintf(dst, len, "?");
	if (a->family == 4)
		inet_ntop(AF_INET, a->b, dst, (socklen_t)len);
	else if (a->family == 6)
		inet_ntop(AF_INET6, a->b, dst, (socklen_t)len);
}

bool addr_equal(const struct gw_addr *a, const struct gw_addr *b)
{
	return a->family == b->family && !memcmp(a->b, b->b, sizeof a->b);
}

/* a with all but its first bits cleared. */
static struct gw_addr masked(const struct gw_addr *a, int bits)
{
	struct gw_addr m = *a;
	for (int i = 0; i < 16; i++) {
		int keep = bits - i * 8;
		if (keep <= 0)
			m.b[i] = 0;
		else if (keep < 8)
			m.b[i] &= (uint8_t)(0xff << (8 - keep));
	}
	return m;
}

struct gw_addr addr_client_key(const struct gw_addr *a)
{
	return a->family == 6 ? masked(a, 64) : *a;
}

struct gw_addr addr_prefix_key(const struct gw_addr *a)
{
	return masked(a, a->family == 6 ? 48 : 24);
}

/* One list item ("addr" or "addr/bits"): 1 matches, 0 does not, -1 malformed. */
static int item_match(const char *item, const struct gw_addr *a)
{
	char host[64];
	const char *slash = strchr(item, '/');
	size_t hl = slash ? (size_t)(slash - item) : strlen(item);
	if (hl == 0 || hl >= sizeof host)
		return -1;
	memcpy(host, item, hl);
	host[hl] = '\0';
	struct gw_addr net;
	if (addr_parse(host, &net) < 0)
		return -1;
	int max = net.family == 4 ? 32 : 128, bits = max;
	if (slash) {
		char *end;
		long n = strtol(slash + 1, &end, 10);
		if (!slash[1] || *end || n < 0 || n > max)
			return -1;
		bits = (int)n;
	}
	if (!a || a->family != net.family)
		return 0;
	struct gw_addr x = masked(a, bits), y = masked(&net, bits);
	return addr_equal(&x, &y);
}

/* Matches a against each item of list (a NULL: only checks the items):
 * 1 at the first match, 0 none, -1 a malformed item (copied into bad). */
static int list_each(const char *list, const struct gw_addr *a, char *bad, size_t badlen)
{
	const char *p = list ? list : "";
	while (*p) {
		p += strspn(p, ", \t");
		size_t n = strcspn(p, ", \t");
		if (n == 0)
			break;
		char item[96];
		int rc = -1;
		if (n < sizeof item) {
			memcpy(item, p, n);
			item[n] = '\0';
			rc = item_match(item, a);
		}
		if (rc < 0) {
			if (bad)
				snprintf(bad, badlen, "%.*s", (int)n, p);
			return -1;
		}
		if (rc > 0)
			return 1;
		p += n;
	}
	return 0;
}

bool addr_list_match(const char *list, const struct gw_addr *a)
{
	return list_each(list, a, NULL, 0) > 0;
}

bool addr_list_valid(const char *list, char *bad, size_t badlen)
{
	return list_each(list, NULL, bad, badlen) == 0;
}
