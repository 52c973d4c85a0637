/*
 * viralsup-test-actor: an actor whose misbehaviour is chosen on its
 * command line, for the supervisor's tests and benchmarks.
 *
 *   --ready-delay-ms N   wait N ms before READY (slow start)
 *   --never-ready        never send READY
 *   --exit-after-ms N    exit N ms after READY, with --exit-code C (default 0)
 *   --crash-after-ms N   abort() N ms after READY
 *   --ignore-term        ignore the first SIGTERM (a stuck shutdown)
 *   --stderr TEXT        write TEXT and a newline raw to stderr at start
 *   --stderr-partial T   write T without a newline, then exit 3 at once
 *   --log-peers          log every PEER_UP / PEER_DOWN received
 *   --notify PATH        after READY, send our pid as a datagram to PATH
 *   --pipe-ready FD      write one byte to FD and exit 0 at once (exec ceiling)
 *   --answer-control     answer CONTROL forwarded by the supervisor with
 *                        {ok: true, data: {echo: cmd, by: name}}
 *   --pong-stats-bytes N send {filler: N 'x's, pongs: count} as the stats of every PONG
 *
 * It always listens on run_dir/<name>.sock and answers PING with PONG.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/ipc.h"

static struct {
	long ready_delay_ms, exit_after_ms, crash_after_ms, pong_stats_bytes;
	int exit_code;
	bool never_ready, ignore_term, log_peers, answer_control;
	const char *notify;
} opt = {.ready_delay_ms = -1, .exit_after_ms = -1, .crash_after_ms = -1};

static ev_timer ready_timer, end_timer;

static void on_msg(struct conn *c, const struct msg *m, void *ud)
{
	(void)ud;
	if (m->type == MSG_PING) {
		struct msg_out out;
		msg_out_init(&out, MSG_PONG, m->id, 0);
		conn_send(c, &out);
		msg_out_free(&out);
	}
}

static void on_close(struct conn *c, const char *reason, void *ud)
{
	(void)c;
	(void)ud;
	log_info("connection closed: %s", reason);
}

static const struct conn_ops ops = {.on_msg = on_msg, .on_close = on_close};

static void on_end(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct actor *a = w->data;
	(void)loop;
	(void)revents;
	if (opt.crash_after_ms >= 0) {
		log_info("crashing on purpose");
		abort();
	}
	log_info("exiting with %d on purpose", opt.exit_code);
	actor_stop(a, opt.exit_code);
}

static void notify_ready(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[32];
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strlcpy(sa.sun_path, path, sizeof sa.sun_path);
	int n = snprintf(buf, sizeof buf, "%d", (int)getpid());
	if (fd >= 0 && sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&sa, sizeof sa) < 0)
		log_warn("notify %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void become_ready(struct actor *a)
{
	actor_ready(a);
	/* The bench's probe goes out right behind READY, before anything else. */
	if (opt.notify)
		notify_ready(opt.notify);
	log_info("test actor ready");
	long after = opt.crash_after_ms >= 0 ? opt.crash_after_ms : opt.exit_after_ms;
	if (after >= 0) {
		ev_timer_init(&end_timer, on_end, after / 1e3, 0);
		end_timer.data = a;
		ev_timer_start(a->loop, &end_timer);
	}
}

static void on_ready_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	become_ready(w->data);
}

static void on_peer(struct actor *a, const char *name, const char *role, int index, int pid,
                    bool up, const char *reason)
{
	(void)a;
	if (opt.log_peers)
		log_info("peer %s name=%s role=%s index=%d reason=%s pid=%d", up ? "up" : "down",
		         name, role, index, reason, pid);
}

