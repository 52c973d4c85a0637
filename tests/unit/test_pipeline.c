/*
 * End-to-end tests of the batch pipeline (issue 5, "Tests"): the real
 * viralsup supervisor with every actor as separate processes, a fresh
 * PostgreSQL database per test, jobs submitted over the HTTP API, and
 * either the fixtures provider (examples/instagram) or the fake RapidAPI
 * server (tests/fake_provider) where the provider contract matters.
 * Outcomes are asserted in SQL; waits poll the database with a deadline.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/stack.h"

/* Counts of one job's transitions, in order: ">pending,pending>processing,…". */
static const char SQL_HISTORY[] =
    "SELECT string_agg(COALESCE(from_status, '') || '>' || to_status, ',' ORDER BY id)"
    " FROM job_events WHERE job_id = $1::uuid";

static const char SQL_ALL_DONE[] =
    "SELECT count(*) FILTER (WHERE status IN ('completed', 'failed')) = count(*)"
    " FROM viral_ideas_queue";

/* Reels of a fixture account (distinct shortcodes over its reels pages),
 * capped as the fetcher caps them (fetcher.reels_per_account = 30). */
static int fixture_reels(const char *user)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "examples/instagram/%s", user);
	DIR *d = opendir(dir);
	json_t *codes = json_object();
	struct dirent *e;
	if (!d)
		FAIL("no fixture directory %s", dir);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "reels_", 6) != 0)
			continue;
		char path[PATH_MAX + 300];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		json_t *doc = json_load_file(path, 0, NULL);
		size_t i;
		json_t *r;
		json_array_foreach(json_object_get(doc, "reels"), i, r)
		{
			const char *code = json_string_value(json_object_get(
			    json_object_get(json_object_get(r, "node"), "media"), "code"));
			if (code)
				json_object_set_new(codes, code, json_true());
		}
		json_decref(doc);
	}
	closedir(d);
	int n = (int)json_object_size(codes);
	json_decref(codes);
	return n < 30 ? n : 30;
}

static void start_fixtures_stack(struct stack *s, const char *processing)
{
	stack_init(s);
	stack_env(s, "VIRALSUP_PROVIDER=fixtures");
	char kv[64];
	snprintf(kv, sizeof kv, "VIRALSUP_PROCESSING=%s", processing);
	stack_env(s, kv);
}

static void assert_one_completed_result(struct stack *s, const char *id, int run)
{
	char runs[16];
	snprintf(runs, sizeof runs, "%d", run);
	ASSERT_EQ_INT(
	    sql_int(s,
	            "SELECT count(*) FROM viral_analysis_results WHERE queue_id = $1::uuid"
	            " AND analysis_run = $2::int AND status = 'completed'",
	            id, runs, NULL),
	    1);
}

/* 1 --------------------------------------------------------------------------- */

TEST(jobs_submitted_over_http_complete_with_results_matching_the_fixtures)
{
	struct stack s;
	start_fixtures_stack(&s, "triggered");
	stack_start(&s);

	json_t *jobs = json_load_file("examples/jobs.json", 0, NULL);
	size_t njobs = json_array_size(jobs);
	ASSERT_CMP_INT(njobs, >=, 3);
	char *ids[16];
	size_t i;
	json_t *job;
	json_array_foreach(jobs, i, job)
	{
		char comp[1024] = "";
		size_t k;
		json_t *c;
		json_array_foreach(json_object_get(job, "selected_competitors"), k, c)
		{
			if (k)
				strlcat(comp, ",", sizeof comp);
			strlcat(comp, json_string_value(c), sizeof comp);
		}
		ids[i] = stack_submit(&s, json_string_value(json_object_get(job, "session_id")),
		                      json_string_value(json_object_get(job, "primary_username")),
		                      comp, 5);
	}
	/* Triggered mode: nothing runs before process-pending. */
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT count(*) FROM viral_ideas_queue WHERE status = 'pending'", NULL),
	    njobs);
	char *st = stack_trigger(&s);
	ASSERT_EQ_STR(st, "processing_started");
	free(st);
	stack_wait_sql(&s, 20000, "t", SQL_ALL_DONE);

	ASSERT_EQ_INT(
	    sql_int(&s,
	            "SELECT count(*) FROM viral_ideas_queue WHERE status = 'completed'"
	            " AND progress_percentage = 100"
	            " AND current_step LIKE 'Initial analysis completed: % transcripts fetched'",
	            NULL),
	    njobs);
	/* The batch record covers exactly these jobs. */
	char nj[24];
	snprintf(nj, sizeof nj, "%zu", njobs);
	ASSERT_EQ_INT(
	    sql_int(&s,
	            "SELECT count(*) FROM batches WHERE total_jobs = $1::int AND"
	            " completed_jobs = $1::int AND failed_jobs = 0 AND finished_at IS NOT NULL",
	            nj, NULL),
	    1);
	json_array_foreach(jobs, i, job)
	{
		const char *id = ids[i];
		char *hist = sql_str(&s, SQL_HISTORY, id, NULL);
		ASSERT_EQ_STR(hist, ">pending,pending>processing,processing>completed");
		free(hist);
		assert_one_completed_result(&s, id, 1);
		ASSERT_EQ_INT(
		    sql_int(&s,
		            "SELECT count(*) FROM viral_analysis_results WHERE queue_id = $1::uuid",
		            id, NULL),
		    1);
		/* analysis_data: a real object with the original's keys and five
		 * generated hooks that are objects themselves. */
		char *ok = sql_str(
		    &s,
		    "SELECT jsonb_typeof(analysis_data) = 'object'"
		    " AND analysis_data ?& ARRAY['profile_analysis', 'individual_reel_analyses',"
		    "  'generated_hooks', 'complete_scripts', 'scripts_summary', "
		    "'analysis_summary',"
		    "  'workflow_version']"
		    " AND jsonb_array_length(analysis_data->'generated_hooks') = 5"
		    " AND (SELECT bool_and(jsonb_typeof(h) = 'object' AND length(h->>'hook_text') "
		    "> 0)"
		    "      FROM jsonb_array_elements(analysis_data->'generated_hooks') h)"
		    " AND analysis_type = 'initial' AND total_reels_analyzed > 0"
		    " FROM viral_analysis_results WHERE queue_id = $1::uuid",
		    id, NULL);
		ASSERT_EQ_STR(ok, "t");
		free(ok);
		ASSERT_CMP_INT(sql_int(&s,
		                       "SELECT count(*) FROM viral_analysis_reels r JOIN"
		                       " viral_analysis_results a ON a.id = r.analysis_id"
		                       " WHERE a.queue_id = $1::uuid",
		                       id, NULL),
		               >, 0);
		ASSERT_EQ_INT(
		    sql_int(&s,
		            "SELECT count(*) FROM viral_scripts sc JOIN viral_analysis_results a"
		            " ON a.id = sc.analysis_id WHERE a.queue_id = $1::uuid",
		            id, NULL),
		    5);
		/* Every account's reels are stored, as many as the fixtures hold. */
		const char *primary = json_string_value(json_object_get(job, "primary_username"));
		ASSERT_EQ_INT(
		    sql_int(&s, "SELECT count(*) FROM content WHERE username = $1", primary, NULL),
		    fixture_reels(primary));
		size_t k;
		json_t *c;
		json_array_foreach(json_object_get(job, "selected_competitors"), k, c)
		{
			const char *u = json_string_value(c);
			ASSERT_EQ_INT(sql_int(&s,
			                      "SELECT count(*) FROM content WHERE username = $1", u,
			                      NULL),
			              fixture_reels(u));
			char *ps =
			    sql_str(&s,
			            "SELECT processing_status FROM viral_ideas_competitors"
			            " WHERE queue_id = $1::uuid AND competitor_username = $2",
			            id, u, NULL);
			ASSERT_EQ_STR(ps, "completed");
			free(ps);
		}
		/* The HTTP API serves the same result. */
		char path[128], *resp = NULL;
		snprintf(path, sizeof path, "/api/viral-analysis/%s/results", id);
		ASSERT_EQ_INT(stack_http(&s, NULL, "GET", path, NULL, false, &resp), 200);
		json_t *r = json_loads(resp, 0, NULL);
		ASSERT_EQ_INT(
		    json_array_size(json_object_get(json_object_get(r, "data"), "generated_hooks")),
		    5);
		json_decref(r);
		free(resp);
	}
	json_decref(jobs);
	stack_stop(&s);
}

