/*
 * One job's life inside the scheduler (see docs/ARCHITECTURE.md, "Jobs"):
 *
 *   claimed ─► FETCHING: one FETCH_ACCOUNT per account, all at once
 *                │  primary permanent failure ─► fail
 *                │  any transient failure ─────► release (backoff)
 *                ▼  all accounts settled
 *            ANALYZING: one ANALYZE_JOB; the analyzer's writer completes
 *                │  the job in PostgreSQL (fenced by our lease token)
 *                ▼
 *              done ─► dropped from the table
 *
 * A worker that dies with our request in flight (docs/RELIABILITY.md, "Blame"):
 *   - among other jobs' units: no strike; the job is marked crash_suspect
 *     (in the database too) and its units are re-sent at once, from now on
 *     to a worker dedicated to it ("alone");
 *   - alone: the death is the job's own if the worker crashed (a fault signal,
 *     an exit) or hung (the watchdog's kill): a strike (queue_rescue, counted
 *     in the database, so a poison job fails after the cap even across
 *     restarts). A SIGKILL from outside (an operator, the OOM killer, chaos)
 *     is nobody's fault: the unit is re-sent, alone still, with no strike.
 *     The cause comes from the supervisor (PEER_DOWN); without word from it
 *     within 2 s the death counts as a crash.
 * A worker that does not answer in time is marked slow (no new units until
 * it answers a PING) and the unit goes to another worker; a late reply is
 * dropped by the connection. The supervisor's watchdog kills a hung worker.
 * A fetcher knows our timeout (FETCH_ACCOUNT's deadline_ms) and answers a
 * provider that would keep it longer with a transient FETCH_DONE in time:
 * the account's failure, released like any transient one, and the fetcher
 * is not slow.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actors/scheduler/sched.h"

static const char *const initial_steps[] = {
    "Starting analysis run #%d...",  "Fetching primary + competitor profiles in parallel...",
    "Running parallel API calls...", "Selecting top performing reels...",
    "Starting AI analysis...",
};
static const char *const recurring_steps[] = {
    "Starting analysis run #%d...",
    "Discovering newly posted reels in parallel...",
    "Selecting top performing new content...",
    "Processing new transcripts...",
    "Analyzing new trends with AI...",
};

struct job *job_find(const char *id)
{
	for (struct job *j = S.jobs; j; j = j->next)
		if (!strcmp(j->id, id))
			return j;
	return NULL;
}

static void job_free(struct job *j)
{
	for (int i = 0; i < j->naccounts; i++)
		free(j->accounts[i]);
	free(j->accounts);
	free(j->acct);
	free(j->since);
	free(j->session_id);
	free(j->strategy);
	free(j->batch_id);
	free(j);
}

void job_unref(struct job *j)
{
	if (--j->refs == 0)
		job_free(j);
}

/* Removes j from the table; replies still in flight for it are dropped. */
void job_drop(struct job *j)
{
	if (j->gone)
		return;
	for (struct job **pp = &S.jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	j->gone = true;
	S.njobs--;
	job_unref(j);
	control_batch_maybe_done();
	sched_claim_soon();
}

/*
 * Progress writes are coalesced: a job's latest step waits a few
 * milliseconds, then the progress of every job that moved is written in
 * one statement. Steps superseded within that window are never visible
 * anyway; one round trip per job per step would cap the pipeline.
 */
static void progress_flush(void);

static void on_progress_written(int rc, const char *err, void *arg)
{
	(void)arg;
	S.progress_inflight = false;
	if (rc == QUEUE_ERROR)
		log_warn("progress write failed: %s", err ? err : "?");
	if (S.dirty && !ev_is_active(&S.progress_timer))
		ev_timer_start(S.loop, &S.progress_timer);
}

static void progress_flush(void)
{
	int n = 0, cap = 0;
	const char **ids = NULL, **tokens = NULL, **steps = NULL;
	int *pcts = NULL;
	struct job *list = S.dirty;

	if (S.progress_inflight || !list)
		return;
	S.dirty = NULL;
	for (struct job *j = list; j; j = j->dirty_next)
		cap++;
	ids = xcalloc((size_t)cap, sizeof *ids);
	tokens = xcalloc((size_t)cap, sizeof *tokens);
	steps = xcalloc((size_t)cap, sizeof *steps);
	pcts = xcalloc((size_t)cap, sizeof *pcts);
	for (struct job *j = list; j; j = j->dirty_next) {
		if (j->gone)
			continue;
		ids[n] = j->id;
		tokens[n] = j->token;
		steps[n] = j->step_text;
		pcts[n] = j->pct;
		n++;
	}
	if (n > 0 && queue_progress_many_async(S.pg, n, ids, tokens, pcts, steps,
	                                       on_progress_written, NULL) == 0)
		S.progress_inflight = true;
	free(ids);
	free(tokens);
	free(steps);
	free(pcts);
	for (struct job *j = list, *next; j; j = next) {
		next = j->dirty_next;
		j->dirty = false;
		job_unref(j);
	}
}

static void on_progress_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	progress_flush();
}

