/*
 * Requests from the gateway and viralctl, batches, and periodic work.
 *
 *   BATCH_TRIGGER {source}    → REPLY {status, batch_id, pending_count, stuck_count,
 *                                total_jobs, completed_jobs, failed_jobs,
 *                                estimated_completion_time, last_processed_at}
 *   JOB_PROCESS {job_id}      → REPLY {job_id, queue_id, status} | ERROR {code, detail}
 *   JOB_CANCEL {job_id}       → REPLY {job_id, queue_id, status, previous_status} | ERROR
 *   JOB_RETRY {job_id}        → REPLY {job_id, queue_id, status} | ERROR
 *
 * The contract is the one in docs/API.md, "Gateway ↔ scheduler messages".
 * Replies go back on the requesting connection unless it closed meanwhile.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/scheduler/sched.h"

/* A request waiting for the database. */
struct pending_req {
	struct conn *conn; /* NULL once that connection closed */
	uint64_t re;
	enum msg_type type;
	char queue_id[QUEUE_UUID_LEN];
	char source[32];
	control_trigger_fn done; /* control_trigger: answered here instead of on conn */
	void *done_arg;
	struct pending_req *next;
	struct pending_req *wnext; /* in the waiters of a batch query */
};

static struct pending_req *reqs;

static struct pending_req *req_new(struct conn *c, const struct msg *m)
{
	struct pending_req *r = xcalloc(1, sizeof *r);
	r->conn = c;
	r->re = m->id;
	r->type = m->type;
	r->next = reqs;
	reqs = r;
	return r;
}

static void req_free(struct pending_req *r)
{
	if (r->done) /* freed without a batch answer: the database is not there */
		r->done(NULL, NULL, r->done_arg);
	for (struct pending_req **pp = &reqs; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r);
}

void control_conn_closed(struct conn *c)
{
	for (struct pending_req *r = reqs; r; r = r->next)
		if (r->conn == c)
			r->conn = NULL;
}

/* code: "not_found" | "conflict" | "unavailable" | "bad_request" (docs/API.md). */
static void reply_error(struct conn *c, uint64_t re, const char *code, const char *detail)
{
	struct msg_out out;
	if (!c)
		return;
	msg_out_init(&out, MSG_ERROR, re, 2);
	msg_put_str(&out, "code", code);
	msg_put_str(&out, "detail", detail);
	conn_send(c, &out);
	msg_out_free(&out);
}

bool sched_uuid_ok(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	}
	return true;
}

void sched_iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- batches --------------------------------------------------------------- */

static void reply_batch(struct pending_req *r, const char *status, const struct batch_info *b)
{
	struct msg_out out;
	char eta[32] = "";
	if (r->done) {
		r->done(status, b, r->done_arg);
		r->done = NULL;
		return;
	}
	if (!r->conn)
		return;
	if (strcmp(status, "no_jobs_pending") != 0) {
		int remaining = b->total - b->completed - b->failed;
		double per_job = b->avg_job_s > 0 ? b->avg_job_s : 5.0;
		double waves = (remaining + S.concurrency - 1) / S.concurrency;
		sched_iso_time(time(NULL) + (time_t)(waves * per_job + 0.5), eta, sizeof eta);
	}
	msg_out_init(&out, MSG_REPLY, r->re, 9);
	msg_put_str(&out, "status", status);
	msg_put_str(&out, "batch_id", b->batch_id[0] ? b->batch_id : NULL);
	msg_put_int(&out, "pending_count", b->pending);
	msg_put_int(&out, "stuck_count", b->stuck);
	msg_put_int(&out, "total_jobs", b->total);
	msg_put_int(&out, "completed_jobs", b->completed);
	msg_put_int(&out, "failed_jobs", b->failed);
	msg_put_str(&out, "estimated_completion_time", eta[0] ? eta : NULL);
	msg_put_str(&out, "last_processed_at",
	            b->last_processed_at[0] ? b->last_processed_at : NULL);
	conn_send(r->conn, &out);
	msg_out_free(&out);
}

/*
 * Triggers are coalesced: while one batch query is in flight, further
 * triggers wait for it and all get its answer (one batch, never duplicate
 * work); while a batch is open, a trigger is answered at once from the
 * batch's last known counts and the newly pending jobs join it in the
 * background. process-pending thus costs a query only when it opens a batch.
 */
static struct pending_req *waiters; /* linked through wnext, oldest first */
static bool trigger_inflight, join_inflight;
static struct batch_info cache; /* the open batch's last known counts */

