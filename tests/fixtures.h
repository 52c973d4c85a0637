/*
 * The analysis engine's input for a bundled example job (an entry of
 * examples/jobs.json on the fixture accounts in examples/instagram), built
 * the way the pipeline stores a job's data: at most 30 reels per account
 * (the fetcher's default), transcripts of the 5 most viewed, segments joined
 * with one space (sql/store.c), and a fixed "now" (FIXTURE_NOW) so outputs do
 * not drift with the calendar. Used by test_analysis and test_golden.
 */
#ifndef VIRALSUP_TESTS_FIXTURES_H
#define VIRALSUP_TESTS_FIXTURES_H

#include <jansson.h>

/* 2026-11-28 00:00 UTC plus one day: after every fixture reel. */
#define FIXTURE_NOW (1795824000LL + 86400LL)

/* The engine input of job (borrowed); the caller owns the result. Fails the
 * test when an account's fixtures are missing (run from the repository root). */
json_t *fixture_job_input(json_t *job);

#endif
