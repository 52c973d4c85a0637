/*
 * A whole viralsup stack for end-to-end tests: a fresh database, the real
 * viralsup supervisor (and through it every actor) started as a child, the
 * gateway's HTTP address, and optionally the fake RapidAPI provider
 * (tests/fake_provider/fake_provider.py) as another child. Assertions go
 * through libpq on the same database; waits poll it with a deadline.
 *
 * Every function fails the calling test (FAIL) on an unexpected error, so a
 * test reads as a list of steps. Everything is killed when the test process
 * ends (the harness kills its process group); stack_stop() is the polite way.
 */
#ifndef VIRALSUP_TESTS_STACK_H
#define VIRALSUP_TESTS_STACK_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <sys/types.h>

#include "tests/unit/suptest.h"

struct stack {
	struct suprun sup;
	char *db;     /* conninfo of the test's own database */
	PGconn *pg;   /* the test's connection for assertions */
	char url[64]; /* "http://127.0.0.1:PORT" of the gateway */
	pid_t fake;   /* the fake provider's pid, 0 when none */
	int fake_port;
	char *env[32]; /* "K=V" entries given to viralsup (owned) */
	int nenv;
	/* The end-of-test checks' record (heap: it outlives the test's frame). */
	struct stack_watch *watch;
};

/* The token the fake provider demands and the admin token of the gateway. */
#define STACK_RAPIDAPI_KEY "test-rapidapi-key"
#define STACK_ADMIN_TOKEN  "test-admin-token"

/* Creates the database and applies the migrations (viralsup-migrate), so
 * jobs can be inserted before the stack runs. */
void stack_init(struct stack *s);
/* The same on an existing, migrated database (another stack's s->db): a
 * second node on one database. */
void stack_init_on(struct stack *s, const char *db);
/* Adds a "K=V" environment entry for viralsup (before stack_start). */
void stack_env(struct stack *s, const char *kv);
/* Starts the fake provider (fake_env: "K=V" entries, NULL-terminated, may be
 * NULL) and points viralsup's rapidapi provider at it. Before stack_start. */
void stack_fake_start(struct stack *s, const char *const *fake_env);
/* Starts viralsup; returns when the gateway has written its address. */
void stack_start(struct stack *s);
/* The same with conf_text as viralsup's configuration file (for settings
 * that have no environment variable). */
void stack_start_conf(struct stack *s, const char *conf_text);
/* SIGTERM to viralsup (SIGKILL after 5 s) and to the fake provider. Before
 * that it fails the test when an actor restarted (supervisor counters) and,
 * once viralsup has exited, when its log (every actor's stderr) holds a
 * sanitizer report or a "runtime error" line. A stack the test leaves
 * running gets the same checks when the test's body returns. */
void stack_stop(struct stack *s);
/* The test kills actors on purpose: restarts are not a failure for this
 * stack (until its next stack_start; call it after, or just before, the
 * start). Sanitizer reports still are. A supervisor the test killed or
 * stopped itself needs no call: only its log is checked. */
void stack_expect_restarts(struct stack *s);
/* Child NAME's current pid from viralctl status, 0 when it has none; no
 * wait. A crash that the supervisor repaired shows as a new pid:
 *   pid_t gw = stack_actor_pid(&s, "gateway"); ...;
 *   ASSERT_EQ_INT(stack_actor_pid(&s, "gateway"), gw); */
pid_t stack_actor_pid(struct stack *s, const char *name);
/* restarts_total of child NAME (-1 when unknown). */
long long stack_restarts(struct stack *s, const char *name);

/* Pid of child NAME ("analyzer", "writer", "fetcher[0]") from viralctl
 * status; waits up to 5 s for a ready child with a pid other than not_pid. */
pid_t stack_pid(struct stack *s, const char *name, pid_t not_pid);

/* --- SQL (params: NULL-terminated list of text parameters) --------------- */

/* First column of the first row (malloc'd), or NULL for no row / SQL NULL. */
char *sql_str(struct stack *s, const char *sql, ...) __attribute__((sentinel));
/* The same as a number (-1 for no row or NULL). */
long long sql_int(struct stack *s, const char *sql, ...) __attribute__((sentinel));
/* Runs a statement, fails the test on error. */
void sql_exec(struct stack *s, const char *sql, ...) __attribute__((sentinel));
/* Polls sql (no parameters) every 20 ms until its value is expected (as
 * text); fails after ms with the last value seen and the log's tail. */
void stack_wait_sql(struct stack *s, int ms, const char *expected, const char *sql);

/* --- HTTP ------------------------------------------------------------------- */

/* A request to base+path (base: the gateway when NULL); admin adds the
 * bearer token. Returns the status; *resp gets the body (malloc'd) when
 * not NULL. */
long stack_http(struct stack *s, const char *base, const char *method, const char *path,
                const char *body, bool admin, char **resp);
/* POST /api/viral-ideas/queue; competitors: comma-separated, may be "".
 * Returns the job id (malloc'd). Fails unless the answer is 200. */
char *stack_submit(struct stack *s, const char *session, const char *primary,
                   const char *competitors, int priority);
/* POST /api/viral-ideas/process-pending (admin); returns the batch status. */
char *stack_trigger(struct stack *s);
/* The fake provider: POST /_control with a JSON body; GET /_stats counter
 * by_path[path] or by_user[user] (one of them NULL). */
void stack_fake_control(struct stack *s, const char *json);
long long stack_fake_count(struct stack *s, const char *path, const char *user);

/* The last lines of viralsup's log (malloc'd), for failure messages. */
char *stack_log_tail(struct stack *s, int lines);

#endif
