/*
 * viralctl against a real viralsup: JSON and table output match the
 * processes, actor commands act, errors have their documented exit codes.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/unit/suptest.h"

#define ACTOR "viralsup-test-actor"
#define CONF                                                                 \
	"[supervisor]\nbackoff_initial_ms = 1\nshutdown_timeout_ms = 2000\n" \
	"[child solo]\nprogram = " ACTOR "\n"                                \
	"[child pool]\nprogram = " ACTOR "\ncount = 2\n"

static const char *const names[] = {"solo", "pool[0]", "pool[1]"};

static void start_all_ready(struct suprun *r)
{
	suprun_start(r, CONF);
	for (int i = 0; i < 3; i++)
		WAIT_UNTIL(suptest_state_is(r, names[i], "ready"), 5000);
}

/* The program a process runs (/proc/PID/exe), malloc'd. */
static char *exe_of(pid_t pid)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
	ssize_t n = readlink(path, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	return strdup(buf);
}

TEST(status_json_parses_and_matches_reality)
{
	struct suprun r;
	start_all_ready(&r);
	json_t *s = suptest_status(&r);
	ASSERT(s != NULL);
	ASSERT_EQ_INT(json_integer_value(json_object_get(s, "pid")), r.pid);
	ASSERT_EQ_STR(json_string_value(json_object_get(s, "version")), "0.1.0");
	ASSERT_EQ_INT(json_array_size(json_object_get(s, "children")), 3);
	for (int i = 0; i < 3; i++) {
		json_t *c = json_array_get(json_object_get(s, "children"), (size_t)i);
		ASSERT_EQ_STR(json_string_value(json_object_get(c, "name")), names[i]);
		ASSERT_EQ_STR(json_string_value(json_object_get(c, "state")), "ready");
		pid_t pid = (pid_t)json_integer_value(json_object_get(c, "pid"));
		ASSERT(suptest_alive(pid));
		char *exe = exe_of(pid), path[64], title[64];
		ASSERT_CONTAINS(exe, "/" ACTOR);
		free(exe);
		/* The process title names the actor (pool members by index). */
		snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
		char *cl = suptest_read(path);
		snprintf(title, sizeof title, "viralsup: %s", names[i]);
		ASSERT_CONTAINS(cl, title);
		free(cl);
		ASSERT_CMP_INT(json_integer_value(json_object_get(c, "rss_kb")), >, 0);
		ASSERT(json_is_null(json_object_get(c, "last_exit")));
		ASSERT_EQ_INT(json_integer_value(json_object_get(c, "restarts_total")), 0);
	}
	json_decref(s);
}

TEST(status_table_lists_every_actor)
{
	struct suprun r;
	start_all_ready(&r);
	const char *args[] = {"status", NULL};
	char *out = NULL;
	ASSERT_EQ_INT(suptest_ctl(&r, &out, NULL, args), 0);
	ASSERT_CONTAINS(out, "NAME");
	for (int i = 0; i < 3; i++) {
		char line[128];
		snprintf(line, sizeof line, "%-14s %-12s %8d", names[i], "ready",
		         (int)suptest_pid(&r, names[i]));
		ASSERT_CONTAINS(out, line);
	}
	free(out);
}

TEST(missing_socket_exits_3_with_a_clear_message)
{
	char *dir = test_tmpdir(), *sock;
	ASSERT(asprintf(&sock, "%s/control.sock", dir) > 0);
	const char *argv[] = {"viralctl", "--socket", sock, "status", NULL};
	char *err = NULL;
	ASSERT_EQ_INT(suptest_run(argv, NULL, &err), 3);
	ASSERT_CONTAINS(err, "supervisor not running");
	ASSERT_CONTAINS(err, sock);
	free(err);
	free(sock);
	free(dir);
}

TEST(socket_found_through_viralsup_run_dir)
{
	struct suprun r;
	start_all_ready(&r);
	setenv("VIRALSUP_RUN_DIR", r.run_dir, 1);
	const char *argv[] = {"viralctl", "--json", "status", NULL};
	char *out = NULL;
	ASSERT_EQ_INT(suptest_run(argv, &out, NULL), 0);
	ASSERT_CONTAINS(out, "\"pool[1]\"");
	free(out);
}

TEST(unknown_actor_exits_5)
{
	struct suprun r;
	start_all_ready(&r);
	const char *args[] = {"restart", "nobody", NULL};
	char *err = NULL;
	ASSERT_EQ_INT(suptest_ctl(&r, NULL, &err, args), 5);
	ASSERT_CONTAINS(err, "unknown actor 'nobody'");
	free(err);
}

TEST(stop_keeps_it_down_and_start_brings_a_new_pid)
{
	struct suprun r;
	start_all_ready(&r);
	pid_t old = suptest_pid(&r, "solo");
	const char *stop[] = {"stop", "solo", NULL};
	ASSERT_EQ_INT(suptest_ctl(&r, NULL, NULL, stop), 0);
	WAIT_UNTIL(suptest_state_is(&r, "solo", "stopped"), 5000);
	ASSERT(!suptest_alive(old));
	ASSERT_EQ_INT(suptest_pid(&r, "solo"), 0);
	const char *start[] = {"start", "solo", NULL};
	ASSERT_EQ_INT(suptest_ctl(&r, NULL, NULL, start), 0);
	WAIT_UNTIL(suptest_state_is(&r, "solo", "ready"), 5000);
	pid_t now = suptest_pid(&r, "solo");
	ASSERT(now != old && suptest_alive(now));
}

