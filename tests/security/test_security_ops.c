/*
 * Secrets and the run directory: the admin token, the provider key and the
 * database password never show up in logs, `viralctl logs`, `viralsup
 * config`, /metrics, the database or a process's command line; an unusable
 * run directory (not a directory, someone else's, read-only, full) is one
 * clear startup error, never a crash loop.
 *
 * The control socket refusing other users is tested in
 * tests/unit/test_viralctl_jobs.c (another_uid_is_refused), the run
 * directory's 0700 mode in tests/unit/test_supervisor.c
 * (run_dir_is_created_private, run_dir_with_loose_permissions_is_refused).
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"
#include "tests/security/sectest.h"
#include "tests/stack.h"

#define DB_PASSWORD "Pw-7c1f-db-password-in-the-url"
#define WRONG_TOKEN "wrong-guess-8d2e-token"

static char *xcat(char *acc, const char *more)
{
	size_t a = acc ? strlen(acc) : 0, m = strlen(more);
	char *r = realloc(acc, a + m + 2);
	memcpy(r + a, more, m);
	r[a + m] = '\n';
	r[a + m + 1] = '\0';
	return r;
}

/* A request with an arbitrary Authorization value (NULL: none). */
static long http_auth(struct stack *s, const char *method, const char *path, const char *auth,
                      char **resp)
{
	char *buf = NULL, *url, *hdr = NULL;
	size_t len = 0;
	long status = 0;
	if (asprintf(&url, "%s%s", s->url, path) < 0)
		abort();
	FILE *m = open_memstream(&buf, &len);
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	if (auth) {
		if (asprintf(&hdr, "Authorization: %s", auth) < 0)
			abort();
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (curl_easy_perform(c) != CURLE_OK)
		FAIL("%s %s failed", method, url);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	fclose(m);
	free(url);
	free(hdr);
	if (resp)
		*resp = buf;
	else
		free(buf);
	return status;
}

/* Command lines of every process whose parent is pid (and of pid). */
static char *cmdlines(pid_t sup)
{
	char *acc = NULL;
	DIR *d = opendir("/proc");
	struct dirent *e;
	while ((e = readdir(d))) {
		int pid = atoi(e->d_name);
		if (pid <= 0)
			continue;
		char path[64], *stat, *cmd;
		snprintf(path, sizeof path, "/proc/%d/stat", pid);
		stat = suptest_read(path);
		const char *rp = strrchr(stat, ')');
		int ppid = rp ? atoi(rp + 4) : 0;
		free(stat);
		if (pid != sup && ppid != sup)
			continue;
		snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		char buf[4096];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		for (size_t i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[n] = '\0';
		if (asprintf(&cmd, "%d: %s", pid, buf) < 0)
			abort();
		acc = xcat(acc, cmd);
		free(cmd);
	}
	closedir(d);
	return acc ? acc : strdup("");
}

static void assert_no_secret(const char *where, const char *text)
{
	const char *secrets[] = {DB_PASSWORD, STACK_ADMIN_TOKEN, STACK_RAPIDAPI_KEY, WRONG_TOKEN};
	for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		const char *hit = strstr(text, secrets[i]);
		if (!hit) {
			continue;
		}
		const char *from = hit - text > 200 ? hit - 200 : text;
		FAIL("%s contains the secret \"%s\": ...%.400s", where, secrets[i], from);
	}
}

TEST(secrets_never_appear_in_logs_config_output_metrics_or_command_lines)
{
	struct stack s;
	stack_init(&s);
	/* A role with a password; DATABASE_URL in URL form carries it. The test
	 * cluster trusts local connections, so the password is accepted and
	 * ignored: what matters is where the string travels. */
	char role[64], sql[256];
	snprintf(role, sizeof role, "sec_role_%d", (int)getpid());
	snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'", role,
	         DB_PASSWORD);
	sql_exec(&s, sql, NULL);
	PQconninfoOption *opts = PQconninfoParse(s.db, NULL);
	const char *host = "", *port = "", *dbname = "";
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!o->val)
			continue;
		if (!strcmp(o->keyword, "host"))
			host = o->val;
		else if (!strcmp(o->keyword, "port"))
			port = o->val;
		else if (!strcmp(o->keyword, "dbname"))
			dbname = o->val;
	}
	char *url;
	ASSERT(asprintf(&url, "DATABASE_URL=postgresql://%s:%s@/%s?host=%s%s%s", role, DB_PASSWORD,
	                dbname, host, *port ? "&port=" : "", port) > 0);
	PQconninfoFree(opts);
	stack_env(&s, url);
	/* The most talkative level: a secret in a debug line is a leak too. */
	stack_env(&s, "VIRALSUP_LOG_LEVEL=debug");
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	stack_fake_start(&s, NULL);
	stack_start_conf(&s, "");
	/* The actors really connect as that role, with that URL. */
	char *q;
	ASSERT(asprintf(&q, "SELECT count(*) FROM pg_stat_activity WHERE usename = '%s'", role) >
	       0);
	WAIT_UNTIL(sql_int(&s, q, NULL) >= 2, 5000);
	free(q);

	/* Admin endpoints with the right token, wrong ones and none. */
	char *job = stack_submit(&s, "secret-job", "alice", "bob,e404__gone", 5);
	char path[128];
	snprintf(path, sizeof path, "/api/viral-ideas/queue/%s/cancel", job);
	ASSERT_EQ_INT(http_auth(&s, "POST", path, "Bearer " WRONG_TOKEN, NULL), 403);
	ASSERT_EQ_INT(http_auth(&s, "POST", path, "Basic " WRONG_TOKEN, NULL), 401);
	ASSERT_EQ_INT(
	    http_auth(&s, "POST", "/api/viral-ideas/process-pending", "Bearer " WRONG_TOKEN, NULL),
	    403);
	/* A provider fetch: the trigger starts the batch, the fake sees the key. */
	char *st = stack_trigger(&s);
	ASSERT_EQ_STR(st, "processing_started");
	free(st);
	stack_wait_sql(&s, 30000, "completed",
	               "SELECT status FROM viral_ideas_queue WHERE session_id = 'secret-job'");
	ASSERT_CMP_INT(stack_fake_count(&s, NULL, "alice"), >=, 1);
	char *resp = NULL;
	ASSERT_EQ_INT(http_auth(&s, "POST", path, "Bearer " STACK_ADMIN_TOKEN, &resp), 409);
	free(resp);

	/* Everything a person or a scraper can see. */
	char *metrics = NULL, *health = NULL, *ready = NULL;
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/metrics", NULL, false, &metrics), 200);
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/health", NULL, false, &health), 200);
	ASSERT_EQ_INT(stack_http(&s, NULL, "GET", "/readyz", NULL, false, &ready), 200);
	assert_no_secret("/metrics", metrics);
	assert_no_secret("/health", health);
	assert_no_secret("/readyz", ready);
	char *ctl_out = NULL, *ctl_err = NULL;
	const char *logs_args[] = {"logs", "-n", "100000", NULL};
	ASSERT_EQ_INT(suptest_ctl(&s.sup, &ctl_out, &ctl_err, logs_args), 0);
	assert_no_secret("viralctl logs", ctl_out);
	assert_no_secret("viralctl logs (stderr)", ctl_err);
	const char *status_args[] = {"--json", "status", NULL};
	char *status = NULL;
	ASSERT_EQ_INT(suptest_ctl(&s.sup, &status, NULL, status_args), 0);
	assert_no_secret("viralctl status", status);
	char *procs = cmdlines(s.sup.pid);
	ASSERT_CONTAINS(procs, "viralsup: gateway");
	assert_no_secret("a process command line (visible to every user)", procs);
	char prog[PATH_MAX], *cfg = NULL;
	snprintf(prog, sizeof prog, "%s/viralsup", suptest_bin());
	const char *cfg_argv[] = {prog, "--config", s.sup.conf, "config", NULL};
	int rc = sec_run(cfg_argv, (const char *const *)s.env, 10000, &cfg);
	ASSERT(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
	ASSERT_CONTAINS(cfg, "database.url");
	assert_no_secret("viralsup config", cfg);
	char *rows = sql_str(&s,
	                     "SELECT concat((SELECT string_agg(q::text, ' ') FROM "
	                     "viral_ideas_queue q), (SELECT string_agg(e::text, ' ') FROM "
	                     "job_events e))",
	                     NULL);
	assert_no_secret("the queue and job_events rows", rows ? rows : "");

	stack_stop(&s);
	char *log = suptest_read(s.sup.log);
	/* Not vacuous: the log saw the refused attempts and the fetches. */
	ASSERT_CONTAINS(log, "wrong token");
	ASSERT_CONTAINS(log, "alice");
	assert_no_secret("the supervisor's log", log);
	printf("  checked %zu bytes of log, %zu of viralctl logs, %zu of config, %zu of "
	       "metrics, %zu of command lines\n",
	       strlen(log), strlen(ctl_out), strlen(cfg), strlen(metrics), strlen(procs));
	free(log);
	free(rows);
	free(cfg);
	free(procs);
	free(status);
	free(ctl_out);
	free(ctl_err);
	free(metrics);
	free(health);
	free(ready);
	free(job);
	free(url);
}

