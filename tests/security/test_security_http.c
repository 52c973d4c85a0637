/*
 * Hostile HTTP clients against a real gateway (the whole stack on a fresh
 * database, loopback only): slowloris, connection floods, oversized
 * requests, invalid UTF-8, path traversal, SQL injection in every field,
 * admin endpoints without and with wrong tokens. Every attack is bounded
 * in count and time; after each one the gateway must still serve.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/security/sectest.h"
#include "tests/stack.h"

/* ---- raw sockets ------------------------------------------------------------ */

static int port_of(struct stack *s)
{
	const char *c = strrchr(s->url, ':');
	return c ? atoi(c + 1) : 0;
}

/* A blocking TCP connection to the gateway from source address src (one
 * of loopback's 127.0.0.0/8; NULL: the kernel's choice, 127.0.0.1), or -1. */
static int tcp_connect_from(struct stack *s, const char *src)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_of(s))};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (src) {
		struct sockaddr_in me = {.sin_family = AF_INET};
		inet_pton(AF_INET, src, &me.sin_addr);
		if (bind(fd, (struct sockaddr *)&me, sizeof me) < 0) {
			close(fd);
			return -1;
		}
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int tcp_connect(struct stack *s)
{
	return tcp_connect_from(s, NULL);
}

/* Sends len bytes (ignoring a peer that closes early: it may answer and
 * close before reading everything), then reads until EOF or ms pass.
 * Returns what was read (malloc'd, NUL-terminated); *eof tells whether
 * the server closed. */
static char *exchange_from(struct stack *s, const char *src, const char *req, size_t len, int ms,
                           bool *eof)
{
	int fd = tcp_connect_from(s, src);
	if (fd < 0)
		FAIL("connect from %s: %s", src ? src : "127.0.0.1", strerror(errno));
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	char *buf = NULL;
	size_t blen = 0;
	FILE *m = open_memstream(&buf, &blen);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	double t0 = test_now_ms();
	bool closed = false;
	while (!closed) {
		int left = ms - (int)(test_now_ms() - t0);
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		char chunk[4096];
		ssize_t n = recv(fd, chunk, sizeof chunk, 0);
		if (n <= 0)
			closed = true;
		else
			fwrite(chunk, 1, (size_t)n, m);
	}
	fclose(m);
	close(fd);
	if (eof)
		*eof = closed;
	return buf;
}

static char *exchange(struct stack *s, const char *req, size_t len, int ms, bool *eof)
{
	return exchange_from(s, NULL, req, len, ms, eof);
}

static int status_of(const char *resp)
{
	if (strncmp(resp, "HTTP/1.1 ", 9) != 0)
		return 0;
	return atoi(resp + 9);
}

/* The gateway answers /healthz within a second. */
static void assert_alive(struct stack *s)
{
	double t0 = test_now_ms();
	char *r = NULL;
	long st = stack_http(s, NULL, "GET", "/healthz", NULL, false, &r);
	if (st != 200)
		FAIL("gateway /healthz: HTTP %ld %s", st, r);
	if (test_now_ms() - t0 > 1000)
		FAIL("gateway /healthz took %.0f ms", test_now_ms() - t0);
	free(r);
	/* The same gateway, not one the supervisor restarted after a crash. */
	ASSERT_EQ_INT(stack_restarts(s, "gateway"), 0);
}

/* An HTTP request from source address src (NULL: 127.0.0.1) with an
 * arbitrary Authorization line (NULL: none) and extra header lines (each
 * ending in CRLF, may be NULL). Returns the status; *resp when not NULL. */
static int request_from(struct stack *s, const char *src, const char *method, const char *path,
                        const char *auth, const char *extra, const char *body, char **resp)
{
	char *req;
	size_t blen = body ? strlen(body) : 0;
	int n = asprintf(&req,
	                 "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%s%s"
	                 "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	                 method, path, auth ? "Authorization: " : "", auth ? auth : "",
	                 auth ? "\r\n" : "", extra ? extra : "", blen, body ? body : "");
	if (n < 0)
		abort();
	char *out = exchange_from(s, src, req, (size_t)n, 10000, NULL);
	free(req);
	int st = status_of(out);
	if (resp)
		*resp = out;
	else
		free(out);
	return st;
}

static int request(struct stack *s, const char *method, const char *path, const char *auth,
                   const char *body, char **resp)
{
	return request_from(s, NULL, method, path, auth, NULL, body, resp);
}

static int count_fds(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Enough descriptors for a flood of n sockets, or skip. */
static void need_fds(int n)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < (rlim_t)n + 64)
		test_skip("RLIMIT_NOFILE too low for the connection flood");
}

/* ---- slowloris ---------------------------------------------------------------- */

TEST(slowloris_connections_get_408_and_close_while_others_are_served)
{
	struct stack s;
	stack_init(&s);
	stack_start_conf(&s, "[http]\nheader_timeout_ms = 1500\nbody_timeout_ms = 1500\n");
	enum { NSLOW = 40, NBODY = 10, N = NSLOW + NBODY };
	/* Headers that would take 10 s at one byte per 50 ms; bodies the same. */
	char head[600], body_req[200];
	int hl = snprintf(head, sizeof head,
	                  "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %0*d\r\n\r\n", 500, 0);
	int bl = snprintf(body_req, sizeof body_req,
	                  "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\n"
	                  "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n");
	int fds[N], sent[N], got_len[N];
	char got[N][64];
	double closed_at[N];
	double t0 = test_now_ms();
	for (int i = 0; i < N; i++) {
		fds[i] = tcp_connect(&s);
		ASSERT(fds[i] >= 0);
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
		sent[i] = 0;
		got_len[i] = 0;
		got[i][0] = '\0';
		closed_at[i] = 0;
		/* The body attackers send their headers at once, then drip. */
		if (i >= NSLOW) {
			ASSERT_EQ_INT(send(fds[i], body_req, (size_t)bl, MSG_NOSIGNAL), bl);
			sent[i] = bl;
		}
	}
	int open_n = N, served = 0;
	double worst_ms = 0, last_probe = 0;
	while (open_n > 0 && test_now_ms() - t0 < 8000) {
		for (int i = 0; i < N; i++) {
			if (closed_at[i])
				continue;
			/* One more byte every round (~50 ms). */
			char ch = i < NSLOW ? (sent[i] < hl ? head[sent[i]] : ' ') : '{';
			if (send(fds[i], &ch, 1, MSG_NOSIGNAL) == 1)
				sent[i]++;
			char buf[512];
			ssize_t n;
			while ((n = recv(fds[i], buf, sizeof buf, 0)) > 0) {
				int room = (int)sizeof got[i] - 1 - got_len[i];
				int k = n < room ? (int)n : room;
				memcpy(got[i] + got_len[i], buf, (size_t)k);
				got_len[i] += k;
				got[i][got_len[i]] = '\0';
			}
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
				closed_at[i] = test_now_ms() - t0;
				open_n--;
			}
		}
		/* Meanwhile an honest client is served promptly. */
		if (test_now_ms() - last_probe > 250) {
			double p0 = test_now_ms();
			assert_alive(&s);
			if (test_now_ms() - p0 > worst_ms)
				worst_ms = test_now_ms() - p0;
			served++;
			last_probe = test_now_ms();
		}
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < N; i++) {
		if (!closed_at[i])
			FAIL("slow connection %d still open after 8 s (sent %d bytes)", i, sent[i]);
		if (status_of(got[i]) != 408)
			FAIL("slow connection %d: expected a 408, got \"%s\"", i, got[i]);
		/* Closed by the timeout (1.5 s), not by the end of the data. */
		ASSERT(sent[i] < (i < NSLOW ? hl : bl + 200));
		ASSERT_CMP_INT(closed_at[i], <, 5000);
		close(fds[i]);
	}
	ASSERT_CMP_INT(served, >=, 4);
	printf("  %d slowloris connections: all 408 + closed; %d honest requests served, "
	       "slowest %.0f ms\n",
	       N, served, worst_ms);
	stack_stop(&s);
}

