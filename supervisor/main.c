/*
 * viralsup: the supervisor. Loads the configuration, prepares the run
 * directory, applies database migrations, then spawns the actors and
 * keeps them running until SIGTERM/SIGINT. docs/viralsup.md describes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipc/log.h"
#include "supervisor/child.h"
#include "supervisor/control.h"

/* Exit codes (docs/viralsup.md). */
enum {
	EXIT_OK = 0,
	EXIT_STARTUP = 1, /* may succeed on retry: database down, another instance running */
	EXIT_USAGE = 2,
	EXIT_CONFIG = 78, /* will not succeed on retry: bad config, unsafe run directory */
};

static struct sup sup;
static struct control *control;
static char notify_path[108];
static int signals_seen, first_signal;
static ev_tstamp first_signal_at;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: viralsup [--config FILE] [COMMAND]\n"
	        "\n"
	        "Runs the viralsup actors in the foreground and keeps them running.\n"
	        "\n"
	        "commands:\n"
	        "  (none)     supervise the actors until SIGTERM/SIGINT\n"
	        "  config     print the effective configuration and child specs\n"
	        "  migrate    apply database migrations (database.url / DATABASE_URL) and exit\n"
	        "\n"
	        "options:\n"
	        "  --config FILE  INI configuration file (default: $VIRALSUP_CONFIG, else none)\n"
	        "  --version      print the version\n"
	        "  --help         this text\n");
}

/* fds 0-2 must be open so that no socket or pipe we create lands there. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0)
			_exit(EXIT_STARTUP);
}

/*
 * Creates the run directory (and its parents) mode 0700 and checks that an
 * existing one is ours and private: every actor socket lives there.
 */
static int run_dir_prepare(const char *path, char *err, size_t errlen)
{
	char tmp[4096];
	struct stat st;

	if (strlcpy(tmp, path, sizeof tmp) >= sizeof tmp || !*tmp) {
		snprintf(err, errlen, "run directory path is empty or too long");
		return -ENAMETOOLONG;
	}
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %.300s: %s", tmp, strerror(errno));
			return -errno;
		}
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create run directory %s: %s", path, strerror(errno));
		return -errno;
	}
	if (lstat(path, &st) < 0) {
		snprintf(err, errlen, "run directory %s: %s", path, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "run directory %s is not a directory", path);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		snprintf(err, errlen, "run directory %s belongs to uid %d, not to us (uid %d)",
		         path, (int)st.st_uid, (int)geteuid());
		return -EPERM;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
		         "run directory %s has mode %04o: it must be private (chmod 700 %s)", path,
		         (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	return 0;
}

/* sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void notify(const char *state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(notify_path);
	int fd;

	if (!len)
		return;
	memcpy(sa.sun_path, notify_path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
	           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_warn("NOTIFY_SOCKET %s: %s", notify_path, strerror(errno));
	close(fd);
}

static void on_child_change(struct sup *s, struct child *c)
{
	(void)c;
	if (s->notified_ready || s->shutting_down)
		return;
	for (int i = 0; i < s->nchildren; i++)
		if (s->children[i]->restart == RESTART_PERMANENT &&
		    s->children[i]->state != CHILD_READY)
			return;
	s->notified_ready = true;
	log_info("all permanent children ready");
	notify("READY=1\nSTATUS=all actors ready");
}

static void on_all_stopped(struct sup *s)
{
	log_info("all children stopped");
	ev_break(s->loop, EVBREAK_ALL);
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	if (w->signum == SIGHUP) {
		log_info("SIGHUP: nothing to reload (restart viralsup to apply configuration); "
		         "ignored");
		return;
	}
	if (signals_seen++ == 0) {
		first_signal_at = ev_now(loop);
		first_signal = w->signum;
		log_info("%s: stopping the children in reverse start order", strsignal(w->signum));
		notify("STOPPING=1");
		sup_shutdown(&sup);
		return;
	}
	/* Ctrl-C under a wrapper (make run) arrives twice at once, the terminal's
	 * SIGINT and the wrapper's SIGTERM: one request, not an impatient second.
	 * The same signal again is the impatient second. */
	if (w->signum != first_signal && ev_now(loop) - first_signal_at < 1.0) {
		log_debug("%s within 1 s of the first stop signal: same request",
		          strsignal(w->signum));
		signals_seen--;
		return;
	}
	log_warn("%s again: killing every child now", strsignal(w->signum));
	sup_kill_all(&sup);
	if (control)
		control_free(control);
	_exit(EXIT_STARTUP);
}

static void on_control_stat(struct ev_loop *loop, ev_stat *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (control && !sup.shutting_down)
		control_socket_check(control);
}

