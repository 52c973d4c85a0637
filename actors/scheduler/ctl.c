/*
 * The scheduler's answers to CONTROL commands viralctl sends to the
 * supervisor, which forwards every command it does not know over our
 * parent channel and relays our CONTROL_REPLY {ok, error, code, data}.
 *
 *   scheduler               this scheduler: database, workers, counters, pause
 *   jobs {all, n}           jobs in flight here (memory); all: + n recent finished (SQL)
 *   queue                   counts, due, stuck, oldest pending, current batch + ETA (SQL)
 *   job {id}                one job: row, event history, competitors, results (SQL)
 *   trigger                 a batch, exactly like BATCH_TRIGGER (control.c)
 *   process|cancel|retry {id}   like JOB_PROCESS / JOB_CANCEL / JOB_RETRY
 *   pause | resume          stop / restart claiming; jobs in flight finish
 *
 * Data is built as jansson values (SQL answers arrive as JSON documents)
 * and packed as msgpack. Error codes: bad_request, unknown_command,
 * unknown_job, conflict, unavailable. docs/viralctl.md is the user's view.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/scheduler/sched.h"
#include "sql/ctl.h"

/* Newest finished jobs `jobs --all` shows by default, and at most. */
#define RECENT_DEFAULT 20
#define RECENT_MAX     1000

/* One command waiting for the database. */
struct ctl_req {
	uint64_t re;
	char cmd[16];
	char id[QUEUE_UUID_LEN];
	json_t *data; /* what is already known (jobs: the in-flight part) */
};

/* --- replies ------------------------------------------------------------------ */

static void pack_json(msgpack_packer *pk, json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(j));
		json_object_foreach(j, k, v)
		{
			msg_pack_str(pk, k);
			pack_json(pk, v);
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(j));
		json_array_foreach(j, i, v) pack_json(pk, v);
		break;
	case JSON_STRING:
		msgpack_pack_str(pk, json_string_length(j));
		msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(j));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(j));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	default:
		msgpack_pack_nil(pk);
	}
}

/* Sends CONTROL_REPLY re: ok with data (stolen, may be NULL) when code is NULL. */
static void ctl_reply(uint64_t re, const char *code, const char *error, json_t *data)
{
	struct conn *parent = S.actor->parent;
	struct msg_out out;

	if (parent) {
		msg_out_init(&out, MSG_CONTROL_REPLY, re, 4);
		msg_put_bool(&out, "ok", code == NULL);
		msg_put_str(&out, "error", error);
		msg_put_str(&out, "code", code);
		msg_put_key(&out, "data");
		if (data && !code)
			pack_json(&out.pk, data);
		else
			msgpack_pack_nil(&out.pk);
		if (conn_send(parent, &out) < 0)
			log_warn("control: could not send a reply to the supervisor");
		msg_out_free(&out);
	}
	json_decref(data);
}

static struct ctl_req *req_new(const struct msg *m, const char *cmd)
{
	struct ctl_req *r = xcalloc(1, sizeof *r);
	r->re = m->id;
	strlcpy(r->cmd, cmd, sizeof r->cmd);
	return r;
}

static void req_done(struct ctl_req *r)
{
	json_decref(r->data);
	free(r);
}

/* --- memory: this scheduler and its jobs ------------------------------------------ */

static const char *step_name(enum job_step s)
{
	return s == STEP_FETCHING ? "fetching" : s == STEP_ANALYZING ? "analyzing" : "done";
}

static const char *acct_name(enum acct_state s)
{
	return s == ACCT_WAITING    ? "waiting"
	       : s == ACCT_INFLIGHT ? "fetching"
	       : s == ACCT_OK       ? "ok"
	                            : "failed";
}

/* One in-flight job; detail adds every account's state. */
static json_t *job_json(const struct job *j, bool detail)
{
	int done = 0, inflight = 0, failed = 0;
	json_t *accts = json_array();

	for (int i = 0; i < j->naccounts; i++) {
		done += j->acct[i] == ACCT_OK || j->acct[i] == ACCT_FAILED;
		inflight += j->acct[i] == ACCT_INFLIGHT;
		failed += j->acct[i] == ACCT_FAILED;
		if (detail)
			json_array_append_new(accts, json_pack("{s:s, s:s, s:s}", "username",
			                                       j->accounts[i], "role",
			                                       i == 0 ? "primary" : "competitor",
			                                       "state", acct_name(j->acct[i])));
	}
	json_t *o = json_pack(
	    "{s:s, s:s, s:s, s:i, s:s, s:s, s:i, s:i, s:s, s:f, s:{s:i, s:i, s:i, s:i}, s:i}", "id",
	    j->id, "session", j->session_id ? j->session_id : "", "primary", j->accounts[0], "run",
	    j->run, "step", step_name(j->step), "step_text", j->step_text, "progress", j->pct,
	    "attempts", j->attempts, "holder", j->holder[0] ? j->holder : "-", "elapsed_s",
	    ev_now(S.loop) - j->started, "accounts", "total", j->naccounts, "done", done,
	    "fetching", inflight, "failed", failed, "transcripts", j->transcripts);
	json_object_set_new(o, "batch_id", j->batch_id ? json_string(j->batch_id) : json_null());
	if (detail)
		json_object_set_new(o, "account_states", accts);
	else
		json_decref(accts);
	return o;
}

