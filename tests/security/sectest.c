/*
 * Helpers of the security tests. See sectest.h.
 */
#include "tests/security/sectest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

void sec_stack_start(struct stack *s, const char *conf_text)
{
	/* The same steps as stack_start(), with our config file. */
	suprun_spawn(&s->sup, conf_text, (const char *const *)s->env);
	char *path;
	if (asprintf(&path, "%s/gateway.http", s->sup.run_dir) < 0)
		abort();
	double t0 = test_now_ms();
	for (;;) {
		char *addr = suptest_read(path);
		size_t len = strcspn(addr, "\r\n");
		addr[len] = '\0';
		if (len > 0 && addr[len - 1] != ':' && strchr(addr, ':')) {
			const char *a = strncmp(addr, "http://", 7) ? addr : addr + 7;
			snprintf(s->url, sizeof s->url, "http://%s", a);
			free(addr);
			break;
		}
		free(addr);
		int st;
		if (waitpid(s->sup.pid, &st, WNOHANG) == s->sup.pid)
			FAIL("viralsup exited early (status %d):\n%s", st, stack_log_tail(s, 30));
		if (test_now_ms() - t0 > 15000)
			FAIL("the gateway did not come up within 15 s:\n%s", stack_log_tail(s, 30));
		test_poll_pause();
	}
	free(path);
	const char *names[] = {"writer", "scheduler", "analyzer", "fetcher[0]", "gateway"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		stack_pid(s, names[i], 0);
	t0 = test_now_ms();
	while (stack_http(s, NULL, "GET", "/readyz", NULL, false, NULL) != 200) {
		if (test_now_ms() - t0 > 10000)
			FAIL("/readyz not 200 within 10 s:\n%s", stack_log_tail(s, 30));
		test_poll_pause();
	}
}

int sec_run(const char *const *argv, const char *const *env, int ms, char **out)
{
	int p[2];
	if (pipe(p) < 0)
		FAIL("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		FAIL("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	double t0 = test_now_ms();
	bool timed_out = false;
	for (;;) {
		int left = ms - (int)(test_now_ms() - t0);
		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (poll(&pf, 1, left) <= 0)
			continue;
		char chunk[4096];
		ssize_t n = read(p[0], chunk, sizeof chunk);
		if (n <= 0)
			break;
		fwrite(chunk, 1, (size_t)n, m);
	}
	close(p[0]);
	fclose(m);
	int st;
	if (timed_out) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		st = -1;
	} else {
		/* Output closed: the program is ending; wait for it (bounded). */
		while (waitpid(pid, &st, WNOHANG) == 0) {
			if (test_now_ms() - t0 > ms) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				st = -1;
				break;
			}
			test_poll_pause();
		}
	}
	if (out)
		*out = buf;
	else
		free(buf);
	return st;
}
