/*
 * Control socket commands. See control.h.
 */
#include "supervisor/control.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc/log.h"

/* How long a forwarded command may take in the scheduler. */
#define FORWARD_TIMEOUT_S 10.0

struct client {
	struct control *ctl;
	struct conn *conn; /* NULL once closed */
	struct client *next;
};

struct forward {
	struct control *ctl;
	struct client *client; /* NULL when the client went away */
	struct child *asker;   /* or the actor that asked (control_answer_child) */
	pid_t asker_pid;       /* the asker's process then: a restarted one gets nothing */
	uint64_t re;
	struct forward *next;
};

struct control {
	struct sup *sup;
	char *path; /* of control.sock */
	struct listener *listener;
	struct client *clients;
	struct forward *forwards;
};

/* The supervisor's one control socket, for the requests actors make on
 * their channels (control_answer_child). */
static struct control *the_control;

typedef void (*pack_fn)(msgpack_packer *pk, void *arg);

static void reply(struct conn *c, uint64_t re, bool ok, const char *code, const char *error,
                  pack_fn data, void *arg)
{
	struct msg_out out;
	msg_out_init(&out, MSG_CONTROL_REPLY, re, 4);
	msg_put_bool(&out, "ok", ok);
	msg_put_str(&out, "error", error);
	msg_put_str(&out, "code", code);
	msg_put_key(&out, "data");
	if (data)
		data(&out.pk, arg);
	else
		msgpack_pack_nil(&out.pk);
	if (conn_send(c, &out) < 0)
		log_warn("control: could not send a reply to %s", conn_peer(c));
	msg_out_free(&out);
}