void progress_init(void)
{
	ev_timer_init(&S.progress_timer, on_progress_timer, 0.005, 0);
}

static void progress(struct job *j, int pct, const char *step)
{
	j->pct = pct;
	strlcpy(j->step_text, step, sizeof j->step_text);
	if (!j->dirty) {
		j->dirty = true;
		j->refs++;
		j->dirty_next = S.dirty;
		S.dirty = j;
	}
	if (!S.progress_inflight && !ev_is_active(&S.progress_timer))
		ev_timer_start(S.loop, &S.progress_timer);
}

static void step_text(struct job *j, int i, char *buf, size_t len)
{
	const char *fmt = (j->recurring ? recurring_steps : initial_steps)[i];
	snprintf(buf, len, fmt, j->run);
}

/* --- terminal transitions ------------------------------------------------ */

static void on_terminal(int rc, const char *err, void *arg)
{
	struct job *j = arg;
	if (rc == QUEUE_ERROR) {
		log_event(LOG_ERROR, j->id, "queue update failed: %s", err ? err : "?");
		S.lost_update = true;
	} else if (rc == QUEUE_LOST_LEASE)
		log_event(LOG_WARN, j->id, "lease lost before the update; another owner has it");
	job_unref(j);
}

static void job_fail(struct job *j, const char *why)
{
	log_event(LOG_WARN, j->id, "failing job: %s", why);
	S.failed++;
	j->refs++;
	if (queue_fail_async(S.pg, j->id, j->token, why, on_terminal, j) < 0) {
		job_unref(j); /* database down: the lease expires and the job is reclaimed */
		S.lost_update = true; /* database down: see sched.h */
	}
	job_drop(j);
}

static void job_release(struct job *j, const char *why)
{
	log_event(LOG_INFO, j->id, "releasing job for a retry: %s", why);
	S.released++;
	j->refs++;
	if (queue_release_async(S.pg, j->id, j->token, why, 1000, 60000, on_terminal, j) < 0) {
		job_unref(j);
		S.lost_update = true; /* database down: see sched.h */
	}
	job_drop(j);
}

static void on_rescued(int rc, const char *err, void *arg)
{
	struct job *j = arg;
	if (rc == QUEUE_GAVE_UP)
		log_event(LOG_WARN, j->id, "poison job failed after the rescue cap");
	on_terminal(rc, err, arg);
	sched_claim_soon();
}

/* A strike: the worker running this job's unit alone died. Counted in the
 * database (the job goes back to pending, or fails past the cap) and the
 * claim loop picks it up again at once. */
static void job_rescue(struct job *j, const char *why)
{
	log_event(LOG_WARN, j->id, "strike: %s", why);
	S.rescued++;
	j->refs++;
	if (queue_rescue_async(S.pg, j->id, j->token, why, S.rescue_cap, on_rescued, j) < 0) {
		job_unref(j);
		S.lost_update = true; /* database down: see sched.h */
	}
	job_drop(j);
}

static void on_suspected(int rc, const char *err, void *arg)
{
	if (rc == QUEUE_ERROR)
		log_warn("recording a crash suspect failed: %s", err ? err : "?");
	job_unref(arg);
}

/* No strike: a worker died while this job's unit was there among others'.
 * From now on the job's units run alone, here and after any reclaim. */
static void job_suspect(struct job *j, const char *why)
{
	if (j->isolate)
		return;
	log_event(LOG_INFO, j->id, "%s: no strike, its units run alone from now on", why);
	j->isolate = true;
	j->refs++;
	if (queue_suspect_async(S.pg, j->id, j->token, why, on_suspected, j) < 0)
		job_unref(j); /* in memory still; the next death would be in company again */
}

/* --- dispatch -------------------------------------------------------------- */

