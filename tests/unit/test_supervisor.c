/*
 * The viralsup binary against real child processes (the test actor, see
 * tests/actors/test_actor.c): restart, intensity limit, permanent exit,
 * shutdown, orphan-freedom, log capture, run directory, readiness.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/frame.h"
#include "ipc/msg.h"
#include "tests/harness.h"
#include "tests/unit/suptest.h"

/* Fast timings so that each test takes well under a second or two. */
#define SUP_FAST                    \
	"[supervisor]\n"            \
	"ready_timeout_ms = 3000\n" \
	"backoff_initial_ms = 1\n"  \
	"backoff_max_ms = 50\n"     \
	"stable_after_ms = 1000\n"  \
	"shutdown_timeout_ms = 2000\n"

#define ACTOR "viralsup-test-actor"

static void wait_ready(struct suprun *r, const char *name)
{
	WAIT_UNTIL(suptest_state_is(r, name, "ready"), 5000);
}

static int json_int(json_t *o, const char *k)
{
	return (int)json_integer_value(json_object_get(o, k));
}

TEST(sigkill_child_comes_back_ready_and_others_keep_pids)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n"
	                          "[child b]\nprogram = " ACTOR "\n"
	                          "[child pool]\nprogram = " ACTOR "\ncount = 2\n");
	const char *names[] = {"a", "b", "pool[0]", "pool[1]"};
	pid_t before[4];
	for (int i = 0; i < 4; i++) {
		wait_ready(&r, names[i]);
		before[i] = suptest_pid(&r, names[i]);
		ASSERT(suptest_alive(before[i]));
	}
	ASSERT_EQ_INT(kill(before[1], SIGKILL), 0);
	WAIT_UNTIL(suptest_pid(&r, "b") != before[1] && suptest_pid(&r, "b") > 0 &&
	               suptest_state_is(&r, "b", "ready"),
	           5000);
	pid_t after = suptest_pid(&r, "b");
	ASSERT(suptest_alive(after));
	ASSERT(!suptest_alive(before[1]));
	json_t *s = suptest_status(&r);
	json_t *b = suptest_child(s, "b");
	ASSERT_EQ_INT(json_int(b, "restarts_total"), 1);
	ASSERT_EQ_INT(json_int(json_object_get(b, "last_exit"), "signal"), SIGKILL);
	json_decref(s);
	for (int i = 0; i < 4; i++)
		if (i != 1) {
			ASSERT_EQ_INT(suptest_pid(&r, names[i]), before[i]);
			ASSERT(suptest_alive(before[i]));
		}
}

TEST(crash_loop_hits_intensity_limit_and_others_stay_up)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "intensity = 3\nperiod_ms = 10000\n"
	                          "[child steady]\nprogram = " ACTOR "\n"
	                          "[child crashy]\nprogram = " ACTOR " --crash-after-ms 5\n");
	wait_ready(&r, "steady");
	pid_t steady = suptest_pid(&r, "steady");
	WAIT_UNTIL(suptest_state_is(&r, "crashy", "failed"), 10000);
	json_t *s = suptest_status(&r);
	json_t *c = suptest_child(s, "crashy");
	ASSERT_EQ_INT(json_int(c, "restarts_total"), 3);
	ASSERT(json_is_null(json_object_get(c, "pid")));
	ASSERT_EQ_INT(json_int(json_object_get(c, "last_exit"), "signal"), SIGABRT);
	json_decref(s);
	ASSERT(suptest_alive(r.pid));
	ASSERT_EQ_INT(suptest_pid(&r, "steady"), steady);
	ASSERT(suptest_alive(steady));
	char *log = suptest_read(r.log);
	ASSERT_CONTAINS(log, "crashy: 4 restarts within 10000 ms (limit 3): marked failed");
	free(log);
}

TEST(exit_code_100_marks_failed_and_is_not_restarted)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child perm]\nprogram = " ACTOR
	                          " --exit-after-ms 1 --exit-code 100\n"
	                          "[child other]\nprogram = " ACTOR "\n");
	WAIT_UNTIL(suptest_state_is(&r, "perm", "failed"), 5000);
	/* The supervisor's decision, logged as it is made: "failed" is final,
	 * nothing schedules a restart after it (no window to wait out). */
	char *log = NULL;
	WAIT_UNTIL((free(log), log = suptest_read(r.log),
	            strstr(log, "perm exited with 100 (permanent failure): not restarting")),
	           5000);
	ASSERT(!strstr(log, "perm restarting in"));
	free(log);
	json_t *s = suptest_status(&r);
	json_t *c = suptest_child(s, "perm");
	ASSERT_EQ_STR(json_string_value(json_object_get(c, "state")), "failed");
	ASSERT_EQ_INT(json_int(c, "restarts_total"), 0);
	ASSERT_EQ_INT(json_int(json_object_get(c, "last_exit"), "code"), 100);
	json_decref(s);
	ASSERT(suptest_state_is(&r, "other", "ready"));
}