/* 2 --------------------------------------------------------------------------- */

TEST(jobs_are_claimed_in_priority_then_fifo_order_one_at_a_time)
{
	struct stack s;
	start_fixtures_stack(&s, "triggered");
	stack_env(&s, "VIRALSUP_CONCURRENCY=1");
	stack_start(&s);

	/* session, primary, priority; expected claim order: d b e a c f. */
	const char *sess[] = {"a", "b", "c", "d", "e", "f"};
	const char *prim[] = {"maya.lifts",      "frugal.finn",  "coach.dante.fit",
	                      "wander.with.lea", "budgetbae.co", "cityhop.ana"};
	const int prio[] = {5, 2, 5, 1, 2, 9};
	for (int i = 0; i < 6; i++)
		free(stack_submit(&s, sess[i], prim[i], "", prio[i]));
	free(stack_trigger(&s));
	stack_wait_sql(&s, 20000, "t", SQL_ALL_DONE);
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT count(*) FROM viral_ideas_queue WHERE status = 'completed'", NULL),
	    6);
	char *order = sql_str(&s,
	                      "SELECT string_agg(q.session_id, ' ' ORDER BY e.id) FROM job_events e"
	                      " JOIN viral_ideas_queue q ON q.id = e.job_id"
	                      " WHERE e.to_status = 'processing'",
	                      NULL);
	ASSERT_EQ_STR(order, "d b e a c f");
	free(order);
	/* Concurrency 1: no job is claimed while another is processing. */
	ASSERT_EQ_INT(sql_int(&s,
	                      "WITH t AS (SELECT job_id,"
	                      "  min(id) FILTER (WHERE to_status = 'processing') AS s,"
	                      "  max(id) FILTER (WHERE to_status = 'completed') AS e"
	                      "  FROM job_events GROUP BY job_id)"
	                      " SELECT count(*) FROM t a JOIN t b ON a.job_id <> b.job_id"
	                      "  AND b.s > a.s AND b.s < a.e",
	                      NULL),
	              0);
	stack_stop(&s);
}

/* --- against the fake RapidAPI provider ---------------------------------------- */

static void start_fake_stack(struct stack *s, const char *const *fake_env)
{
	stack_init(s);
	stack_fake_start(s, fake_env);
	stack_env(s, "VIRALSUP_PROCESSING=continuous");
}

/* 3 --------------------------------------------------------------------------- */

