/*
 * viralsup-writer: every bulk write goes through here.
 *
 *   WRITE_CONTENT {job, account}  (fetchers)  → WRITE_ACK {ok, rows, error}
 *   WRITE_RESULT {job, run, lease, result}    → WRITE_ACK {ok, fenced, error}
 *       (analyzer)
 *
 * Content writes that arrive while a statement is running are grouped into
 * the next one (group commit): one round trip stores many accounts. If a
 * group fails, its documents are retried one by one so one bad document
 * cannot sink the others. A result is stored and its job completed in one
 * transaction, fenced by the job's lease token. Acks go out only after
 * COMMIT; a re-sent write is harmless (upserts, idempotent completion).
 *
 * While PostgreSQL is away, writes wait here (at most HOLD_S seconds, at
 * most HOLD_MAX of them) and go out when it is back, instead of failing
 * their jobs: an outage must cost time, not attempts.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"
#include "sql/pg.h"
#include "sql/queue.h"
#include "sql/store.h"

#define MAX_DOC  (4 * 1024 * 1024)
#define HOLD_S   50.0  /* under the senders' 60 s request deadline */
#define HOLD_MAX 20000 /* writes waiting for the database, at most */

struct write {
	struct conn *conn; /* NULL once the sender's connection closed */
	uint64_t re;
	char job[QUEUE_UUID_LEN];
	char lease[QUEUE_UUID_LEN]; /* results only */
	int run;                    /* results only */
	char *doc;                  /* JSON text */
	double since;               /* when it arrived (ev_now) */
	size_t len;
	struct write *next;
};

static struct {
	struct ev_loop *loop;
	struct pg *pg;         /* content upserts */
	struct pg *pg_results; /* result completions, in parallel with content */
	struct listener *listener;
	int batch_max;
	struct write *head, *tail;      /* content writes waiting for the next group */
	struct write *inflight;         /* the group being written */
	bool solo;                      /* retrying a failed group one by one */
	struct write *results;          /* result writes waiting for the next group */
	struct write *results_inflight; /* the group being completed */
	bool results_solo;              /* retrying a failed group one by one */
	uint64_t groups, docs, results_stored;
	int held; /* writes queued (both kinds) */
	ev_timer hold_timer;
} W;

static void write_free(struct write *w)
{
	W.held--;
	free(w->doc);
	free(w);
}

/* Puts a group that met a lost connection back at the head of its queue. */
static void requeue(struct write **head, struct write **tail, struct write *group)
{
	struct write *last = group;
	while (last->next)
		last = last->next;
	last->next = *head;
	*head = group;
	if (tail && !*tail)
		*tail = last;
}

static void ack(struct conn *c, uint64_t re, bool ok, bool fenced, long long rows,
                const char *error)
{
	struct msg_out out;
	if (!c)
		return;
	msg_out_init(&out, MSG_WRITE_ACK, re, 4);
	msg_put_bool(&out, "ok", ok);
	msg_put_bool(&out, "fenced", fenced);
	msg_put_int(&out, "rows", rows);
	msg_put_str(&out, "error", error);
	if (conn_send(c, &out) < 0)
		log_warn("ack to %s could not be queued", conn_peer(c));
	msg_out_free(&out);
}

/* --- content --------------------------------------------------------------- */

static void flush_content(void);

static void on_content_stored(long long rows, const char *err, void *arg)
{
	struct write *group = W.inflight, *next;
	(void)arg;
	W.inflight = NULL;
	if (err && group && !pg_is_up(W.pg)) {
		/* The database went away, not the documents: wait for it. */
		requeue(&W.head, &W.tail, group);
		return;
	}
	if (err && group && group->next) {
		/* Someone's document broke the group: write them one by one. */
		log_warn("group write failed (%s): retrying %s documents one by one", err, "its");
		struct write *tail = group;
		while (tail->next)
			tail = tail->next;
		tail->next = W.head;
		W.head = group;
		if (!W.tail)
			W.tail = tail;
		W.solo = true;
		flush_content();
		return;
	}
	for (struct write *w = group; w; w = next) {
		next = w->next;
		if (err)
			log_event(LOG_WARN, w->job, "content write failed: %s", err);
		ack(w->conn, w->re, !err, false, rows, err ? "database write failed" : NULL);
		write_free(w);
	}
	if (!err)
		W.groups++;
	flush_content();
}