TEST(restart_of_a_pool_restarts_every_member_and_nothing_else)
{
	struct suprun r;
	start_all_ready(&r);
	pid_t solo = suptest_pid(&r, "solo"), p0 = suptest_pid(&r, "pool[0]"),
	      p1 = suptest_pid(&r, "pool[1]");
	const char *args[] = {"restart", "pool", NULL};
	char *out = NULL;
	ASSERT_EQ_INT(suptest_ctl(&r, &out, NULL, args), 0);
	ASSERT_CONTAINS(out, "pool[0]: restart");
	ASSERT_CONTAINS(out, "pool[1]: restart");
	free(out);
	WAIT_UNTIL(suptest_pid(&r, "pool[0]") != p0 && suptest_pid(&r, "pool[1]") != p1 &&
	               suptest_state_is(&r, "pool[0]", "ready") &&
	               suptest_state_is(&r, "pool[1]", "ready"),
	           5000);
	ASSERT(!suptest_alive(p0) && !suptest_alive(p1));
	ASSERT_EQ_INT(suptest_pid(&r, "solo"), solo);
	/* An operator's restart is not a crash. */
	json_t *s = suptest_status(&r);
	ASSERT_EQ_INT(
	    json_integer_value(json_object_get(suptest_child(s, "pool[0]"), "restarts_total")), 0);
	json_decref(s);
}

TEST(kill_is_handled_as_a_crash)
{
	struct suprun r;
	start_all_ready(&r);
	pid_t old = suptest_pid(&r, "solo");
	const char *args[] = {"kill", "solo", NULL};
	char *out = NULL;
	ASSERT_EQ_INT(suptest_ctl(&r, &out, NULL, args), 0);
	char want[64];
	snprintf(want, sizeof want, "solo: killed pid %d", (int)old);
	ASSERT_CONTAINS(out, want);
	free(out);
	WAIT_UNTIL(suptest_pid(&r, "solo") != old && suptest_state_is(&r, "solo", "ready"), 5000);
	json_t *s = suptest_status(&r);
	json_t *c = suptest_child(s, "solo");
	ASSERT_EQ_INT(json_integer_value(json_object_get(c, "restarts_total")), 1);
	ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(c, "last_exit"), "reason")),
	              "signal 9 (Killed)");
	json_decref(s);
}

TEST(logs_prints_captured_lines_of_one_actor)
{
	struct suprun r;
	start_all_ready(&r);
	const char *args[] = {"logs", "pool", "-n", "50", NULL};
	char *out = NULL;
	ASSERT_EQ_INT(suptest_ctl(&r, &out, NULL, args), 0);
	ASSERT_CONTAINS(out, "actor=pool[0] msg=\"test actor ready\"");
	ASSERT_CONTAINS(out, "actor=pool[1] msg=\"test actor ready\"");
	ASSERT(!strstr(out, "actor=solo"));
	free(out);
}

TEST(unknown_command_is_an_error_when_no_scheduler_answers_it)
{
	struct suprun r;
	start_all_ready(&r);
	const char *args[] = {"frobnicate", NULL};
	char *err = NULL;
	ASSERT_EQ_INT(suptest_ctl(&r, NULL, &err, args), 1);
	ASSERT_CONTAINS(err, "unknown command 'frobnicate'");
	free(err);
	/* A scheduler command without a scheduler: unavailable (exit 9). */
	const char *jobs[] = {"jobs", NULL};
	ASSERT_EQ_INT(suptest_ctl(&r, NULL, &err, jobs), 9);
	ASSERT_CONTAINS(err, "unknown command 'jobs'");
	free(err);
}

TEST(commands_are_forwarded_to_the_scheduler)
{
	struct suprun r;
	suprun_start(&r, "[child scheduler]\nprogram = " ACTOR " --answer-control\n");
	WAIT_UNTIL(suptest_state_is(&r, "scheduler", "ready"), 5000);
	const char *args[] = {"--json", "queue", NULL};
	char *out = NULL;
	ASSERT_EQ_INT(suptest_ctl(&r, &out, NULL, args), 0);
	ASSERT_CONTAINS(out, "\"echo\": \"queue\"");
	ASSERT_CONTAINS(out, "\"by\": \"scheduler\"");
	free(out);
}

TEST(silent_server_times_out_with_exit_6)
{
	char *dir = test_tmpdir(), *sock;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	ASSERT(asprintf(&sock, "%s/control.sock", dir) > 0);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strlcpy(sa.sun_path, sock, sizeof sa.sun_path);
	ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	ASSERT_EQ_INT(listen(fd, 4), 0);
	const char *argv[] = {"viralctl", "--socket", sock, "--timeout", "0.3", "status", NULL};
	char *err = NULL;
	double t0 = test_now_ms();
	ASSERT_EQ_INT(suptest_run(argv, NULL, &err), 6);
	ASSERT_CMP_INT(test_now_ms() - t0, <, 3000);
	ASSERT_CONTAINS(err, "no answer from the supervisor within");
	free(err);
	close(fd);
	free(sock);
	free(dir);
}

TEST(help_works_on_every_command_and_bad_usage_exits_2)
{
	const char *cmds[] = {"status", "restart", "stop", "start", "kill", "logs"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		const char *argv[] = {"viralctl", cmds[i], "--help", NULL};
		char *out = NULL;
		ASSERT_EQ_INT(suptest_run(argv, &out, NULL), 0);
		ASSERT_CONTAINS(out, "usage: viralctl");
		ASSERT_CONTAINS(out, cmds[i]);
		free(out);
	}
	const char *bad[] = {"viralctl", "restart", NULL};
	ASSERT_EQ_INT(suptest_run(bad, NULL, NULL), 2);
	const char *ver[] = {"viralctl", "--version", NULL};
	char *out = NULL;
	ASSERT_EQ_INT(suptest_run(ver, &out, NULL), 0);
	ASSERT_CONTAINS(out, "viralctl 0.1.0");
	free(out);
}