TEST(a_malformed_database_url_is_reported_without_its_password)
{
	/* libpq echoes the whole URI in some parse errors. */
	const char *urls[] = {
	    "DATABASE_URL=postgresql://u:" DB_PASSWORD "@[::1/db",
	    "DATABASE_URL=postgresql://u:" DB_PASSWORD "@/db?host=/nonexistent&port=1",
	    "DATABASE_URL=postgresql://u:" DB_PASSWORD "@/db?bogus=1",
	    "DATABASE_URL=host=/nonexistent password=" DB_PASSWORD " port=abc",
	    "DATABASE_URL=host=/nonexistent password='" DB_PASSWORD,
	};
	char prog[PATH_MAX], mig[PATH_MAX];
	snprintf(prog, sizeof prog, "%s/viralsup", suptest_bin());
	snprintf(mig, sizeof mig, "%s/viralsup-migrate", suptest_bin());
	char *dir = test_tmpdir(), *run, *runenv;
	ASSERT(asprintf(&run, "%s/run", dir) > 0);
	ASSERT(asprintf(&runenv, "VIRALSUP_RUN_DIR=%s", run) > 0);
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		const char *env[] = {urls[i], runenv, NULL};
		const char *argv1[] = {prog, "migrate", NULL};
		const char *argv2[] = {prog, NULL};
		const char *argv3[] = {mig, NULL};
		const char *const *argvs[] = {argv1, argv2, argv3};
		for (int k = 0; k < 3; k++) {
			char *out = NULL;
			int rc = sec_run(argvs[k], env, 10000, &out);
			if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) == 0)
				FAIL("%s with %s: status %d, output %s", argvs[k][0], urls[i], rc,
				     out);
			assert_no_secret("the startup error", out);
			free(out);
		}
	}
	free(run);
	free(runenv);
	free(dir);
}

