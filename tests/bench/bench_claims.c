/*
 * bench_claims [CONNINFO]: jobs per second through claim + complete, with
 * 1 and 4 claimer processes, one job per claim and K = 32 per claim.
 * CONNINFO (or $DATABASE_URL / $TEST_PG_CONNINFO) names a server; the
 * bench makes its own database there and drops it at the end.
 * JOBS=N sets the jobs per run (default 20000); CLAIMERS=N and K=N run just
 * that one configuration (profiling: PROFILE=1 tests/bench/run.sh).
 *
 * bench_claims --explain [CONNINFO]: EXPLAIN (ANALYZE, BUFFERS) of the claim
 * statement on 1,000,000 finished and 1,000 pending jobs (docs/EXPLAIN-claim.md),
 * then the plans of a claim, renew, progress and completion of 32 jobs there
 * (auto_explain; needs a superuser).
 */
#include "sql/migrate.h"
#include "sql/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void must(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench: %s: %s", sql, PQresultErrorMessage(r));
		exit(1);
	}
	PQclear(r);
}

/*
 * One claimer as the pipeline runs one: it heartbeats on a timer (the
 * scheduler's lease timer, not once per claim) and completes what one claim
 * took in one statement (the writer's group commit of results).
 */
/* CPU seconds (user + system) process pid has used, or -1 (not on this host). */
static double cpu_s(int pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	unsigned long ut = 0, st = 0;
	/* After "pid (comm) state": fields 4..13, then utime and stime. */
	int n =
	    fscanf(f, "%*d (%*[^)]) %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
	fclose(f);
	return n == 2 ? (double)(ut + st) / sysconf(_SC_CLK_TCK) : -1;
}

/* The database CPU seconds of the claimers of one run (their backends), when measurable,
 * and the WAL it wrote (bytes: a measure of the rows and index entries written). */
static double backend_cpu, run_wal;

static double wal_lsn(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT pg_current_wal_insert_lsn() - '0/0'");
	double v = PQresultStatus(r) == PGRES_TUPLES_OK ? atof(PQgetvalue(r, 0, 0)) : 0;
	PQclear(r);
	return v;
}

static int claimer(const char *ci, int k, int report_fd)
{
	PGconn *c = PQconnectdb(ci);
	char err[256];
	long long o = queue_owner_register(c, "bench", "bench", 30000, err, sizeof err);
	struct queue_completion *done = calloc((size_t)k, sizeof *done);
	int *rc = calloc((size_t)k, sizeof *rc);
	if (!done || !rc)
		return 1;
	int empty = 0;
	double beat = now_s();
	while (empty < 2) {
		/* Stay alive as an owner: past the heartbeat expiry other claimers
		 * would rightly take this owner's jobs. */
		if (now_s() - beat > 1.0) {
			if (queue_owner_heartbeat(c, o, err, sizeof err) != QUEUE_OK) {
				fprintf(stderr, "heartbeat: %s\n", err);
				return 1;
			}
			beat = now_s();
		}
		struct queue_job *j;
		struct queue_claim_opts opt = {.owner = o, .limit = k, .lease_ms = 60000};
		int n = queue_claim(c, &opt, &j, err, sizeof err);
		if (n < 0) {
			fprintf(stderr, "claim: %s\n", err);
			return 1;
		}
		empty = n ? 0 : empty + 1;
		for (int i = 0; i < n; i++)
			done[i] = (struct queue_completion){
			    .id = j[i].id, .token = j[i].lease_token, .run = j[i].analysis_run};
		if (n && queue_complete_many(c, n, done, rc, err, sizeof err) != 0) {
			fprintf(stderr, "complete: %s\n", err);
			return 1;
		}
		for (int i = 0; i < n; i++)
			if (rc[i] != QUEUE_OK) {
				fprintf(stderr, "complete: job %s lost its lease\n", j[i].id);
				return 1;
			}
		queue_jobs_free(j, n);
	}
	free(done);
	free(rc);
	double cpu = cpu_s(PQbackendPID(c));
	if (write(report_fd, &cpu, sizeof cpu) != sizeof cpu)
		return 1;
	PQfinish(c);
	return 0;
}

static double run(PGconn *c, const char *ci, int jobs, int nclaimers, int k)
{
	char sql[256];
	must(c, "TRUNCATE viral_ideas_queue CASCADE");
	must(c, "TRUNCATE job_events");
	snprintf(sql, sizeof sql,
	         "INSERT INTO viral_ideas_queue (session_id, primary_username) "
	         "SELECT 'b' || i, 'u' || i FROM generate_series(1, %d) i",
	         jobs);
	must(c, sql);
	must(c, "VACUUM ANALYZE viral_ideas_queue");
	double wal0 = wal_lsn(c);
	double t0 = now_s();
	pid_t kids[16];
	int report[2];
	if (pipe(report) < 0)
		exit(1);
	for (int i = 0; i < nclaimers; i++)
		if ((kids[i] = fork()) == 0)
			_exit(claimer(ci, k, report[1]));
	close(report[1]);
	for (int i = 0; i < nclaimers; i++) {
		int st;
		waitpid(kids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			exit(1);
	}
	double t1 = now_s();
	run_wal = wal_lsn(c) - wal0;
	backend_cpu = 0;
	double cpu;
	while (read(report[0], &cpu, sizeof cpu) == sizeof cpu)
		backend_cpu = backend_cpu < 0 || cpu < 0 ? -1 : backend_cpu + cpu;
	close(report[0]);
	return jobs / (t1 - t0);
}

static void print_notice(void *arg, const char *msg)
{
	(void)arg;
	printf("%s\n", msg);
}

/*
 * The rest of a job's life on the same table, with the pending jobs as the
 * pipeline makes them (3 competitors each, in a batch): claim, renew,
 * progress and completion of 32 jobs through the library's own calls, each
 * statement's plan reported by auto_explain (ANALYZE, BUFFERS, nested
 * statements: the triggers' too). Needs a superuser (LOAD).
 */
static void explain_lifecycle(PGconn *c, long long owner)
{
	char err[256];
	must(c, "INSERT INTO viral_ideas_competitors (queue_id, competitor_username) SELECT q.id, "
	        "q.primary_username || '_c' || k FROM viral_ideas_queue q, generate_series(1, 3) k "
	        "WHERE q.status = 'pending'");
	must(c, "WITH b AS (INSERT INTO batches (total_jobs) VALUES (1000) RETURNING id) "
	        "UPDATE viral_ideas_queue SET batch_id = b.id FROM b WHERE status = 'pending'");
	must(c, "VACUUM ANALYZE");
	must(c, "LOAD 'auto_explain'");
	must(c, "SET auto_explain.log_min_duration = 0");
	must(c, "SET auto_explain.log_analyze = on");
	must(c, "SET auto_explain.log_buffers = on");
	must(c, "SET auto_explain.log_nested_statements = on");
	must(c, "SET auto_explain.log_level = notice");
	must(c, "SET client_min_messages = notice");
	PQsetNoticeProcessor(c, print_notice, NULL);
	printf(
	    "\nclaim, renew, progress, completion of 32 jobs (3 competitors each, one batch):\n");
	struct queue_job *j;
	struct queue_claim_opts opt = {.owner = owner, .limit = 32, .lease_ms = 60000};
	/* Prepared statements run custom plans 5 times before they may settle on a
	 * generic one: report the sixth claim, as a long-running process runs it. */
	for (int i = 0; i < 6; i++) {
		if (i == 5)
			printf(
			    "\n-- claim (K=32, the sixth execution of the prepared statement)\n");
		else
			must(c, "SET auto_explain.log_min_duration = -1");
		int n = queue_claim(c, &opt, &j, err, sizeof err);
		must(c, "SET auto_explain.log_min_duration = 0");
		if (n != 32) {
			fprintf(stderr, "explain: claim: %s\n", n < 0 ? err : "fewer than 32 jobs");
			exit(1);
		}
		if (i < 5)
			queue_jobs_free(j, n);
	}
	const char *ids[32], *tokens[32];
	struct queue_completion done[32];
	int rc[32];
	for (int i = 0; i < 32; i++) {
		ids[i] = j[i].id;
		tokens[i] = j[i].lease_token;
		done[i] =
		    (struct queue_completion){.id = j[i].id, .token = j[i].lease_token, .run = 1};
	}
	printf("\n-- renew (32 leases)\n");
	if (queue_renew(c, owner, 60000, 32, ids, tokens, NULL, err, sizeof err) != 0)
		exit(1);
	printf("\n-- progress (one job)\n");
	if (queue_progress(c, ids[0], tokens[0], 50, "Analyzing", err, sizeof err) != QUEUE_OK)
		exit(1);
	printf("\n-- completion (32 jobs in one statement, no analysis document)\n");
	if (queue_complete_many(c, 32, done, rc, err, sizeof err) != 0) {
		fprintf(stderr, "explain: complete: %s\n", err);
		exit(1);
	}
	queue_jobs_free(j, 32);
	must(c, "SET auto_explain.log_min_duration = -1");
}

static void explain(PGconn *c)
{
	must(c, "INSERT INTO viral_ideas_queue (session_id, primary_username, status, "
	        "submitted_at, completed_at, total_runs) SELECT 'done' || i, 'u' || (i % 5000), "
	        "'completed', now() - interval '30 days' + i * interval '1 second', now(), 1 "
	        "FROM generate_series(1, 1000000) i");
	must(c, "INSERT INTO viral_ideas_queue (session_id, primary_username, priority) "
	        "SELECT 'todo' || i, 'u' || i, 1 + i % 10 FROM generate_series(1, 1000) i");
	must(c, "VACUUM ANALYZE viral_ideas_queue");
	char err[256];
	long long o = queue_owner_register(c, "explain", "bench", 30000, err, sizeof err);
	char *sql, owner[32];
	snprintf(owner, sizeof owner, "%lld", o);
	if (asprintf(&sql, "EXPLAIN (ANALYZE, BUFFERS) %s", queue_claim_sql()) < 0)
		exit(1);
	const char *p[5] = {owner, "32", "60000", "60000", NULL};
	must(c, "BEGIN");
	PGresult *r = PQexecParams(c, sql, 5, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "explain: %s", PQresultErrorMessage(r));
		exit(1);
	}
	printf("claim K=32 on 1,000,000 completed + 1,000 pending rows:\n\n");
	for (int i = 0; i < PQntuples(r); i++)
		printf("    %s\n", PQgetvalue(r, i, 0));
	PQclear(r);
	must(c, "ROLLBACK");
	free(sql);
	explain_lifecycle(c, o);
}

int main(int argc, char **argv)
{
	int do_explain = argc > 1 && strcmp(argv[1], "--explain") == 0;
	if (do_explain) {
		argc--;
		argv++;
	}
	const char *server = argc > 1 ? argv[1] : getenv("DATABASE_URL");
	if (!server)
		server = getenv("TEST_PG_CONNINFO");
	if (!server) {
		fprintf(stderr, "usage: bench_claims CONNINFO\n");
		return 1;
	}
	int jobs = getenv("JOBS") ? atoi(getenv("JOBS")) : 20000;
	char *admin_ci, *ci, db[64], sql[128];
	snprintf(db, sizeof db, "bench_claims_%d", (int)getpid());
	if (asprintf(&admin_ci, "%s dbname=postgres", server) < 0 ||
	    asprintf(&ci, "%s dbname=%s application_name=viralsup-bench", server, db) < 0)
		return 1;
	PGconn *admin = PQconnectdb(admin_ci);
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "bench: %s", PQerrorMessage(admin));
		return 1;
	}
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db); /* our own name, not input */
	must(admin, sql);
	PGconn *c = PQconnectdb(ci);
	char err[512];
	if (migrate_apply(c, err, sizeof err) < 0) {
		fprintf(stderr, "bench: %s\n", err);
		return 1;
	}
	must(c, "SET client_min_messages = warning");
	if (do_explain) {
		explain(c);
		jobs = 0;
	}
	if (jobs)
		printf("claim + complete, %d jobs per run (jobs/s)\n", jobs);
	if (jobs)
		printf("| claimers | 1 job per claim | K=32 per claim |\n|---|---|---|\n");
	if (getenv("CLAIMERS") && getenv("K")) {
		int n = atoi(getenv("CLAIMERS")), k = atoi(getenv("K"));
		if (n < 1 || n > 16 || k < 1) {
			fprintf(stderr, "bench: CLAIMERS must be 1..16 and K >= 1\n");
			return 1;
		}
		double jps = run(c, ci, jobs, n, k);
		printf("| %d | K=%d | %.0f |", n, k, jps);
		if (backend_cpu >= 0) /* the claimers' backends, on this host */
			printf(" %.3f ms database CPU per job |", backend_cpu * 1000 / jobs);
		printf(" %.0f WAL bytes per job |", run_wal / jobs);
		printf("\n");
		jobs = 0;
	}
	int cl[2] = {1, 4};
	for (int i = 0; jobs && i < 2; i++) {
		double one = run(c, ci, jobs, cl[i], 1);
		double batched = run(c, ci, jobs, cl[i], 32);
		printf("| %d | %.0f | %.0f |\n", cl[i], one, batched);
		fflush(stdout);
	}
	PQfinish(c);
	snprintf(sql, sizeof sql, "DROP DATABASE %s", db);
	must(admin, sql);
	PQfinish(admin);
	free(admin_ci);
	free(ci);
	return 0;
}