/*
 * Applies the migrations with viralsup-migrate (beside this binary) as a
 * one-shot child: the supervisor itself links no libpq (issue 14: ~5 MB of
 * resident memory for one use at start). The URL goes through the
 * environment, not argv, where ps would show its password. Each line the
 * child prints is logged. Returns EXIT_OK, EXIT_CONFIG (a malformed URL) or
 * EXIT_STARTUP (cannot connect, a migration failed).
 */
static int run_migrations(const struct sup *s)
{
	char prog[PATH_MAX + 32], line[1024];
	int out[2], st;
	FILE *f;
	snprintf(prog, sizeof prog, "%s/viralsup-migrate", s->exe_dir);
	if (pipe2(out, O_CLOEXEC) < 0) {
		log_error("database migrations: pipe: %s", strerror(errno));
		return EXIT_STARTUP;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("database migrations: fork: %s", strerror(errno));
		close(out[0]);
		close(out[1]);
		return EXIT_STARTUP;
	}
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		setenv("DATABASE_URL", config_str(s->cfg, "database.url"), 1);
		execl(prog, "viralsup-migrate", (char *)NULL);
		dprintf(2, "cannot run %s: %s\n", prog, strerror(errno));
		_exit(EXIT_STARTUP);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		log_info("migrate: %s", line);
	}
	if (f)
		fclose(f);
	else
		close(out[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return EXIT_OK;
	if (WIFEXITED(st) && WEXITSTATUS(st) == EXIT_CONFIG) {
		log_error("database.url (DATABASE_URL) is malformed (see the line above)");
		return EXIT_CONFIG;
	}
	log_error("database migrations failed (viralsup-migrate: %s %d)",
	          WIFEXITED(st) ? "exit" : "signal",
	          WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return EXIT_STARTUP;
}

static void print_children(const struct sup *s)
{
	printf("\n# children, in start order (stopped in reverse)\n");
	for (int i = 0; i < s->nchildren; i++) {
		const struct child *c = s->children[i];
		printf("%-12s restart=%-9s shutdown_timeout_ms=%-6.0f program=", c->name,
		       child_restart_name(c->restart), c->shutdown_timeout * 1e3);
		for (int k = 0; c->argv[k]; k++)
			printf("%s%s", k ? " " : "", c->argv[k]);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	const char *config_path = NULL, *command = NULL;
	char err[1024], path[PATH_MAX], exe[PATH_MAX];
	struct pidfh *pfh;
	pid_t other;
	ssize_t n;

	ensure_std_fds();
	log_init("viralsup");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc) {
			config_path = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			config_path = argv[i] + 9;
		} else if (!strcmp(argv[i], "--version")) {
			printf("viralsup %s\n", VIRALSUP_VERSION);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return EXIT_OK;
		} else if (!command &&
		           (!strcmp(argv[i], "config") || !strcmp(argv[i], "migrate"))) {
			command = argv[i];
		} else {
			fprintf(stderr, "viralsup: unknown argument '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!config_path && getenv("VIRALSUP_CONFIG") && *getenv("VIRALSUP_CONFIG"))
		config_path = getenv("VIRALSUP_CONFIG");
	if (config_path) {
		if (!realpath(config_path, path)) {
			log_error("configuration %s: %s", config_path, strerror(errno));
			return EXIT_CONFIG;
		}
		/* Children read the same file, whatever their working directory. */
		setenv("VIRALSUP_CONFIG", path, 1);
	}
	sup.cfg = config_load(config_path ? path : NULL, err, sizeof err);
	if (!sup.cfg) {
		log_error("configuration: %s", err);
		return EXIT_CONFIG;
	}
	if (log_level_parse(config_str(sup.cfg, "log.level")) >= 0)
		log_set_level((enum log_level)log_level_parse(config_str(sup.cfg, "log.level")));

	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		log_error("cannot find my own binary: %s", strerror(errno));
		return EXIT_STARTUP;
	}
	exe[n] = '\0';
	strlcpy(sup.exe_dir, dirname(exe), sizeof sup.exe_dir);
	if (sup_children_build(&sup, err, sizeof err) < 0) {
		log_error("configuration: %s", err);
		return EXIT_CONFIG;
	}

	if (command && !strcmp(command, "config")) {
		fflush(stdout);
		config_dump(sup.cfg, STDOUT_FILENO);
		print_children(&sup);
		return EXIT_OK;
	}
	if (command && !strcmp(command, "migrate")) {
		if (!*config_str(sup.cfg, "database.url")) {
			log_error("migrate: database.url (DATABASE_URL) is not set");
			return EXIT_CONFIG;
		}
		return run_migrations(&sup);
	}

	if (run_dir_prepare(config_str(sup.cfg, "supervisor.run_dir"), err, sizeof err) < 0) {
		log_error("%s", err);
		return EXIT_CONFIG;
	}
	if (!realpath(config_str(sup.cfg, "supervisor.run_dir"), sup.run_dir)) {
		log_error("run directory: %s", strerror(errno));
		return EXIT_CONFIG;
	}
	/* Actors get the absolute path, whatever the config said. */
	setenv("VIRALSUP_RUN_DIR", sup.run_dir, 1);
	strlcpy(sup.node_id, config_str(sup.cfg, "supervisor.node_id"), sizeof sup.node_id);
	if (!sup.node_id[0] && gethostname(sup.node_id, sizeof sup.node_id - 1) < 0)
		strlcpy(sup.node_id, "node", sizeof sup.node_id);
	setenv("VIRALSUP_NODE_ID", sup.node_id, 1);
	/* GnuTLS comes in only as a dependency of libpq's libldap and curl's
	 * librtmp, neither of which we use, yet its library constructor
	 * initialises it (and p11-kit) in every actor: ~0.8 MB each. A library
	 * that does need it calls gnutls_global_init() itself. */
	setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 1);
	if (getenv("NOTIFY_SOCKET")) {
		/* Ours alone: the actors must not speak to the service manager. */
		strlcpy(notify_path, getenv("NOTIFY_SOCKET"), sizeof notify_path);
		unsetenv("NOTIFY_SOCKET");
	}

	char *pidpath = xasprintf("%s/viralsup.pid", sup.run_dir);
	pfh = pidfile_open(pidpath, 0600, &other);
	if (!pfh) {
		if (errno == EEXIST)
			log_error("another viralsup (pid %d) is running with run directory %s",
			          (int)other, sup.run_dir);
		else
			log_error("pidfile %s: %s", pidpath, strerror(errno));
		free(pidpath);
		return EXIT_STARTUP;
	}
	free(pidpath);
	pidfile_write(pfh);

	if (*config_str(sup.cfg, "database.url") && config_bool(sup.cfg, "supervisor.migrate")) {
		int rc = run_migrations(&sup);
		if (rc != EXIT_OK) {
			pidfile_remove(pfh);
			return rc;
		}
	}

	signal(SIGPIPE, SIG_IGN);
	sup.loop = ev_default_loop(EVFLAG_AUTO);
	sup.started_at = time(NULL);
	sup.ring = logring_new((size_t)config_int(sup.cfg, "supervisor.log_ring"));
	sup.on_all_stopped = on_all_stopped;
	sup.on_child_change = on_child_change;

	ev_signal sigterm, sigint, sighup;
	ev_signal_init(&sigterm, on_signal, SIGTERM);
	ev_signal_init(&sigint, on_signal, SIGINT);
	ev_signal_init(&sighup, on_signal, SIGHUP);
	ev_signal_start(sup.loop, &sigterm);
	ev_signal_start(sup.loop, &sigint);
	ev_signal_start(sup.loop, &sighup);

	char *ctlpath = xasprintf("%s/control.sock", sup.run_dir);
	control = control_new(&sup, ctlpath);
	if (!control) {
		if (errno == EADDRINUSE)
			log_error(
			    "another viralsup serves %s (its pidfile is gone): not starting a "
			    "second one on the same run directory",
			    ctlpath);
		else
			log_error("control socket %s: %s", ctlpath, strerror(errno));
		free(ctlpath);
		pidfile_remove(pfh);
		return EXIT_STARTUP;
	}
	/* A deleted control.sock would leave viralctl locked out: recreate it. */
	ev_stat ctlstat;
	ev_stat_init(&ctlstat, on_control_stat, ctlpath, 1.0);
	ev_stat_start(sup.loop, &ctlstat);
	log_info("viralsup %s started: pid %d, node %s, run directory %s, %d children",
	         VIRALSUP_VERSION, (int)getpid(), sup.node_id, sup.run_dir, sup.nchildren);
	for (int i = 0; i < sup.nchildren; i++)
		child_start(sup.children[i]);
	sup_watchdog_start(&sup);
	if (sup.nchildren == 0)
		on_child_change(&sup, NULL);

	ev_run(sup.loop, 0);

	ev_stat_stop(sup.loop, &ctlstat);
	free(ctlpath);
	/* Children first: their channels may hold forwarded control requests. */
	sup_children_free(&sup);
	control_free(control);
	control = NULL;
	logring_free(sup.ring);
	config_free(sup.cfg);
	pidfile_remove(pfh);
	log_info("stopped");
	return EXIT_OK;
}
