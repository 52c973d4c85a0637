/*
 * bench_ipc [N]: message rates between two processes over the ipc library
 * (conn.h on a socketpair, libev on both sides), next to the same bytes
 * over a raw socketpair without the library.
 *
 * The message is a typical envelope of ~100 bytes: FETCH_DONE {job (a
 * UUID), ok, class, reels, transcripts}. Four figures, N messages each
 * (default 100000):
 *   ipc_rtt     request -> reply round trips per second (conn_request,
 *               the peer answers each with the same envelope)
 *   ipc_oneway  messages per second one way (conn_send as fast as the
 *               outbound buffer allows; the peer acknowledges the last)
 *   raw_rtt     write(frame) / read(frame) ping-pong, blocking, no library
 *   raw_oneway  back-to-back frames in 64 KiB writes, the peer reads 64 KiB chunks
 * Output: one line of key=value pairs.
 */
#include "ipc/conn.h"
#include "ipc/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long n_msgs = 100000;
static long done_count;
static struct ev_loop *loop;
static struct conn *pc;
static bool finished;
static long sent;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void envelope(struct msg_out *out, enum msg_type type, uint64_t re)
{
	msg_out_init(out, type, re, 5);
	msg_put_str(out, "job", "3f2b8c1e-9a4d-4e6b-8f21-7c5d0e9a1b34");
	msg_put_bool(out, "ok", true);
	msg_put_str(out, "class", "transient");
	msg_put_int(out, "reels", 12);
	msg_put_int(out, "transcripts", 5);
}

/* ---- the peer process: echoes requests, counts one-way messages ---- */

static void peer_msg(struct conn *c, const struct msg *m, void *ud)
{
	(void)ud;
	struct msg_out out;
	if (m->type == MSG_PING) { /* a round trip */
		envelope(&out, MSG_PONG, m->id);
		conn_send(c, &out);
		msg_out_free(&out);
	} else if (m->type == MSG_FETCH_DONE && ++done_count == n_msgs) {
		envelope(&out, MSG_REPLY, 0);
		conn_send(c, &out);
		msg_out_free(&out);
		done_count = 0;
	}
}

static void peer_close(struct conn *c, const char *reason, void *ud)
{
	(void)c;
	(void)reason;
	(void)ud;
	ev_break(loop, EVBREAK_ALL);
}

static const struct conn_ops peer_ops = {.on_msg = peer_msg, .on_close = peer_close};

/* ---- the driver ---- */

static void on_reply(struct conn *c, const struct msg *reply, int err, void *arg);

static void ping(void)
{
	struct msg_out out;
	envelope(&out, MSG_PING, 0);
	if (conn_request(pc, &out, 10.0, on_reply, NULL) < 0) {
		fprintf(stderr, "bench_ipc: request refused\n");
		exit(1);
	}
	msg_out_free(&out);
}

static void on_reply(struct conn *c, const struct msg *reply, int err, void *arg)
{
	(void)c;
	(void)reply;
	(void)arg;
	if (err) {
		fprintf(stderr, "bench_ipc: reply failed: %s\n", strerror(-err));
		exit(1);
	}
	if (++done_count < n_msgs)
		ping();
	else
		ev_break(loop, EVBREAK_ALL);
}

static void pump(void)
{
	while (sent < n_msgs) {
		struct msg_out out;
		envelope(&out, MSG_FETCH_DONE, 0);
		int rc = conn_send(pc, &out);
		msg_out_free(&out);
		if (rc == -ENOBUFS)
			return; /* on_writable resumes */
		if (rc < 0) {
			fprintf(stderr, "bench_ipc: send: %s\n", strerror(-rc));
			exit(1);
		}
		sent++;
	}
}

static void drv_msg(struct conn *c, const struct msg *m, void *ud)
{
	(void)c;
	(void)ud;
	if (m->type == MSG_REPLY) {
		finished = true;
		ev_break(loop, EVBREAK_ALL);
	}
}

static void drv_writable(struct conn *c, void *ud)
{
	(void)c;
	(void)ud;
	pump();
}