/* ---- the run directory ---------------------------------------------------------- */

/* Starts viralsup with run_dir; expects it to exit non-zero within 5 s
 * with msg in its log and without starting any child. */
static void expect_startup_error(const char *run_dir, const char *msg, int code)
{
	char prog[PATH_MAX], *env;
	snprintf(prog, sizeof prog, "%s/viralsup", suptest_bin());
	ASSERT(asprintf(&env, "VIRALSUP_RUN_DIR=%s", run_dir) > 0);
	const char *envs[] = {env, "DATABASE_URL=", NULL};
	const char *argv[] = {prog, NULL};
	char *out = NULL;
	double t0 = test_now_ms();
	int rc = sec_run(argv, envs, 5000, &out);
	if (rc == -1)
		FAIL("viralsup with run directory %s still running after 5 s:\n%s", run_dir, out);
	if (!WIFEXITED(rc) || WEXITSTATUS(rc) != code)
		FAIL("run directory %s: expected exit %d, status %d:\n%s", run_dir, code, rc, out);
	ASSERT_CONTAINS(out, msg);
	ASSERT_CONTAINS(out, "level=error");
	ASSERT(!strstr(out, "started: pid"));
	ASSERT(!strstr(out, "AddressSanitizer"));
	printf("  %-28s exit %d in %4.0f ms: %s", msg, code, test_now_ms() - t0,
	       strstr(out, "msg=") ? strstr(out, "msg=") : out);
	if (out[strlen(out) - 1] != '\n')
		putchar('\n');
	free(out);
	free(env);
}

