/*
 * Connections, listeners and links on a real libev loop over real
 * Unix-domain sockets.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/conn.h"
#include "ipc/frame.h"
#include "ipc/log.h"
#include "tests/harness.h"

struct seen {
	int msgs;
	int64_t last_seq;
	bool in_order;
	int closes;
	char reason[160];
	int writable;
	int replies, timeouts, resets;
};

static void on_msg(struct conn *c, const struct msg *m, void *ud)
{
	struct seen *s = ud;
	int64_t seq = -1;
	(void)c;
	msg_get_int(m->body, "seq", &seq);
	if (seq != s->last_seq + 1)
		s->in_order = false;
	s->last_seq = seq;
	s->msgs++;
}

static void on_close(struct conn *c, const char *reason, void *ud)
{
	struct seen *s = ud;
	(void)c;
	s->closes++;
	strlcpy(s->reason, reason, sizeof s->reason);
}

static void on_writable(struct conn *c, void *ud)
{
	(void)c;
	((struct seen *)ud)->writable++;
}

static const struct conn_ops ops = {on_msg, on_close, on_writable};

static void frame_seq(struct msg_out *out, int64_t seq)
{
	msg_out_init(out, MSG_BATCH_TRIGGER, 0, 1);
	msg_put_int(out, "seq", seq);
	msg_out_finish(out, FRAME_MAX_DEFAULT);
}

/* Runs the loop until cond or ms elapse. */
#define SPIN_UNTIL(loop, cond, ms)                                       \
	do {                                                             \
		double t0_ = test_now_ms();                              \
		while (!(cond)) {                                        \
			if (test_now_ms() - t0_ > (ms))                  \
				FAIL("timed out waiting for %s", #cond); \
			ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);         \
			test_poll_pause();                               \
		}                                                        \
	} while (0)

TEST(frames_arriving_one_byte_at_a_time_are_delivered_whole)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct seen s = {.last_seq = 0, .in_order = true};
	int fds[2];
	ASSERT_EQ_INT(conn_socketpair(fds), 0);
	conn_new(loop, fds[0], "test", &ops, &s);
	for (int64_t seq = 1; seq <= 3; seq++) {
		struct msg_out out;
		size_t n;
		frame_seq(&out, seq);
		const char *p = msg_out_data(&out, &n);
		for (size_t i = 0; i < n; i++) {
			ASSERT_EQ_INT(write(fds[1], p + i, 1), 1);
			ev_run(loop, EVRUN_NOWAIT);
			if (i + 1 < n)
				ASSERT_EQ_INT(s.msgs, seq - 1);
		}
		msg_out_free(&out);
	}
	SPIN_UNTIL(loop, s.msgs == 3, 2000);
	ASSERT(s.in_order);
	ASSERT_EQ_INT(s.closes, 0);
}

TEST(many_frames_in_one_write_are_delivered_in_order)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct seen s = {.in_order = true};
	int fds[2];
	char buf[64 * 1024];
	size_t len = 0;
	ASSERT_EQ_INT(conn_socketpair(fds), 0);
	conn_new(loop, fds[0], "test", &ops, &s);
	for (int64_t seq = 1; seq <= 500; seq++) {
		struct msg_out out;
		size_t n;
		frame_seq(&out, seq);
		const char *p = msg_out_data(&out, &n);
		memcpy(buf + len, p, n);
		len += n;
		msg_out_free(&out);
	}
	/* Split at an odd place so a frame straddles two reads. */
	ASSERT_EQ_INT(write(fds[1], buf, 1001), 1001);
	ev_run(loop, EVRUN_NOWAIT);
	ASSERT_EQ_INT(write(fds[1], buf + 1001, len - 1001), (long long)(len - 1001));
	SPIN_UNTIL(loop, s.msgs == 500, 2000);
	ASSERT(s.in_order);
}

TEST(garbage_closes_only_that_connection_with_a_reason)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct seen bad = {.in_order = true}, good = {.in_order = true};
	int a[2], b[2];
	ASSERT_EQ_INT(conn_socketpair(a), 0);
	ASSERT_EQ_INT(conn_socketpair(b), 0);
	conn_new(loop, a[0], "bad", &ops, &bad);
	conn_new(loop, b[0], "good", &ops, &good);
	const char garbage[] = "\x00\x00\x00\x05hello";
	ASSERT_EQ_INT(write(a[1], garbage, 9), 9);
	SPIN_UNTIL(loop, bad.closes == 1, 2000);
	ASSERT_CONTAINS(bad.reason, "protocol error");
	ASSERT_EQ_INT(bad.msgs, 0);
	/* The peer sees EOF. */
	char c;
	ASSERT_EQ_INT(read(a[1], &c, 1), 0);

	struct msg_out out;
	size_t n;
	frame_seq(&out, 1);
	const char *p = msg_out_data(&out, &n);
	ASSERT_EQ_INT(write(b[1], p, n), (long long)n);
	msg_out_free(&out);
	SPIN_UNTIL(loop, good.msgs == 1, 2000);
	ASSERT_EQ_INT(good.closes, 0);
}

