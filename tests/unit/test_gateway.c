/*
 * The gateway as a real process on loopback, against a real PostgreSQL
 * (fresh database per test, migrations applied), spoken to over real
 * sockets with a small blocking HTTP client.
 *
 * The scheduler does not exist yet: tests of business actions run a tiny
 * fake scheduler (a forked listener on <run_dir>/scheduler.sock) that
 * answers BATCH_TRIGGER / JOB_PROCESS / JOB_CANCEL / JOB_RETRY exactly as
 * docs/API.md "Gateway <-> scheduler messages" specifies. Replace it with
 * the real scheduler once it exists.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/conn.h"
#include "ipc/log.h"
#include "ipc/msg.h"
#include "sql/migrate.h"
#include "sql/queue.h"
#include "tests/harness.h"

struct resp {
	int status;
	char *raw;
	const char *body;
};

struct gw {
	pid_t pid, sched_pid;
	int port;
	char *dir;
	char *db;
};

static char *db_fresh(void)
{
	char *ci = test_db_create();
	PGconn *c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK)
		FAIL("connect: %s", PQerrorMessage(c));
	char err[512];
	if (migrate_apply(c, err, sizeof err) < 0)
		FAIL("migrate: %s", err);
	PQfinish(c);
	return ci;
}

static void db_exec(const char *ci, const char *sql)
{
	PGconn *c = PQconnectdb(ci);
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		FAIL("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* Starts the gateway; env is a NULL-terminated "NAME=value" list, conf an
 * INI text or NULL. Waits until it has written its address. */
static void gw_start(struct gw *g, const char *db, const char *const *env, const char *conf)
{
	memset(g, 0, sizeof *g);
	g->dir = test_tmpdir();
	g->db = db ? strdup(db) : NULL;
	char addr_file[512], conf_file[512], log_file[512];
	snprintf(addr_file, sizeof addr_file, "%s/gateway.http", g->dir);
	snprintf(conf_file, sizeof conf_file, "%s/viralsup.conf", g->dir);
	snprintf(log_file, sizeof log_file, "%s/gateway.log", g->dir);
	if (conf) {
		FILE *f = fopen(conf_file, "w");
		fputs(conf, f);
		fclose(f);
	}
	g->pid = fork();
	if (g->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int lf = open(log_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(lf, 2);
		unsetenv("VIRALSUP_PARENT_FD");
		unsetenv("ADMIN_API_TOKEN");
		setenv("VIRALSUP_RUN_DIR", g->dir, 1);
		setenv("VIRALSUP_HTTP_ADDR", "127.0.0.1:0", 1);
		setenv("DATABASE_URL", db ? db : "", 1);
		if (conf)
			setenv("VIRALSUP_CONFIG", conf_file, 1);
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		const char *bin = getenv("VIRALSUP_BIN");
		char path[512];
		snprintf(path, sizeof path, "%s/viralsup-gateway", bin ? bin : "build/bin");
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	struct stat st;
	WAIT_UNTIL(stat(addr_file, &st) == 0 && st.st_size > 0, 5000);
	FILE *f = fopen(addr_file, "r");
	char line[128] = "";
	if (!fgets(line, sizeof line, f))
		FAIL("empty address file");
	fclose(f);
	char *colon = strrchr(line, ':');
	g->port = atoi(colon + 1);
}

static struct resp call(const struct gw *g, const char *method, const char *path,
                        const char *headers, const char *body);

/* The gateway connects to PostgreSQL in the background: wait for it. */
static void gw_wait_db(const struct gw *g)
{
	WAIT_UNTIL(strstr(call(g, "GET", "/health", NULL, NULL).body, "\"api_available\":true"),
	           5000);
}

static void gw_stop(struct gw *g)
{
	if (g->sched_pid > 0) {
		kill(g->sched_pid, SIGKILL);
		waitpid(g->sched_pid, NULL, 0);
	}
	if (g->pid > 0) {
		kill(g->pid, SIGTERM);
		waitpid(g->pid, NULL, 0);
	}
}

static int gw_connect(const struct gw *g)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g->port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		FAIL("connect: %s", strerror(errno));
	struct timeval tv = {10, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			FAIL("send: %s", strerror(errno));
		s += w;
		n -= (size_t)w;
	}
}

/* Everything the server sends until it closes (malloc'd). */
static char *read_all(int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 4096 > cap)
			buf = realloc(buf, cap *= 2);
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

/* One request on its own connection ("Connection: close"). */
static struct resp call(const struct gw *g, const char *method, const char *path,
                        const char *headers, const char *body)
{
	int fd = gw_connect(g);
	char *req;
	if (asprintf(
	        &req,
	        "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n%s",
	        method, path, headers ? headers : "", body ? strlen(body) : 0,
	        body ? body : "") < 0)
		abort();
	send_all(fd, req, strlen(req));
	free(req);
	struct resp r = {0};
	r.raw = read_all(fd);
	close(fd);
	if (sscanf(r.raw, "HTTP/1.1 %d", &r.status) != 1)
		FAIL("no status line in \"%s\"", r.raw);
	const char *b = strstr(r.raw, "\r\n\r\n");
	r.body = b ? b + 4 : "";
	return r;
}

static const char CREATE_BODY[] =
    "{\"session_id\":\"%s\",\"primary_username\":\"@Main.User\","
    "\"selected_competitors\":[\"@Rival_1\",\"rival_1\",\"other.one\"],"
    "\"content_strategy\":{\"contentType\":\"reels\",\"targetAudience\":\"devs\","
    "\"goals\":\"grow\"}}";

#define JSON_CT "Content-Type: application/json\r\n"

static struct resp create(const struct gw *g, const char *session)
{
	char body[1024];
	snprintf(body, sizeof body, CREATE_BODY, session);
	return call(g, "POST", "/api/viral-ideas/queue", "Content-Type: application/json\r\n",
	            body);
}

/* The id of a created job, from its answer. */
static void job_id_of(const struct resp *r, char *id, size_t len)
{
	const char *p = strstr(r->body, "\"id\"");
	if (!p || !(p = strchr(p + 4, '"')))
		FAIL("no id in %s", r->body);
	snprintf(id, len, "%.36s", p + 1);
}

/* ---- endpoints ----------------------------------------------------------- */

TEST(queue_create_answers_original_shape_and_normalises_names)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, NULL);
	gw_wait_db(&g);
	struct resp r = create(&g, "sess-1");
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"success\":true");
	ASSERT_CONTAINS(r.body, "\"error\":null");
	ASSERT_CONTAINS(r.body, "\"message\":\"Viral ideas analysis queued for @main.user\"");
	ASSERT_CONTAINS(r.body, "\"primary_username\" : \"main.user\"");
	ASSERT_CONTAINS(r.body, "\"status\" : \"pending\"");
	ASSERT_CONTAINS(r.body, "\"submitted_at\"");
	ASSERT_CONTAINS(r.raw, "X-Request-Id: ");

	struct resp q = call(&g, "GET", "/api/viral-ideas/queue/sess-1", NULL, NULL);
	ASSERT_EQ_INT(q.status, 200);
	/* Duplicates removed, order kept, names lower-cased without '@'. */
	ASSERT_CONTAINS(q.body, "\"competitors\" : [\"rival_1\", \"other.one\"]");
	ASSERT_CONTAINS(q.body, "\"content_type\" : \"reels\"");
	ASSERT_CONTAINS(q.body, "\"target_audience\" : \"devs\"");
	ASSERT_CONTAINS(q.body, "\"main_goals\" : \"grow\"");
	ASSERT_CONTAINS(q.body, "\"current_step\" : null");
	ASSERT_CONTAINS(q.body, "\"error_message\" : null");
	ASSERT_CONTAINS(q.body, "\"attempts\" : 0");
	ASSERT_CONTAINS(q.body, "\"progress_percentage\" : 0");

	struct resp n = call(&g, "GET", "/api/viral-ideas/queue/nope", NULL, NULL);
	ASSERT_EQ_INT(n.status, 404);
	ASSERT_EQ_STR(n.body, "{\"success\":false,\"detail\":\"Queue entry not found\"}");
	gw_stop(&g);
}

TEST(queue_create_duplicate_session_is_409_and_inserts_nothing)
{
	struct gw g;
	char *db = db_fresh();
	gw_start(&g, db, NULL, NULL);
	gw_wait_db(&g);
	ASSERT_EQ_INT(create(&g, "dup").status, 200);
	struct resp r = create(&g, "dup");
	ASSERT_EQ_INT(r.status, 409);
	ASSERT_CONTAINS(r.body, "session_id already exists");
	PGconn *c = PQconnectdb(db);
	PGresult *res = PQexec(c, "SELECT (SELECT count(*) FROM viral_ideas_queue),"
	                          " (SELECT count(*) FROM viral_ideas_competitors)");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "1");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 1), "2");
	PQclear(res);
	PQfinish(c);
	gw_stop(&g);
}