TEST(failed_competitor_is_recorded_while_failed_primary_fails_the_job_at_once)
{
	struct stack s;
	const char *fenv[] = {"FAKE_REELS=12", NULL};
	start_fake_stack(&s, fenv);
	stack_start(&s);

	char *a = stack_submit(&s, "comp-fails", "alice", "e404__gone,bob", 5);
	char *b = stack_submit(&s, "primary-404", "e404__nobody", "carl", 5);
	char *c = stack_submit(&s, "primary-private", "private__secret", "dana", 5);
	stack_wait_sql(&s, 20000, "t", SQL_ALL_DONE);

	/* A competitor that does not exist: recorded on its row, job goes on. */
	char *st = sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1::uuid", a, NULL);
	ASSERT_EQ_STR(st, "completed");
	free(st);
	char *err = sql_str(&s,
	                    "SELECT processing_status || ': ' || COALESCE(error_message, '')"
	                    " FROM viral_ideas_competitors WHERE queue_id = $1::uuid"
	                    " AND competitor_username = 'e404__gone'",
	                    a, NULL);
	ASSERT_CONTAINS(err, "failed: ");
	ASSERT_CONTAINS(err, "not found");
	free(err);
	st = sql_str(
	    &s,
	    "SELECT processing_status FROM viral_ideas_competitors WHERE queue_id = $1::uuid"
	    " AND competitor_username = 'bob'",
	    a, NULL);
	ASSERT_EQ_STR(st, "completed");
	free(st);
	assert_one_completed_result(&s, a, 1);
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT count(*) FROM content WHERE username = 'e404__gone'", NULL), 0);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM content WHERE username = 'bob'", NULL), 12);

	/* A missing or private primary: failed on the first attempt, with why. */
	err = sql_str(
	    &s,
	    "SELECT status || ' ' || attempts || ': ' || error_message FROM viral_ideas_queue"
	    " WHERE id = $1::uuid",
	    b, NULL);
	ASSERT_CONTAINS(err, "failed 1: ");
	ASSERT_CONTAINS(err, "@e404__nobody");
	ASSERT_CONTAINS(err, "not found");
	free(err);
	err = sql_str(
	    &s,
	    "SELECT status || ' ' || attempts || ': ' || error_message FROM viral_ideas_queue"
	    " WHERE id = $1::uuid",
	    c, NULL);
	ASSERT_CONTAINS(err, "failed 1: ");
	ASSERT_CONTAINS(err, "@private__secret");
	ASSERT_CONTAINS(err, "private");
	free(err);
	for (int i = 0; i < 2; i++) {
		const char *id = i ? c : b;
		char *hist = sql_str(&s, SQL_HISTORY, id, NULL);
		ASSERT_EQ_STR(hist, ">pending,pending>processing,processing>failed");
		free(hist);
		ASSERT_EQ_INT(
		    sql_int(&s,
		            "SELECT count(*) FROM viral_analysis_results WHERE queue_id = $1::uuid",
		            id, NULL),
		    0);
	}
	/* The failed primary's profile was asked for once: no retries of a 404. */
	ASSERT_EQ_INT(stack_fake_count(&s, NULL, "e404__nobody"), 1);
	free(a);
	free(b);
	free(c);
	stack_stop(&s);
}

/* 4 --------------------------------------------------------------------------- */

TEST(provider_429_and_5xx_are_retried_and_the_job_completes)
{
	struct stack s;
	const char *fenv[] = {"FAKE_REELS=12", NULL};
	start_fake_stack(&s, fenv);
	stack_start(&s);

	char *id =
	    stack_submit(&s, "flaky", "e429x2__erin", "e503x2__fran,e500x1__gus,e502x1__hal", 5);
	stack_wait_sql(&s, 30000, "t", SQL_ALL_DONE);
	char *st =
	    sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1::uuid", id, NULL);
	ASSERT_EQ_STR(st, "completed");
	free(st);
	assert_one_completed_result(&s, id, 1);
	ASSERT_EQ_INT(
	    sql_int(&s,
	            "SELECT count(*) FROM viral_ideas_competitors WHERE queue_id = $1::uuid"
	            " AND processing_status = 'completed'",
	            id, NULL),
	    3);
	const char *users[] = {"e429x2__erin", "e503x2__fran", "e500x1__gus", "e502x1__hal"};
	const int fails[] = {2, 2, 1, 1};
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ_INT(
		    sql_int(&s, "SELECT count(*) FROM content WHERE username = $1", users[i], NULL),
		    12);
		/* Each injected failure was followed by a retry that succeeded. */
		ASSERT_CMP_INT(stack_fake_count(&s, NULL, users[i]), >=, fails[i] + 2);
	}
	free(id);
	stack_stop(&s);
}

/* 5 --------------------------------------------------------------------------- */

TEST(recurring_run_fetches_only_the_new_reels)
{
	struct stack s;
	const char *fenv[] = {"FAKE_REELS=12", NULL};
	start_fake_stack(&s, fenv);
	stack_start(&s);

	char *id = stack_submit(&s, "again", "ivy", "jack,kim", 5);
	stack_wait_sql(&s, 20000, "t", SQL_ALL_DONE);
	assert_one_completed_result(&s, id, 1);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM content", NULL), 36);

	long long pages0 = stack_fake_count(&s, "/get_ig_user_reels.php", NULL);
	long long tr0 = stack_fake_count(&s, "/transcript", NULL);
	long long kim0 = stack_fake_count(&s, NULL, "kim");
	stack_fake_control(&s, "{\"username\": \"ivy\", \"add_reels\": 3}");
	stack_fake_control(&s, "{\"username\": \"jack\", \"add_reels\": 2}");
	char path[128];
	snprintf(path, sizeof path, "/api/viral-ideas/queue/%s/process", id);
	ASSERT_EQ_INT(stack_http(&s, NULL, "POST", path, NULL, true, NULL), 200);
	stack_wait_sql(&s, 20000, "2",
	               "SELECT total_runs FROM viral_ideas_queue WHERE status = 'completed'");

	assert_one_completed_result(&s, id, 2);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_analysis_results", NULL), 2);
	char *t =
	    sql_str(&s,
	            "SELECT analysis_type FROM viral_analysis_results WHERE queue_id = $1::uuid"
	            " AND analysis_run = 2",
	            id, NULL);
	ASSERT_EQ_STR(t, "recurring");
	free(t);
	char *step = sql_str(&s, "SELECT current_step FROM viral_ideas_queue", NULL);
	ASSERT_CONTAINS(step, "Recurring analysis completed");
	free(step);
	/* The new reels are stored; nothing else changed in number. */
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM content WHERE username = 'ivy'", NULL), 15);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM content WHERE username = 'jack'", NULL),
	              14);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM content WHERE username = 'kim'", NULL), 12);
	/* One listing page per account (it stopped at the known reels), and
	 * transcripts only for new reels: none for kim, at most 3 + 2. */
	ASSERT_EQ_INT(stack_fake_count(&s, "/get_ig_user_reels.php", NULL) - pages0, 3);
	long long tr = stack_fake_count(&s, "/transcript", NULL) - tr0;
	ASSERT_CMP_INT(tr, >=, 1);
	ASSERT_CMP_INT(tr, <=, 5);
	ASSERT_CMP_INT(stack_fake_count(&s, NULL, "kim") - kim0, <=, 2);
	char *hist = sql_str(&s, SQL_HISTORY, id, NULL);
	ASSERT_EQ_STR(hist, ">pending,pending>processing,processing>completed,"
	                    "completed>pending,pending>processing,processing>completed");
	free(hist);
	free(id);
	stack_stop(&s);
}

