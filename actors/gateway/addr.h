/*
 * Client addresses as the gateway counts them: parsed from text or a
 * socket address, reduced to the key a client is counted by, matched
 * against configured lists of addresses and CIDR prefixes.
 *
 * Counting keys (docs/SECURITY.md, "Rate limits and fair connections"):
 *   client: an IPv4 address, or an IPv6 /64 (one host is given a whole
 *           /64, so its addresses within it are one client);
 *   prefix: an IPv4 /24, or an IPv6 /48 (one network).
 */
#ifndef VIRALSUP_GATEWAY_ADDR_H
#define VIRALSUP_GATEWAY_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;

struct gw_addr {
	uint8_t family; /* 4 or 6; 0: unknown (e.g. an in-memory connection) */
	uint8_t b[16];  /* IPv4 in b[0..3] */
};

/* Parses "1.2.3.4", "::1" or "::ffff:1.2.3.4" (as IPv4). 0 or -EINVAL. */
int addr_parse(const char *text, struct gw_addr *out);
/* The address of a connected peer (IPv4-mapped IPv6 as IPv4). */
void addr_from_sockaddr(const struct sockaddr *sa, struct gw_addr *out);
/* Text form into dst ("?" when unknown). */
void addr_format(const struct gw_addr *a, char *dst, size_t len);
bool addr_equal(const struct gw_addr *a, const struct gw_addr *b);
/* The key a client is counted by, and the network it is in (see above). */
struct gw_addr addr_client_key(const struct gw_addr *a);
struct gw_addr addr_prefix_key(const struct gw_addr *a);
/* Whether a is in list: comma- or space-separated addresses and CIDR
 * prefixes ("10.0.0.1, 192.168.0.0/16, fd00::/8"). Malformed items never
 * match. */
bool addr_list_match(const char *list, const struct gw_addr *a);
/* Whether every item of list parses; the first bad one into bad. */
bool addr_list_valid(const char *list, char *bad, size_t badlen);

#endif
