/*
 * Promises the documentation makes that no other test held the product to,
 * each against the real stack (tests/stack.h): the cluster-wide schedule
 * fires once per interval across two nodes on one database; a completed
 * job's automatic re-run starts on its own; Upgrade and CONNECT are refused
 * and slow or idle HTTP clients get the documented 408 / close over a real
 * socket; ADMIN_ALLOWED_IPS lets a listed address in; every Unix listener
 * refuses another uid (SO_PEERCRED); and the recovery timings of
 * docs/RELIABILITY.md hold with ~10x headroom.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/stack.h"

/* ---- raw HTTP ------------------------------------------------------------------ */

static int tcp_connect(struct stack *s)
{
	const char *colon = strrchr(s->url, ':');
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons((uint16_t)atoi(colon + 1))};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		FAIL("connect %s: %s", s->url, strerror(errno));
	return fd;
}

/* Sends req (may be ""), then reads until the server closes or ms pass.
 * Returns what arrived (malloc'd); *closed_ms: when it closed (ms after
 * the send), -1 if it did not. */
static char *send_and_read(int fd, const char *req, int ms, double *closed_ms)
{
	size_t len = strlen(req), off = 0;
	while (off < len) {
		ssize_t w = write(fd, req + off, len - off);
		if (w <= 0)
			FAIL("write: %s", strerror(errno));
		off += (size_t)w;
	}
	double t0 = test_now_ms();
	char *buf = malloc(65536);
	size_t n = 0;
	*closed_ms = -1;
	for (;;) {
		int left = ms - (int)(test_now_ms() - t0);
		if (left <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t r = read(fd, buf + n, 65535 - n);
		if (r <= 0) {
			*closed_ms = test_now_ms() - t0;
			break;
		}
		n += (size_t)r;
		if (n == 65535)
			break;
	}
	buf[n] = '\0';
	return buf;
}

/* Sends req on a fresh connection; returns the answer, fails unless the
 * server closed the connection within 5 s. */
static char *one_shot(struct stack *s, const char *what, const char *req)
{
	int fd = tcp_connect(s);
	double closed;
	char *resp = send_and_read(fd, req, 5000, &closed);
	close(fd);
	if (closed < 0)
		FAIL("%s: the connection stayed open 5 s after the answer \"%.100s\"", what, resp);
	return resp;
}

/* docs/API.md: "malformed HTTP, Upgrade/CONNECT: 400, close"; never 101,
 * never a switched connection, the bytes after the headers never read as
 * another request. */
TEST(upgrade_and_connect_get_400_and_close)
{
	struct stack s;
	stack_init(&s);
	stack_start(&s);
	const char *connects[] = {"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n",
	                          "CONNECT example.com:443 HTTP/1.0\r\n\r\n"};
	for (size_t i = 0; i < sizeof connects / sizeof connects[0]; i++) {
		char *resp = one_shot(&s, "CONNECT", connects[i]);
		if (strncmp(resp, "HTTP/1.1 400", 12) != 0)
			FAIL("CONNECT %zu: expected 400, seen \"%.200s\"", i, resp);
		free(resp);
	}
	const char *upgrades[] = {
	    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	    "\x81\x85garbage-after-the-switch",
	    "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
	    "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\nPRI * "
	    "HTTP/2.0\r\n\r\nSM\r\n\r\n"};
	for (size_t i = 0; i < sizeof upgrades / sizeof upgrades[0]; i++) {
		char *resp = one_shot(&s, "Upgrade", upgrades[i]);
		if (strncmp(resp, "HTTP/1.1 400", 12) != 0)
			FAIL("Upgrade %zu: expected 400, seen \"%.200s\"", i, resp);
		/* One answer only: the bytes after the headers were not read as
		 * another request (nor as the new protocol). */
		ASSERT(!strstr(resp + 9, "HTTP/1.1 "));
		free(resp);
	}
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/healthz", NULL, false, NULL), 200);
	stack_stop(&s);
}

#define HEADER_TIMEOUT_MS 800
#define IDLE_TIMEOUT_MS   800

TEST(slow_headers_get_408_silent_and_idle_connections_are_closed_on_time)
{
	struct stack s;
	stack_init(&s);
	char conf[128];
	snprintf(conf, sizeof conf, "[http]\nheader_timeout_ms = %d\nidle_timeout_ms = %d\n",
	         HEADER_TIMEOUT_MS, IDLE_TIMEOUT_MS);
	stack_start_conf(&s, conf);
	/* Each timer may fire late on a loaded machine (a ceiling of 10x), never
	 * early (a floor of the configured value, less the 5% a coarse timer
	 * may round off). */
	double floor_ms = HEADER_TIMEOUT_MS * 0.95, ceil_ms = HEADER_TIMEOUT_MS * 10.0;

	/* Headers begun but not finished: 408, then close. */
	int fd = tcp_connect(&s);
	double closed;
	char *resp = send_and_read(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", (int)ceil_ms,
	                           &closed);
	close(fd);
	if (strncmp(resp, "HTTP/1.1 408", 12) != 0)
		FAIL("partial headers: expected 408, seen \"%.200s\"", resp);
	if (closed < floor_ms || closed > ceil_ms)
		FAIL("partial headers: closed after %.0f ms, expected %.0f..%.0f", closed, floor_ms,
		     ceil_ms);
	printf("  partial headers: 408 and close after %.0f ms (timeout %d ms)\n", closed,
	       HEADER_TIMEOUT_MS);
	free(resp);

	/* A fresh connection that sends nothing: closed without a word. */
	fd = tcp_connect(&s);
	resp = send_and_read(fd, "", (int)ceil_ms, &closed);
	close(fd);
	ASSERT_EQ_STR(resp, "");
	if (closed < floor_ms || closed > ceil_ms)
		FAIL("silent connection: closed after %.0f ms, expected %.0f..%.0f", closed,
		     floor_ms, ceil_ms);
	printf("  silent connection: closed after %.0f ms\n", closed);
	free(resp);

	/* Keep-alive after a complete request: the answer, then a close once
	 * idle for idle_timeout_ms, with no 408 after the 200. */
	fd = tcp_connect(&s);
	resp = send_and_read(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
	                     (int)(IDLE_TIMEOUT_MS * 10.0), &closed);
	close(fd);
	if (strncmp(resp, "HTTP/1.1 200", 12) != 0)
		FAIL("keep-alive: expected 200, seen \"%.200s\"", resp);
	ASSERT(!strstr(resp, "408"));
	if (closed < IDLE_TIMEOUT_MS * 0.95 || closed > IDLE_TIMEOUT_MS * 10.0)
		FAIL("idle keep-alive: closed after %.0f ms, expected %.0f..%.0f", closed,
		     IDLE_TIMEOUT_MS * 0.95, IDLE_TIMEOUT_MS * 10.0);
	printf("  idle keep-alive: closed after %.0f ms (timeout %d ms)\n", closed,
	       IDLE_TIMEOUT_MS);
	free(resp);
	stack_stop(&s);
}

/* ---- ADMIN_ALLOWED_IPS ------------------------------------------------------------ */

TEST(admin_allowlist_accepts_a_listed_address_and_refuses_others)
{
	struct stack s;
	stack_init(&s);
	/* The client's address among others, with the spacing people type. */
	stack_env(&s, "ADMIN_ALLOWED_IPS=192.0.2.7, 127.0.0.1 ,10.1.2.3");
	stack_start(&s);
	char *resp = NULL;
	long st =
	    stack_http(&s, NULL, "POST", "/api/viral-ideas/process-pending", NULL, true, &resp);
	if (st != 200)
		FAIL("a listed address: expected 200, seen %ld %s", st, resp);
	free(resp);
	stack_stop(&s);

	struct stack t;
	stack_init(&t);
	stack_env(&t, "ADMIN_ALLOWED_IPS=192.0.2.7,10.1.2.3");
	stack_start(&t);
	st = stack_http(&t, NULL, "POST", "/api/viral-ideas/process-pending", NULL, true, &resp);
	if (st != 403)
		FAIL("an unlisted address: expected 403, seen %ld %s", st, resp);
	free(resp);
	stack_stop(&t);
}

/* ---- peer credentials on every Unix listener --------------------------------------- */

/* In a child running as nobody (uid and gid 65534): connects to path and
 * reports 0 when the server closed the connection unasked within 5 s, 2
 * when it could not connect, 3 when the connection stayed open. */
static int connect_as_nobody(const char *path)
{
	pid_t pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(4);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		if (strlen(path) >= sizeof a.sun_path)
			_exit(5);
		memcpy(a.sun_path, path, strlen(path) + 1);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
			_exit(2);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char b[64];
		if (poll(&p, 1, 5000) == 1 && read(fd, b, sizeof b) <= 0)
			_exit(0);
		_exit(3);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

TEST(every_unix_listener_refuses_another_uid)
{
	if (geteuid() != 0)
		test_skip("needs root to connect as another uid (setresuid)");
	struct stack s;
	stack_init(&s);
	stack_start(&s);
	/* Open the way in, so only the listener's own check stands between
	 * another user and the socket (the 0700 run directory normally does). */
	ASSERT_EQ_INT(chmod(s.sup.dir, 0711), 0);
	ASSERT_EQ_INT(chmod(s.sup.run_dir, 0711), 0);
	const char *socks[] = {"control.sock", "scheduler.sock", "writer.sock"};
	for (size_t i = 0; i < sizeof socks / sizeof socks[0]; i++) {
		char path[512], want[600];
		snprintf(path, sizeof path, "%s/%s", s.sup.run_dir, socks[i]);
		ASSERT_EQ_INT(chmod(path, 0666), 0);
		int rc = connect_as_nobody(path);
		if (rc != 0)
			FAIL("%s: as uid 65534 expected the server to close the connection, child "
			     "said %d (2: could not connect, 3: left open, 4: setresuid)",
			     socks[i], rc);
		snprintf(want, sizeof want, "refused connection on %s from uid 65534", path);
		double t0 = test_now_ms();
		char *log;
		while (!strstr(log = suptest_read(s.sup.log), want)) {
			free(log);
			if (test_now_ms() - t0 > 5000)
				FAIL("no \"%s\" in the log:\n%s", want, stack_log_tail(&s, 20));
			test_poll_pause();
		}
		free(log);
	}
	/* The owner still gets in, and nothing restarted (stack_stop checks). */
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/readyz", NULL, false, NULL), 200);
	stack_stop(&s);
}

/* ---- the cluster-wide schedule ----------------------------------------------------- */

#define SCHEDULE_S 2

TEST(schedule_fires_once_per_interval_across_two_nodes_on_one_database)
{
	struct stack a, b;
	stack_init(&a);
	stack_init_on(&b, a.db);
	const char *common[] = {"VIRALSUP_PROCESSING=triggered", "VIRALSUP_SCHEDULE=every 2s"};
	for (int i = 0; i < 2; i++) {
		stack_env(&a, common[i]);
		stack_env(&b, common[i]);
	}
	stack_env(&a, "VIRALSUP_NODE_ID=sched-a");
	stack_env(&b, "VIRALSUP_NODE_ID=sched-b");
	stack_start(&a);
	stack_start(&b);
	/* A pending job only a schedule fire can start (triggered mode, no
	 * manual trigger). */
	char *id = stack_submit(&a, "scheduled-1", "maya.lifts", "", 5);
	/* Deadlines here and below add up to less than the harness's 60 s. */
	stack_wait_sql(&a, 10 * SCHEDULE_S * 1000, "completed",
	               "SELECT status FROM viral_ideas_queue WHERE session_id = 'scheduled-1'");
	ASSERT_CMP_INT(sql_int(&a,
	                       "SELECT count(*) FROM batches b JOIN viral_ideas_queue q ON "
	                       "q.batch_id = b.id WHERE q.id = $1::uuid AND b.trigger_source = "
	                       "'schedule'",
	                       id, NULL),
	               ==, 1);
	/* Watch a few more intervals with both nodes up. */
	long long first = sql_int(&a, "SELECT count(*) FROM schedule_fires", NULL);
	stack_wait_sql(&a, 8 * SCHEDULE_S * 1000, "true",
	               "SELECT (count(*) >= 4)::text FROM schedule_fires WHERE fire_at > "
	               "(SELECT min(fire_at) FROM schedule_fires)");
	/* Once per interval: fire times are distinct multiples of the interval
	 * with no gap between the first and the last. One snapshot, so a fire
	 * landing meanwhile cannot make the figures disagree. */
	char *fig = sql_str(&a,
	                    "SELECT count(*) || ' ' || count(DISTINCT fire_at) || ' ' || "
	                    "((extract(epoch FROM max(fire_at) - min(fire_at)) / 2)::int + 1) "
	                    "|| ' ' || count(*) FILTER (WHERE extract(epoch FROM fire_at)::bigint "
	                    "% 2 = 0) FROM schedule_fires",
	                    NULL);
	long long fires = 0, distinct = 0, span = 0, aligned = 0;
	ASSERT_EQ_INT(sscanf(fig, "%lld %lld %lld %lld", &fires, &distinct, &span, &aligned), 4);
	free(fig);
	ASSERT_CMP_INT(fires, >, first);
	ASSERT_EQ_INT(distinct, fires);
	ASSERT_EQ_INT(span, fires);
	ASSERT_EQ_INT(aligned, fires);
	/* Both nodes competed: each fire was taken by exactly one of two owners,
	 * and the logs agree: one "schedule fired" line per fire in all. A line
	 * reaches the log a little after its row commits, so wait (bounded) for
	 * the log to catch up with a count that holds still around the read. */
	int lines = -1;
	double t0 = test_now_ms();
	for (;;) {
		long long before = sql_int(&a, "SELECT count(*) FROM schedule_fires", NULL);
		char *la = suptest_read(a.sup.log), *lb = suptest_read(b.sup.log);
		lines = 0;
		for (char *l = la; (l = strstr(l, "schedule fired")); l++)
			lines++;
		for (char *l = lb; (l = strstr(l, "schedule fired")); l++)
			lines++;
		free(la);
		free(lb);
		long long after = sql_int(&a, "SELECT count(*) FROM schedule_fires", NULL);
		if (before == after && lines == after)
			break;
		if (test_now_ms() - t0 > 3000)
			FAIL("%d \"schedule fired\" log lines for %lld..%lld fires (3 s after)",
			     lines, before, after);
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	printf("  %lld fires over %lld intervals, %d fired lines\n", fires, span, lines);
	free(id);
	stack_stop(&b);
	stack_stop(&a);
}

/* ---- automatic re-runs -------------------------------------------------------------- */

TEST(auto_rerun_due_starts_a_new_run_without_a_trigger)
{
	struct stack s;
	stack_init(&s);
	stack_start(&s);
	char *id = stack_submit(&s, "rerun-1", "maya.lifts", "strongwithsam", 5);
	/* Deadlines add up to less than the harness's 60 s. */
	stack_wait_sql(&s, 15000, "completed",
	               "SELECT status FROM viral_ideas_queue WHERE session_id = 'rerun-1'");
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT count(*) FROM viral_analysis_results WHERE queue_id = $1::uuid", id,
	            NULL),
	    1);
	/* As scheduled after a completed run ... */
	char *when = sql_str(&s,
	                     "SELECT (next_scheduled_run > now())::text FROM viral_ideas_queue "
	                     "WHERE id = $1::uuid AND auto_rerun_enabled",
	                     id, NULL);
	ASSERT_EQ_STR(when, "true");
	free(when);
	/* ... and then due: the clock moved on (the only thing the test does). */
	sql_exec(&s,
	         "UPDATE viral_ideas_queue SET next_scheduled_run = now() - interval '1 second' "
	         "WHERE id = $1::uuid",
	         id, NULL);
	/* The scheduler's periodic check runs every 10 s; the run itself a few. */
	stack_wait_sql(&s, 25000, "2",
	               "SELECT count(*)::text FROM viral_analysis_results r JOIN viral_ideas_queue "
	               "q ON q.id = r.queue_id WHERE q.session_id = 'rerun-1'");
	stack_wait_sql(&s, 5000, "completed",
	               "SELECT status FROM viral_ideas_queue WHERE session_id = 'rerun-1'");
	char *reason =
	    sql_str(&s,
	            "SELECT reason FROM job_events WHERE job_id = $1::uuid AND to_status = "
	            "'pending' ORDER BY id DESC LIMIT 1",
	            id, NULL);
	ASSERT_CONTAINS(reason, "re-run");
	free(reason);
	free(id);
	stack_stop(&s);
}

/* ---- recovery timings (docs/RELIABILITY.md, "Recovery") ----------------------------- */

/* Waits for "<name> ready (pid P" with P other than old in the log; returns
 * the ms it took from t0. */
static double await_ready_line(struct stack *s, const char *name, pid_t old, double t0,
                               int limit_ms)
{
	char needle[96];
	snprintf(needle, sizeof needle, "%s ready (pid ", name);
	for (;;) {
		char *log = suptest_read(s->sup.log);
		for (char *l = log; (l = strstr(l, needle)); l++) {
			pid_t p = (pid_t)atoi(l + strlen(needle));
			if (p > 0 && p != old) {
				free(log);
				return test_now_ms() - t0;
			}
		}
		free(log);
		if (test_now_ms() - t0 > limit_ms)
			FAIL("%s not ready again within %d ms of its kill:\n%s", name, limit_ms,
			     stack_log_tail(s, 30));
		struct timespec ts = {0, 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/*
 * The machine's scheduling delay right now: the slowest of five
 * fork / _exit / waitpid round trips of a process that does nothing. On
 * an idle machine well under 1 ms; when other builds crowd the cores it
 * grows, and so do the bounds below (10x the documented figure plus ten
 * of these), instead of failing on someone else's load.
 */
static double scheduling_unit_ms(void)
{
	double worst = 0;
	for (int i = 0; i < 5; i++) {
		double t0 = test_now_ms();
		pid_t pid = fork();
		if (pid < 0)
			FAIL("fork: %s", strerror(errno));
		if (pid == 0)
			_exit(0);
		waitpid(pid, NULL, 0);
		double ms = test_now_ms() - t0;
		if (ms > worst)
			worst = ms;
	}
	return worst;
}

/* 10x the documented figure, plus ten scheduling delays measured now. */
static void assert_within(const char *what, double seen_ms, double documented_ms)
{
	double unit = scheduling_unit_ms(), bound = 10 * documented_ms + 10 * unit;
	printf("  %s: %.1f ms (documented %.0f ms; bound %.0f ms = 10x + 10 x %.1f ms "
	       "scheduling delay)\n",
	       what, seen_ms, documented_ms, bound, unit);
	if (seen_ms >= bound)
		FAIL("%s took %.1f ms: over 10 x %.0f ms documented + 10 x %.1f ms (scheduling "
		     "delay now)",
		     what, seen_ms, documented_ms, unit);
}

static int by_value(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

TEST(recovery_timings_hold_the_documented_figures_with_10x_headroom)
{
	struct stack s;
	stack_init(&s);
	stack_start(&s);
	stack_expect_restarts(&s);
	/* An actor kill: a new ready process in ~25 ms (median) -> 250 ms. Each
	 * actor once, and the gateway and writer twice: seven kills. */
	const char *victims[] = {"gateway",    "writer",  "scheduler", "analyzer",
	                         "fetcher[0]", "gateway", "writer"};
	enum { N = sizeof victims / sizeof victims[0] };
	double ms[N];
	for (int i = 0; i < N; i++) {
		pid_t old = stack_pid(&s, victims[i], 0);
		double t0 = test_now_ms();
		ASSERT_EQ_INT(kill(old, SIGKILL), 0);
		ms[i] = await_ready_line(&s, victims[i], old, t0, 10000);
		/* The next kill only once this one is fully back. */
		stack_pid(&s, victims[i], old);
	}
	qsort(ms, N, sizeof ms[0], by_value);
	printf("  actor kill -> ready: max %.1f ms over %d kills\n", ms[N - 1], N);
	assert_within("actor kill -> new process ready (median)", ms[N / 2], 25);

	/* SIGTERM: exit 0 in < 100 ms -> 1,000 ms. */
	pid_t kids[16];
	int nkids = 0;
	const char *names[] = {"gateway", "writer", "scheduler", "analyzer", "fetcher[0]"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		kids[nkids++] = stack_actor_pid(&s, names[i]);
	double t0 = test_now_ms();
	ASSERT_EQ_INT(kill(s.sup.pid, SIGTERM), 0);
	int st = suprun_wait(&s.sup, 10000);
	double stop_ms = test_now_ms() - t0;
	if (st == -1)
		FAIL("viralsup still running 10 s after SIGTERM:\n%s", stack_log_tail(&s, 30));
	ASSERT(WIFEXITED(st));
	ASSERT_EQ_INT(WEXITSTATUS(st), 0);
	for (int i = 0; i < nkids; i++)
		ASSERT(!suptest_alive(kids[i]));
	assert_within("SIGTERM -> exit 0", stop_ms, 100);
	s.sup.pid = 0;
	suprun_check_log(&s.sup, "after SIGTERM");

	/* Supervisor SIGKILL: orphans exit in < 100 ms -> 1,000 ms. */
	struct stack k;
	stack_init_on(&k, s.db);
	stack_start(&k);
	stack_expect_restarts(&k);
	nkids = 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		kids[nkids++] = stack_actor_pid(&k, names[i]);
	/* Ready is not registered: the scheduler knows its owner id only once
	 * the log says so, and only then can it mark that owner stopped. */
	for (double w0 = test_now_ms();;) {
		char *log = suptest_read(k.sup.log);
		bool registered = strstr(log, "registered as owner") != NULL;
		free(log);
		if (registered)
			break;
		if (test_now_ms() - w0 > 10000)
			FAIL("the scheduler did not register within 10 s:\n%s",
			     stack_log_tail(&k, 30));
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	t0 = test_now_ms();
	ASSERT_EQ_INT(kill(k.sup.pid, SIGKILL), 0);
	for (int i = 0; i < nkids; i++) {
		while (suptest_alive(kids[i])) {
			if (test_now_ms() - t0 > 5000)
				FAIL("orphan pid %d still alive 5 s after the supervisor's SIGKILL",
				     (int)kids[i]);
			struct timespec ts = {0, 500 * 1000};
			nanosleep(&ts, NULL);
		}
		printf("  orphan %s gone after %.1f ms\n", names[i], test_now_ms() - t0);
	}
	double orphan_ms = test_now_ms() - t0;
	assert_within("supervisor SIGKILL -> every orphan gone", orphan_ms, 100);
	/* Fast, and the work done: the orphaned scheduler marked its owner
	 * stopped on the way out, so its jobs are claimable at once. */
	if (sql_int(&k, "SELECT count(*) FROM owners WHERE stopped_at IS NULL", NULL) != 0)
		FAIL("an owner is not marked stopped: %s\nlog of the second stack:\n%s",
		     sql_str(&k,
		             "SELECT string_agg(format('owner %s pid %s started %s stopped %s', id,"
		             " pid, process_started_at, stopped_at), '; ' ORDER BY id) FROM owners",
		             NULL),
		     stack_log_tail(&k, 40));
	waitpid(k.sup.pid, NULL, 0);
	k.sup.pid = 0;
}