TEST(queue_create_validation_errors_are_422_lists)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, NULL);
	gw_wait_db(&g);
	struct resp r = call(&g, "POST", "/api/viral-ideas/queue", JSON_CT, "{not json");
	ASSERT_EQ_INT(r.status, 422);
	ASSERT_CONTAINS(r.body, "\"type\":\"json_invalid\"");
	ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",");

	r = call(&g, "POST", "/api/viral-ideas/queue", JSON_CT, "{\"session_id\":5}");
	ASSERT_EQ_INT(r.status, 422);
	ASSERT_CONTAINS(r.body, "{\"loc\":[\"body\",\"session_id\"],\"msg\":\"Input should be a "
	                        "valid string\",\"type\":\"string_type\"}");
	ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"primary_username\"],\"msg\":\"Field "
	                        "required\",\"type\":\"missing\"");
	ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"content_strategy\"]");

	r = call(&g, "POST", "/api/viral-ideas/queue", JSON_CT,
	         "{\"session_id\":\"s\",\"primary_username\":\"bad name!\","
	         "\"selected_competitors\":[\"ok\",7,\"x\\u00e9\"],\"priority\":11,"
	         "\"content_strategy\":{\"contentType\":1,\"targetAudience\":\"a\"}}");
	ASSERT_EQ_INT(r.status, 422);
	ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"primary_username\"]");
	ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"selected_competitors\",1]");
	ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"selected_competitors\",2]");
	ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"priority\"]");
	ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"content_strategy\",\"contentType\"]");
	ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"content_strategy\",\"goals\"]");

	/* 51 distinct competitors: too many. */
	char body[4096];
	int k = snprintf(body, sizeof body,
	                 "{\"session_id\":\"s\",\"primary_username\":\"u\",\"content_strategy\":"
	                 "{\"contentType\":\"a\",\"targetAudience\":\"b\",\"goals\":\"c\"},"
	                 "\"selected_competitors\":[");
	for (int i = 0; i < 51; i++)
		k += snprintf(body + k, sizeof body - (size_t)k, "%s\"c%d\"", i ? "," : "", i);
	snprintf(body + k, sizeof body - (size_t)k, "]}");
	r = call(&g, "POST", "/api/viral-ideas/queue", JSON_CT, body);
	ASSERT_EQ_INT(r.status, 422);
	ASSERT_CONTAINS(r.body, "\"type\":\"too_long\"");
	gw_stop(&g);
}

TEST(queue_status_has_statistics_and_recent_items)
{
	struct gw g;
	char *db = db_fresh();
	gw_start(&g, db, NULL, NULL);
	gw_wait_db(&g);
	ASSERT_EQ_INT(create(&g, "a").status, 200);
	ASSERT_EQ_INT(create(&g, "b").status, 200);
	db_exec(db, "UPDATE viral_ideas_queue SET status = 'failed' WHERE session_id = 'b'");
	struct resp r = call(&g, "GET", "/api/viral-ideas/queue-status", NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"statistics\" : {\"pending\" : 1, \"processing\" : 0, "
	                        "\"completed\" : 0, \"failed\" : 1, \"total\" : 2}");
	ASSERT_CONTAINS(r.body, "\"recent_items\" : [{\"id\"");
	ASSERT_CONTAINS(r.body, "\"active_competitors_count\" : 2");
	ASSERT_CONTAINS(r.body, "\"current_step\"");
	gw_stop(&g);
}

TEST(check_existing_prefers_completed_and_ignores_failed)
{
	struct gw g;
	char *db = db_fresh();
	gw_start(&g, db, NULL, NULL);
	gw_wait_db(&g);
	struct resp r = call(&g, "GET", "/api/viral-ideas/check-existing/main.user", NULL, NULL);
	ASSERT_EQ_INT(r.status, 404);
	ASSERT_CONTAINS(r.body, "No existing analysis found");
	ASSERT_EQ_INT(create(&g, "one").status, 200);
	ASSERT_EQ_INT(create(&g, "two").status, 200);
	db_exec(db, "UPDATE viral_ideas_queue SET status = 'failed' WHERE session_id = 'two'");
	r = call(&g, "GET", "/api/viral-ideas/check-existing/@Main.User", NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"analysis_type\" : \"active\"");
	ASSERT_CONTAINS(r.body, "\"session_id\" : \"one\"");
	db_exec(db, "UPDATE viral_ideas_queue SET status = 'completed', completed_at = now(),"
	            " progress_percentage = 100 WHERE session_id = 'one'");
	r = call(&g, "GET", "/api/viral-ideas/check-existing/main.user", NULL, NULL);
	ASSERT_CONTAINS(r.body, "\"analysis_type\" : \"completed\"");
	ASSERT_CONTAINS(r.body, "Found existing completed analysis for @main.user");
	gw_stop(&g);
}

TEST(start_answers_status_404_and_malformed_uuid_400)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, NULL);
	gw_wait_db(&g);
	struct resp c = create(&g, "s");
	char id[64], path[256];
	job_id_of(&c, id, sizeof id);
	snprintf(path, sizeof path, "/api/viral-ideas/queue/%s/start", id);
	struct resp r = call(&g, "POST", path, NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"status\" : \"pending\"");
	ASSERT_CONTAINS(r.body, "processor will start shortly");
	r = call(&g, "POST", "/api/viral-ideas/queue/00000000-0000-0000-0000-000000000000/start",
	         NULL, NULL);
	ASSERT_EQ_INT(r.status, 404);
	r = call(&g, "POST", "/api/viral-ideas/queue/not-a-uuid/start", NULL, NULL);
	ASSERT_EQ_INT(r.status, 400);
	r = call(&g, "GET", "/api/viral-analysis/1234/results", NULL, NULL);
	ASSERT_EQ_INT(r.status, 400);
	gw_stop(&g);
}

TEST(unknown_path_404_and_wrong_method_405_with_allow)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, NULL);
	gw_wait_db(&g);
	struct resp r = call(&g, "GET", "/api/nothing-here", NULL, NULL);
	ASSERT_EQ_INT(r.status, 404);
	ASSERT_CONTAINS(r.body, "\"success\":false");
	r = call(&g, "GET", "/api/viral-ideas/process-pending", NULL, NULL);
	ASSERT_EQ_INT(r.status, 405);
	ASSERT_CONTAINS(r.raw, "Allow: POST\r\n");
	r = call(&g, "DELETE", "/api/viral-ideas/queue-status", NULL, NULL);
	ASSERT_EQ_INT(r.status, 405);
	ASSERT_CONTAINS(r.raw, "Allow: GET\r\n");
	gw_stop(&g);
}