/* --- crashes ----------------------------------------------------------------------- */

/* Bytes waiting unread in the sockets of process pid (a stopped process's
 * queued requests), through pidfd_getfd + FIONREAD. */
static long unread_bytes(pid_t pid)
{
	char dir[64];
	long total = 0;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		FAIL("pidfd_open %d: %s", (int)pid, strerror(errno));
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		char path[PATH_MAX], link[64];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strncmp(link, "socket:", 7) != 0)
			continue;
		int fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
		int q = 0;
		if (fd >= 0 && ioctl(fd, FIONREAD, &q) == 0)
			total += q;
		if (fd >= 0)
			close(fd);
	}
	if (d)
		closedir(d);
	close(pidfd);
	return total;
}

/* Whether process pid holds an established TCP connection to 127.0.0.1:port. */
static bool connected_to(pid_t pid, int port)
{
	char line[512], dir[64];
	long inodes[256];
	int ninodes = 0;
	FILE *f = fopen("/proc/net/tcp", "r");
	if (!f)
		return false;
	while (fgets(line, sizeof line, f)) {
		unsigned rport, st;
		long inode;
		char rem[64];
		/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*d: %*s %63s %x %*s %*s %*s %*d %*d %ld", rem, &st, &inode) !=
		    3)
			continue;
		char *colon = strchr(rem, ':');
		if (!colon || sscanf(colon + 1, "%x", &rport) != 1)
			continue;
		if ((int)rport == port && st == 1 && ninodes < 256)
			inodes[ninodes++] = inode;
	}
	fclose(f);
	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;
	while (d && !found && (e = readdir(d)) != NULL) {
		char path[PATH_MAX], link[64];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		long ino;
		if (sscanf(link, "socket:[%ld]", &ino) != 1)
			continue;
		for (int i = 0; i < ninodes; i++)
			found |= inodes[i] == ino;
	}
	if (d)
		closedir(d);
	return found;
}

static void no_core_dumps(void)
{
	struct rlimit rl = {0, 0};
	setrlimit(RLIMIT_CORE, &rl);
}

static void submit_examples(struct stack *s, char **ids, int n)
{
	json_t *jobs = json_load_file("examples/jobs.json", 0, NULL);
	size_t i;
	json_t *job;
	json_array_foreach(jobs, i, job)
	{
		if ((int)i >= n)
			break;
		char comp[1024] = "";
		size_t k;
		json_t *c;
		json_array_foreach(json_object_get(job, "selected_competitors"), k, c)
		{
			if (k)
				strlcat(comp, ",", sizeof comp);
			strlcat(comp, json_string_value(c), sizeof comp);
		}
		ids[i] = stack_submit(s, json_string_value(json_object_get(job, "session_id")),
		                      json_string_value(json_object_get(job, "primary_username")),
		                      comp, 5);
	}
	json_decref(jobs);
}

/* No job has more than one result per run, none more than five scripts per
 * result, no analysis lists a reel twice. */
static void assert_nothing_doubled(struct stack *s)
{
	ASSERT_EQ_INT(sql_int(s,
	                      "SELECT count(*) FROM (SELECT queue_id, analysis_run FROM"
	                      " viral_analysis_results GROUP BY 1, 2 HAVING count(*) > 1) d",
	                      NULL),
	              0);
	ASSERT_EQ_INT(sql_int(s,
	                      "SELECT count(*) FROM viral_analysis_results a WHERE (SELECT count(*)"
	                      " FROM viral_scripts sc WHERE sc.analysis_id = a.id) <> 5",
	                      NULL),
	              0);
	ASSERT_EQ_INT(sql_int(s,
	                      "SELECT count(*) - count(DISTINCT (analysis_id, content_id))"
	                      " FROM viral_analysis_reels",
	                      NULL),
	              0);
}

/* 6a --------------------------------------------------------------------------- */