TEST(transient_child_is_restarted_only_after_abnormal_exit)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child clean]\nrestart = transient\nprogram = " ACTOR
	                          " --exit-after-ms 1 --exit-code 0\n"
	                          "[child dirty]\nrestart = transient\nprogram = " ACTOR
	                          " --exit-after-ms 50 --exit-code 3\n"
	                          "[child once]\nrestart = temporary\nprogram = " ACTOR
	                          " --crash-after-ms 1\n");
	WAIT_UNTIL(suptest_state_is(&r, "clean", "stopped"), 5000);
	WAIT_UNTIL(suptest_state_is(&r, "once", "stopped"), 5000);
	json_t *s = NULL;
	WAIT_UNTIL((json_decref(s), s = suptest_status(&r),
	            json_int(suptest_child(s, "dirty"), "restarts_total") >= 1),
	           5000);
	ASSERT_EQ_INT(json_int(suptest_child(s, "clean"), "restarts_total"), 0);
	ASSERT_EQ_INT(json_int(suptest_child(s, "once"), "restarts_total"), 0);
	json_decref(s);
}

TEST(child_not_ready_in_time_is_a_failed_start)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "ready_timeout_ms = 100\nintensity = 1\n"
	                          "[child slow]\nprogram = " ACTOR " --never-ready\n");
	WAIT_UNTIL(suptest_state_is(&r, "slow", "failed"), 5000);
	json_t *s = suptest_status(&r);
	json_t *c = suptest_child(s, "slow");
	ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(c, "last_exit"), "reason")),
	              "not ready in time");
	ASSERT_EQ_INT(json_int(c, "restarts_total"), 1);
	json_decref(s);
}

TEST(slow_child_is_ready_when_it_says_so)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child slow]\nprogram = " ACTOR " --ready-delay-ms 300\n");
	/* Not ready before it says so: however late this test looks (a loaded
	 * machine), the first status showing it ready shows it up for at
	 * least the 300 ms it takes, and any status before shows "starting". */
	for (double t0 = test_now_ms();;) {
		json_t *s = suptest_status(&r);
		json_t *c = suptest_child(s, "slow");
		const char *state = json_string_value(json_object_get(c, "state"));
		double up = json_real_value(json_object_get(c, "uptime_s"));
		if (state && !strcmp(state, "ready")) {
			if (up < 0.3)
				FAIL("ready after %.3f s of uptime, before its 300 ms", up);
			json_decref(s);
			break;
		}
		if (!state || strcmp(state, "starting") != 0)
			FAIL("state \"%s\" while it gets ready", state ? state : "(none)");
		json_decref(s);
		if (test_now_ms() - t0 > 10000)
			FAIL("not ready within 10 s");
		test_poll_pause();
	}
	char *log = suptest_read(r.log);
	ASSERT_CONTAINS(log, "slow ready (pid");
	free(log);
}

/* A "peer down name=victim" line holding the pid field and a SIGKILL
 * reason, then a "peer up name=victim" line after it. */
static bool peer_down_then_up(const char *log, const char *pid_field)
{
	for (const char *l = log; (l = strstr(l, "peer down name=victim role=victim index=0"));
	     l++) {
		size_t len = strcspn(l, "\n");
		char *line = strndup(l, len);
		const char *pid = strstr(line, pid_field);
		bool match = strstr(line, "reason=signal 9 (Killed)") && pid &&
		             !isdigit((unsigned char)pid[strlen(pid_field)]);
		free(line);
		if (match && strstr(l + len, "peer up name=victim"))
			return true;
	}
	return false;
}

TEST(peers_are_told_when_a_child_goes_down_and_up)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child watcher]\nprogram = " ACTOR " --log-peers\n"
	                          "[child victim]\nprogram = " ACTOR "\n");
	wait_ready(&r, "watcher");
	wait_ready(&r, "victim");
	pid_t victim = suptest_pid(&r, "victim");
	kill(victim, SIGKILL);
	/* PEER_DOWN names the dead process (pid) and why; PEER_UP follows. The
	 * fields are checked within the line, whatever their order. */
	char *log = NULL, pid_field[32];
	snprintf(pid_field, sizeof pid_field, "pid=%d", (int)victim);
	WAIT_UNTIL((free(log), log = suptest_read(r.log), peer_down_then_up(log, pid_field)), 5000);
	free(log);
}

