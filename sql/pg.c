/*
 * Async libpq on libev (see pg.h). One connection per struct pg; queries
 * are sent one at a time from a FIFO. Everything that can block in libpq
 * (connect, send, receive) is driven by readiness of PQsocket under one
 * ev_io watcher whose fd/events follow what libpq asks for.
 *
 * Reentrancy: user callbacks may call pg_query() and pg_free(). pg_free()
 * from inside a callback only marks the handle dead; the libev handler
 * that is running frees it when it unwinds (depth counter).
 */
#include "sql/pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_MAX_PARAMS 64
#define PG_MAX_SQL    (1 << 20)

enum pg_state { PG_DOWN, PG_CONNECTING, PG_UP };

struct pg_query {
	struct pg_query *next;
	char *sql;
	int nparams;
	char **params;
	pg_result_fn cb;
	void *arg;
	PGresult *res;
	int preparing; /* >= 0: the prepared-statement slot being prepared for it */
};

/*
 * Parameterised statements are prepared once per connection and then
 * executed by name: the queue's statements are large CTEs whose parse and
 * plan cost more than their execution. Forgotten on reconnect.
 */
#define PG_PREPARED_MAX 64
struct prepared {
	char *sql;
	unsigned long hash;
	bool ready;
};

struct pg {
	struct ev_loop *loop;
	char *conninfo, *appname, *options;
	char **listen;
	struct pg_config cfg;
	PGconn *conn;
	enum pg_state state;
	int reported; /* last state given to on_state: -1 none, 0 down, 1 up */
	ev_io io;
	int io_fd, io_events;
	ev_timer retry;
	int backoff_ms;
	struct pg_query *head, *tail, *inflight;
	int npending;
	int depth;
	bool dead;
	bool broken; /* a send failed in pg_query(): handle the loss from the loop */
	struct prepared prepared[PG_PREPARED_MAX];
	int nprepared;
};

static char *xdup(const char *s);

static unsigned long sql_hash(const char *s)
{
	unsigned long h = 5381;
	for (; *s; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

static void prepared_forget(struct pg *pg)
{
	for (int i = 0; i < pg->nprepared; i++)
		free(pg->prepared[i].sql);
	pg->nprepared = 0;
}

/* The slot of sql (possibly not ready yet), or -1. */
static int prepared_find(struct pg *pg, const char *sql, unsigned long h)
{
	for (int i = 0; i < pg->nprepared; i++)
		if (pg->prepared[i].hash == h && !strcmp(pg->prepared[i].sql, sql))
			return i;
	return -1;
}

/* Sends q: by name when prepared, else prepares it first when there is
 * room (read_in sends the execution once the preparation succeeded). */
static int send_query(struct pg *pg, struct pg_query *q)
{
	char name[16];
	q->preparing = -1;
	if (q->nparams > 0) {
		unsigned long h = sql_hash(q->sql);
		int i = prepared_find(pg, q->sql, h);
		if (i >= 0 && pg->prepared[i].ready) {
			snprintf(name, sizeof name, "vs%d", i);
			return PQsendQueryPrepared(pg->conn, name, q->nparams,
			                           (const char *const *)q->params, NULL, NULL, 0);
		}
		if (i < 0 && pg->nprepared < PG_PREPARED_MAX) {
			i = pg->nprepared++;
			pg->prepared[i].sql = xdup(q->sql);
			pg->prepared[i].hash = h;
			pg->prepared[i].ready = false;
			snprintf(name, sizeof name, "vs%d", i);
			q->preparing = i;
			return PQsendPrepare(pg->conn, name, q->sql, q->nparams, NULL);
		}
	}
	return PQsendQueryParams(pg->conn, q->sql, q->nparams, NULL, (const char *const *)q->params,
	                         NULL, NULL, 0);
}

static void *xalloc(size_t n)
{
	void *p = calloc(1, n);
	if (!p) {
		fprintf(stderr, "pg: out of memory\n");
		abort();
	}
	return p;
}

static char *xdup(const char *s)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d) {
		fprintf(stderr, "pg: out of memory\n");
		abort();
	}
	return d;
}