/* ---- connection flood --------------------------------------------------------- */

TEST(ten_thousand_connection_attempts_are_refused_cleanly_and_fds_return)
{
	enum { HOLD = 1000, TOTAL = 10000, LIMIT = 256 };
	need_fds(HOLD + 100);
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_HTTP_MAX_CONNECTIONS=256");
	stack_start_conf(&s, "[http]\nheader_timeout_ms = 2000\n");
	pid_t gw = stack_pid(&s, "gateway", 0);
	assert_alive(&s);
	/* curl's keep-alive connection is gone once its handle is cleaned up. */
	int base = count_fds(gw);
	ASSERT(base > 0);

	/* Phase 1: HOLD idle connections at once, far above the limit. */
	static int fds[HOLD];
	double t0 = test_now_ms();
	for (int i = 0; i < HOLD; i++) {
		fds[i] = tcp_connect(&s);
		if (fds[i] < 0)
			FAIL("connect %d: %s", i, strerror(errno));
	}
	double opened_ms = test_now_ms() - t0;
	/* Another client is served, fast: the flood (one address) is held to
	 * http.max_connections_per_addr, far below the table's size. */
	double p0 = test_now_ms();
	static const char probe_req[] =
	    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	char *r = exchange_from(&s, "127.0.0.2", probe_req, sizeof probe_req - 1, 2000, NULL);
	double probe_ms = test_now_ms() - p0;
	if (status_of(r) != 200)
		FAIL("probe from another address during the flood: \"%s\"", r);
	free(r);
	ASSERT_CMP_INT(probe_ms, <, 1000);
	/* Every flood connection ends: over the per-address cap with a 429,
	 * the rest closed silently at the header timeout (they never sent a
	 * byte). */
	int refused = 0, silent = 0, other = 0;
	for (int i = 0; i < HOLD; i++) {
		char buf[512];
		size_t got = 0;
		struct pollfd p = {.fd = fds[i], .events = POLLIN};
		for (;;) {
			int left = 6000 - (int)(test_now_ms() - t0);
			if (left <= 0 || poll(&p, 1, left) <= 0)
				FAIL("flood connection %d not closed by the gateway within 6 s", i);
			ssize_t n = recv(fds[i], buf + got, sizeof buf - 1 - got, 0);
			if (n <= 0)
				break;
			got += (size_t)n;
			if (got == sizeof buf - 1)
				break;
		}
		buf[got] = '\0';
		if (got == 0)
			silent++;
		else if (status_of(buf) == 429 &&
		         strstr(buf, "Too many connections from your address"))
			refused++;
		else
			other++;
		close(fds[i]);
	}
	ASSERT_EQ_INT(other, 0);
	ASSERT_CMP_INT(refused, >=, HOLD - 2 * LIMIT);
	ASSERT_CMP_INT(silent, >=, 1);
	ASSERT_CMP_INT(silent, <=, 2 * LIMIT);

	/* Phase 2: the rest of the attempts connect and drop at once. */
	int dropped = 0;
	for (int i = HOLD; i < TOTAL; i++) {
		int fd = tcp_connect(&s);
		if (fd < 0)
			continue; /* a full accept queue is refusal too */
		close(fd);
		dropped++;
	}
	double total_ms = test_now_ms() - t0;
	ASSERT_CMP_INT(dropped, >=, (TOTAL - HOLD) / 2);
	assert_alive(&s);
	/* Nothing leaks: the gateway's descriptors come back to where they were. */
	WAIT_UNTIL(count_fds(gw) <= base, 5000);
	ASSERT_EQ_INT(stack_pid(&s, "gateway", 0), gw);
	printf("  %d attempts in %.1f s (%d held at once, opened in %.0f ms): %d refused 429, "
	       "%d closed at the header timeout, %d connect+drop; probe %.0f ms; gateway fds "
	       "back to %d\n",
	       TOTAL, total_ms / 1000, HOLD, opened_ms, refused, silent, dropped, probe_ms,
	       count_fds(gw));
	stack_stop(&s);
}

/* ---- oversized requests ------------------------------------------------------- */

