/*
 * bench_scale [CONNINFO]: claim latency when the queue table is large.
 * FINISHED (env, default 1000000) completed rows and PENDING (env, default
 * 1000) pending ones; every pending job is then claimed one per claim
 * (queue_claim, K = 1, committed) and each claim is timed. The ceiling is
 * the same claims on a table holding only the PENDING rows. CONNINFO (or
 * $DATABASE_URL) names a server; the bench makes its own database there
 * and drops it. Output: one line of key=value pairs (milliseconds).
 */
#include "sql/migrate.h"
#include "sql/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void must(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench_scale: %s: %s", sql, PQresultErrorMessage(r));
		exit(1);
	}
	PQclear(r);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* Claims every pending job one at a time; fills lat[] (ms) and returns how many. */
static int claim_all(PGconn *c, long long owner, double *lat, int max)
{
	char err[256];
	int n = 0;
	while (n < max) {
		struct queue_job *j;
		struct queue_claim_opts opt = {.owner = owner, .limit = 1, .lease_ms = 600000};
		double t0 = now_ms();
		int got = queue_claim(c, &opt, &j, err, sizeof err);
		double dt = now_ms() - t0;
		if (got < 0) {
			fprintf(stderr, "bench_scale: claim: %s\n", err);
			exit(1);
		}
		queue_jobs_free(j, got);
		if (got == 0)
			break;
		lat[n++] = dt;
	}
	return n;
}

static void fill(PGconn *c, long finished, int pending)
{
	char sql[512];
	must(c, "TRUNCATE viral_ideas_queue CASCADE");
	if (finished > 0) {
		snprintf(
		    sql, sizeof sql,
		    "INSERT INTO viral_ideas_queue (session_id, primary_username, status, "
		    "submitted_at, completed_at, total_runs) SELECT 'done' || i, 'u' || (i %% "
		    "5000), 'completed', now() - interval '30 days' + i * interval '1 second', "
		    "now(), 1 FROM generate_series(1, %ld) i",
		    finished);
		must(c, sql);
	}
	snprintf(sql, sizeof sql,
	         "INSERT INTO viral_ideas_queue (session_id, primary_username, priority) "
	         "SELECT 'todo' || i, 'u' || i, 1 + i %% 10 FROM generate_series(1, %d) i",
	         pending);
	must(c, sql);
	must(c, "TRUNCATE job_events");
	must(c, "VACUUM ANALYZE viral_ideas_queue");
}

int main(int argc, char **argv)
{
	const char *server = argc > 1 ? argv[1] : getenv("DATABASE_URL");
	long finished = getenv("FINISHED") ? atol(getenv("FINISHED")) : 1000000;
	int pending = getenv("PENDING") ? atoi(getenv("PENDING")) : 1000;
	if (!server || pending < 1) {
		fprintf(stderr, "usage: [FINISHED=N] [PENDING=N] bench_scale CONNINFO\n");
		return 1;
	}
	char *admin_ci, *ci, db[64], sql[128], err[512];
	snprintf(db, sizeof db, "bench_scale_%d", (int)getpid());
	if (asprintf(&admin_ci, "%s dbname=postgres", server) < 0 ||
	    asprintf(&ci, "%s dbname=%s application_name=viralsup-bench", server, db) < 0)
		return 1;
	PGconn *admin = PQconnectdb(admin_ci);
	if (PQstatus(admin) != CONNECTION_OK) {
		fprintf(stderr, "bench_scale: %s", PQerrorMessage(admin));
		return 1;
	}
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db); /* our own name, not input */
	must(admin, sql);
	PGconn *c = PQconnectdb(ci);
	if (migrate_apply(c, err, sizeof err) < 0) {
		fprintf(stderr, "bench_scale: %s\n", err);
		return 1;
	}
	must(c, "SET client_min_messages = warning");
	long long owner = queue_owner_register(c, "bench", "bench", 600000, err, sizeof err);
	double *base = calloc((size_t)pending, sizeof *base),
	       *big = calloc((size_t)pending, sizeof *big);

	fill(c, 0, pending);
	int nb = claim_all(c, owner, base, pending);
	double t0 = now_ms();
	fill(c, finished, pending);
	double fill_s = (now_ms() - t0) / 1e3;
	int ns = claim_all(c, owner, big, pending);
	if (nb < 1 || ns < 1) {
		fprintf(stderr, "bench_scale: nothing claimed\n");
		return 1;
	}
	qsort(base, (size_t)nb, sizeof *base, cmp);
	qsort(big, (size_t)ns, sizeof *big, cmp);
	printf("finished=%ld pending=%d claims=%d fill_s=%.1f scale_p50=%.3f scale_p99=%.3f "
	       "scale_min=%.3f scale_max=%.3f base_p50=%.3f base_p99=%.3f base_min=%.3f "
	       "base_max=%.3f\n",
	       finished, pending, ns, fill_s, pct(big, ns, 0.5), pct(big, ns, 0.99), big[0],
	       big[ns - 1], pct(base, nb, 0.5), pct(base, nb, 0.99), base[0], base[nb - 1]);
	PQfinish(c);
	snprintf(sql, sizeof sql, "DROP DATABASE %s", db);
	must(admin, sql);
	PQfinish(admin);
	free(base);
	free(big);
	free(admin_ci);
	free(ci);
	return 0;
}
