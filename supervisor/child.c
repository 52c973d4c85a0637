/*
 * Children: specs, spawn, readiness, exit handling, restart policy and
 * the ordered shutdown. See child.h for the state machine.
 */
#include "supervisor/child.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/actor.h"
#include "ipc/log.h"
#include "supervisor/control.h"

static const char *const state_names[] = {"stopped",     "starting", "ready",
                                          "backing-off", "failed",   "stopping"};
static const char *const restart_names[] = {"permanent", "transient", "temporary"};

const char *child_state_name(enum child_state st)
{
	return st <= CHILD_STOPPING ? state_names[st] : "?";
}

const char *child_restart_name(enum child_restart r)
{
	return r <= RESTART_TEMPORARY ? restart_names[r] : "?";
}

static void child_changed(struct child *c)
{
	if (c->sup->on_child_change)
		c->sup->on_child_change(c->sup, c);
}

/* --- specs -------------------------------------------------------------- */

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 31)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_' &&
		    *s != '-')
			return false;
	return true;
}

/* Splits program ("name --flag value") on blanks into argv, resolving the
 * program next to the viralsup binary unless it is absolute. */
static char **build_argv(const struct sup *s, const char *program, bool pooled, int index)
{
	char *copy = xstrdup(program), *save = NULL;
	char **argv = xcalloc(64 + 3, sizeof *argv);
	int n = 0;

	for (char *tok = strtok_r(copy, " \t", &save); tok && n < 64;
	     tok = strtok_r(NULL, " \t", &save)) {
		if (n == 0 && tok[0] != '/')
			argv[n++] = xasprintf("%s/%s", s->exe_dir, tok);
		else
			argv[n++] = xstrdup(tok);
	}
	if (pooled) {
		argv[n++] = xstrdup("--index");
		argv[n++] = xasprintf("%d", index);
	}
	free(copy);
	return argv;
}

static void add_child(struct sup *s, const char *role, const char *program, int count, bool pooled,
                      enum child_restart restart, long shutdown_ms)
{
	long intensity = config_int(s->cfg, "supervisor.intensity");
	for (int i = 0; i < count; i++) {
		struct child *c = xcalloc(1, sizeof *c);
		c->sup = s;
		strlcpy(c->role, role, sizeof c->role);
		if (pooled)
			snprintf(c->name, sizeof c->name, "%s[%d]", role, i);
		else
			strlcpy(c->name, role, sizeof c->name);
		c->index = pooled ? i : 0;
		c->pooled = pooled;
		c->argv = build_argv(s, program, pooled, i);
		c->restart = restart;
		c->shutdown_timeout = shutdown_ms / 1000.0;
		c->state = CHILD_STOPPED;
		c->errfd = -1;
		c->last_code = c->last_signal = -1;
		c->backoff = config_int(s->cfg, "supervisor.backoff_initial_ms") / 1000.0;
		c->window_len = (int)intensity + 1;
		c->window = xcalloc((size_t)c->window_len, sizeof *c->window);
		ev_init(&c->timer, NULL);
		c->timer.data = c;
		s->children = xrealloc(s->children, (size_t)(s->nchildren + 1) * sizeof c);
		s->children[s->nchildren++] = c;
	}
}

