/*
 * Frame connections, listeners and reconnecting links on libev. See conn.h.
 *
 * Re-entrancy: a callback may close its own connection. Every entry from
 * libev raises c->depth; conn_close during a callback only marks the
 * connection, and the last frame to unwind (conn_release) runs on_close
 * and frees it. So no code ever touches a freed conn.
 */
#include "ipc/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/frame.h"
#include "ipc/log.h"

#define READ_CHUNK (64 * 1024)

struct pending {
	uint64_t id;
	conn_reply_fn cb;
	void *arg;
	ev_timer timer;
	struct conn *conn;
	struct pending *next;
};

struct conn {
	struct ev_loop *loop;
	int fd;
	ev_io rio, wio;
	char peer[64];
	const struct conn_ops *ops;
	void *ud;
	uint8_t *in;
	size_t in_len, in_cap;
	uint32_t max_frame;
	uint8_t *out;
	size_t out_off, out_len, out_cap, max_out;
	bool refused; /* a send was refused: tell on_writable when drained */
	struct pending *pending;
	int depth;
	bool closed;
	char reason[160];
	int peer_pid;
	/* Ids of our requests that timed out: their replies may still come
	 * (a slow peer), and are dropped rather than taken for a protocol error. */
	uint64_t expired[32];
	unsigned nexpired;
	msgpack_zone zone;
	/* Set when accepted by a listener, to keep its count right. */
	struct listener *owner;
	struct conn *lnext, *lprev;
};

struct listener {
	struct ev_loop *loop;
	int fd;
	ev_io io;
	char *path;
	dev_t dev; /* of the socket file we bound: listener_free unlinks only that */
	ino_t ino;
	int max_conns, nconns;
	const struct conn_ops *ops;
	void *ud;
	void (*on_accept)(struct conn *c, void *ud);
	struct conn *conns;
};

static void conn_free(struct conn *c);
static void on_request_timeout(struct ev_loop *loop, ev_timer *w, int revents);

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

int conn_socketpair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		return -errno;
	return 0;
}

static void conn_hold(struct conn *c)
{
	c->depth++;
}

/* Drops a hold; the last one out of a closed connection finishes it. */
static void conn_release(struct conn *c)
{
	if (--c->depth == 0 && c->closed)
		conn_free(c);
}

static void fail_pending(struct conn *c)
{
	while (c->pending) {
		struct pending *p = c->pending;
		c->pending = p->next;
		ev_timer_stop(c->loop, &p->timer);
		p->cb(c, NULL, -ECONNRESET, p->arg);
		free(p);
	}
}

static void conn_free(struct conn *c)
{
	/* Requests fail before on_close so their owners can still look at c. */
	c->depth++;
	fail_pending(c);
	if (c->ops->on_close)
		c->ops->on_close(c, c->reason, c->ud);
	if (c->owner) {
		struct listener *l = c->owner;
		l->nconns--;
		if (c->lprev)
			c->lprev->lnext = c->lnext;
		else
			l->conns = c->lnext;
		if (c->lnext)
			c->lnext->lprev = c->lprev;
	}
	msgpack_zone_destroy(&c->zone);
	free(c->in);
	free(c->out);
	free(c);
}

void conn_close(struct conn *c, const char *reason)
{
	if (c->closed)
		return;
	c->closed = true;
	strlcpy(c->reason, reason ? reason : "closed", sizeof c->reason);
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	close(c->fd);
	c->fd = -1;
	if (c->depth == 0)
		conn_free(c);
}

static void dispatch(struct conn *c, const struct msg *m)
{
	/* Every connection answers PING from its own loop: a peer's liveness
	 * check (the supervisor's watchdog, the scheduler's probe of a slow
	 * worker) proves the loop runs, whatever else the actor does. */
	if (m->type == MSG_PING && !m->re) {
		conn_answer_ping(c, m);
		return;
	}
	if (m->re) {
		for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
			struct pending *p = *pp;
			if (p->id != m->re)
				continue;
			*pp = p->next;
			ev_timer_stop(c->loop, &p->timer);
			p->cb(c, m, 0, p->arg);
			free(p);
			return;
		}
		for (unsigned i = 0; i < sizeof c->expired / sizeof c->expired[0]; i++)
			if (c->expired[i] == m->re) {
				log_debug("late %s from %s (request %llu timed out): dropped",
				          msg_type_name(m->type), c->peer,
				          (unsigned long long)m->re);
				c->expired[i] = 0;
				return;
			}
	}
	if (c->ops->on_msg)
		c->ops->on_msg(c, m, c->ud);
}