TEST(sigterm_stops_all_children_and_exits_zero)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n"
	                          "[child pool]\nprogram = " ACTOR "\ncount = 3\n");
	const char *names[] = {"a", "pool[0]", "pool[1]", "pool[2]"};
	pid_t pids[4];
	for (int i = 0; i < 4; i++) {
		wait_ready(&r, names[i]);
		pids[i] = suptest_pid(&r, names[i]);
	}
	kill(r.pid, SIGTERM);
	int st = suprun_wait(&r, 10000);
	ASSERT(st != -1);
	ASSERT(WIFEXITED(st));
	ASSERT_EQ_INT(WEXITSTATUS(st), 0);
	for (int i = 0; i < 4; i++)
		ASSERT(!suptest_alive(pids[i]));
	ASSERT(access(r.sock, F_OK) < 0);
	char *log = suptest_read(r.log);
	/* Reverse start order. */
	char *p2 = strstr(log, "pool[2] (pid"), *p0 = strstr(log, "pool[0] (pid"),
	     *a = strstr(log, "a (pid");
	ASSERT(p2 && p0 && a && p2 < p0 && p0 < a);
	free(log);
}

TEST(child_ignoring_sigterm_is_killed_after_its_shutdown_timeout)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child stuck]\nshutdown_timeout_ms = 200\nprogram = " ACTOR
	                          " --ignore-term\n");
	wait_ready(&r, "stuck");
	pid_t pid = suptest_pid(&r, "stuck");
	double t0 = test_now_ms();
	kill(r.pid, SIGTERM);
	int st = suprun_wait(&r, 5000);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ASSERT_CMP_INT(test_now_ms() - t0, >=, 190);
	ASSERT(!suptest_alive(pid));
	char *log = suptest_read(r.log);
	ASSERT_CONTAINS(log, "stuck (pid");
	ASSERT_CONTAINS(log, "did not stop within 200 ms: SIGKILL");
	free(log);
}

TEST(sigkill_on_supervisor_children_exit_within_a_second)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n"
	                          "[child pool]\nprogram = " ACTOR "\ncount = 2\n");
	const char *names[] = {"a", "pool[0]", "pool[1]"};
	pid_t pids[3];
	for (int i = 0; i < 3; i++) {
		wait_ready(&r, names[i]);
		pids[i] = suptest_pid(&r, names[i]);
	}
	kill(r.pid, SIGKILL);
	ASSERT(suprun_wait(&r, 2000) != -1);
	WAIT_UNTIL(!suptest_alive(pids[0]) && !suptest_alive(pids[1]) && !suptest_alive(pids[2]),
	           1000);
}

/* A connection to an actor's socket, or fails the test. */
static int actor_connect(struct suprun *r, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s.sock", r->run_dir, name);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		FAIL("connect %s: %s", sa.sun_path, strerror(errno));
	struct timeval tv = {3, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

/* Reads until EOF: 1 when the peer closed, 0 on timeout. */
static int closed_by_peer(int fd)
{
	char buf[256];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			return 1;
		if (n < 0)
			return errno == ECONNRESET;
	}
}

static void ping_pong(struct suprun *r, const char *name)
{
	int fd = actor_connect(r, name);
	struct msg_out out;
	size_t len;
	msg_out_init(&out, MSG_PING, 0, 0);
	ASSERT_EQ_INT(msg_out_finish(&out, FRAME_MAX_DEFAULT), 0);
	const char *data = msg_out_data(&out, &len);
	ASSERT_EQ_INT(write(fd, data, len), (ssize_t)len);
	uint64_t id = out.id;
	msg_out_free(&out);

	char buf[4096];
	size_t have = 0;
	uint32_t plen = 0;
	while (frame_check((uint8_t *)buf, have, sizeof buf, &plen) == 0) {
		ssize_t n = read(fd, buf + have, sizeof buf - have);
		if (n <= 0)
			FAIL("no PONG from %s", name);
		have += (size_t)n;
	}
	msgpack_zone zone;
	struct msg m;
	const char *why;
	msgpack_zone_init(&zone, 1024);
	ASSERT_EQ_INT(msg_decode(buf + FRAME_PREFIX, plen, &zone, &m, &why), 0);
	ASSERT_EQ_STR(msg_type_name(m.type), "PONG");
	ASSERT_EQ_INT(m.re, id);
	msgpack_zone_destroy(&zone);
	close(fd);
}

TEST(malformed_frames_close_that_connection_and_the_actor_keeps_serving)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n");
	wait_ready(&r, "a");
	pid_t pid = suptest_pid(&r, "a");
	ping_pong(&r, "a");

	static const unsigned char garbage[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
	static const unsigned char oversized[] = {0xff, 0xff, 0xff, 0xff, 1, 2, 3};
	static const unsigned char empty[] = {0, 0, 0, 0};
	static const unsigned char array[] = {0, 0, 0, 3, 0x92, 0x01, 0x02}; /* [1, 2] */
	/* {"type": "NOPE", "id": 1, "re": 0, "body": {}} */
	static const unsigned char unknown[] = {
	    0,    0,   0,   25,   0x84, 0xa4, 't', 'y',  'p',  'e', 0xa4, 'N', 'O', 'P', 'E',
	    0xa2, 'i', 'd', 0x01, 0xa2, 'r',  'e', 0x00, 0xa4, 'b', 'o',  'd', 'y', 0x80};
	struct {
		const char *what;
		const unsigned char *bytes;
		size_t len;
	} cases[] = {
	    {"garbage", garbage, sizeof garbage},
	    {"oversized length", oversized, sizeof oversized},
	    {"empty frame", empty, sizeof empty},
	    {"non-map envelope", array, sizeof array},
	    {"unknown type", unknown, sizeof unknown},
	};
	ASSERT_EQ_INT(sizeof unknown - 4, 25);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int fd = actor_connect(&r, "a");
		ASSERT_EQ_INT(write(fd, cases[i].bytes, cases[i].len), (ssize_t)cases[i].len);
		if (!closed_by_peer(fd))
			FAIL("%s: connection not closed by the actor", cases[i].what);
		close(fd);
		ASSERT(suptest_alive(pid));
		ping_pong(&r, "a");
	}
	ASSERT_EQ_INT(suptest_pid(&r, "a"), pid);
	char *log = suptest_read(r.log);
	ASSERT_CONTAINS(log, "protocol error: frame larger than the maximum");
	ASSERT_CONTAINS(log, "protocol error: empty frame");
	free(log);
}