TEST(results_return_newest_completed_run_with_real_objects)
{
	struct gw g;
	char *db = db_fresh();
	gw_start(&g, db, NULL, NULL);
	gw_wait_db(&g);
	struct resp c = create(&g, "res");
	char id[64], path[256], sql[2048];
	job_id_of(&c, id, sizeof id);
	snprintf(path, sizeof path, "/api/viral-analysis/%s/results", id);
	/* No run yet: 200 with the job's state as the run's status, empty
	 * collections in the original's shape, a default primary profile. */
	struct resp r = call(&g, "GET", path, NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"status\" : \"pending\"");
	ASSERT_CONTAINS(r.body, "\"viral_ideas\" : []");
	ASSERT_CONTAINS(r.body, "\"analyzed_reels\" : []");
	ASSERT_CONTAINS(r.body, "\"viral_scripts_table\" : []");
	ASSERT_CONTAINS(r.body, "\"analysis_data\" : {}");
	ASSERT_CONTAINS(r.body, "\"generated_hooks\" : []");
	ASSERT_CONTAINS(r.body, "\"profile_analysis\" : {}");
	ASSERT_CONTAINS(r.body, "\"primary_profile\" : {\"username\" : \"main.user\", "
	                        "\"profile_name\" : \"\", \"bio\" : \"\", \"followers\" : 0");
	ASSERT_CONTAINS(r.body, "\"account_type\" : \"Personal\"");
	/* A failed run and nothing completed: that run's status, still empty. */
	snprintf(sql, sizeof sql,
	         "INSERT INTO viral_analysis_results (id, queue_id, analysis_run, status,"
	         " analysis_data) VALUES ('33333333-3333-3333-3333-333333333333', '%s', 1,"
	         " 'failed', '{\"generated_hooks\":[{\"hook_text\":\"partial\"}]}')",
	         id);
	db_exec(db, sql);
	r = call(&g, "GET", path, NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"status\" : \"failed\"");
	ASSERT_CONTAINS(r.body, "\"viral_ideas\" : []");
	ASSERT(!strstr(r.body, "partial"));
	db_exec(db, "DELETE FROM viral_analysis_results");
	snprintf(
	    sql, sizeof sql,
	    "INSERT INTO viral_analysis_results (id, queue_id, analysis_run, status,"
	    " analysis_data) VALUES"
	    " ('11111111-1111-1111-1111-111111111111', '%s', 1, 'completed',"
	    "  '{\"generated_hooks\":[{\"hook_text\":\"H0\"},{\"hook_text\":\"H1\"}],"
	    "    \"analysis_summary\":{\"n\":1}}'),"
	    " ('22222222-2222-2222-2222-222222222222', '%s', 2, 'failed', '{}');"
	    "INSERT INTO viral_scripts (analysis_id, script_title, script_content, source_reels,"
	    " script_structure) VALUES ('11111111-1111-1111-1111-111111111111', 'T', 'C',"
	    " '{\"a\":1}', to_jsonb('{\"hook_section\":\"h\"}'::text));"
	    "INSERT INTO viral_analysis_reels (analysis_id, content_id, reel_type, username,"
	    " rank_in_selection) VALUES ('11111111-1111-1111-1111-111111111111', 'c1', 'primary',"
	    " 'main.user', 1), ('11111111-1111-1111-1111-111111111111', 'c2', 'competitor',"
	    " 'rival_1', 1);"
	    "INSERT INTO primary_profiles (username, profile_name, followers)"
	    " VALUES ('main.user', 'Main User', 42);"
	    "INSERT INTO content (content_id, shortcode, username, view_count, outlier_score)"
	    " VALUES ('c1', 'sc1', 'main.user', 1234567, 2.5), ('c2', 'sc2', 'rival_1', 4500, 7)",
	    id, id);
	db_exec(db, sql);
	r = call(&g, "GET", path, NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"id\" : \"11111111-1111-1111-1111-111111111111\"");
	ASSERT(!strstr(r.body, "22222222-2222"));
	ASSERT_CONTAINS(r.body, "\"analysis_summary\" : {\"n\": 1}");
	/* Ideas are numbered from hook_0, as the original. */
	ASSERT_CONTAINS(r.body, "{\"id\" : \"hook_0\", \"idea_text\" : \"H0\"");
	ASSERT_CONTAINS(r.body, "{\"id\" : \"hook_1\", \"idea_text\" : \"H1\"");
	/* Script documents as the original sent them: JSON-encoded strings,
	 * whether stored as objects (ours) or as strings (the original's). */
	ASSERT_CONTAINS(r.body, "\"source_reels\" : \"{\\\"a\\\": 1}\"");
	ASSERT_CONTAINS(r.body, "\"script_structure\" : \"{\\\"hook_section\\\":\\\"h\\\"}\"");
	/* Competitor reels first among the analysed ones, as the original. */
	const char *comp_reel = strstr(r.body, "\"reel_type\" : \"competitor\"");
	const char *prim_reel = strstr(r.body, "\"reel_type\" : \"primary\"");
	ASSERT(comp_reel && prim_reel && comp_reel < prim_reel);
	ASSERT_CONTAINS(r.body, "\"primary_profile\" : {\"username\" : \"main.user\", "
	                        "\"profile_name\" : \"Main User\"");
	ASSERT_CONTAINS(r.body, "\"views\" : \"1.2M\"");
	ASSERT_CONTAINS(r.body, "\"outlierScore\" : \"7.0x\"");
	ASSERT_CONTAINS(r.body, "\"views\" : \"5K\"");

	snprintf(path, sizeof path, "/api/viral-analysis/%s/content?content_type=competitor", id);
	r = call(&g, "GET", path, NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"total_count\" : 1");
	ASSERT_CONTAINS(r.body, "\"reel_type\":\"competitor\"");
	ASSERT_CONTAINS(r.body, "\"has_more\" : false");
	snprintf(path, sizeof path, "/api/viral-analysis/%s/content?limit=0&content_type=x", id);
	r = call(&g, "GET", path, NULL, NULL);
	ASSERT_EQ_INT(r.status, 422);
	ASSERT_CONTAINS(r.body, "\"loc\":[\"query\",\"limit\"]");
	ASSERT_CONTAINS(r.body, "\"loc\":[\"query\",\"content_type\"]");
	gw_stop(&g);
}

/* ---- the results answer for the example jobs, kept byte for byte ------------ */

#define RESULTS_GOLDEN_DIR "tests/golden/results"

/* The answer with what differs between runs replaced: every UUID by <uuid>,
 * the run's started_at and analysis_completed_at values by <time>. */