static void reply_err(struct conn *c, uint64_t re, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reply_err(struct conn *c, uint64_t re, const char *code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	reply(c, re, false, code, msg, NULL, NULL);
}

static void pack_kstr(msgpack_packer *pk, const char *k, const char *v)
{
	msg_pack_str(pk, k);
	if (v)
		msg_pack_str(pk, v);
	else
		msgpack_pack_nil(pk);
}

static void pack_kint(msgpack_packer *pk, const char *k, int64_t v)
{
	msg_pack_str(pk, k);
	msgpack_pack_int64(pk, v);
}

/* --- status --------------------------------------------------------------- */

static void pack_child(msgpack_packer *pk, const struct child *c)
{
	struct ev_loop *loop = c->sup->loop;
	bool running = c->pid > 0;

	msgpack_pack_map(pk, 14);
	pack_kstr(pk, "name", c->name);
	pack_kstr(pk, "role", c->role);
	pack_kint(pk, "index", c->index);
	msg_pack_str(pk, "pid");
	if (running)
		msgpack_pack_int64(pk, c->pid);
	else
		msgpack_pack_nil(pk);
	pack_kstr(pk, "state", child_status_name(c));
	pack_kstr(pk, "restart", child_restart_name(c->restart));
	msg_pack_str(pk, "uptime_s");
	msgpack_pack_double(pk, running ? ev_now(loop) - c->spawned_at : 0.0);
	pack_kint(pk, "restarts_total", c->restarts_total);
	pack_kint(pk, "restarts_in_window", child_restarts_in_window(c));
	pack_kint(pk, "hangs_total", c->hangs_total);
	msg_pack_str(pk, "last_exit");
	if (c->has_exit) {
		msgpack_pack_map(pk, 3);
		pack_kint(pk, c->last_signal >= 0 ? "signal" : "code",
		          c->last_signal >= 0 ? c->last_signal : c->last_code);
		pack_kint(pk, "at", c->last_exit_at);
		pack_kstr(pk, "reason", c->last_reason);
	} else if (c->state == CHILD_FAILED && c->last_reason[0]) {
		msgpack_pack_map(pk, 1);
		pack_kstr(pk, "reason", c->last_reason);
	} else {
		msgpack_pack_nil(pk);
	}
	msg_pack_str(pk, "rss_kb");
	long rss = running ? proc_rss_kb(c->pid) : -1;
	if (rss >= 0)
		msgpack_pack_int64(pk, rss);
	else
		msgpack_pack_nil(pk);
	msg_pack_str(pk, "ready");
	if (c->state == CHILD_READY && !c->unresponsive)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	/* The actor's own figures from its last PONG, one msgpack value as
	 * it sent it (child_keep_stats re-packed it whole). */
	msg_pack_str(pk, "stats");
	if (c->stats && running)
		pk->callback(pk->data, c->stats, c->stats_len);
	else
		msgpack_pack_nil(pk);
}

static void pack_status(msgpack_packer *pk, void *arg)
{
	struct sup *s = arg;
	msgpack_pack_map(pk, 7);
	pack_kstr(pk, "node", s->node_id);
	pack_kstr(pk, "version", VIRALSUP_VERSION);
	pack_kint(pk, "pid", getpid());
	pack_kint(pk, "started_at", s->started_at);
	pack_kstr(pk, "run_dir", s->run_dir);
	msg_pack_str(pk, "rss_kb");
	msgpack_pack_int64(pk, proc_rss_kb(getpid()));
	msg_pack_str(pk, "children");
	msgpack_pack_array(pk, (size_t)s->nchildren);
	for (int i = 0; i < s->nchildren; i++)
		pack_child(pk, s->children[i]);
}

/* --- actor commands --------------------------------------------------------- */

/* The children a command names: one by exact name, or a whole pool by role. */
static int select_children(struct sup *s, const char *name, struct child **out, int max)
{
	int n = 0;
	struct child *c = sup_child_find(s, name);
	if (c) {
		out[0] = c;
		return 1;
	}
	for (int i = 0; i < s->nchildren && n < max; i++)
		if (!strcmp(s->children[i]->role, name))
			out[n++] = s->children[i];
	return n;
}

struct selection {
	struct child **list;
	int n;
	pid_t *killed;
};

static void pack_selection(msgpack_packer *pk, void *arg)
{
	struct selection *sel = arg;
	msgpack_pack_map(pk, 1);
	msg_pack_str(pk, "children");
	msgpack_pack_array(pk, (size_t)sel->n);
	for (int i = 0; i < sel->n; i++) {
		const struct child *c = sel->list[i];
		msgpack_pack_map(pk, 3);
		pack_kstr(pk, "name", c->name);
		pack_kstr(pk, "state", child_state_name(c->state));
		msg_pack_str(pk, sel->killed ? "killed_pid" : "pid");
		pid_t pid = sel->killed ? sel->killed[i] : c->pid;
		if (pid > 0)
			msgpack_pack_int64(pk, pid);
		else
			msgpack_pack_nil(pk);
	}
}

static void cmd_actor(struct control *ctl, struct conn *conn, const struct msg *m, const char *cmd)
{
	struct sup *s = ctl->sup;
	char name[64];
	struct child *list[64];
	pid_t killed[64];
	struct selection sel = {list, 0, NULL};

	if (msg_copy_str(m->body, "name", name, sizeof name) < 0 || !name[0]) {
		reply_err(conn, m->id, "bad_request", "%s needs an actor name", cmd);
		return;
	}
	sel.n = select_children(s, name, list, 64);
	if (sel.n == 0) {
		reply_err(conn, m->id, "unknown_actor", "unknown actor '%s'", name);
		return;
	}
	if (s->shutting_down) {
		reply_err(conn, m->id, "unavailable", "the supervisor is shutting down");
		return;
	}
	for (int i = 0; i < sel.n; i++) {
		struct child *c = list[i];
		if (!strcmp(cmd, "restart")) {
			log_info("control: restart %s", c->name);
			child_restart(c);
		} else if (!strcmp(cmd, "stop")) {
			log_info("control: stop %s", c->name);
			child_stop(c);
		} else if (!strcmp(cmd, "start")) {
			log_info("control: start %s", c->name);
			child_start(c);
		} else {
			int r = child_kill(c);
			killed[i] = r > 0 ? r : 0;
			sel.killed = killed;
			log_info("control: kill %s (pid %d)", c->name, killed[i]);
		}
	}
	reply(conn, m->id, true, NULL, NULL, pack_selection, &sel);
}

/* --- logs ------------------------------------------------------------------- */

struct logs_req {
	struct sup *sup;
	const char *actor;
	size_t n, count;
	uint64_t after;
};

static void count_line(const struct logline *l, void *arg)
{
	(void)l;
	((struct logs_req *)arg)->count++;
}

static void pack_line(const struct logline *l, void *arg)
{
	msg_pack_str(arg, l->text);
}

static void pack_logs(msgpack_packer *pk, void *arg)
{
	struct logs_req *q = arg;
	msgpack_pack_map(pk, 2);
	pack_kint(pk, "last_seq", (int64_t)logring_last_seq(q->sup->ring));
	msg_pack_str(pk, "lines");
	msgpack_pack_array(pk, q->count);
	logring_each(q->sup->ring, q->actor, q->n, q->after, pack_line, pk);
}

static void cmd_logs(struct control *ctl, struct conn *conn, const struct msg *m)
{
	char name[64] = "";
	int64_t n = 100, after = 0;
	struct logs_req q = {.sup = ctl->sup};
	struct child *list[1];

	if (msg_copy_str(m->body, "name", name, sizeof name) == -ENAMETOOLONG ||
	    msg_get_int(m->body, "n", &n) == -EINVAL ||
	    msg_get_int(m->body, "after", &after) == -EINVAL || n < 0 || after < 0) {
		reply_err(conn, m->id, "bad_request",
		          "logs takes name (string), n and after (integers)");
		return;
	}
	if (name[0] && select_children(ctl->sup, name, list, 1) == 0) {
		reply_err(conn, m->id, "unknown_actor", "unknown actor '%s'", name);
		return;
	}
	q.actor = name[0] ? name : NULL;
	q.n = (size_t)n;
	q.after = (uint64_t)after;
	logring_each(ctl->sup->ring, q.actor, q.n, q.after, count_line, &q);
	reply(conn, m->id, true, NULL, NULL, pack_logs, &q);
}

/* --- forwarding to the scheduler ---------------------------------------------- */

static void forward_unlink(struct control *ctl, struct forward *f)
{
	for (struct forward **pp = &ctl->forwards; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			return;
		}
}

/* Runs exactly once per forward: reply, timeout, or the scheduler gone. */
static void on_forward_reply(struct conn *c, const struct msg *r, int err, void *arg)
{
	struct forward *f = arg;
	struct conn *to = f->client ? f->client->conn : NULL;
	(void)c;
	if (f->asker && f->asker->pid == f->asker_pid)
		to = f->asker->chan;

	forward_unlink(f->ctl, f);
	if (!to) {
		/* The client left before the answer came. */
	} else if (err == -ETIMEDOUT) {
		reply_err(to, f->re, "timeout", "the scheduler did not answer in %.0f s",
		          FORWARD_TIMEOUT_S);
	} else if (err) {
		reply_err(to, f->re, "unavailable", "the scheduler went away");
	} else if (r->type != MSG_CONTROL_REPLY) {
		reply_err(to, f->re, "unavailable", "the scheduler answered %s",
		          msg_type_name(r->type));
	} else {
		/* Relayed as it came, only re-addressed to our client. */
		struct msg_out out;
		const msgpack_object *b = r->body;
		msg_out_init(&out, MSG_CONTROL_REPLY, f->re, b->via.map.size);
		for (uint32_t i = 0; i < b->via.map.size; i++) {
			msgpack_pack_object(&out.pk, b->via.map.ptr[i].key);
			msgpack_pack_object(&out.pk, b->via.map.ptr[i].val);
		}
		if (conn_send(to, &out) < 0)
			log_warn("control: could not relay a reply to %s", conn_peer(to));
		msg_out_free(&out);
	}
	free(f);
}

/* Forwards m to the scheduler; the answer goes to cl's connection, or to
 * asker's channel when an actor asked (cl NULL, conn its channel). */
static void cmd_forward(struct control *ctl, struct client *cl, struct child *asker,
                        struct conn *conn, const struct msg *m, const char *cmd)
{
	struct child *sched = sup_child_find(ctl->sup, "scheduler");
	const msgpack_object *b = m->body;
	struct msg_out out;

	if (!sched || sched->state != CHILD_READY || !sched->chan) {
		reply_err(conn, m->id, "unknown_command",
		          "unknown command '%s' (commands beyond status, restart, stop, start, "
		          "kill and logs are answered by the scheduler, which is not running)",
		          cmd);
		return;
	}
	struct forward *f = xcalloc(1, sizeof *f);
	f->ctl = ctl;
	f->client = cl;
	f->asker = asker;
	f->asker_pid = asker ? asker->pid : 0;
	f->re = m->id;
	msg_out_init(&out, MSG_CONTROL, 0, b->via.map.size);
	for (uint32_t i = 0; i < b->via.map.size; i++) {
		msgpack_pack_object(&out.pk, b->via.map.ptr[i].key);
		msgpack_pack_object(&out.pk, b->via.map.ptr[i].val);
	}
	if (conn_request(sched->chan, &out, FORWARD_TIMEOUT_S, on_forward_reply, f) < 0) {
		reply_err(conn, m->id, "unavailable", "cannot reach the scheduler");
		free(f);
	} else {
		f->next = ctl->forwards;
		ctl->forwards = f;
	}
	msg_out_free(&out);
}

/* --- requests from actors ------------------------------------------------------ */

/* What an actor may ask on its channel (the gateway's operations page):
 * any actor the status, the same truth as viralctl status; the gateway
 * also the scheduler's state and pause/resume of claiming, forwarded to
 * the scheduler exactly as viralctl's are (its own admin endpoints are
 * behind the admin token). Nothing else: restart, stop, kill and logs
 * stay on control.sock, where the caller is the operator. */
void control_answer_child(struct child *c, struct conn *conn, const struct msg *m)
{
	char cmd[32] = "";
	int64_t v = 0;

	if (msg_get_int(m->body, "v", &v) < 0 || v != CONTROL_VERSION) {
		reply_err(conn, m->id, "bad_version",
		          "unsupported control protocol version (this supervisor speaks v=%d)",
		          CONTROL_VERSION);
		return;
	}
	msg_copy_str(m->body, "cmd", cmd, sizeof cmd);
	if (!strcmp(cmd, "status")) {
		reply(conn, m->id, true, NULL, NULL, pack_status, c->sup);
		return;
	}
	if (!strcmp(c->role, "gateway") && the_control &&
	    (!strcmp(cmd, "scheduler") || !strcmp(cmd, "pause") || !strcmp(cmd, "resume"))) {
		if (strcmp(cmd, "scheduler"))
			log_info("control: %s asks the scheduler to %s claiming", c->name, cmd);
		cmd_forward(the_control, NULL, c, conn, m, cmd);
		return;
	}
	log_warn("control: %s asked for '%s': refused (not an actor's command)", c->name, cmd);
	reply_err(conn, m->id, "unknown_command", "an actor may not ask the supervisor for '%s'",
	          cmd);
}

/* --- connections -------------------------------------------------------------- */

static void control_on_msg(struct conn *conn, const struct msg *m, void *ud)
{
	struct client *cl = ud;
	struct control *ctl = cl->ctl;
	char cmd[32];
	int64_t v = 0;

	if (m->type != MSG_CONTROL) {
		reply_err(conn, m->id, "bad_request", "expected CONTROL, got %s",
		          msg_type_name(m->type));
		return;
	}
	if (msg_get_int(m->body, "v", &v) < 0 || v != CONTROL_VERSION) {
		reply_err(conn, m->id, "bad_version",
		          "unsupported control protocol version (this supervisor speaks v=%d)",
		          CONTROL_VERSION);
		return;
	}
	if (msg_copy_str(m->body, "cmd", cmd, sizeof cmd) < 0 || !cmd[0]) {
		reply_err(conn, m->id, "bad_request", "missing or bad cmd");
		return;
	}
	if (!strcmp(cmd, "status"))
		reply(conn, m->id, true, NULL, NULL, pack_status, ctl->sup);
	else if (!strcmp(cmd, "restart") || !strcmp(cmd, "stop") || !strcmp(cmd, "start") ||
	         !strcmp(cmd, "kill"))
		cmd_actor(ctl, conn, m, cmd);
	else if (!strcmp(cmd, "logs"))
		cmd_logs(ctl, conn, m);
	else
		cmd_forward(ctl, cl, NULL, conn, m, cmd);
}

static void control_on_close(struct conn *conn, const char *reason, void *ud)
{
	struct client *cl = ud;
	struct control *ctl = cl->ctl;
	(void)conn;
	(void)reason;
	for (struct forward *f = ctl->forwards; f; f = f->next)
		if (f->client == cl)
			f->client = NULL;
	for (struct client **pp = &ctl->clients; *pp; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	free(cl);
}

static const struct conn_ops control_ops = {
    .on_msg = control_on_msg,
    .on_close = control_on_close,
};

static void control_on_accept(struct conn *conn, void *ud)
{
	struct control *ctl = ud;
	struct client *cl = xcalloc(1, sizeof *cl);
	cl->ctl = ctl;
	cl->conn = conn;
	cl->next = ctl->clients;
	ctl->clients = cl;
	conn_set_userdata(conn, cl);
	conn_set_limits(conn, (uint32_t)config_int(ctl->sup->cfg, "ipc.max_frame"), 0);
}

struct control *control_new(struct sup *s, const char *path)
{
	struct control *ctl = xcalloc(1, sizeof *ctl);
	ctl->sup = s;
	ctl->listener = listener_new(s->loop, path, 32, &control_ops, ctl, control_on_accept);
	if (!ctl->listener) {
		int err = errno;
		free(ctl);
		errno = err;
		return NULL;
	}
	ctl->path = xstrdup(path);
	the_control = ctl;
	return ctl;
}

int control_socket_check(struct control *ctl)
{
	if (listener_path_is_ours(ctl->listener))
		return 0;
	char *path = xstrdup(ctl->path);
	struct listener *l =
	    listener_new(ctl->sup->loop, path, 32, &control_ops, ctl, control_on_accept);
	if (!l) {
		int err = -errno;
		log_error("control socket %s is gone and cannot be recreated: %s", path,
		          strerror(-err));
		free(path);
		return err;
	}
	log_warn("control socket %s was deleted or replaced: listening again", path);
	free(path);
	listener_free(ctl->listener); /* leaves the new file alone: not its inode */
	ctl->listener = l;
	return 1;
}

void control_free(struct control *ctl)
{
	if (!ctl)
		return;
	if (the_control == ctl)
		the_control = NULL;
	listener_free(ctl->listener);
	free(ctl->path);
	while (ctl->clients)
		conn_close(ctl->clients->conn, "supervisor exiting"); /* unlinks it */
	for (struct forward *f = ctl->forwards; f; f = f->next)
		f->client = NULL;
	free(ctl);
}