TEST(stderr_lines_are_captured_and_prefixed_with_the_actor)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child talker]\nprogram = " ACTOR " --stderr raw\"line\n"
	                          "[child partial]\nrestart = temporary\nprogram = " ACTOR
	                          " --stderr-partial no-newline-tail\n");
	wait_ready(&r, "talker");
	WAIT_UNTIL(suptest_state_is(&r, "partial", "stopped"), 5000);
	char *log = suptest_read(r.log);
	/* Raw output wrapped into logfmt (quote escaped), logfmt passed through. */
	ASSERT_CONTAINS(log, "actor=talker stream=stderr msg=\"raw\\\"line\"");
	ASSERT_CONTAINS(log, "actor=partial stream=stderr msg=\"no-newline-tail\"");
	ASSERT_CONTAINS(log, "level=info actor=talker msg=");
	/* Every line is a whole logfmt line. */
	for (char *line = log; *line; line = strchr(line, '\n') + 1) {
		if (strncmp(line, "ts=", 3) != 0)
			FAIL("line not logfmt: %.80s", line);
		if (!strchr(line, '\n'))
			break;
	}
	free(log);
	/* And viralctl logs serves them from the ring. */
	const char *args[] = {"logs", "talker", NULL};
	char *out = NULL;
	ASSERT_EQ_INT(suptest_ctl(&r, &out, NULL, args), 0);
	ASSERT_CONTAINS(out, "msg=\"raw\\\"line\"");
	ASSERT(!strstr(out, "no-newline-tail"));
	free(out);
}

TEST(run_dir_is_created_private)
{
	struct suprun r;
	struct stat st;
	suprun_start(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n");
	ASSERT_EQ_INT(stat(r.run_dir, &st), 0);
	ASSERT_EQ_INT(st.st_mode & 07777, 0700);
	ASSERT_EQ_INT(stat(r.sock, &st), 0);
	ASSERT(S_ISSOCK(st.st_mode));
	char *pidpath;
	ASSERT(asprintf(&pidpath, "%s/viralsup.pid", r.run_dir) > 0);
	char *pid = suptest_read(pidpath);
	ASSERT_EQ_INT(atoi(pid), r.pid);
	free(pid);
	free(pidpath);
}

TEST(run_dir_with_loose_permissions_is_refused)
{
	struct suprun r;
	char *dir = test_tmpdir(), *run;
	ASSERT(asprintf(&run, "%s/run", dir) > 0);
	ASSERT_EQ_INT(mkdir(run, 0755), 0);
	ASSERT_EQ_INT(chmod(run, 0755), 0);
	char *env;
	ASSERT(asprintf(&env, "VIRALSUP_RUN_DIR=%s", run) > 0);
	const char *extra[] = {env, NULL};
	suprun_spawn(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n", extra);
	int st = suprun_wait(&r, 5000);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_EQ_INT(WEXITSTATUS(st), 78);
	char *log = suptest_read(r.log);
	ASSERT_CONTAINS(log, "has mode 0755: it must be private (chmod 700");
	ASSERT(!strstr(log, "a ready"));
	free(log);
	free(run);
	free(env);
	free(dir);
}

TEST(notify_socket_gets_ready_once_all_permanent_children_are_ready)
{
	char *dir = test_tmpdir(), *path, *env;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ASSERT(asprintf(&path, "%s/notify", dir) > 0);
	ASSERT(asprintf(&env, "NOTIFY_SOCKET=%s", path) > 0);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	strlcpy(sa.sun_path, path, sizeof sa.sun_path);
	ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

	struct suprun r;
	const char *extra[] = {env, NULL};
	suprun_spawn(&r,
	             SUP_FAST "[child a]\nprogram = " ACTOR " --ready-delay-ms 100\n"
	                      "[child b]\nprogram = " ACTOR "\n",
	             extra);
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
	ASSERT_CMP_INT(n, >, 0);
	buf[n] = '\0';
	ASSERT_CONTAINS(buf, "READY=1");
	/* Both were ready when it was sent. */
	char *log = suptest_read(r.log);
	ASSERT_CONTAINS(log, "a ready (pid");
	ASSERT_CONTAINS(log, "b ready (pid");
	free(log);
	kill(r.pid, SIGTERM);
	n = recv(fd, buf, sizeof buf - 1, 0);
	ASSERT_CMP_INT(n, >, 0);
	buf[n] = '\0';
	ASSERT_CONTAINS(buf, "STOPPING=1");
	ASSERT(suprun_wait(&r, 5000) != -1);
	close(fd);
	free(path);
	free(env);
	free(dir);
}

TEST(bad_child_config_is_a_clear_startup_error)
{
	struct suprun r;
	suprun_spawn(&r, "[child x]\nprogram = " ACTOR "\nrestart = sometimes\n", NULL);
	int st = suprun_wait(&r, 5000);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_EQ_INT(WEXITSTATUS(st), 78);
	char *log = suptest_read(r.log);
	ASSERT_CONTAINS(log, "restart must be permanent, transient or temporary");
	free(log);
}

/* name is failed, never restarted, and child a beside it runs regardless. */
static void expect_failed_beside_a_ready_a(struct suprun *r, const char *name)
{
	WAIT_UNTIL(suptest_state_is(r, name, "failed"), 5000);
	wait_ready(r, "a");
	json_t *s = suptest_status(r);
	ASSERT_EQ_INT(json_int(suptest_child(s, name), "restarts_total"), 0);
	json_decref(s);
}

TEST(missing_program_is_marked_failed_without_a_crash_loop)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child ghost]\nprogram = no-such-program\n"
	                          "[child a]\nprogram = " ACTOR "\n");
	expect_failed_beside_a_ready_a(&r, "ghost");
}