static void query_free(struct pg_query *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	PQclear(q->res);
	free(q);
}

/* Runs the query's callback once and frees it. */
static void query_finish(struct pg *pg, struct pg_query *q, const char *err)
{
	pg->npending--;
	if (q->cb)
		q->cb(pg, q->res, err, q->arg);
	query_free(q);
}

/* libpq messages span lines; callers log one line. */
static void one_line(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

static void report_state(struct pg *pg, bool up, const char *why)
{
	if (pg->reported == (int)up)
		return;
	pg->reported = up;
	if (pg->cfg.on_state)
		pg->cfg.on_state(pg, up, why, pg->cfg.arg);
}

static void io_watch(struct pg *pg, int fd, int events)
{
	if (fd == pg->io_fd && events == pg->io_events && ev_is_active(&pg->io))
		return;
	ev_io_stop(pg->loop, &pg->io);
	pg->io_fd = fd;
	pg->io_events = events;
	if (fd >= 0 && events) {
		ev_io_set(&pg->io, fd, events);
		ev_io_start(pg->loop, &pg->io);
	}
}

/* Fails every query in flight or queued with err. */
static void fail_all(struct pg *pg, const char *err)
{
	struct pg_query *q = pg->inflight;
	pg->inflight = NULL;
	if (q)
		query_finish(pg, q, err);
	while ((q = pg->head)) {
		pg->head = q->next;
		if (!pg->head)
			pg->tail = NULL;
		query_finish(pg, q, err);
	}
}

static void schedule_retry(struct pg *pg)
{
	int d = pg->backoff_ms;
	/* Jitter so nodes restarted together do not reconnect in lockstep. */
	d = d / 2 + (int)(random() % (d / 2 + 1));
	pg->backoff_ms *= 2;
	if (pg->backoff_ms > pg->cfg.reconnect_max_ms)
		pg->backoff_ms = pg->cfg.reconnect_max_ms;
	ev_timer_set(&pg->retry, d / 1000.0, 0);
	ev_timer_start(pg->loop, &pg->retry);
}

/* The connection is gone (or never came up): fail its queries, retry later. */
static void conn_lost(struct pg *pg, const char *why)
{
	char msg[512];
	snprintf(msg, sizeof msg, "PostgreSQL connection lost: %s", why && *why ? why : "unknown");
	one_line(msg);
	io_watch(pg, -1, 0);
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->state = PG_DOWN;
	pg->broken = false; /* a deferred loss is handled by this one */
	prepared_forget(pg);
	fail_all(pg, msg);
	if (pg->dead)
		return;
	report_state(pg, false, msg);
	if (!pg->dead)
		schedule_retry(pg);
}

static void pump(struct pg *pg, bool from_user);

/*
 * A failure noticed inside pg_query() is not handled there: that would run
 * callbacks (of the query just accepted, too) before pg_query() returns.
 * The io handler picks it up on the next loop iteration instead.
 */
static void defer_loss(struct pg *pg)
{
	pg->broken = true;
	ev_feed_event(pg->loop, &pg->io, EV_READ);
}

static void flush_out(struct pg *pg, bool from_user)
{
	int r = PQflush(pg->conn);
	if (r < 0 && from_user)
		defer_loss(pg);
	else if (r < 0)
		conn_lost(pg, PQerrorMessage(pg->conn));
	else
		io_watch(pg, PQsocket(pg->conn), r ? EV_READ | EV_WRITE : EV_READ);
}

static void deliver_notifies(struct pg *pg)
{
	PGnotify *n;
	while (pg->conn && !pg->dead && (n = PQnotifies(pg->conn))) {
		if (pg->cfg.on_notify)
			pg->cfg.on_notify(pg, n->relname, n->extra, pg->cfg.arg);
		PQfreemem(n);
	}
}

static void read_in(struct pg *pg)
{
	if (!PQconsumeInput(pg->conn)) {
		conn_lost(pg, PQerrorMessage(pg->conn));
		return;
	}
	while (pg->conn && !pg->dead && pg->inflight && !PQisBusy(pg->conn)) {
		PGresult *r = PQgetResult(pg->conn);
		struct pg_query *q = pg->inflight;
		if (r) {
			/* Keep the first error, else the last result. */
			ExecStatusType prev = q->res ? PQresultStatus(q->res) : PGRES_COMMAND_OK;
			if (q->res && prev != PGRES_COMMAND_OK && prev != PGRES_TUPLES_OK) {
				PQclear(r);
			} else {
				PQclear(q->res);
				q->res = r;
			}
			continue;
		}
		ExecStatusType st = q->res ? PQresultStatus(q->res) : PGRES_FATAL_ERROR;
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
		    PQstatus(pg->conn) == CONNECTION_BAD) {
			/* The query died with the connection: mark the connection down
			 * before any callback runs, so callers can tell an outage (wait
			 * and retry) from an error of their own (don't). */
			conn_lost(pg, PQerrorMessage(pg->conn));
			return;
		}
		if (q->preparing >= 0 && st == PGRES_COMMAND_OK) {
			/* Prepared: now run it by name on the same turn. */
			char name[16];
			pg->prepared[q->preparing].ready = true;
			snprintf(name, sizeof name, "vs%d", q->preparing);
			q->preparing = -1;
			PQclear(q->res);
			q->res = NULL;
			if (!PQsendQueryPrepared(pg->conn, name, q->nparams,
			                         (const char *const *)q->params, NULL, NULL, 0)) {
				conn_lost(pg, PQerrorMessage(pg->conn));
				return;
			}
			flush_out(pg, false);
			continue;
		}
		if (q->preparing >= 0) {
			/* It did not prepare (a syntax error): forget the slot's SQL so
			 * the error is reported by this query and not cached. */
			pg->prepared[q->preparing].hash = 0;
			q->preparing = -1;
		}
		pg->inflight = NULL;
		const char *err = NULL;
		char buf[512];
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			snprintf(buf, sizeof buf, "%s",
			         q->res ? PQresultErrorMessage(q->res) : PQerrorMessage(pg->conn));
			one_line(buf);
			err = *buf ? buf : "query failed";
		}
		query_finish(pg, q, err);
		pump(pg, false);
	}
	deliver_notifies(pg);
	if (pg->conn && !pg->dead && PQstatus(pg->conn) == CONNECTION_BAD)
		conn_lost(pg, PQerrorMessage(pg->conn));
}