TEST(oversized_headers_and_bodies_get_431_and_413)
{
	struct stack s;
	stack_init(&s);
	stack_start_conf(&s, "");
	bool eof;
	char *r, *req;
	int n;

	/* One header line over 16 KiB. */
	n = asprintf(&req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %0*d\r\n\r\n", 17000, 0);
	r = exchange(&s, req, (size_t)n, 5000, &eof);
	ASSERT_EQ_INT(status_of(r), 431);
	ASSERT(eof);
	free(r);
	free(req);
	/* A request target over 16 KiB. */
	n = asprintf(&req, "GET /api/viral-ideas/queue/%0*d HTTP/1.1\r\nHost: x\r\n\r\n", 20000, 0);
	r = exchange(&s, req, (size_t)n, 5000, &eof);
	ASSERT_EQ_INT(status_of(r), 431);
	ASSERT(eof);
	free(r);
	free(req);
	/* More than 100 small header fields. */
	char *many = NULL;
	size_t ml = 0;
	FILE *m = open_memstream(&many, &ml);
	fputs("GET /healthz HTTP/1.1\r\nHost: x\r\n", m);
	for (int i = 0; i < 150; i++)
		fprintf(m, "X-H%d: v\r\n", i);
	fputs("\r\n", m);
	fclose(m);
	r = exchange(&s, many, ml, 5000, &eof);
	ASSERT_EQ_INT(status_of(r), 431);
	ASSERT(eof);
	free(r);
	free(many);
	/* A declared body over 1 MiB is refused before it is sent. */
	const char *big = "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\n"
	                  "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n";
	double t0 = test_now_ms();
	r = exchange(&s, big, strlen(big), 5000, &eof);
	ASSERT_EQ_INT(status_of(r), 413);
	ASSERT(eof);
	ASSERT_CMP_INT(test_now_ms() - t0, <, 2000);
	free(r);
	/* A chunked body that grows past 1 MiB. */
	m = open_memstream(&many, &ml);
	fputs("POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\n"
	      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
	      m);
	for (int i = 0; i < 20; i++) {
		fprintf(m, "10000\r\n");
		for (int j = 0; j < 0x10000; j++)
			fputc('a', m);
		fputs("\r\n", m);
	}
	fputs("0\r\n\r\n", m);
	fclose(m);
	r = exchange(&s, many, ml, 5000, &eof);
	ASSERT_EQ_INT(status_of(r), 413);
	ASSERT(eof);
	free(r);
	free(many);
	/* A Content-Length that overflows. */
	const char *ovf = "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\n"
	                  "Content-Length: 99999999999999999999999\r\n\r\n";
	r = exchange(&s, ovf, strlen(ovf), 5000, &eof);
	ASSERT(status_of(r) == 400 || status_of(r) == 413);
	free(r);
	assert_alive(&s);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_ideas_queue", NULL), 0);
	stack_stop(&s);
}

/* ---- invalid UTF-8 ------------------------------------------------------------ */

/* A queue submission whose session_id is the raw bytes sid. */
static int submit_raw_sid(struct stack *s, const char *sid, char **resp)
{
	char *body;
	if (asprintf(&body,
	             "{\"session_id\":\"%s\",\"primary_username\":\"alice\","
	             "\"selected_competitors\":[],\"content_strategy\":{\"contentType\":\"a\","
	             "\"targetAudience\":\"b\",\"goals\":\"c\"}}",
	             sid) < 0)
		abort();
	int st = request(s, "POST", "/api/viral-ideas/queue", NULL, body, resp);
	free(body);
	return st;
}

TEST(invalid_utf8_in_bodies_paths_and_headers_is_a_client_error)
{
	struct stack s;
	stack_init(&s);
	stack_start_conf(&s, "");
	const char *bad_bodies[] = {
	    "\xff\xfe",         /* never valid */
	    "\xc0\xaf",         /* overlong '/' */
	    "a\xed\xa0\x80z",   /* an encoded surrogate */
	    "\xf4\x90\x80\x80", /* above U+10FFFF */
	    "\xe2\x82",         /* truncated sequence */
	    "\\ud800",          /* a lone surrogate escape */
	    "a\\u0000b",        /* NUL cannot be stored in text */
	};
	for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
		char *resp = NULL;
		int st = submit_raw_sid(&s, bad_bodies[i], &resp);
		if (st != 422 && st != 400)
			FAIL("session_id bytes #%zu: expected 422, got %d: %s", i, st, resp);
		free(resp);
	}
	/* Valid multi-byte UTF-8 is fine and stored as is. */
	ASSERT_EQ_INT(submit_raw_sid(&s, "caf\xc3\xa9-\xf0\x9f\x94\xa5", NULL), 200);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_ideas_queue WHERE session_id = $1",
	                      "caf\xc3\xa9-\xf0\x9f\x94\xa5", NULL),
	              1);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_ideas_queue", NULL), 1);

	/* Paths: percent-encoded and raw invalid bytes in every parameter. */
	const char *paths[] = {
	    "/api/viral-ideas/queue/%ff%fe",
	    "/api/viral-ideas/queue/%c0%af",
	    "/api/viral-ideas/queue/\xff\xfe",
	    "/api/viral-ideas/check-existing/%ff",
	    "/api/viral-ideas/check-existing/%ed%a0%80",
	    "/api/viral-ideas/check-existing/\xc3",
	    "/api/viral-analysis/%ff/results",
	    "/api/viral-analysis/00000000-0000-0000-0000-000000000000/content?content_type=%ff",
	    "/api/viral-analysis/00000000-0000-0000-0000-000000000000/content?limit=%ff",
	    "/%ff%fe/healthz",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		char *resp = NULL;
		int st = request(&s, "GET", paths[i], NULL, NULL, &resp);
		if (st != 400 && st != 404 && st != 422)
			FAIL("GET %s: expected 400/404/422, got %d: %s", paths[i], st, resp);
		free(resp);
	}
	/* A request id and an Authorization header with invalid bytes. */
	const char *hreq = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: \xff\xfe\r\n"
	                   "Authorization: Bearer \xc0\xaf\r\nConnection: close\r\n\r\n";
	char *r = exchange(&s, hreq, strlen(hreq), 5000, NULL);
	ASSERT_EQ_INT(status_of(r), 200);
	ASSERT(!strstr(r, "\xff\xfe"));
	free(r);
	const char *areq = "POST /api/viral-ideas/process-pending HTTP/1.1\r\nHost: x\r\n"
	                   "Authorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n";
	r = exchange(&s, areq, strlen(areq), 5000, NULL);
	ASSERT_EQ_INT(status_of(r), 403);
	free(r);
	assert_alive(&s);
	stack_stop(&s);
}

/* ---- path traversal ----------------------------------------------------------- */

