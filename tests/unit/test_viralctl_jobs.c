/*
 * viralctl's job commands against a whole running stack: viralsup with
 * its real actors, a fresh PostgreSQL database, the fixtures provider
 * (examples/instagram). Every command's --json output is checked against
 * the database and the process table, the human output for its key facts;
 * watch runs under a pseudo-terminal and through a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/unit/suptest.h"

struct stack {
	struct suprun r;
	char *db;
	PGconn *pg;
};

/* examples/jobs.json: primaries and competitors that exist in the fixtures. */
static const char *const examples[][5] = {
    {"maya.lifts", "coach.dante.fit", "strongwithsam", "mobility.mila", NULL},
    {"nonna.kitchenlab", "15minmeals.jo", "the.spice.route", "breadbykenji", NULL},
    {"frugal.finn", "invest.with.ines", "budgetbae.co", "sidehustle.sam", NULL},
    {"wander.with.lea", "backpack.budget.bo", "slowtravel.tomas", "cityhop.ana", NULL},
};

static char *fixtures_dir(void)
{
	char path[PATH_MAX], *abs;
	snprintf(path, sizeof path, "%s/../../examples/instagram", suptest_bin());
	abs = realpath(path, NULL);
	if (!abs)
		FAIL("no fixtures at %s", path);
	return abs;
}