TEST(unusable_run_directories_are_one_clear_startup_error)
{
	char *dir = test_tmpdir(), *p;
	/* A file where the directory should be. */
	ASSERT(asprintf(&p, "%s/file", dir) > 0);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	expect_startup_error(p, "is not a directory", 78);
	free(p);
	/* A file where a parent should be. */
	ASSERT(asprintf(&p, "%s/file/run", dir) > 0);
	expect_startup_error(p, "Not a directory", 78);
	free(p);
	/* A symlink to a private directory elsewhere is not followed blindly. */
	char *target;
	ASSERT(asprintf(&target, "%s/target", dir) > 0);
	ASSERT(asprintf(&p, "%s/link", dir) > 0);
	ASSERT_EQ_INT(mkdir(target, 0700), 0);
	ASSERT_EQ_INT(symlink(target, p), 0);
	expect_startup_error(p, "is not a directory", 78);
	free(p);
	free(target);
	/* Someone else's directory: making one needs root (CI runs as root;
	 * elsewhere this is a skip, which tests/run.sh counts as a failure). */
	if (geteuid() != 0)
		test_skip("needs root to give a directory to another uid (chown)");
	ASSERT(asprintf(&p, "%s/theirs", dir) > 0);
	ASSERT_EQ_INT(mkdir(p, 0700), 0);
	ASSERT_EQ_INT(chown(p, 65534, 65534), 0);
	expect_startup_error(p, "belongs to uid 65534", 78);
	free(p);
	free(dir);
}

/* Writes text to a /proc file; false on failure. */
static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * Enters a user and mount namespace of its own, mapping our uid to root
 * there, so mount(2) works without CAP_SYS_ADMIN in the initial namespace
 * (an unprivileged container). viralsup, started by the test, inherits it.
 */
static bool enter_user_namespace(void)
{
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		return false;
	snprintf(map, sizeof map, "0 %d 1\n", (int)uid);
	if (!write_file("/proc/self/uid_map", map) || !write_file("/proc/self/setgroups", "deny"))
		return false;
	snprintf(map, sizeof map, "0 %d 1\n", (int)gid);
	return write_file("/proc/self/gid_map", map);
}

/* A tmpfs of its own (size and inodes in opts): mounted directly when we
 * may, else inside a user namespace; a skip only when neither works. */
static char *tiny_tmpfs(const char *opts)
{
	char *dir = test_tmpdir();
	if (mount("tmpfs", dir, "tmpfs", 0, opts) == 0)
		return dir;
	int direct = errno;
	if (!enter_user_namespace())
		test_skip("cannot mount a tmpfs: no CAP_SYS_ADMIN and no user namespaces");
	if (mount("tmpfs", dir, "tmpfs", 0, opts) < 0) {
		char why[160];
		snprintf(why, sizeof why, "cannot mount a tmpfs (%s; in a user namespace: %s)",
		         strerror(direct), strerror(errno));
		test_skip(why);
	}
	return dir;
}