static void unit_enqueue(struct unit *u, bool front)
{
	u->next = NULL;
	if (front) {
		u->next = S.queue_head;
		S.queue_head = u;
		if (!S.queue_tail)
			S.queue_tail = u;
	} else {
		if (S.queue_tail)
			S.queue_tail->next = u;
		else
			S.queue_head = u;
		S.queue_tail = u;
	}
	S.queued++;
}

/* The live worker of role with the most free slots. alone: a unit of a suspect
 * job, which goes only to an idle worker or one already dedicated to its job;
 * a worker dedicated to a job takes nothing else. A slow worker takes nothing. */
static struct worker *worker_pick(const char *role, struct job *alone)
{
	struct worker *best = NULL;
	for (struct worker *w = S.workers; w; w = w->next) {
		if (w->dead || w->slow || strcmp(w->role, role) || w->inflight >= w->slots)
			continue;
		if (w->alone_job ? w->alone_job != alone : alone && w->inflight > 0)
			continue;
		if (!best || w->slots - w->inflight > best->slots - best->inflight)
			best = w;
	}
	return best;
}

static void on_unit_reply(struct conn *c, const struct msg *reply, int err, void *arg);

static int unit_send(struct unit *u, struct worker *w)
{
	struct job *j = u->job;
	struct msg_out out;
	int r;

	if (u->account >= 0) {
		msg_out_init(&out, MSG_FETCH_ACCOUNT, 0, 6);
		msg_put_str(&out, "job", j->id);
		msg_put_int(&out, "run", j->run);
		msg_put_str(&out, "username", j->accounts[u->account]);
		msg_put_str(&out, "role", u->account == 0 ? "primary" : "competitor");
		msg_put_int(&out, "since", j->since ? j->since[u->account] : 0);
		/* What we wait: the fetcher keeps its provider retries inside it
		 * and answers a transient failure in time rather than late. */
		msg_put_int(&out, "deadline_ms", (int64_t)(S.fetch_timeout_s * 1000));
		r = conn_request(w->conn, &out, S.fetch_timeout_s, on_unit_reply, u);
	} else {
		int64_t since = 0;
		msg_out_init(&out, MSG_ANALYZE_JOB, 0, 9);
		msg_put_str(&out, "job", j->id);
		msg_put_int(&out, "run", j->run);
		msg_put_str(&out, "lease", j->token);
		msg_put_int(&out, "owner", S.owner);
		msg_put_str(&out, "analysis_type", j->recurring ? "recurring" : "initial");
		msg_put_str(&out, "primary", j->accounts[0]);
		msg_put_key(&out, "competitors");
		int ok = 0;
		for (int i = 1; i < j->naccounts; i++)
			ok += j->acct[i] == ACCT_OK;
		msgpack_pack_array(&out.pk, (size_t)ok);
		for (int i = 1; i < j->naccounts; i++)
			if (j->acct[i] == ACCT_OK)
				msg_pack_str(&out.pk, j->accounts[i]);
		msg_put_str(&out, "content_strategy", j->strategy ? j->strategy : "{}");
		for (int i = 0; j->since && i < j->naccounts; i++)
			if (j->since[i] > 0 && (since == 0 || j->since[i] < since))
				since = j->since[i];
		msg_put_int(&out, "since", j->recurring ? since : 0);
		r = conn_request(w->conn, &out, S.analyze_timeout_s, on_unit_reply, u);
	}
	msg_out_free(&out);
	if (r == 0) {
		u->worker = w;
		w->inflight++;
		if (u->alone)
			w->alone_job = j;
		strlcpy(j->holder, w->name, sizeof j->holder);
		if (u->account >= 0)
			j->acct[u->account] = ACCT_INFLIGHT;
	}
	return r;
}

/* Sends queued units into free worker slots, oldest first. */
void dispatch_pump(void)
{
	struct unit *prev = NULL, *u = S.queue_head;
	/* Once a unit that must run alone waits for an idle worker of its role,
	 * later units of that role wait behind it: otherwise a busy worker
	 * never drains. */
	bool held[2] = {false, false}; /* fetcher, analyzer */
	while (u) {
		struct unit *next = u->next;
		if (u->job->gone) {
			/* The job ended while this unit waited. */
			if (prev)
				prev->next = next;
			else
				S.queue_head = next;
			if (S.queue_tail == u)
				S.queue_tail = prev;
			S.queued--;
			job_unref(u->job);
			free(u);
			u = next;
			continue;
		}
		int role = u->account < 0;
		u->alone = u->job->isolate;
		struct worker *w = NULL;
		if (!held[role] || u->alone)
			w = worker_pick(role ? "analyzer" : "fetcher", u->alone ? u->job : NULL);
		if (!w || unit_send(u, w) < 0) {
			held[role] |= u->alone;
			prev = u;
			u = next;
			continue;
		}
		if (prev)
			prev->next = next;
		else
			S.queue_head = next;
		if (S.queue_tail == u)
			S.queue_tail = prev;
		S.queued--;
		u = next;
	}
}