static json_t *inflight_json(void)
{
	json_t *a = json_array();
	/* Oldest first: the table is newest first. */
	for (struct job *j = S.jobs; j; j = j->next)
		json_array_insert_new(a, 0, job_json(j, false));
	return a;
}

static json_t *scheduler_json(void)
{
	json_t *workers = json_array();
	for (struct worker *w = S.workers; w; w = w->next)
		json_array_append_new(workers,
		                      json_pack("{s:s, s:s, s:i, s:i, s:b, s:b}", "name", w->name,
		                                "role", w->role, "slots", w->slots, "inflight",
		                                w->inflight, "dead", w->dead, "slow", w->slow));
	json_t *o = json_pack(
	    "{s:s, s:I, s:b, s:b, s:b, s:s, s:i, s:i, s:i, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
	    "node", S.node, "owner", (json_int_t)S.owner, "database_up", pg_is_up(S.pg), "admin_up",
	    pg_is_up(S.admin), "paused", S.paused, "processing",
	    S.triggered ? "triggered" : "continuous", "concurrency", S.concurrency, "jobs_inflight",
	    S.njobs, "units_queued", S.queued, "workers", workers, "counters", "claimed",
	    (json_int_t)S.claimed, "completed", (json_int_t)S.completed, "failed",
	    (json_int_t)S.failed, "released", (json_int_t)S.released, "rescued",
	    (json_int_t)S.rescued, "held_by_pause", (json_int_t)S.held_by_pause);
	json_object_set_new(o, "batch_id", S.batch_id[0] ? json_string(S.batch_id) : json_null());
	return o;
}

/* --- SQL answers ----------------------------------------------------------------- */

static json_t *parse_or_null(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	if (!j)
		log_warn("control: unparsable answer from the database: %s", e.text);
	return j;
}

static void on_recent(const char *json, const char *err, void *arg)
{
	struct ctl_req *r = arg;
	json_t *recent = json ? parse_or_null(json) : NULL;
	if (!recent) {
		log_warn("control: recent jobs: %s", err ? err : "bad answer");
		ctl_reply(r->re, "unavailable", "database unavailable", NULL);
	} else {
		json_object_set_new(r->data, "recent", recent);
		ctl_reply(r->re, NULL, NULL, json_incref(r->data));
	}
	req_done(r);
}

static void on_queue(const char *json, const char *err, void *arg)
{
	struct ctl_req *r = arg;
	json_t *q = json ? parse_or_null(json) : NULL;
	if (!q) {
		log_warn("control: queue: %s", err ? err : "bad answer");
		ctl_reply(r->re, "unavailable", "database unavailable", NULL);
		req_done(r);
		return;
	}
	json_t *b = json_object_get(q, "batch");
	if (json_is_object(b)) {
		/* The same estimate as BATCH_TRIGGER's estimated_completion_time. */
		json_int_t rem = json_integer_value(json_object_get(b, "total")) -
		                 json_integer_value(json_object_get(b, "completed")) -
		                 json_integer_value(json_object_get(b, "failed"));
		double avg = json_number_value(json_object_get(q, "avg_job_s"));
		double waves = rem > 0 ? ceil((double)rem / S.concurrency) : 0;
		double eta = waves * (avg > 0 ? avg : 5.0);
		char iso[32];
		sched_iso_time(time(NULL) + (time_t)(eta + 0.5), iso, sizeof iso);
		json_object_set_new(b, "remaining", json_integer(rem > 0 ? rem : 0));
		json_object_set_new(b, "eta_s", json_real(eta));
		json_object_set_new(b, "eta", rem > 0 ? json_string(iso) : json_null());
		json_object_set_new(
		    b, "ours",
		    json_boolean(S.batch_id[0] &&
		                 !strcmp(S.batch_id, json_string_value(json_object_get(b, "id")))));
	}
	json_object_set_new(q, "node", json_string(S.node));
	json_object_set_new(q, "paused", json_boolean(S.paused));
	json_object_set_new(q, "processing", json_string(S.triggered ? "triggered" : "continuous"));
	json_object_set_new(q, "concurrency", json_integer(S.concurrency));
	json_object_set_new(q, "inflight_here", json_integer(S.njobs));
	ctl_reply(r->re, NULL, NULL, q);
	req_done(r);
}