TEST(read_only_and_full_filesystems_are_one_clear_startup_error)
{
	/* An unwritable parent: permission bits do not stop root, a read-only
	 * mount stops everyone. */
	char *ro = tiny_tmpfs("size=64k,mode=0700");
	char *p;
	ASSERT_EQ_INT(mount("tmpfs", ro, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=64k,mode=0700"), 0);
	ASSERT(asprintf(&p, "%s/run", ro) > 0);
	expect_startup_error(p, "Read-only file system", 78);
	free(p);
	umount2(ro, MNT_DETACH);

	/* A full disk: no inode left for the run directory ... */
	char *full = tiny_tmpfs("size=64k,nr_inodes=8,mode=0700");
	int files = 0;
	for (;; files++) {
		char f[PATH_MAX];
		snprintf(f, sizeof f, "%s/fill%d", full, files);
		int fd = open(f, O_CREAT | O_WRONLY, 0600);
		if (fd < 0)
			break;
		close(fd);
	}
	ASSERT(asprintf(&p, "%s/run", full) > 0);
	expect_startup_error(p, "No space left on device", 78);
	free(p);
	umount2(full, MNT_DETACH);

	/* ... or a run directory that exists but has no room for the pidfile
	 * and the sockets. */
	full = tiny_tmpfs("size=64k,nr_inodes=8,mode=0700");
	ASSERT(asprintf(&p, "%s/run", full) > 0);
	ASSERT_EQ_INT(mkdir(p, 0700), 0);
	for (int i = 0;; i++) {
		char f[PATH_MAX];
		snprintf(f, sizeof f, "%s/fill%d", full, i);
		int fd = open(f, O_CREAT | O_WRONLY, 0600);
		if (fd < 0)
			break;
		/* Fill the blocks too. */
		char blk[4096] = {0};
		while (write(fd, blk, sizeof blk) > 0)
			;
		close(fd);
	}
	expect_startup_error(p, "No space left on device", 1);
	free(p);
	umount2(full, MNT_DETACH);
	free(full);
	free(ro);
}

/* ---- faults from the provider ------------------------------------------------- */

/* Peak resident memory of pid in KiB (VmHWM), or -1. */
static long peak_rss_kib(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	char *st = suptest_read(path), *p = strstr(st, "VmHWM:");
	long kib = p ? atol(p + 6) : -1;
	free(st);
	return kib;
}

static char *competitor_error(struct stack *s, const char *job, const char *user)
{
	char *e = sql_str(s,
	                  "SELECT processing_status || ': ' || COALESCE(error_message, '') FROM "
	                  "viral_ideas_competitors WHERE queue_id = $1::uuid AND "
	                  "competitor_username = $2",
	                  job, user, NULL);
	return e ? e : strdup("(no row)");
}

TEST(provider_faults_of_every_kind_cost_only_that_account_and_the_batch_completes)
{
	struct stack s;
	stack_init(&s);
	stack_env(&s, "VIRALSUP_PROCESSING=triggered");
	stack_env(&s, "VIRALSUP_MAX_ATTEMPTS=3");
	const char *fenv[] = {"FAKE_REELS=12", NULL};
	stack_fake_start(&s, fenv);
	/* A short total timeout so slow and dripping answers end quickly. */
	stack_start_conf(&s, "[fetcher]\ntimeout_ms = 1500\n");
	/* Run-time faults: the first request of c7 drips, of c8 is slow; every
	 * answer for c6 is a 50 MB body (max_body is 8 MiB). */
	stack_fake_control(&s, "{\"username\":\"c6\",\"mode\":\"huge\",\"arg\":52428800}");
	stack_fake_control(&s, "{\"username\":\"c7\",\"mode\":\"drip\",\"count\":1,\"arg\":300}");
	stack_fake_control(&s, "{\"username\":\"c8\",\"mode\":\"slow\",\"count\":1,\"arg\":4000}");
	pid_t f0 = stack_pid(&s, "fetcher[0]", 0), f1 = stack_pid(&s, "fetcher[1]", 0);
	long rss0 = peak_rss_kib(f0), rss1 = peak_rss_kib(f1);

	char *j1 = stack_submit(&s, "flaky", "p1", "e503x2__c1,e429x1__c2,resetx1__c3", 5);
	char *j2 = stack_submit(&s, "broken", "p2", "truncated__c4,malformed__c5,c6", 5);
	char *j3 = stack_submit(&s, "slow", "p3", "c7,c8", 5);
	char *j4 = stack_submit(&s, "broken-primary", "truncated__p4", "c9", 5);
	double t0 = test_now_ms();
	char *st = stack_trigger(&s);
	ASSERT_EQ_STR(st, "processing_started");
	free(st);
	stack_wait_sql(&s, 60000, "0",
	               "SELECT count(*) FROM viral_ideas_queue WHERE status IN "
	               "('pending', 'processing')");
	double took = test_now_ms() - t0;

	/* Transient faults were retried; the jobs completed with every account. */
	ASSERT_EQ_STR(sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1", j1, NULL),
	              "completed");
	ASSERT_EQ_STR(sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1", j3, NULL),
	              "completed");
	const char *ok_users[] = {"e503x2__c1", "e429x1__c2", "resetx1__c3"};
	for (int i = 0; i < 3; i++)
		ASSERT_EQ_STR(competitor_error(&s, j1, ok_users[i]), "completed: ");
	ASSERT_EQ_STR(competitor_error(&s, j3, "c7"), "completed: ");
	ASSERT_EQ_STR(competitor_error(&s, j3, "c8"), "completed: ");
	/* Broken answers fail that account with a clear reason; the job goes on. */
	ASSERT_EQ_STR(sql_str(&s, "SELECT status FROM viral_ideas_queue WHERE id = $1", j2, NULL),
	              "completed");
	const char *bad_users[] = {"truncated__c4", "malformed__c5", "c6"};
	for (int i = 0; i < 3; i++) {
		char *e = competitor_error(&s, j2, bad_users[i]);
		if (strncmp(e, "failed: ", 8) != 0 || strlen(e) < 16)
			FAIL("competitor %s: expected a failure with a reason, got \"%s\"",
			     bad_users[i], e);
		printf("  %-14s %s\n", bad_users[i], e);
		free(e);
	}
	/* A broken primary fails its job, with why. */
	char *e4 = sql_str(&s,
	                   "SELECT status || ': ' || COALESCE(error_message, '') FROM "
	                   "viral_ideas_queue WHERE id = $1",
	                   j4, NULL);
	ASSERT_CONTAINS(e4, "failed: ");
	ASSERT_CONTAINS(e4, "@truncated__p4");
	printf("  %-14s %s\n", "truncated__p4", e4);
	/* No fetcher died, and none held the 50 MB bodies. */
	ASSERT_EQ_INT(stack_pid(&s, "fetcher[0]", 0), f0);
	ASSERT_EQ_INT(stack_pid(&s, "fetcher[1]", 0), f1);
	long grow0 = peak_rss_kib(f0) - rss0, grow1 = peak_rss_kib(f1) - rss1;
	ASSERT_CMP_INT(stack_fake_count(&s, NULL, "c6"), >=, 1);
	ASSERT_CMP_INT(grow0, <, 40 * 1024);
	ASSERT_CMP_INT(grow1, <, 40 * 1024);
	printf("  4 jobs with 9 faulty accounts settled in %.1f s; fetcher peak RSS grew by "
	       "%ld and %ld KiB\n",
	       took / 1000, grow0, grow1);
	free(e4);
	free(j1);
	free(j2);
	free(j3);
	free(j4);
	stack_stop(&s);
}