int sup_children_build(struct sup *s, char *err, size_t errlen)
{
	const struct config *cfg = s->cfg;
	long def_shutdown = config_int(cfg, "supervisor.shutdown_timeout_ms");
	int n = config_child_count(cfg);

	if (n == 0) {
		/* Those others connect to first; the gateway last, so HTTP is
		 * served only once the rest is up, and it stops first. */
		int fetchers = (int)config_int(cfg, "supervisor.fetchers");
		add_child(s, "writer", "viralsup-writer", 1, false, RESTART_PERMANENT,
		          def_shutdown);
		add_child(s, "scheduler", "viralsup-scheduler", 1, false, RESTART_PERMANENT,
		          def_shutdown);
		add_child(s, "fetcher", "viralsup-fetcher", fetchers, true, RESTART_PERMANENT,
		          def_shutdown);
		add_child(s, "analyzer", "viralsup-analyzer", 1, false, RESTART_PERMANENT,
		          def_shutdown);
		add_child(s, "gateway", "viralsup-gateway", 1, false, RESTART_PERMANENT,
		          def_shutdown);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const char *name = config_child_name(cfg, i);
		const char *program = config_child_get(cfg, i, "program");
		const char *count_s = config_child_get(cfg, i, "count");
		const char *restart_s = config_child_get(cfg, i, "restart");
		const char *timeout_s = config_child_get(cfg, i, "shutdown_timeout_ms");
		enum child_restart restart = RESTART_PERMANENT;
		long count = 1, shutdown_ms = def_shutdown;
		char *end;

		if (!valid_name(name)) {
			snprintf(err, errlen,
			         "[child %s]: a name is 1-31 characters of a-z, 0-9, _ and -",
			         name);
			return -EINVAL;
		}
		if (!program || !*program || strspn(program, " \t") == strlen(program)) {
			snprintf(err, errlen, "[child %s]: program is required", name);
			return -EINVAL;
		}
		if (count_s) {
			count = strtol(count_s, &end, 10);
			if (*end || end == count_s || count < 1 || count > 64) {
				snprintf(err, errlen, "[child %s]: count must be 1..64, not \"%s\"",
				         name, count_s);
				return -EINVAL;
			}
		}
		if (restart_s) {
			int k;
			for (k = 0; k < 3 && strcmp(restart_s, restart_names[k]); k++)
				;
			if (k == 3) {
				snprintf(err, errlen,
				         "[child %s]: restart must be permanent, transient or "
				         "temporary, not \"%s\"",
				         name, restart_s);
				return -EINVAL;
			}
			restart = (enum child_restart)k;
		}
		if (timeout_s) {
			shutdown_ms = strtol(timeout_s, &end, 10);
			if (*end || end == timeout_s || shutdown_ms < 10 || shutdown_ms > 600000) {
				snprintf(err, errlen,
				         "[child %s]: shutdown_timeout_ms must be 10..600000, not "
				         "\"%s\"",
				         name, timeout_s);
				return -EINVAL;
			}
		}
		for (int j = 0; j < i; j++)
			if (!strcmp(config_child_name(cfg, j), name)) {
				snprintf(err, errlen, "[child %s] declared twice", name);
				return -EINVAL;
			}
		add_child(s, name, program, (int)count, count_s != NULL, restart, shutdown_ms);
	}
	return 0;
}

void sup_children_free(struct sup *s)
{
	for (int i = 0; i < s->nchildren; i++) {
		struct child *c = s->children[i];
		ev_timer_stop(s->loop, &c->timer);
		ev_child_stop(s->loop, &c->cw);
		if (c->errfd >= 0) {
			ev_io_stop(s->loop, &c->errw);
			close(c->errfd);
		}
		if (c->chan)
			conn_close(c->chan, "supervisor exiting");
		for (int k = 0; c->argv[k]; k++)
			free(c->argv[k]);
		free(c->argv);
		free(c->window);
		free(c->stats);
		free(c);
	}
	free(s->children);
	s->children = NULL;
	s->nchildren = 0;
}

struct child *sup_child_find(struct sup *s, const char *name)
{
	for (int i = 0; i < s->nchildren; i++)
		if (!strcmp(s->children[i]->name, name))
			return s->children[i];
	return NULL;
}

/* --- peer notifications -------------------------------------------------- */

static void peer_send(struct child *to, enum msg_type type, const struct child *about, pid_t pid,
                      const char *reason)
{
	struct msg_out out;
	if (!to->chan)
		return;
	msg_out_init(&out, type, 0, 5);
	msg_put_str(&out, "name", about->name);
	msg_put_str(&out, "role", about->role);
	msg_put_int(&out, "index", about->index);
	msg_put_int(&out, "pid", pid);
	msg_put_str(&out, "reason", reason);
	if (conn_send(to->chan, &out) < 0)
		log_warn("could not tell %s that %s is %s", to->name, about->name,
		         type == MSG_PEER_UP ? "up" : "down");
	msg_out_free(&out);
}

/* Tells every ready child (but about itself) that about went up or down. */
static void peer_broadcast(struct child *about, enum msg_type type, pid_t pid, const char *reason)
{
	struct sup *s = about->sup;
	for (int i = 0; i < s->nchildren; i++) {
		struct child *to = s->children[i];
		if (to != about && to->state == CHILD_READY)
			peer_send(to, type, about, pid, reason);
	}
}

/* --- channel and stderr ------------------------------------------------- */