/* "SigIgn:" (or another mask line) of /proc/PID/status, as a number. */
static unsigned long long proc_sigmask(pid_t pid, const char *field)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	char *status = test_read_file(path);
	const char *at = status ? strstr(status, field) : NULL;
	unsigned long long mask = at ? strtoull(at + strlen(field), NULL, 16) : ~0ULL;
	free(status);
	return mask;
}

/* What the supervisor was started with (an ignored signal, a blocked one, a
 * descriptor without close-on-exec, a stale VIRALSUP_ACTOR_NAME) is not the
 * child's: it starts from a clean slate. */
TEST(a_child_starts_from_a_clean_slate_whatever_the_supervisor_inherited)
{
	char *dir = test_tmpdir(), *marker;
	ASSERT(asprintf(&marker, "%s/leaked-file", dir) > 0);
	/* No O_CLOEXEC, on purpose, and above the fds a child is given. */
	int leaked = open(marker, O_WRONLY | O_CREAT, 0600);
	ASSERT_CMP_INT(leaked, >=, 0);
	ASSERT_EQ_INT(dup2(leaked, 40), 40);
	close(leaked);
	leaked = 40;
	signal(SIGUSR2, SIG_IGN);
	sigset_t winch;
	sigemptyset(&winch);
	sigaddset(&winch, SIGWINCH);
	sigprocmask(SIG_BLOCK, &winch, NULL);
	const char *extra[] = {"VIRALSUP_ACTOR_NAME=stale", NULL};
	struct suprun r;
	suprun_spawn(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n", extra);
	WAIT_UNTIL(access(r.sock, F_OK) == 0 && suptest_state_is(&r, "a", "ready"), 5000);
	pid_t child = suptest_pid(&r, "a");
	ASSERT_CMP_INT(child, >, 0);
	/* The premise: the supervisor itself did inherit the ignored signal. */
	ASSERT(proc_sigmask(r.pid, "SigIgn:") & (1ULL << (SIGUSR2 - 1)));
	/* The child ignores SIGPIPE (its own doing), nothing else; blocks nothing.
	 * Signals 32 and 33 are glibc's own (thread cancellation, setxid), which
	 * its posix_spawn leaves ignored; glibc installs their handlers before it
	 * uses them, and no actor uses them otherwise. */
	unsigned long long glibc_internal = (1ULL << 31) | (1ULL << 32);
	ASSERT_EQ_INT((long long)(proc_sigmask(child, "SigIgn:") & ~glibc_internal),
	              1LL << (SIGPIPE - 1));
	ASSERT_EQ_INT((long long)proc_sigmask(child, "SigBlk:"), 0);
	ASSERT_EQ_INT(getpgid(child), child);

	char path[PATH_MAX], target[PATH_MAX];
	snprintf(path, sizeof path, "/proc/%d/fd/0", (int)child);
	ssize_t n = readlink(path, target, sizeof target - 1);
	ASSERT_CMP_INT(n, >, 0);
	target[n] = '\0';
	ASSERT_EQ_STR(target, "/dev/null");
	/* Past fd 3 it has only what it opened itself (sockets, epoll, eventfd):
	 * none of the supervisor's files or pipes, nor what it inherited. */
	snprintf(path, sizeof path, "/proc/%d/fd/40", (int)r.pid);
	ASSERT_CMP_INT(readlink(path, target, sizeof target - 1), >, 0); /* the premise */
	for (int fd = 4; fd < 1024; fd++) {
		snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)child, fd);
		n = readlink(path, target, sizeof target - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "socket:", 7) && strncmp(target, "anon_inode:", 11))
			FAIL("fd %d of the child is %s, not its own", fd, target);
	}

	/* Its name came from the supervisor, not from the stale variable (the
	 * title is set from VIRALSUP_ACTOR_NAME; /proc/PID/environ cannot say,
	 * setproctitle writes over it), and its READY came over fd 3. */
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)child);
	char *title = test_read_file(path);
	ASSERT(title != NULL);
	ASSERT_CONTAINS(title, "viralsup: a");
	free(title);
	close(leaked);
	free(marker);
	free(dir);
}

