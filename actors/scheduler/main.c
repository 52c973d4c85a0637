/*
 * viralsup-scheduler: set-up, the claim loop, leases and wake-ups.
 * See sched.h for the map of this actor.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actors/scheduler/sched.h"

struct sched S;

static ev_idle claim_idle;

bool sched_claiming_allowed(void)
{
	bool fetcher = false, analyzer = false;
	for (struct worker *w = S.workers; w; w = w->next) {
		fetcher |= !w->dead && !strcmp(w->role, "fetcher");
		analyzer |= !w->dead && !strcmp(w->role, "analyzer");
	}
	/* Claiming with nobody to do the work would only hold leases. */
	if (S.owner <= 0 || !fetcher || !analyzer || !pg_is_up(S.pg))
		return false;
	if (S.only_id[0])
		return true;
	if (S.paused)
		return false;
	/* Triggered mode claims for an open batch only; once nothing is in
	 * flight here, only after the database confirmed it is not finished
	 * (a batch that just ended must not swallow jobs submitted after it). */
	return !S.triggered || (S.batch_id[0] && !S.batch_unconfirmed);
}

static void on_claimed(struct queue_job *jobs, int n, const char *err, void *arg)
{
	int asked = (int)(intptr_t)arg;
	S.claim_inflight = false;
	if (n < 0) {
		log_error("claim failed: %s", err ? err : "?");
		return; /* the poll timer tries again */
	}
	for (int i = 0; i < n; i++)
		job_start(&jobs[i]);
	queue_jobs_free(jobs, n);
	S.backlog = n == asked;
	/* A full claim means more may be waiting; so does a wake-up that
	 * arrived while this claim was in flight. */
	if (n == asked || S.claim_again) {
		S.claim_again = false;
		sched_claim_soon();
	}
	if (n < asked)
		control_batch_maybe_done();
}

static void claim_now(void)
{
	struct queue_claim_opts o = {0};
	int free_slots = S.concurrency - S.njobs;

	if (S.claim_inflight) {
		S.claim_again = true;
		return;
	}
	if (!sched_claiming_allowed() || (free_slots <= 0 && !S.only_id[0])) {
		if (S.paused && !S.only_id[0])
			S.held_by_pause++;
		return;
	}
	/* With a backlog, refill in chunks: a claim costs about as much for
	 * one job as for thirty, and jobs finish one at a time. */
	int chunk = S.concurrency / 4 < S.claim_batch ? S.concurrency / 4 : S.claim_batch;
	if (S.backlog && S.njobs > 0 && free_slots < chunk && !S.only_id[0])
		return;
	o.owner = S.owner;
	o.limit = S.only_id[0] ? 1 : (free_slots < S.claim_batch ? free_slots : S.claim_batch);
	o.lease_ms = S.lease_ms;
	o.legacy_stuck_ms = S.legacy_stuck_ms;
	o.only_id = S.only_id[0] ? S.only_id : NULL;
	if (queue_claim_async(S.pg, &o, on_claimed, (void *)(intptr_t)o.limit) == 0)
		S.claim_inflight = true;
	S.only_id[0] = '\0';
}

static void on_claim_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)revents;
	ev_idle_stop(loop, w);
	claim_now();
}

/* Claims once the current burst of events is handled: many wake-ups in
 * one loop iteration cost one claim. */
void sched_claim_soon(void)
{
	if (!ev_is_active(&claim_idle))
		ev_idle_start(S.loop, &claim_idle);
}

static void on_poll(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	/* Triggers waiting for a first registration that is not coming. */
	if (S.owner <= 0 && !S.owner_pending && ev_now(loop) - S.started_at >= 5.0)
		control_owner_known();
	control_batch_resume();
	sched_claim_soon();
}

/* --- leases ---------------------------------------------------------------- */

static void on_renewed(int nlost, char (*lost)[QUEUE_UUID_LEN], const char *err, void *arg)
{
	(void)arg;
	if (nlost < 0) {
		log_warn("lease renewal failed: %s", err ? err : "?");
		return;
	}
	for (int i = 0; i < nlost; i++) {
		struct job *j = job_find(lost[i]);
		if (j) {
			log_event(LOG_WARN, j->id, "lease lost (reclaimed or finished elsewhere)");
			job_drop(j);
		}
	}
}

static void on_heartbeat(int rc, const char *err, void *arg)
{
	(void)arg;
	if (rc == QUEUE_ERROR)
		log_warn("heartbeat failed: %s", err ? err : "?");
}

