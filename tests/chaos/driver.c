/*
 * chaos_driver --socket RUN_DIR/control.sock [--min-ms 100] [--max-ms 300]
 *              [--roles gateway,scheduler,fetcher,analyzer,writer]
 *              [--seed N] [--duration-ms N] [--log FILE]
 *
 * SIGKILLs a random ready actor of a running viralsup every min..max ms
 * until SIGTERM/SIGINT (or the duration), then waits for the last victims to
 * come back and prints one line on stdout:
 *
 *   kills=N recovered=N median_ms=… p99_ms=… max_ms=… failed=N by_role=…
 *
 * (recovery = SIGKILL until the supervisor reports a new ready process).
 * Exit 0; 1 when a child ended up "failed" or the supervisor went away; 2
 * on usage errors. See tests/chaos/chaos.h.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/chaos/chaos.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'}, {"min-ms", required_argument, NULL, 'a'},
	    {"max-ms", required_argument, NULL, 'b'}, {"roles", required_argument, NULL, 'r'},
	    {"seed", required_argument, NULL, 'S'},   {"duration-ms", required_argument, NULL, 'd'},
	    {"log", required_argument, NULL, 'l'},    {NULL, 0, NULL, 0}};
	struct chaos_opts o = {.min_ms = 100, .max_ms = 300, .stop = &stop_flag};
	const char *logpath = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.sock = optarg;
			break;
		case 'a':
			o.min_ms = atoi(optarg);
			break;
		case 'b':
			o.max_ms = atoi(optarg);
			break;
		case 'r':
			o.roles = optarg;
			break;
		case 'S':
			o.seed = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'd':
			o.duration_ms = atol(optarg);
			break;
		case 'l':
			logpath = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!o.sock || o.min_ms < 1 || o.max_ms < o.min_ms)
		goto usage;
	if (logpath && !(o.log = fopen(logpath, "w"))) {
		perror(logpath);
		return 2;
	}
	if (o.log)
		setvbuf(o.log, NULL, _IOLBF, 0);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	struct chaos_stats st;
	char line[512];
	int rc = chaos_run(&o, &st);
	chaos_format(&st, line, sizeof line);
	printf("%s\n", line);
	if (o.log)
		fclose(o.log);
	if (rc < 0) {
		fprintf(stderr, "chaos_driver: the supervisor at %s stopped answering\n", o.sock);
		return 1;
	}
	return st.failed_children > 0 ? 1 : 0;
usage:
	fprintf(stderr, "usage: chaos_driver --socket PATH [--min-ms N] [--max-ms N] [--roles "
	                "LIST] [--seed N] [--duration-ms N] [--log FILE]\n");
	return 2;
}