/* Keeps a copy of the figures an actor sends in its PONGs (its provider
 * counters, conn_set_pong_stats), for status. */
static void child_keep_stats(struct child *c, const msgpack_object *st)
{
	if (!st)
		return;
	bool map = st->type == MSGPACK_OBJECT_MAP;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (map)
		msgpack_pack_object(&pk, *st);
	if (map && sb.size <= CHILD_STATS_MAX) {
		free(c->stats);
		c->stats = xmalloc(sb.size);
		memcpy(c->stats, sb.data, sb.size);
		c->stats_len = sb.size;
	} else if (!c->stats_refused) {
		/* One warning per process, not one per PONG; status keeps the last
		 * stats accepted. */
		if (map)
			log_warn("%s: the stats of its PONG take %zu bytes, over %d: ignored "
			         "(status keeps the last ones accepted)",
			         c->name, sb.size, CHILD_STATS_MAX);
		else
			log_warn("%s: the stats of its PONG are not a map: ignored", c->name);
		c->stats_refused = true;
	}
	msgpack_sbuffer_destroy(&sb);
}

static void chan_on_msg(struct conn *conn, const struct msg *m, void *ud)
{
	struct child *c = ud;
	struct sup *s = c->sup;
	int64_t pid = 0;
	(void)conn;

	c->heard_at = ev_now(s->loop);
	if (c->unresponsive) {
		c->unresponsive = false;
		log_info("%s answers again", c->name);
		child_changed(c);
	}

	switch (m->type) {
	case MSG_READY:
		if (c->state != CHILD_STARTING)
			break;
		msg_get_int(m->body, "pid", &pid);
		if (pid != c->pid)
			log_warn("%s says it is pid %lld, but it is pid %d", c->name,
			         (long long)pid, (int)c->pid);
		ev_timer_stop(s->loop, &c->timer);
		c->state = CHILD_READY;
		c->ready_at = ev_now(s->loop);
		c->unresponsive = false;
		log_info("%s ready (pid %d, %.1f ms after spawn)", c->name, (int)c->pid,
		         (c->ready_at - c->spawned_at) * 1e3);
		peer_broadcast(c, MSG_PEER_UP, c->pid, "ready");
		/* The newcomer learns who is already up. */
		for (int i = 0; i < s->nchildren; i++) {
			struct child *o = s->children[i];
			if (o != c && o->state == CHILD_READY)
				peer_send(c, MSG_PEER_UP, o, o->pid, "ready");
		}
		child_changed(c);
		break;
	case MSG_PONG:
		child_keep_stats(c, msg_field(m->body, "stats"));
		break;
	case MSG_CONTROL:
		control_answer_child(c, conn, m);
		break;
	default:
		log_warn("unexpected %s from %s: ignored", msg_type_name(m->type), c->name);
	}
}

static void chan_on_close(struct conn *conn, const char *reason, void *ud)
{
	struct child *c = ud;
	(void)conn;
	if (c->chan && c->pid && c->state != CHILD_STOPPING)
		log_debug("channel to %s closed: %s", c->name, reason);
	c->chan = NULL;
}

static const struct conn_ops chan_ops = {
    .on_msg = chan_on_msg,
    .on_close = chan_on_close,
};