static char *results_normalised(const char *body)
{
	char *out = strdup(body);
	for (char *p = out; *p; p++) {
		bool uuid = strlen(p) >= 36;
		for (int i = 0; uuid && i < 36; i++)
			uuid = (i == 8 || i == 13 || i == 18 || i == 23)
			           ? p[i] == '-'
			           : (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f');
		if (uuid) {
			memmove(p + 6, p + 36, strlen(p + 36) + 1);
			memcpy(p, "<uuid>", 6);
		}
	}
	const char *keys[] = {"\"started_at\" : \"", "\"analysis_completed_at\" : \""};
	for (size_t k = 0; k < 2; k++)
		for (char *p = strstr(out, keys[k]); p; p = strstr(p + 1, keys[k])) {
			char *v = p + strlen(keys[k]), *end = strchr(v, '"');
			if (!end)
				break;
			memmove(v + 6, end, strlen(end) + 1);
			memcpy(v, "<time>", 6);
		}
	return out;
}

/* Completes job ID (claimed with TOKEN) with the engine output of the
 * example SESSION (tests/golden/SESSION.json) through the writer's
 * completion statement. */
static void complete_with_golden(const char *db, const char *id, const char *token,
                                 const char *session)
{
	char path[256], err[256] = "";
	snprintf(path, sizeof path, "tests/golden/%s.json", session);
	char *out = test_read_file(path);
	if (!out)
		FAIL("%s: cannot read", path);
	PGconn *c = PQconnectdb(db);
	struct queue_result res = {.analysis_run = 1, .result = out};
	int rc = queue_complete(c, id, token, &res, err, sizeof err);
	if (rc != QUEUE_OK)
		FAIL("%s: completion refused (%d): %s", session, rc, err);
	PQfinish(c);
	free(out);
}

/* The results answer of a job, normalised, compared with (or, with
 * GOLDEN_UPDATE=1, written to) tests/golden/results/SESSION.json. */
static void assert_results_golden(const struct gw *g, const char *id, const char *session,
                                  const char *what)
{
	char path[256], file[256];
	snprintf(path, sizeof path, "/api/viral-analysis/%s/results", id);
	snprintf(file, sizeof file, RESULTS_GOLDEN_DIR "/%s.json", session);
	struct resp r = call(g, "GET", path, NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	char *seen = results_normalised(r.body);
	const char *u = getenv("GOLDEN_UPDATE");
	if (u && !strcmp(u, "1")) {
		FILE *f = fopen(file, "w");
		if (!f || fputs(seen, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0)
			FAIL("%s: cannot write: %s", file, strerror(errno));
		free(seen);
		return;
	}
	char *want = test_read_file(file);
	if (!want)
		FAIL("%s: missing (GOLDEN_UPDATE=1 writes it)", file);
	want[strcspn(want, "\n")] = '\0';
	if (strcmp(seen, want) != 0) {
		size_t i = 0;
		while (seen[i] && seen[i] == want[i])
			i++;
		size_t from = i > 80 ? i - 80 : 0;
		FAIL("%s (%s) differs from %s at byte %zu:\n  seen: %.160s\n  want: %.160s",
		     session, what, file, i, seen + from, want + from);
	}
	free(want);
	free(seen);
}

TEST(results_of_the_example_jobs_answer_exactly_as_committed)
{
	json_t *jobs = json_load_file("examples/jobs.json", 0, NULL), *job;
	if (!jobs)
		FAIL("examples/jobs.json: cannot load (run from the repository root)");
	struct gw g;
	char *db = db_fresh();
	gw_start(&g, db, NULL, NULL);
	gw_wait_db(&g);
	size_t i;
	json_array_foreach(jobs, i, job)
	{
		const char *session = json_string_value(json_object_get(job, "session_id"));
		char id[64], token[64], sql[2048];
		snprintf(id, sizeof id, "00000000-0000-4000-8000-%012zu", i + 1);
		snprintf(token, sizeof token, "00000000-0000-4000-9000-%012zu", i + 1);
		/* A job as a claim leaves it: processing, with our lease. */
		snprintf(sql, sizeof sql,
		         "INSERT INTO viral_ideas_queue (id, session_id, primary_username, status,"
		         " lease_token, lease_expires_at, attempts) VALUES ('%s', '%s', '%s',"
		         " 'processing', '%s', now() + interval '1 hour', 1)",
		         id, session, json_string_value(json_object_get(job, "primary_username")),
		         token);
		db_exec(db, sql);
		size_t k;
		json_t *c;
		json_array_foreach(json_object_get(job, "selected_competitors"), k, c)
		{
			snprintf(
			    sql, sizeof sql,
			    "INSERT INTO viral_ideas_competitors (queue_id, competitor_username)"
			    " VALUES ('%s', '%s')",
			    id, json_string_value(c));
			db_exec(db, sql);
		}
		complete_with_golden(db, id, token, session);
		assert_results_golden(&g, id, session, "as stored");
	}
	/* Each piece once: the rows' JSON documents live in the analysis document,
	 * the scripts' text and the analysed reels' hooks are the document's
	 * (012_stored_once_more.sql). */
	PGconn *c = PQconnectdb(db);
	PGresult *res = PQexec(
	    c, "SELECT (SELECT count(*) FROM viral_analysis_reels"
	       "  WHERE analysis_metadata IS NOT NULL),"
	       " (SELECT count(*) FROM viral_scripts WHERE source_reels IS NOT NULL"
	       "  OR script_structure IS NOT NULL OR script_content IS NOT NULL"
	       "  OR script_title IS NOT NULL OR primary_hook IS NOT NULL"
	       "  OR generation_prompt IS NOT NULL),"
	       " (SELECT count(*) FROM viral_analysis_reels),"
	       " (SELECT count(*) FROM viral_scripts),"
	       " (SELECT count(*) FROM viral_analysis_reels WHERE hook_text IS NULL),"
	       " (SELECT count(*) FROM viral_analysis_reels_full f JOIN viral_analysis_results r"
	       "  ON r.id = f.analysis_id WHERE f.hook_text IS NOT NULL"
	       "  AND f.analysis_metadata -> 'hook_analysis' ->> 'hook_text' = f.hook_text"
	       "  AND f.analysis_metadata -> 'hook_analysis' IN (SELECT i -> 'hook_analysis'"
	       "  FROM jsonb_array_elements(r.analysis_data -> 'individual_reel_analyses') i))");
	ASSERT_EQ_INT(PQresultStatus(res), PGRES_TUPLES_OK);
	ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "0");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 1), "0");
	ASSERT_CMP_INT(atoi(PQgetvalue(res, 0, 2)), >, 0);
	ASSERT_EQ_INT(atoi(PQgetvalue(res, 0, 3)), 5 * (int)json_array_size(jobs));
	/* Every analysed reel's hook is read from the document, and only those. */
	ASSERT_CMP_INT(atoi(PQgetvalue(res, 0, 4)), >, 0);
	ASSERT_EQ_STR(PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
	PQclear(res);
	PQfinish(c);
	/* Runs stored before 010_stored_once.sql (every document in its row, none
	 * in analysis_data) answer the same: put them in that form, via the
	 * views SQL readers use, and ask again. */
	/* Scripts are rewritten in their stored order: the endpoint orders them by
	 * created_at, which one run's scripts share, so their order on disk shows. */
	db_exec(db, "UPDATE viral_analysis_reels a SET analysis_metadata = f.analysis_metadata,"
	            " hook_text = f.hook_text, power_words = f.power_words"
	            " FROM viral_analysis_reels_full f WHERE f.id = a.id;"
	            "CREATE TEMP TABLE old_scripts AS SELECT row_number() OVER (ORDER BY s.ctid)"
	            " AS n, f FROM viral_scripts s JOIN viral_scripts_full f ON f.id = s.id;"
	            "DELETE FROM viral_scripts;"
	            "INSERT INTO viral_scripts SELECT (f).* FROM old_scripts ORDER BY n;"
	            "UPDATE viral_analysis_results r SET analysis_data = f.analysis_data"
	            " FROM viral_analysis_results_full f WHERE f.id = r.id");
	json_array_foreach(jobs, i, job)
	{
		char id[64];
		snprintf(id, sizeof id, "00000000-0000-4000-8000-%012zu", i + 1);
		assert_results_golden(&g, id, json_string_value(json_object_get(job, "session_id")),
		                      "stored before 010");
	}
	json_decref(jobs);
	gw_stop(&g);
}

/* A header line of a raw answer ("Name: value"), or NULL. */
static const char *header_in(const char *raw, const char *name)
{
	const char *end = strstr(raw, "\r\n\r\n");
	for (const char *p = strstr(raw, "\r\n"); p && (!end || p < end); p = strstr(p + 2, "\r\n"))
		if (!strncasecmp(p + 2, name, strlen(name)) && p[2 + strlen(name)] == ':')
			return p + 2;
	return NULL;
}

static const char PREFLIGHT_HEADERS[] = "Origin: %s\r\nAccess-Control-Request-Method: POST\r\n"
                                        "Access-Control-Request-Headers: authorization, "
                                        "content-type\r\n";

TEST(preflight_from_a_listed_origin_gets_204_with_the_cors_headers)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL,
	         "[http]\ncors_origins = http://localhost:3000, https://dash.example.com\n");
	gw_wait_db(&g);
	char h[512];
	snprintf(h, sizeof h, PREFLIGHT_HEADERS, "http://localhost:3000");
	struct resp r = call(&g, "OPTIONS", "/api/viral-ideas/queue", h, NULL);
	ASSERT_EQ_INT(r.status, 204);
	ASSERT_CONTAINS(r.raw, "\r\nAccess-Control-Allow-Origin: http://localhost:3000\r\n");
	ASSERT_CONTAINS(r.raw, "\r\nAccess-Control-Allow-Credentials: true\r\n");
	ASSERT_CONTAINS(r.raw, "\r\nAccess-Control-Allow-Methods: GET, POST, OPTIONS\r\n");
	ASSERT_CONTAINS(header_in(r.raw, "Access-Control-Allow-Headers"), "Authorization");
	ASSERT_CONTAINS(header_in(r.raw, "Access-Control-Allow-Headers"), "Content-Type");
	ASSERT_CONTAINS(r.raw, "\r\nAccess-Control-Max-Age: 600\r\n");
	ASSERT_CONTAINS(header_in(r.raw, "Vary"), "Origin");
	ASSERT(!header_in(r.raw, "Content-Length")); /* a 204 has no body */
	ASSERT_EQ_STR(r.body, "");
	/* The actual request from that origin carries the headers too. */
	r = call(&g, "GET", "/api/viral-ideas/queue-status", "Origin: https://dash.example.com\r\n",
	         NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.raw, "\r\nAccess-Control-Allow-Origin: https://dash.example.com\r\n");
	ASSERT_CONTAINS(r.raw, "\r\nAccess-Control-Allow-Credentials: true\r\n");
	ASSERT_CONTAINS(r.raw, "\r\nVary: Origin\r\n");
	ASSERT_CONTAINS(header_in(r.raw, "Access-Control-Expose-Headers"), "X-Request-Id");
	/* Errors too: a browser must be able to read the detail. */
	r = call(&g, "GET", "/api/viral-ideas/queue/nope", "Origin: http://localhost:3000\r\n",
	         NULL);
	ASSERT_EQ_INT(r.status, 404);
	ASSERT_CONTAINS(r.raw, "\r\nAccess-Control-Allow-Origin: http://localhost:3000\r\n");
	gw_stop(&g);
}

/* The raw answer to a hand-written request (call() always adds a body). */
static char *raw_call(const struct gw *g, const char *request)
{
	int fd = gw_connect(g);
	send_all(fd, request, strlen(request));
	char *raw = read_all(fd);
	close(fd);
	return raw;
}

TEST(the_http_layers_own_errors_carry_cors_headers_once_the_head_is_whole)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, "[http]\ncors_origins = http://localhost:3000\n");
	gw_wait_db(&g);
	/* 413 from the head (declared length over the limit): the page can read it. */
	char *r = raw_call(&g, "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: t\r\n"
	                       "Origin: http://localhost:3000\r\nContent-Length: 2000000\r\n\r\n");
	ASSERT_CONTAINS(r, "HTTP/1.1 413 ");
	ASSERT_CONTAINS(r, "\r\nAccess-Control-Allow-Origin: http://localhost:3000\r\n");
	ASSERT_CONTAINS(r, "\r\nAccess-Control-Allow-Credentials: true\r\n");
	ASSERT_CONTAINS(r, "Request body too large");
	free(r);
	/* An unlisted origin gets the same error and no CORS. */
	r = raw_call(&g, "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: t\r\n"
	                 "Origin: http://evil.example\r\nContent-Length: 2000000\r\n\r\n");
	ASSERT_CONTAINS(r, "HTTP/1.1 413 ");
	ASSERT(!strstr(r, "Access-Control-"));
	free(r);
	/* A head over the limit is never whole: its Origin is not trusted, no CORS. */
	char *big = malloc(20100);
	strcpy(big, "Origin: http://localhost:3000\r\nX-A: ");
	size_t at = strlen(big);
	memset(big + at, 'a', 20000 - at);
	memcpy(big + 20000, "\r\n", 3);
	struct resp h = call(&g, "GET", "/healthz", big, NULL);
	free(big);
	ASSERT_EQ_INT(h.status, 431);
	ASSERT(!strstr(h.raw, "Access-Control-"));
	gw_stop(&g);
}

