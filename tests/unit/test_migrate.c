/*
 * Schema migrations against a real PostgreSQL: from empty, re-run, newer
 * schema refused, two nodes migrating at once.
 */
#include "sql/migrate.h"
#include "tests/harness.h"

#include <glob.h>
#include <sys/wait.h>
#include <unistd.h>

/* The migrations the repository holds, counted from sql/0*.sql rather than
 * taken from the code under test; *latest gets the highest version prefix. */
static int migration_files(int *latest)
{
	glob_t g;
	if (glob("sql/0*.sql", 0, NULL, &g) != 0)
		FAIL("no sql/0*.sql files (run from the repository root)");
	int n = (int)g.gl_pathc, top = 0;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		int v = atoi(g.gl_pathv[i] + 4);
		if (v > top)
			top = v;
	}
	globfree(&g);
	if (latest)
		*latest = top;
	return n;
}

static PGconn *connect_or_fail(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK)
		FAIL("connect: %s", PQerrorMessage(c));
	return c;
}

static long long scalar(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		FAIL("%s: %s", sql, PQresultErrorMessage(r));
	long long v = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static int exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
}

TEST(migrations_from_empty_create_the_original_schema)
{
	char *ci = test_db_create();
	PGconn *c = connect_or_fail(ci);
	char err[512] = "";
	int latest, files = migration_files(&latest);
	int n = migrate_apply(c, err, sizeof err);
	if (n < 0)
		FAIL("migrate_apply: %s", err);
	ASSERT_EQ_INT(n, files);
	ASSERT_EQ_INT(scalar(c, "SELECT count(*) FROM schema_migrations"), files);
	ASSERT_EQ_INT(scalar(c, "SELECT max(version) FROM schema_migrations"), latest);
	ASSERT_EQ_INT(migrate_latest_version(), latest);
	/* The original's tables and the view, with the columns its dashboard selects. */
	const char *tables[] = {"viral_ideas_queue",
	                        "viral_ideas_competitors",
	                        "viral_analysis_results",
	                        "viral_analysis_reels",
	                        "viral_scripts",
	                        "primary_profiles",
	                        "content",
	                        "job_events",
	                        "owners",
	                        "batches",
	                        "schedule_fires"};
	for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
		const char *p[1] = {tables[i]};
		PGresult *r = PQexecParams(c, "SELECT to_regclass($1) IS NOT NULL", 1, NULL, p,
		                           NULL, NULL, 0);
		if (PQgetvalue(r, 0, 0)[0] != 't')
			FAIL("table %s missing", tables[i]);
		PQclear(r);
	}
	ASSERT(exec_ok(c, "SELECT current_step, error_message, active_competitors_count, "
	                  "content_type FROM viral_queue_summary"));
	ASSERT(exec_ok(c, "SELECT transcript, transcript_language, transcript_fetched_at, "
	                  "transcript_available FROM content"));
	/* The content_strategy CHECK: '{}' or the three string keys. */
	ASSERT(exec_ok(c, "INSERT INTO viral_ideas_queue (session_id, primary_username) "
	                  "VALUES ('s1', 'u')"));
	ASSERT(exec_ok(c, "INSERT INTO viral_ideas_queue (session_id, primary_username, "
	                  "content_strategy) VALUES ('s2', 'u', '{\"contentType\":\"a\","
	                  "\"targetAudience\":\"b\",\"goals\":\"c\"}')"));
	ASSERT(!exec_ok(c, "INSERT INTO viral_ideas_queue (session_id, primary_username, "
	                   "content_strategy) VALUES ('s3', 'u', '{\"contentType\":1}')"));
	/* Original SQL that calls uuid_generate_v4() keeps working. */
	ASSERT(exec_ok(c, "SELECT uuid_generate_v4()"));
	PQfinish(c);
	free(ci);
}

TEST(migrations_rerun_is_a_noop)
{
	char *ci = test_db_create();
	PGconn *c = connect_or_fail(ci);
	char err[512] = "";
	ASSERT_EQ_INT(migrate_apply(c, err, sizeof err), migration_files(NULL));
	long long t = scalar(c, "SELECT extract(epoch from max(applied_at))*1000000 FROM "
	                        "schema_migrations");
	ASSERT_EQ_INT(migrate_apply(c, err, sizeof err), 0);
	ASSERT_EQ_INT(scalar(c, "SELECT count(*) FROM schema_migrations"), migration_files(NULL));
	ASSERT_EQ_INT(scalar(c, "SELECT extract(epoch from max(applied_at))*1000000 FROM "
	                        "schema_migrations"),
	              t);
	PQfinish(c);
	free(ci);
}

TEST(migrations_refuse_a_database_newer_than_the_code)
{
	char *ci = test_db_create();
	PGconn *c = connect_or_fail(ci);
	char err[512] = "";
	ASSERT_EQ_INT(migrate_apply(c, err, sizeof err), migration_files(NULL));
	ASSERT(exec_ok(c, "INSERT INTO schema_migrations (version, name, checksum) "
	                  "VALUES (999, 'from_the_future', 'x')"));
	ASSERT_EQ_INT(migrate_apply(c, err, sizeof err), -1);
	ASSERT_CONTAINS(err, "version 999");
	ASSERT_CONTAINS(err, "newer");
	PQfinish(c);
	free(ci);
}

TEST(migrations_refuse_an_edited_migration)
{
	char *ci = test_db_create();
	PGconn *c = connect_or_fail(ci);
	char err[512] = "";
	ASSERT_EQ_INT(migrate_apply(c, err, sizeof err), migration_files(NULL));
	ASSERT(exec_ok(c, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1"));
	ASSERT_EQ_INT(migrate_apply(c, err, sizeof err), -1);
	ASSERT_CONTAINS(err, "changed after it was applied");
	PQfinish(c);
	free(ci);
}

TEST(migrations_two_nodes_starting_at_once_apply_each_once)
{
	char *ci = test_db_create();
	pid_t kids[4];
	for (int i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			PGconn *c = PQconnectdb(ci);
			free(ci); /* the child's copy: valgrind counts it lost at _exit */
			char err[512];
			int n = migrate_apply(c, err, sizeof err);
			if (n < 0)
				fprintf(stderr, "child: %s\n", err);
			PQfinish(c);
			_exit(n < 0 ? 1 : 0);
		}
	}
	for (int i = 0; i < 4; i++) {
		int st;
		waitpid(kids[i], &st, 0);
		ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	PGconn *c = connect_or_fail(ci);
	ASSERT_EQ_INT(scalar(c, "SELECT count(*) FROM schema_migrations"), migration_files(NULL));
	PQfinish(c);
	free(ci);
}