TEST(poison_job_fails_after_the_rescue_cap_and_the_rest_of_the_batch_completes)
{
	struct stack s;
	char *ids[4];
	no_core_dumps();
	start_fixtures_stack(&s, "triggered");
	/* At the default rescue cap (3). The first example job (maya.lifts) makes
	 * the analyzer abort: the first crash is in company (every job then in
	 * the analyzer becomes a suspect, none gets a strike), the next four are
	 * its own, alone: three strikes are forgiven, the fourth fails it. */
	stack_env(&s, "VIRALSUP_ANALYZER_CRASH_ON=maya.lifts");
	stack_start(&s);
	stack_expect_restarts(&s);
	submit_examples(&s, ids, 4);
	free(stack_submit(&s, "solo", "coach.dante.fit", "strongwithsam", 5));
	free(stack_trigger(&s));
	stack_wait_sql(&s, 30000, "t", SQL_ALL_DONE);

	char *err = sql_str(&s,
	                    "SELECT status || ' ' || rescues || ': ' || error_message"
	                    " FROM viral_ideas_queue WHERE id = $1::uuid",
	                    ids[0], NULL);
	ASSERT_CONTAINS(err, "failed 4: ");
	ASSERT_CONTAINS(err, "poison job");
	ASSERT_CONTAINS(err, "cap 3");
	ASSERT_CONTAINS(err, "analyzer");
	ASSERT_CONTAINS(err, "died");
	free(err);
	/* Claimed once, rescued three times (each a claim again), failed at the
	 * fourth crash alone. */
	ASSERT_EQ_INT(sql_int(&s,
	                      "SELECT count(*) FROM job_events WHERE job_id = $1::uuid"
	                      " AND to_status = 'processing'",
	                      ids[0], NULL),
	              4);
	/* No other job got a strike: they were bystanders. */
	ASSERT_EQ_INT(sql_int(&s,
	                      "SELECT count(*) FROM viral_ideas_queue WHERE id <> $1::uuid"
	                      " AND rescues > 0",
	                      ids[0], NULL),
	              0);
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT count(*) FROM viral_analysis_results WHERE queue_id = $1::uuid",
	            ids[0], NULL),
	    0);
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT count(*) FROM viral_ideas_queue WHERE status = 'completed'", NULL),
	    4);
	for (int i = 1; i < 4; i++)
		assert_one_completed_result(&s, ids[i], 1);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_analysis_results", NULL), 4);
	assert_nothing_doubled(&s);
	json_t *st = suptest_status(&s.sup);
	ASSERT_CMP_INT(
	    json_integer_value(json_object_get(suptest_child(st, "analyzer"), "restarts_total")),
	    >=, 5);
	json_decref(st);
	for (int i = 0; i < 4; i++)
		free(ids[i]);
	stack_stop(&s);
}

/* 6b --------------------------------------------------------------------------- */

/* Four jobs were in the analyzer together when it died: none of them is to
 * blame for sure, so none gets a strike; each is marked suspect and analysed
 * alone at once (no lease wait, no trip back to pending). */
/*
 * The crash tests below freeze an actor (SIGSTOP) until work piles up in
 * its socket, then SIGKILL it: the crash under test. On a loaded machine
 * the pile-up can outlast the default 5 s watchdog, which would kill the
 * frozen actor first (a hang, another test's subject), so these stacks
 * give the watchdog 60 s. The default is proven by test_chaos's
 * sigstopped_actors_are_replaced_by_the_watchdog_and_every_job_completes.
 */
static void watchdog_beyond_the_freeze(struct stack *s)
{
	stack_env(s, "VIRALSUP_WATCHDOG_MS=60000");
}

TEST(analyzer_sigkilled_while_analysing_four_jobs_strikes_none_and_every_job_completes)
{
	struct stack s;
	char *ids[4];
	start_fixtures_stack(&s, "continuous");
	watchdog_beyond_the_freeze(&s);
	stack_start(&s);
	stack_expect_restarts(&s);
	/* Freeze the analyzer so the jobs pile up in it, analysing. */
	pid_t an = stack_pid(&s, "analyzer", 0);
	ASSERT_EQ_INT(kill(an, SIGSTOP), 0);
	submit_examples(&s, ids, 4);
	stack_wait_sql(&s, 20000, "4",
	               "SELECT count(*) FROM viral_ideas_queue WHERE status = 'processing'"
	               " AND progress_percentage = 85");
	/* The ANALYZE_JOB requests are in its socket, unread. */
	WAIT_UNTIL(unread_bytes(an) > 0, 5000);
	ASSERT_EQ_INT(kill(an, SIGKILL), 0);
	pid_t an2 = stack_pid(&s, "analyzer", an);
	ASSERT(an2 != an);
	stack_wait_sql(&s, 20000, "t", SQL_ALL_DONE);

	for (int i = 0; i < 4; i++) {
		char *hist = sql_str(&s, SQL_HISTORY, ids[i], NULL);
		ASSERT_EQ_STR(hist, ">pending,pending>processing,processing>completed");
		free(hist);
		ASSERT_EQ_INT(sql_int(&s,
		                      "SELECT rescues FROM viral_ideas_queue WHERE id = $1::uuid"
		                      " AND crash_suspect",
		                      ids[i], NULL),
		              0);
		assert_one_completed_result(&s, ids[i], 1);
	}
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM viral_analysis_results", NULL), 4);
	assert_nothing_doubled(&s);
	for (int i = 0; i < 4; i++)
		free(ids[i]);
	stack_stop(&s);
}

/* 7 --------------------------------------------------------------------------- */

