/*
 * The HTTP layer of the gateway, in memory (no sockets): parsing,
 * pipelining order, limits. The handler answers each request with its
 * method and path so the order of answers is visible.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/gateway/addr.h"
#include "actors/gateway/http.h"
#include "tests/harness.h"

static void echo(struct http_request *req, void *ud)
{
	(void)ud;
	char body[4200];
	int n = snprintf(body, sizeof body, "%s %.4000s %zu", req->method_name, req->path,
	                 req->body_len);
	http_respond(req, 200, "text/plain", NULL, body, (size_t)n);
}

static const struct http_limits lim = {100, 10, 10, 10};

/* Feeds text into a fresh in-memory connection; returns its output (malloc'd). */
static char *run(const char *in, size_t len)
{
	struct http_server *s = http_server_new(NULL, -1, &lim, echo, NULL);
	struct http_conn *c = http_conn_memory(s);
	http_conn_feed(c, in, len);
	size_t olen;
	const char *o = http_conn_output(c, &olen);
	char *out = strndup(o ? o : "", olen);
	http_conn_free(c);
	http_server_free(s);
	return out;
}

static int count(const char *h, const char *n)
{
	int k = 0;
	for (const char *p = h; (p = strstr(p, n)); p++)
		k++;
	return k;
}

TEST(pipelined_requests_are_answered_in_order)
{
	const char in[] = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	                  "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
	                  "GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
	char *out = run(in, sizeof in - 1);
	ASSERT_EQ_INT(count(out, "HTTP/1.1 200 OK"), 3);
	char *a = strstr(out, "GET /a 0"), *b = strstr(out, "POST /b 3"),
	     *c = strstr(out, "GET /c 0");
	ASSERT(a && b && c && a < b && b < c);
	ASSERT_CONTAINS(out, "Connection: keep-alive");
	free(out);
}

TEST(headers_over_16k_answer_431)
{
	size_t n = 20000;
	char *in = malloc(n + 100);
	int k = sprintf(in, "GET / HTTP/1.1\r\nX-Big: ");
	memset(in + k, 'a', n);
	strcpy(in + k + n, "\r\n\r\n");
	char *out = run(in, strlen(in));
	ASSERT_CONTAINS(out, "HTTP/1.1 431 ");
	ASSERT_CONTAINS(out, "Connection: close");
	free(out);
	free(in);
}

TEST(body_over_1mib_answers_413_before_reading_it)
{
	const char in[] = "POST /x HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n";
	char *out = run(in, sizeof in - 1);
	ASSERT_CONTAINS(out, "HTTP/1.1 413 ");
	ASSERT_CONTAINS(out, "\"success\":false");
	free(out);
}