static void pump(struct pg *pg, bool from_user)
{
	if (pg->dead || pg->broken || pg->state != PG_UP || pg->inflight || !pg->head)
		return;
	struct pg_query *q = pg->head;
	pg->head = q->next;
	if (!pg->head)
		pg->tail = NULL;
	q->next = NULL;
	pg->inflight = q;
	if (!send_query(pg, q)) {
		if (from_user)
			defer_loss(pg);
		else
			conn_lost(pg, PQerrorMessage(pg->conn));
		return;
	}
	flush_out(pg, from_user);
}

static int enqueue(struct pg *pg, const char *sql, int nparams, const char *const *params,
                   pg_result_fn cb, void *arg)
{
	struct pg_query *q = xalloc(sizeof *q);
	q->sql = xdup(sql);
	q->nparams = nparams;
	q->params = xalloc(sizeof(char *) * (nparams ? nparams : 1));
	for (int i = 0; i < nparams; i++)
		q->params[i] = xdup(params[i]);
	q->cb = cb;
	q->arg = arg;
	if (pg->tail)
		pg->tail->next = q;
	else
		pg->head = q;
	pg->tail = q;
	pg->npending++;
	return 0;
}

static void on_connected(struct pg *pg)
{
	PQsetnonblocking(pg->conn, 1);
	pg->state = PG_UP;
	pg->backoff_ms = pg->cfg.reconnect_min_ms;
	io_watch(pg, PQsocket(pg->conn), EV_READ);
	for (char **c = pg->listen; c && *c; c++) {
		char *id = PQescapeIdentifier(pg->conn, *c, strlen(*c));
		if (!id)
			continue;
		char *sql = NULL;
		if (asprintf(&sql, "LISTEN %s", id) < 0)
			abort();
		enqueue(pg, sql, 0, NULL, NULL, NULL);
		free(sql);
		PQfreemem(id);
	}
	report_state(pg, true, "connected");
	pump(pg, false);
}