TEST(fetcher_sigkilled_mid_transfer_has_its_accounts_refetched_by_another)
{
	struct stack s;
	const char *fenv[] = {"FAKE_REELS=12", NULL};
	start_fake_stack(&s, fenv);
	stack_env(&s, "VIRALSUP_FETCHERS=2");
	stack_start(&s);
	stack_expect_restarts(&s);
	pid_t f0 = stack_pid(&s, "fetcher[0]", 0);
	pid_t f1 = stack_pid(&s, "fetcher[1]", 0);

	const char *users[] = {"slowx700__lena", "slowx700__mo", "slowx700__nia", "slowx700__otto"};
	char *id =
	    stack_submit(&s, "slow", users[0], "slowx700__mo,slowx700__nia,slowx700__otto", 5);
	/* All four profile requests are at the fake (each answers after 700 ms). */
	WAIT_UNTIL(stack_fake_count(&s, "/ig_get_fb_profile.php", NULL) == 4, 10000);
	WAIT_UNTIL(connected_to(f0, s.fake_port) && connected_to(f1, s.fake_port), 5000);
	ASSERT_EQ_INT(kill(f0, SIGKILL), 0);
	stack_wait_sql(&s, 30000, "t", SQL_ALL_DONE);

	char *st =
	    sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1::uuid", id, NULL);
	ASSERT_EQ_STR(st, "completed");
	free(st);
	/* Re-dispatched at once within the same claim: no release, no lease wait. */
	char *hist = sql_str(&s, SQL_HISTORY, id, NULL);
	ASSERT_EQ_STR(hist, ">pending,pending>processing,processing>completed");
	free(hist);
	/* The killed fetcher's accounts were asked for again. */
	ASSERT_CMP_INT(stack_fake_count(&s, "/ig_get_fb_profile.php", NULL), >, 4);
	for (int i = 0; i < 4; i++)
		ASSERT_EQ_INT(
		    sql_int(&s, "SELECT count(*) FROM content WHERE username = $1", users[i], NULL),
		    12);
	ASSERT_EQ_INT(
	    sql_int(&s,
	            "SELECT count(*) FROM viral_ideas_competitors WHERE queue_id = $1::uuid"
	            " AND processing_status = 'completed'",
	            id, NULL),
	    3);
	assert_one_completed_result(&s, id, 1);
	assert_nothing_doubled(&s);
	free(id);
	stack_stop(&s);
}

/* 7a -------------------------------------------------------------------------- */

/*
 * fetcher.timeout_ms = 2000 instead of 30000: the scheduler waits
 * fetcher.timeout_ms x 4 + 10 s for a unit, 130 s at the defaults, and a
 * 429's Retry-After is honoured up to 60 s (retry_after_max_ms), so at the
 * defaults one Retry-After can never be past a fresh unit's deadline (only
 * a unit that already spent 70 s can meet it: test_fetch_parse's
 * deadline_arithmetic_at_the_default_settings covers those figures). With
 * 2000 the unit's budget is 18 s (17 s after the fetcher's 1 s margin), and
 * a Retry-After of 30 s, under the default cap, is past it. Every other
 * setting is the default.
 */
#define DEADLINE_CONF "[fetcher]\ntimeout_ms = 2000\n"

TEST(retry_after_past_the_units_deadline_releases_the_job_at_once_and_no_fetcher_is_slow)
{
	struct stack s;
	const char *fenv[] = {"FAKE_REELS=12", NULL};
	start_fake_stack(&s, fenv);
	stack_start_conf(&s, DEADLINE_CONF);
	/* rex's first request (its profile) gets 429 with Retry-After: 30. */
	stack_fake_control(&s, "{\"username\": \"rex\", \"mode\": \"e429\", \"count\": 1,"
	                       " \"arg\": 30}");

	double t0 = test_now_ms();
	char *id = stack_submit(&s, "deadline", "pia", "rex,sam", 5);
	stack_wait_sql(&s, 30000, "t", SQL_ALL_DONE);
	double took = test_now_ms() - t0;

	/* The documented transient path: released with backoff, claimed again,
	 * completed; one completion. */
	char *hist = sql_str(&s, SQL_HISTORY, id, NULL);
	ASSERT_EQ_STR(hist, ">pending,pending>processing,processing>pending,pending>processing,"
	                    "processing>completed");
	free(hist);
	char *why = sql_str(&s,
	                    "SELECT reason FROM job_events WHERE job_id = $1::uuid"
	                    " AND from_status = 'processing' AND to_status = 'pending'",
	                    id, NULL);
	ASSERT_CONTAINS(why, "released: fetching @rex: profile: HTTP 429: Retry-After 30s is past "
	                     "the scheduler's deadline (");
	/* The time left was the budget the scheduler sent (18 s) less the
	 * margin (1 s) less the moment it took to get there. */
	double left = -1;
	const char *p = strstr(why, "deadline (");
	ASSERT(p && sscanf(p, "deadline (%lfs left)", &left) == 1);
	ASSERT(left > 12.0 && left <= 17.0);
	free(why);
	/* The fetcher answered at once, not after the scheduler's 18 s: from the
	 * claim to the release, in the database's clock. */
	long long answered_ms =
	    sql_int(&s,
	            "SELECT (extract(epoch FROM r.at - c.at) * 1000)::bigint FROM job_events c,"
	            " job_events r WHERE c.job_id = $1::uuid AND r.job_id = c.job_id"
	            " AND c.from_status = 'pending' AND c.to_status = 'processing'"
	            " AND r.from_status = 'processing' AND r.to_status = 'pending'",
	            id, NULL);
	printf("  claim to release %lld ms (the scheduler waits 18000), all done after %.0f ms\n",
	       answered_ms, took);
	ASSERT_CMP_INT(answered_ms, >=, 0);
	ASSERT_CMP_INT(answered_ms, <, 6000);
	ASSERT_CMP_INT(took, <, 18000);
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT attempts FROM viral_ideas_queue WHERE id = $1::uuid", id, NULL), 2);

	/* The fetcher logged the reason and the scheduler saw no timeout. */
	char *log = suptest_read(s.sup.log);
	ASSERT_CONTAINS(log, "@rex not fetched (transient): profile: HTTP 429: Retry-After 30s is "
	                     "past the scheduler's deadline");
	if (strstr(log, "did not answer in time"))
		FAIL("a unit timed out at the scheduler:\n%s",
		     strstr(log, "did not answer in time"));
	free(log);
	/* No fetcher is marked slow: each takes new units. */
	json_t *sched = suptest_json(&s.sup, "scheduler");
	ASSERT(sched != NULL);
	size_t i;
	json_t *w;
	int fetchers = 0;
	json_array_foreach(json_object_get(sched, "workers"), i, w)
	{
		ASSERT(json_is_boolean(json_object_get(w, "slow")));
		if (json_is_true(json_object_get(w, "slow")))
			FAIL("%s is marked slow: %s", json_string_value(json_object_get(w, "name")),
			     json_dumps(sched, 0));
		fetchers += !strcmp(json_string_value(json_object_get(w, "role")), "fetcher");
	}
	ASSERT_CMP_INT(fetchers, >=, 1);
	json_decref(sched);

	/* Nothing lost, nothing done twice. */
	assert_one_completed_result(&s, id, 1);
	assert_nothing_doubled(&s);
	ASSERT_EQ_INT(sql_int(&s,
	                      "SELECT count(*) FROM job_events WHERE job_id = $1::uuid"
	                      " AND to_status = 'completed'",
	                      id, NULL),
	              1);
	const char *users[] = {"pia", "rex", "sam"};
	for (int k = 0; k < 3; k++)
		ASSERT_EQ_INT(sql_int(&s,
		                      "SELECT count(DISTINCT shortcode) * 100 + count(*)"
		                      " FROM content WHERE username = $1",
		                      users[k], NULL),
		              12 * 100 + 12);
	ASSERT_EQ_INT(
	    sql_int(&s,
	            "SELECT count(*) FROM viral_ideas_competitors WHERE queue_id = $1::uuid"
	            " AND processing_status = 'completed'",
	            id, NULL),
	    2);
	free(id);
	stack_stop(&s);
}