/* Reads what the child wrote; returns false at EOF or error (pipe done). */
static bool err_drain(struct child *c)
{
	char buf[16384];
	for (int round = 0; round < 64; round++) {
		ssize_t n = read(c->errfd, buf, sizeof buf);
		if (n > 0) {
			logcap_feed(&c->log, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		return n < 0 && errno == EAGAIN;
	}
	return true;
}

static void err_close(struct child *c)
{
	if (c->errfd < 0)
		return;
	ev_io_stop(c->sup->loop, &c->errw);
	close(c->errfd);
	c->errfd = -1;
	logcap_flush(&c->log);
}

static void on_err_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct child *c = w->data;
	(void)loop;
	(void)revents;
	if (!err_drain(c))
		err_close(c);
}

/* --- spawn --------------------------------------------------------------- */

static void on_child_exit(struct ev_loop *loop, ev_child *w, int revents);
static void on_timer(struct ev_loop *loop, ev_timer *w, int revents);

/*
 * The child's environment: the supervisor's, with VIRALSUP_PARENT_FD,
 * VIRALSUP_ACTOR_NAME and VIRALSUP_SUPERVISOR_PID set for it. The array and
 * the three strings it adds are owned by the caller (child_environ_free);
 * the rest point into environ.
 */
static const char *const child_vars[] = {
    "VIRALSUP_PARENT_FD=", "VIRALSUP_ACTOR_NAME=", "VIRALSUP_SUPERVISOR_PID="};
enum { CHILD_VARS = sizeof child_vars / sizeof child_vars[0] };

static char **child_environ(const struct child *c, pid_t sup_pid)
{
	size_t n = 0, k = CHILD_VARS;
	while (environ[n])
		n++;
	char **env = xcalloc(n + CHILD_VARS + 1, sizeof *env);
	env[0] = xasprintf("%s3", child_vars[0]);
	env[1] = xasprintf("%s%s", child_vars[1], c->name);
	env[2] = xasprintf("%s%d", child_vars[2], (int)sup_pid);
	for (size_t i = 0; i < n; i++) {
		bool ours = false;
		for (size_t v = 0; v < CHILD_VARS && !ours; v++)
			ours = !strncmp(environ[i], child_vars[v], strlen(child_vars[v]));
		if (!ours)
			env[k++] = environ[i];
	}
	return env;
}

static void child_environ_free(char **env)
{
	for (size_t v = 0; v < CHILD_VARS; v++)
		free(env[v]);
	free(env);
}

/*
 * Start the program with a clean slate: signal mask empty, every disposition
 * back to default, its own process group (a terminal's Ctrl-C reaches the
 * supervisor only, which then stops the children in order), stdin /dev/null,
 * stdout and stderr to err_fd, its channel on fd 3, every other fd closed.
 * posix_spawn, not fork: no copy of the supervisor's page tables and no
 * copy-on-write faults after it, a third of a restart's time (D27). Returns
 * the pid, or -errno from the spawn or from the exec.
 */
static pid_t child_exec(const struct child *c, int chan_fd, int err_fd, pid_t sup_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	pid_t pid = -1;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                                    POSIX_SPAWN_SETPGROUP);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 1);
	posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	/* Same fd: clears its close-on-exec (glibc >= 2.29, Austin Group #411). */
	posix_spawn_file_actions_adddup2(&fa, chan_fd, 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	char **env = child_environ(c, sup_pid);
	int r = posix_spawn(&pid, c->argv[0], &fa, &attr, c->argv, env);
	child_environ_free(env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return r ? -r : pid;
}

/*
 * A program that cannot be executed (missing, not executable, not a
 * program) will not run a moment later either: failed, without a crash loop.
 * A lack of processes, descriptors or memory may pass: try again after the
 * longest backoff.
 */
static void child_spawn_failed(struct child *c, int r)
{
	if (r == -EAGAIN || r == -ENOMEM || r == -EMFILE || r == -ENFILE) {
		double delay = config_int(c->sup->cfg, "supervisor.backoff_max_ms") / 1e3;
		log_error("%s: cannot spawn: %s: trying again in %.0f ms", c->name, strerror(-r),
		          delay * 1e3);
		c->state = CHILD_BACKOFF;
		ev_timer_init(&c->timer, on_timer, delay, 0);
		c->timer.data = c;
		ev_timer_start(c->sup->loop, &c->timer);
	} else {
		log_error("%s: cannot run %s: %s: marked failed", c->name, c->argv[0],
		          strerror(-r));
		c->state = CHILD_FAILED;
		snprintf(c->last_reason, sizeof c->last_reason, "cannot run program");
	}
	child_changed(c);
}

static int child_spawn(struct child *c)
{
	struct sup *s = c->sup;
	int sv[2] = {-1, -1}, ep[2] = {-1, -1}, r;
	pid_t pid, me = getpid();

	if (c->pid)
		return -EBUSY;
	ev_timer_stop(s->loop, &c->timer);
	if ((r = conn_socketpair(sv)) < 0)
		goto fail;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		r = -errno;
		goto fail;
	}
	pid = child_exec(c, sv[1], ep[1], me);
	if (pid < 0) {
		r = (int)pid;
		goto fail;
	}
	close(sv[1]);
	close(ep[1]);

	c->pid = pid;
	c->state = CHILD_STARTING;
	c->spawned_at = ev_now(s->loop);
	c->ready_at = 0;
	c->ready_timed_out = false;
	c->killed_on_stop = false;
	c->hung_kill = false;
	c->unresponsive = false;
	c->chan = conn_new(s->loop, sv[0], c->name, &chan_ops, c);
	conn_set_limits(c->chan, (uint32_t)config_int(s->cfg, "ipc.max_frame"), 0);
	c->errfd = ep[0];
	fcntl(c->errfd, F_SETFL, fcntl(c->errfd, F_GETFL) | O_NONBLOCK);
	logcap_init(&c->log, c->name, s->ring, STDERR_FILENO);
	ev_io_init(&c->errw, on_err_readable, c->errfd, EV_READ);
	c->errw.data = c;
	ev_io_start(s->loop, &c->errw);
	ev_child_init(&c->cw, on_child_exit, pid, 0);
	c->cw.data = c;
	ev_child_start(s->loop, &c->cw);
	ev_timer_init(&c->timer, on_timer, config_int(s->cfg, "supervisor.ready_timeout_ms") / 1e3,
	              0);
	c->timer.data = c;
	ev_timer_start(s->loop, &c->timer);
	log_debug("%s spawned: pid %d", c->name, (int)pid);
	child_changed(c);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (ep[i] >= 0)
			close(ep[i]);
	}
	child_spawn_failed(c, r);
	return r;
}