/* Decodes and delivers every whole frame in the input buffer. */
static void process_input(struct conn *c)
{
	size_t off = 0;
	while (!c->closed) {
		uint32_t plen;
		struct msg m;
		const char *why;
		int r = frame_check(c->in + off, c->in_len - off, c->max_frame, &plen);
		if (r == 0)
			break;
		if (r < 0) {
			char reason[160];
			snprintf(reason, sizeof reason, "protocol error: %s",
			         r == -EMSGSIZE ? "frame larger than the maximum" : "empty frame");
			log_warn("closing connection to %s: %s", c->peer, reason);
			conn_close(c, reason);
			return;
		}
		r = msg_decode((const char *)c->in + off + FRAME_PREFIX, plen, &c->zone, &m, &why);
		off += FRAME_PREFIX + plen;
		if (r < 0) {
			char reason[160];
			snprintf(reason, sizeof reason, "protocol error: %s", why);
			log_warn("closing connection to %s: %s", c->peer, reason);
			msgpack_zone_clear(&c->zone);
			conn_close(c, reason);
			return;
		}
		dispatch(c, &m);
		msgpack_zone_clear(&c->zone);
	}
	if (c->closed)
		return;
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	(void)loop;
	(void)revents;
	conn_hold(c);
	for (int rounds = 0; rounds < 16 && !c->closed; rounds++) {
		size_t want = c->in_cap - c->in_len;
		if (want == 0) {
			/* Room for one maximal frame plus its prefix, never more. */
			size_t cap = c->in_cap * 2;
			if (cap > (size_t)c->max_frame + FRAME_PREFIX + READ_CHUNK)
				cap = (size_t)c->max_frame + FRAME_PREFIX + READ_CHUNK;
			if (cap <= c->in_cap) {
				conn_close(c, "protocol error: input buffer overflow");
				break;
			}
			c->in = xrealloc(c->in, cap);
			c->in_cap = cap;
			want = cap - c->in_len;
		}
		ssize_t n = read(c->fd, c->in + c->in_len, want);
		if (n > 0) {
			c->in_len += (size_t)n;
			process_input(c);
			continue;
		}
		if (n == 0) {
			conn_close(c, "peer closed the connection");
		} else if (errno != EAGAIN && errno != EINTR) {
			char reason[160];
			snprintf(reason, sizeof reason, "read: %s", strerror(errno));
			conn_close(c, reason);
		}
		break;
	}
	conn_release(c);
}

/* Writes what it can; 0, or -errno after closing the connection. */
static int flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ev_io_start(c->loop, &c->wio);
			return 0;
		}
		char reason[160];
		int err = errno;
		snprintf(reason, sizeof reason, "write: %s", strerror(err));
		conn_close(c, reason);
		return -err;
	}
	c->out_off = c->out_len = 0;
	ev_io_stop(c->loop, &c->wio);
	return 0;
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	(void)loop;
	(void)revents;
	conn_hold(c);
	flush_out(c);
	if (!c->closed && c->refused && c->out_len - c->out_off < c->max_out / 2) {
		c->refused = false;
		if (c->ops->on_writable)
			c->ops->on_writable(c, c->ud);
	}
	conn_release(c);
}

struct conn *conn_new(struct ev_loop *loop, int fd, const char *peer, const struct conn_ops *ops,
                      void *ud)
{
	struct conn *c = xcalloc(1, sizeof *c);
	struct ucred cred;
	socklen_t clen = sizeof cred;

	set_nonblock_cloexec(fd);
	c->loop = loop;
	c->fd = fd;
	strlcpy(c->peer, peer ? peer : "peer", sizeof c->peer);
	c->ops = ops;
	c->ud = ud;
	c->max_frame = FRAME_MAX_DEFAULT;
	c->max_out = CONN_OUTBOUND_DEFAULT;
	c->in_cap = READ_CHUNK;
	c->in = xmalloc(c->in_cap);
	c->peer_pid = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0)
		c->peer_pid = cred.pid;
	if (!msgpack_zone_init(&c->zone, 4096))
		log_fatal("out of memory");
	ev_io_init(&c->rio, on_readable, fd, EV_READ);
	ev_io_init(&c->wio, on_writable, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	ev_io_start(loop, &c->rio);
	return c;
}