static void waiters_answer(const struct batch_info *b, bool opened)
{
	struct pending_req *list = waiters;
	waiters = NULL;
	for (struct pending_req *r = list, *next; r; r = next) {
		next = r->wnext;
		if (!b)
			reply_error(r->conn, r->re, "unavailable", "database unavailable");
		else if (!b->batch_id[0])
			reply_batch(r, "no_jobs_pending", b);
		else
			reply_batch(
			    r, opened && r == list ? "processing_started" : "already_processing",
			    b);
		req_free(r);
	}
}

static void on_trigger_result(const struct batch_info *b, const char *err, void *arg);

static void trigger_query(void)
{
	int rc;
	trigger_inflight = true;
	if (S.batch_id[0])
		rc = batch_join_async(S.admin, S.batch_id, on_trigger_result, (void *)"join");
	else
		rc = batch_open_async(S.admin, waiters->source, S.owner, S.legacy_stuck_ms,
		                      on_trigger_result, (void *)"open");
	if (rc < 0) {
		trigger_inflight = false;
		waiters_answer(NULL, false);
	}
}

static void on_trigger_result(const struct batch_info *b, const char *err, void *arg)
{
	bool open = !strcmp(arg, "open");
	trigger_inflight = false;
	if (!b) {
		log_error("batch %s failed: %s", open ? "open" : "join", err ? err : "?");
		waiters_answer(NULL, false);
		return;
	}
	if (!open && b->finished) {
		/* It finished just now: these triggers start the next one. */
		S.batch_id[0] = '\0';
		trigger_query();
		return;
	}
	if (open && b->batch_id[0]) {
		strlcpy(S.batch_id, b->batch_id, sizeof S.batch_id);
		log_info("batch %s opened by %s: %d pending, %d stuck", b->batch_id,
		         waiters ? waiters->source : "?", b->pending, b->stuck);
	}
	if (b->batch_id[0])
		cache = *b;
	waiters_answer(b, open);
	sched_claim_soon();
}

static void on_background_join(const struct batch_info *b, const char *err, void *arg)
{
	(void)arg;
	join_inflight = false;
	if (!b) {
		log_warn("joining the open batch failed: %s", err ? err : "?");
		return;
	}
	if (!strcmp(b->batch_id, S.batch_id)) {
		cache = *b;
		if (b->finished)
			S.batch_id[0] = '\0';
	}
	sched_claim_soon();
}

/* Triggers that arrived while this scheduler's owner registration was in
 * flight (just after a start or restart): answered once it is done. */
static struct pending_req *owner_waiters; /* linked through wnext */

static void batch_trigger(struct pending_req *r);

void control_owner_known(void)
{
	if (S.owner <= 0 && S.owner_pending)
		return;
	struct pending_req *list = owner_waiters;
	owner_waiters = NULL;
	for (struct pending_req *r = list, *next; r; r = next) {
		next = r->wnext;
		r->wnext = NULL;
		batch_trigger(r);
	}
}

static void batch_trigger(struct pending_req *r)
{
	/* Just started: the database connection and the owner registration are
	 * a few milliseconds away; a trigger then waits for them (at most 5 s,
	 * see on_poll) rather than fail. */
	if (S.owner <= 0 && (S.owner_pending || ev_now(S.loop) - S.started_at < 5.0)) {
		r->wnext = owner_waiters;
		owner_waiters = r;
		return;
	}
	if (S.owner <= 0) {
		reply_error(r->conn, r->re, "unavailable",
		            "scheduler not connected to the database yet");
		req_free(r);
		return;
	}
	/* From memory only while jobs are visibly in flight here; when none
	 * are, the batch may have just finished and the query finds out. */
	if (S.batch_id[0] && S.njobs > 0 && !trigger_inflight &&
	    !strcmp(cache.batch_id, S.batch_id)) {
		reply_batch(r, "already_processing", &cache);
		req_free(r);
		if (!join_inflight &&
		    batch_join_async(S.admin, S.batch_id, on_background_join, NULL) == 0)
			join_inflight = true;
		return;
	}
	struct pending_req **pp = &waiters;
	while (*pp)
		pp = &(*pp)->wnext;
	*pp = r;
	if (!trigger_inflight)
		trigger_query();
}

static void on_batch_checked(const struct batch_info *b, const char *err, void *arg)
{
	(void)err;
	(void)arg;
	S.batch_check_inflight = false;
	if (S.batch_unconfirmed) {
		S.batch_unconfirmed = false;
		sched_claim_soon();
	}
	if (b && !strcmp(b->batch_id, cache.batch_id))
		cache = *b;
	if (b && b->finished && !strcmp(b->batch_id, S.batch_id)) {
		log_info("batch %s finished: %d completed, %d failed of %d", b->batch_id,
		         b->completed, b->failed, b->total);
		S.batch_id[0] = '\0';
	}
}

