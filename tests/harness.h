/*
 * The test harness: a registry of tests, each run in its own forked
 * process under a timeout (libuv style), with assertions that print both
 * the expected and the seen value.
 *
 *   TEST(frame_split_across_reads) { ASSERT_EQ_INT(frame_len, 5); }
 *
 * A test binary runs every registered test (or those whose name contains
 * argv[1]) and ends with "RESULT passed=N failed=N skipped=N", which
 * tests/run.sh sums up. Per-test timeout: TEST_TIMEOUT seconds (default 60).
 */
#ifndef VIRALSUP_TEST_HARNESS_H
#define VIRALSUP_TEST_HARNESS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, test_fn fn);
/* The same with its own limit, for a scenario whose duration is the point
 * (a 20 s chaos run): timeout_s, or TEST_TIMEOUT when that is longer. */
void test_register_timeout(const char *name, test_fn fn, int timeout_s);

/* Ends the current test as skipped (exit 77) with a reason. The runner
 * prints "skip NAME: why"; tests/run.sh fails the run for any skip not
 * listed in tests/skips.allow. */
_Noreturn void test_skip(const char *why);
/* Runs fn(arg) after the test's body returns (newest first), in the test's
 * process: a helper's end-of-test checks (tests/stack.c checks a stack the
 * test did not stop). A FAIL in fn fails the test. _cancel drops one. */
void test_at_pass(void (*fn)(void *), void *arg);
void test_at_pass_cancel(void (*fn)(void *), void *arg);
/* Ends the current test as failed after printing a message. */
_Noreturn void test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Milliseconds on the monotonic clock, for bounded waits. */
double test_now_ms(void);

/*
 * The PostgreSQL server tests/run.sh started for this run (a libpq
 * conninfo string), or NULL. test_db_create() makes a fresh database on it
 * for the calling test and returns its conninfo (caller frees); it skips
 * the test when no server is available.
 */
const char *test_pg_server(void);
char *test_db_create(void);

/*
 * Starts one of the local fake servers (a Python script that prints its port
 * on stdout once it listens), with env's "NAME=value" entries (NULL-
 * terminated, may be NULL) added; it dies with the test. Fails the test when
 * no port comes within 10 s. Returns the port; *pid gets its pid.
 */
int test_fake_server_start(const char *script, const char *const *env, pid_t *pid);

/* A fresh 0700 temporary directory for the calling test (caller frees). */
char *test_tmpdir(void);

/* The whole of a file, NUL-terminated (caller frees), or NULL if it cannot be opened. */
char *test_read_file(const char *path);

#define TEST(name)                                                     \
	static void test_##name(void);                                 \
	__attribute__((constructor)) static void test_reg_##name(void) \
	{                                                              \
		test_register(#name, test_##name);                     \
	}                                                              \
	static void test_##name(void)

/* A test that runs for a set duration by design gets a longer limit. */
#define TEST_LONG(name, timeout_s)                                     \
	static void test_##name(void);                                 \
	__attribute__((constructor)) static void test_reg_##name(void) \
	{                                                              \
		test_register_timeout(#name, test_##name, timeout_s);  \
	}                                                              \
	static void test_##name(void)

#define FAIL(...) test_fail(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT(cond)                                         \
	do {                                                 \
		if (!(cond))                                 \
			FAIL("assertion failed: %s", #cond); \
	} while (0)

#define ASSERT_EQ_INT(seen, expected)                                         \
	do {                                                                  \
		long long s_ = (long long)(seen), e_ = (long long)(expected); \
		if (s_ != e_)                                                 \
			FAIL("%s: expected %lld, seen %lld", #seen, e_, s_);  \
	} while (0)

#define ASSERT_CMP_INT(a, op, b)                                                                \
	do {                                                                                    \
		long long a_ = (long long)(a), b_ = (long long)(b);                             \
		if (!(a_ op b_))                                                                \
			FAIL("expected %s %s %s, seen %lld %s %lld", #a, #op, #b, a_, #op, b_); \
	} while (0)

#define ASSERT_EQ_STR(seen, expected)                                                       \
	do {                                                                                \
		const char *s_ = (seen), *e_ = (expected);                                  \
		if (!s_ || !e_ || strcmp(s_, e_) != 0)                                      \
			FAIL("%s: expected \"%s\", seen \"%s\"", #seen, e_ ? e_ : "(null)", \
			     s_ ? s_ : "(null)");                                           \
	} while (0)

#define ASSERT_CONTAINS(haystack, needle)                                                  \
	do {                                                                               \
		const char *h_ = (haystack), *n_ = (needle);                               \
		if (!h_ || !strstr(h_, n_))                                                \
			FAIL("%s: expected to contain \"%s\", seen \"%s\"", #haystack, n_, \
			     h_ ? h_ : "(null)");                                          \
	} while (0)

/*
 * Waits until cond holds, polling every 5 ms, for at most ms milliseconds;
 * fails the test with the condition's text on timeout. For conditions that
 * no event announces (another process's state); prefer awaiting events.
 */
#define WAIT_UNTIL(cond, ms)                                                                    \
	do {                                                                                    \
		double t0_ = test_now_ms();                                                     \
		while (!(cond)) {                                                               \
			if (test_now_ms() - t0_ > (ms))                                         \
				FAIL("timed out after %d ms waiting for %s", (int)(ms), #cond); \
			test_poll_pause();                                                      \
		}                                                                               \
	} while (0)
void test_poll_pause(void);

#endif
