/*
 * sql/pg.c against a PostgreSQL this test starts and restarts itself
 * (scripts/pg.sh on a cluster in test_tmpdir()): queries, NOTIFY, and
 * reconnecting after the server went away, with the queue's async API.
 */
#include "sql/migrate.h"
#include "sql/pg.h"
#include "sql/queue.h"
#include "tests/harness.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

static char *cluster_dir;

static char *cluster_start(void)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "PG_FAST=1 scripts/pg.sh start %s", cluster_dir);
	FILE *f = popen(cmd, "r");
	char line[512] = "";
	if (!f || !fgets(line, sizeof line, f))
		FAIL("pg.sh start failed");
	pclose(f);
	line[strcspn(line, "\n")] = '\0';
	return strdup(line);
}

/* Stops the cluster and removes its files (also those relocated out of
 * cluster_dir when running as root). */
static void cluster_destroy(void)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "scripts/pg.sh destroy %s", cluster_dir);
	if (system(cmd) != 0)
		FAIL("pg.sh destroy failed");
}

static void cluster_stop(void)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "scripts/pg.sh stop %s", cluster_dir);
	if (system(cmd) != 0)
		FAIL("pg.sh stop failed");
}

struct run {
	struct ev_loop *loop;
	struct pg *pg;
	char *conninfo;
	int ups, downs, notifies;
	int step;
	char sleep_err[256];
	int refused_while_down;
	long long owner;
	int completed;
	double t_down, t_up;
};

static void on_complete(int rc, const char *err, void *arg)
{
	struct run *r = arg;
	if (rc != QUEUE_OK)
		FAIL("complete after reconnect: rc %d %s", rc, err ? err : "");
	r->completed = 1;
	ev_break(r->loop, EVBREAK_ALL);
}

static void on_claim(struct queue_job *jobs, int n, const char *err, void *arg)
{
	struct run *r = arg;
	if (n < 0)
		FAIL("claim after reconnect: %s", err);
	if (n == 0) { /* the NOTIFY can beat nothing here, but be safe: retry once */
		queue_jobs_free(jobs, n);
		return;
	}
	struct queue_result res = {.analysis_run = jobs[0].analysis_run};
	if (queue_complete_async(r->pg, jobs[0].id, jobs[0].lease_token, &res, on_complete, r) < 0)
		FAIL("complete_async refused");
	queue_jobs_free(jobs, n);
}

static void on_notify(struct pg *pg, const char *channel, const char *payload, void *arg)
{
	(void)pg;
	(void)payload;
	struct run *r = arg;
	ASSERT_EQ_STR(channel, QUEUE_CHANNEL);
	r->notifies++;
	if (r->step == 3) {
		struct queue_claim_opts o = {.owner = r->owner, .limit = 1};
		if (queue_claim_async(r->pg, &o, on_claim, r) < 0)
			FAIL("claim_async refused");
	}
}

static void on_owner(long long id, const char *err, void *arg)
{
	struct run *r = arg;
	if (id < 0)
		FAIL("owner register after reconnect: %s", err);
	r->owner = id;
	r->step = 3;
	/* A job submitted by another client must wake us through the re-issued LISTEN. */
	PGconn *c = PQconnectdb(r->conninfo);
	PGresult *res = PQexec(c, "INSERT INTO viral_ideas_queue (session_id, primary_username) "
	                          "VALUES ('after-restart', 'u')");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		FAIL("insert: %s", PQresultErrorMessage(res));
	PQclear(res);
	PQfinish(c);
}

static void on_sleep(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	(void)pg;
	(void)res;
	struct run *r = arg;
	snprintf(r->sleep_err, sizeof r->sleep_err, "%s", err ? err : "(no error)");
}

static void on_select(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	struct run *r = arg;
	if (err)
		FAIL("SELECT 1: %s", err);
	ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "1");
	/* A long query in flight, then the server goes away under it. */
	if (pg_query(pg, "SELECT pg_sleep(30)", 0, NULL, on_sleep, r) < 0)
		FAIL("pg_query refused");
	r->step = 1;
	cluster_stop();
}