TEST(path_traversal_attempts_never_serve_a_file)
{
	struct stack s;
	stack_init(&s);
	stack_start_conf(&s, "");
	const char *paths[] = {
	    "/api/viral-ideas/queue/../../etc/passwd",
	    "/api/viral-ideas/queue/..%2f..%2fetc%2fpasswd",
	    "/api/viral-ideas/queue/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
	    "/api/viral-ideas/queue/..%252f..%252fetc%252fpasswd",
	    "/api/viral-ideas/queue/%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
	    "/api/viral-ideas/queue/..\\..\\etc\\passwd",
	    "/api/viral-ideas/check-existing/..%2f..%2f..%2fetc%2fpasswd",
	    "/api/viral-analysis/..%2f..%2fetc%2fpasswd/results",
	    "/api/viral-analysis/../../../../etc/passwd/content",
	    "/../../../../etc/passwd",
	    "/etc/passwd",
	    "//etc/passwd",
	    "/api/../../etc/passwd",
	    "/%2e%2e/%2e%2e/etc/passwd",
	    "/api/viral-ideas/queue/%00../../etc/passwd",
	    "/api/viral-ideas/queue/....//....//etc/passwd",
	    "/proc/self/environ",
	    "/api/viral-ideas/queue/..%2f..%2fproc%2fself%2fenviron",
	};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		char *resp = NULL;
		int st = request(&s, "GET", paths[i], NULL, NULL, &resp);
		/* 422: a check-existing name that cannot be an account. */
		if (st != 400 && st != 404 && st != 422)
			FAIL("GET %s: expected 400/404/422, got %d: %s", paths[i], st, resp);
		if (strstr(resp, "root:") || strstr(resp, "PATH=") || strstr(resp, "DATABASE_URL"))
			FAIL("GET %s served a file: %s", paths[i], resp);
		free(resp);
	}
	/* Request targets that are not origin-form. */
	const char *targets[] = {"../../etc/passwd", "etc/passwd", "*",
	                         "http://127.0.0.1/../../etc/passwd", "file:///etc/passwd"};
	for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		char *req, *resp;
		int n = asprintf(&req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		                 targets[i]);
		resp = exchange(&s, req, (size_t)n, 5000, NULL);
		int st = status_of(resp);
		if (st != 400 && st != 404)
			FAIL("GET %s: expected 400/404, got \"%s\"", targets[i], resp);
		ASSERT(!strstr(resp, "root:"));
		free(req);
		free(resp);
	}
	assert_alive(&s);
	stack_stop(&s);
}

/* ---- SQL injection ------------------------------------------------------------ */

static const char *const sqli[] = {
    "'; DROP TABLE viral_ideas_queue; --",
    "' OR '1'='1",
    "\" OR \"\"=\"",
    "1); TRUNCATE viral_ideas_queue CASCADE; --",
    "$$; DROP SCHEMA public CASCADE; $$",
    "' UNION SELECT usename, passwd FROM pg_shadow --",
    "'; SELECT pg_sleep(5); --",
    "\\'; DELETE FROM viral_ideas_competitors; --",
    "%27%20OR%201=1--",
    "admin'--",
    "'||(SELECT current_user)||'",
    "1 AND 1=(SELECT COUNT(*) FROM pg_tables)",
};
#define NSQLI (sizeof sqli / sizeof sqli[0])

static char *json_text(json_t *j)
{
	char *t = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return t;
}

static char *submission(const char *sid, const char *user, const char *comp, const char *ct,
                        const char *ta, const char *goals, json_t *prio)
{
	json_t *j =
	    json_pack("{s:s, s:s, s:[s], s:{s:s, s:s, s:s}}", "session_id", sid, "primary_username",
	              user, "selected_competitors", comp, "content_strategy", "contentType", ct,
	              "targetAudience", ta, "goals", goals);
	if (prio)
		json_object_set_new(j, "priority", prio);
	return json_text(j);
}

static char *urlenc(const char *s)
{
	CURL *c = curl_easy_init();
	char *e = curl_easy_escape(c, s, 0), *out = strdup(e);
	curl_free(e);
	curl_easy_cleanup(c);
	return out;
}

TEST(sql_injection_in_every_field_is_stored_verbatim_or_rejected)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered"); /* jobs stay as submitted */
	stack_start_conf(&s, "");
	const char *tables = "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
	                     "WHERE schemaname = 'public'";
	char *before = sql_str(&s, tables, NULL);
	char *job = stack_submit(&s, "sqli-victim", "victim", "rival", 5);
	int stored = 1;
	double slowest = 0;

	for (size_t i = 0; i < NSQLI; i++) {
		const char *p = sqli[i];
		char sid[300], *body, *resp = NULL;
		double t0 = test_now_ms();
		/* Free-text fields: accepted and stored byte for byte. */
		snprintf(sid, sizeof sid, "sqli-%zu-%s", i, p);
		body = submission(sid, "alice", "bob", p, p, p, NULL);
		int st = request(&s, "POST", "/api/viral-ideas/queue", NULL, body, &resp);
		if (st != 200)
			FAIL("free-text injection #%zu: HTTP %d %s", i, st, resp);
		free(body);
		free(resp);
		stored++;
		ASSERT_EQ_INT(
		    sql_int(&s,
		            "SELECT count(*) FROM viral_ideas_queue WHERE session_id = $1 "
		            "AND content_strategy->>'contentType' = $2 AND "
		            "content_strategy->>'targetAudience' = $2 AND "
		            "content_strategy->>'goals' = $2",
		            sid, p, NULL),
		    1);
		/* ... and read back through the path parameter. */
		char *enc = urlenc(sid), *path;
		ASSERT(asprintf(&path, "/api/viral-ideas/queue/%s", enc) > 0);
		st = request(&s, "GET", path, NULL, NULL, &resp);
		ASSERT_EQ_INT(st, 200);
		json_t *j = json_loads(strstr(resp, "\r\n\r\n") + 4, 0, NULL);
		ASSERT_EQ_STR(
		    json_string_value(json_object_get(json_object_get(j, "data"), "session_id")),
		    sid);
		json_decref(j);
		free(resp);
		free(path);
		free(enc);

		/* Validated fields: rejected with 422, nothing stored. */
		snprintf(sid, sizeof sid, "sqli-rejected-%zu", i);
		const char *users[] = {p, "alice", "alice"};
		const char *comps[] = {"bob", p, "bob"};
		for (int k = 0; k < 3; k++) {
			json_t *prio = k == 2 ? json_string(p) : NULL;
			body = submission(sid, users[k], comps[k], "a", "b", "c", prio);
			st = request(&s, "POST", "/api/viral-ideas/queue", NULL, body, &resp);
			if (st != 422)
				FAIL("injection #%zu in field %d: expected 422, got %d %s", i, k,
				     st, resp);
			free(body);
			free(resp);
		}

		/* Path and query parameters. */
		enc = urlenc(p);
		struct {
			const char *fmt, *method;
			bool admin;
			int want1, want2;
		} probes[] = {
		    {"/api/viral-ideas/queue/%s", "GET", false, 404, 404},
		    {"/api/viral-ideas/check-existing/%s", "GET", false, 404, 422},
		    {"/api/viral-analysis/%s/results", "GET", false, 400, 400},
		    {"/api/viral-analysis/%s/content", "GET", false, 400, 400},
		    {"/api/viral-ideas/queue/%s/start", "POST", false, 400, 400},
		    {"/api/viral-ideas/queue/%s/process", "POST", true, 400, 400},
		    {"/api/viral-ideas/queue/%s/cancel", "POST", true, 400, 400},
		    {"/api/viral-ideas/queue/%s/retry", "POST", true, 400, 400},
		};
		for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
			ASSERT(asprintf(&path, probes[k].fmt, enc) > 0);
			st = request(&s, probes[k].method, path,
			             probes[k].admin ? "Bearer " STACK_ADMIN_TOKEN : NULL, NULL,
			             &resp);
			if (st != probes[k].want1 && st != probes[k].want2)
				FAIL("%s %s: expected %d, got %d %s", probes[k].method, path,
				     probes[k].want1, st, resp);
			free(resp);
			free(path);
		}
		const char *queries[] = {"content_type", "limit", "offset"};
		for (int k = 0; k < 3; k++) {
			ASSERT(asprintf(&path, "/api/viral-analysis/%s/content?%s=%s", job,
			                queries[k], enc) > 0);
			st = request(&s, "GET", path, NULL, NULL, &resp);
			if (st != 422)
				FAIL("GET %s: expected 422, got %d %s", path, st, resp);
			free(resp);
			free(path);
		}
		free(enc);
		if (test_now_ms() - t0 > slowest)
			slowest = test_now_ms() - t0;
	}
	/* pg_sleep never ran: no payload round took seconds. */
	ASSERT_CMP_INT(slowest, <, 4000);
	/* The tables are all there, with exactly the rows we submitted. */
	char *after = sql_str(&s, tables, NULL);
	ASSERT_EQ_STR(after, before);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_ideas_queue", NULL), stored);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_ideas_competitors", NULL), stored);
	ASSERT_EQ_STR(sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1", job, NULL),
	              "pending");
	printf("  %zu payloads x (4 stored fields + 3 validated fields + 11 path/query "
	       "parameters): all harmless; slowest round %.0f ms\n",
	       NSQLI, slowest);
	free(before);
	free(after);
	free(job);
	stack_stop(&s);
}

