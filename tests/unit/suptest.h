/*
 * Helpers for the supervisor and viralctl tests: start the real viralsup
 * binary on a config in a fresh directory, run viralctl, read its JSON.
 */
#ifndef VIRALSUP_TESTS_SUPTEST_H
#define VIRALSUP_TESTS_SUPTEST_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct suprun {
	char *dir;     /* the test's temporary directory */
	char *run_dir; /* dir/run */
	char *conf;    /* dir/viralsup.conf */
	char *log;     /* dir/sup.log: the supervisor's stderr */
	char *sock;    /* run_dir/control.sock */
	pid_t pid;
};

/* Where viralsup, viralctl and viralsup-test-actor are ($VIRALSUP_BIN or ../bin). */
const char *suptest_bin(void);

/* Writes conf_text (an INI file) and starts viralsup on it; waits until
 * the control socket answers (fails the test after 5 s). */
void suprun_start(struct suprun *r, const char *conf_text);
/* Same, without waiting; extra_env "K=V" entries (NULL-terminated) may be NULL. */
void suprun_spawn(struct suprun *r, const char *conf_text, const char *const *extra_env);
/* Waits up to ms for the supervisor to exit; returns its wait status or -1. */
int suprun_wait(struct suprun *r, int ms);

/* Runs viralctl --socket <r's socket> args...; captures stdout/stderr
 * (malloc'd into *out / *err when not NULL). Returns the exit code. */
int suptest_ctl(struct suprun *r, char **out, char **err, const char *const *args);
/* viralctl with an explicit argv (no --socket added). */
int suptest_run(const char *const *argv, char **out, char **err);

/* What viralctl --json command answers (e.g. "scheduler"), parsed, or NULL
 * when it fails. Caller decrefs. */
json_t *suptest_json(struct suprun *r, const char *command);
/* The status data object (viralctl --json status), or NULL. Caller decrefs. */
json_t *suptest_status(struct suprun *r);
/* Child name's pid in a fresh status (0 when none), its state ("" when unknown). */
pid_t suptest_pid(struct suprun *r, const char *name);
bool suptest_state_is(struct suprun *r, const char *name, const char *state);
/* A child entry of a status object (borrowed), or NULL. */
json_t *suptest_child(json_t *status, const char *name);

/*
 * The end-of-test checks for a whole stack: fails the test when any child
 * restarted, failed or is not running (unless restarts_expected: the test
 * killed actors on purpose), or when the log holds a sanitizer report or a
 * UBSan "runtime error" line (always). when: "at stop", for the message.
 * The status part needs the supervisor running; the log part reads r->log.
 */
void suprun_check_children(struct suprun *r, bool restarts_expected, const char *when);
void suprun_check_log(struct suprun *r, const char *when);

/* Alive and not a zombie. */
bool suptest_alive(pid_t pid);
/* The whole file, malloc'd ("" when missing). */
char *suptest_read(const char *path);

#endif