static void on_parent_msg(struct actor *a, const struct msg *m)
{
	char cmd[32] = "?";
	struct msg_out out;
	if (m->type != MSG_CONTROL || !opt.answer_control || !a->parent)
		return;
	msg_copy_str(m->body, "cmd", cmd, sizeof cmd);
	msg_out_init(&out, MSG_CONTROL_REPLY, m->id, 4);
	msg_put_bool(&out, "ok", true);
	msg_put_str(&out, "error", NULL);
	msg_put_str(&out, "code", NULL);
	msg_put_key(&out, "data");
	msgpack_pack_map(&out.pk, 2);
	msg_pack_str(&out.pk, "echo");
	msg_pack_str(&out.pk, cmd);
	msg_pack_str(&out.pk, "by");
	msg_pack_str(&out.pk, a->name);
	conn_send(a->parent, &out);
	msg_out_free(&out);
}

static void on_stop_ignore(struct actor *a)
{
	(void)a;
	log_info("ignoring SIGTERM on purpose");
}

/* --pong-stats-bytes: a stats map of the size asked for, and how many
 * PONGs have carried it (so a test can await the next ones). */
static void pack_filler_stats(msgpack_packer *pk)
{
	static long pongs;
	size_t n = (size_t)opt.pong_stats_bytes;
	char *x = malloc(n);
	if (!x)
		abort();
	memset(x, 'x', n);
	msgpack_pack_map(pk, 2);
	msgpack_pack_str_with_body(pk, "filler", 6);
	msgpack_pack_str_with_body(pk, x, n);
	msgpack_pack_str_with_body(pk, "pongs", 5);
	msgpack_pack_long(pk, ++pongs);
	free(x);
}

int main(int argc, char **argv)
{
	struct actor a;

	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "0";
		if (!strcmp(argv[i], "--pipe-ready")) {
			int fd = atoi(v);
			ssize_t w = write(fd, "r", 1);
			_exit(w == 1 ? 0 : 1);
		}
	}
	actor_init(&a, "test", argc, argv);
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";
		if (!strcmp(argv[i], "--ready-delay-ms"))
			opt.ready_delay_ms = atol(v), i++;
		else if (!strcmp(argv[i], "--never-ready"))
			opt.never_ready = true;
		else if (!strcmp(argv[i], "--exit-after-ms"))
			opt.exit_after_ms = atol(v), i++;
		else if (!strcmp(argv[i], "--exit-code"))
			opt.exit_code = atoi(v), i++;
		else if (!strcmp(argv[i], "--crash-after-ms"))
			opt.crash_after_ms = atol(v), i++;
		else if (!strcmp(argv[i], "--ignore-term"))
			opt.ignore_term = true;
		else if (!strcmp(argv[i], "--answer-control"))
			opt.answer_control = true;
		else if (!strcmp(argv[i], "--log-peers"))
			opt.log_peers = true;
		else if (!strcmp(argv[i], "--pong-stats-bytes"))
			opt.pong_stats_bytes = atol(v), i++;
		else if (!strcmp(argv[i], "--notify"))
			opt.notify = v, i++;
		else if (!strcmp(argv[i], "--stderr")) {
			dprintf(2, "%s\n", v);
			i++;
		} else if (!strcmp(argv[i], "--stderr-partial")) {
			dprintf(2, "%s", v);
			_exit(3);
		} else if (!strcmp(argv[i], "--index"))
			i++;
	}
	a.on_peer = on_peer;
	a.on_parent_msg = on_parent_msg;
	if (opt.pong_stats_bytes > 0)
		conn_set_pong_stats(pack_filler_stats);
	if (opt.ignore_term)
		a.on_stop = on_stop_ignore;

	char *path = actor_socket_path(&a, a.name);
	struct listener *l = listener_new(a.loop, path, 64, &ops, NULL, NULL);
	if (!l) {
		log_error("cannot listen on %s: %s", path, strerror(errno));
		free(path);
		return EXIT_TEMPORARY;
	}
	free(path);

	if (opt.never_ready) {
		/* Stay up, never READY: the supervisor's deadline must catch it. */
	} else if (opt.ready_delay_ms > 0) {
		ev_timer_init(&ready_timer, on_ready_timer, opt.ready_delay_ms / 1e3, 0);
		ready_timer.data = &a;
		ev_timer_start(a.loop, &ready_timer);
	} else {
		become_ready(&a);
	}
	int code = actor_run(&a);
	listener_free(l);
	actor_cleanup(&a);
	return code;
}