/* 8 --------------------------------------------------------------------------- */

static void assert_batch_intact(struct stack *s, char **ids, int n)
{
	ASSERT_EQ_INT(
	    sql_int(s, "SELECT count(*) FROM viral_ideas_queue WHERE status = 'completed'", NULL),
	    n);
	for (int i = 0; i < n; i++)
		assert_one_completed_result(s, ids[i], 1);
	ASSERT_EQ_INT(sql_int(s, "SELECT count(*) FROM viral_analysis_results", NULL), n);
	assert_nothing_doubled(s);
	/* Every fixture reel of every account once. */
	json_t *jobs = json_load_file("examples/jobs.json", 0, NULL);
	json_t *seen = json_object();
	size_t i;
	json_t *job;
	long long want = 0;
	json_array_foreach(jobs, i, job)
	{
		if ((int)i >= n)
			break;
		const char *p = json_string_value(json_object_get(job, "primary_username"));
		if (!json_object_get(seen, p)) {
			json_object_set_new(seen, p, json_true());
			want += fixture_reels(p);
		}
		size_t k;
		json_t *c;
		json_array_foreach(json_object_get(job, "selected_competitors"), k, c)
		{
			if (!json_object_get(seen, json_string_value(c))) {
				json_object_set_new(seen, json_string_value(c), json_true());
				want += fixture_reels(json_string_value(c));
			}
		}
	}
	json_decref(seen);
	json_decref(jobs);
	ASSERT_EQ_INT(sql_int(s, "SELECT count(*) FROM content", NULL), want);
}

TEST(writer_sigkilled_with_content_writes_queued_loses_and_doubles_nothing)
{
	struct stack s;
	char *ids[4];
	start_fixtures_stack(&s, "triggered");
	watchdog_beyond_the_freeze(&s);
	stack_start(&s);
	stack_expect_restarts(&s);
	pid_t wr = stack_pid(&s, "writer", 0);
	ASSERT_EQ_INT(kill(wr, SIGSTOP), 0);
	submit_examples(&s, ids, 4);
	free(stack_trigger(&s));
	stack_wait_sql(&s, 20000, "4",
	               "SELECT count(*) FROM viral_ideas_queue WHERE status = 'processing'"
	               " AND progress_percentage = 30");
	WAIT_UNTIL(unread_bytes(wr) > 0, 5000);
	ASSERT_EQ_INT(kill(wr, SIGKILL), 0);
	stack_wait_sql(&s, 30000, "t", SQL_ALL_DONE);
	assert_batch_intact(&s, ids, 4);
	ASSERT_EQ_INT(sql_int(&s, "SELECT completed_jobs FROM batches", NULL), 4);
	for (int i = 0; i < 4; i++)
		free(ids[i]);
	stack_stop(&s);
}

TEST(writer_sigkilled_with_results_queued_loses_and_doubles_nothing)
{
	struct stack s;
	char *ids[4];
	start_fixtures_stack(&s, "triggered");
	watchdog_beyond_the_freeze(&s);
	stack_start(&s);
	stack_expect_restarts(&s);
	pid_t an = stack_pid(&s, "analyzer", 0);
	pid_t wr = stack_pid(&s, "writer", 0);
	/* Content stored, analyses held back... */
	ASSERT_EQ_INT(kill(an, SIGSTOP), 0);
	submit_examples(&s, ids, 4);
	free(stack_trigger(&s));
	stack_wait_sql(&s, 20000, "4",
	               "SELECT count(*) FROM viral_ideas_queue WHERE status = 'processing'"
	               " AND progress_percentage = 85");
	/* ...then the results reach a frozen writer, which is killed. */
	ASSERT_EQ_INT(kill(wr, SIGSTOP), 0);
	ASSERT_EQ_INT(kill(an, SIGCONT), 0);
	WAIT_UNTIL(unread_bytes(wr) > 0, 5000);
	ASSERT_EQ_INT(kill(wr, SIGKILL), 0);
	stack_wait_sql(&s, 30000, "t", SQL_ALL_DONE);
	assert_batch_intact(&s, ids, 4);
	for (int i = 0; i < 4; i++)
		free(ids[i]);
	stack_stop(&s);
}

