/*
 * A whole viralsup stack for end-to-end tests. See stack.h.
 */
#include "tests/stack.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness.h"

#define MAX_PARAMS 16
#define MAX_BODY   (8 << 20)

/* The repository root: where tests/fake_provider and examples/ are. The
 * suite runs from it; VIRALSUP_BIN (…/build/bin) says so otherwise. */
static const char *repo_root(void)
{
	static char root[PATH_MAX];
	if (!root[0]) {
		if (access("tests/fake_provider/fake_provider.py", R_OK) == 0)
			snprintf(root, sizeof root, ".");
		else
			snprintf(root, sizeof root, "%s/../..", suptest_bin());
	}
	return root;
}

static char *xfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xfmt(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

void stack_env(struct stack *s, const char *kv)
{
	if (s->nenv >= (int)(sizeof s->env / sizeof s->env[0]) - 1)
		FAIL("stack_env: too many entries");
	s->env[s->nenv++] = strdup(kv);
	s->env[s->nenv] = NULL;
}

void stack_init(struct stack *s)
{
	char *db = test_db_create();
	const char *argv[] = {"viralsup-migrate", db, NULL};
	char prog[PATH_MAX];
	snprintf(prog, sizeof prog, "%s/viralsup-migrate", suptest_bin());
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		FAIL("viralsup-migrate failed (status %d)", st);
	stack_init_on(s, db);
	free(db);
}

void stack_init_on(struct stack *s, const char *db)
{
	memset(s, 0, sizeof *s);
	s->db = strdup(db);
	s->pg = PQconnectdb(s->db);
	if (PQstatus(s->pg) != CONNECTION_OK)
		FAIL("connect %s: %s", s->db, PQerrorMessage(s->pg));
	char *v = xfmt("DATABASE_URL=%s", s->db);
	stack_env(s, v);
	free(v);
	/* Fast and deterministic by default; tests add or override entries
	 * (putenv in order: a later entry wins). */
	stack_env(s, "VIRALSUP_HTTP_ADDR=127.0.0.1:0");
	stack_env(s, "ADMIN_API_TOKEN=" STACK_ADMIN_TOKEN);
	stack_env(s, "VIRALSUP_ADMIN_RATE_PER_MIN=100000");
	stack_env(s, "VIRALSUP_PROVIDER_RATE=100000");
	stack_env(s, "VIRALSUP_LOG_LEVEL=info");
	v = xfmt("VIRALSUP_FIXTURES_DIR=%s/examples/instagram", repo_root());
	stack_env(s, v);
	free(v);
}

void stack_fake_start(struct stack *s, const char *const *fake_env)
{
	int p[2];
	char script[PATH_MAX], line[64] = "";
	if (pipe(p) < 0)
		FAIL("pipe: %s", strerror(errno));
	snprintf(script, sizeof script, "%s/tests/fake_provider/fake_provider.py", repo_root());
	s->fake = fork();
	if (s->fake < 0)
		FAIL("fork: %s", strerror(errno));
	if (s->fake == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		setenv("FAKE_KEY", STACK_RAPIDAPI_KEY, 1);
		for (int i = 0; fake_env && fake_env[i]; i++)
			putenv((char *)fake_env[i]);
		execlp("python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* The fake prints its port once it listens. */
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	size_t n = 0;
	double t0 = test_now_ms();
	while (!strchr(line, '\n')) {
		if (test_now_ms() - t0 > 10000)
			FAIL("the fake provider did not start within 10 s");
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t r = read(p[0], line + n, sizeof line - 1 - n);
		if (r <= 0)
			FAIL("the fake provider exited before listening");
		n += (size_t)r;
		line[n] = '\0';
	}
	close(p[0]);
	s->fake_port = atoi(line);
	if (s->fake_port <= 0)
		FAIL("fake provider said \"%s\"", line);
	char *v;
	stack_env(s, "VIRALSUP_PROVIDER=rapidapi");
	stack_env(s, "RAPIDAPI_KEY=" STACK_RAPIDAPI_KEY);
	v = xfmt("VIRALSUP_SCRAPER_URL=http://127.0.0.1:%d", s->fake_port);
	stack_env(s, v);
	free(v);
	v = xfmt("VIRALSUP_TRANSCRIPT_URL=http://127.0.0.1:%d", s->fake_port);
	stack_env(s, v);
	free(v);
}

void stack_start(struct stack *s)
{
	stack_start_conf(s, "");
}

/* What the end-of-test checks need, kept on the heap: the test's struct
 * stack is gone by the time they run. */
struct stack_watch {
	struct suprun sup; /* a copy: its strings are never freed */
	bool restarts_expected;
	bool started; /* stack_start made it (else: stack_expect_restarts, before) */
	bool checked;
};

/* The checks stack_stop makes, for a stack the test left running. */
static void stack_check_at_end(void *arg)
{
	struct stack_watch *w = arg;
	if (w->checked)
		return;
	w->checked = true;
	/* A supervisor the test ended itself has no counters left to read. */
	if (!w->restarts_expected && waitpid(w->sup.pid, NULL, WNOHANG) == 0)
		suprun_check_children(&w->sup, false, "at the end of the test");
	suprun_check_log(&w->sup, "at the end of the test");
}

void stack_expect_restarts(struct stack *s)
{
	if (!s->watch)
		s->watch = calloc(1, sizeof *s->watch);
	s->watch->restarts_expected = true;
}

/* Every analyzer and fetcher child the supervisor runs is a live worker
 * in the scheduler's table (viralctl scheduler). */
static bool scheduler_knows_every_worker(struct stack *s)
{
	json_t *sched = suptest_json(&s->sup, "scheduler");
	json_t *status = suptest_status(&s->sup);
	int want = 0, have = 0;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(status, "children"), i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		want += name && (!strcmp(name, "analyzer") || !strncmp(name, "fetcher[", 8));
	}
	json_array_foreach(json_object_get(sched, "workers"), i, e)
	{
		const char *role = json_string_value(json_object_get(e, "role"));
		have += role && !json_is_true(json_object_get(e, "dead")) &&
		        (!strcmp(role, "analyzer") || !strcmp(role, "fetcher"));
	}
	bool known = sched && want > 0 && have >= want;
	json_decref(sched);
	json_decref(status);
	return known;
}

void stack_start_conf(struct stack *s, const char *conf_text)
{
	suprun_spawn(&s->sup, conf_text, (const char *const *)s->env);
	/* A new record per start: a restarted stack is checked again, and a
	 * stack_expect_restarts() made before this start carries over. */
	bool expected = s->watch && !s->watch->started && s->watch->restarts_expected;
	s->watch = calloc(1, sizeof *s->watch);
	s->watch->sup = s->sup;
	s->watch->started = true;
	s->watch->restarts_expected = expected;
	test_at_pass(stack_check_at_end, s->watch);
	char *path = xfmt("%s/gateway.http", s->sup.run_dir);
	double t0 = test_now_ms();
	for (;;) {
		char *addr = suptest_read(path);
		size_t len = strcspn(addr, "\r\n");
		addr[len] = '\0';
		if (len > 0 && addr[len - 1] != ':' && strchr(addr, ':')) {
			const char *a = strncmp(addr, "http://", 7) ? addr : addr + 7;
			snprintf(s->url, sizeof s->url, "http://%s", a);
			free(addr);
			break;
		}
		free(addr);
		int st;
		if (waitpid(s->sup.pid, &st, WNOHANG) == s->sup.pid)
			FAIL("viralsup exited early (status %d):\n%s", st, stack_log_tail(s, 30));
		if (test_now_ms() - t0 > 15000)
			FAIL("the gateway did not come up within 15 s:\n%s", stack_log_tail(s, 30));
		test_poll_pause();
	}
	free(path);
	/* Every actor ready (the scheduler registered, fetchers gave credit). */
	const char *names[] = {"writer", "scheduler", "analyzer", "fetcher[0]", "gateway"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		stack_pid(s, names[i], 0);
	/* And the gateway's link to the scheduler is up (admin actions work). */
	t0 = test_now_ms();
	while (stack_http(s, NULL, "GET", "/readyz", NULL, false, NULL) != 200) {
		if (test_now_ms() - t0 > 10000)
			FAIL("/readyz not 200 within 10 s:\n%s", stack_log_tail(s, 30));
		test_poll_pause();
	}
	/* And the scheduler knows its workers: it claims nothing without an
	 * analyzer and a fetcher, so a test that freezes one before it said
	 * hello to the scheduler would wait for claims that never come. */
	t0 = test_now_ms();
	while (!scheduler_knows_every_worker(s)) {
		if (test_now_ms() - t0 > 10000)
			FAIL("the scheduler did not register every worker within 10 s:\n%s",
			     stack_log_tail(s, 30));
		test_poll_pause();
	}
}

void stack_stop(struct stack *s)
{
	struct stack_watch *w = s->watch;
	bool check = s->sup.pid > 0 && w && !w->checked;
	/* Counters first: shutting down is not a restart, but read them while
	 * the supervisor still answers. */
	if (check && !w->restarts_expected && waitpid(s->sup.pid, NULL, WNOHANG) == 0)
		suprun_check_children(&s->sup, false, "at stack_stop");
	if (s->sup.pid > 0) {
		kill(s->sup.pid, SIGTERM);
		if (suprun_wait(&s->sup, 5000) < 0) {
			kill(s->sup.pid, SIGKILL);
			waitpid(s->sup.pid, NULL, 0);
		}
		s->sup.pid = 0;
	}
	if (w)
		w->checked = true;
	/* After the exit: a leak report or a fault during shutdown is in too. */
	if (check)
		suprun_check_log(&s->sup, "at stack_stop");
	if (s->fake > 0) {
		kill(s->fake, SIGTERM);
		waitpid(s->fake, NULL, 0);
		s->fake = 0;
	}
	if (s->pg)
		PQfinish(s->pg);
	s->pg = NULL;
}

pid_t stack_pid(struct stack *s, const char *name, pid_t not_pid)
{
	double t0 = test_now_ms();
	for (;;) {
		json_t *st = suptest_status(&s->sup);
		json_t *c = st ? suptest_child(st, name) : NULL;
		pid_t pid = c ? (pid_t)json_integer_value(json_object_get(c, "pid")) : 0;
		const char *state = c ? json_string_value(json_object_get(c, "state")) : NULL;
		bool ready = state && !strcmp(state, "ready");
		json_decref(st);
		if (ready && pid > 0 && pid != not_pid)
			return pid;
		if (test_now_ms() - t0 > 5000)
			FAIL("no ready %s (other than pid %d) within 5 s:\n%s", name, (int)not_pid,
			     stack_log_tail(s, 30));
		test_poll_pause();
	}
}

pid_t stack_actor_pid(struct stack *s, const char *name)
{
	json_t *st = suptest_status(&s->sup);
	json_t *c = st ? suptest_child(st, name) : NULL;
	pid_t pid = c ? (pid_t)json_integer_value(json_object_get(c, "pid")) : 0;
	json_decref(st);
	return pid;
}

long long stack_restarts(struct stack *s, const char *name)
{
	json_t *st = suptest_status(&s->sup);
	json_t *c = st ? suptest_child(st, name) : NULL;
	long long n = c ? json_integer_value(json_object_get(c, "restarts_total")) : -1;
	json_decref(st);
	return n;
}

/* --- SQL ----------------------------------------------------------------- */

static PGresult *sql_run(struct stack *s, const char *sql, va_list ap)
{
	const char *params[MAX_PARAMS];
	int n = 0;
	const char *p;
	while ((p = va_arg(ap, const char *)) != NULL) {
		if (n == MAX_PARAMS)
			FAIL("too many SQL parameters");
		params[n++] = p;
	}
	PGresult *res = PQexecParams(s->pg, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		FAIL("SQL failed: %s\n  %s", PQerrorMessage(s->pg), sql);
	return res;
}

char *sql_str(struct stack *s, const char *sql, ...)
{
	va_list ap;
	va_start(ap, sql);
	PGresult *res = sql_run(s, sql, ap);
	va_end(ap);
	char *v = NULL;
	if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
		v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

long long sql_int(struct stack *s, const char *sql, ...)
{
	va_list ap;
	va_start(ap, sql);
	PGresult *res = sql_run(s, sql, ap);
	va_end(ap);
	long long v = -1;
	if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

void sql_exec(struct stack *s, const char *sql, ...)
{
	va_list ap;
	va_start(ap, sql);
	PQclear(sql_run(s, sql, ap));
	va_end(ap);
}

void stack_wait_sql(struct stack *s, int ms, const char *expected, const char *sql)
{
	double t0 = test_now_ms();
	char *seen = NULL;
	for (;;) {
		free(seen);
		seen = sql_str(s, sql, NULL);
		if (seen && !strcmp(seen, expected))
			break;
		if (test_now_ms() - t0 > ms)
			FAIL("timed out after %d ms waiting for \"%s\" from\n  %s\n  last seen: "
			     "\"%s\"\nlog tail:\n%s",
			     ms, expected, sql, seen ? seen : "(null)", stack_log_tail(s, 40));
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	free(seen);
}

/* --- HTTP ------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	FILE *m = arg;
	return fwrite(data, size, nmemb, m);
}

long stack_http(struct stack *s, const char *base, const char *method, const char *path,
                const char *body, bool admin, char **resp)
{
	char *buf = NULL, *url = xfmt("%s%s", base ? base : s->url, path);
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	struct curl_slist *h = NULL;
	long status = 0;
	CURL *c = curl_easy_init();
	if (!c || !m)
		FAIL("curl_easy_init / open_memstream");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE, (long)MAX_BODY);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, m);
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	if (admin)
		h = curl_slist_append(h, "Authorization: Bearer " STACK_ADMIN_TOKEN);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	CURLcode rc = curl_easy_perform(c);
	fclose(m);
	if (rc != CURLE_OK)
		FAIL("%s %s: %s", method, url, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(url);
	if (resp)
		*resp = buf;
	else
		free(buf);
	return status;
}

char *stack_submit(struct stack *s, const char *session, const char *primary,
                   const char *competitors, int priority)
{
	json_t *req = json_object(), *comp = json_array();
	char *list = strdup(competitors), *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(comp, json_string(t));
	free(list);
	json_object_set_new(req, "session_id", json_string(session));
	json_object_set_new(req, "primary_username", json_string(primary));
	json_object_set_new(req, "selected_competitors", comp);
	json_object_set_new(req, "content_strategy",
	                    json_pack("{s:s, s:s, s:s}", "contentType", "Short tutorials",
	                              "targetAudience", "Beginners", "goals", "Grow followers"));
	json_object_set_new(req, "priority", json_integer(priority));
	char *body = json_dumps(req, JSON_COMPACT), *resp = NULL;
	json_decref(req);
	long st = stack_http(s, NULL, "POST", "/api/viral-ideas/queue", body, false, &resp);
	free(body);
	if (st != 200)
		FAIL("submitting %s: HTTP %ld %s", session, st, resp);
	json_t *r = json_loads(resp, 0, NULL);
	const char *id = json_string_value(json_object_get(json_object_get(r, "data"), "id"));
	if (!id)
		FAIL("submitting %s: no data.id in %s", session, resp);
	char *out = strdup(id);
	json_decref(r);
	free(resp);
	return out;
}

char *stack_trigger(struct stack *s)
{
	char *resp = NULL;
	long st =
	    stack_http(s, NULL, "POST", "/api/viral-ideas/process-pending", NULL, true, &resp);
	if (st != 200)
		FAIL("process-pending: HTTP %ld %s", st, resp);
	json_t *r = json_loads(resp, 0, NULL);
	const char *status =
	    json_string_value(json_object_get(json_object_get(r, "data"), "status"));
	char *out = strdup(status ? status : "");
	json_decref(r);
	free(resp);
	return out;
}

void stack_fake_control(struct stack *s, const char *json)
{
	char base[64];
	snprintf(base, sizeof base, "http://127.0.0.1:%d", s->fake_port);
	long st = stack_http(s, base, "POST", "/_control", json, false, NULL);
	if (st != 200)
		FAIL("fake /_control %s: HTTP %ld", json, st);
}

long long stack_fake_count(struct stack *s, const char *path, const char *user)
{
	char base[64], *resp = NULL;
	snprintf(base, sizeof base, "http://127.0.0.1:%d", s->fake_port);
	long st = stack_http(s, base, "GET", "/_stats", NULL, false, &resp);
	if (st != 200)
		FAIL("fake /_stats: HTTP %ld", st);
	json_t *r = json_loads(resp, 0, NULL);
	json_t *v = path ? json_object_get(json_object_get(r, "by_path"), path)
	                 : json_object_get(json_object_get(r, "by_user"), user);
	long long n = v ? json_integer_value(v) : 0;
	json_decref(r);
	free(resp);
	return n;
}

char *stack_log_tail(struct stack *s, int lines)
{
	char *log = suptest_read(s->sup.log ? s->sup.log : "/nonexistent");
	size_t len = strlen(log);
	int n = 0;
	while (len > 0) {
		if (log[len - 1] == '\n' && ++n > lines)
			break;
		len--;
	}
	char *tail = strdup(log + len);
	free(log);
	return tail;
}