int child_start(struct child *c)
{
	/* An operator's start is a fresh chance: forget past crashes. */
	c->admin_stopped = false;
	c->restart_pending = false;
	memset(c->window, 0, (size_t)c->window_len * sizeof *c->window);
	c->backoff = config_int(c->sup->cfg, "supervisor.backoff_initial_ms") / 1000.0;
	if (c->pid)
		return 0;
	return child_spawn(c);
}

int child_restarts_in_window(const struct child *c)
{
	ev_tstamp since =
	    ev_now(c->sup->loop) - config_int(c->sup->cfg, "supervisor.period_ms") / 1e3;
	int n = 0;
	for (int i = 0; i < c->window_len; i++)
		if (c->window[i] > 0 && c->window[i] >= since)
			n++;
	return n;
}

static void shutdown_continue(struct sup *s);

/* After an exit: restart now-ish, mark failed, or stay down. */
static void child_decide(struct child *c, int status)
{
	struct sup *s = c->sup;
	const struct config *cfg = s->cfg;
	bool normal = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !c->ready_timed_out;

	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_PERMANENT) {
		c->state = CHILD_FAILED;
		log_error("%s exited with %d (permanent failure): not restarting", c->name,
		          EXIT_PERMANENT);
		return;
	}
	if (c->restart == RESTART_TEMPORARY || (c->restart == RESTART_TRANSIENT && normal)) {
		c->state = CHILD_STOPPED;
		log_info("%s (%s) exited: not restarting", c->name, child_restart_name(c->restart));
		return;
	}

	ev_tstamp now = ev_now(s->loop);
	/* The intensity limit is for a child that crashes by itself (a fault, an
	 * exit code, no READY in time). A SIGKILL comes from outside (an operator,
	 * the OOM killer, the watchdog, chaos): restarted with backoff, but it
	 * never marks the child failed, so a burst of such kills at the default
	 * settings cannot leave the node without an actor. */
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && !c->ready_timed_out)) {
		c->window[c->window_pos] = now;
		c->window_pos = (c->window_pos + 1) % c->window_len;
	}
	int in_window = child_restarts_in_window(c);
	long intensity = config_int(cfg, "supervisor.intensity");
	if (in_window > intensity) {
		c->state = CHILD_FAILED;
		log_error("%s: %d restarts within %ld ms (limit %ld): marked failed, not "
		          "restarting",
		          c->name, in_window, config_int(cfg, "supervisor.period_ms"), intensity);
		return;
	}

	double initial = config_int(cfg, "supervisor.backoff_initial_ms") / 1e3;
	double max = config_int(cfg, "supervisor.backoff_max_ms") / 1e3;
	/* A child that had been ready for twice its next delay (four times the
	 * last one) was not crash-looping: it worked, then died. It restarts
	 * from the initial delay, so a kill costs milliseconds, not the capped
	 * backoff (the chaos test, a SIGKILL every 100-300 ms, otherwise kept
	 * every actor in a 5 s backoff). Children dying as they start still
	 * back off; the intensity limit still catches a fast crash loop. */
	if (c->ready_at > 0 &&
	    (now - c->ready_at >= config_int(cfg, "supervisor.stable_after_ms") / 1e3 ||
	     now - c->ready_at >= 2 * c->backoff))
		c->backoff = initial;
	double delay = c->backoff;
	c->backoff = c->backoff * 2 > max ? max : c->backoff * 2;
	c->restarts_total++;
	c->state = CHILD_BACKOFF;
	log_info("%s restarting in %.0f ms (restart %u, %d in window)", c->name, delay * 1e3,
	         c->restarts_total, in_window);
	ev_timer_init(&c->timer, on_timer, delay, 0);
	c->timer.data = c;
	ev_timer_start(s->loop, &c->timer);
}

