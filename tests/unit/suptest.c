/*
 * Helpers for the supervisor and viralctl tests. See suptest.h.
 */
#include "tests/unit/suptest.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

const char *suptest_bin(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("VIRALSUP_BIN");
	if (env && *env)
		return env;
	if (!dir[0]) {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (n <= 0)
			FAIL("readlink /proc/self/exe");
		exe[n] = '\0';
		snprintf(dir, sizeof dir, "%s/../bin", dirname(exe));
	}
	return dir;
}

char *suptest_read(const char *path)
{
	char *text = test_read_file(path);
	return text ? text : strdup("");
}

void suprun_spawn(struct suprun *r, const char *conf_text, const char *const *extra_env)
{
	FILE *f;
	memset(r, 0, sizeof *r);
	r->dir = test_tmpdir();
	if (asprintf(&r->run_dir, "%s/run", r->dir) < 0 ||
	    asprintf(&r->conf, "%s/viralsup.conf", r->dir) < 0 ||
	    asprintf(&r->log, "%s/sup.log", r->dir) < 0 ||
	    asprintf(&r->sock, "%s/control.sock", r->run_dir) < 0)
		abort();
	f = fopen(r->conf, "w");
	if (!f)
		FAIL("cannot write %s", r->conf);
	fputs(conf_text, f);
	fclose(f);

	r->pid = fork();
	if (r->pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (r->pid == 0) {
		char prog[PATH_MAX];
		int fd = open(r->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, 2);
		setenv("VIRALSUP_RUN_DIR", r->run_dir, 1);
		unsetenv("VIRALSUP_CONFIG");
		unsetenv("NOTIFY_SOCKET");
		for (int i = 0; extra_env && extra_env[i]; i++)
			putenv((char *)extra_env[i]);
		snprintf(prog, sizeof prog, "%s/viralsup", suptest_bin());
		execl(prog, "viralsup", "--config", r->conf, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
}

void suprun_start(struct suprun *r, const char *conf_text)
{
	suprun_spawn(r, conf_text, NULL);
	double t0 = test_now_ms();
	for (;;) {
		const char *args[] = {"status", NULL};
		if (access(r->sock, F_OK) == 0 && suptest_ctl(r, NULL, NULL, args) == 0)
			return;
		int st;
		if (waitpid(r->pid, &st, WNOHANG) == r->pid) {
			char *log = suptest_read(r->log);
			FAIL("viralsup exited early (status %d); its log:\n%s", st, log);
		}
		if (test_now_ms() - t0 > 5000)
			FAIL("viralsup's control socket did not answer within 5 s");
		test_poll_pause();
	}
}

int suprun_wait(struct suprun *r, int ms)
{
	double t0 = test_now_ms();
	int st;
	while (test_now_ms() - t0 < ms) {
		if (waitpid(r->pid, &st, WNOHANG) == r->pid)
			return st;
		test_poll_pause();
	}
	return -1;
}

/* Reads both pipes to EOF without deadlocking on either. */
static void drain2(int fo, int fe, char **out, char **err)
{
	char *bufs[2] = {NULL, NULL};
	size_t lens[2] = {0, 0};
	FILE *ms[2] = {open_memstream(&bufs[0], &lens[0]), open_memstream(&bufs[1], &lens[1])};
	struct pollfd p[2] = {{.fd = fo, .events = POLLIN}, {.fd = fe, .events = POLLIN}};
	int open_n = 2;
	while (open_n > 0) {
		if (poll(p, 2, 10000) <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			char buf[4096];
			ssize_t n = read(p[i].fd, buf, sizeof buf);
			if (n > 0) {
				fwrite(buf, 1, (size_t)n, ms[i]);
			} else {
				close(p[i].fd);
				p[i].fd = -1;
				open_n--;
			}
		}
	}
	for (int i = 0; i < 2; i++) {
		if (p[i].fd >= 0)
			close(p[i].fd);
		fclose(ms[i]);
	}
	if (out)
		*out = bufs[0];
	else
		free(bufs[0]);
	if (err)
		*err = bufs[1];
	else
		free(bufs[1]);
}

int suptest_run(const char *const *argv, char **out, char **err)
{
	int po[2], pe[2], st;
	if (pipe(po) < 0 || pipe(pe) < 0)
		FAIL("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid == 0) {
		char prog[PATH_MAX];
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		snprintf(prog, sizeof prog, "%s/viralctl", suptest_bin());
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	drain2(po[0], pe[0], out, err);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int suptest_ctl(struct suprun *r, char **out, char **err, const char *const *args)
{
	const char *argv[32] = {"viralctl", "--socket", r->sock};
	int n = 3;
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return suptest_run(argv, out, err);
}

json_t *suptest_json(struct suprun *r, const char *command)
{
	const char *args[] = {"--json", command, NULL};
	char *out = NULL;
	json_error_t jerr;
	if (suptest_ctl(r, &out, NULL, args) != 0) {
		free(out);
		return NULL;
	}
	json_t *j = json_loads(out, 0, &jerr);
	free(out);
	return j;
}

json_t *suptest_status(struct suprun *r)
{
	return suptest_json(r, "status");
}

json_t *suptest_child(json_t *status, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(status, "children"), i, c)
	{
		if (!strcmp(json_string_value(json_object_get(c, "name")), name))
			return c;
	}
	return NULL;
}

pid_t suptest_pid(struct suprun *r, const char *name)
{
	json_t *s = suptest_status(r);
	json_t *c = suptest_child(s, name);
	pid_t pid = c ? (pid_t)json_integer_value(json_object_get(c, "pid")) : 0;
	json_decref(s);
	return pid;
}

bool suptest_state_is(struct suprun *r, const char *name, const char *state)
{
	json_t *s = suptest_status(r);
	json_t *c = suptest_child(s, name);
	const char *st = c ? json_string_value(json_object_get(c, "state")) : NULL;
	bool yes = st && !strcmp(st, state);
	json_decref(s);
	return yes;
}

bool suptest_alive(pid_t pid)
{
	char path[64], buf[512];
	if (pid <= 0 || kill(pid, 0) < 0)
		return false;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')'. */
	char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

void suprun_check_children(struct suprun *r, bool restarts_expected, const char *when)
{
	if (restarts_expected)
		return;
	json_t *st = suptest_status(r);
	if (!st)
		FAIL("%s: no status from viralsup (pid %d); its log ends:\n%s", when, (int)r->pid,
		     suptest_read(r->log));
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(st, "children"), i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		const char *state = json_string_value(json_object_get(c, "state"));
		long long restarts = json_integer_value(json_object_get(c, "restarts_total"));
		json_t *ex = json_object_get(c, "last_exit");
		/* A one-shot child that finished cleanly is not a fault. */
		bool clean_stop = state && !strcmp(state, "stopped") && json_is_object(ex) &&
		                  json_integer_value(json_object_get(ex, "code")) == 0 &&
		                  !json_object_get(ex, "signal");
		if (restarts == 0 && state && (!strcmp(state, "ready") || clean_stop))
			continue;
		char *desc = json_dumps(c, JSON_COMPACT);
		char *who = strdup(name ? name : "?");
		json_decref(st);
		FAIL("%s: actor %s restarted or is down and the test did not expect it "
		     "(stack_expect_restarts): %s\nlog:\n%s",
		     when, who, desc, suptest_read(r->log));
	}
	json_decref(st);
}

void suprun_check_log(struct suprun *r, const char *when)
{
	/* What a sanitizer or UBSan prints; under SANITIZE=1 an actor's report
	 * goes to its stderr, which the supervisor forwards into this log. */
	static const char *const marks[] = {
	    "AddressSanitizer", "LeakSanitizer",   "UndefinedBehaviorSanitizer",
	    "runtime error:",   "MemorySanitizer", "ThreadSanitizer"};
	char *log = suptest_read(r->log);
	for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
		const char *hit = strstr(log, marks[i]);
		if (!hit)
			continue;
		const char *from = hit;
		for (int lines = 0; from > log && lines < 3; from--)
			if (from[-1] == '\n')
				lines++;
		FAIL("%s: \"%s\" in viralsup's log (%s):\n%.3000s", when, marks[i], r->log, from);
	}
	free(log);
}