static void drv_close(struct conn *c, const char *reason, void *ud)
{
	(void)c;
	(void)ud;
	fprintf(stderr, "bench_ipc: peer closed: %s\n", reason);
	exit(1);
}

static const struct conn_ops drv_ops = {
    .on_msg = drv_msg, .on_close = drv_close, .on_writable = drv_writable};

static double ipc_rtt(void)
{
	done_count = 0;
	double t0 = now_s();
	ping();
	ev_run(loop, 0);
	return n_msgs / (now_s() - t0);
}

static double ipc_oneway(void)
{
	sent = 0;
	finished = false;
	double t0 = now_s();
	pump();
	while (!finished)
		ev_run(loop, 0);
	return n_msgs / (now_s() - t0);
}

/* ---- the ceiling: the same bytes over a raw socketpair ---- */

static int read_full(int fd, char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static void raw(const char *frame, size_t len, double *rtt, double *oneway)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		exit(1);
	pid_t kid = fork();
	if (kid == 0) {
		char buf[65536];
		close(sv[0]);
		for (long i = 0; i < n_msgs; i++) /* echo */
			if (read_full(sv[1], buf, len) < 0 ||
			    write(sv[1], buf, len) != (ssize_t)len)
				_exit(1);
		size_t want = len * (size_t)n_msgs, got = 0;
		while (got < want) { /* count the one-way bytes, then acknowledge */
			ssize_t n = read(sv[1], buf, sizeof buf);
			if (n <= 0)
				_exit(1);
			got += (size_t)n;
		}
		if (write(sv[1], buf, len) != (ssize_t)len)
			_exit(1);
		_exit(0);
	}
	close(sv[1]);
	char buf[4096];
	double t0 = now_s();
	for (long i = 0; i < n_msgs; i++)
		if (write(sv[0], frame, len) != (ssize_t)len || read_full(sv[0], buf, len) < 0)
			exit(1);
	*rtt = n_msgs / (now_s() - t0);
	/* One way, the best a writer can do: back-to-back frames, 64 KiB per write. */
	char *batch = malloc(65536);
	long per = (long)(65536 / len);
	for (long k = 0; k < per; k++)
		memcpy(batch + k * len, frame, len);
	t0 = now_s();
	for (long i = 0; i < n_msgs; i += per) {
		size_t bytes = (size_t)(n_msgs - i < per ? n_msgs - i : per) * len;
		if (write(sv[0], batch, bytes) != (ssize_t)bytes)
			exit(1);
	}
	free(batch);
	if (read_full(sv[0], buf, len) < 0)
		exit(1);
	*oneway = n_msgs / (now_s() - t0);
	close(sv[0]);
	waitpid(kid, NULL, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		n_msgs = atol(argv[1]);
	if (n_msgs < 1)
		n_msgs = 100000;
	signal(SIGPIPE, SIG_IGN);

	struct msg_out probe;
	size_t flen;
	envelope(&probe, MSG_FETCH_DONE, 0);
	msg_out_finish(&probe, 1 << 20);
	const char *frame = msg_out_data(&probe, &flen);

	double raw_rtt, raw_oneway;
	raw(frame, flen, &raw_rtt, &raw_oneway);

	int fds[2];
	if (conn_socketpair(fds) < 0)
		return 1;
	pid_t kid = fork();
	if (kid == 0) {
		close(fds[0]);
		loop = ev_loop_new(EVFLAG_AUTO);
		conn_new(loop, fds[1], "driver", &peer_ops, NULL);
		ev_run(loop, 0);
		_exit(0);
	}
	close(fds[1]);
	loop = EV_DEFAULT;
	pc = conn_new(loop, fds[0], "peer", &drv_ops, NULL);
	double rtt = ipc_rtt();
	double oneway = ipc_oneway();
	kill(kid, SIGTERM);
	waitpid(kid, NULL, 0);

	printf("frame_bytes=%zu n=%ld ipc_rtt=%.0f ipc_oneway=%.0f raw_rtt=%.0f raw_oneway=%.0f\n",
	       flen, n_msgs, rtt, oneway, raw_rtt, raw_oneway);
	msg_out_free(&probe);
	return 0;
}