static void unit_new(struct job *j, int account)
{
	struct unit *u = xcalloc(1, sizeof *u);
	u->job = j;
	u->account = account;
	j->refs++;
	unit_enqueue(u, false);
}

/* --- phases ----------------------------------------------------------------- */

static void analyze_phase(struct job *j)
{
	char step[128];
	j->step = STEP_ANALYZING;
	if (j->recurring) {
		step_text(j, 2, step, sizeof step);
		progress(j, 50, step);
		step_text(j, 3, step, sizeof step);
		progress(j, 70, step);
	} else {
		step_text(j, 3, step, sizeof step);
		progress(j, 60, step);
	}
	step_text(j, 4, step, sizeof step);
	progress(j, 85, step);
	unit_new(j, -1);
	dispatch_pump();
}

static void fetch_phase(struct job *j)
{
	char step[128];
	step_text(j, 1, step, sizeof step);
	progress(j, 20, step);
	if (!j->recurring) {
		step_text(j, 2, step, sizeof step);
		progress(j, 30, step);
	}
	for (int i = 0; i < j->naccounts; i++)
		unit_new(j, i);
	dispatch_pump();
}

static void on_newest(int n, char **names, int64_t *newest, const char *err, void *arg)
{
	struct job *j = arg;
	if (!j->gone) {
		if (n < 0)
			log_event(LOG_WARN, j->id, "newest reels lookup failed (%s): full fetch",
			          err ? err : "?");
		for (int k = 0; k < n; k++)
			for (int i = 0; i < j->naccounts; i++)
				if (!strcmp(names[k], j->accounts[i]))
					j->since[i] = newest[k];
		fetch_phase(j);
	}
	job_unref(j);
}

void job_start(struct queue_job *q)
{
	struct job *j = xcalloc(1, sizeof *j);
	char step[128];

	j->refs = 1;
	strlcpy(j->id, q->id, sizeof j->id);
	strlcpy(j->token, q->lease_token, sizeof j->token);
	j->session_id = xstrdup(q->session_id ? q->session_id : "");
	j->strategy = xstrdup(q->content_strategy ? q->content_strategy : "{}");
	j->batch_id = q->batch_id ? xstrdup(q->batch_id) : NULL;
	j->run = q->analysis_run;
	j->attempts = q->attempts;
	/* A worker died with it before: its units run alone, so that a death
	 * is charged (rescues, cap) to the job that caused it and never to the
	 * jobs that happened to share the worker with it. */
	j->isolate = q->crash_suspect || q->rescues > 0;
	j->recurring = q->analysis_run > 1;
	j->naccounts = 1 + q->ncompetitors;
	j->accounts = xcalloc((size_t)j->naccounts, sizeof *j->accounts);
	j->acct = xcalloc((size_t)j->naccounts, sizeof *j->acct);
	j->since = xcalloc((size_t)j->naccounts, sizeof *j->since);
	j->accounts[0] = xstrdup(q->primary_username);
	for (int i = 0; i < q->ncompetitors; i++)
		j->accounts[i + 1] = xstrdup(q->competitors[i]);
	j->started = ev_now(S.loop);
	j->next = S.jobs;
	S.jobs = j;
	S.njobs++;
	S.claimed++;
	log_event(LOG_INFO, j->id, "claimed run %d of @%s with %d competitors (attempt %d%s)",
	          j->run, j->accounts[0], q->ncompetitors, q->attempts,
	          q->reclaimed ? ", reclaimed" : "");

	step_text(j, 0, step, sizeof step);
	progress(j, 10, step);
	if (j->recurring) {
		/* Fetch only what is newer than what we already store. */
		j->refs++;
		if (content_newest_async(S.pg, (const char *const *)j->accounts, j->naccounts,
		                         on_newest, j) < 0) {
			job_unref(j);
			fetch_phase(j);
		}
	} else {
		fetch_phase(j);
	}
}

/* --- replies ------------------------------------------------------------------ */