TEST(oversized_length_prefix_closes_without_buffering)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct seen s = {.in_order = true};
	int fds[2];
	ASSERT_EQ_INT(conn_socketpair(fds), 0);
	struct conn *c = conn_new(loop, fds[0], "test", &ops, &s);
	conn_set_limits(c, 1024, 0);
	const char big[] = {0x00, 0x00, 0x04, 0x01};
	ASSERT_EQ_INT(write(fds[1], big, 4), 4);
	SPIN_UNTIL(loop, s.closes == 1, 2000);
	ASSERT_CONTAINS(s.reason, "larger than the maximum");
}

TEST(full_outbound_buffer_refuses_then_signals_writable)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct seen s = {.in_order = true};
	int fds[2], r = 0, sent = 0;
	ASSERT_EQ_INT(conn_socketpair(fds), 0);
	struct conn *c = conn_new(loop, fds[0], "test", &ops, &s);
	conn_set_limits(c, 0, 64 * 1024);
	char pad[1000];
	memset(pad, 'p', sizeof pad);
	/* The peer does not read: the kernel buffer fills, then ours. */
	while (sent < 100000) {
		struct msg_out out;
		msg_out_init(&out, MSG_BATCH_TRIGGER, 0, 1);
		msg_put_strn(&out, "pad", pad, sizeof pad);
		r = conn_send(c, &out);
		msg_out_free(&out);
		if (r < 0)
			break;
		sent++;
	}
	ASSERT_EQ_INT(r, -ENOBUFS);
	ASSERT_CMP_INT(conn_outbound(c), <=, 64 * 1024);
	ASSERT_EQ_INT(s.writable, 0);
	/* Drain from the peer side until on_writable fires. */
	char buf[65536];
	double t0 = test_now_ms();
	while (s.writable == 0) {
		if (test_now_ms() - t0 > 5000)
			FAIL("on_writable never called");
		ssize_t n = recv(fds[1], buf, sizeof buf, MSG_DONTWAIT);
		(void)n;
		ev_run(loop, EVRUN_NOWAIT);
	}
	ASSERT_EQ_INT(s.closes, 0);
}

static void reply_cb(struct conn *c, const struct msg *reply, int err, void *arg)
{
	struct seen *s = arg;
	(void)c;
	if (err == 0 && reply)
		s->replies++;
	else if (err == -ETIMEDOUT)
		s->timeouts++;
	else if (err == -ECONNRESET)
		s->resets++;
}

/* Server side: answers every request with a REPLY replying to it. */
static void echo_on_msg(struct conn *c, const struct msg *m, void *ud)
{
	struct msg_out out;
	(void)ud;
	if (m->type != MSG_BATCH_TRIGGER)
		return;
	msg_out_init(&out, MSG_REPLY, m->id, 0);
	conn_send(c, &out);
	msg_out_free(&out);
}
static void quiet_close(struct conn *c, const char *reason, void *ud)
{
	(void)c;
	(void)reason;
	(void)ud;
}
static const struct conn_ops echo_ops = {echo_on_msg, quiet_close, NULL};

TEST(request_gets_its_reply_or_times_out_exactly_once)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct seen s = {0};
	int fds[2], silent[2];
	ASSERT_EQ_INT(conn_socketpair(fds), 0);
	ASSERT_EQ_INT(conn_socketpair(silent), 0);
	struct conn *client = conn_new(loop, fds[0], "client", &ops, &s);
	conn_new(loop, fds[1], "server", &echo_ops, NULL);
	struct conn *lonely = conn_new(loop, silent[0], "lonely", &ops, &s);

	struct msg_out out;
	msg_out_init(&out, MSG_BATCH_TRIGGER, 0, 0);
	ASSERT_EQ_INT(conn_request(client, &out, 2.0, reply_cb, &s), 0);
	msg_out_free(&out);
	msg_out_init(&out, MSG_BATCH_TRIGGER, 0, 0);
	ASSERT_EQ_INT(conn_request(lonely, &out, 0.05, reply_cb, &s), 0);
	msg_out_free(&out);
	SPIN_UNTIL(loop, s.replies == 1 && s.timeouts == 1, 2000);
	/* Nothing more arrives later. */
	double t0 = test_now_ms();
	while (test_now_ms() - t0 < 100)
		ev_run(loop, EVRUN_NOWAIT);
	ASSERT_EQ_INT(s.replies, 1);
	ASSERT_EQ_INT(s.timeouts, 1);
	ASSERT_EQ_INT(s.msgs, 0);
}