static void on_child_exit(struct ev_loop *loop, ev_child *w, int revents)
{
	struct child *c = w->data;
	struct sup *s = c->sup;
	int status = w->rstatus;
	pid_t pid = c->pid;
	bool was_stopping = c->state == CHILD_STOPPING;
	(void)revents;

	ev_child_stop(loop, w);
	ev_timer_stop(loop, &c->timer);
	c->pid = 0;
	free(c->stats);
	c->stats = NULL;
	c->stats_refused = false;
	/* Whatever it wrote before dying is logged before its exit. */
	if (c->errfd >= 0) {
		err_drain(c);
		err_close(c);
	}
	if (c->chan) {
		struct conn *ch = c->chan;
		c->chan = NULL;
		conn_close(ch, "child exited");
	}

	c->has_exit = true;
	c->last_exit_at = time(NULL);
	c->last_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	c->last_signal = WIFSIGNALED(status) ? WTERMSIG(status) : -1;
	c->unresponsive = false;
	if (c->hung_kill)
		snprintf(c->last_reason, sizeof c->last_reason, "hung (no answer in %ld ms)",
		         config_int(s->cfg, "supervisor.watchdog_ms"));
	else if (c->ready_timed_out)
		snprintf(c->last_reason, sizeof c->last_reason, "not ready in time");
	else if (WIFSIGNALED(status))
		snprintf(c->last_reason, sizeof c->last_reason, "signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
	else
		snprintf(c->last_reason, sizeof c->last_reason, "exit %d", WEXITSTATUS(status));

	bool expected = was_stopping || s->shutting_down;
	c->state = CHILD_STOPPED; /* until decided below; not ready for broadcasts */
	if (expected)
		log_info("%s (pid %d) stopped: %s", c->name, (int)pid, c->last_reason);
	else
		log_warn("%s (pid %d) exited: %s", c->name, (int)pid, c->last_reason);
	peer_broadcast(c, MSG_PEER_DOWN, pid, c->last_reason);

	if (s->shutting_down) {
		child_changed(c);
		shutdown_continue(s);
		return;
	}
	if (was_stopping) {
		if (c->restart_pending) {
			c->restart_pending = false;
			child_spawn(c);
		}
		child_changed(c);
		return;
	}
	child_decide(c, status);
	child_changed(c);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct child *c = w->data;
	(void)loop;
	(void)revents;
	switch (c->state) {
	case CHILD_STARTING:
		log_warn("%s (pid %d) not ready within %ld ms: killing it", c->name, (int)c->pid,
		         config_int(c->sup->cfg, "supervisor.ready_timeout_ms"));
		c->ready_timed_out = true;
		kill(c->pid, SIGKILL);
		break;
	case CHILD_BACKOFF:
		child_spawn(c);
		break;
	case CHILD_STOPPING:
		log_warn("%s (pid %d) did not stop within %.0f ms: SIGKILL", c->name, (int)c->pid,
		         c->shutdown_timeout * 1e3);
		c->killed_on_stop = true;
		kill(c->pid, SIGKILL);
		break;
	default:
		break;
	}
}

/* --- watchdog ------------------------------------------------------------ */

const char *child_status_name(const struct child *c)
{
	return c->state == CHILD_READY && c->unresponsive ? "unresponsive"
	                                                  : child_state_name(c->state);
}

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct sup *s = w->data;
	double limit = config_int(s->cfg, "supervisor.watchdog_ms") / 1e3;
	ev_tstamp now = ev_now(loop);
	(void)revents;
	if (s->shutting_down)
		return;
	/* A tick far behind time means the supervisor itself was stopped or
	 * starved: the answers of children that were answering until then are
	 * still unread in their sockets, so their silence is ours, not theirs. */
	ev_tstamp last = s->watchdog_at;
	bool we_stalled = now - last > 1.5 * w->repeat;
	s->watchdog_at = now;
	for (int i = 0; i < s->nchildren; i++) {
		struct child *c = s->children[i];
		if (c->state != CHILD_READY || !c->chan || c->hung_kill)
			continue;
		if (we_stalled && c->heard_at >= last - w->repeat)
			c->heard_at = now;
		double silent = now - c->heard_at;
		if (silent >= limit) {
			log_error("%s (pid %d) hung: no answer for %.0f ms: SIGKILL", c->name,
			          (int)c->pid, silent * 1e3);
			c->hung_kill = true;
			c->hangs_total++;
			kill(c->pid, SIGKILL);
			continue;
		}
		if (silent >= 2 * w->repeat && !c->unresponsive) {
			c->unresponsive = true;
			log_warn("%s (pid %d) unresponsive for %.0f ms", c->name, (int)c->pid,
			         silent * 1e3);
			child_changed(c);
		}
		struct msg_out out;
		msg_out_init(&out, MSG_PING, 0, 0);
		conn_send(c->chan, &out); /* a full buffer: it is not reading, no answer comes */
		msg_out_free(&out);
	}
}