TEST(chunked_body_over_1mib_answers_413)
{
	size_t chunk = 512 * 1024;
	size_t cap = 3 * (chunk + 32) + 200;
	char *in = malloc(cap);
	size_t k = (size_t)sprintf(in, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (int i = 0; i < 3; i++) {
		k += (size_t)sprintf(in + k, "%zx\r\n", chunk);
		memset(in + k, 'z', chunk);
		k += chunk;
		k += (size_t)sprintf(in + k, "\r\n");
	}
	k += (size_t)sprintf(in + k, "0\r\n\r\n");
	char *out = run(in, k);
	ASSERT_CONTAINS(out, "HTTP/1.1 413 ");
	free(out);
	free(in);
}

TEST(garbage_answers_400_and_closes)
{
	const char in[] = "HELLO\r\n\r\n";
	char *out = run(in, sizeof in - 1);
	ASSERT_CONTAINS(out, "HTTP/1.1 400 ");
	ASSERT_CONTAINS(out, "Connection: close");
	ASSERT_CONTAINS(out, "X-Request-Id: ");
	free(out);
}

TEST(http10_without_keepalive_closes_after_answer)
{
	const char in[] = "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n";
	char *out = run(in, sizeof in - 1);
	ASSERT_EQ_INT(count(out, "HTTP/1.1 200 OK"), 1);
	ASSERT_CONTAINS(out, "Connection: close");
	free(out);
}

TEST(client_request_id_is_echoed_when_plain)
{
	const char in[] = "GET /a HTTP/1.1\r\nX-Request-Id: abc-123\r\n\r\n"
	                  "GET /b HTTP/1.1\r\nX-Request-Id: bad id\"\r\n\r\n";
	char *out = run(in, sizeof in - 1);
	ASSERT_CONTAINS(out, "X-Request-Id: abc-123\r\n");
	ASSERT(!strstr(out, "bad id"));
	free(out);
}

TEST(request_split_byte_by_byte_is_parsed)
{
	const char in[] = "POST /split HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
	struct http_server *s = http_server_new(NULL, -1, &lim, echo, NULL);
	struct http_conn *c = http_conn_memory(s);
	for (size_t i = 0; i < sizeof in - 1; i++)
		http_conn_feed(c, in + i, 1);
	size_t olen;
	const char *o = http_conn_output(c, &olen);
	char *out = strndup(o, olen);
	ASSERT_CONTAINS(out, "POST /split 5");
	free(out);
	http_conn_free(c);
	http_server_free(s);
}

TEST(whitespace_before_a_header_colon_is_400_never_chunked)
{
	/* Read as chunked here and as a plain field by a proxy in front, this
	 * is request smuggling: refused, and the "body" never becomes a request. */
	const char te[] = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n"
	                  "0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n";
	char *out = run(te, sizeof te - 1);
	ASSERT_CONTAINS(out, "HTTP/1.1 400 ");
	ASSERT_CONTAINS(out, "Whitespace in a header field name");
	ASSERT(!strstr(out, "200 OK"));
	ASSERT(!strstr(out, "smuggled"));
	free(out);
	const char cl[] = "POST /x HTTP/1.1\r\nContent-Length\t: 3\r\n\r\nabc";
	out = run(cl, sizeof cl - 1);
	ASSERT_CONTAINS(out, "HTTP/1.1 400 ");
	ASSERT(!strstr(out, "200 OK"));
	free(out);
}

TEST(upgrade_and_connect_requests_are_400_and_never_reach_the_handler)
{
	const char *reqs[] = {
	    "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, "
	    "HTTP2-Settings\r\n"
	    "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 0\r\n\r\n",
	    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	    "GET /healthz HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n", /* no Connection: upgrade */
	    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
		char *out = run(reqs[i], strlen(reqs[i]));
		if (!strstr(out, "HTTP/1.1 400 ") || strstr(out, "200 OK"))
			FAIL("request %zu: \"%s\"", i, out);
		ASSERT_CONTAINS(out, "Connection: close");
		free(out);
	}
}

TEST(expect_100_continue_is_answered_before_the_body_is_sent)
{
	const char head[] = "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	                    "Expect: 100-continue\r\n\r\n";
	struct http_server *s = http_server_new(NULL, -1, &lim, echo, NULL);
	struct http_conn *c = http_conn_memory(s);
	http_conn_feed(c, head, sizeof head - 1);
	size_t olen;
	const char *o = http_conn_output(c, &olen);
	char *out = strndup(o ? o : "", olen);
	ASSERT_EQ_STR(out, "HTTP/1.1 100 Continue\r\n\r\n");
	free(out);
	http_conn_feed(c, "hello", 5);
	o = http_conn_output(c, &olen);
	out = strndup(o, olen);
	static const char want[] = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n";
	if (strncmp(out, want, sizeof want - 1))
		FAIL("seen \"%s\"", out);
	ASSERT_CONTAINS(out, "POST /e 5");
	free(out);
	http_conn_free(c);
	http_server_free(s);

	/* Nothing to continue: no interim answer; a body too large: 413, no 100. */
	const char none[] = "GET /n HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n";
	out = run(none, sizeof none - 1);
	ASSERT(!strstr(out, "100 Continue"));
	ASSERT_CONTAINS(out, "GET /n 0");
	free(out);
	const char big[] = "POST /b HTTP/1.1\r\nContent-Length: 2000000\r\n"
	                   "Expect: 100-continue\r\n\r\n";
	out = run(big, sizeof big - 1);
	ASSERT(!strstr(out, "100 Continue"));
	ASSERT_CONTAINS(out, "HTTP/1.1 413 ");
	free(out);
}

TEST(unknown_expectations_get_417)
{
	const char in[] = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
	                  "Expect: something-else\r\n\r\nab";
	char *out = run(in, sizeof in - 1);
	ASSERT_CONTAINS(out, "HTTP/1.1 417 Expectation Failed\r\n");
	ASSERT(!strstr(out, "200 OK"));
	free(out);
}

/* ---- client addresses (addr.c) ---------------------------------------------------- */

static struct gw_addr parsed(const char *text)
{
	struct gw_addr a;
	if (addr_parse(text, &a) < 0)
		FAIL("addr_parse(\"%s\") failed", text);
	return a;
}

static char *key_text(struct gw_addr k)
{
	static char buf[64];
	addr_format(&k, buf, sizeof buf);
	return buf;
}

TEST(clients_are_ipv4_addresses_or_ipv6_slash_64s_and_networks_slash_24_or_48)
{
	struct gw_addr a = parsed("192.0.2.77");
	ASSERT_EQ_STR(key_text(addr_client_key(&a)), "192.0.2.77");
	ASSERT_EQ_STR(key_text(addr_prefix_key(&a)), "192.0.2.0");
	/* IPv4 on a dual-stack socket is the same client as plain IPv4. */
	struct gw_addr m = parsed("::ffff:192.0.2.77");
	ASSERT(addr_equal(&m, &a));
	struct gw_addr v6 = parsed("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
	ASSERT_EQ_STR(key_text(addr_client_key(&v6)), "2001:db8:1:2::");
	ASSERT_EQ_STR(key_text(addr_prefix_key(&v6)), "2001:db8:1::");
	/* Rotating inside one /64 is one client. */
	struct gw_addr v6b = parsed("2001:db8:1:2::1");
	struct gw_addr k1 = addr_client_key(&v6), k2 = addr_client_key(&v6b);
	ASSERT(addr_equal(&k1, &k2));
	struct gw_addr bad;
	ASSERT(addr_parse("10.0.0.256", &bad) < 0);
	ASSERT(addr_parse("proxy.example", &bad) < 0);
	ASSERT(addr_parse("", &bad) < 0);
}

TEST(address_lists_match_addresses_and_cidr_prefixes)
{
	const char *list = "10.0.0.1, 192.168.0.0/16 fd00::/8,127.0.0.0/8";
	struct gw_addr a = parsed("10.0.0.1"), b = parsed("192.168.44.5"), c = parsed("fd12::9"),
	               d = parsed("10.0.0.2"), e = parsed("::ffff:127.0.0.9"),
	               f = parsed("fe80::1");
	ASSERT(addr_list_match(list, &a));
	ASSERT(addr_list_match(list, &b));
	ASSERT(addr_list_match(list, &c));
	ASSERT(!addr_list_match(list, &d));
	ASSERT(addr_list_match(list, &e));
	ASSERT(!addr_list_match(list, &f));
	ASSERT(!addr_list_match("", &a));
	ASSERT(!addr_list_match(NULL, &a));
	char bad[96];
	ASSERT(addr_list_valid(list, bad, sizeof bad));
	ASSERT(!addr_list_valid("10.0.0.0/8, 10.0.0.0/33", bad, sizeof bad));
	ASSERT_EQ_STR(bad, "10.0.0.0/33");
	ASSERT(!addr_list_valid("10.0.0.1, localhost", bad, sizeof bad));
	ASSERT_EQ_STR(bad, "localhost");
}
