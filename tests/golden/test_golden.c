/*
 * Golden outputs: the analysis engine's document for every example job
 * (examples/jobs.json on the fixture accounts in examples/instagram) is
 * compared byte for byte with the file committed under tests/golden/, so a
 * change in what users get shows up as a failing test and then as a diff to
 * review. `make golden` rewrites the files on purpose (GOLDEN_UPDATE=1).
 *
 * The engine input is built the way the pipeline stores a job's data: at
 * most 30 reels per account (the fetcher's default), transcripts of the 5
 * most viewed, segments joined with one space (sql/store.c), and a fixed
 * "now" so the files do not drift with the calendar.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/engine.h"
#include "tests/harness.h"

#define GOLDEN_DIR "tests/golden"
/* 2026-11-28 00:00 UTC plus one day: after every fixture reel. */
#define GOLDEN_NOW  (1795824000LL + 86400LL)
#define MAX_REELS   30
#define TRANSCRIBED 5

static json_t *golden_reel(const char *user, json_t *media, json_t *transcript)
{
	json_t *cap = json_object_get(json_object_get(media, "caption"), "text");
	const char *code = json_string_value(json_object_get(media, "code"));
	json_t *r =
	    json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "content_id", code, "shortcode", code,
	              "username", user, "view_count",
	              json_integer_value(json_object_get(media, "play_count")), "like_count",
	              json_integer_value(json_object_get(media, "like_count")), "comment_count",
	              json_integer_value(json_object_get(media, "comment_count")), "date_posted",
	              json_integer_value(json_object_get(media, "taken_at")));
	json_object_set_new(r, "description", cap ? json_copy(cap) : json_null());
	json_object_set_new(r, "transcript_text", transcript ? transcript : json_null());
	return r;
}

static json_t *golden_transcript(const char *user, const char *code)
{
	char path[512];
	snprintf(path, sizeof path, "examples/instagram/%s/transcript_%s.json", user, code);
	json_t *t = json_load_file(path, 0, NULL);
	if (!t)
		return NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	json_t *seg;
	size_t i;
	bool first = true;
	json_array_foreach(json_object_get(t, "content"), i, seg)
	{
		const char *s = json_string_value(json_object_get(seg, "text"));
		if (!s)
			continue;
		fprintf(m, "%s%s", first ? "" : " ", s);
		first = false;
	}
	fclose(m);
	json_decref(t);
	json_t *out = json_string(text);
	free(text);
	return out;
}

static int by_views_desc(const void *x, const void *y)
{
	json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, "play_count"));
	json_int_t b = json_integer_value(json_object_get(*(json_t *const *)y, "play_count"));
	return a < b ? 1 : a > b ? -1 : 0;
}

static void golden_account(const char *user, bool primary, json_t *profiles, json_t *reels)
{
	char path[512];
	snprintf(path, sizeof path, "examples/instagram/%s/profile.json", user);
	json_t *p = json_load_file(path, 0, NULL);
	if (!p)
		FAIL("%s: cannot load (run from the repository root)", path);
	json_array_append_new(profiles,
	                      json_pack("{s:s, s:s, s:O, s:O, s:O, s:O}", "username", user, "role",
	                                primary ? "primary" : "competitor", "profile_name",
	                                json_object_get(p, "full_name"), "bio",
	                                json_object_get(p, "biography"), "followers",
	                                json_object_get(p, "follower_count"), "posts_count",
	                                json_object_get(p, "media_count")));
	json_decref(p);
	json_t *media[MAX_REELS], *pages[8];
	int n = 0, npages = 0;
	for (; npages < 8 && n < MAX_REELS; npages++) {
		snprintf(path, sizeof path, "examples/instagram/%s/reels_%d.json", user, npages);
		if (!(pages[npages] = json_load_file(path, 0, NULL)))
			break;
		json_t *it;
		size_t i;
		json_array_foreach(json_object_get(pages[npages], "reels"), i, it)
		{
			if (n < MAX_REELS)
				media[n++] = json_object_get(json_object_get(it, "node"), "media");
		}
	}
	json_t *order[MAX_REELS];
	memcpy(order, media, sizeof order[0] * (size_t)n);
	qsort(order, (size_t)n, sizeof order[0], by_views_desc);
	for (int i = 0; i < n; i++) {
		bool transcribed = false;
		for (int k = 0; k < TRANSCRIBED && k < n; k++)
			transcribed |= order[k] == media[i];
		const char *code = json_string_value(json_object_get(media[i], "code"));
		json_array_append_new(
		    reels, golden_reel(user, media[i],
		                       transcribed ? golden_transcript(user, code) : NULL));
	}
	for (int i = 0; i < npages; i++)
		json_decref(pages[i]);
}

static json_t *golden_input(json_t *job)
{
	json_t *profiles = json_array(), *reels = json_array(), *c;
	const char *primary = json_string_value(json_object_get(job, "primary_username"));
	size_t k;
	golden_account(primary, true, profiles, reels);
	json_array_foreach(json_object_get(job, "selected_competitors"), k, c)
	    golden_account(json_string_value(c), false, profiles, reels);
	return json_pack("{s:I, s:{s:O, s:s, s:i, s:s, s:O}, s:o, s:o, s:n}", "now",
	                 (json_int_t)GOLDEN_NOW, "job", "queue_id",
	                 json_object_get(job, "session_id"), "primary_username", primary,
	                 "analysis_run", 1, "analysis_type", "initial", "content_strategy",
	                 json_object_get(job, "content_strategy"), "profiles", profiles, "reels",
	                 reels, "since");
}

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

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[8192];
	size_t r;
	while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
		fwrite(chunk, 1, r, m);
	fclose(m);
	fclose(f);
	return buf;
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
		json_t *in = golden_input(job), *out = NULL;
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
			char *want = read_all(path);
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