TEST(pending_request_fails_with_reset_when_the_peer_goes_away)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct seen s = {0};
	int fds[2];
	ASSERT_EQ_INT(conn_socketpair(fds), 0);
	struct conn *client = conn_new(loop, fds[0], "client", &ops, &s);
	struct msg_out out;
	msg_out_init(&out, MSG_BATCH_TRIGGER, 0, 0);
	ASSERT_EQ_INT(conn_request(client, &out, 10.0, reply_cb, &s), 0);
	msg_out_free(&out);
	close(fds[1]);
	SPIN_UNTIL(loop, s.resets == 1, 2000);
	ASSERT_EQ_INT(s.closes, 1);
	ASSERT_EQ_INT(s.timeouts, 0);
}

struct link_seen {
	int ups, downs;
};
static void l_up(struct link *l, struct conn *c, void *ud)
{
	(void)l;
	(void)c;
	((struct link_seen *)ud)->ups++;
}
static void l_down(struct link *l, const char *reason, void *ud)
{
	(void)l;
	(void)reason;
	((struct link_seen *)ud)->downs++;
}
static const struct link_ops lops = {l_up, NULL, l_down};

static struct conn *accepted;
static void on_accept(struct conn *c, void *ud)
{
	(void)ud;
	accepted = c;
}

TEST(link_reconnects_after_the_peer_restarts)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/peer.sock", dir);
	struct link_seen ls = {0};

	/* Peer absent at first: the link keeps trying. */
	struct link *l = link_new(loop, path, "peer", &lops, &ls);
	ASSERT(link_conn(l) == NULL);
	struct listener *srv = listener_new(loop, path, 8, &echo_ops, NULL, on_accept);
	ASSERT(srv != NULL);
	SPIN_UNTIL(loop, ls.ups == 1 && accepted, 3000);
	/* The peer "restarts": its end closes and its socket is recreated. */
	conn_close(accepted, "restart");
	accepted = NULL;
	listener_free(srv);
	SPIN_UNTIL(loop, ls.downs == 1, 2000);
	srv = listener_new(loop, path, 8, &echo_ops, NULL, on_accept);
	SPIN_UNTIL(loop, ls.ups == 2 && link_conn(l) != NULL, 3000);
	link_free(l);
	listener_free(srv);
	free(path);
	free(dir);
}

TEST(listener_refuses_connections_over_its_limit)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/limited.sock", dir);
	struct listener *srv = listener_new(loop, path, 2, &echo_ops, NULL, NULL);
	struct link_seen ls[3] = {{0}};
	struct link *links[3];
	ASSERT(srv != NULL);
	for (int i = 0; i < 3; i++)
		links[i] = link_new(loop, path, "peer", &lops, &ls[i]);
	SPIN_UNTIL(loop, listener_count(srv) == 2 && ls[0].downs + ls[1].downs + ls[2].downs >= 1,
	           3000);
	ASSERT_EQ_INT(listener_count(srv), 2);
	for (int i = 0; i < 3; i++)
		link_free(links[i]);
	listener_free(srv);
	free(path);
	free(dir);
}

/* A server that drops the first connection that sends it a request, and
 * answers on the next: a peer restarting mid-request. */
static int drops_left;
static void flaky_on_msg(struct conn *c, const struct msg *m, void *ud)
{
	(void)ud;
	if (drops_left > 0) {
		drops_left--;
		conn_close(c, "simulated restart");
		return;
	}
	echo_on_msg(c, m, NULL);
}
static const struct conn_ops flaky_ops = {flaky_on_msg, quiet_close, NULL};

TEST(link_request_survives_the_peer_restarting_before_it_replies)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/flaky.sock", dir);
	struct link_seen ls = {0};
	struct seen s = {0};

	struct listener *srv = listener_new(loop, path, 8, &flaky_ops, NULL, NULL);
	struct link *l = link_new(loop, path, "flaky", &lops, &ls);
	drops_left = 2;
	struct msg_out out;
	msg_out_init(&out, MSG_BATCH_TRIGGER, 0, 0);
	ASSERT_EQ_INT(link_request(l, &out, 5.0, reply_cb, &s), 0);
	msg_out_free(&out);
	SPIN_UNTIL(loop, s.replies == 1, 4000);
	ASSERT_EQ_INT(drops_left, 0);
	ASSERT_CMP_INT(ls.ups, >=, 3);
	ASSERT_EQ_INT(s.timeouts + s.resets, 0);
	link_free(l);
	listener_free(srv);
	free(path);
	free(dir);
}