/* Executable but not a program (no ELF header, no #!): exec refuses it with
 * ENOEXEC. Marked failed like a missing program, never restarted. */
TEST(a_file_that_is_not_a_program_is_marked_failed_without_a_crash_loop)
{
	char *dir = test_tmpdir(), *path;
	ASSERT(asprintf(&path, "%s/not-a-program", dir) > 0);
	FILE *f = fopen(path, "w");
	ASSERT(f != NULL);
	fputs("this is text, not a program\n", f);
	fclose(f);
	ASSERT_EQ_INT(chmod(path, 0755), 0);
	char conf[512];
	snprintf(conf, sizeof conf,
	         SUP_FAST "[child junk]\nprogram = %s\n[child a]\nprogram = " ACTOR "\n", path);
	struct suprun r;
	suprun_start(&r, conf);
	expect_failed_beside_a_ready_a(&r, "junk");
	char *log = suptest_read(r.log);
	ASSERT_CONTAINS(log, "junk: cannot run");
	ASSERT_CONTAINS(log, "Exec format error: marked failed");
	free(log);
	free(path);
	free(dir);
}

TEST(migrations_are_applied_before_children_start)
{
	char *db = test_db_create(), *env;
	ASSERT(asprintf(&env, "DATABASE_URL=%s", db) > 0);
	const char *extra[] = {env, NULL};
	struct suprun r;
	suprun_spawn(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n", extra);
	WAIT_UNTIL(access(r.sock, F_OK) == 0 && suptest_state_is(&r, "a", "ready"), 10000);
	char *log = suptest_read(r.log);
	char *mig = strstr(log, "migrate: schema at version");
	ASSERT(mig != NULL);
	ASSERT(strstr(log, "a ready (pid") > mig);
	free(log);
	PGconn *pg = PQconnectdb(db);
	ASSERT_EQ_INT(PQstatus(pg), CONNECTION_OK);
	PGresult *res = PQexec(pg, "SELECT count(*) FROM schema_migrations");
	ASSERT_EQ_INT(PQresultStatus(res), PGRES_TUPLES_OK);
	ASSERT_CMP_INT(atoi(PQgetvalue(res, 0, 0)), >=, 2);
	PQclear(res);
	PQfinish(pg);
	free(env);
	free(db);
}

TEST(unreachable_database_is_a_clear_startup_error)
{
	char *dir = test_tmpdir(), *env;
	ASSERT(asprintf(&env, "DATABASE_URL=host=%s/nope dbname=x connect_timeout=2", dir) > 0);
	const char *extra[] = {env, NULL};
	struct suprun r;
	suprun_spawn(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n", extra);
	int st = suprun_wait(&r, 5000);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_EQ_INT(WEXITSTATUS(st), 1);
	char *log = suptest_read(r.log);
	ASSERT_CONTAINS(log, "viralsup-migrate: cannot connect");
	ASSERT_CONTAINS(log, "database migrations failed");
	ASSERT(!strstr(log, "a ready"));
	free(log);
	free(env);
	free(dir);
}

TEST(second_signal_forces_the_stop)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child stuck]\nshutdown_timeout_ms = 30000\nprogram = " ACTOR
	                          " --ignore-term\n");
	WAIT_UNTIL(suptest_state_is(&r, "stuck", "ready"), 5000);
	pid_t pid = suptest_pid(&r, "stuck");
	kill(r.pid, SIGTERM);
	WAIT_UNTIL(suptest_state_is(&r, "stuck", "stopping"), 5000);
	double t0 = test_now_ms();
	kill(r.pid, SIGTERM);
	int st = suprun_wait(&r, 5000);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_EQ_INT(WEXITSTATUS(st), 1);
	ASSERT_CMP_INT(test_now_ms() - t0, <, 2000);
	WAIT_UNTIL(!suptest_alive(pid), 1000);
}

