/*
 * bench_restart: how fast viralsup replaces a SIGKILLed actor.
 *
 * Runs the real viralsup with two test actors: "victim", which after each
 * READY also sends its pid as a datagram to the bench, and "idle". Kills
 * the victim N times (default 200, or argv[1]) and times each kill to the
 * replacement's readiness datagram. The ceiling for comparison: the same
 * binary started the way the supervisor starts it (posix_spawn), writing one
 * byte to a pipe first thing in main().
 * Also reports the resident memory of the supervisor and of an idle actor.
 *
 *   build/bin/bench_restart [N]
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
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

static char bin[PATH_MAX];

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* VmRSS (or with anon, RssAnon: the private part, without shared libraries). */
static long rss_kb(pid_t pid, bool anon)
{
	char path[64], line[256];
	const char *fmt = anon ? "RssAnon: %ld kB" : "VmRSS: %ld kB";
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, fmt, &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The child of parent whose process title is "viralsup: name". */
static pid_t find_child(pid_t parent, const char *name)
{
	char path[96], want[64];
	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)parent, (int)parent);
	snprintf(want, sizeof want, "viralsup: %s", name);
	FILE *f = fopen(path, "r");
	int pid;
	while (f && fscanf(f, "%d", &pid) == 1) {
		char cpath[64], title[256] = "";
		snprintf(cpath, sizeof cpath, "/proc/%d/cmdline", pid);
		FILE *c = fopen(cpath, "r");
		if (c) {
			size_t n = fread(title, 1, sizeof title - 1, c);
			title[n] = '\0';
			fclose(c);
		}
		if (!strncmp(title, want, strlen(want))) {
			fclose(f);
			return pid;
		}
	}
	if (f)
		fclose(f);
	return -1;
}

static pid_t recv_pid(int fd)
{
	char buf[32];
	ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

static void summary(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	printf("| %-44s | %5d | %7.2f | %7.2f | %7.2f | %7.2f |\n", what, n, pct(v, n, 0.5),
	       pct(v, n, 0.99), v[0], v[n - 1]);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 200;
	char dir[] = "/tmp/viralsup-bench-XXXXXX", path[PATH_MAX], conf[PATH_MAX], exe[PATH_MAX];
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (n < 1)
		n = 200;
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (len <= 0)
		return 1;
	exe[len] = '\0';
	strlcpy(bin, dirname(exe), sizeof bin); /* bench_restart lives in bin/ too */
	if (!mkdtemp(dir))
		return 1;

	snprintf(path, sizeof path, "%s/notify.sock", dir);
	int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strlcpy(sa.sun_path, path, sizeof sa.sun_path);
	if (bind(nfd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("bind");
		return 1;
	}
	struct timeval tv = {5, 0};
	setsockopt(nfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

	snprintf(conf, sizeof conf, "%s/viralsup.conf", dir);
	FILE *f = fopen(conf, "w");
	/* The default intensity: the victim dies by SIGKILL, which never counts
	 * toward it. No backoff, and "stable" at once, because this measures the
	 * restart mechanism itself (the default 5 ms first delay would be most of
	 * the figure); the backoff has its own tests in test_supervisor. */
	fprintf(f,
	        "[supervisor]\nbackoff_initial_ms = 0\nstable_after_ms = 1\nlog_ring = 100\n"
	        "[child victim]\nprogram = viralsup-test-actor --notify %s\n"
	        "[child idle]\nprogram = viralsup-test-actor\n",
	        path);
	fclose(f);

	pid_t sup = fork();
	if (sup == 0) {
		char prog[PATH_MAX + 16], run[PATH_MAX + 8], logp[PATH_MAX + 8];
		snprintf(prog, sizeof prog, "%s/viralsup", bin);
		snprintf(run, sizeof run, "%s/run", dir);
		snprintf(logp, sizeof logp, "%s/sup.log", dir);
		int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		setenv("VIRALSUP_RUN_DIR", run, 1);
		execl(prog, "viralsup", "--config", conf, (char *)NULL);
		_exit(127);
	}
	pid_t victim = recv_pid(nfd);
	if (victim <= 0) {
		fprintf(stderr, "bench: the victim never became ready (see %s/sup.log)\n", dir);
		kill(sup, SIGKILL);
		return 1;
	}

	double *restart = calloc((size_t)n, sizeof *restart);
	for (int i = 0; i < n; i++) {
		double t0 = now_ms();
		kill(victim, SIGKILL);
		pid_t next = recv_pid(nfd);
		if (next <= 0 || next == victim) {
			fprintf(stderr, "bench: no replacement after kill %d\n", i);
			kill(sup, SIGKILL);
			return 1;
		}
		restart[i] = now_ms() - t0;
		victim = next;
	}
	/* Let the last one settle, then measure memory at rest. */
	struct timespec pause = {0, 200 * 1000 * 1000};
	nanosleep(&pause, NULL);
	pid_t idle = find_child(sup, "idle");
	long sup_rss = rss_kb(sup, false), idle_rss = rss_kb(idle, false);
	long sup_anon = rss_kb(sup, true), idle_anon = rss_kb(idle, true);
	kill(sup, SIGTERM);
	waitpid(sup, NULL, 0);

	/* The ceiling: posix_spawn of the same binary, ready over a pipe. */
	double *ceiling = calloc((size_t)n, sizeof *ceiling);
	char prog[PATH_MAX + 32];
	snprintf(prog, sizeof prog, "%s/viralsup-test-actor", bin);
	for (int i = 0; i < n; i++) {
		int p[2];
		char b, fdarg[16];
		pid_t pid;
		if (pipe(p) < 0)
			return 1;
		snprintf(fdarg, sizeof fdarg, "%d", p[1]);
		char *args[] = {prog, "--pipe-ready", fdarg, NULL};
		double t0 = now_ms();
		if (posix_spawn(&pid, prog, NULL, NULL, args, environ) != 0) {
			fprintf(stderr, "bench: cannot spawn %s\n", prog);
			return 1;
		}
		close(p[1]);
		if (read(p[0], &b, 1) != 1) {
			fprintf(stderr, "bench: ceiling child did not signal\n");
			return 1;
		}
		ceiling[i] = now_ms() - t0;
		close(p[0]);
		waitpid(pid, NULL, 0);
	}

	printf("| %-44s | %5s | %7s | %7s | %7s | %7s |\n", "ms", "n", "median", "p99", "min",
	       "max");
	printf("|%s|-------|---------|---------|---------|---------|\n",
	       "----------------------------------------------");
	summary("SIGKILL -> replacement ready (viralsup)", restart, n);
	summary("ceiling: posix_spawn -> ready byte on a pipe", ceiling, n);
	printf("\nRSS after %d restarts: supervisor %ld kB (%ld kB private), idle actor %ld kB "
	       "(%ld kB private)\n",
	       n, sup_rss, sup_anon, idle_rss, idle_anon);
	free(restart);
	free(ceiling);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
	return 0;
}