static void on_state(struct pg *pg, bool up, const char *why, void *arg)
{
	struct run *r = arg;
	if (up) {
		r->ups++;
		if (r->ups == 1) {
			if (pg_query(pg, "SELECT 1", 0, NULL, on_select, r) < 0)
				FAIL("pg_query refused while up");
		} else {
			r->t_up = test_now_ms();
			r->step = 2;
			if (queue_owner_register_async(pg, "restarted", "test", 30000, on_owner,
			                               r) < 0)
				FAIL("owner register refused");
		}
		return;
	}
	r->downs++;
	if (r->step == 1 && r->downs == 1) {
		printf("  down: %s\n", why);
		r->t_down = test_now_ms();
		r->refused_while_down = pg_query(pg, "SELECT 1", 0, NULL, NULL, NULL) == -ENOTCONN;
		free(cluster_start());
	}
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void reconnect_body(void)
{
	struct run r = {0};
	r.conninfo = cluster_start();
	PGconn *c = PQconnectdb(r.conninfo);
	char err[512];
	if (PQstatus(c) != CONNECTION_OK || migrate_apply(c, err, sizeof err) < 0)
		FAIL("setup: %s", PQerrorMessage(c));
	PQfinish(c);

	r.loop = ev_default_loop(0);
	const char *channels[] = {QUEUE_CHANNEL, NULL};
	struct pg_config cfg = {.conninfo = r.conninfo,
	                        .application_name = "viralsup-test",
	                        .reconnect_min_ms = 50,
	                        .reconnect_max_ms = 500,
	                        .listen = channels,
	                        .on_state = on_state,
	                        .on_notify = on_notify,
	                        .arg = &r};
	r.pg = pg_new(r.loop, &cfg);
	ev_timer deadline;
	ev_timer_init(&deadline, on_deadline, 15.0, 0);
	ev_timer_start(r.loop, &deadline);
	ev_run(r.loop, 0);

	printf("  reconnected %.0f ms after the server went down\n", r.t_up - r.t_down);
	ASSERT_EQ_INT(r.ups, 2);
	ASSERT_CMP_INT(r.downs, >=, 1);
	ASSERT(r.refused_while_down);
	/* The query in flight failed with a reason instead of hanging. */
	ASSERT(strcmp(r.sleep_err, "(no error)") != 0 && r.sleep_err[0]);
	printf("  in-flight query failed with: %s\n", r.sleep_err);
	ASSERT_CMP_INT(r.notifies, >=, 1);
	ASSERT_EQ_INT(r.completed, 1);
	ASSERT_EQ_INT(pg_pending(r.pg), 0);
	pg_free(r.pg);
	free(r.conninfo);
}

TEST(pg_reconnects_after_postgres_restart_and_the_queue_continues)
{
	if (access("scripts/pg.sh", X_OK) != 0)
		test_skip("scripts/pg.sh not found (run from the repository root)");
	cluster_dir = test_tmpdir();
	/* The body runs in a child so the cluster is stopped whatever happens to it. */
	pid_t pid = fork();
	if (pid == 0) {
		reconnect_body();
		fflush(NULL);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	cluster_destroy();
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void on_err_result(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	(void)pg;
	(void)res;
	char *out = arg;
	snprintf(out, 256, "%s", err ? err : "(none)");
	ev_break(ev_default_loop(0), EVBREAK_ALL);
}

static void up_then_query(struct pg *pg, bool up, const char *why, void *arg)
{
	(void)why;
	if (up && pg_query(pg, "SELECT pg_sleep(5)", 0, NULL, on_err_result, arg) < 0)
		FAIL("refused");
}

TEST(pg_statement_timeout_is_set_on_connect)
{
	char *ci = test_db_create();
	char err[256] = "";
	struct pg_config cfg = {
	    .conninfo = ci, .statement_timeout_ms = 100, .on_state = up_then_query, .arg = err};
	struct ev_loop *loop = ev_default_loop(0);
	struct pg *pg = pg_new(loop, &cfg);
	ev_timer deadline;
	ev_timer_init(&deadline, on_deadline, 4.0, 0);
	ev_timer_start(loop, &deadline);
	ev_run(loop, 0);
	ASSERT_CONTAINS(err, "statement timeout");
	pg_free(pg);
	free(ci);
}