void sup_watchdog_start(struct sup *s)
{
	double interval = config_int(s->cfg, "supervisor.watchdog_ms") / 5e3;
	ev_timer_init(&s->watchdog, on_watchdog, interval, interval);
	s->watchdog.data = s;
	s->watchdog_at = ev_now(s->loop);
	ev_timer_start(s->loop, &s->watchdog);
}

/* --- stop, restart, kill ------------------------------------------------ */

void child_stop(struct child *c)
{
	struct sup *s = c->sup;
	c->admin_stopped = true;
	switch (c->state) {
	case CHILD_STARTING:
	case CHILD_READY:
		c->state = CHILD_STOPPING;
		kill(c->pid, SIGTERM);
		ev_timer_stop(s->loop, &c->timer);
		ev_timer_init(&c->timer, on_timer, c->shutdown_timeout, 0);
		c->timer.data = c;
		ev_timer_start(s->loop, &c->timer);
		child_changed(c);
		break;
	case CHILD_BACKOFF:
		ev_timer_stop(s->loop, &c->timer);
		c->state = CHILD_STOPPED;
		child_changed(c);
		break;
	default:
		break;
	}
}

void child_restart(struct child *c)
{
	if (c->pid) {
		child_stop(c);
		c->restart_pending = true;
		return;
	}
	child_start(c);
}

int child_kill(struct child *c)
{
	pid_t pid = c->pid;
	if (!pid)
		return -ESRCH;
	if (kill(pid, SIGKILL) < 0)
		return -errno;
	return pid;
}

/* --- shutdown ----------------------------------------------------------- */

static void shutdown_continue(struct sup *s)
{
	while (s->shutdown_next >= 0) {
		struct child *c = s->children[s->shutdown_next];
		if (c->pid) {
			if (c->state != CHILD_STOPPING)
				child_stop(c);
			return; /* its exit brings us back here */
		}
		s->shutdown_next--;
	}
	if (s->on_all_stopped)
		s->on_all_stopped(s);
}

void sup_shutdown(struct sup *s)
{
	if (s->shutting_down)
		return;
	s->shutting_down = true;
	for (int i = 0; i < s->nchildren; i++) {
		struct child *c = s->children[i];
		if (c->state == CHILD_BACKOFF) {
			ev_timer_stop(s->loop, &c->timer);
			c->state = CHILD_STOPPED;
		}
	}
	s->shutdown_next = s->nchildren - 1;
	shutdown_continue(s);
}

void sup_kill_all(struct sup *s)
{
	for (int i = 0; i < s->nchildren; i++)
		if (s->children[i]->pid)
			kill(s->children[i]->pid, SIGKILL);
}

long proc_rss_kb(pid_t pid)
{
	char path[64];
	long size, resident;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	int n = fscanf(f, "%ld %ld", &size, &resident);
	fclose(f);
	if (n != 2)
		return -1;
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