/* Queues framed bytes; see conn_send for the return values. */
static int conn_send_bytes(struct conn *c, const char *data, size_t len)
{
	int r;

	if (c->closed)
		return -EPIPE;
	if (c->out_len - c->out_off + len > c->max_out) {
		c->refused = true;
		return -ENOBUFS;
	}
	if (c->out_off > 0 && c->out_len + len > c->out_cap) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		while (cap < c->out_len + len)
			cap *= 2;
		c->out = xrealloc(c->out, cap);
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, data, len);
	c->out_len += len;
	if (ev_is_active(&c->wio))
		return 0;
	/* Not inside a libev callback of ours: hold so that a write error
	 * closing c does not free it under the caller. */
	conn_hold(c);
	r = flush_out(c);
	if (c->depth == 1 && c->closed) {
		/* Caller's c stays valid until it returns to the loop: defer. */
		c->depth--;
		ev_feed_event(c->loop, &c->rio, EV_READ);
		return r < 0 ? r : -EPIPE;
	}
	c->depth--;
	return r < 0 ? r : 0;
}

int conn_send(struct conn *c, struct msg_out *out)
{
	const char *data;
	size_t len;
	int r;

	if (c->closed)
		return -EPIPE;
	if ((r = msg_out_finish(out, c->max_frame)) < 0)
		return r;
	data = msg_out_data(out, &len);
	return conn_send_bytes(c, data, len);
}

static void on_request_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pending *p = w->data;
	struct conn *c = p->conn;
	(void)loop;
	(void)revents;
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp != p)
			continue;
		*pp = p->next;
		c->expired[c->nexpired++ % (sizeof c->expired / sizeof c->expired[0])] = p->id;
		conn_hold(c);
		p->cb(c, NULL, -ETIMEDOUT, p->arg);
		free(p);
		conn_release(c);
		return;
	}
}

static void pending_add(struct conn *c, uint64_t id, double timeout_s, conn_reply_fn cb, void *arg)
{
	struct pending *p = xcalloc(1, sizeof *p);
	p->id = id;
	p->cb = cb;
	p->arg = arg;
	p->conn = c;
	ev_timer_init(&p->timer, on_request_timeout, timeout_s, 0);
	p->timer.data = p;
	ev_timer_start(c->loop, &p->timer);
	p->next = c->pending;
	c->pending = p;
}

int conn_request(struct conn *c, struct msg_out *out, double timeout_s, conn_reply_fn cb, void *arg)
{
	int r = conn_send(c, out);
	if (r < 0)
		return r;
	pending_add(c, out->id, timeout_s, cb, arg);
	return 0;
}

/* Queues already-framed bytes of a request with the given id. */
static int conn_request_bytes(struct conn *c, const char *data, size_t len, uint64_t id,
                              double timeout_s, conn_reply_fn cb, void *arg)
{
	int r = conn_send_bytes(c, data, len);
	if (r < 0)
		return r;
	pending_add(c, id, timeout_s, cb, arg);
	return 0;
}

static void (*pong_stats)(msgpack_packer *pk);

void conn_set_pong_stats(void (*fn)(msgpack_packer *pk))
{
	pong_stats = fn;
}

void conn_answer_ping(struct conn *c, const struct msg *ping)
{
	struct msg_out out;
	msg_out_init(&out, MSG_PONG, ping->id, pong_stats ? 1 : 0);
	if (pong_stats) {
		msg_put_key(&out, "stats");
		pong_stats(&out.pk);
	}
	conn_send(c, &out);
	msg_out_free(&out);
}

size_t conn_outbound(const struct conn *c)
{
	return c->out_len - c->out_off;
}

const char *conn_peer(const struct conn *c)
{
	return c->peer;
}

void *conn_userdata(const struct conn *c)
{
	return c->ud;
}

void conn_set_userdata(struct conn *c, void *ud)
{
	c->ud = ud;
}

void conn_set_limits(struct conn *c, uint32_t max_frame, size_t max_outbound)
{
	if (max_frame)
		c->max_frame = max_frame;
	if (max_outbound)
		c->max_out = max_outbound;
}

int conn_peer_pid(const struct conn *c)
{
	return c->peer_pid;
}

/* --- listener ---------------------------------------------------------- */