static void connect_poll(struct pg *pg)
{
	switch (PQconnectPoll(pg->conn)) {
	case PGRES_POLLING_READING:
		io_watch(pg, PQsocket(pg->conn), EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		io_watch(pg, PQsocket(pg->conn), EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		on_connected(pg);
		break;
	default:
		conn_lost(pg, PQerrorMessage(pg->conn));
		break;
	}
}

int pg_conninfo_check(const char *conninfo, char *err, size_t errlen)
{
	char *why = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &why);
	if (opts) {
		PQconninfoFree(opts);
		return 0;
	}
	/* Copy libpq's reason without what it quotes, except one-character
	 * quotes such as "]" or "=" that only name the syntax expected. */
	const char *w = why ? why : "out of memory";
	size_t o = 0;
	while (*w && *w != '\n' && o + 6 < errlen) {
		const char *end = *w == '"' ? strchr(w + 1, '"') : NULL;
		if (end && end - w > 2) {
			memcpy(err + o, "\"...\"", 5);
			o += 5;
			w = end + 1;
		} else if (end) {
			/* A short quote: copied whole, so its closing quote is not
			 * taken for an opening one. */
			while (w <= end && o + 6 < errlen)
				err[o++] = *w++;
		} else {
			err[o++] = *w++;
		}
	}
	if (errlen)
		err[o < errlen ? o : errlen - 1] = '\0';
	PQfreemem(why);
	return -EINVAL;
}

static void connect_start(struct pg *pg)
{
	const char *kw[] = {"dbname", "fallback_application_name", "options", NULL};
	const char *val[] = {pg->conninfo, pg->appname, pg->options, NULL};
	char why[256];
	/* Security review: libpq's parse errors quote the URI, password and
	 * all; report a redacted reason instead. */
	if (pg_conninfo_check(pg->conninfo, why, sizeof why) < 0) {
		pg->state = PG_CONNECTING;
		conn_lost(pg, why);
		return;
	}
	pg->conn = PQconnectStartParams(kw, val, 1);
	pg->state = PG_CONNECTING;
	if (!pg->conn || PQstatus(pg->conn) == CONNECTION_BAD) {
		conn_lost(pg, pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
		return;
	}
	/* libpq: start as if PQconnectPoll had said "writing". */
	io_watch(pg, PQsocket(pg->conn), EV_WRITE);
}

static void destroy(struct pg *pg)
{
	ev_io_stop(pg->loop, &pg->io);
	ev_timer_stop(pg->loop, &pg->retry);
	if (pg->conn)
		PQfinish(pg->conn);
	prepared_forget(pg);
	for (char **c = pg->listen; c && *c; c++)
		free(*c);
	free(pg->listen);
	free(pg->conninfo);
	free(pg->appname);
	free(pg->options);
	free(pg);
}

/* After every libev entry: free a handle that a callback asked to free. */
static void leave(struct pg *pg)
{
	if (--pg->depth == 0 && pg->dead)
		destroy(pg);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	struct pg *pg = w->data;
	pg->depth++;
	if (pg->state == PG_CONNECTING) {
		connect_poll(pg);
	} else if (pg->state == PG_UP && pg->broken) {
		pg->broken = false;
		conn_lost(pg, PQerrorMessage(pg->conn));
	} else if (pg->state == PG_UP) {
		if (revents & EV_WRITE)
			flush_out(pg, false);
		if (!pg->dead && pg->state == PG_UP && (revents & EV_READ))
			read_in(pg);
	}
	leave(pg);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct pg *pg = w->data;
	pg->depth++;
	connect_start(pg);
	leave(pg);
}

struct pg *pg_new(struct ev_loop *loop, const struct pg_config *cfg)
{
	struct pg *pg = xalloc(sizeof *pg);
	pg->loop = loop;
	pg->cfg = *cfg;
	pg->conninfo = xdup(cfg->conninfo ? cfg->conninfo : "");
	pg->appname = xdup(cfg->application_name ? cfg->application_name : "viralsup");
	if (!pg->cfg.statement_timeout_ms)
		pg->cfg.statement_timeout_ms = 30000;
	if (pg->cfg.statement_timeout_ms > 0 &&
	    asprintf(&pg->options, "-c statement_timeout=%d", pg->cfg.statement_timeout_ms) < 0)
		abort();
	if (pg->cfg.reconnect_min_ms <= 0)
		pg->cfg.reconnect_min_ms = 100;
	if (pg->cfg.reconnect_max_ms < pg->cfg.reconnect_min_ms)
		pg->cfg.reconnect_max_ms =
		    pg->cfg.reconnect_min_ms > 5000 ? pg->cfg.reconnect_min_ms : 5000;
	if (pg->cfg.max_pending <= 0)
		pg->cfg.max_pending = 10000;
	int n = 0;
	while (cfg->listen && cfg->listen[n])
		n++;
	pg->listen = xalloc(sizeof(char *) * (n + 1));
	for (int i = 0; i < n; i++)
		pg->listen[i] = xdup(cfg->listen[i]);
	pg->cfg.conninfo = pg->conninfo;
	pg->cfg.application_name = pg->appname;
	pg->cfg.listen = NULL;
	pg->reported = -1;
	pg->backoff_ms = pg->cfg.reconnect_min_ms;
	pg->io_fd = -1;
	ev_init(&pg->io, on_io);
	pg->io.data = pg;
	ev_init(&pg->retry, on_retry);
	pg->retry.data = pg;
	/* Connect from the loop, so no callback runs before pg_new() returns. */
	ev_timer_set(&pg->retry, 0, 0);
	ev_timer_start(pg->loop, &pg->retry);
	return pg;
}

void pg_free(struct pg *pg)
{
	if (!pg || pg->dead)
		return;
	pg->dead = true;
	io_watch(pg, -1, 0);
	ev_timer_stop(pg->loop, &pg->retry);
	pg->depth++;
	fail_all(pg, "PostgreSQL connection closed (pg_free)");
	pg->depth--;
	if (pg->depth == 0)
		destroy(pg);
}

int pg_query(struct pg *pg, const char *sql, int nparams, const char *const *params,
             pg_result_fn cb, void *arg)
{
	if (!pg || !sql || nparams < 0 || nparams > PG_MAX_PARAMS || (nparams && !params) ||
	    strlen(sql) > PG_MAX_SQL)
		return -EINVAL;
	if (pg->dead || pg->broken || pg->state != PG_UP)
		return -ENOTCONN;
	if (pg->npending >= pg->cfg.max_pending)
		return -ENOBUFS;
	enqueue(pg, sql, nparams, params, cb, arg);
	pump(pg, true); /* never runs a callback: failures are deferred */
	return 0;
}

bool pg_is_up(const struct pg *pg)
{
	return pg && !pg->dead && !pg->broken && pg->state == PG_UP;
}

PGconn *pg_conn_for_exit(struct pg *pg)
{
	return pg_is_up(pg) && pg->npending == 0 ? pg->conn : NULL;
}

int pg_pending(const struct pg *pg)
{
	return pg ? pg->npending : 0;
}

char *pg_text_array(const char *const *v, int n)
{
	size_t cap = 3;
	for (int i = 0; i < n; i++)
		cap += 2 * strlen(v[i]) + 3;
	char *arr = malloc(cap), *w = arr;
	if (!arr)
		abort();
	*w++ = '{';
	for (int i = 0; i < n; i++) {
		if (i)
			*w++ = ',';
		*w++ = '"';
		for (const char *s = v[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				*w++ = '\\';
			*w++ = *s;
		}
		*w++ = '"';
	}
	*w++ = '}';
	*w = '\0';
	return arr;
}