static PGresult *sql(struct stack *s, const char *q, int n, const char *const *p)
{
	PGresult *res = PQexecParams(s->pg, q, n, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
		FAIL("%s: %s", q, PQerrorMessage(s->pg));
	return res;
}

/* The first column of the first row as an integer (-1 when no row). */
static long long sql_int(struct stack *s, const char *q, const char *p1)
{
	const char *p[] = {p1};
	PGresult *res = sql(s, q, p1 ? 1 : 0, p);
	long long v = PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
	PQclear(res);
	return v;
}

static char *sql_str(struct stack *s, const char *q, const char *p1)
{
	const char *p[] = {p1};
	PGresult *res = sql(s, q, p1 ? 1 : 0, p);
	char *v = strdup(PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return v;
}

static long long count_status(struct stack *s, const char *status)
{
	return sql_int(s, "SELECT count(*) FROM viral_ideas_queue WHERE status = $1", status);
}

/* Submits example k % 4 under session "<prefix>-<k>"; the job id (malloc'd). */
static char *submit(struct stack *s, const char *prefix, int k)
{
	char session[64], comps[256] = "{";
	const char *const *e = examples[k % 4];
	for (int i = 1; e[i]; i++)
		snprintf(comps + strlen(comps), sizeof comps - strlen(comps), "%s\"%s\"",
		         i > 1 ? "," : "", e[i]);
	strcat(comps, "}");
	snprintf(session, sizeof session, "%s-%d", prefix, k);
	const char *p[] = {session, e[0], comps};
	PGresult *res = sql(
	    s, "SELECT create_viral_queue_item($1, $2, $3::text[], '{\"goals\": \"grow\"}'::jsonb)",
	    3, p);
	char *id = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return id;
}

/* viralctl --socket S args... (NULL-terminated); returns the exit code. */
static int ctl(struct stack *s, char **out, char **err, ...)
{
	const char *args[32];
	int n = 0;
	va_list ap;
	va_start(ap, err);
	while (n < 31 && (args[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	args[n] = NULL;
	return suptest_ctl(&s->r, out, err, args);
}

/* viralctl --json args...: the parsed output; fails unless the exit code is 0. */
static json_t *ctl_json(struct stack *s, ...)
{
	const char *args[32] = {"--json"};
	int n = 1;
	char *out = NULL, *err = NULL;
	json_error_t jerr;
	va_list ap;
	va_start(ap, s);
	while (n < 31 && (args[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	args[n] = NULL;
	int code = suptest_ctl(&s->r, &out, &err, args);
	if (code != 0)
		FAIL("viralctl --json %s: exit %d: %s", args[1], code, err);
	json_t *j = json_loads(out, JSON_DECODE_ANY, &jerr);
	if (!j)
		FAIL("viralctl --json %s: not JSON (%s): %s", args[1], jerr.text, out);
	free(out);
	free(err);
	return j;
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "(none)";
}

/* The scheduler is registered, connected and has its workers. */
static bool stack_ready(struct stack *s)
{
	json_t *j = suptest_json(&s->r, "scheduler");
	bool ok = j && jint(j, "owner") > 0 && json_is_true(json_object_get(j, "database_up")) &&
	          json_is_true(json_object_get(j, "admin_up")) &&
	          json_array_size(json_object_get(j, "workers")) >= 3;
	json_decref(j);
	return ok;
}

/* When the test's body returns: no actor restarted (the supervisor's
 * counters), no sanitizer report in any actor's log (tests/unit/suptest.h). */
static void stack_check_at_end(void *arg)
{
	struct suprun *r = arg;
	if (waitpid(r->pid, NULL, WNOHANG) == 0)
		suprun_check_children(r, false, "at the end of the test");
	suprun_check_log(r, "at the end of the test");
}

/* The whole stack on a fresh database; processing "triggered" or "continuous". */
static void stack_start(struct stack *s, const char *processing, int concurrency)
{
	static char env[8][PATH_MAX + 64];
	const char *extra[9];
	char *fx = fixtures_dir();

	memset(s, 0, sizeof *s);
	s->db = test_db_create();
	snprintf(env[0], sizeof env[0], "DATABASE_URL=%s", s->db);
	snprintf(env[1], sizeof env[1], "VIRALSUP_HTTP_ADDR=127.0.0.1:0");
	snprintf(env[2], sizeof env[2], "VIRALSUP_PROVIDER=fixtures");
	snprintf(env[3], sizeof env[3], "VIRALSUP_FIXTURES_DIR=%s", fx);
	snprintf(env[4], sizeof env[4], "VIRALSUP_PROCESSING=%s", processing);
	snprintf(env[5], sizeof env[5], "VIRALSUP_CONCURRENCY=%d", concurrency);
	snprintf(env[6], sizeof env[6], "VIRALSUP_NODE_ID=ctlnode");
	snprintf(env[7], sizeof env[7], "VIRALSUP_LOG_LEVEL=warn");
	for (int i = 0; i < 8; i++)
		extra[i] = env[i];
	extra[8] = NULL;
	free(fx);
	suprun_spawn(&s->r, "", extra);
	struct suprun *copy = malloc(sizeof *copy);
	*copy = s->r;
	test_at_pass(stack_check_at_end, copy);
	double t0 = test_now_ms();
	while (!stack_ready(s)) {
		int st;
		if (waitpid(s->r.pid, &st, WNOHANG) == s->r.pid)
			FAIL("viralsup exited (status %d); its log:\n%s", st,
			     suptest_read(s->r.log));
		if (test_now_ms() - t0 > 15000)
			FAIL("the stack was not ready within 15 s; log:\n%s",
			     suptest_read(s->r.log));
		test_poll_pause();
	}
	s->pg = PQconnectdb(s->db);
	if (PQstatus(s->pg) != CONNECTION_OK)
		FAIL("connect: %s", PQerrorMessage(s->pg));
}

static bool in_list(const char *id, char **ids, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(id, ids[i]))
			return true;
	return false;
}

/* --- queue, trigger, jobs, job ----------------------------------------------------- */

TEST(queue_trigger_jobs_and_job_history_match_the_database)
{
	struct stack s;
	char *ids[4], *out = NULL, *err = NULL;
	stack_start(&s, "triggered", 8);
	for (int i = 0; i < 4; i++)
		ids[i] = submit(&s, "q", i);

	/* Before the trigger: all pending and due, nothing in flight. */
	json_t *q = ctl_json(&s, "queue", NULL), *c = json_object_get(q, "counts");
	ASSERT_EQ_INT(jint(c, "pending"), count_status(&s, "pending"));
	ASSERT_EQ_INT(jint(c, "pending"), 4);
	ASSERT_EQ_INT(jint(c, "total"), 4);
	ASSERT_EQ_INT(jint(q, "due"), 4);
	ASSERT_EQ_INT(jint(q, "stuck"), 0);
	ASSERT(json_number_value(json_object_get(q, "oldest_pending_s")) >= 0);
	ASSERT(json_is_null(json_object_get(q, "batch")));
	ASSERT_EQ_STR(jstr(q, "processing"), "triggered");
	ASSERT_EQ_STR(jstr(q, "node"), "ctlnode");
	json_decref(q);
	ASSERT_EQ_INT(ctl(&s, &out, NULL, "queue", NULL), 0);
	ASSERT_CONTAINS(out, "pending 4 (due now 4)");
	ASSERT_CONTAINS(out, "no batch running");
	free(out);
	json_t *j = ctl_json(&s, "jobs", NULL);
	ASSERT_EQ_INT(json_array_size(json_object_get(j, "jobs")), 0);
	ASSERT(json_object_get(j, "recent") == NULL);
	json_decref(j);

	/* The trigger: POST /process-pending's answer, the batch in the database. */
	json_t *t = ctl_json(&s, "trigger", NULL);
	ASSERT_EQ_STR(jstr(t, "status"), "processing_started");
	ASSERT_EQ_INT(jint(t, "total_jobs"), 4);
	ASSERT_EQ_INT(jint(t, "pending_count"), 4);
	char *batch = sql_str(&s, "SELECT id FROM batches", NULL);
	ASSERT_EQ_STR(jstr(t, "batch_id"), batch);
	ASSERT(json_is_string(json_object_get(t, "estimated_completion_time")));
	json_decref(t);
	WAIT_UNTIL(count_status(&s, "completed") == 4, 30000);

	/* jobs --all: nothing in flight, the four finished ones with durations. */
	j = ctl_json(&s, "jobs", "--all", NULL);
	ASSERT_EQ_INT(json_array_size(json_object_get(j, "jobs")), 0);
	json_t *recent = json_object_get(j, "recent"), *x;
	size_t i;
	ASSERT_EQ_INT(json_array_size(recent), 4);
	json_array_foreach(recent, i, x)
	{
		ASSERT(in_list(jstr(x, "id"), ids, 4));
		ASSERT_EQ_STR(jstr(x, "status"), "completed");
		ASSERT_EQ_INT(jint(x, "runs"), 1);
		ASSERT(json_number_value(json_object_get(x, "duration_s")) >= 0);
		ASSERT(json_is_null(json_object_get(x, "error")));
	}
	json_decref(j);
	ASSERT_EQ_INT(ctl(&s, &out, NULL, "jobs", "--all", NULL), 0);
	for (int k = 0; k < 4; k++)
		ASSERT_CONTAINS(out, ids[k]);
	ASSERT_CONTAINS(out, "recently finished (4)");
	free(out);

	/* queue after: the finished batch is no longer current. */
	q = ctl_json(&s, "queue", NULL);
	ASSERT_EQ_INT(jint(json_object_get(q, "counts"), "completed"), 4);
	ASSERT(json_number_value(json_object_get(q, "avg_job_s")) > 0);
	json_decref(q);

	/* job ID: the event log, competitors, results, as in the tables. */
	json_t *d = ctl_json(&s, "job", ids[0], NULL);
	json_t *ev = json_object_get(d, "events");
	PGresult *res =
	    sql(&s, "SELECT to_status, reason FROM job_events WHERE job_id = $1 ORDER BY id", 1,
	        (const char *const[]){ids[0]});
	ASSERT_EQ_INT(json_array_size(ev), PQntuples(res));
	ASSERT_CMP_INT(PQntuples(res), >=, 3); /* submitted, claimed, completed */
	json_array_foreach(ev, i, x)
	{
		ASSERT_EQ_STR(jstr(x, "to"), PQgetvalue(res, (int)i, 0));
		ASSERT_EQ_STR(jstr(x, "reason"), PQgetvalue(res, (int)i, 1));
		ASSERT(json_is_string(json_object_get(x, "at")));
	}
	PQclear(res);
	ASSERT_EQ_STR(jstr(json_array_get(ev, json_array_size(ev) - 1), "to"), "completed");
	json_t *job = json_object_get(d, "job");
	ASSERT_EQ_STR(jstr(job, "status"), "completed");
	ASSERT_EQ_INT(jint(job, "progress"), 100);
	ASSERT_EQ_STR(jstr(job, "primary"), "maya.lifts");
	ASSERT_EQ_STR(jstr(job, "batch_id"), batch);
	json_t *comps = json_object_get(d, "competitors");
	ASSERT_EQ_INT(json_array_size(comps), 3);
	json_array_foreach(comps, i, x)
	{
		ASSERT_EQ_STR(jstr(x, "status"), "completed");
		bool known = false;
		for (int k = 1; examples[0][k]; k++)
			known |= !strcmp(jstr(x, "username"), examples[0][k]);
		ASSERT(known);
	}
	json_t *results = json_object_get(d, "results");
	ASSERT_EQ_INT(json_array_size(results), 1);
	json_t *r0 = json_array_get(results, 0);
	ASSERT_EQ_INT(jint(r0, "run"), 1);
	ASSERT_EQ_INT(jint(r0, "reels"),
	              sql_int(&s,
	                      "SELECT total_reels_analyzed FROM viral_analysis_results"
	                      " WHERE queue_id = $1",
	                      ids[0]));
	ASSERT_EQ_INT(jint(r0, "scripts"),
	              sql_int(&s,
	                      "SELECT count(*) FROM viral_scripts s JOIN viral_analysis_results r"
	                      " ON r.id = s.analysis_id WHERE r.queue_id = $1",
	                      ids[0]));
	ASSERT(json_is_null(json_object_get(d, "inflight")));
	json_decref(d);
	ASSERT_EQ_INT(ctl(&s, &out, NULL, "job", ids[0], NULL), 0);
	ASSERT_CONTAINS(out, ids[0]);
	ASSERT_CONTAINS(out, "@coach.dante.fit");
	ASSERT_CONTAINS(out, "run 1 initial");
	ASSERT_CONTAINS(out, "claimed");
	free(out);

	/* Unknown jobs have their own exit code. */
	ASSERT_EQ_INT(ctl(&s, NULL, &err, "job", "00000000-0000-4000-8000-000000000000", NULL), 7);
	ASSERT_CONTAINS(err, "unknown job");
	free(err);
	ASSERT_EQ_INT(ctl(&s, NULL, &err, "job", "not-a-job", NULL), 7);
	free(err);

	/* A second trigger finds nothing to do. */
	t = ctl_json(&s, "trigger", NULL);
	ASSERT_EQ_STR(jstr(t, "status"), "no_jobs_pending");
	json_decref(t);
	ASSERT_EQ_INT(ctl(&s, &out, NULL, "trigger", NULL), 0);
	ASSERT_CONTAINS(out, "no_jobs_pending");
	free(out);
}

/* --- process, cancel, retry ---------------------------------------------------------- */

TEST(cancel_retry_and_process_follow_the_gateway_rules)
{
	struct stack s;
	char *out = NULL, *err = NULL;
	stack_start(&s, "triggered", 8);
	char *id = submit(&s, "a", 0);
	const char *st = "SELECT status FROM viral_ideas_queue WHERE id = $1";

	ASSERT_EQ_INT(ctl(&s, &out, NULL, "cancel", id, NULL), 0);
	ASSERT_CONTAINS(out, "cancelled (was pending)");
	free(out);
	ASSERT_EQ_STR(sql_str(&s, st, id), "failed");
	ASSERT_EQ_STR(sql_str(&s, "SELECT error_message FROM viral_ideas_queue WHERE id = $1", id),
	              "cancelled by an administrator");
	ASSERT_EQ_INT(ctl(&s, NULL, &err, "cancel", id, NULL), 8);
	ASSERT_CONTAINS(err, "already failed");
	free(err);

	json_t *r = ctl_json(&s, "retry", id, NULL);
	ASSERT_EQ_STR(jstr(r, "status"), "pending");
	ASSERT_EQ_STR(jstr(r, "previous_status"), "failed");
	ASSERT_EQ_STR(jstr(r, "job_id"), id);
	json_decref(r);
	ASSERT_EQ_STR(sql_str(&s, st, id), "pending");
	ASSERT_EQ_INT(ctl(&s, NULL, &err, "retry", id, NULL), 8);
	ASSERT_CONTAINS(err, "only failed jobs");
	free(err);

	/* Triggered mode, no batch: process runs it anyway, out of turn. */
	r = ctl_json(&s, "process", id, NULL);
	ASSERT_EQ_STR(jstr(r, "status"), "processing_started");
	json_decref(r);
	WAIT_UNTIL(count_status(&s, "completed") == 1, 30000);

	json_t *d = ctl_json(&s, "job", id, NULL);
	char reasons[2048] = "";
	json_t *x;
	size_t i;
	json_array_foreach(json_object_get(d, "events"), i, x) snprintf(
	    reasons + strlen(reasons), sizeof reasons - strlen(reasons), "%s|", jstr(x, "reason"));
	ASSERT_CONTAINS(reasons, "cancelled|retry requested|process now requested|claimed|");
	json_decref(d);

	ASSERT_EQ_INT(ctl(&s, NULL, &err, "process", "00000000-0000-4000-8000-000000000000", NULL),
	              7);
	free(err);
	ASSERT_EQ_INT(ctl(&s, NULL, &err, "cancel", "nope", NULL), 7);
	free(err);
	ASSERT_EQ_INT(ctl(&s, NULL, &err, "retry", NULL), 2); /* no id */
	free(err);
}

/* --- pause / resume -------------------------------------------------------------------- */

/* The scheduler's count of claim chances a pause let pass. */
static long long held_by_pause(struct stack *s)
{
	json_t *j = ctl_json(s, "scheduler", NULL);
	long long n = jint(json_object_get(j, "counters"), "held_by_pause");
	json_decref(j);
	return n;
}

TEST(pause_stops_claiming_and_resume_restarts_it)
{
	struct stack s;
	char *ids[3], *out = NULL;
	stack_start(&s, "continuous", 8);

	pid_t sched = suptest_pid(&s.r, "scheduler");
	json_t *p = ctl_json(&s, "pause", NULL);
	ASSERT(json_is_true(json_object_get(p, "paused")));
	ASSERT(json_is_false(json_object_get(p, "was_paused")));
	json_decref(p);
	for (int i = 0; i < 3; i++)
		ids[i] = submit(&s, "p", i);
	/* A job run out of turn proves the scheduler is alive and has seen the
	 * inserts' NOTIFY; the others must stay pending. */
	char *x = submit(&s, "p", 3);
	ASSERT_EQ_INT(ctl(&s, NULL, NULL, "process", x, NULL), 0);
	WAIT_UNTIL(count_status(&s, "completed") == 1, 30000);
	/* A negative check needs a window in which the scheduler looked: it
	 * counts each chance to claim that the pause let pass; two more (a poll
	 * tick among them, one per second) and the jobs must still be pending. */
	long long held = held_by_pause(&s);
	WAIT_UNTIL(held_by_pause(&s) >= held + 2, 5000);
	/* A pause lasts as long as the scheduler process: it must not have restarted. */
	ASSERT_EQ_INT(suptest_pid(&s.r, "scheduler"), sched);
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ_STR(
		    sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1", ids[i]),
		    "pending");
		ASSERT_EQ_INT(
		    sql_int(&s, "SELECT attempts FROM viral_ideas_queue WHERE id = $1", ids[i]), 0);
	}
	json_t *st = ctl_json(&s, "status", NULL);
	ASSERT(json_is_true(json_object_get(json_object_get(st, "scheduler"), "paused")));
	json_decref(st);
	json_t *q = ctl_json(&s, "queue", NULL);
	ASSERT(json_is_true(json_object_get(q, "paused")));
	ASSERT_EQ_INT(jint(json_object_get(q, "counts"), "pending"), 3);
	json_decref(q);
	ASSERT_EQ_INT(ctl(&s, &out, NULL, "status", NULL), 0);
	ASSERT_CONTAINS(out, "claiming PAUSED");
	free(out);

	p = ctl_json(&s, "resume", NULL);
	ASSERT(json_is_false(json_object_get(p, "paused")));
	ASSERT(json_is_true(json_object_get(p, "was_paused")));
	json_decref(p);
	WAIT_UNTIL(count_status(&s, "completed") == 4, 30000);
	ASSERT_EQ_INT(ctl(&s, &out, NULL, "resume", NULL), 0);
	ASSERT_CONTAINS(out, "claiming running (was running)");
	free(out);
}

/* --- status ------------------------------------------------------------------------------ */

TEST(status_shows_node_database_rss_and_inflight_per_actor)
{
	struct stack s;
	char *out = NULL;
	stack_start(&s, "triggered", 8);
	json_t *st = ctl_json(&s, "status", NULL), *c;
	size_t i;
	ASSERT_EQ_STR(jstr(st, "node"), "ctlnode");
	ASSERT_EQ_STR(jstr(st, "version"), "0.1.0");
	ASSERT_EQ_STR(jstr(st, "database"), "up");
	json_t *sch = json_object_get(st, "scheduler");
	ASSERT_EQ_INT(jint(sch, "owner"),
	              sql_int(&s,
	                      "SELECT id FROM owners WHERE role = 'scheduler' AND node = 'ctlnode'"
	                      " AND stopped_at IS NULL ORDER BY id DESC LIMIT 1",
	                      NULL));
	ASSERT_EQ_INT(json_array_size(json_object_get(st, "children")), 6);
	json_array_foreach(json_object_get(st, "children"), i, c)
	{
		const char *role = jstr(c, "role");
		pid_t pid = (pid_t)jint(c, "pid");
		ASSERT(suptest_alive(pid));
		ASSERT_CMP_INT(jint(c, "rss_kb"), >, 0);
		bool worker = !strcmp(role, "fetcher") || !strcmp(role, "analyzer") ||
		              !strcmp(role, "scheduler");
		if (worker) {
			ASSERT(json_is_integer(json_object_get(c, "inflight")));
			ASSERT_EQ_INT(jint(c, "inflight"), 0);
		} else {
			ASSERT(json_is_null(json_object_get(c, "inflight")));
		}
	}
	json_decref(st);
	ASSERT_EQ_INT(ctl(&s, &out, NULL, "status", NULL), 0);
	ASSERT_CONTAINS(out, "on ctlnode");
	ASSERT_CONTAINS(out, "database up");
	ASSERT_CONTAINS(out, "INFLIGHT");
	ASSERT_CONTAINS(out, "fetcher[1]");
	free(out);
}

/* --- watch ----------------------------------------------------------------------------- */

/* Reads fd until EOF (or EIO: the pty closed) or ms pass; malloc'd. */
static char *read_all(int fd, int ms)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	double t0 = test_now_ms();
	while (test_now_ms() - t0 < ms) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		char chunk[8192];
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n <= 0 && !(n < 0 && errno == EINTR))
			break;
		if (n > 0)
			fwrite(chunk, 1, (size_t)n, m);
	}
	fclose(m);
	return buf;
}

TEST(watch_on_a_terminal_redraws_with_progress_moving)
{
	struct stack s;
	enum { NJOBS = 24 };
	stack_start(&s, "triggered", 1);
	for (int i = 0; i < NJOBS; i++)
		free(submit(&s, "w", i));

	int master;
	struct winsize ws = {.ws_row = 50, .ws_col = 120};
	pid_t pid = forkpty(&master, NULL, NULL, &ws);
	if (pid < 0)
		FAIL("forkpty: %s", strerror(errno));
	if (pid == 0) {
		char prog[PATH_MAX];
		snprintf(prog, sizeof prog, "%s/viralctl", suptest_bin());
		execl(prog, "viralctl", "--socket", s.r.sock, "watch", "--interval", "0.05",
		      "--count", "400", (char *)NULL);
		_exit(127);
	}
	ASSERT_EQ_INT(ctl(&s, NULL, NULL, "trigger", NULL), 0);

	/* Meanwhile, jobs shows the one job in flight as the database has it. */
	json_t *snap = NULL;
	WAIT_UNTIL((json_decref(snap), snap = ctl_json(&s, "jobs", NULL),
	            json_array_size(json_object_get(snap, "jobs")) == 1),
	           20000);
	json_t *x = json_array_get(json_object_get(snap, "jobs"), 0);
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT lease_owner FROM viral_ideas_queue WHERE id = $1", jstr(x, "id")),
	    jint(snap, "owner"));
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT attempts FROM viral_ideas_queue WHERE id = $1", jstr(x, "id")),
	    jint(x, "attempts"));
	ASSERT_EQ_STR(jstr(x, "primary"),
	              sql_str(&s, "SELECT primary_username FROM viral_ideas_queue WHERE id = $1",
	                      jstr(x, "id")));
	ASSERT_EQ_INT(jint(json_object_get(x, "accounts"), "total"), 4);
	ASSERT_CMP_INT(jint(x, "progress"), >=, 10);
	ASSERT_CMP_INT(jint(x, "progress"), <, 100);
	ASSERT(!strcmp(jstr(x, "step"), "fetching") || !strcmp(jstr(x, "step"), "analyzing"));
	ASSERT(json_number_value(json_object_get(x, "elapsed_s")) >= 0);
	json_decref(snap);

	WAIT_UNTIL(count_status(&s, "completed") == NJOBS, 40000);
	/* Ctrl-C ends it (at once, not after 400 frames). */
	kill(pid, SIGINT);
	char *out = read_all(master, 10000);
	int st;
	ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(master);

	/* Frames start by clearing the screen; follow "completed N" across them. */
	int frames = 0, bars = 0, distinct = 0, seen[NJOBS + 1] = {0};
	for (char *f = strstr(out, "\033[H\033[2J"); f; f = strstr(f + 1, "\033[H\033[2J")) {
		frames++;
		char *end = strstr(f + 1, "\033[H\033[2J");
		char *q = strstr(f, "completed ");
		if (q && (!end || q < end)) {
			int n = atoi(q + strlen("completed "));
			if (n >= 0 && n <= NJOBS && !seen[n]++)
				distinct++;
		}
		char *b = strstr(f, "[#");
		if (b && (!end || b < end))
			bars++;
	}
	ASSERT_CMP_INT(frames, >=, 3);
	ASSERT_CMP_INT(distinct, >=, 3); /* the completed count moved */
	ASSERT_CMP_INT(bars, >=, 1);     /* a job in flight drawn with its bar */
	ASSERT_CONTAINS(out, "fetcher[0]");
	ASSERT_CONTAINS(out, "jobs in flight:");
	free(out);
}

TEST(watch_without_a_terminal_prints_plain_lines)
{
	struct stack s;
	char *out = NULL;
	stack_start(&s, "triggered", 8);
	ASSERT_EQ_INT(ctl(&s, &out, NULL, "watch", "--count", "3", "--interval", "0.05", NULL), 0);
	ASSERT(strchr(out, '\033') == NULL);
	int actors = 0, lines = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n")) {
		lines++;
		ASSERT(strlen(l) > 9 && l[2] == ':' && l[5] == ':' && l[8] == ' ');
		if (strstr(l, " actors ready=6/6 database=up"))
			actors++;
	}
	ASSERT_EQ_INT(actors, 3);
	ASSERT_EQ_INT(lines, 6); /* actors + queue per frame, no jobs */
	free(out);

	/* --json: one object per frame. */
	ASSERT_EQ_INT(
	    ctl(&s, &out, NULL, "--json", "watch", "--count", "2", "--interval", "0.05", NULL), 0);
	int n = 0;
	for (char *l = strtok(out, "\n"); l; l = strtok(NULL, "\n"), n++) {
		json_t *f = json_loads(l, 0, NULL);
		ASSERT(f != NULL);
		ASSERT(json_is_object(json_object_get(f, "status")));
		ASSERT(json_is_array(json_object_get(json_object_get(f, "jobs"), "jobs")));
		ASSERT(json_is_object(json_object_get(json_object_get(f, "queue"), "counts")));
		json_decref(f);
	}
	ASSERT_EQ_INT(n, 2);
	free(out);
}