static void on_accept_ready(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	(void)revents;
	for (int i = 0; i < 64; i++) {
		struct ucred cred;
		socklen_t clen = sizeof cred;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept on %s: %s", l->path, strerror(errno));
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
		    (cred.uid != getuid() && cred.uid != 0)) {
			log_warn("refused connection on %s from uid %d: not our user", l->path,
			         (int)cred.uid);
			close(fd);
			continue;
		}
		if (l->nconns >= l->max_conns) {
			log_warn("refused connection on %s: limit of %d connections reached",
			         l->path, l->max_conns);
			close(fd);
			continue;
		}
		char peer[64];
		snprintf(peer, sizeof peer, "pid %d", (int)cred.pid);
		struct conn *c = conn_new(loop, fd, peer, l->ops, l->ud);
		c->owner = l;
		c->lnext = l->conns;
		if (l->conns)
			l->conns->lprev = c;
		l->conns = c;
		l->nconns++;
		if (l->on_accept)
			l->on_accept(c, l->ud);
	}
}

/* Whether a live process still accepts connections on sa's path: a socket
 * file left by a dead process refuses them (ECONNREFUSED), a live one, even
 * a stopped one, accepts into its backlog. Such a path is never replaced. */
static bool socket_path_served(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool served;
	if (fd < 0)
		return false;
	served = connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0;
	close(fd);
	return served;
}

struct listener *listener_new(struct ev_loop *loop, const char *path, int max_conns,
                              const struct conn_ops *ops, void *ud,
                              void (*on_accept)(struct conn *c, void *ud))
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct listener *l;
	int fd, err;

	if (strlcpy(sa.sun_path, path, sizeof sa.sun_path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (socket_path_served(&sa)) {
		errno = EADDRINUSE;
		return NULL;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	unlink(path);
	/* Only our user may connect: the mode is the first gate, the
	 * peer-credential check in accept the second. */
	mode_t old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 128) < 0) {
		err = errno;
		umask(old);
		close(fd);
		errno = err;
		return NULL;
	}
	umask(old);
	l = xcalloc(1, sizeof *l);
	l->loop = loop;
	l->fd = fd;
	l->path = xstrdup(path);
	struct stat st;
	if (stat(path, &st) == 0) {
		l->dev = st.st_dev;
		l->ino = st.st_ino;
	}
	l->max_conns = max_conns > 0 ? max_conns : 64;
	l->ops = ops;
	l->ud = ud;
	l->on_accept = on_accept;
	ev_io_init(&l->io, on_accept_ready, fd, EV_READ);
	l->io.data = l;
	ev_io_start(loop, &l->io);
	return l;
}

bool listener_path_is_ours(const struct listener *l)
{
	struct stat st;
	return stat(l->path, &st) == 0 && st.st_dev == l->dev && st.st_ino == l->ino;
}

int listener_count(const struct listener *l)
{
	return l->nconns;
}

void listener_free(struct listener *l)
{
	if (!l)
		return;
	ev_io_stop(l->loop, &l->io);
	close(l->fd);
	if (listener_path_is_ours(l))
		unlink(l->path);
	for (struct conn *c = l->conns; c; c = c->lnext)
		c->owner = NULL;
	free(l->path);
	free(l);
}

/* --- link -------------------------------------------------------------- */

/* A link_request: the framed bytes, kept until the reply or the deadline. */
struct lreq {
	struct link *link;
	char *data;
	size_t len;
	uint64_t id;
	bool sent; /* on the current connection, awaiting the reply */
	conn_reply_fn cb;
	void *arg;
	ev_timer deadline;
	struct lreq *next;
};

struct link {
	struct ev_loop *loop;
	char *path;
	char peer[64];
	const struct link_ops *ops;
	void *ud;
	struct conn *conn;
	ev_timer retry;
	double backoff;
	bool freeing;
	struct lreq *lreqs;
};

static void lreq_send_all(struct link *l);

static void link_on_msg(struct conn *c, const struct msg *m, void *ud)
{
	struct link *l = ud;
	if (l->ops->on_msg)
		l->ops->on_msg(l, c, m, l->ud);
}

static void link_schedule(struct link *l)
{
	/* Jitter spreads reconnects of many actors after a common peer restarts. */
	double delay = l->backoff * (0.75 + (arc4random() % 500) / 1000.0);
	ev_timer_set(&l->retry, delay, 0);
	ev_timer_start(l->loop, &l->retry);
	l->backoff = l->backoff * 2 > 1.0 ? 1.0 : l->backoff * 2;
}