/* A scheduler SIGKILLed leaves its owner row live; its successor retires it
 * at once, whichever of its two database connections comes up first (the
 * sweep once ran only if the admin connection was up by the registration:
 * otherwise the old owner's jobs waited for their leases). Five kills at
 * the default settings, each checked before the next. */
TEST(a_sigkilled_schedulers_owner_is_retired_by_its_successor)
{
	struct stack s;
	stack_init(&s);
	stack_start(&s);
	stack_expect_restarts(&s);
	pid_t old = stack_pid(&s, "scheduler", 0);
	for (int i = 0; i < 5; i++) {
		/* Its own owner registered before it is killed. */
		char pid[16];
		snprintf(pid, sizeof pid, "%d", (int)old);
		for (double t0 = test_now_ms();
		     sql_int(&s, "SELECT count(*) FROM owners WHERE pid = $1::int", pid, NULL) ==
		     0;) {
			if (test_now_ms() - t0 > 5000)
				FAIL("scheduler pid %s registered no owner within 5 s", pid);
			test_poll_pause();
		}
		ASSERT_EQ_INT(kill(old, SIGKILL), 0);
		pid_t next = stack_pid(&s, "scheduler", old);
		snprintf(pid, sizeof pid, "%d", (int)next);
		/* The one live owner is the new scheduler's. */
		stack_wait_sql(
		    &s, 5000, pid,
		    "SELECT string_agg(pid::text, ',') FROM owners WHERE stopped_at IS NULL");
		old = next;
	}
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM owners", NULL), 6);
	stack_stop(&s);
}

/* Three process-pending calls racing: every one gets a 200, one batch is
 * opened and holds every job, and no job runs twice. */
struct trigger_call {
	struct stack *s;
	long status;
	char *body;
};

static void *trigger_thread(void *arg)
{
	struct trigger_call *c = arg;
	c->status = stack_http(c->s, NULL, "POST", "/api/viral-ideas/process-pending", NULL, true,
	                       &c->body);
	return NULL;
}

TEST(concurrent_process_pending_calls_all_succeed_and_open_one_batch)
{
	struct stack s;
	struct trigger_call calls[3];
	pthread_t th[3];
	start_fixtures_stack(&s, "triggered");
	stack_start(&s);
	for (int i = 0; i < 6; i++) {
		char session[32];
		snprintf(session, sizeof session, "race-%d", i);
		free(stack_submit(&s, session, "maya.lifts", "coach.dante.fit", 5));
	}
	for (int i = 0; i < 3; i++) {
		calls[i] = (struct trigger_call){.s = &s};
		ASSERT_EQ_INT(pthread_create(&th[i], NULL, trigger_thread, &calls[i]), 0);
	}
	int started = 0;
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		ASSERT_EQ_INT(calls[i].status, 200);
		ASSERT_CONTAINS(calls[i].body, "\"batch_id\"");
		started += strstr(calls[i].body, "processing_started") != NULL;
		ASSERT(strstr(calls[i].body, "processing_started") ||
		       strstr(calls[i].body, "already_processing"));
	}
	ASSERT_EQ_INT(started, 1);
	stack_wait_sql(&s, 20000, "6",
	               "SELECT count(*) FROM viral_ideas_queue WHERE status = 'completed'");
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM batches", NULL), 1);
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(DISTINCT batch_id) FROM viral_ideas_queue", NULL),
	              1);
	ASSERT_EQ_INT(
	    sql_int(&s, "SELECT count(*) FROM job_events WHERE to_status = 'processing'", NULL), 6);
	for (int i = 0; i < 3; i++)
		free(calls[i].body);
	/* A later trigger while nothing is pending. */
	char *status = stack_trigger(&s);
	ASSERT(!strcmp(status, "no_jobs_pending") || !strcmp(status, "already_processing"));
	free(status);
	stack_stop(&s);
}

/* Triggered mode: jobs submitted right after a batch finished wait for the
 * next trigger; they do not slip into the batch that just ended. */
TEST(triggered_mode_keeps_jobs_submitted_after_a_batch_for_the_next_trigger)
{
	struct stack s;
	start_fixtures_stack(&s, "triggered");
	stack_start(&s);
	free(stack_submit(&s, "first-1", "maya.lifts", "coach.dante.fit", 5));
	free(stack_submit(&s, "first-2", "frugal.finn", "budgetbae.co", 5));
	char *status = stack_trigger(&s);
	ASSERT_EQ_STR(status, "processing_started");
	free(status);
	stack_wait_sql(&s, 20000, "2",
	               "SELECT count(*) FROM viral_ideas_queue WHERE status = 'completed'");
	free(stack_submit(&s, "second-1", "maya.lifts", "strongwithsam", 5));
	free(stack_submit(&s, "second-2", "frugal.finn", "invest.with.ines", 5));
	/* Nothing may claim them without a trigger: watch for a second (an
	 * absence has no event to wait for; the poll interval is 1 s). */
	double t0 = test_now_ms();
	while (test_now_ms() - t0 < 1500) {
		ASSERT_EQ_INT(sql_int(&s,
		                      "SELECT count(*) FROM viral_ideas_queue"
		                      " WHERE session_id LIKE 'second-%' AND status <> 'pending'",
		                      NULL),
		              0);
		test_poll_pause();
	}
	status = stack_trigger(&s);
	ASSERT_EQ_STR(status, "processing_started");
	free(status);
	stack_wait_sql(&s, 20000, "4",
	               "SELECT count(*) FROM viral_ideas_queue WHERE status = 'completed'");
	ASSERT_EQ_INT(sql_int(&s, "SELECT count(*) FROM batches", NULL), 2);
	stack_stop(&s);
}