/* --- errors ---------------------------------------------------------------------------- */

TEST(errors_for_wrong_socket_stopped_scheduler_and_stopped_supervisor)
{
	struct stack s;
	char *err = NULL;
	const char *wrong[] = {"viralctl", "--socket", "/nonexistent/control.sock", "jobs", NULL};
	ASSERT_EQ_INT(suptest_run(wrong, NULL, &err), 3);
	ASSERT_CONTAINS(err, "supervisor not running");
	free(err);

	stack_start(&s, "triggered", 8);
	/* Without a scheduler: its commands are unavailable, status still works. */
	ASSERT_EQ_INT(ctl(&s, NULL, NULL, "stop", "scheduler", NULL), 0);
	WAIT_UNTIL(suptest_state_is(&s.r, "scheduler", "stopped"), 10000);
	ASSERT_EQ_INT(ctl(&s, NULL, &err, "jobs", NULL), 9);
	ASSERT_CONTAINS(err, "scheduler");
	free(err);
	ASSERT_EQ_INT(ctl(&s, NULL, NULL, "queue", NULL), 9);
	json_t *st = ctl_json(&s, "status", NULL);
	ASSERT_EQ_STR(jstr(st, "database"), "unknown");
	ASSERT(json_is_null(json_object_get(st, "scheduler")));
	json_decref(st);
	/* Usage errors. */
	ASSERT_EQ_INT(ctl(&s, NULL, NULL, "jobs", "--bogus", NULL), 2);
	ASSERT_EQ_INT(ctl(&s, NULL, NULL, "watch", "--count", "0", NULL), 2);
	ASSERT_EQ_INT(ctl(&s, NULL, NULL, "job", NULL), 2);

	kill(s.r.pid, SIGTERM);
	ASSERT(suprun_wait(&s.r, 15000) >= 0);
	ASSERT_EQ_INT(ctl(&s, NULL, &err, "jobs", NULL), 3);
	ASSERT_CONTAINS(err, "supervisor not running");
	free(err);
	ASSERT_EQ_INT(ctl(&s, NULL, NULL, "watch", "--count", "2", NULL), 3);
}