static void link_on_close(struct conn *c, const char *reason, void *ud)
{
	struct link *l = ud;
	(void)c;
	l->conn = NULL;
	if (l->freeing)
		return;
	if (l->ops->on_down)
		l->ops->on_down(l, reason, l->ud);
	link_schedule(l);
}

static const struct conn_ops link_conn_ops = {
    .on_msg = link_on_msg,
    .on_close = link_on_close,
};

static void link_try(struct link *l)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strlcpy(sa.sun_path, l->path, sizeof sa.sun_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		if (fd >= 0)
			close(fd);
		link_schedule(l);
		return;
	}
	l->backoff = 0.01;
	l->conn = conn_new(l->loop, fd, l->peer, &link_conn_ops, l);
	if (l->ops->on_up)
		l->ops->on_up(l, l->conn, l->ud);
	lreq_send_all(l);
}

static void link_on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	link_try(w->data);
}

struct link *link_new(struct ev_loop *loop, const char *path, const char *peer,
                      const struct link_ops *ops, void *ud)
{
	struct link *l = xcalloc(1, sizeof *l);
	l->loop = loop;
	l->path = xstrdup(path);
	strlcpy(l->peer, peer, sizeof l->peer);
	l->ops = ops;
	l->ud = ud;
	l->backoff = 0.01;
	ev_timer_init(&l->retry, link_on_retry, 0, 0);
	l->retry.data = l;
	link_try(l);
	return l;
}

struct conn *link_conn(const struct link *l)
{
	return l->conn;
}

static void lreq_finish(struct lreq *q, const struct msg *reply, int err)
{
	struct link *l = q->link;
	for (struct lreq **pp = &l->lreqs; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			break;
		}
	ev_timer_stop(l->loop, &q->deadline);
	q->cb(l->conn, reply, err, q->arg);
	free(q->data);
	free(q);
}

static void lreq_on_reply(struct conn *c, const struct msg *reply, int err, void *arg)
{
	struct lreq *q = arg;
	(void)c;
	if (err == -ECONNRESET && !q->link->freeing) {
		q->sent = false; /* the peer went away: send again when it is back */
		return;
	}
	lreq_finish(q, reply, err);
}

static void lreq_on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct lreq *q = w->data;
	(void)loop;
	(void)revents;
	/* If it is on the wire, its pending entry answers -ETIMEDOUT itself
	 * (the per-send timeout equals the time left); only queued ones end here. */
	if (!q->sent)
		lreq_finish(q, NULL, -ETIMEDOUT);
}

static void lreq_send(struct link *l, struct lreq *q)
{
	double left = ev_timer_remaining(l->loop, &q->deadline);
	if (!l->conn || q->sent)
		return;
	if (conn_request_bytes(l->conn, q->data, q->len, q->id, left > 0.001 ? left : 0.001,
	                       lreq_on_reply, q) == 0)
		q->sent = true;
}

static void lreq_send_all(struct link *l)
{
	for (struct lreq *q = l->lreqs; q && l->conn; q = q->next)
		lreq_send(l, q);
}

int link_request(struct link *l, struct msg_out *out, double deadline_s, conn_reply_fn cb,
                 void *arg)
{
	const char *data;
	size_t len;
	int r = msg_out_finish(out, FRAME_MAX_DEFAULT);
	if (r < 0)
		return r;
	data = msg_out_data(out, &len);
	struct lreq *q = xcalloc(1, sizeof *q);
	q->link = l;
	q->data = xmalloc(len);
	memcpy(q->data, data, len);
	q->len = len;
	q->id = out->id;
	q->cb = cb;
	q->arg = arg;
	ev_timer_init(&q->deadline, lreq_on_deadline, deadline_s, 0);
	q->deadline.data = q;
	ev_timer_start(l->loop, &q->deadline);
	q->next = l->lreqs;
	l->lreqs = q;
	lreq_send(l, q);
	return 0;
}

void link_free(struct link *l)
{
	if (!l)
		return;
	l->freeing = true;
	ev_timer_stop(l->loop, &l->retry);
	if (l->conn)
		conn_close(l->conn, "link closed");
	while (l->lreqs)
		lreq_finish(l->lreqs, NULL, -ECONNRESET);
	free(l->path);
	free(l);
}