static void on_lease_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (S.owner <= 0 || !pg_is_up(S.pg))
		return;
	if (S.njobs == 0) {
		queue_owner_heartbeat_async(S.pg, S.owner, on_heartbeat, NULL);
		return;
	}
	const char **ids = xcalloc((size_t)S.njobs, sizeof *ids);
	const char **tokens = xcalloc((size_t)S.njobs, sizeof *tokens);
	int n = 0;
	for (struct job *j = S.jobs; j; j = j->next, n++) {
		ids[n] = j->id;
		tokens[n] = j->token;
	}
	queue_renew_async(S.pg, S.owner, S.lease_ms, n, ids, tokens, on_renewed, NULL);
	free(ids);
	free(tokens);
}

/* --- database state ----------------------------------------------------------- */

static void on_retired(long long n, const char *err, void *arg)
{
	(void)arg;
	if (n < 0)
		log_warn("retiring dead owners failed: %s", err ? err : "?");
	else if (n > 0)
		log_info(
		    "retired %lld dead scheduler(s) of this node: their jobs are claimable now", n);
	sched_claim_soon();
}

/* Whether pid is a live viralsup scheduler on this host (its process name is
 * set by actor_init). A pid reused by another program does not count. */
static bool scheduler_alive(int pid)
{
	char path[64], comm[32] = "";
	FILE *f;
	snprintf(path, sizeof path, "/proc/%d/comm", pid);
	if (pid <= 0 || !(f = fopen(path, "r")))
		return false;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return !strcmp(comm, "scheduler");
}

/* Earlier owners of this node: retire the dead ones (an earlier scheduler of
 * ours, or of a viralsup that is gone), never a live one (a second viralsup
 * on this host sharing the database is just another owner). */
static void on_node_owners(int n, const long long *ids, const int *pids, const bool *expired,
                           const char *err, void *arg)
{
	(void)arg;
	if (n < 0) {
		log_warn("listing this node's owners failed: %s", err ? err : "?");
		S.swept_for = 0; /* again when the admin connection is back */
		return;
	}
	long long *dead = xcalloc((size_t)n + 1, sizeof *dead);
	int ndead = 0;
	for (int i = 0; i < n; i++) {
		/* Our own pid: an identity this process gave up (see on_pg_state). */
		if (expired[i] || pids[i] == getpid() || !scheduler_alive(pids[i]))
			dead[ndead++] = ids[i];
		else
			log_info("owner %lld (pid %d) of this node is alive: another viralsup "
			         "shares this database; leaving it alone",
			         ids[i], pids[i]);
	}
	if (ndead > 0)
		owners_retire_async(S.admin, ndead, dead, on_retired, NULL);
	free(dead);
}

/* Once per owner identity, as soon as both it and the admin connection
 * exist: a scheduler SIGKILLed before this one left its owner row live,
 * and its jobs wait for their leases until someone retires it. */
static void node_owners_sweep(void)
{
	if (S.owner <= 0 || S.swept_for == S.owner || !pg_is_up(S.admin))
		return;
	if (owners_of_node_async(S.admin, S.node, "scheduler", S.owner, on_node_owners, NULL) == 0)
		S.swept_for = S.owner;
}

static void on_admin_state(struct pg *pg, bool up, const char *why, void *arg)
{
	(void)pg;
	(void)why;
	(void)arg;
	if (up)
		node_owners_sweep();
}

static void on_owner(long long id, const char *err, void *arg)
{
	(void)arg;
	S.owner_pending = false;
	if (id < 0) {
		log_error("owner registration failed: %s", err ? err : "?");
		control_owner_known(); /* they get "unavailable" */
		return;
	}
	S.owner = id;
	log_info("registered as owner %lld on node %s", id, S.node);
	control_owner_known();
	node_owners_sweep();
	control_batch_resume();
	sched_claim_soon();
}

