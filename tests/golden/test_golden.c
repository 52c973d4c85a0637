/*
 * Golden outputs: the analysis engine's document for every example job
 * (examples/jobs.json on the fixture accounts in examples/instagram) is
 * compared byte for byte with the file committed under tests/golden/, so a
 * change in what users get shows up as a failing test and then as a diff to
 * review. `make golden` rewrites the files on purpose (GOLDEN_UPDATE=1).
 *
 * The engine input is tests/fixtures.h's: built the way the pipeline stores
 * a job's data, with a fixed "now" so the files do not drift.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/engine.h"
#include "tests/fixtures.h"
#include "tests/harness.h"

#define GOLDEN_DIR "tests/golden"

/* The first line where two texts differ, for the failure message. */
static void first_difference(const char *a, const char *b, int *line, char *ea, char *eb, size_t n)
{
	*line = 1;
	const char *la = a, *lb = b;
	while (*a && *a == *b) {
		if (*a == '\n') {
			(*line)++;
			la = a + 1, lb = b + 1;
		}
		a++, b++;
	}
	snprintf(ea, n, "%.*s", (int)strcspn(la, "\n"), la);
	snprintf(eb, n, "%.*s", (int)strcspn(lb, "\n"), lb);
}

TEST(example_jobs_match_the_committed_golden_outputs)
{
	bool update = getenv("GOLDEN_UPDATE") && !strcmp(getenv("GOLDEN_UPDATE"), "1");
	json_t *jobs = json_load_file("examples/jobs.json", 0, NULL), *job;
	if (!jobs)
		FAIL("examples/jobs.json: cannot load (run from the repository root)");
	size_t i, njobs = json_array_size(jobs);
	ASSERT_CMP_INT(njobs, >, 0);
	json_array_foreach(jobs, i, job)
	{
		const char *session = json_string_value(json_object_get(job, "session_id"));
		json_t *in = fixture_job_input(job), *out = NULL;
		char err[256] = "", path[512];
		if (analysis_run(in, &out, err, sizeof err) != 0)
			FAIL("%s: the engine refused the example job: %s", session, err);
		char *seen = json_dumps(out, JSON_SORT_KEYS | JSON_INDENT(1) | JSON_ENSURE_ASCII);
		snprintf(path, sizeof path, GOLDEN_DIR "/%s.json", session);
		if (update) {
			FILE *f = fopen(path, "w");
			if (!f || fputs(seen, f) < 0 || fputc('\n', f) < 0 || fclose(f) != 0)
				FAIL("%s: cannot write: %s", path, strerror(errno));
			printf("  wrote %s\n", path);
		} else {
			char *want = test_read_file(path);
			if (!want)
				FAIL("%s missing: run `make golden` and commit it", path);
			size_t wl = strlen(want);
			if (wl > 0 && want[wl - 1] == '\n')
				want[wl - 1] = '\0';
			if (strcmp(seen, want) != 0) {
				int line;
				char ea[200], eb[200];
				first_difference(want, seen, &line, ea, eb, sizeof ea);
				FAIL("%s differs from the engine's output at line %d:\n    golden: "
				     "%s\n"
				     "    now:    %s\n  if the change is intended: make golden, "
				     "review "
				     "`git diff tests/golden`, commit",
				     path, line, ea, eb);
			}
			free(want);
		}
		free(seen);
		json_decref(out);
		json_decref(in);
	}
	/* Every golden file belongs to a job: a renamed job leaves none behind. */
	DIR *d = opendir(GOLDEN_DIR);
	struct dirent *e;
	size_t files = 0;
	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 5 && !strcmp(e->d_name + len - 5, ".json"))
			files++;
	}
	if (d)
		closedir(d);
	if (!update)
		ASSERT_EQ_INT(files, njobs);
	json_decref(jobs);
}
