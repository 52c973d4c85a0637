/*
 * Test runner: every registered test runs in its own process group under a
 * timeout, so a crash, a hang or a leaked child process fails that test
 * only. See harness.h.
 */
#include "tests/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS 512

static struct {
	const char *name;
	test_fn fn;
	int timeout_s; /* 0: the run's default */
} tests[MAX_TESTS];
static int ntests;
static const char *current_test = "?";
/* The write end of the pipe a test's skip reason travels on to the runner. */
static int skip_fd = -1;

#define MAX_PASS_HOOKS 8
static struct {
	void (*fn)(void *);
	void *arg;
} pass_hooks[MAX_PASS_HOOKS];
static int npass_hooks;

void test_register_timeout(const char *name, test_fn fn, int timeout_s)
{
	if (ntests == MAX_TESTS) {
		fprintf(stderr, "harness: too many tests\n");
		abort();
	}
	tests[ntests].name = name;
	tests[ntests].fn = fn;
	tests[ntests].timeout_s = timeout_s;
	ntests++;
}

void test_register(const char *name, test_fn fn)
{
	test_register_timeout(name, fn, 0);
}

_Noreturn void test_skip(const char *why)
{
	/* The runner prints it on the test's "skip" line, where tests/run.sh
	 * matches it against tests/skips.allow. */
	if (skip_fd >= 0 && write(skip_fd, why, strnlen(why, 200)) < 0)
		fprintf(stderr, "  skip reason: %s\n", why);
	fflush(NULL);
	_exit(77);
}

void test_at_pass(void (*fn)(void *), void *arg)
{
	if (npass_hooks == MAX_PASS_HOOKS)
		FAIL("test_at_pass: more than %d hooks", MAX_PASS_HOOKS);
	pass_hooks[npass_hooks].fn = fn;
	pass_hooks[npass_hooks].arg = arg;
	npass_hooks++;
}

void test_at_pass_cancel(void (*fn)(void *), void *arg)
{
	for (int i = 0; i < npass_hooks; i++)
		if (pass_hooks[i].fn == fn && pass_hooks[i].arg == arg)
			pass_hooks[i].fn = NULL;
}

_Noreturn void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "  %s:%d: %s: ", file, line, current_test);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(NULL);
	_exit(1);
}

double test_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

void test_poll_pause(void)
{
	struct timespec ts = {0, 5 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

const char *test_pg_server(void)
{
	const char *s = getenv("TEST_PG_CONNINFO");
	return s && *s ? s : NULL;
}

char *test_db_create(void)
{
	const char *server = test_pg_server();
	static unsigned counter;
	char name[64], *conninfo, *admin;
	PGconn *pg;
	PGresult *res;

	if (!server)
		test_skip("no PostgreSQL server (TEST_PG_CONNINFO unset)");
	if (asprintf(&admin, "%s dbname=postgres", server) < 0)
		abort();
	pg = PQconnectdb(admin);
	free(admin);
	if (PQstatus(pg) != CONNECTION_OK)
		FAIL("cannot reach test PostgreSQL: %s", PQerrorMessage(pg));
	snprintf(name, sizeof name, "t_%ld_%u_%ld", (long)getpid(), counter++,
	         (long)time(NULL) % 100000);
	char sql[128];
	/* name is made of digits and letters above: not user input. */
	snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
	res = PQexec(pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		FAIL("CREATE DATABASE: %s", PQerrorMessage(pg));
	PQclear(res);
	PQfinish(pg);
	if (asprintf(&conninfo, "%s dbname=%s", server, name) < 0)
		abort();
	return conninfo;
}

char *test_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL, chunk[8192];
	size_t len = 0, n;
	FILE *m = open_memstream(&buf, &len);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, n, m);
	fclose(m);
	fclose(f);
	return buf;
}

char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path;
	if (asprintf(&path, "%s/viralsup-test-XXXXXX", base && *base ? base : "/tmp") < 0)
		abort();
	if (!mkdtemp(path))
		FAIL("mkdtemp: %s", strerror(errno));
	chmod(path, 0700);
	return path;
}

static int run_one(int i, int timeout_s)
{
	double t0 = test_now_ms();
	int why[2];
	if (pipe2(why, O_CLOEXEC) < 0) {
		perror("pipe");
		return 1;
	}
	pid_t pid = fork();
	int status = 0;

	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		current_test = tests[i].name;
		close(why[0]);
		skip_fd = why[1];
		signal(SIGPIPE, SIG_IGN);
		tests[i].fn();
		/* Checks the test's helpers left for the end (a stack not stopped
		 * still has its restarts and logs checked), newest first. */
		for (int h = npass_hooks - 1; h >= 0; h--)
			if (pass_hooks[h].fn)
				pass_hooks[h].fn(pass_hooks[h].arg);
		fflush(NULL);
		_exit(0);
	}
	close(why[1]);
	setpgid(pid, pid);
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (test_now_ms() - t0 > timeout_s * 1e3) {
			printf("FAIL %s: timed out after %d s; its processes were:\n",
			       tests[i].name, timeout_s);
			/* What was still running (and in which state) says where it hung. */
			char ps[128];
			snprintf(ps, sizeof ps,
			         "ps -o pid=,stat=,etime=,args= -g %d | sed 's/^/    /'", (int)pid);
			if (system(ps) != 0)
				printf("    (ps failed)\n");
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(why[0]);
			return 1;
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* Whatever the test left behind (servers, children) goes with it. */
	kill(-pid, SIGKILL);
	double ms = test_now_ms() - t0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("ok   %s (%.0f ms)\n", tests[i].name, ms);
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		char reason[256];
		ssize_t n = read(why[0], reason, sizeof reason - 1);
		reason[n > 0 ? n : 0] = '\0';
		close(why[0]);
		printf("skip %s: %s\n", tests[i].name, reason[0] ? reason : "(no reason given)");
		return 77;
	}
	close(why[0]);
	if (WIFSIGNALED(status))
		printf("FAIL %s: killed by signal %d (%s)\n", tests[i].name, WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
	else
		printf("FAIL %s: exit %d\n", tests[i].name, WEXITSTATUS(status));
	return 1;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0;
	const char *t = getenv("TEST_TIMEOUT");
	int timeout_s = t && atoi(t) > 0 ? atoi(t) : 60;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < ntests; i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]))
			continue;
		int r = run_one(i, tests[i].timeout_s > timeout_s ? tests[i].timeout_s : timeout_s);
		if (r == 0)
			passed++;
		else if (r == 77)
			skipped++;
		else
			failed++;
	}
	printf("RESULT passed=%d failed=%d skipped=%d\n", passed, failed, skipped);
	return failed ? 1 : 0;
}

int test_fake_server_start(const char *script, const char *const *env, pid_t *pid)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		FAIL("pipe: %s", strerror(errno));
	*pid = fork();
	if (*pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (*pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		for (; env && *env; env++)
			putenv((char *)*env);
		execlp("python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	char line[32] = {0};
	size_t n = 0;
	double t0 = test_now_ms();
	while (n < sizeof(line) - 1 && !strchr(line, '\n')) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		if (test_now_ms() - t0 > 10000)
			FAIL("%s did not print its port within 10 s", script);
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t k = read(pfd[0], line + n, sizeof(line) - 1 - n);
		if (k <= 0)
			FAIL("%s exited before printing its port", script);
		n += (size_t)k;
	}
	close(pfd[0]);
	int port = atoi(line);
	if (port <= 0)
		FAIL("%s printed no port: \"%s\"", script, line);
	return port;
}