TEST(help_on_every_command_and_version)
{
	static const char *const cmds[] = {
	    "status", "jobs",  "queue",  "job",  "watch",   "trigger", "process", "cancel",
	    "retry",  "pause", "resume", "logs", "restart", "stop",    "start",   "kill"};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		char *out = NULL;
		const char *argv[] = {"viralctl", cmds[i], "--help", NULL};
		ASSERT_EQ_INT(suptest_run(argv, &out, NULL), 0);
		char want[64];
		snprintf(want, sizeof want, "usage: viralctl ");
		ASSERT_CONTAINS(out, want);
		ASSERT_CONTAINS(out, cmds[i]);
		free(out);
	}
	char *out = NULL;
	const char *v[] = {"viralctl", "--version", NULL};
	ASSERT_EQ_INT(suptest_run(v, &out, NULL), 0);
	ASSERT_CONTAINS(out, "viralctl 0.1.0 (control protocol v1)");
	free(out);
}

/* --- peer credentials ------------------------------------------------------------------- */

/* Runs viralctl as nobody (setpriv); the exit code, stderr into *err. */
static int ctl_as_nobody(struct stack *s, char **err)
{
	char prog[PATH_MAX];
	snprintf(prog, sizeof prog, "%s/viralctl", suptest_bin());
	int pe[2], st;
	if (pipe(pe) < 0)
		FAIL("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pe[1], 2);
		close(pe[0]);
		execlp("setpriv", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		       prog, "--socket", s->r.sock, "jobs", (char *)NULL);
		_exit(127);
	}
	close(pe[1]);
	*err = read_all(pe[0], 10000);
	close(pe[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

TEST(another_uid_is_refused)
{
	struct stack s;
	char *err = NULL;
	if (geteuid() != 0)
		test_skip("needs root to run viralctl as another user");
	if (access("/usr/bin/setpriv", X_OK) != 0)
		test_skip("no setpriv");
	stack_start(&s, "triggered", 8);
	/* The run directory (0700) keeps others out ... */
	int code = ctl_as_nobody(&s, &err);
	if (code == 127)
		test_skip("nobody cannot run the viralctl binary here");
	ASSERT_EQ_INT(code, 4);
	ASSERT_CONTAINS(err, "permission denied");
	free(err);
	/* ... and with the directory and socket opened up, the listener's peer
	 * credential check still refuses the connection. */
	ASSERT_EQ_INT(chmod(s.r.dir, 0711), 0);
	ASSERT_EQ_INT(chmod(s.r.run_dir, 0711), 0);
	ASSERT_EQ_INT(chmod(s.r.sock, 0666), 0);
	ASSERT_EQ_INT(ctl_as_nobody(&s, &err), 4);
	ASSERT_CONTAINS(err, "runs as uid 0, we are uid 65534");
	free(err);
	/* The owner still gets in. */
	ASSERT_EQ_INT(ctl(&s, NULL, NULL, "jobs", NULL), 0);
}