TEST(link_request_times_out_when_the_peer_never_comes_back)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/absent.sock", dir);
	struct link_seen ls = {0};
	struct seen s = {0};
	struct link *l = link_new(loop, path, "absent", &lops, &ls);
	struct msg_out out;
	msg_out_init(&out, MSG_BATCH_TRIGGER, 0, 0);
	ASSERT_EQ_INT(link_request(l, &out, 0.1, reply_cb, &s), 0);
	msg_out_free(&out);
	SPIN_UNTIL(loop, s.timeouts == 1, 2000);
	ASSERT_EQ_INT(s.replies, 0);
	link_free(l);
	free(path);
	free(dir);
}

/* Every connection answers PING from its own loop, without the actor's help:
 * the supervisor's watchdog and the scheduler's probe rely on it. */
TEST(any_connection_answers_ping_by_itself)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct seen s = {0}, peer = {0};
	int fds[2];
	ASSERT_EQ_INT(conn_socketpair(fds), 0);
	struct conn *client = conn_new(loop, fds[0], "client", &ops, &s);
	conn_new(loop, fds[1], "server", &ops, &peer);
	struct msg_out out;
	msg_out_init(&out, MSG_PING, 0, 0);
	ASSERT_EQ_INT(conn_request(client, &out, 2.0, reply_cb, &s), 0);
	msg_out_free(&out);
	SPIN_UNTIL(loop, s.replies == 1, 2000);
	ASSERT_EQ_INT(peer.msgs, 0); /* the PING never reached the server's on_msg */
	ASSERT_EQ_INT(s.closes + peer.closes, 0);
}

/* Server side: answers each request only when told to (a slow peer). */
static struct conn *slow_conn;
static uint64_t slow_id;
static void slow_on_msg(struct conn *c, const struct msg *m, void *ud)
{
	(void)ud;
	slow_conn = c;
	slow_id = m->id;
}
static const struct conn_ops slow_ops = {slow_on_msg, quiet_close, NULL};

/* A reply that arrives after its request timed out is dropped: the
 * connection stays open and nothing else is delivered. */
TEST(late_reply_is_dropped_not_a_protocol_error)
{
	struct ev_loop *loop = ev_default_loop(0);
	struct seen s = {0};
	int fds[2];
	ASSERT_EQ_INT(conn_socketpair(fds), 0);
	struct conn *client = conn_new(loop, fds[0], "client", &ops, &s);
	conn_new(loop, fds[1], "server", &slow_ops, NULL);
	struct msg_out out;
	msg_out_init(&out, MSG_BATCH_TRIGGER, 0, 0);
	ASSERT_EQ_INT(conn_request(client, &out, 0.05, reply_cb, &s), 0);
	msg_out_free(&out);
	SPIN_UNTIL(loop, s.timeouts == 1 && slow_conn, 2000);
	msg_out_init(&out, MSG_REPLY, slow_id, 0);
	ASSERT_EQ_INT(conn_send(slow_conn, &out), 0);
	msg_out_free(&out);
	/* A later request on the same connection still gets its answer. */
	msg_out_init(&out, MSG_PING, 0, 0);
	ASSERT_EQ_INT(conn_request(client, &out, 2.0, reply_cb, &s), 0);
	msg_out_free(&out);
	SPIN_UNTIL(loop, s.replies == 1, 2000);
	ASSERT_EQ_INT(s.msgs, 0);
	ASSERT_EQ_INT(s.closes, 0);
	ASSERT_EQ_INT(s.timeouts, 1);
}

/* A socket a live process serves is never unlinked and re-bound; a socket
 * file left by a dead one is replaced. */
TEST(listener_never_replaces_a_live_socket_but_replaces_a_stale_one)
{
	struct ev_loop *loop = ev_default_loop(0);
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/live.sock", dir);
	struct listener *first = listener_new(loop, path, 8, &echo_ops, NULL, NULL);
	ASSERT(first != NULL);
	errno = 0;
	ASSERT(listener_new(loop, path, 8, &echo_ops, NULL, NULL) == NULL);
	ASSERT_EQ_INT(errno, EADDRINUSE);
	ASSERT(listener_path_is_ours(first));

	/* A stale file: bound by a socket that is closed without unlinking. */
	char *stale = xasprintf("%s/stale.sock", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strlcpy(sa.sun_path, stale, sizeof sa.sun_path);
	ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	close(fd);
	struct listener *second = listener_new(loop, stale, 8, &echo_ops, NULL, NULL);
	ASSERT(second != NULL);
	listener_free(second);
	listener_free(first);
	ASSERT(access(path, F_OK) != 0);
	free(stale);
	free(path);
	free(dir);
}
