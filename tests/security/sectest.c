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