static void on_job(const char *json, const char *err, void *arg)
{
	struct ctl_req *r = arg;
	json_t *d = json ? parse_or_null(json) : NULL;
	if (!json && !err) {
		char why[80];
		snprintf(why, sizeof why, "unknown job %s", r->id);
		ctl_reply(r->re, "unknown_job", why, NULL);
	} else if (!d) {
		log_warn("control: job %s: %s", r->id, err ? err : "bad answer");
		ctl_reply(r->re, "unavailable", "database unavailable", NULL);
	} else {
		struct job *j = job_find(r->id);
		json_object_set_new(d, "inflight", j ? job_json(j, true) : json_null());
		ctl_reply(r->re, NULL, NULL, d);
	}
	req_done(r);
}

/* --- actions ----------------------------------------------------------------------- */

static void on_trigger(const char *status, const struct batch_info *b, void *arg)
{
	struct ctl_req *r = arg;
	if (!status) {
		ctl_reply(r->re, "unavailable",
		          "database unavailable (or the scheduler is not registered yet)", NULL);
		req_done(r);
		return;
	}
	json_t *d = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i}", "status", status, "pending_count",
	                      b->pending, "stuck_count", b->stuck, "total_jobs", b->total,
	                      "completed_jobs", b->completed, "failed_jobs", b->failed);
	json_object_set_new(d, "batch_id", b->batch_id[0] ? json_string(b->batch_id) : json_null());
	json_object_set_new(d, "last_processed_at",
	                    b->last_processed_at[0] ? json_string(b->last_processed_at)
	                                            : json_null());
	if (strcmp(status, "no_jobs_pending") != 0) {
		int rem = b->total - b->completed - b->failed;
		double waves = rem > 0 ? ceil((double)rem / S.concurrency) : 0;
		char iso[32];
		sched_iso_time(time(NULL) +
		                   (time_t)(waves * (b->avg_job_s > 0 ? b->avg_job_s : 5.0) + 0.5),
		               iso, sizeof iso);
		json_object_set_new(d, "estimated_completion_time", json_string(iso));
	} else {
		json_object_set_new(d, "estimated_completion_time", json_null());
	}
	ctl_reply(r->re, NULL, NULL, d);
	req_done(r);
}

/* The gateway's JOB_* semantics (control.c on_action), answered as CONTROL_REPLY. */
static void on_action(int rc, const char *status, const char *err, void *arg)
{
	struct ctl_req *r = arg;
	char detail[160];
	const char *result = NULL;

	if (rc == JOB_ACTION_ERROR) {
		log_error("job action on %s failed: %s", r->id, err ? err : "?");
		ctl_reply(r->re, "unavailable", "database unavailable", NULL);
	} else if (rc == JOB_ACTION_NOT_FOUND) {
		snprintf(detail, sizeof detail, "unknown job %s", r->id);
		ctl_reply(r->re, "unknown_job", detail, NULL);
	} else if (!strcmp(r->cmd, "process")) {
		if (rc == JOB_ACTION_WRONG_STATE) {
			result = "already_processing";
		} else {
			/* Claim it out of turn, whatever the mode, the queue or a pause. */
			strlcpy(S.only_id, r->id, sizeof S.only_id);
			sched_claim_soon();
			result = "processing_started";
		}
	} else if (!strcmp(r->cmd, "cancel")) {
		if (rc == JOB_ACTION_WRONG_STATE) {
			snprintf(detail, sizeof detail, "job is already %s", status);
			ctl_reply(r->re, "conflict", detail, NULL);
		} else {
			struct job *j = job_find(r->id);
			if (j)
				job_drop(j); /* its lease is void now: stop working on it */
			log_event(LOG_INFO, r->id, "cancelled by viralctl (was %s)", status);
			result = "cancelled";
		}
	} else {
		if (rc == JOB_ACTION_WRONG_STATE) {
			snprintf(detail, sizeof detail,
			         "only failed jobs can be retried (status: %s)", status);
			ctl_reply(r->re, "conflict", detail, NULL);
		} else {
			result = "pending";
			sched_claim_soon();
		}
	}
	if (result)
		ctl_reply(r->re, NULL, NULL,
		          json_pack("{s:s, s:s, s:s, s:s}", "job_id", r->id, "queue_id", r->id,
		                    "status", result, "previous_status", status));
	req_done(r);
}

/* --- dispatch ----------------------------------------------------------------------- */