TEST(unlisted_origin_gets_no_cors_headers)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, "[http]\ncors_origins = http://localhost:3000\n");
	gw_wait_db(&g);
	char h[512];
	snprintf(h, sizeof h, PREFLIGHT_HEADERS, "http://evil.example");
	struct resp r = call(&g, "OPTIONS", "/api/viral-ideas/queue", h, NULL);
	ASSERT_EQ_INT(r.status, 400);
	ASSERT_CONTAINS(r.body, "Disallowed CORS origin");
	ASSERT(!strstr(r.raw, "Access-Control-"));
	/* A look-alike (prefix, other port, other scheme) is not listed either. */
	const char *others[] = {"http://evil.example", "http://localhost:3000.evil.example",
	                        "http://localhost:3001", "https://localhost:3000", "null"};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
		char o[256];
		snprintf(o, sizeof o, "Origin: %s\r\n", others[i]);
		r = call(&g, "GET", "/api/viral-ideas/queue-status", o, NULL);
		ASSERT_EQ_INT(r.status, 200);
		if (strstr(r.raw, "Access-Control-"))
			FAIL("origin %s got CORS headers: %s", others[i], r.raw);
		ASSERT_CONTAINS(r.raw, "\r\nVary: Origin\r\n");
	}
	gw_stop(&g);
	/* Not configured (the default): no CORS for anyone. */
	gw_start(&g, db_fresh(), NULL, NULL);
	gw_wait_db(&g);
	snprintf(h, sizeof h, PREFLIGHT_HEADERS, "http://localhost:3000");
	r = call(&g, "OPTIONS", "/api/viral-ideas/queue", h, NULL);
	ASSERT_EQ_INT(r.status, 400);
	ASSERT(!strstr(r.raw, "Access-Control-"));
	r = call(&g, "GET", "/healthz", "Origin: http://localhost:3000\r\n", NULL);
	ASSERT(!strstr(r.raw, "Access-Control-"));
	gw_stop(&g);
}

TEST(wildcard_cors_answers_any_origin_without_credentials)
{
	struct gw g;
	const char *env[] = {"VIRALSUP_CORS_ORIGINS=*", NULL};
	gw_start(&g, db_fresh(), env, NULL);
	gw_wait_db(&g);
	char h[512];
	snprintf(h, sizeof h, PREFLIGHT_HEADERS, "https://anywhere.example");
	struct resp r = call(&g, "OPTIONS", "/api/viral-ideas/queue", h, NULL);
	ASSERT_EQ_INT(r.status, 204);
	ASSERT_CONTAINS(r.raw, "\r\nAccess-Control-Allow-Origin: *\r\n");
	ASSERT(!header_in(r.raw, "Access-Control-Allow-Credentials"));
	r = call(&g, "GET", "/healthz", "Origin: https://anywhere.example\r\n", NULL);
	ASSERT_CONTAINS(r.raw, "\r\nAccess-Control-Allow-Origin: *\r\n");
	ASSERT(!header_in(r.raw, "Access-Control-Allow-Credentials"));
	gw_stop(&g);
}

TEST(a_malformed_cors_or_proxy_list_stops_the_start)
{
	const char *bad[] = {"[http]\ncors_origins = localhost:3000\n",
	                     "[http]\ncors_origins = http://a.example/path\n",
	                     "[http]\ncors_origins = http://*.example\n",
	                     "[http]\ntrusted_proxies = 10.0.0.0/33\n",
	                     "[http]\ntrusted_proxies = proxy.example\n"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct gw g;
		memset(&g, 0, sizeof g);
		g.dir = test_tmpdir();
		char conf_file[512];
		snprintf(conf_file, sizeof conf_file, "%s/viralsup.conf", g.dir);
		FILE *f = fopen(conf_file, "w");
		fputs(bad[i], f);
		fclose(f);
		pid_t pid = fork();
		if (pid == 0) {
			int dn = open("/dev/null", O_WRONLY);
			dup2(dn, 2);
			unsetenv("VIRALSUP_PARENT_FD");
			setenv("VIRALSUP_RUN_DIR", g.dir, 1);
			setenv("VIRALSUP_HTTP_ADDR", "127.0.0.1:0", 1);
			setenv("VIRALSUP_CONFIG", conf_file, 1);
			const char *bin = getenv("VIRALSUP_BIN");
			char path[512];
			snprintf(path, sizeof path, "%s/viralsup-gateway", bin ? bin : "build/bin");
			execl(path, path, (char *)NULL);
			_exit(127);
		}
		int st;
		ASSERT_EQ_INT(waitpid(pid, &st, 0), pid);
		ASSERT(WIFEXITED(st));
		if (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 127)
			FAIL("config \"%s\": exit %d", bad[i], WEXITSTATUS(st));
	}
}

TEST(text_plain_and_form_posts_get_415_and_create_nothing)
{
	struct gw g;
	char *db = db_fresh();
	const char *env[] = {"ADMIN_API_TOKEN=tok", NULL};
	gw_start(&g, db, env, NULL);
	gw_wait_db(&g);
	char body[1024];
	snprintf(body, sizeof body, CREATE_BODY, "csrf");
	const char *types[] = {"Content-Type: text/plain\r\n",
	                       "Content-Type: application/x-www-form-urlencoded\r\n",
	                       "Content-Type: multipart/form-data; boundary=x\r\n",
	                       "Content-Type: application/jsonp\r\n", ""};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		struct resp r = call(&g, "POST", "/api/viral-ideas/queue", types[i], body);
		if (r.status != 415)
			FAIL("POST with \"%s\": %d %s", types[i], r.status, r.body);
		ASSERT_EQ_STR(r.body, "{\"success\":false,\"detail\":\"Unsupported Media Type: the "
		                      "request body must be application/json\"}");
	}
	/* State-changing actions without a body: a form's label is refused too. */
	struct resp r = call(&g, "POST", "/api/viral-ideas/process-pending",
	                     "Authorization: Bearer tok\r\nContent-Type: text/plain\r\n", "");
	ASSERT_EQ_INT(r.status, 415);
	PGconn *c = PQconnectdb(db);
	PGresult *res = PQexec(c, "SELECT count(*) FROM viral_ideas_queue");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "0");
	PQclear(res);
	/* JSON with parameters, any case, is fine. */
	r = call(&g, "POST", "/api/viral-ideas/queue",
	         "Content-Type: Application/JSON; charset=utf-8\r\n", body);
	ASSERT_EQ_INT(r.status, 200);
	res = PQexec(c, "SELECT count(*) FROM viral_ideas_queue");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "1");
	PQclear(res);
	PQfinish(c);
	gw_stop(&g);
}

TEST(dot_and_reserved_usernames_get_422_at_the_gateway)
{
	struct gw g;
	char *db = db_fresh();
	gw_start(&g, db, NULL, NULL);
	gw_wait_db(&g);
	const char *names[] = {".", "..", "...", "@..", "explore", "P", "@Reels", " .. "};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char body[1024];
		snprintf(body, sizeof body,
		         "{\"session_id\":\"u%zu\",\"primary_username\":\"%s\","
		         "\"selected_competitors\":[],\"content_strategy\":{\"contentType\":\"a\","
		         "\"targetAudience\":\"b\",\"goals\":\"c\"}}",
		         i, names[i]);
		struct resp r = call(&g, "POST", "/api/viral-ideas/queue", JSON_CT, body);
		if (r.status != 422)
			FAIL("primary \"%s\": %d %s", names[i], r.status, r.body);
		ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"primary_username\"]");
		snprintf(body, sizeof body,
		         "{\"session_id\":\"c%zu\",\"primary_username\":\"ok\","
		         "\"selected_competitors\":[\"fine\",\"%s\"],\"content_strategy\":"
		         "{\"contentType\":\"a\",\"targetAudience\":\"b\",\"goals\":\"c\"}}",
		         i, names[i]);
		r = call(&g, "POST", "/api/viral-ideas/queue", JSON_CT, body);
		ASSERT_EQ_INT(r.status, 422);
		ASSERT_CONTAINS(r.body, "\"loc\":[\"body\",\"selected_competitors\",1]");
	}
	struct resp r = call(&g, "GET", "/api/viral-ideas/check-existing/..", NULL, NULL);
	ASSERT_EQ_INT(r.status, 422);
	ASSERT_CONTAINS(r.body, "\"loc\":[\"path\",\"username\"]");
	r = call(&g, "GET", "/api/viral-ideas/check-existing/%2e", NULL, NULL);
	ASSERT_EQ_INT(r.status, 422);
	/* Names with dots inside are real names. */
	char ok[1024];
	snprintf(ok, sizeof ok,
	         "{\"session_id\":\"dots\",\"primary_username\":\"a.b.\","
	         "\"selected_competitors\":[\"_.x\"],\"content_strategy\":{\"contentType\":"
	         "\"a\",\"targetAudience\":\"b\",\"goals\":\"c\"}}");
	r = call(&g, "POST", "/api/viral-ideas/queue", JSON_CT, ok);
	ASSERT_EQ_INT(r.status, 200);
	PGconn *c = PQconnectdb(db);
	PGresult *res = PQexec(c, "SELECT count(*) FROM viral_ideas_queue");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "1");
	PQclear(res);
	PQfinish(c);
	gw_stop(&g);
}

