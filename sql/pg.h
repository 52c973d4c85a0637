/*
 * Async PostgreSQL on libev: one connection, one query in flight, a FIFO
 * of pending queries behind it, LISTEN/NOTIFY delivery, and reconnection
 * with exponential backoff when the server goes away.
 *
 *   struct pg_config c = {.conninfo = url, .on_state = up_down, .arg = me};
 *   struct pg *pg = pg_new(loop, &c);          // starts connecting
 *   pg_query(pg, "SELECT $1::int + 1", 1, (const char *[]){"41"}, on_row, me);
 *
 * Every accepted query gets exactly one callback: with its result, or with
 * an error (SQL error, statement_timeout, connection lost, pg_free). While
 * the connection is down pg_query() refuses at once with -ENOTCONN and
 * calls nothing; the on_state callback says when it is back.
 */
#ifndef VIRALSUP_SQL_PG_H
#define VIRALSUP_SQL_PG_H

#include <ev.h>
#include <libpq-fe.h>
#include <stdbool.h>

struct pg;

/*
 * Result of one query. On success err is NULL and res is the result
 * (PGRES_TUPLES_OK or PGRES_COMMAND_OK); on failure err says why and res is
 * the error result or NULL. res is freed by pg after the callback returns.
 */
typedef void (*pg_result_fn)(struct pg *pg, PGresult *res, const char *err, void *arg);
/* A NOTIFY on a channel named in pg_config.listen. */
typedef void (*pg_notify_fn)(struct pg *pg, const char *channel, const char *payload, void *arg);
/* The connection came up (up = true) or went down (why says what happened). */
typedef void (*pg_state_fn)(struct pg *pg, bool up, const char *why, void *arg);

struct pg_config {
	const char *conninfo;         /* libpq conninfo or URL (copied) */
	const char *application_name; /* default "viralsup" */
	int statement_timeout_ms;     /* set on every connect; default 30000, <0 = none */
	int reconnect_min_ms;         /* backoff start, default 100 */
	int reconnect_max_ms;         /* backoff cap, default 5000 */
	int max_pending;              /* queue limit (-ENOBUFS beyond), default 10000 */
	const char *const *listen;    /* NULL-terminated channels to LISTEN on, or NULL */
	pg_state_fn on_state;         /* optional */
	pg_notify_fn on_notify;       /* optional */
	void *arg;                    /* passed to on_state and on_notify */
};

/* Starts connecting in the background; never NULL (aborts on OOM). */
struct pg *pg_new(struct ev_loop *loop, const struct pg_config *cfg);
/* Closes the connection; every pending query's callback runs with an error first. */
void pg_free(struct pg *pg);

/*
 * Queues a parameterised query (sql and params are copied). Returns 0 and
 * later calls cb exactly once; or -ENOTCONN (down), -ENOBUFS (queue full),
 * -EINVAL, without calling cb. cb may be NULL (fire and forget).
 */
int pg_query(struct pg *pg, const char *sql, int nparams, const char *const *params,
             pg_result_fn cb, void *arg);

bool pg_is_up(const struct pg *pg);
/*
 * For one last statement on the way out: the connection itself if it is up
 * with nothing in flight or queued, else NULL. Blocking libpq calls on it
 * are fine then (PQexec ignores nonblocking mode); afterwards only pg_free.
 * Saves the ~50 ms of opening a fresh connection when a process must exit fast.
 */
PGconn *pg_conn_for_exit(struct pg *pg);
/* Queries accepted and not yet answered (in flight + queued). */
int pg_pending(const struct pg *pg);

/*
 * A PostgreSQL array literal ({"a","b\"c"}) of n strings, every element
 * quoted and escaped, for passing a text[] as one parameter. malloc'd:
 * the caller frees it.
 */
char *pg_text_array(const char *const *v, int n);

/*
 * Checks that conninfo (keyword=value or URI) parses. Returns 0, or -EINVAL
 * with libpq's reason in err, every quoted part of it replaced by "..."
 * (libpq echoes the text it choked on, which may be the password or the
 * whole URI with it). Log err, never the conninfo itself.
 */
int pg_conninfo_check(const char *conninfo, char *err, size_t errlen);

#endif