static bool resume_inflight;

static void on_batch_found(const struct batch_info *b, const char *err, void *arg)
{
	(void)arg;
	resume_inflight = false;
	if (!b) {
		log_warn("looking for an open batch failed: %s", err ? err : "?");
		return;
	}
	if (!b->batch_id[0] || S.batch_id[0] || trigger_inflight)
		return;
	strlcpy(S.batch_id, b->batch_id, sizeof S.batch_id);
	cache = *b;
	log_info("resuming open batch %s: %d completed, %d failed of %d", b->batch_id, b->completed,
	         b->failed, b->total);
	sched_claim_soon();
}

void control_batch_resume(void)
{
	if (!S.triggered || S.batch_id[0] || S.owner <= 0 || resume_inflight || trigger_inflight)
		return;
	if (batch_find_open_async(S.admin, on_batch_found, NULL) == 0)
		resume_inflight = true;
}

/* viralctl trigger: BATCH_TRIGGER's semantics, answered to done (see sched.h). */
void control_trigger(const char *source, control_trigger_fn done, void *arg)
{
	struct pending_req *r = xcalloc(1, sizeof *r);
	r->next = reqs;
	reqs = r;
	strlcpy(r->source, source, sizeof r->source);
	r->done = done;
	r->done_arg = arg;
	batch_trigger(r);
}

static void on_batch_check_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (!S.batch_id[0] || S.batch_check_inflight)
		return;
	if (batch_get_async(S.admin, S.batch_id, on_batch_checked, NULL) == 0)
		S.batch_check_inflight = true;
}

/* Called when a job leaves the table or a claim came back short. Checks
 * are coalesced: thousands of jobs finishing cost a few queries. */
void control_batch_maybe_done(void)
{
	if (!S.batch_id[0])
		return;
	if (S.njobs == 0 && S.triggered) {
		/* Possibly the end: ask now, and claim nothing until answered. */
		S.batch_unconfirmed = true;
		ev_timer_stop(S.loop, &S.batch_check_timer);
		on_batch_check_timer(S.loop, &S.batch_check_timer, 0);
		return;
	}
	if (ev_is_active(&S.batch_check_timer))
		return;
	ev_timer_set(&S.batch_check_timer, 0.2, 0);
	ev_timer_start(S.loop, &S.batch_check_timer);
}

/* --- single-job actions ------------------------------------------------------ */

static void reply_job(struct pending_req *r, const char *status, const char *previous)
{
	struct msg_out out;
	if (!r->conn)
		return;
	msg_out_init(&out, MSG_REPLY, r->re, previous ? 4 : 3);
	msg_put_str(&out, "queue_id", r->queue_id);
	msg_put_str(&out, "job_id", r->queue_id);
	msg_put_str(&out, "status", status);
	if (previous)
		msg_put_str(&out, "previous_status", previous);
	conn_send(r->conn, &out);
	msg_out_free(&out);
}

static void on_action(int rc, const char *status, const char *err, void *arg)
{
	struct pending_req *r = arg;
	char detail[160];

	if (rc == JOB_ACTION_ERROR) {
		log_error("job action on %s failed: %s", r->queue_id, err ? err : "?");
		reply_error(r->conn, r->re, "unavailable", "database unavailable");
	} else if (rc == JOB_ACTION_NOT_FOUND) {
		reply_error(r->conn, r->re, "not_found", "Queue entry not found");
	} else if (r->type == MSG_JOB_PROCESS) {
		if (rc == JOB_ACTION_WRONG_STATE) {
			reply_job(r, "already_processing", status);
		} else {
			/* Claim it out of turn, whatever the mode and the queue. */
			strlcpy(S.only_id, r->queue_id, sizeof S.only_id);
			sched_claim_soon();
			reply_job(r, "processing_started", status);
		}
	} else if (r->type == MSG_JOB_CANCEL) {
		if (rc == JOB_ACTION_WRONG_STATE) {
			snprintf(detail, sizeof detail, "Job is already %s", status);
			reply_error(r->conn, r->re, "conflict", detail);
		} else {
			struct job *j = job_find(r->queue_id);
			if (j)
				job_drop(j); /* its lease is void now: stop working on it */
			log_event(LOG_INFO, r->queue_id, "cancelled (was %s)", status);
			reply_job(r, "cancelled", status);
		}
	} else {
		if (rc == JOB_ACTION_WRONG_STATE) {
			snprintf(detail, sizeof detail,
			         "Only failed jobs can be retried (status: %s)", status);
			reply_error(r->conn, r->re, "conflict", detail);
		} else {
			reply_job(r, "pending", status);
			sched_claim_soon();
		}
	}
	req_free(r);
}