TEST(jobs_written_by_other_writers_get_normalised_usernames)
{
	struct gw g;
	char *db = db_fresh();
	gw_start(&g, db, NULL, NULL);
	gw_wait_db(&g);
	/* The original's SQL helper, with the names as a person types them. */
	PGconn *c = PQconnectdb(db);
	PGresult *res =
	    PQexec(c, "SELECT create_viral_queue_item('other-writer', ' @Main.User ',"
	              " ARRAY['@Rival_1', 'rival_1', 'Other.One '], '{\"contentType\":\"x\"}')");
	ASSERT_EQ_INT(PQresultStatus(res), PGRES_TUPLES_OK);
	char id[64];
	snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = PQexec(c, "SELECT q.primary_username, (SELECT string_agg(competitor_username, ','"
	                " ORDER BY competitor_username) FROM viral_ideas_competitors"
	                " WHERE queue_id = q.id) FROM viral_ideas_queue q");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "main.user");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 1), "other.one,rival_1");
	PQclear(res);
	/* A later rename by hand is normalised too, and the original's
	 * remove helper finds the competitor by the name as typed. */
	res =
	    PQexec(c, "UPDATE viral_ideas_queue SET primary_username = 'MAIN.User';"
	              "SELECT remove_competitor_from_queue(id, '@RIVAL_1') FROM viral_ideas_queue");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	res = PQexec(c, "SELECT primary_username FROM viral_ideas_queue");
	ASSERT_EQ_STR(PQgetvalue(res, 0, 0), "main.user");
	PQclear(res);
	/* So the pipeline's rows (fetched as the lower-case name) join: the
	 * results page shows the stored profile, not the defaults. */
	res = PQexec(c, "INSERT INTO primary_profiles (username, profile_name, followers)"
	                " VALUES ('main.user', 'Main User', 42)");
	PQclear(res);
	PQfinish(c);
	char path[256];
	snprintf(path, sizeof path, "/api/viral-analysis/%s/results", id);
	struct resp r = call(&g, "GET", path, NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"primary_profile\" : {\"username\" : \"main.user\", "
	                        "\"profile_name\" : \"Main User\"");
	ASSERT_CONTAINS(r.body, "\"followers\" : 42");
	r = call(&g, "GET", "/api/viral-ideas/check-existing/@Main.User", NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	gw_stop(&g);
}

/* ---- security --------------------------------------------------------------- */

TEST(admin_endpoints_503_without_configured_token)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, NULL);
	gw_wait_db(&g);
	struct resp r = call(&g, "POST", "/api/viral-ideas/process-pending",
	                     "Authorization: Bearer anything\r\n", NULL);
	ASSERT_EQ_INT(r.status, 503);
	ASSERT_CONTAINS(r.body, "admin token not configured");
	gw_stop(&g);
}

TEST(admin_auth_missing_401_wrong_403_then_429_and_right_tokens_never_count)
{
	struct gw g;
	const char *env[] = {"ADMIN_API_TOKEN=s3cret-token", "VIRALSUP_ADMIN_RATE_PER_MIN=3", NULL};
	gw_start(&g, db_fresh(), env, NULL);
	gw_wait_db(&g);
	struct resp r = call(&g, "POST", "/api/viral-ideas/process-pending", NULL, NULL);
	ASSERT_EQ_INT(r.status, 401);
	ASSERT_CONTAINS(r.body, "Admin authentication required");
	/* Right tokens (no scheduler: 503) are not failures: any number of them. */
	for (int i = 0; i < 6; i++) {
		r = call(&g, "POST", "/api/viral-ideas/process-pending",
		         "Authorization: Bearer s3cret-token\r\n", NULL);
		ASSERT_EQ_INT(r.status, 503);
		ASSERT_CONTAINS(r.raw, "Retry-After: ");
	}
	/* Three wrong tokens are checked (403); the fourth try is not. */
	const char *wrong[] = {"s3cret-tokeX", "s3", "S3CRET-TOKEN"};
	for (int i = 0; i < 3; i++) {
		char h[128];
		snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", wrong[i]);
		r = call(&g, "POST", "/api/viral-ideas/process-pending", h, NULL);
		ASSERT_EQ_INT(r.status, 403);
	}
	r = call(&g, "POST", "/api/viral-ideas/process-pending", "Authorization: Bearer guess\r\n",
	         NULL);
	ASSERT_EQ_INT(r.status, 429);
	ASSERT_CONTAINS(r.raw, "Retry-After: ");
	/* This client's own failures stop even the right token being checked:
	 * otherwise 429-or-200 would be an oracle for its guesses. */
	r = call(&g, "POST", "/api/viral-ideas/process-pending",
	         "Authorization: Bearer s3cret-token\r\n", NULL);
	ASSERT_EQ_INT(r.status, 429);
	/* The token never appears in the log. */
	char logp[512];
	snprintf(logp, sizeof logp, "%s/gateway.log", g.dir);
	gw_stop(&g);
	FILE *f = fopen(logp, "r");
	char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	ASSERT(!strstr(buf, "s3cret"));
}

TEST(forwarded_client_address_is_believed_only_from_trusted_proxies)
{
	struct gw g;
	const char *env[] = {"ADMIN_API_TOKEN=tok", "ADMIN_ALLOWED_IPS=10.9.8.0/24",
	                     "VIRALSUP_ADMIN_RATE_PER_MIN=2", NULL};
	const char *pp = "/api/viral-ideas/process-pending";
	/* Not a trusted proxy: the headers are ignored, the peer is 127.0.0.1. */
	gw_start(&g, db_fresh(), env, NULL);
	gw_wait_db(&g);
	struct resp r = call(&g, "POST", pp,
	                     "Authorization: Bearer tok\r\nX-Forwarded-For: 10.9.8.7\r\n", NULL);
	ASSERT_EQ_INT(r.status, 403);
	ASSERT_CONTAINS(r.body, "not allowed");
	r = call(&g, "POST", pp, "Authorization: Bearer tok\r\nX-Real-IP: 10.9.8.7\r\n", NULL);
	ASSERT_EQ_INT(r.status, 403);
	gw_stop(&g);

	const char *env2[] = {"ADMIN_API_TOKEN=tok", "ADMIN_ALLOWED_IPS=10.9.8.0/24",
	                      "VIRALSUP_ADMIN_RATE_PER_MIN=2",
	                      "VIRALSUP_TRUSTED_PROXIES=127.0.0.0/8", NULL};
	gw_start(&g, db_fresh(), env2, NULL);
	gw_wait_db(&g);
	/* Allowed client behind the proxy (no scheduler here: 503 means it passed). */
	r = call(&g, "POST", pp, "Authorization: Bearer tok\r\nX-Forwarded-For: 10.9.8.7\r\n",
	         NULL);
	ASSERT_EQ_INT(r.status, 503);
	r = call(&g, "POST", pp, "Authorization: Bearer tok\r\nX-Real-IP: 10.9.8.7\r\n", NULL);
	ASSERT_EQ_INT(r.status, 503);
	/* A chain through another trusted hop: the rightmost untrusted one counts. */
	r = call(&g, "POST", pp,
	         "Authorization: Bearer tok\r\nX-Forwarded-For: 10.9.8.7, 127.0.0.5\r\n", NULL);
	ASSERT_EQ_INT(r.status, 503);
	/* A client that writes an allowed address in front of its own gains nothing. */
	r = call(&g, "POST", pp,
	         "Authorization: Bearer tok\r\nX-Forwarded-For: 10.9.8.7, 192.0.2.1\r\n", NULL);
	ASSERT_EQ_INT(r.status, 403);
	ASSERT_CONTAINS(r.body, "not allowed");
	/* Failures are counted per forwarded client: one client behind the
	 * proxy locks itself out, not the admin behind the same proxy. */
	for (int i = 0; i < 2; i++) {
		r = call(&g, "POST", pp,
		         "Authorization: Bearer bad\r\nX-Forwarded-For: 10.9.8.66\r\n", NULL);
		ASSERT_EQ_INT(r.status, 403);
	}
	r = call(&g, "POST", pp, "Authorization: Bearer bad\r\nX-Forwarded-For: 10.9.8.66\r\n",
	         NULL);
	ASSERT_EQ_INT(r.status, 429);
	r = call(&g, "POST", pp, "Authorization: Bearer tok\r\nX-Forwarded-For: 10.9.8.7\r\n",
	         NULL);
	ASSERT_EQ_INT(r.status, 503);
	gw_stop(&g);
}

