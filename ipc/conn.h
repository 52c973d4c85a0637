/*
 * Message connections on a libev loop: non-blocking Unix-domain stream
 * sockets carrying frames (frame.h) of envelopes (msg.h).
 *
 * - conn: one established connection. Partial reads and writes are
 *   handled; a bad frame closes that connection with a logged reason.
 *   The outbound buffer is bounded: conn_send refuses (-ENOBUFS) when it
 *   is full, and on_writable says when it has drained again.
 * - conn_request: a request with a reply timeout. The callback runs
 *   exactly once: with the reply, or with -ETIMEDOUT, or with -ECONNRESET
 *   when the connection closes first. A reply arriving after its request
 *   timed out (a slow peer) is dropped, not taken for a protocol error.
 * - listener: accepts connections on a socket path (mode 0600, peer uid
 *   must be ours or root), up to a connection limit.
 * - link: a client connection to a socket path that reconnects with
 *   exponential backoff whenever the peer goes away; link_request keeps
 *   an idempotent request alive across such restarts.
 *
 * Callbacks may close or free the connection they are called for.
 */
#ifndef VIRALSUP_IPC_CONN_H
#define VIRALSUP_IPC_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

#include "ipc/msg.h"

#define CONN_OUTBOUND_DEFAULT (4u * 1024u * 1024u)

struct conn;

struct conn_ops {
	/* A decoded message; m is valid during the call only. */
	void (*on_msg)(struct conn *c, const struct msg *m, void *ud);
	/* The connection is gone (peer EOF, error, protocol violation, or
	 * conn_close); c is freed right after this returns. */
	void (*on_close)(struct conn *c, const char *reason, void *ud);
	/* Optional: the outbound buffer drained below half after a refusal. */
	void (*on_writable)(struct conn *c, void *ud);
};

/* Takes ownership of fd (made non-blocking). peer names it in logs (copied). */
struct conn *conn_new(struct ev_loop *loop, int fd, const char *peer, const struct conn_ops *ops,
                      void *ud);
/* Closes the socket, fails pending requests, calls on_close, frees c. */
void conn_close(struct conn *c, const char *reason);

/*
 * Queues a finished message (msg_out_finish done by conn_send if needed).
 * Returns 0, -ENOBUFS when the outbound buffer is full (nothing queued),
 * -EMSGSIZE when the frame is over the maximum. The caller still owns out.
 */
int conn_send(struct conn *c, struct msg_out *out);

/* err is 0 with a reply, or -ETIMEDOUT / -ECONNRESET with reply NULL. */
typedef void (*conn_reply_fn)(struct conn *c, const struct msg *reply, int err, void *arg);
/* Sends out as a request; returns as conn_send (on error cb is never called). */
int conn_request(struct conn *c, struct msg_out *out, double timeout_s, conn_reply_fn cb,
                 void *arg);

/* Answers a PING with its PONG (liveness checks, on any of our sockets). */
void conn_answer_ping(struct conn *c, const struct msg *ping);
/* An actor's own figures in every PONG it sends: fn packs one value (a map)
 * that travels as the PONG's "stats" field; the supervisor keeps the last
 * one per child and shows it in its status (docs/ARCHITECTURE.md). NULL:
 * PONGs carry nothing. One per process. */
void conn_set_pong_stats(void (*fn)(msgpack_packer *pk));

size_t conn_outbound(const struct conn *c);
const char *conn_peer(const struct conn *c);
void *conn_userdata(const struct conn *c);
void conn_set_userdata(struct conn *c, void *ud);
void conn_set_limits(struct conn *c, uint32_t max_frame, size_t max_outbound);
/* Peer's credentials (SO_PEERCRED); -1 when unknown. */
int conn_peer_pid(const struct conn *c);

/* Creates a connected socketpair for parent/child channels (0 or -errno). */
int conn_socketpair(int fds[2]);

struct listener;
/*
 * Listens on path. A socket file left by a dead process is replaced; one a
 * live process still serves is not (NULL, errno EADDRINUSE). Every accepted
 * connection becomes a conn with ops/ud; on_accept (optional) sees it
 * first. Returns NULL with errno set on failure.
 */
struct listener *listener_new(struct ev_loop *loop, const char *path, int max_conns,
                              const struct conn_ops *ops, void *ud,
                              void (*on_accept)(struct conn *c, void *ud));
int listener_count(const struct listener *l);
/* Whether the path still names the socket this listener bound (not deleted or replaced). */
bool listener_path_is_ours(const struct listener *l);
/* Stops listening, unlinks the path if it is still ours; established conns stay open. */
void listener_free(struct listener *l);

struct link;
struct link_ops {
	void (*on_up)(struct link *l, struct conn *c, void *ud);
	void (*on_msg)(struct link *l, struct conn *c, const struct msg *m, void *ud);
	void (*on_down)(struct link *l, const char *reason, void *ud);
};
/* Connects to path now and again after each loss (10 ms doubling to 1 s, jittered). */
struct link *link_new(struct ev_loop *loop, const char *path, const char *peer,
                      const struct link_ops *ops, void *ud);
/* The live connection, or NULL while down. */
struct conn *link_conn(const struct link *l);
/*
 * Sends an idempotent request over the link and keeps it alive across
 * the peer's restarts: if the connection drops before the reply, the same
 * bytes are sent again as soon as the link is back. cb runs exactly once:
 * with the reply, or with -ETIMEDOUT when deadline_s passed first (or
 * -ECONNRESET when the link is freed). The message is copied; the caller
 * still owns out. Returns 0, or -EMSGSIZE (cb never called).
 */
int link_request(struct link *l, struct msg_out *out, double deadline_s, conn_reply_fn cb,
                 void *arg);
void link_free(struct link *l);

#endif