static void on_pg_state(struct pg *pg, bool up, const char *why, void *arg)
{
	(void)pg;
	(void)arg;
	if (!up) {
		log_warn("database down: %s", why ? why : "?");
		return;
	}
	log_info("database up");
	if (S.lost_update && S.owner > 0 && !S.owner_pending) {
		/* Jobs whose release/fail was lost in the outage would wait for
		 * their lease (30 s by default). A new owner retires this one
		 * (on_owner), so all of its jobs are claimable now; the ones
		 * still in memory are fenced by the new claim and dropped at the
		 * next renewal. */
		log_warn("updates were lost while the database was down: taking a new owner "
		         "identity so the jobs of owner %lld are reclaimed now",
		         S.owner);
		S.owner = 0;
	}
	S.lost_update = false;
	if (S.owner <= 0 && !S.owner_pending &&
	    queue_owner_register_async(S.pg, S.node, "scheduler", S.owner_expiry_ms, on_owner,
	                               NULL) == 0)
		S.owner_pending = true;
	sched_claim_soon();
}

static void on_notify(struct pg *pg, const char *channel, const char *payload, void *arg)
{
	(void)pg;
	(void)channel;
	(void)payload;
	(void)arg;
	if (S.claim_inflight)
		S.claim_again = true;
	sched_claim_soon();
}

/* --- connections from workers and clients -------------------------------------- */

static struct worker *worker_of(struct conn *c)
{
	for (struct worker *w = S.workers; w; w = w->next)
		if (w->conn == c)
			return w;
	return NULL;
}

static void on_conn_msg(struct conn *c, const struct msg *m, void *ud)
{
	(void)ud;
	if (m->type == MSG_CREDIT) {
		struct worker *w = worker_of(c);
		char role[16] = "";
		int64_t slots = 0;
		if (msg_copy_str(m->body, "role", role, sizeof role) < 0 ||
		    msg_get_int(m->body, "slots", &slots) < 0 || slots < 1 || slots > 100000 ||
		    (strcmp(role, "fetcher") && strcmp(role, "analyzer"))) {
			conn_close(c, "protocol error: malformed CREDIT");
			return;
		}
		if (!w) {
			w = xcalloc(1, sizeof *w);
			w->conn = c;
			w->pid = conn_peer_pid(c);
			w->next = S.workers;
			S.workers = w;
		}
		if (msg_copy_str(m->body, "name", w->name, sizeof w->name) < 0)
			strlcpy(w->name, role, sizeof w->name);
		strlcpy(w->role, role, sizeof w->role);
		w->slots = (int)slots;
		log_info("%s ready with %d slots", w->name, w->slots);
		dispatch_pump();
		sched_claim_soon();
		return;
	}
	control_on_msg(c, m);
}

static void on_conn_close(struct conn *c, const char *reason, void *ud)
{
	(void)ud;
	for (struct worker **pp = &S.workers; *pp; pp = &(*pp)->next) {
		struct worker *w = *pp;
		if (w->conn != c)
			continue;
		/* Its requests have all failed already (before on_close). */
		log_info("%s disconnected: %s", w->name, reason);
		*pp = w->next;
		free(w);
		break;
	}
	control_conn_closed(c);
}

static const struct conn_ops conn_ops = {
    .on_msg = on_conn_msg,
    .on_close = on_conn_close,
};

static void on_peer(struct actor *a, const char *name, const char *role, int index, int pid,
                    bool up, const char *reason)
{
	(void)a;
	(void)index;
	/* A dead worker's requests already failed when its socket closed; the
	 * cause decides whether a job it ran alone gets a strike. */
	if (!up && (!strcmp(role, "fetcher") || !strcmp(role, "analyzer"))) {
		log_info("supervisor reports %s (pid %d) down (%s)", name, pid, reason);
		job_worker_died(pid, reason);
	}
}

static void on_stop(struct actor *a)
{
	/* In-flight jobs keep their leases; marking this owner stopped makes
	 * them claimable by any node at once instead of after lease expiry.
	 * On the idle connection when there is one (an orphan must be gone in
	 * ~20 ms); a query in flight cannot be waited for, so then on a fresh one. */
	if (S.owner > 0 && pg_is_up(S.pg)) {
		PGconn *c = pg_conn_for_exit(S.pg), *fresh = NULL;
		if (!c) {
			fresh = PQconnectdb(config_str(a->config, "database.url"));
			c = PQstatus(fresh) == CONNECTION_OK ? fresh : NULL;
		}
		if (c)
			queue_owner_stop(c, S.owner, NULL, 0);
		PQfinish(fresh);
	}
	actor_stop(a, 0);
}