/* ---- admin authentication ----------------------------------------------------- */

TEST(admin_endpoints_refuse_missing_and_wrong_tokens_and_limit_guessing)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered"); /* jobs stay as submitted */
	stack_start_conf(&s, "");
	char *job = stack_submit(&s, "admin-victim", "victim", "", 5);
	const char *fmts[] = {
	    "/api/viral-ideas/process-pending", "/api/viral-ideas/queue/%s/process",
	    "/api/viral-ideas/queue/%s/cancel", "/api/viral-ideas/queue/%s/retry"};
	struct {
		const char *auth;
		int want;
	} cases[] = {
	    {NULL, 401},
	    {"", 401},
	    {"Bearer", 401},
	    {"Basic " STACK_ADMIN_TOKEN, 401},
	    {STACK_ADMIN_TOKEN, 401},
	    {"Bearer ", 403},
	    {"Bearer wrong-token", 403},
	    {"Bearer test-admin-toke", 403},           /* a prefix */
	    {"Bearer " STACK_ADMIN_TOKEN "x", 403},    /* longer */
	    {"Bearer " STACK_ADMIN_TOKEN "\t", 403},   /* trailing garbage */
	    {"Bearer TEST-ADMIN-TOKEN", 403},          /* case matters */
	    {"Bearer  " STACK_ADMIN_TOKEN "  x", 403}, /* spaces inside */
	};
	int nreq = 0;
	for (size_t f = 0; f < 4; f++) {
		char path[128];
		snprintf(path, sizeof path, fmts[f], job);
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			char *resp = NULL;
			int st = request(&s, "POST", path, cases[c].auth, NULL, &resp);
			nreq++;
			int want = cases[c].want;
			if (st != want)
				FAIL("POST %s with \"%s\": expected %d, got %d %s", path,
				     cases[c].auth ? cases[c].auth : "(none)", want, st, resp);
			if (st == 200)
				FAIL("POST %s with \"%s\" was accepted", path,
				     cases[c].auth ? cases[c].auth : "(none)");
			free(resp);
		}
		/* The token is not taken from the query string or another header. */
		char *q;
		ASSERT(asprintf(&q, "%s?token=%s&access_token=%s", path, STACK_ADMIN_TOKEN,
		                STACK_ADMIN_TOKEN) > 0);
		ASSERT_EQ_INT(request(&s, "POST", q, NULL, NULL, NULL), 401);
		free(q);
	}
	/* Nothing happened to the job. */
	ASSERT_EQ_STR(sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1", job, NULL),
	              "pending");
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM batches", NULL), 0);
	/* The right token works (the refusals above were not a broken route). */
	char path[128];
	snprintf(path, sizeof path, "/api/viral-ideas/queue/%s/cancel", job);
	char *resp = NULL;
	int st = request(&s, "POST", path, "Bearer " STACK_ADMIN_TOKEN, NULL, &resp);
	if (st != 200)
		FAIL("cancel with the right token: %d %s", st, resp);
	free(resp);
	ASSERT_EQ_STR(sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1", job, NULL),
	              "failed");
	printf("  %d unauthorised admin requests refused (401/403), none acted\n", nreq + 4);
	stack_stop(&s);

	/* Guessing is rate limited like any admin request: with a limit of 5
	 * per minute the sixth guess is 429, and so is the right token then. */
	struct stack g;
	stack_init(&g);
	stack_env(&g, "VIRALSUP_ADMIN_RATE_PER_MIN=5");
	stack_start_conf(&g, "");
	for (int i = 0; i < 5; i++)
		ASSERT_EQ_INT(request(&g, "POST", "/api/viral-ideas/process-pending",
		                      "Bearer guess", NULL, NULL),
		              403);
	ASSERT_EQ_INT(
	    request(&g, "POST", "/api/viral-ideas/process-pending", "Bearer guess", NULL, &resp),
	    429);
	ASSERT_CONTAINS(resp, "Retry-After: ");
	free(resp);
	ASSERT_EQ_INT(request(&g, "POST", "/api/viral-ideas/process-pending",
	                      "Bearer " STACK_ADMIN_TOKEN, NULL, NULL),
	              429);
	/* Public endpoints are not affected. */
	assert_alive(&g);
	free(job);
	stack_stop(&g);
}

/* ---- fair connections ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* One request from src on its own connection; its latency into *ms. */
static int probe_from(struct stack *s, const char *src, const char *path, double *ms)
{
	char req[256];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	                 path);
	double t0 = test_now_ms();
	char *r = exchange_from(s, src, req, (size_t)n, 5000, NULL);
	*ms = test_now_ms() - t0;
	int st = status_of(r);
	if (st != 200)
		fprintf(stderr, "probe %s from %s: \"%.200s\"\n", path, src, r);
	free(r);
	return st;
}