void control_on_msg(struct conn *c, const struct msg *m)
{
	struct pending_req *r;
	int rc;

	switch (m->type) {
	case MSG_BATCH_TRIGGER:
		r = req_new(c, m);
		if (msg_copy_str(m->body, "source", r->source, sizeof r->source) < 0)
			strlcpy(r->source, "api", sizeof r->source);
		batch_trigger(r);
		return;
	case MSG_JOB_PROCESS:
	case MSG_JOB_CANCEL:
	case MSG_JOB_RETRY:
		r = req_new(c, m);
		if ((msg_copy_str(m->body, "job_id", r->queue_id, sizeof r->queue_id) < 0 &&
		     msg_copy_str(m->body, "queue_id", r->queue_id, sizeof r->queue_id) < 0) ||
		    !sched_uuid_ok(r->queue_id)) {
			reply_error(c, m->id, "bad_request", "job_id must be a UUID");
			req_free(r);
			return;
		}
		if (m->type == MSG_JOB_PROCESS)
			rc = job_make_due_async(S.admin, r->queue_id, on_action, r);
		else if (m->type == MSG_JOB_CANCEL)
			rc = job_cancel_async(S.admin, r->queue_id, on_action, r);
		else
			rc = job_retry_async(S.admin, r->queue_id, on_action, r);
		if (rc < 0) {
			reply_error(c, m->id, "unavailable", "database unavailable");
			req_free(r);
		}
		return;
	default:
		log_warn("unexpected %s on scheduler.sock: closing", msg_type_name(m->type));
		conn_close(c, "protocol error: unexpected message type");
	}
}

/* --- periodic work ------------------------------------------------------------ */

static void on_reruns(long long n, const char *err, void *arg)
{
	(void)arg;
	if (n < 0)
		log_warn("auto re-run check failed: %s", err ? err : "?");
	else if (n > 0) {
		log_info("%lld completed jobs are due for their auto re-run", n);
		sched_claim_soon();
	}
}

static void on_pruned(long long n, const char *err, void *arg)
{
	(void)arg;
	if (n < 0)
		log_warn("event log pruning failed: %s", err ? err : "?");
	else if (n > 0)
		log_info("pruned %lld old job events", n);
}

static void on_fire(long long n, const char *err, void *arg)
{
	(void)arg;
	if (n < 0) {
		log_warn("schedule fire failed: %s", err ? err : "?");
		return;
	}
	if (n == 0)
		return; /* another node took this fire time */
	log_info("schedule fired: triggering a batch");
	struct pending_req *r = xcalloc(1, sizeof *r);
	r->next = reqs;
	reqs = r;
	strlcpy(r->source, "schedule", sizeof r->source);
	batch_trigger(r);
}

static void on_periodic(struct ev_loop *loop, ev_timer *w, int revents)
{
	static int ticks;
	(void)loop;
	(void)w;
	(void)revents;
	if (S.owner <= 0)
		return;
	reruns_requeue_async(S.admin, 256, on_reruns, NULL);
	if (ticks++ % 360 == 0) /* hourly at the 10 s tick */
		queue_prune_events_async(
		    S.admin,
		    (int)config_int(S.actor->config, "scheduler.event_retention_days") * 86400,
		    10000, on_pruned, NULL);
}

static void on_schedule(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	time_t now = time(NULL);
	if (S.owner > 0)
		schedule_fire_async(S.admin, "process-pending", S.schedule_s, S.owner, on_fire,
		                    NULL);
	/* Next fire on the interval's boundary, the same instant on every node. */
	ev_timer_set(w, S.schedule_s - now % S.schedule_s + 0.05, 0);
	ev_timer_start(loop, w);
}

void control_periodic(void)
{
	ev_timer_init(&S.batch_check_timer, on_batch_check_timer, 0.2, 0);
	ev_timer_init(&S.periodic_timer, on_periodic, 1.0, 10.0);
	ev_timer_start(S.loop, &S.periodic_timer);
	if (S.schedule_s > 0) {
		time_t now = time(NULL);
		ev_timer_init(&S.schedule_timer, on_schedule,
		              S.schedule_s - now % S.schedule_s + 0.05, 0);
		ev_timer_start(S.loop, &S.schedule_timer);
	}
}