static void flush_content(void)
{
	if (W.inflight || !W.head || !pg_is_up(W.pg))
		return;
	/* Take up to batch_max documents (one when retrying solo). */
	int max = W.solo ? 1 : W.batch_max, n = 0;
	size_t total = 2;
	struct write *last = NULL;
	for (struct write *w = W.head; w && n < max; w = w->next, n++) {
		total += w->len + 1;
		last = w;
	}
	W.inflight = W.head;
	W.head = last->next;
	if (!W.head) {
		W.tail = NULL;
		W.solo = false;
	}
	last->next = NULL;

	char *arr = xmalloc(total + 1), *p = arr;
	*p++ = '[';
	for (struct write *w = W.inflight; w; w = w->next) {
		if (w != W.inflight)
			*p++ = ',';
		memcpy(p, w->doc, w->len);
		p += w->len;
	}
	*p++ = ']';
	*p = '\0';
	W.docs += (uint64_t)n;
	if (store_accounts_async(W.pg, arr, on_content_stored, NULL) < 0)
		on_content_stored(-1, "database unavailable", NULL);
	free(arr);
}

static void on_write_content(struct conn *c, const struct msg *m)
{
	const char *doc;
	size_t len;
	json_error_t jerr;
	struct write *w = xcalloc(1, sizeof *w);

	w->conn = c;
	w->re = m->id;
	msg_copy_str(m->body, "job", w->job, sizeof w->job);
	if (msg_get_str(m->body, "account", &doc, &len) < 0 || len == 0 || len > MAX_DOC) {
		ack(c, m->id, false, false, 0, "WRITE_CONTENT needs an \"account\" JSON text");
		free(w);
		return;
	}
	/* Check the document before it can poison a group. */
	json_t *j = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
	bool ok = j && json_is_object(j) && json_is_string(json_object_get(j, "username")) &&
	          json_is_array(json_object_get(j, "reels")) &&
	          json_is_object(json_object_get(j, "profile"));
	json_decref(j);
	if (!ok) {
		log_event(LOG_WARN, w->job, "rejected a malformed account document");
		ack(c, m->id, false, false, 0, "malformed account document");
		free(w);
		return;
	}
	if (W.held >= HOLD_MAX) {
		ack(c, m->id, false, false, 0, "writer overloaded: too many writes waiting");
		free(w);
		return;
	}
	w->doc = xstrndup(doc, len);
	w->len = len;
	w->since = ev_now(W.loop);
	W.held++;
	if (W.tail)
		W.tail->next = w;
	else
		W.head = w;
	W.tail = w;
	flush_content();
}

/* --- results ------------------------------------------------------------------ */

/*
 * Results are group-committed like content: the results that arrive while
 * a completion statement runs are completed together by the next one. A
 * failed group is retried one by one, so one bad document costs only its
 * own job.
 */
static void flush_results(void);

static void result_ack(struct write *w, int rc, const char *err)
{
	if (rc == QUEUE_OK) {
		W.results_stored++;
		ack(w->conn, w->re, true, false, 1, NULL);
	} else if (rc == QUEUE_LOST_LEASE) {
		log_event(LOG_WARN, w->job, "result refused: lease no longer ours");
		ack(w->conn, w->re, false, true, 0, "lease lost: the job is held by another owner");
	} else {
		log_event(LOG_ERROR, w->job, "result write failed: %s", err ? err : "?");
		ack(w->conn, w->re, false, false, 0, "database write failed");
	}
}

static void on_results_stored(int n, const int *rc, const char *err, void *arg)
{
	struct write *group = W.results_inflight, *next;
	(void)arg;
	W.results_inflight = NULL;
	if (n < 0 && group && !pg_is_up(W.pg_results)) {
		requeue(&W.results, NULL, group);
		return;
	}
	if (n < 0 && group && group->next) {
		log_warn("result group failed (%s): retrying one by one", err ? err : "?");
		struct write *tail = group;
		while (tail->next)
			tail = tail->next;
		tail->next = W.results;
		W.results = group;
		W.results_solo = true;
		flush_results();
		return;
	}
	int i = 0;
	for (struct write *w = group; w; w = next, i++) {
		next = w->next;
		result_ack(w, n < 0 ? QUEUE_ERROR : i < n ? rc[i] : QUEUE_ERROR, err);
		write_free(w);
	}
	flush_results();
}

static void flush_results(void)
{
	struct queue_completion c[64];
	int max = W.results_solo ? 1 : W.batch_max < 64 ? W.batch_max : 64, n = 0;
	struct write *last = NULL;

	if (W.results_inflight || !W.results || !pg_is_up(W.pg_results))
		return;
	for (struct write *w = W.results; w && n < max; w = w->next, n++) {
		c[n] = (struct queue_completion){
		    .id = w->job, .token = w->lease, .run = w->run, .result = w->doc};
		last = w;
	}
	W.results_inflight = W.results;
	W.results = last->next;
	if (!W.results)
		W.results_solo = false;
	last->next = NULL;
	if (queue_complete_many_async(W.pg_results, n, c, on_results_stored, NULL) < 0)
		on_results_stored(-1, NULL, "database unavailable", NULL);
}