/* The answer waiting on fd (up to 2 s): its status, 0 for none / closed. */
static int read_status(int fd)
{
	char buf[1024];
	size_t got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	double t0 = test_now_ms();
	while (got < 12) {
		int left = 2000 - (int)(test_now_ms() - t0);
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return status_of(buf);
}

/* Reads whatever else is waiting on fd without blocking. */
static void drain(int fd)
{
	char buf[4096];
	while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
}

TEST(one_address_holding_1030_connections_never_denies_a_second_address)
{
	enum { FLOOD = 1030, PROBE_EVERY = 20, HOLD_PROBES = 200 };
	need_fds(FLOOD + 200);
	struct stack s;
	stack_init(&s);
	stack_start_conf(&s, ""); /* defaults: 1024 connections, 128 per address */
	static const char ka[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	static int fds[FLOOD];
	static double lat[FLOOD / PROBE_EVERY + HOLD_PROBES + 8];
	int nlat = 0, bad = 0;
	double t0 = test_now_ms();
	/* The attacker (127.0.0.1) opens keep-alive connections, each with a
	 * request; meanwhile 127.0.0.2 is served. */
	for (int i = 0; i < FLOOD; i++) {
		fds[i] = tcp_connect(&s);
		if (fds[i] < 0)
			FAIL("flood connect %d: %s", i, strerror(errno));
		send(fds[i], ka, sizeof ka - 1, MSG_NOSIGNAL);
		if (i % PROBE_EVERY == 0) {
			const char *path =
			    (i / PROBE_EVERY) % 2 ? "/api/viral-ideas/queue-status" : "/healthz";
			bad += probe_from(&s, "127.0.0.2", path, &lat[nlat++]) != 200;
		}
	}
	int held = 0, refused = 0, other = 0;
	for (int i = 0; i < FLOOD; i++) {
		int st = read_status(fds[i]);
		if (st == 200)
			held++;
		else if (st == 429)
			refused++;
		else
			other++;
	}
	/* Held: the attacker keeps its connections alive with a request each
	 * round, and 127.0.0.2 is still served every time. */
	for (int k = 0; k < HOLD_PROBES; k++) {
		if (k % 50 == 0)
			for (int i = 0; i < FLOOD; i++)
				if (send(fds[i], ka, sizeof ka - 1, MSG_NOSIGNAL | MSG_DONTWAIT) >
				    0)
					drain(fds[i]);
		const char *path = k % 2 ? "/api/viral-ideas/queue-status" : "/healthz";
		bad += probe_from(&s, "127.0.0.2", path, &lat[nlat++]) != 200;
	}
	double total_s = (test_now_ms() - t0) / 1000;
	for (int i = 0; i < FLOOD; i++)
		close(fds[i]);
	ASSERT_EQ_INT(bad, 0);
	ASSERT_EQ_INT(other, 0);
	ASSERT_EQ_INT(held, 128);
	ASSERT_EQ_INT(refused, FLOOD - 128);
	qsort(lat, (size_t)nlat, sizeof lat[0], cmp_double);
	double p50 = lat[nlat / 2], p99 = lat[(nlat * 99) / 100], max = lat[nlat - 1];
	ASSERT_CMP_INT(p99, <, 1000);
	printf("  %d connections from 127.0.0.1: %d held, %d refused 429; %d requests from "
	       "127.0.0.2 during and after, all 200: p50 %.2f ms, p99 %.2f ms, max %.2f ms "
	       "(%.1f s)\n",
	       FLOOD, held, refused, nlat, p50, p99, max, total_s);
	stack_stop(&s);
}

TEST(a_table_full_of_idle_connections_from_many_addresses_still_admits_a_newcomer)
{
	enum { PER = 128, NADDR = 9, FLOOD = PER * NADDR - 100 }; /* 1052: more than the table */
	need_fds(FLOOD + 200);
	struct stack s;
	stack_init(&s);
	stack_start_conf(&s, "");
	static const char ka[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	static int fds[FLOOD];
	int served = 0, bad = 0;
	double worst = 0;
	for (int i = 0; i < FLOOD; i++) {
		char src[32];
		snprintf(src, sizeof src, "127.0.3.%d", 1 + i / PER);
		fds[i] = tcp_connect_from(&s, src);
		if (fds[i] < 0)
			FAIL("connect %d from %s: %s", i, src, strerror(errno));
		send(fds[i], ka, sizeof ka - 1, MSG_NOSIGNAL);
		if (read_status(fds[i]) == 200)
			served++; /* and now idle, kept alive */
		if (i % 50 == 0) {
			double ms;
			bad += probe_from(&s, "127.0.0.2", "/healthz", &ms) != 200;
			worst = ms > worst ? ms : worst;
		}
	}
	/* Every one of them was served (the oldest idle ones made room), and
	 * so is a newcomer now that the table is full of idle connections. */
	double ms;
	bad += probe_from(&s, "127.0.0.2", "/api/viral-ideas/queue-status", &ms) != 200;
	worst = ms > worst ? ms : worst;
	char *m = NULL;
	ASSERT_EQ_INT(request_from(&s, "127.0.0.4", "GET", "/metrics", NULL, NULL, NULL, &m), 200);
	const char *reaped =
	    strstr(m, "viralsup_http_connections_closed_total{reason=\"idle_reaped\"} ");
	ASSERT(reaped);
	long nreaped = atol(strchr(reaped, '}') + 2);
	for (int i = 0; i < FLOOD; i++)
		close(fds[i]);
	ASSERT_EQ_INT(bad, 0);
	ASSERT_EQ_INT(served, FLOOD);
	ASSERT_CMP_INT(nreaped, >=, FLOOD - 1024);
	printf("  %d idle keep-alive connections from %d addresses (1024 slots): all served, "
	       "%ld oldest idle ones closed to make room; newcomer probes all 200, slowest "
	       "%.1f ms\n",
	       FLOOD, NADDR, nreaped, worst);
	free(m);
	stack_stop(&s);
}

/* ---- failed authentication ------------------------------------------------------- */

/* Until the gateway's link to the scheduler is up (admin actions need it). */
static void wait_ready(struct stack *s)
{
	WAIT_UNTIL(stack_http(s, NULL, "GET", "/readyz", NULL, false, NULL) == 200, 10000);
}

/* 127.0.x.y for the n-th address counted from 127.0.0.2. */
static void rotating_addr(int n, char *dst, size_t len)
{
	int a = 2 + n;
	snprintf(dst, len, "127.0.%d.%d", a / 256, a % 256);
}

TEST(three_hundred_wrong_tokens_from_rotating_addresses_get_429_and_the_right_token_works)
{
	enum { N = 300 };
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	/* The defaults (tests/stack.c raises the per-client one for other tests):
	 * 30 per client, 100 per /24, 300 in all. */
	stack_env(&s, "VIRALSUP_ADMIN_RATE_PER_MIN=30");
	stack_start_conf(&s, "");
	wait_ready(&s);
	const char *pp = "/api/viral-ideas/process-pending";
	int n403 = 0, n429 = 0, other = 0, admin_ok = 0;
	double t0 = test_now_ms();
	for (int i = 0; i < N; i++) {
		char src[32], auth[64];
		rotating_addr(i, src, sizeof src);
		snprintf(auth, sizeof auth, "Bearer guess-%d", i);
		char *resp = NULL;
		int st = request_from(&s, src, "POST", pp, auth, NULL, NULL, &resp);
		if (st == 403)
			n403++;
		else if (st == 429 && strstr(resp, "Retry-After: "))
			n429++;
		else
			other++;
		free(resp);
		/* During the attack the admin's right token works: from another
		 * network, and from a clean address in a network under attack. */
		if (i % 30 == 29) {
			const char *from = (i / 30) % 2 ? "127.0.9.1" : "127.0.1.200";
			st = request_from(&s, from, "POST", pp, "Bearer " STACK_ADMIN_TOKEN, NULL,
			                  NULL, &resp);
			if (st != 200)
				FAIL("right token from %s after %d wrong ones: %d %s", from, i + 1,
				     st, resp);
			free(resp);
			admin_ok++;
		}
	}
	ASSERT_EQ_INT(other, 0);
	/* 127.0.0.2-255 share a /24: its budget (100) is spent and the rest of
	 * it answers 429; 127.0.1.x starts its own budget. */
	ASSERT_CMP_INT(n429, >=, 150);
	ASSERT_CMP_INT(n403, <=, 150);
	/* An address that failed while its network was over budget is not even
	 * checked any more: the right token from there is 429 too (else the
	 * answers would be an oracle for its guesses). */
	char src[32];
	rotating_addr(200, src, sizeof src);
	ASSERT_EQ_INT(
	    request_from(&s, src, "POST", pp, "Bearer " STACK_ADMIN_TOKEN, NULL, NULL, NULL), 429);
	printf("  %d wrong tokens from %d addresses in %.1f s: %d checked (403), %d refused "
	       "(429); the right token during the attack: %d/%d accepted\n",
	       N, N, (test_now_ms() - t0) / 1000, n403, n429, admin_ok, admin_ok);
	stack_stop(&s);
}

TEST(rotating_across_networks_meets_the_global_budget_one_try_per_address)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	stack_start_conf(&s, "[http]\nauth_fail_global_per_min = 50\n");
	wait_ready(&s);
	const char *pp = "/api/viral-ideas/process-pending";
	int n403 = 0, n429 = 0;
	/* One guess from each of 200 networks (127.1.y.1): no prefix budget is
	 * ever reached, only the global one. */
	for (int i = 0; i < 200; i++) {
		char src[32];
		snprintf(src, sizeof src, "127.1.%d.1", i);
		int st = request_from(&s, src, "POST", pp, "Bearer guess", NULL, NULL, NULL);
		n403 += st == 403;
		n429 += st == 429;
	}
	ASSERT_EQ_INT(n403, 49);
	ASSERT_EQ_INT(n429, 151);
	/* Each of those addresses has had its one try: a second is refused
	 * unchecked, right token or not. */
	ASSERT_EQ_INT(request_from(&s, "127.1.7.1", "POST", pp, "Bearer guess2", NULL, NULL, NULL),
	              429);
	ASSERT_EQ_INT(request_from(&s, "127.1.8.1", "POST", pp, "Bearer " STACK_ADMIN_TOKEN, NULL,
	                           NULL, NULL),
	              429);
	/* A fresh address is checked: the admin gets in. */
	char *resp = NULL;
	int st = request_from(&s, "127.2.0.1", "POST", pp, "Bearer " STACK_ADMIN_TOKEN, NULL, NULL,
	                      &resp);
	if (st != 200)
		FAIL("right token from a fresh address under global pressure: %d %s", st, resp);
	free(resp);
	/* The public endpoints never minded. */
	ASSERT_EQ_INT(request_from(&s, "127.1.7.1", "GET", "/api/viral-ideas/queue-status", NULL,
	                           NULL, NULL, NULL),
	              200);
	printf("  200 guesses from 200 networks: %d checked before the global budget (50), %d "
	       "refused after; the admin from a fresh address: 200\n",
	       n403, n429);
	stack_stop(&s);
}

TEST(behind_a_trusted_proxy_one_clients_junk_never_locks_out_the_admin)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	stack_env(&s, "VIRALSUP_TRUSTED_PROXIES=127.0.0.1");
	stack_env(&s, "VIRALSUP_ADMIN_RATE_PER_MIN=30"); /* the default */
	stack_start_conf(&s, "");
	wait_ready(&s);
	const char *pp = "/api/viral-ideas/process-pending";
	int n429 = 0;
	/* Every request arrives from the proxy (127.0.0.1). */
	for (int i = 0; i < 40; i++) {
		int st = request_from(&s, NULL, "POST", pp, "Bearer junk",
		                      "X-Forwarded-For: 203.0.113.7\r\n", NULL, NULL);
		ASSERT(st == 403 || st == 429);
		n429 += st == 429;
	}
	ASSERT_EQ_INT(n429, 10); /* 30 checked, then refused */
	char *resp = NULL;
	int st = request_from(&s, NULL, "POST", pp, "Bearer " STACK_ADMIN_TOKEN,
	                      "X-Forwarded-For: 198.51.100.9\r\n", NULL, &resp);
	if (st != 200)
		FAIL("admin behind the proxy after another client's junk: %d %s", st, resp);
	free(resp);
	/* The junk client cannot pose as the admin by writing its address
	 * first: the proxy appends the real one, and that is what counts. */
	st = request_from(&s, NULL, "POST", pp, "Bearer junk",
	                  "X-Forwarded-For: 198.51.100.9, 203.0.113.7\r\n", NULL, NULL);
	ASSERT_EQ_INT(st, 429);
	stack_stop(&s);
}

/* ---- parser leniency, cross-site requests, names -------------------------------- */

TEST(smuggling_upgrade_and_expect_tricks_are_refused_over_the_wire)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	stack_start_conf(&s, "");
	const char *body =
	    "{\"session_id\":\"exp\",\"primary_username\":\"alice\","
	    "\"selected_competitors\":[],\"content_strategy\":{\"contentType\":\"a\","
	    "\"targetAudience\":\"b\",\"goals\":\"c\"}}";
	char *req, *r;
	bool eof;
	/* Space before the colon: 400, and what followed never runs. */
	int n = asprintf(&req,
	                 "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\n"
	                 "Content-Type: application/json\r\nTransfer-Encoding : chunked\r\n"
	                 "Content-Length: %zu\r\n\r\n%s",
	                 strlen(body), body);
	r = exchange(&s, req, (size_t)n, 5000, &eof);
	ASSERT_EQ_INT(status_of(r), 400);
	ASSERT(eof);
	free(r);
	free(req);
	/* An h2c upgrade on a POST: 400, not served. */
	n = asprintf(
	    &req,
	    "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\n"
	    "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
	    "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n%s",
	    strlen(body), body);
	r = exchange(&s, req, (size_t)n, 5000, &eof);
	ASSERT_EQ_INT(status_of(r), 400);
	ASSERT_CONTAINS(r, "Protocol upgrade not supported");
	free(r);
	free(req);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_ideas_queue", NULL), 0);
	/* Expect: anything but 100-continue is 417. */
	n = asprintf(&req,
	             "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n"
	             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
	             strlen(body), body);
	r = exchange(&s, req, (size_t)n, 5000, &eof);
	ASSERT_EQ_INT(status_of(r), 417);
	free(r);
	free(req);
	/* Expect: 100-continue gets "100 Continue" before the body is sent. */
	int fd = tcp_connect(&s);
	ASSERT(fd >= 0);
	n = asprintf(&req,
	             "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
	             "Connection: close\r\nContent-Type: application/json\r\n"
	             "Content-Length: %zu\r\n\r\n",
	             strlen(body));
	ASSERT_EQ_INT(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	char buf[2048];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	ASSERT_EQ_INT(poll(&p, 1, 3000), 1);
	ssize_t got = recv(fd, buf, sizeof buf - 1, 0);
	ASSERT(got > 0);
	buf[got] = '\0';
	ASSERT_EQ_STR(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	ASSERT_EQ_INT(send(fd, body, strlen(body), MSG_NOSIGNAL), (ssize_t)strlen(body));
	ASSERT_EQ_INT(poll(&p, 1, 3000), 1);
	got = recv(fd, buf, sizeof buf - 1, 0);
	ASSERT(got > 0);
	buf[got] = '\0';
	ASSERT_EQ_INT(status_of(buf), 200);
	close(fd);
	free(req);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_ideas_queue", NULL), 1);
	assert_alive(&s);
	stack_stop(&s);
}

TEST(cross_site_form_posts_and_dot_names_create_no_job)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	stack_start_conf(&s, "");
	const char *body =
	    "{\"session_id\":\"csrf\",\"primary_username\":\"alice\","
	    "\"selected_competitors\":[],\"content_strategy\":{\"contentType\":\"a\","
	    "\"targetAudience\":\"b\",\"goals\":\"c\"}}";
	/* What a page on another site can send without a preflight. */
	const char *types[] = {"text/plain", "text/plain;charset=UTF-8",
	                       "application/x-www-form-urlencoded",
	                       "multipart/form-data; boundary=b"};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		char *req, *r;
		int n = asprintf(&req,
		                 "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: x\r\n"
		                 "Origin: https://evil.example\r\nConnection: close\r\n"
		                 "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
		                 types[i], strlen(body), body);
		r = exchange(&s, req, (size_t)n, 5000, NULL);
		if (status_of(r) != 415)
			FAIL("POST as %s: \"%s\"", types[i], r);
		ASSERT(!strstr(r, "Access-Control-"));
		free(r);
		free(req);
	}
	/* "." and "..": 422 at the gateway, never a job for the fetcher. */
	const char *names[] = {".", "..", "@.."};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char b[512], *resp = NULL;
		snprintf(b, sizeof b,
		         "{\"session_id\":\"dot%zu\",\"primary_username\":\"%s\","
		         "\"selected_competitors\":[\"..\"],\"content_strategy\":{\"contentType\":"
		         "\"a\",\"targetAudience\":\"b\",\"goals\":\"c\"}}",
		         i, names[i]);
		int st = request(&s, "POST", "/api/viral-ideas/queue", NULL, b, &resp);
		if (st != 422)
			FAIL("primary \"%s\": %d %s", names[i], st, resp);
		free(resp);
	}
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_ideas_queue", NULL), 0);
	assert_alive(&s);
	stack_stop(&s);
}