static void refused(uint64_t re, int rc)
{
	ctl_reply(re, "unavailable",
	          rc == -ENOTCONN ? "database unavailable" : "database busy, try again", NULL);
}

void ctl_on_parent_msg(struct actor *a, const struct msg *m)
{
	char cmd[16] = "", id[64] = "";
	struct ctl_req *r;
	int rc;

	(void)a;
	if (m->type != MSG_CONTROL) {
		log_warn("unexpected %s from supervisor", msg_type_name(m->type));
		return;
	}
	if (msg_copy_str(m->body, "cmd", cmd, sizeof cmd) < 0) {
		ctl_reply(m->id, "unknown_command", "unknown command", NULL);
		return;
	}
	if (!strcmp(cmd, "job") || !strcmp(cmd, "process") || !strcmp(cmd, "cancel") ||
	    !strcmp(cmd, "retry")) {
		if (msg_copy_str(m->body, "id", id, sizeof id) < 0 &&
		    msg_copy_str(m->body, "name", id, sizeof id) < 0) {
			ctl_reply(m->id, "bad_request", "a job id is needed", NULL);
			return;
		}
		if (!sched_uuid_ok(id)) {
			ctl_reply(m->id, "unknown_job", "unknown job (a job id is a UUID)", NULL);
			return;
		}
	}

	if (!strcmp(cmd, "scheduler")) {
		ctl_reply(m->id, NULL, NULL, scheduler_json());
	} else if (!strcmp(cmd, "jobs")) {
		bool all = false;
		int64_t n = RECENT_DEFAULT;
		msg_get_bool(m->body, "all", &all);
		if (msg_get_int(m->body, "n", &n) == -EINVAL || n < 0 || n > RECENT_MAX) {
			ctl_reply(m->id, "bad_request", "n must be 0 to 1000", NULL);
			return;
		}
		json_t *d =
		    json_pack("{s:s, s:I, s:b, s:o}", "node", S.node, "owner", (json_int_t)S.owner,
		              "paused", S.paused, "jobs", inflight_json());
		if (!all) {
			ctl_reply(m->id, NULL, NULL, d);
			return;
		}
		r = req_new(m, cmd);
		r->data = d;
		if ((rc = ctl_recent_async(S.admin, (int)n, on_recent, r)) < 0) {
			refused(m->id, rc);
			req_done(r);
		}
	} else if (!strcmp(cmd, "queue")) {
		r = req_new(m, cmd);
		if ((rc = ctl_queue_async(S.admin, S.batch_id, S.legacy_stuck_ms, on_queue, r)) <
		    0) {
			refused(m->id, rc);
			req_done(r);
		}
	} else if (!strcmp(cmd, "job") || !strcmp(cmd, "process") || !strcmp(cmd, "cancel") ||
	           !strcmp(cmd, "retry")) {
		r = req_new(m, cmd);
		strlcpy(r->id, id, sizeof r->id);
		if (!strcmp(cmd, "job"))
			rc = ctl_job_async(S.admin, r->id, on_job, r);
		else if (!strcmp(cmd, "process"))
			rc = job_make_due_async(S.admin, r->id, on_action, r);
		else if (!strcmp(cmd, "cancel"))
			rc = job_cancel_async(S.admin, r->id, on_action, r);
		else
			rc = job_retry_async(S.admin, r->id, on_action, r);
		if (rc < 0) {
			refused(m->id, rc);
			req_done(r);
		}
	} else if (!strcmp(cmd, "trigger")) {
		r = req_new(m, cmd);
		control_trigger("viralctl", on_trigger, r);
	} else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
		bool was = S.paused;
		/* Who asked, for the log: the operations page says so and names its
		 * client; viralctl sends no source. */
		char source[16] = "viralctl", by[80] = "";
		msg_copy_str(m->body, "source", source, sizeof source);
		msg_copy_str(m->body, "requested_by", by, sizeof by);
		S.paused = !strcmp(cmd, "pause");
		if (was != S.paused)
			log_info("claiming %s by %s%s%s (%d jobs in flight)",
			         S.paused ? "paused" : "resumed",
			         !strcmp(source, "http") ? "the operations page" : source,
			         *by ? " for " : "", by, S.njobs);
		if (!S.paused)
			sched_claim_soon();
		ctl_reply(m->id, NULL, NULL,
		          json_pack("{s:b, s:b, s:i}", "paused", S.paused, "was_paused", was,
		                    "jobs_inflight", S.njobs));
	} else {
		char why[96];
		snprintf(why, sizeof why, "unknown command '%s'", cmd);
		ctl_reply(m->id, "unknown_command", why, NULL);
	}
}
