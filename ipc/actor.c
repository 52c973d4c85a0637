/*
 * The actor runtime. See actor.h.
 */
#include "ipc/actor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ipc/log.h"

extern char **environ;

static void parent_on_msg(struct conn *c, const struct msg *m, void *ud)
{
	struct actor *a = ud;
	char name[64] = "", role[32] = "", reason[160] = "";
	int64_t index = 0, pid = 0;
	(void)c;

	switch (m->type) {
	case MSG_PEER_UP:
	case MSG_PEER_DOWN:
		if (msg_copy_str(m->body, "name", name, sizeof name) < 0 ||
		    msg_copy_str(m->body, "role", role, sizeof role) < 0 ||
		    msg_get_int(m->body, "index", &index) < 0) {
			log_warn("ignoring malformed %s from supervisor", msg_type_name(m->type));
			break;
		}
		msg_copy_str(m->body, "reason", reason, sizeof reason);
		msg_get_int(m->body, "pid", &pid);
		if (a->on_peer)
			a->on_peer(a, name, role, (int)index, (int)pid, m->type == MSG_PEER_UP,
			           reason);
		break;
	default:
		if (a->on_parent_msg)
			a->on_parent_msg(a, m);
		else
			log_warn("unexpected %s from supervisor", msg_type_name(m->type));
	}
}

static void begin_stop(struct actor *a, const char *why)
{
	if (a->stopping) {
		/* A second request forces the exit. */
		actor_stop(a, a->exit_code);
		return;
	}
	a->stopping = true;
	log_info("stopping: %s", why);
	if (a->on_stop)
		a->on_stop(a);
	else
		actor_stop(a, 0);
}

static void parent_on_close(struct conn *c, const char *reason, void *ud)
{
	struct actor *a = ud;
	(void)c;
	if (!a->parent)
		return; /* actor_cleanup closing it: a normal exit, nothing to do */
	a->parent = NULL;
	/* The supervisor is gone: nobody will restart or stop us cleanly, so
	 * finish now rather than keep working unsupervised. */
	log_warn("parent channel closed (%s): exiting", reason);
	a->stopping = true;
	if (a->on_stop)
		a->on_stop(a);
	actor_stop(a, 0);
}

static const struct conn_ops parent_ops = {
    .on_msg = parent_on_msg,
    .on_close = parent_on_close,
};

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)loop;
	(void)revents;
	if (w->signum == SIGHUP) {
		log_info("SIGHUP: nothing to reload; ignored");
		return;
	}
	begin_stop(w->data, w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

void actor_init(struct actor *a, const char *role, int argc, char **argv)
{
	const char *env;
	char err[512];
	sigset_t none;

	memset(a, 0, sizeof *a);
	strlcpy(a->role, role, sizeof a->role);
	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--index"))
			a->index = atoi(argv[i + 1]);
	env = getenv("VIRALSUP_ACTOR_NAME");
	strlcpy(a->name, env && *env ? env : role, sizeof a->name);
	log_init(a->name);

	/* Whatever the parent left blocked or ignored is not ours. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Die with the supervisor, even if it is SIGKILLed. The ppid check
	 * closes the race where it died before prctl ran. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	env = getenv("VIRALSUP_SUPERVISOR_PID");
	if (env && atoi(env) != getppid()) {
		log_warn("supervisor already gone: exiting");
		exit(0);
	}

	setproctitle_init(argc, argv, environ);
	setproctitle("-viralsup: %s", a->name);
	prctl(PR_SET_NAME, a->name);

	a->config = config_load(getenv("VIRALSUP_CONFIG"), err, sizeof err);
	if (!a->config) {
		log_error("configuration: %s", err);
		exit(EXIT_PERMANENT);
	}
	if (log_level_parse(config_str(a->config, "log.level")) >= 0)
		log_set_level((enum log_level)log_level_parse(config_str(a->config, "log.level")));
	strlcpy(a->run_dir, config_str(a->config, "supervisor.run_dir"), sizeof a->run_dir);

	a->loop = ev_default_loop(EVFLAG_AUTO);
	ev_signal_init(&a->sigterm, on_signal, SIGTERM);
	ev_signal_init(&a->sigint, on_signal, SIGINT);
	ev_signal_init(&a->sighup, on_signal, SIGHUP);
	a->sigterm.data = a->sigint.data = a->sighup.data = a;
	ev_signal_start(a->loop, &a->sigterm);
	ev_signal_start(a->loop, &a->sigint);
	ev_signal_start(a->loop, &a->sighup);

	env = getenv("VIRALSUP_PARENT_FD");
	if (env && *env) {
		int fd = atoi(env);
		a->parent = conn_new(a->loop, fd, "supervisor", &parent_ops, a);
		conn_set_limits(a->parent, (uint32_t)config_int(a->config, "ipc.max_frame"), 0);
	}
}

void actor_ready(struct actor *a)
{
	struct msg_out out;
	if (!a->parent)
		return;
	msg_out_init(&out, MSG_READY, 0, 2);
	msg_put_str(&out, "name", a->name);
	msg_put_int(&out, "pid", getpid());
	conn_send(a->parent, &out);
	msg_out_free(&out);
}

void actor_offer_slots(const struct actor *a, struct conn *c, int slots)
{
	struct msg_out out;
	msg_out_init(&out, MSG_CREDIT, 0, 3);
	msg_put_str(&out, "name", a->name);
	msg_put_str(&out, "role", a->role);
	msg_put_int(&out, "slots", slots);
	conn_send(c, &out);
	msg_out_free(&out);
}

int actor_run(struct actor *a)
{
	ev_run(a->loop, 0);
	return a->exit_code;
}

void actor_stop(struct actor *a, int code)
{
	a->exit_code = code;
	ev_break(a->loop, EVBREAK_ALL);
}

char *actor_socket_path(const struct actor *a, const char *name)
{
	return xasprintf("%s/%s.sock", a->run_dir, name);
}

void actor_cleanup(struct actor *a)
{
	if (a->parent) {
		struct conn *p = a->parent;
		a->parent = NULL;
		conn_set_userdata(p, a);
		conn_close(p, "actor exiting");
	}
	config_free(a->config);
	a->config = NULL;
}