static void fetch_done(struct job *j, int account, const struct msg *reply)
{
	bool ok = false;
	const char *cls = NULL;
	char error[512] = "unknown error";
	size_t clen = 0;
	int64_t transcripts = 0;
	const char *user = j->accounts[account];

	if (reply->type != MSG_FETCH_DONE || msg_get_bool(reply->body, "ok", &ok) < 0) {
		job_release(j, "malformed reply from a fetcher");
		return;
	}
	msg_copy_str(reply->body, "error", error, sizeof error);
	msg_get_str(reply->body, "class", &cls, &clen);
	if (ok) {
		msg_get_int(reply->body, "transcripts", &transcripts);
		j->transcripts += (int)transcripts;
		j->acct[account] = ACCT_OK;
	} else if (clen == 9 && !memcmp(cls, "permanent", 9)) {
		char why[700];
		j->acct[account] = ACCT_FAILED;
		if (account == 0) {
			snprintf(why, sizeof why, "Failed to fetch primary profile @%s: %s", user,
			         error);
			job_fail(j, why);
			return;
		}
		log_event(LOG_INFO, j->id, "competitor @%s failed: %s", user, error);
		competitor_mark_async(S.pg, j->id, j->token, user, "failed", error);
	} else {
		char why[700];
		snprintf(why, sizeof why, "fetching @%s: %s", user, error);
		job_release(j, why);
		return;
	}
	if (++j->settled == j->naccounts)
		analyze_phase(j);
}

static void analyze_done(struct job *j, const struct msg *reply)
{
	bool ok = false, fenced = false;
	const char *cls = NULL;
	size_t clen = 0;
	char error[512] = "unknown error";

	if (reply->type != MSG_ANALYZE_DONE || msg_get_bool(reply->body, "ok", &ok) < 0) {
		job_release(j, "malformed reply from the analyzer");
		return;
	}
	msg_get_bool(reply->body, "fenced", &fenced);
	msg_copy_str(reply->body, "error", error, sizeof error);
	msg_get_str(reply->body, "class", &cls, &clen);
	if (ok) {
		S.completed++;
		log_event(LOG_INFO, j->id, "completed run %d in %.3f s", j->run,
		          ev_now(S.loop) - j->started);
		job_drop(j);
	} else if (fenced) {
		log_event(LOG_WARN, j->id, "result refused: the lease moved to another owner");
		job_drop(j);
	} else if (clen == 9 && !memcmp(cls, "permanent", 9)) {
		job_fail(j, error);
	} else {
		job_release(j, error);
	}
}

static void on_probe(struct conn *c, const struct msg *reply, int err, void *arg);

/* Asks a slow worker whether its loop runs again (any connection answers PING). */
static void worker_probe(struct worker *w)
{
	struct msg_out out;
	if (w->probing || w->dead)
		return;
	msg_out_init(&out, MSG_PING, 0, 0);
	if (conn_request(w->conn, &out, 1.0, on_probe, w) == 0)
		w->probing = true;
	msg_out_free(&out);
}

static void on_probe(struct conn *c, const struct msg *reply, int err, void *arg)
{
	struct worker *w = arg; /* valid: a dead worker's requests fail before it is freed */
	(void)c;
	(void)reply;
	w->probing = false;
	if (err == -ECONNRESET)
		return;
	if (err == 0) {
		log_info("%s answers again: it takes new units", w->name);
		w->slow = false;
		dispatch_pump();
		return;
	}
	worker_probe(w);
}

/* Puts a unit back at the head of the queue, for another worker. */
static void unit_requeue(struct unit *u)
{
	if (u->account >= 0)
		u->job->acct[u->account] = ACCT_WAITING;
	u->worker = NULL;
	unit_enqueue(u, true);
}

/* --- blame ------------------------------------------------------------------ */

static void unit_finish(struct unit *u)
{
	job_unref(u->job);
	free(u);
	dispatch_pump();
}

/* Decides a dead alone worker's unit once the cause of death is known. */
static void verdict_apply(struct unit *u, const char *worker, const char *cause)
{
	struct job *j = u->job;
	char why[256];
	const char *what = u->account >= 0 ? "fetching for this job" : "analysing this job";
	if (j->gone) {
		unit_finish(u);
		return;
	}
	if (!strncmp(cause, "signal 9 ", 9)) {
		/* Killed from outside: not the job's doing. Bounded, so a job that
		 * somehow gets its worker killed every time still ends. */
		if (++j->kills <= 10) {
			log_event(LOG_WARN, j->id,
			          "%s was killed (%s) while %s alone: no strike, "
			          "re-dispatching",
			          worker, cause, what);
			unit_requeue(u);
			dispatch_pump();
			return;
		}
		snprintf(why, sizeof why, "%s killed %d times while %s alone", worker, j->kills,
		         what);
		job_release(j, why);
		unit_finish(u);
		return;
	}
	snprintf(why, sizeof why, "%s died while %s alone: %s", worker, what, cause);
	job_rescue(j, why);
	unit_finish(u);
}