int main(int argc, char **argv)
{
	struct actor a;
	char hostname[64] = "node";
	static const char *const channels[] = {QUEUE_CHANNEL, NULL};

	actor_init(&a, "scheduler", argc, argv);
	S.actor = &a;
	S.loop = a.loop;
	S.started_at = ev_now(a.loop);
	S.concurrency = (int)config_int(a.config, "scheduler.concurrency");
	S.claim_batch = (int)config_int(a.config, "scheduler.claim_batch");
	S.lease_ms = (int)config_int(a.config, "scheduler.lease_ms");
	S.owner_expiry_ms = (int)config_int(a.config, "scheduler.owner_expiry_ms");
	S.legacy_stuck_ms = (int)config_int(a.config, "scheduler.legacy_stuck_ms");
	S.max_attempts = (int)config_int(a.config, "scheduler.max_attempts");
	S.rescue_cap = (int)config_int(a.config, "scheduler.rescue_cap");
	S.poll_ms = (int)config_int(a.config, "scheduler.poll_ms");
	S.fetch_timeout_s = config_int(a.config, "fetcher.timeout_ms") / 1000.0 * 4 + 10;
	S.analyze_timeout_s = config_int(a.config, "scheduler.analyze_timeout_ms") / 1000.0;
	const char *mode = config_str(a.config, "scheduler.processing");
	if (!strcmp(mode, "triggered")) {
		S.triggered = true;
	} else if (strcmp(mode, "continuous")) {
		log_error("scheduler.processing: \"%s\" is not continuous or triggered", mode);
		return EXIT_PERMANENT;
	}
	const char *sched = config_str(a.config, "scheduler.schedule");
	if (*sched) {
		char unit = 0;
		int n = 0;
		if (sscanf(sched, "every %d%c", &n, &unit) != 2 || n <= 0 ||
		    (unit != 's' && unit != 'm' && unit != 'h')) {
			log_error("scheduler.schedule: \"%s\" is not \"every N{s,m,h}\"", sched);
			return EXIT_PERMANENT;
		}
		S.schedule_s = n * (unit == 's' ? 1 : unit == 'm' ? 60 : 3600);
	}
	const char *url = config_str(a.config, "database.url");
	if (!*url) {
		log_error("database.url (DATABASE_URL) is not set");
		return EXIT_PERMANENT;
	}
	const char *node = config_str(a.config, "supervisor.node_id");
	gethostname(hostname, sizeof hostname - 1);
	strlcpy(S.node, *node ? node : hostname, sizeof S.node);

	struct pg_config pc = {
	    .conninfo = url,
	    .application_name = "viralsup-scheduler",
	    .statement_timeout_ms = 30000,
	    .listen = config_bool(a.config, "database.poll_only") ? NULL : channels,
	    .on_state = on_pg_state,
	    .on_notify = on_notify,
	};
	S.pg = pg_new(S.loop, &pc);
	struct pg_config ac = {
	    .conninfo = url,
	    .application_name = "viralsup-scheduler-admin",
	    .statement_timeout_ms = 30000,
	    .on_state = on_admin_state,
	};
	S.admin = pg_new(S.loop, &ac);

	char *path = actor_socket_path(&a, "scheduler");
	S.listener = listener_new(S.loop, path, 256, &conn_ops, NULL, NULL);
	if (!S.listener) {
		log_error("cannot listen on %s: %s", path, strerror(errno));
		free(path);
		return EXIT_TEMPORARY;
	}
	free(path);

	ev_idle_init(&claim_idle, on_claim_idle);
	progress_init();
	ev_timer_init(&S.poll_timer, on_poll, S.poll_ms / 1000.0, S.poll_ms / 1000.0);
	ev_timer_start(S.loop, &S.poll_timer);
	/* The renewal is also the owner's heartbeat: three per lease and per
	 * owner expiry, whichever is shorter. (With owner_expiry_ms below
	 * lease_ms a node's own owner expired between heartbeats and it
	 * reclaimed, rescued and finally failed its own jobs as poison.) */
	int period = S.lease_ms < S.owner_expiry_ms ? S.lease_ms : S.owner_expiry_ms;
	double renew = period / 3000.0;
	ev_timer_init(&S.lease_timer, on_lease_timer, renew, renew);
	ev_timer_start(S.loop, &S.lease_timer);
	control_periodic();

	a.on_peer = on_peer;
	a.on_stop = on_stop;
	a.on_parent_msg = ctl_on_parent_msg;
	actor_ready(&a);
	int code = actor_run(&a);
	listener_free(S.listener);
	pg_free(S.pg);
	pg_free(S.admin);
	actor_cleanup(&a);
	return code;
}