/* make run + Ctrl-C: the terminal's SIGINT and the wrapper's SIGTERM arrive
 * together. That is one stop request: ordered, graceful, exit 0. */
TEST(sigint_and_sigterm_together_stop_gracefully_once)
{
	struct suprun r;
	suprun_start(&r,
	             SUP_FAST "[child a]\nprogram = " ACTOR "\n[child b]\nprogram = " ACTOR "\n");
	WAIT_UNTIL(suptest_state_is(&r, "b", "ready"), 5000);
	kill(r.pid, SIGINT);
	kill(r.pid, SIGTERM);
	int st = suprun_wait(&r, 10000);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_EQ_INT(WEXITSTATUS(st), 0);
	char *log = suptest_read(r.log);
	ASSERT(strstr(log, "killing every child now") == NULL);
	free(log);
}

static bool log_has(const struct suprun *r, const char *needle)
{
	char *log = suptest_read(r->log);
	bool found = strstr(log, needle) != NULL;
	free(log);
	return found;
}

/* SIGHUP is defined: logged and ignored, everything keeps running. */
TEST(sighup_is_logged_and_ignored)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n");
	WAIT_UNTIL(suptest_state_is(&r, "a", "ready"), 5000);
	pid_t pid = suptest_pid(&r, "a");
	kill(r.pid, SIGHUP);
	WAIT_UNTIL(log_has(&r, "SIGHUP"), 5000);
	ASSERT(suptest_alive(r.pid));
	ASSERT(suptest_state_is(&r, "a", "ready"));
	ASSERT_EQ_INT(suptest_pid(&r, "a"), pid);
	kill(r.pid, SIGTERM);
	int st = suprun_wait(&r, 10000);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_EQ_INT(WEXITSTATUS(st), 0);
}

/* A stopped (hung) child is found by the watchdog at the default
 * supervisor.watchdog_ms (5 s): shown unresponsive first, then SIGKILLed and
 * restarted like a crash, its exit recorded as a hang. */
TEST(hung_child_is_killed_by_the_watchdog_and_restarted)
{
	struct suprun r;
	suprun_start(&r,
	             SUP_FAST "[child a]\nprogram = " ACTOR "\n[child b]\nprogram = " ACTOR "\n");
	wait_ready(&r, "a");
	wait_ready(&r, "b");
	pid_t pid = suptest_pid(&r, "a"), other = suptest_pid(&r, "b");
	double t0 = test_now_ms();
	kill(pid, SIGSTOP);
	WAIT_UNTIL(suptest_state_is(&r, "a", "unresponsive"), 6000);
	WAIT_UNTIL(suptest_pid(&r, "a") != pid && suptest_state_is(&r, "a", "ready"), 8000);
	double took = test_now_ms() - t0;
	/* watchdog_ms 5000, checked every 1000 ms, then a restart of ~ms */
	ASSERT_CMP_INT(took, >=, 4900);
	ASSERT_CMP_INT(took, <, 7500);
	ASSERT(!suptest_alive(pid));
	json_t *st = suptest_status(&r);
	json_t *c = suptest_child(st, "a");
	ASSERT_EQ_INT(json_integer_value(json_object_get(c, "hangs_total")), 1);
	ASSERT(strstr(json_string_value(json_object_get(json_object_get(c, "last_exit"), "reason")),
	              "hung") != NULL);
	json_decref(st);
	ASSERT_EQ_INT(suptest_pid(&r, "b"), other);
	ASSERT(log_has(&r, "hung: no answer for"));
	kill(r.pid, SIGTERM);
	suprun_wait(&r, 10000);
}

/* A deleted control.sock is recreated: viralctl is never locked out. */
TEST(deleted_control_socket_is_recreated)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n");
	wait_ready(&r, "a");
	ASSERT_EQ_INT(unlink(r.sock), 0);
	WAIT_UNTIL(access(r.sock, F_OK) == 0, 5000);
	ASSERT(suptest_state_is(&r, "a", "ready"));
	kill(r.pid, SIGTERM);
	suprun_wait(&r, 10000);
}

/* A second viralsup on the same run directory whose pidfile is gone must not
 * take over the first one's sockets: it refuses to start. */