TEST(admin_ip_allowlist_refuses_other_addresses)
{
	struct gw g;
	const char *env[] = {"ADMIN_API_TOKEN=tok", "ADMIN_ALLOWED_IPS=10.1.2.3", NULL};
	gw_start(&g, db_fresh(), env, NULL);
	gw_wait_db(&g);
	struct resp r = call(&g, "POST", "/api/viral-ideas/process-pending",
	                     "Authorization: Bearer tok\r\n", NULL);
	ASSERT_EQ_INT(r.status, 403);
	ASSERT_CONTAINS(r.body, "not allowed");
	gw_stop(&g);
}

TEST(optional_api_token_protects_public_endpoints)
{
	struct gw g;
	const char *env[] = {"VIRALSUP_API_TOKEN=pub", NULL};
	gw_start(&g, db_fresh(), env, NULL);
	gw_wait_db(&g);
	ASSERT_EQ_INT(call(&g, "GET", "/api/viral-ideas/queue-status", NULL, NULL).status, 401);
	ASSERT_EQ_INT(
	    call(&g, "GET", "/api/viral-ideas/queue-status", "Authorization: Bearer nope\r\n", NULL)
	        .status,
	    403);
	ASSERT_EQ_INT(
	    call(&g, "GET", "/api/viral-ideas/queue-status", "Authorization: Bearer pub\r\n", NULL)
	        .status,
	    200);
	ASSERT_EQ_INT(call(&g, "GET", "/healthz", NULL, NULL).status, 200);
	gw_stop(&g);
}

/* ---- actions through a (fake) scheduler --------------------------------------- */

static void fake_on_msg(struct conn *c, const struct msg *m, void *ud)
{
	(void)ud;
	struct msg_out out;
	char job[64] = "";
	msg_copy_str(m->body, "job_id", job, sizeof job);
	if (m->type == MSG_BATCH_TRIGGER) {
		msg_out_init(&out, MSG_REPLY, m->id, 7);
		msg_put_str(&out, "status", "processing_started");
		msg_put_int(&out, "pending_count", 2);
		msg_put_int(&out, "stuck_count", 0);
		msg_put_int(&out, "total_jobs", 2);
		msg_put_str(&out, "batch_id", "33333333-3333-3333-3333-333333333333");
		msg_put_str(&out, "estimated_completion_time", "2030-01-01T00:00:00Z");
		msg_put_str(&out, "last_processed_at", NULL);
	} else if (!strcmp(job, "00000000-0000-0000-0000-000000000000")) {
		msg_out_init(&out, MSG_ERROR, m->id, 2);
		msg_put_str(&out, "code", "not_found");
		msg_put_str(&out, "detail", "no such job");
	} else if (m->type == MSG_JOB_RETRY) {
		msg_out_init(&out, MSG_ERROR, m->id, 2);
		msg_put_str(&out, "code", "conflict");
		msg_put_str(&out, "detail", "Only failed jobs can be retried");
	} else {
		msg_out_init(&out, MSG_REPLY, m->id, 2);
		msg_put_str(&out, "status",
		            m->type == MSG_JOB_CANCEL ? "cancelled" : "processing_started");
		msg_put_str(&out, "job_id", job);
	}
	conn_send(c, &out);
	msg_out_free(&out);
}

static void fake_on_close(struct conn *c, const char *reason, void *ud)
{
	(void)c;
	(void)reason;
	(void)ud;
}

static void fake_scheduler_start(struct gw *g)
{
	char path[512];
	snprintf(path, sizeof path, "%s/scheduler.sock", g->dir);
	g->sched_pid = fork();
	if (g->sched_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
		static const struct conn_ops ops = {fake_on_msg, fake_on_close, NULL};
		if (!listener_new(loop, path, 16, &ops, NULL, NULL))
			_exit(1);
		ev_run(loop, 0);
		_exit(0);
	}
}

TEST(actions_go_to_the_scheduler_and_map_its_answers)
{
	struct gw g;
	const char *env[] = {"ADMIN_API_TOKEN=tok", NULL};
	gw_start(&g, db_fresh(), env, NULL);
	gw_wait_db(&g);
	fake_scheduler_start(&g);
	/* The link reconnects with backoff: wait until readyz sees it. */
	WAIT_UNTIL(call(&g, "GET", "/readyz", NULL, NULL).status == 200, 5000);
	struct resp r = call(&g, "POST", "/api/viral-ideas/process-pending",
	                     "Authorization: Bearer tok\r\n", NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"status\":\"processing_started\"");
	ASSERT_CONTAINS(r.body, "\"pending_count\":2");
	ASSERT_CONTAINS(r.body, "\"batch_id\":\"33333333-3333-3333-3333-333333333333\"");
	ASSERT_CONTAINS(r.body, "\"last_processed_at\":null");
	ASSERT_CONTAINS(r.body, "Processing of pending viral ideas queue items started");

	const char *base = "/api/viral-ideas/queue/44444444-4444-4444-4444-444444444444";
	char path[256];
	snprintf(path, sizeof path, "%s/process", base);
	r = call(&g, "POST", path, "Authorization: Bearer tok\r\n", NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.body, "\"queue_id\":\"44444444-4444-4444-4444-444444444444\"");
	ASSERT_CONTAINS(r.body, "Viral ideas processing started in background");
	snprintf(path, sizeof path, "%s/retry", base);
	r = call(&g, "POST", path, "Authorization: Bearer tok\r\n", NULL);
	ASSERT_EQ_INT(r.status, 409);
	ASSERT_CONTAINS(r.body, "Only failed jobs can be retried");
	r = call(&g, "POST", "/api/viral-ideas/queue/00000000-0000-0000-0000-000000000000/cancel",
	         "Authorization: Bearer tok\r\n", NULL);
	ASSERT_EQ_INT(r.status, 404);

	/* Scheduler killed: actions 503 at once, reads keep working. */
	kill(g.sched_pid, SIGKILL);
	waitpid(g.sched_pid, NULL, 0);
	g.sched_pid = 0;
	WAIT_UNTIL(call(&g, "GET", "/readyz", NULL, NULL).status == 503, 5000);
	r = call(&g, "POST", "/api/viral-ideas/process-pending", "Authorization: Bearer tok\r\n",
	         NULL);
	ASSERT_EQ_INT(r.status, 503);
	ASSERT_CONTAINS(r.raw, "Retry-After: ");
	ASSERT_EQ_INT(call(&g, "GET", "/api/viral-ideas/queue-status", NULL, NULL).status, 200);
	gw_stop(&g);
}

/* ---- connection behaviour ------------------------------------------------------ */

TEST(keepalive_and_pipelined_requests_answer_in_order)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, NULL);
	gw_wait_db(&g);
	int fd = gw_connect(&g);
	const char req[] =
	    "GET /api/viral-ideas/queue-status HTTP/1.1\r\nHost: t\r\nX-Request-Id: r1\r\n\r\n"
	    "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: r2\r\n\r\n"
	    "GET /api/viral-ideas/queue/x HTTP/1.1\r\nHost: t\r\nX-Request-Id: r3\r\n\r\n"
	    "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: r4\r\nConnection: close\r\n\r\n";
	send_all(fd, req, sizeof req - 1);
	char *out = read_all(fd);
	close(fd);
	char *a = strstr(out, "X-Request-Id: r1"), *b = strstr(out, "X-Request-Id: r2");
	char *c = strstr(out, "X-Request-Id: r3"), *d = strstr(out, "X-Request-Id: r4");
	ASSERT(a && b && c && d && a < b && b < c && c < d);
	ASSERT(strstr(c - 200 > out ? c - 200 : out, "HTTP/1.1 404"));
	free(out);
	gw_stop(&g);
}