static void on_verdict_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	double now = ev_now(loop);
	for (struct verdict **pp = &S.verdicts; *pp;) {
		struct verdict *v = *pp;
		if (now - v->since < 2.0) {
			pp = &v->next;
			continue;
		}
		*pp = v->next;
		verdict_apply(v->unit, v->worker, "no word from the supervisor on why");
		free(v);
	}
	if (S.verdicts) {
		ev_timer_set(&S.verdict_timer, 0.5, 0);
		ev_timer_start(loop, &S.verdict_timer);
	}
}

/* The cause of pid's death if the supervisor already reported it, else NULL. */
static const char *death_cause(int pid)
{
	for (unsigned i = 0; i < sizeof S.deaths / sizeof S.deaths[0]; i++)
		if (S.deaths[i].pid == pid && pid > 0 && ev_now(S.loop) - S.deaths[i].at < 10)
			return S.deaths[i].reason;
	return NULL;
}

static void verdict_await(struct unit *u, struct worker *w)
{
	const char *cause = w ? death_cause(w->pid) : NULL;
	if (cause) {
		verdict_apply(u, w->name, cause);
		return;
	}
	struct verdict *v = xcalloc(1, sizeof *v);
	v->unit = u;
	v->pid = w ? w->pid : 0;
	strlcpy(v->worker, w ? w->name : "a worker", sizeof v->worker);
	v->since = ev_now(S.loop);
	v->next = S.verdicts;
	S.verdicts = v;
	if (!ev_is_active(&S.verdict_timer)) {
		ev_timer_init(&S.verdict_timer, on_verdict_timer, 2.0, 0);
		ev_timer_start(S.loop, &S.verdict_timer);
	}
}

void job_worker_died(int pid, const char *reason)
{
	unsigned k = S.ndeaths++ % (sizeof S.deaths / sizeof S.deaths[0]);
	S.deaths[k].pid = pid;
	strlcpy(S.deaths[k].reason, reason, sizeof S.deaths[k].reason);
	S.deaths[k].at = ev_now(S.loop);
	for (struct verdict **pp = &S.verdicts; *pp;) {
		struct verdict *v = *pp;
		if (v->pid != pid || pid <= 0) {
			pp = &v->next;
			continue;
		}
		*pp = v->next;
		verdict_apply(v->unit, v->worker, reason);
		free(v);
	}
}

static void on_unit_reply(struct conn *c, const struct msg *reply, int err, void *arg)
{
	struct unit *u = arg;
	struct job *j = u->job;
	struct worker *w = u->worker;
	const char *what = u->account >= 0 ? "fetching for this job" : "analysing this job";
	char why[256];

	(void)c;
	if (w && --w->inflight == 0)
		w->alone_job = NULL;
	if (j->gone) {
		/* Finished, failed or lost meanwhile: nothing to do with this reply. */
	} else if (err == -ECONNRESET) {
		/* The worker died with our request: re-dispatch now, no lease wait. */
		if (w)
			w->dead = true;
		if (u->alone) {
			verdict_await(u, w);
			return;
		}
		snprintf(why, sizeof why, "%s died while %s among other jobs",
		         w ? w->name : "a worker", what);
		job_suspect(j, why);
		unit_requeue(u);
		dispatch_pump();
		return;
	} else if (err == -ETIMEDOUT) {
		snprintf(why, sizeof why, "%s did not answer in time while %s",
		         w ? w->name : "a worker", what);
		if (w && !w->slow) {
			log_warn("%s did not answer in time: no new units until it answers",
			         w->name);
			w->slow = true;
			worker_probe(w);
		}
		if (++j->timeouts <= 2) {
			log_event(LOG_WARN, j->id, "%s: re-dispatching to another worker", why);
			unit_requeue(u);
			dispatch_pump();
			return;
		}
		job_release(j, why);
	} else if (u->account >= 0) {
		fetch_done(j, u->account, reply);
	} else {
		analyze_done(j, reply);
	}
	job_unref(j);
	free(u);
	dispatch_pump();
}
