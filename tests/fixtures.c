/*
 * Example jobs as engine input. See fixtures.h.
 */
#include "tests/fixtures.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/harness.h"

#define MAX_REELS   30
#define TRANSCRIBED 5

static json_t *fixture_reel(const char *user, json_t *media, json_t *transcript)
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

/* The transcript's segments joined with one space, as sql/store.c stores it. */
static json_t *fixture_transcript(const char *user, const char *code)
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

static void fixture_account(const char *user, bool primary, json_t *profiles, json_t *reels)
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
		    reels, fixture_reel(user, media[i],
		                        transcribed ? fixture_transcript(user, code) : NULL));
	}
	for (int i = 0; i < npages; i++)
		json_decref(pages[i]);
}

json_t *fixture_job_input(json_t *job)
{
	json_t *profiles = json_array(), *reels = json_array(), *c;
	const char *primary = json_string_value(json_object_get(job, "primary_username"));
	size_t k;
	fixture_account(primary, true, profiles, reels);
	json_array_foreach(json_object_get(job, "selected_competitors"), k, c)
	    fixture_account(json_string_value(c), false, profiles, reels);
	return json_pack("{s:I, s:{s:O, s:s, s:i, s:s, s:O}, s:o, s:o, s:n}", "now",
	                 (json_int_t)FIXTURE_NOW, "job", "queue_id",
	                 json_object_get(job, "session_id"), "primary_username", primary,
	                 "analysis_run", 1, "analysis_type", "initial", "content_strategy",
	                 json_object_get(job, "content_strategy"), "profiles", profiles, "reels",
	                 reels, "since");
}