static void on_write_result(struct conn *c, const struct msg *m)
{
	int64_t run = 0;
	const char *doc;
	size_t len;
	struct write *w = xcalloc(1, sizeof *w);

	w->conn = c;
	w->re = m->id;
	if (msg_copy_str(m->body, "job", w->job, sizeof w->job) < 0 ||
	    msg_copy_str(m->body, "lease", w->lease, sizeof w->lease) < 0 ||
	    msg_get_int(m->body, "run", &run) < 0 || run < 1 || run > 1000000 ||
	    msg_get_str(m->body, "result", &doc, &len) < 0 || len > MAX_DOC) {
		ack(c, m->id, false, false, 0, "WRITE_RESULT needs job, lease, run and result");
		free(w);
		return;
	}
	if (W.held >= HOLD_MAX) {
		ack(c, m->id, false, false, 0, "writer overloaded: too many writes waiting");
		free(w);
		return;
	}
	w->doc = xstrndup(doc, len);
	w->run = (int)run;
	w->since = ev_now(W.loop);
	W.held++;
	/* Append: results complete in arrival order. */
	struct write **pp = &W.results;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
	flush_results();
}

/* --- connections ---------------------------------------------------------------- */

static void on_msg(struct conn *c, const struct msg *m, void *ud)
{
	(void)ud;
	switch (m->type) {
	case MSG_WRITE_CONTENT:
		on_write_content(c, m);
		break;
	case MSG_WRITE_RESULT:
		on_write_result(c, m);
		break;
	default:
		log_warn("unexpected %s on writer.sock: closing", msg_type_name(m->type));
		conn_close(c, "protocol error: unexpected message type");
	}
}

/* The sender went away: its writes still complete, their acks are dropped. */
static void on_close(struct conn *c, const char *reason, void *ud)
{
	(void)reason;
	(void)ud;
	struct write *lists[] = {W.head, W.inflight, W.results, W.results_inflight};
	for (int i = 0; i < 4; i++)
		for (struct write *w = lists[i]; w; w = w->next)
			if (w->conn == c)
				w->conn = NULL;
}

static const struct conn_ops ops = {.on_msg = on_msg, .on_close = on_close};

static void on_pg_state(struct pg *pg, bool up, const char *why, void *arg)
{
	(void)arg;
	if (up) {
		log_info("database up (%s)", pg == W.pg ? "content" : "results");
		flush_content();
		flush_results();
	} else {
		log_warn("database down: %s", why ? why : "?");
	}
}

/* Writes that waited too long for the database fail now, so their senders
 * hear it before their own deadline. */
static void expire_queue(struct write **head, struct write **tail)
{
	double now = ev_now(W.loop);
	struct write *prev = NULL;
	for (struct write *w = *head, *next; w; w = next) {
		next = w->next;
		if (now - w->since < HOLD_S) {
			prev = w;
			continue;
		}
		if (prev)
			prev->next = next;
		else
			*head = next;
		if (tail && *tail == w)
			*tail = prev;
		log_event(LOG_WARN, w->job, "write waited %.0f s for the database: giving up",
		          now - w->since);
		ack(w->conn, w->re, false, false, 0, "database unavailable");
		write_free(w);
	}
}

static void on_hold_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	expire_queue(&W.head, &W.tail);
	expire_queue(&W.results, NULL);
}

int main(int argc, char **argv)
{
	struct actor a;
	actor_init(&a, "writer", argc, argv);
	W.loop = a.loop;
	W.batch_max = (int)config_int(a.config, "writer.batch_max");
	const char *url = config_str(a.config, "database.url");
	if (!*url) {
		log_error("database.url (DATABASE_URL) is not set");
		return EXIT_PERMANENT;
	}
	struct pg_config pc = {
	    .conninfo = url,
	    .application_name = "viralsup-writer",
	    .statement_timeout_ms = 60000,
	    .reconnect_max_ms = 1000, /* writes are waiting: come back soon */
	    .on_state = on_pg_state,
	};
	W.pg = pg_new(W.loop, &pc);
	pc.application_name = "viralsup-writer-results";
	W.pg_results = pg_new(W.loop, &pc);
	ev_timer_init(&W.hold_timer, on_hold_timer, 1.0, 1.0);
	ev_timer_start(W.loop, &W.hold_timer);
	char *path = actor_socket_path(&a, "writer");
	W.listener = listener_new(W.loop, path, 256, &ops, NULL, NULL);
	if (!W.listener) {
		log_error("cannot listen on %s: %s", path, strerror(errno));
		free(path);
		return EXIT_TEMPORARY;
	}
	free(path);
	actor_ready(&a);
	int code = actor_run(&a);
	listener_free(W.listener);
	pg_free(W.pg); /* pending writes fail: their senders re-send after restart */
	pg_free(W.pg_results);
	actor_cleanup(&a);
	return code;
}