TEST(second_instance_never_steals_a_live_control_socket)
{
	struct suprun r, r2;
	suprun_start(&r, SUP_FAST "[child a]\nprogram = " ACTOR "\n");
	wait_ready(&r, "a");
	char *pidfile = NULL;
	ASSERT(asprintf(&pidfile, "%s/viralsup.pid", r.run_dir) > 0);
	ASSERT_EQ_INT(unlink(pidfile), 0);
	free(pidfile);
	char *env = NULL;
	ASSERT(asprintf(&env, "VIRALSUP_RUN_DIR=%s", r.run_dir) > 0);
	const char *extra[] = {env, NULL};
	suprun_spawn(&r2, "[child a]\nprogram = " ACTOR "\n", extra);
	int st = suprun_wait(&r2, 10000);
	ASSERT(st != -1 && WIFEXITED(st));
	ASSERT_EQ_INT(WEXITSTATUS(st), 1);
	ASSERT(log_has(&r2, "another viralsup serves"));
	free(env);
	ASSERT(suptest_state_is(&r, "a", "ready"));
	kill(r.pid, SIGTERM);
	suprun_wait(&r, 10000);
}

/* The stats an actor sends in its PONGs reach status up to CHILD_STATS_MAX
 * (4096 bytes packed); larger ones are refused with one warning naming the
 * actor and the size, not silently and not once per PONG. */
TEST(pong_stats_reach_status_and_oversized_ones_are_refused_with_one_warning)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child small]\nprogram = " ACTOR " --pong-stats-bytes 100\n"
	                          "[child big]\nprogram = " ACTOR " --pong-stats-bytes 5000\n");
	wait_ready(&r, "small");
	wait_ready(&r, "big");
	/* The watchdog pings every 1 s (watchdog_ms 5000 / 5). */
	json_t *st = NULL;
	WAIT_UNTIL((json_decref(st), st = suptest_status(&r),
	            json_is_object(json_object_get(suptest_child(st, "small"), "stats"))),
	           5000);
	const char *filler = json_string_value(
	    json_object_get(json_object_get(suptest_child(st, "small"), "stats"), "filler"));
	ASSERT(filler != NULL);
	ASSERT_EQ_INT(strlen(filler), 100);
	json_decref(st);
	char *log = NULL;
	WAIT_UNTIL((free(log), log = suptest_read(r.log),
	            strstr(log, "big: the stats of its PONG take ") != NULL),
	           5000);
	ASSERT_CONTAINS(log, "over 4096: ignored");
	free(log);
	/* Two more PONGs later (small counts them; the watchdog pings every
	 * child on the same tick): still no stats for big, still one warning. */
	pid_t big = suptest_pid(&r, "big");
	st = suptest_status(&r);
	int p0 = json_int(json_object_get(suptest_child(st, "small"), "stats"), "pongs");
	json_decref(st);
	st = NULL;
	WAIT_UNTIL(
	    (json_decref(st), st = suptest_status(&r),
	     json_int(json_object_get(suptest_child(st, "small"), "stats"), "pongs") >= p0 + 2),
	    5000);
	json_t *big_stats = json_object_get(suptest_child(st, "big"), "stats");
	ASSERT(!big_stats || json_is_null(big_stats));
	json_decref(st);
	ASSERT_EQ_INT(suptest_pid(&r, "big"), big);
	log = suptest_read(r.log);
	int warnings = 0;
	for (char *l = log; (l = strstr(l, "big: the stats of its PONG take ")); l++)
		warnings++;
	free(log);
	ASSERT_EQ_INT(warnings, 1);
}

/* A supervisor stopped longer than two watchdog intervals (SIGSTOP, or a
 * starved machine) finds its children's answers unread when it resumes:
 * that silence is its own, so nobody is marked unresponsive or killed. */
TEST(a_stopped_supervisor_does_not_blame_its_children_for_its_own_silence)
{
	struct suprun r;
	suprun_start(&r, SUP_FAST "[child a]\nprogram = " ACTOR " --pong-stats-bytes 1\n");
	wait_ready(&r, "a");
	pid_t a = suptest_pid(&r, "a");
	ASSERT_EQ_INT(kill(r.pid, SIGSTOP), 0);
	/* The stop itself is the scenario: 3 s, past the 2 s after which a
	 * silent child is shown unresponsive (watchdog_ms 5000, pings every 1 s). */
	struct timespec ts = {3, 0};
	nanosleep(&ts, NULL);
	ASSERT_EQ_INT(kill(r.pid, SIGCONT), 0);
	/* Two watchdog pings answered after the stop. */
	json_t *st = suptest_status(&r);
	int p0 = json_int(json_object_get(suptest_child(st, "a"), "stats"), "pongs");
	json_decref(st);
	st = NULL;
	WAIT_UNTIL((json_decref(st), st = suptest_status(&r),
	            json_int(json_object_get(suptest_child(st, "a"), "stats"), "pongs") >= p0 + 2),
	           5000);
	json_decref(st);
	char *log = suptest_read(r.log);
	if (strstr(log, "unresponsive for"))
		FAIL("%s", log);
	ASSERT(!strstr(log, "hung:"));
	free(log);
	ASSERT_EQ_INT(suptest_pid(&r, "a"), a);
	ASSERT(suptest_state_is(&r, "a", "ready"));
}