/* ---- other writers -------------------------------------------------------------- */

TEST(jobs_from_other_writers_with_unnormalised_names_are_processed_as_the_account)
{
	/* Not an attack, a careless writer: the original's SQL helper with the
	 * names as people type them. Before migration 006 the fetcher stored the
	 * account as "alice" while the rest of the run looked for " @Alice ". */
	struct stack s;
	const char *fenv[] = {"FAKE_REELS=12", NULL};
	stack_init(&s);
	stack_fake_start(&s, fenv);
	stack_env(&s, "VIRALSUP_PROCESSING=continuous");
	stack_start(&s);
	char *id = sql_str(&s,
	                   "SELECT create_viral_queue_item('other-writer', ' @Alice ',"
	                   " ARRAY['@Bob', 'bob', 'Carl '], '{\"contentType\": \"a\","
	                   " \"targetAudience\": \"b\", \"goals\": \"c\"}')::text",
	                   NULL);
	ASSERT(id);
	stack_wait_sql(&s, 30000, "completed", "SELECT status FROM viral_ideas_queue");
	ASSERT_EQ_STR(sql_str(&s,
	                      "SELECT primary_username || ':' || (SELECT string_agg("
	                      "competitor_username || '=' || processing_status, ',' ORDER BY "
	                      "competitor_username) FROM viral_ideas_competitors) FROM "
	                      "viral_ideas_queue",
	                      NULL),
	              "alice:bob=completed,carl=completed");
	ASSERT_EQ_INT(sql_int(&s,
	                      "SELECT primary_reels_count FROM viral_analysis_results"
	                      " WHERE status = 'completed'",
	                      NULL) > 0,
	              1);
	char path[128], *resp = NULL;
	snprintf(path, sizeof path, "/api/viral-analysis/%s/results", id);
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", path, NULL, false, &resp), 200);
	json_t *j = json_loads(resp, 0, NULL);
	json_t *d = json_object_get(j, "data");
	json_t *pp = json_object_get(d, "primary_profile");
	ASSERT_EQ_STR(json_string_value(json_object_get(pp, "username")), "alice");
	ASSERT(json_integer_value(json_object_get(pp, "followers")) > 0); /* the fetched profile */
	ASSERT_EQ_INT(json_array_size(json_object_get(d, "primary_user_reels")), 12);
	ASSERT(json_array_size(json_object_get(d, "viral_ideas")) > 0);
	ASSERT_EQ_STR(json_string_value(json_object_get(
	                  json_array_get(json_object_get(d, "viral_ideas"), 0), "id")),
	              "hook_0");
	json_decref(j);
	free(resp);
	free(id);
	stack_stop(&s);
}
