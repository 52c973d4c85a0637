/*
 * Helpers of the security tests (tests/security): the tests/stack.h stack
 * started with a config file of the test's choosing (limits that have no
 * environment override, such as http.header_timeout_ms), and a way to run
 * a program with extra environment and capture its output.
 */
#ifndef VIRALSUP_TESTS_SECTEST_H
#define VIRALSUP_TESTS_SECTEST_H

#include "tests/stack.h"

/* Runs argv[0] (a path) with env entries ("K=V", NULL-terminated, may be
 * NULL) added; stdout and stderr together into *out (malloc'd). Returns
 * the wait status, or -1 when it ran longer than ms (it is killed). */
int sec_run(const char *const *argv, const char *const *env, int ms, char **out);

#endif