TEST(slow_client_gets_408_and_is_closed)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, "[http]\nheader_timeout_ms = 300\nbody_timeout_ms = 300\n");
	gw_wait_db(&g);
	int fd = gw_connect(&g);
	send_all(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\n", 32);
	double t0 = test_now_ms();
	char *out = read_all(fd);
	close(fd);
	ASSERT_CONTAINS(out, "HTTP/1.1 408 ");
	ASSERT_CMP_INT(test_now_ms() - t0, <, 3000);
	free(out);
	fd = gw_connect(&g);
	const char body_req[] =
	    "POST /api/viral-ideas/queue HTTP/1.1\r\nContent-Length: 50\r\n\r\n{";
	send_all(fd, body_req, sizeof body_req - 1);
	out = read_all(fd);
	close(fd);
	ASSERT_CONTAINS(out, "HTTP/1.1 408 ");
	free(out);
	gw_stop(&g);
}

TEST(big_headers_431_and_big_body_413_over_the_wire)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, NULL);
	gw_wait_db(&g);
	char *big = malloc(20000);
	memset(big, 'a', 19990);
	memcpy(big, "X-A: ", 5);
	memcpy(big + 19990 - 2, "\r\n", 3);
	struct resp r = call(&g, "GET", "/healthz", big, NULL);
	ASSERT_EQ_INT(r.status, 431);
	free(big);
	int fd = gw_connect(&g);
	const char req[] =
	    "POST /api/viral-ideas/queue HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n";
	send_all(fd, req, sizeof req - 1);
	char *out = read_all(fd);
	close(fd);
	ASSERT_CONTAINS(out, "HTTP/1.1 413 ");
	free(out);
	fd = gw_connect(&g);
	send_all(fd, "GARBAGE\r\n\r\n", 11);
	out = read_all(fd);
	close(fd);
	ASSERT_CONTAINS(out, "HTTP/1.1 400 ");
	free(out);
	gw_stop(&g);
}

/* Starts a POST whose body is announced with Expect: 100-continue and
 * waits for "100 Continue": from then on the gateway is reading the body,
 * so the connection is busy (not idle). */
static int busy_connection(const struct gw *g)
{
	int fd = gw_connect(g);
	const char head[] = "POST /api/viral-ideas/queue HTTP/1.1\r\nHost: t\r\n"
	                    "Content-Type: application/json\r\nContent-Length: 2\r\n"
	                    "Expect: 100-continue\r\n\r\n";
	send_all(fd, head, sizeof head - 1);
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
	ASSERT(n > 0);
	buf[n] = '\0';
	ASSERT_EQ_STR(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	return fd;
}

TEST(connections_over_the_limit_get_503_when_none_is_idle)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, "[http]\nmax_connections = 2\n");
	gw_wait_db(&g);
	int a = busy_connection(&g), b = busy_connection(&g);
	int c = gw_connect(&g);
	char *out = read_all(c);
	ASSERT_CONTAINS(out, "HTTP/1.1 503 ");
	ASSERT_CONTAINS(out, "Retry-After: 1");
	free(out);
	close(a);
	close(b);
	close(c);
	/* Freed slots are usable again. */
	WAIT_UNTIL(call(&g, "GET", "/healthz", NULL, NULL).status == 200, 3000);
	gw_stop(&g);
}

TEST(idle_keepalive_connections_are_closed_oldest_first_to_make_room)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, "[http]\nmax_connections = 3\n");
	gw_wait_db(&g);
	/* Nearly full = within max(1, 3/16) of 3: two open connections. */
	const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	char tmp[512];
	int a = gw_connect(&g);
	send_all(a, req, sizeof req - 1);
	ASSERT(recv(a, tmp, sizeof tmp, 0) > 0);
	int b = gw_connect(&g);
	send_all(b, req, sizeof req - 1);
	ASSERT(recv(b, tmp, sizeof tmp, 0) > 0);
	/* Both answered and kept alive: idle, a the older. */
	/* A newcomer is served instead of refused... */
	struct resp r = call(&g, "GET", "/healthz", NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	/* ... because the oldest idle connection was closed for it. */
	ASSERT_EQ_INT(recv(a, tmp, sizeof tmp, 0), 0);
	send_all(b, req, sizeof req - 1);
	ssize_t n = recv(b, tmp, sizeof tmp - 1, 0);
	ASSERT(n > 0);
	tmp[n] = '\0';
	ASSERT_CONTAINS(tmp, "HTTP/1.1 200 ");
	struct resp m = call(&g, "GET", "/metrics", NULL, NULL);
	ASSERT_CONTAINS(m.body, "viralsup_http_connections_closed_total{reason=\"idle_reaped\"} ");
	close(a);
	close(b);
	gw_stop(&g);
}

TEST(connections_over_the_per_address_cap_get_429_while_others_are_served)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, "[http]\nmax_connections_per_addr = 3\n");
	gw_wait_db(&g);
	int fds[3];
	for (int i = 0; i < 3; i++)
		fds[i] = busy_connection(&g);
	/* A fourth from 127.0.0.1: refused with 429. */
	int c = gw_connect(&g);
	char *out = read_all(c);
	ASSERT_CONTAINS(out, "HTTP/1.1 429 ");
	ASSERT_CONTAINS(out, "Too many connections from your address");
	ASSERT_CONTAINS(out, "Retry-After: 1");
	free(out);
	close(c);
	/* Another address is served. */
	int d = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in src = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
	ASSERT_EQ_INT(bind(d, (struct sockaddr *)&src, sizeof src), 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g.port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ_INT(connect(d, (struct sockaddr *)&sa, sizeof sa), 0);
	const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	send_all(d, req, sizeof req - 1);
	out = read_all(d);
	ASSERT_CONTAINS(out, "HTTP/1.1 200 ");
	free(out);
	close(d);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	gw_stop(&g);
}

TEST(hundred_concurrent_clients_all_answered)
{
	struct gw g;
	char *db = db_fresh();
	gw_start(&g, db, NULL, NULL);
	gw_wait_db(&g);
	enum { N = 100 };
	int fds[N];
	const char req[] =
	    "GET /api/viral-ideas/queue-status HTTP/1.1\r\nConnection: close\r\n\r\n";
	for (int i = 0; i < N; i++)
		fds[i] = gw_connect(&g);
	for (int i = 0; i < N; i++)
		send_all(fds[i], req, sizeof req - 1);
	int ok = 0;
	for (int i = 0; i < N; i++) {
		char *out = read_all(fds[i]);
		ok += strncmp(out, "HTTP/1.1 200", 12) == 0;
		free(out);
		close(fds[i]);
	}
	ASSERT_EQ_INT(ok, N);
	gw_stop(&g);
}

TEST(database_down_answers_503_with_retry_after_while_healthz_lives)
{
	struct gw g;
	/* Nothing listens on port 1: the pool never comes up. */
	gw_start(&g, "host=127.0.0.1 port=1 dbname=x connect_timeout=1", NULL, NULL);
	struct resp r = call(&g, "GET", "/api/viral-ideas/queue-status", NULL, NULL);
	ASSERT_EQ_INT(r.status, 503);
	ASSERT_CONTAINS(r.raw, "Retry-After: ");
	ASSERT_CONTAINS(r.body, "Database unavailable");
	r = create(&g, "x");
	ASSERT_EQ_INT(r.status, 503);
	ASSERT_EQ_INT(call(&g, "GET", "/healthz", NULL, NULL).status, 200);
	ASSERT_EQ_INT(call(&g, "GET", "/readyz", NULL, NULL).status, 503);
	r = call(&g, "GET", "/health", NULL, NULL);
	ASSERT_CONTAINS(r.body, "\"api_available\":false");
	gw_stop(&g);
}

TEST(metrics_expose_requests_latency_and_jobs)
{
	struct gw g;
	gw_start(&g, db_fresh(), NULL, NULL);
	gw_wait_db(&g);
	ASSERT_EQ_INT(create(&g, "m").status, 200);
	call(&g, "GET", "/nope", NULL, NULL);
	struct resp r = call(&g, "GET", "/metrics", NULL, NULL);
	ASSERT_EQ_INT(r.status, 200);
	ASSERT_CONTAINS(r.raw, "Content-Type: text/plain; version=0.0.4");
	ASSERT_CONTAINS(r.body, "viralsup_http_requests_total{route=\"/api/viral-ideas/queue\","
	                        "status=\"200\"} 1");
	ASSERT_CONTAINS(r.body,
	                "viralsup_http_requests_total{route=\"unmatched\",status=\"404\"} 1");
	ASSERT_CONTAINS(r.body, "viralsup_http_request_duration_seconds_bucket{le=\"+Inf\"}");
	ASSERT_CONTAINS(r.body, "viralsup_jobs{status=\"pending\"} 1");
	ASSERT_CONTAINS(r.body, "viralsup_batches_total 0");
	gw_stop(&g);
}
