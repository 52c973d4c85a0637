/*
 * The analysis engine (actors/analyzer/engine.h) as a specification:
 * determinism, outlier math, selection rules, hook classification, the
 * five generated hooks and their scripts, hostile and malformed input.
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <time.h>

#include "actors/analyzer/engine.h"
#include "actors/analyzer/text.h"
#include "tests/fixtures.h"
#include "tests/harness.h"

#define NOW 1764000000LL /* 2025-11-24 */
#define DAY 86400LL

/* ---- builders ---------------------------------------------------------- */

static json_t *reel(const char *id, const char *user, long long views, long long age_days,
                    const char *desc, const char *transcript)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "content_id", id, "shortcode",
	                      id, "username", user, "view_count", (json_int_t)views, "like_count",
	                      (json_int_t)(views / 20), "comment_count", (json_int_t)(views / 200),
	                      "date_posted", (json_int_t)(NOW - age_days * DAY));
	json_object_set_new(r, "description", desc ? json_string(desc) : json_null());
	json_object_set_new(r, "transcript_text",
	                    transcript ? json_string(transcript) : json_null());
	return r;
}

static json_t *profile(const char *user, const char *role)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i}", "username", user, "role", role,
	                 "profile_name", user, "bio", "Baking bread at home. Recipes every week.",
	                 "followers", 12000, "posts_count", 300);
}

static json_t *doc(json_t *profiles, json_t *reels)
{
	return json_pack("{s:I, s:{s:s, s:s, s:i, s:s, s:{s:s, s:s, s:s}}, s:o, s:o, s:n}", "now",
	                 (json_int_t)NOW, "job", "queue_id", "q-1", "primary_username", "creator",
	                 "analysis_run", 1, "analysis_type", "initial", "content_strategy",
	                 "contentType", "talking-head tutorial", "targetAudience", "busy parents",
	                 "goals", "sell my sourdough course", "profiles", profiles, "reels", reels,
	                 "since");
}

static const char *comp_hooks[] = {
    "5 sourdough mistakes that ruin your starter.", "Stop kneading your dough like this!",
    "Why does nobody talk about hydration?",        "How to get an open crumb every time.",
    "I tried baking with rye flour for 30 days.",   "The secret ingredient bakeries never mention.",
};

/* A creator with 12 reels and three competitors with 12 reels each, all recent. */
static json_t *standard_job(void)
{
	json_t *profiles = json_array(), *reels = json_array();
	json_array_append_new(profiles, profile("creator", "primary"));
	const char *comps[] = {"alpha", "beta", "gamma"};
	char id[64], desc[256], tr[512];
	for (int i = 0; i < 12; i++) {
		snprintf(id, sizeof(id), "c%02d", i);
		snprintf(desc, sizeof(desc), "My everyday bread loaf number %d #bread #homebaking",
		         i);
		snprintf(tr, sizeof(tr), "Today we bake a simple bread loaf. It takes %d minutes.",
		         30 + i);
		json_array_append_new(reels, reel(id, "creator", 1000 + 100 * i, i * 2, desc, tr));
	}
	for (int a = 0; a < 3; a++) {
		json_array_append_new(profiles, profile(comps[a], "competitor"));
		for (int i = 0; i < 12; i++) {
			snprintf(id, sizeof(id), "%s%02d", comps[a], i);
			/* "sourdough" and #levain only on the hits: they over-perform. */
			snprintf(desc, sizeof(desc), "%s %s #%s #%s", comp_hooks[(a + i) % 6],
			         i % 4 == 0 ? "Sourdough starter guide" : "Starter guide",
			         i % 4 == 0 ? "levain" : "baking", comps[a]);
			snprintf(tr, sizeof(tr), "%s Feed the starter with rye flour and wait.",
			         comp_hooks[(a + i) % 6]);
			long long views = (i % 4 == 0) ? 50000 + 1000 * a : 2000 + 10 * i;
			json_array_append_new(reels, reel(id, comps[a], views, i, desc, tr));
		}
	}
	return doc(profiles, reels);
}

static json_t *run_ok(json_t *in)
{
	json_t *out = NULL;
	char err[256];
	int rc = analysis_run(in, &out, err, sizeof(err));
	if (rc != 0)
		FAIL("analysis_run returned %d: %s", rc, err);
	ASSERT(out != NULL);
	return out;
}

/* json at a dotted path ("analysis_data.generated_hooks.0.hook_text"). */
static json_t *at(json_t *j, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save, *seg = strtok_r(buf, ".", &save); seg && j;
	     seg = strtok_r(NULL, ".", &save)) {
		if (json_is_array(j))
			j = json_array_get(j, (size_t)atoi(seg));
		else
			j = json_object_get(j, seg);
	}
	return j;
}

static const char *str_at(json_t *j, const char *path)
{
	return json_string_value(at(j, path));
}

static long long int_at(json_t *j, const char *path)
{
	json_t *v = at(j, path);
	if (!json_is_integer(v))
		FAIL("%s: not an integer", path);
	return (long long)json_integer_value(v);
}

static double num_at(json_t *j, const char *path)
{
	json_t *v = at(j, path);
	if (!json_is_number(v))
		FAIL("%s: not a number", path);
	return json_number_value(v);
}

static json_t *row_for(json_t *out, const char *content_id)
{
	json_t *rows = json_object_get(out, "reels"), *r;
	size_t i;
	json_array_foreach(rows, i, r) if (!strcmp(str_at(r, "content_id"), content_id)) return r;
	return NULL;
}

/* ---- determinism ------------------------------------------------------- */

TEST(same_input_gives_byte_identical_output)
{
	json_t *in = standard_job();
	json_t *a = run_ok(in), *b = run_ok(in);
	char *sa = json_dumps(a, JSON_SORT_KEYS), *sb = json_dumps(b, JSON_SORT_KEYS);
	ASSERT(sa && sb);
	ASSERT_EQ_STR(sa, sb);
	/* The input is not modified and a fresh copy gives the same bytes. */
	json_t *in2 = standard_job();
	json_t *c = run_ok(in2);
	char *sc = json_dumps(c, JSON_SORT_KEYS);
	ASSERT_EQ_STR(sc, sa);
	free(sa), free(sb), free(sc);
	json_decref(a), json_decref(b), json_decref(c), json_decref(in), json_decref(in2);
}

/* ---- metrics ----------------------------------------------------------- */

TEST(outlier_is_views_over_median_of_nonzero_views_rounded_to_4_places)
{
	json_t *reels = json_array();
	/* creator: non-zero views 100, 300, 700 -> median 300. */
	json_array_append_new(reels, reel("p0", "creator", 0, 1, "zero views", NULL));
	json_array_append_new(reels, reel("p1", "creator", 100, 2, "a", NULL));
	json_array_append_new(reels, reel("p2", "creator", 300, 3, "b", NULL));
	json_array_append_new(reels, reel("p3", "creator", 700, 4, "c", NULL));
	/* competitor: 100, 200, 300, 1000 -> median 250 (even count: mean of the middle two). */
	json_array_append_new(reels, reel("k1", "rival", 100, 1, "d", NULL));
	json_array_append_new(reels, reel("k2", "rival", 200, 1, "e", NULL));
	json_array_append_new(reels, reel("k3", "rival", 300, 1, "f", NULL));
	json_array_append_new(reels, reel("k4", "rival", 1000, 1, "g", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	ASSERT(num_at(row_for(out, "p3"), "outlier_score_at_analysis") == 2.3333);
	ASSERT(num_at(row_for(out, "p1"), "outlier_score_at_analysis") == 0.3333);
	ASSERT(num_at(row_for(out, "p0"), "outlier_score_at_analysis") == 0);
	ASSERT(num_at(row_for(out, "k4"), "outlier_score_at_analysis") == 4.0);
	ASSERT(num_at(row_for(out, "k1"), "outlier_score_at_analysis") == 0.4);
	json_t *m = at(out, "analysis_data.profile_analysis.metrics.primary");
	ASSERT(num_at(m, "median_nonzero_views") == 300);
	ASSERT(num_at(m, "median_views") == 200); /* all four: (100 + 300) / 2 */
	ASSERT(num_at(m, "mean_views") == 275);
	ASSERT_EQ_INT(int_at(m, "reels_with_views"), 3);
	/* likes = views/20, comments = views/200 (integer division). */
	ASSERT(num_at(m, "engagement_rate") == 5.36); /* (0+5+15+35 + 0+0+1+3) / 1100 */
	/* one reel a day over three days. */
	ASSERT(num_at(m, "posts_per_week") == 7);
	ASSERT(num_at(m, "median_days_between_posts") == 1);
	json_decref(out), json_decref(in);
}

TEST(all_zero_views_give_outlier_zero_and_no_division_by_zero)
{
	json_t *reels = json_array();
	json_array_append_new(reels, reel("p1", "creator", 0, 1, "Why is nobody watching?", NULL));
	json_array_append_new(reels, reel("k1", "rival", 0, 1, "How to bake bread.", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	ASSERT(num_at(row_for(out, "p1"), "outlier_score_at_analysis") == 0);
	ASSERT(num_at(row_for(out, "k1"), "outlier_score_at_analysis") == 0);
	ASSERT(num_at(out, "analysis_data.profile_analysis.metrics.primary.engagement_rate") == 0);
	json_decref(out), json_decref(in);
}

/* ---- selection --------------------------------------------------------- */

TEST(primary_selection_is_top_10_by_views_within_30_days)
{
	json_t *reels = json_array();
	char id[16];
	for (int i = 0; i < 15; i++) {
		snprintf(id, sizeof(id), "r%02d", i);
		json_array_append_new(reels, reel(id, "creator", 100 * (i + 1), 1 + i, "x", NULL));
	}
	/* An old hit must not displace recent reels. */
	json_array_append_new(reels, reel("old", "creator", 999999, 45, "x", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	ASSERT_EQ_INT(int_at(out, "counts.primary_reels_count"), 10);
	ASSERT(row_for(out, "old") == NULL);
	ASSERT_EQ_STR(str_at(out, "reels.0.content_id"), "r14");
	ASSERT_EQ_INT(int_at(out, "reels.0.rank_in_selection"), 1);
	ASSERT_EQ_STR(str_at(out, "reels.9.content_id"), "r05");
	ASSERT_EQ_INT(int_at(out, "reels.9.rank_in_selection"), 10);
	ASSERT_EQ_STR(str_at(out, "reels.0.selection_reason"), "smart_selection_top_performer");
	json_decref(out), json_decref(in);
}

TEST(empty_window_falls_back_to_older_reels)
{
	json_t *reels = json_array();
	json_array_append_new(reels, reel("a", "creator", 500, 60, "old one", NULL));
	json_array_append_new(reels, reel("b", "creator", 900, 90, "older one", NULL));
	json_array_append_new(reels, reel("k", "rival", 100, 200, "How to bake.", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	ASSERT_EQ_INT(int_at(out, "counts.primary_reels_count"), 2);
	ASSERT_EQ_INT(int_at(out, "counts.competitor_reels_count"), 1);
	ASSERT_EQ_STR(str_at(out, "reels.0.content_id"), "b");
	ASSERT_EQ_STR(str_at(out, "reels.0.selection_reason"), "fallback_top_performer");
	ASSERT_EQ_STR(str_at(row_for(out, "k"), "selection_reason"), "fallback_cross_competitor");
	ASSERT(json_is_true(at(row_for(out, "a"), "analysis_metadata.fallback")));
	ASSERT_EQ_INT(int_at(out, "analysis_data.analysis_summary.fallback_reels"), 3);
	json_decref(out), json_decref(in);
}

TEST(competitor_picks_hold_at_most_three_from_one_account)
{
	json_t *reels = json_array();
	char id[16];
	/* "big" has the ten best reels; "small" and "tiny" are far behind. */
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "big%d", i);
		json_array_append_new(reels,
		                      reel(id, "big", 100000 + i * 1000, 2, "How to win.", NULL));
	}
	json_array_append_new(reels, reel("s1", "small", 500, 2, "Why bake?", NULL));
	json_array_append_new(reels, reel("s2", "small", 400, 2, "Why knead?", NULL));
	json_array_append_new(reels, reel("t1", "tiny", 50, 2, "Stop this.", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	json_t *an = at(out, "analysis_data.individual_reel_analyses"), *x;
	size_t i;
	int big = 0, comp = 0;
	json_array_foreach(an, i, x)
	{
		if (strcmp(str_at(x, "reel_type"), "competitor"))
			continue;
		comp++;
		big += !strcmp(str_at(x, "username"), "big");
	}
	ASSERT_EQ_INT(comp, 5);
	ASSERT_EQ_INT(big, 3);
	ASSERT_EQ_INT(int_at(out, "analysis_data.analysis_summary.unique_competitors_analyzed"), 3);
	json_decref(out), json_decref(in);
}

TEST(per_competitor_cap_is_lifted_when_only_one_competitor_has_reels)
{
	json_t *reels = json_array();
	char id[16];
	for (int i = 0; i < 8; i++) {
		snprintf(id, sizeof(id), "solo%d", i);
		json_array_append_new(reels, reel(id, "solo", 1000 + i, 2, "How to win.", NULL));
	}
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	ASSERT_EQ_INT(int_at(out, "analysis_data.analysis_summary.competitor_hooks"), 5);
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.generated_hooks")), 5);
	json_decref(out), json_decref(in);
}

TEST(recurring_run_analyses_only_reels_newer_than_since_as_newly_trending)
{
	json_t *in = standard_job();
	json_object_set_new(json_object_get(in, "job"), "analysis_type", json_string("recurring"));
	json_object_set_new(json_object_get(in, "job"), "analysis_run", json_integer(2));
	json_object_set_new(in, "since", json_integer(NOW - 3 * DAY - 60)); /* ages 0..3 are new */
	json_t *out = run_ok(in);
	json_t *rows = json_object_get(out, "reels"), *r;
	size_t i;
	ASSERT(json_array_size(rows) > 0);
	json_array_foreach(rows, i, r)
	{
		ASSERT_EQ_STR(str_at(r, "selection_reason"), "newly_trending");
	}
	/* creator ages 0,2 (i=0,1); competitors ages 0..3 (4 each). */
	ASSERT_EQ_INT(int_at(out, "counts.primary_reels_count"), 2);
	ASSERT_EQ_INT(int_at(out, "counts.competitor_reels_count"), 12);
	ASSERT_EQ_STR(str_at(out, "analysis_data.analysis_type"), "recurring");
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.generated_hooks")), 5);
	json_decref(out);
	/* Nothing new: no rows; the hooks fall back to the creator's own older hits. */
	json_object_set_new(in, "since", json_integer(NOW));
	out = run_ok(in);
	ASSERT_EQ_INT(json_array_size(json_object_get(out, "reels")), 0);
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.generated_hooks")), 5);
	ASSERT_EQ_STR(str_at(out, "analysis_data.generated_hooks.0.source_username"), "creator");
	ASSERT_CONTAINS(str_at(out, "analysis_data.analysis_summary.notes.0"),
	                "no competitor reel posted after");
	ASSERT_CONTAINS(str_at(out, "analysis_data.analysis_summary.notes.0"), "own");
	json_decref(out), json_decref(in);
}

TEST(duplicate_content_ids_are_analysed_once)
{
	json_t *reels = json_array();
	json_array_append_new(reels, reel("same", "creator", 100, 1, "one", NULL));
	json_array_append_new(reels, reel("same", "creator", 900, 1, "two", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	ASSERT_EQ_INT(json_array_size(json_object_get(out, "reels")), 1);
	ASSERT_EQ_INT(int_at(out, "reels.0.view_count_at_analysis"), 100);
	ASSERT_EQ_INT(int_at(out, "analysis_data.analysis_summary.reels_ignored.duplicate"), 1);
	json_decref(out), json_decref(in);
}

/* ---- hooks ------------------------------------------------------------- */

TEST(hooks_are_classified_by_the_documented_rules)
{
	static const struct {
		const char *hook, *type;
	} table[] = {
	    {"5 mistakes every beginner makes", "number_list"},
	    {"Three habits that changed my mornings", "number_list"},
	    {"These 7 tips will save your sourdough", "number_list"},
	    {"How to shape a boule without tearing it", "how_to"},
	    {"7 ways I grew my account", "number_list"},
	    {"Here's how I grew to 10k followers", "how_to"},
	    {"Stop adding sugar to your coffee", "warning"},
	    {"Never store bread in the fridge", "warning"},
	    {"Unpopular opinion: brunch is overrated", "contrarian"},
	    {"Everything you learned about protein is wrong... actually", "contrarian"},
	    {"Why does your bread collapse?", "question"},
	    {"Is this the best pan ever", "question"},
	    {"When I moved to Paris I could not cook", "story"},
	    {"Last year I quit my job to bake", "story"},
	    {"The secret bakeries keep from you", "curiosity"},
	    {"Wait until the end", "curiosity"},
	    {"This bread is perfect", "statement"},
	    {"Ce pain est parfait", "statement"},
	    {"¿Por qué nadie habla de esto?", "question"},
	};
	struct arena a = {0};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		/* Through the engine: a competitor reel whose caption is the hook. */
		json_t *reels = json_array();
		json_array_append_new(reels, reel("k", "rival", 100, 1, table[i].hook, NULL));
		json_t *in = doc(json_array(), reels);
		json_t *out = run_ok(in);
		const char *seen = str_at(out, "reels.0.analysis_metadata.hook_type");
		if (!seen || strcmp(seen, table[i].type))
			FAIL("\"%s\": expected %s, seen %s", table[i].hook, table[i].type,
			     seen ? seen : "(null)");
		json_decref(out), json_decref(in);
	}
	arena_free(&a);
}

TEST(power_words_come_from_the_fixed_lexicon_in_lexicon_order)
{
	json_t *reels = json_array();
	json_array_append_new(reels, reel("k", "rival", 100, 1,
	                                  "Nobody tells you the secret mistake, finally!", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	char *pw = json_dumps(at(out, "reels.0.power_words"), JSON_COMPACT);
	ASSERT_EQ_STR(pw, "[\"finally\",\"mistake\",\"nobody\",\"secret\",\"you\"]");
	free(pw);
	json_decref(out), json_decref(in);
}

TEST(hook_is_first_transcript_sentence_else_caption_bounded_and_utf8_safe)
{
	struct arena a = {0};
	ASSERT_EQ_STR(text_first_sentence(&a, "Your bread is flat. Here is why.", 32, 150),
	              "Your bread is flat.");
	/* Very short first sentences take the next one along. */
	ASSERT_EQ_STR(text_first_sentence(&a, "Wait. This changes everything! More.", 36, 150),
	              "Wait. This changes everything!");
	ASSERT_EQ_STR(text_first_sentence(&a, "Line one is long enough\nline two", 32, 150),
	              "Line one is long enough");
	/* Transcript segments glued without punctuation: the hook stops at the next line. */
	ASSERT_EQ_STR(text_first_sentence(&a,
	                                  "Leg day with home workouts today Here's what you "
	                                  "need to know.",
	                                  62, 150),
	              "Leg day with home workouts today");
	ASSERT_EQ_STR(
	    text_first_sentence(&a, "How to start on $100 Number one: start simple.", 46, 150),
	    "How to start on $100");
	ASSERT_EQ_STR(
	    text_first_sentence(&a, "Stop doing this \xF0\x9F\x9A\xAB Full routine below", 39, 150),
	    "Stop doing this \xF0\x9F\x9A\xAB");
	/* Title Case is not a glued line. */
	ASSERT_EQ_STR(text_first_sentence(&a, "5 Tips To Save Money Fast", 25, 150),
	              "5 Tips To Save Money Fast");
	ASSERT_EQ_STR(text_first_sentence(&a, "Version 2.5 is out now", 22, 150),
	              "Version 2.5 is out now");
	/* 400 emoji: cut at a code point boundary, ellipsis, at most 150 characters. */
	char big[1700] = "";
	for (int i = 0; i < 400; i++)
		strcat(big, "\xF0\x9F\x8D\x9E"); /* U+1F35E bread */
	const char *h = text_first_sentence(&a, big, strlen(big), 150);
	ASSERT_CMP_INT(text_chars(h), <=, 150);
	json_t *valid = json_string(h); /* valid UTF-8 (freed: make memcheck) */
	ASSERT(valid != NULL);
	json_decref(valid);
	ASSERT_CONTAINS(h, "\xE2\x80\xA6");

	json_t *reels = json_array();
	json_array_append_new(reels, reel("t", "rival", 100, 1, "Caption first. More.",
	                                  "Transcript wins here. Then more."));
	json_array_append_new(reels, reel("c", "rival", 100, 1, "Caption only here. More.", "  "));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	ASSERT_EQ_STR(str_at(row_for(out, "t"), "hook_text"), "Transcript wins here.");
	ASSERT_EQ_STR(str_at(row_for(out, "t"), "analysis_metadata.hook_source"), "transcript");
	ASSERT(json_is_true(at(row_for(out, "t"), "transcript_completed")));
	ASSERT_EQ_STR(str_at(row_for(out, "c"), "hook_text"), "Caption only here.");
	ASSERT(json_is_true(at(row_for(out, "c"), "transcript_requested")));
	ASSERT(json_is_false(at(row_for(out, "c"), "transcript_completed")));
	ASSERT_EQ_INT(int_at(out, "counts.transcripts_fetched"), 1);
	json_decref(out), json_decref(in);
	arena_free(&a);
}

/* ---- trends and ideas -------------------------------------------------- */

TEST(trends_are_competitor_terms_the_creator_has_not_used)
{
	json_t *in = standard_job();
	json_t *out = run_ok(in);
	json_t *topics = at(out, "analysis_data.profile_analysis.trends.topics"), *t;
	json_t *tags = at(out, "analysis_data.profile_analysis.trends.hashtags");
	size_t i;
	bool sourdough = false;
	json_array_foreach(topics, i, t)
	{
		ASSERT(strcmp(str_at(t, "term"), "bread") != 0); /* the creator uses it */
		sourdough |= !strcmp(str_at(t, "term"), "sourdough");
	}
	ASSERT(sourdough);
	ASSERT_CMP_INT(json_array_size(tags), >, 0);
	json_array_foreach(tags, i, t) ASSERT(strcmp(str_at(t, "term"), "bread") != 0);
	/* Over-performing trend hashtags then trend phrases, at most 5: a term whose
	 * competitor reels do worse than their usual reel (lift <= 1) is no recommendation. */
	size_t ntrends = 0;
	json_array_foreach(tags, i, t) ntrends += json_real_value(json_object_get(t, "lift")) > 1;
	json_array_foreach(topics, i, t) ntrends += json_real_value(json_object_get(t, "lift")) > 1;
	ASSERT_CMP_INT(json_array_size(at(out, "analysis_data.profile_analysis.new_content_"
	                                       "opportunities.unexplored_topics")),
	               ==, ntrends < 5 ? ntrends : 5);
	json_decref(out), json_decref(in);
}

TEST(five_hooks_each_with_a_script_that_reflects_the_content_strategy)
{
	json_t *in = standard_job();
	json_t *out = run_ok(in);
	json_t *hooks = at(out, "analysis_data.generated_hooks");
	json_t *scripts = json_object_get(out, "scripts");
	ASSERT_EQ_INT(json_array_size(hooks), 5);
	ASSERT_EQ_INT(json_array_size(scripts), 5);
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.complete_scripts")), 5);
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.scripts_summary")), 5);
	ASSERT_EQ_INT(int_at(out, "analysis_data.analysis_summary.hooks_generated"), 5);
	json_t *s, *h;
	size_t i;
	json_array_foreach(scripts, i, s)
	{
		h = json_array_get(hooks, i);
		const char *content = str_at(s, "script_content");
		ASSERT_CONTAINS(content, "busy parents");
		ASSERT_CONTAINS(content, "talking-head tutorial");
		/* The goals are the creator's: they shape the call to action, never the
		 * audience's problem. */
		ASSERT(!strstr(content, "sell my sourdough course"));
		ASSERT(!strstr(content, "keeps them from"));
		ASSERT_EQ_STR(str_at(s, "script_kind"), "outline");
		ASSERT_CONTAINS(content, "HOOK: ");
		ASSERT_CONTAINS(content, "PROBLEM: ");
		ASSERT_CONTAINS(content, "SOLUTION: ");
		ASSERT_CONTAINS(content, "CTA: ");
		/* goals mention selling: the call to action asks for a comment keyword. */
		ASSERT_CONTAINS(str_at(s, "call_to_action"), "Comment \"");
		ASSERT_EQ_STR(str_at(s, "target_audience"), "busy parents");
		ASSERT_EQ_STR(str_at(s, "script_type"), "reel");
		ASSERT_EQ_STR(str_at(s, "ai_model"), "viralsup-engine");
		ASSERT_EQ_STR(str_at(s, "status"), "completed");
		ASSERT_EQ_STR(str_at(s, "primary_hook"), str_at(h, "hook_text"));
		ASSERT(json_is_object(at(s, "source_reels")));
		ASSERT(json_is_string(at(s, "script_structure.cta_section")));
		ASSERT_CMP_INT(int_at(s, "estimated_duration"), >=, 15);
		ASSERT_CMP_INT(int_at(s, "estimated_duration"), <=, 90);
		/* Each hook is built on a competitor hook, with a new subject. */
		const char *orig = str_at(h, "original_competitor_hook");
		ASSERT(orig && *orig);
		ASSERT(strcmp(orig, str_at(h, "hook_text")) != 0);
		ASSERT_CONTAINS(str_at(h, "hook_text"), str_at(h, "new_subject_used"));
		ASSERT(strcmp(str_at(h, "source_username"), "creator") != 0);
		ASSERT_CONTAINS(str_at(h, "source_reel_metadata.instagram_url"),
		                "https://www.instagram.com/p/");
	}
	/* The five hooks differ. */
	for (size_t x = 0; x < 5; x++)
		for (size_t y = x + 1; y < 5; y++)
			ASSERT(strcmp(str_at(json_array_get(hooks, x), "hook_text"),
			              str_at(json_array_get(hooks, y), "hook_text")) != 0);
	json_decref(out), json_decref(in);
}

TEST(one_competitor_hook_still_gives_five_distinct_hooks)
{
	json_t *reels = json_array();
	json_array_append_new(reels, reel("k", "rival", 100, 1, "Why does your crust burn?", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	json_t *hooks = at(out, "analysis_data.generated_hooks");
	ASSERT_EQ_INT(json_array_size(hooks), 5);
	for (size_t x = 0; x < 5; x++)
		for (size_t y = x + 1; y < 5; y++)
			ASSERT(strcmp(str_at(json_array_get(hooks, x), "hook_text"),
			              str_at(json_array_get(hooks, y), "hook_text")) != 0);
	ASSERT_CONTAINS(str_at(out, "analysis_data.analysis_summary.notes.0"), "Only 1 competitor");
	json_decref(out), json_decref(in);
}

TEST(no_competitor_hook_falls_back_to_own_hooks_and_says_why)
{
	json_t *reels = json_array();
	json_array_append_new(reels, reel("p", "creator", 100, 1, "My bread.", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.generated_hooks")), 5);
	ASSERT_EQ_INT(json_array_size(json_object_get(out, "scripts")), 5);
	ASSERT_CONTAINS(str_at(out, "analysis_data.analysis_summary.notes.0"),
	                "No competitor hook (the job has no competitor accounts)");
	ASSERT_CONTAINS(str_at(out, "analysis_data.analysis_summary.notes.0"), "@creator's own 1");
	json_decref(out), json_decref(in);
	/* Competitor reels without any text: a different reason, same fallback. */
	reels = json_array();
	json_array_append_new(reels, reel("k", "rival", 100, 1, NULL, NULL));
	json_array_append_new(reels, reel("p", "creator", 100, 1, "My bread.", NULL));
	in = doc(json_array(), reels);
	out = run_ok(in);
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.generated_hooks")), 5);
	ASSERT_CONTAINS(str_at(out, "analysis_data.analysis_summary.notes.0"),
	                "has a caption or transcript");
	json_decref(out), json_decref(in);
}

/* ---- the bundled example jobs (examples/jobs.json, examples/instagram) --- */

/* The input of example job i (0..3) of examples/jobs.json (tests/fixtures.h);
 * NULL past the last. */
static json_t *fixture_job(size_t i)
{
	json_t *jobs = json_load_file("examples/jobs.json", 0, NULL);
	if (!jobs)
		FAIL("examples/jobs.json: cannot load (run from the repository root)");
	json_t *job = json_array_get(jobs, i);
	json_t *in = job ? fixture_job_input(job) : NULL;
	json_decref(jobs);
	return in;
}

/* SHOW_HOOKS=1 prints each job's trends and five hooks (to read them while tuning). */
TEST(example_jobs_give_byte_identical_output)
{
	json_t *in;
	for (size_t j = 0; (in = j ? fixture_job(j - 1) : standard_job()); j++) {
		json_t *out = run_ok(in), *again = run_ok(in);
		char *sa = json_dumps(out, JSON_SORT_KEYS), *sb = json_dumps(again, JSON_SORT_KEYS);
		ASSERT_EQ_STR(sa, sb);
		free(sa), free(sb), json_decref(again);
		if (!getenv("SHOW_HOOKS")) {
			json_decref(out), json_decref(in);
			continue;
		}
		printf("  @%s\n   topics:", str_at(in, "job.primary_username"));
		json_t *h;
		size_t i;
		json_array_foreach(at(out, "analysis_data.profile_analysis.trends.topics"), i, h)
		    printf(" \"%s\"", str_at(h, "term"));
		printf("\n   hashtags:");
		json_array_foreach(at(out, "analysis_data.profile_analysis.trends.hashtags"), i, h)
		    printf(" #%s", str_at(h, "term"));
		printf("\n   themes:");
		json_array_foreach(
		    at(out,
		       "analysis_data.profile_analysis.profile_summary.primary_content_themes"),
		    i, h) printf(" \"%s\"", json_string_value(h));
		printf("\n");
		json_array_foreach(at(out, "analysis_data.generated_hooks"), i, h)
		{
			printf("    %zu. %-70s [%s] topic \"%s\" from \"%s\"\n", i + 1,
			       str_at(h, "hook_text"), str_at(h, "hook_type"),
			       str_at(h, "new_subject_used"),
			       str_at(h, "original_competitor_hook"));
		}
		json_decref(out), json_decref(in);
	}
}

TEST(topic_words_exclude_verbs_adverbs_adjectives_and_numbers)
{
	static const char *const stop[] = {
	    "knew", "sooner", "high",    "number", "everything", "consistent", "exploring", "love",
	    "wish", "full",   "perfect", "simple", "told",       "2026",       "twelve"};
	for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); i++)
		if (text_word_class(stop[i], strlen(stop[i])) != WORD_STOP)
			FAIL("\"%s\" should be a stop word", stop[i]);
	ASSERT_EQ_INT(text_word_class("sourdough", 9), WORD_CONTENT);
	ASSERT_EQ_INT(text_word_class("lisbon", 6), WORD_CONTENT);
	ASSERT_EQ_INT(text_word_class("crispy", 6), WORD_MOD);
	ASSERT_EQ_INT(text_word_class("days", 4), WORD_TIME);
}

/* Whether s ends with . ! ? or an ellipsis, before any trailing emoji. */
static bool ends_with_punctuation(const char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || (unsigned char)s[n - 1] >= 0x80)) {
		if (n >= 3 && !memcmp(s + n - 3, "\xE2\x80\xA6", 3))
			return true;
		n--;
	}
	return n > 0 && strchr(".!?", s[n - 1]);
}

/* The first word that repeats right after itself, or NULL. */
static const char *doubled(const char *s)
{
	static char w[2][64];
	int k = 0;
	w[0][0] = w[1][0] = '\0';
	for (const char *p = s; *p;) {
		while (*p && !isalnum((unsigned char)*p) && *p != '\'' && *p != '#')
			p++;
		size_t n = 0;
		while (*p && (isalnum((unsigned char)*p) || *p == '\'' || *p == '-' || *p == '#')) {
			if (n < 63)
				w[k][n++] = (char)tolower((unsigned char)*p);
			p++;
		}
		w[k][n] = '\0';
		if (n && !strcmp(w[k], w[!k]))
			return w[k];
		k = !k;
	}
	return NULL;
}

/* Whether any reel of user in the input has text containing needle (case-insensitive). */
static bool user_text_contains(json_t *in, const char *user, const char *needle)
{
	json_t *r;
	size_t i;
	json_array_foreach(json_object_get(in, "reels"), i, r)
	{
		if (strcmp(str_at(r, "username"), user))
			continue;
		const char *d = str_at(r, "description"), *t = str_at(r, "transcript_text");
		if ((d && strcasestr(d, needle)) || (t && strcasestr(t, needle)))
			return true;
	}
	return false;
}

TEST(example_jobs_get_five_natural_hooks_on_unused_trend_topics)
{
	json_t *in;
	int jobs = 0, adapted = 0, unused = 0;
	for (size_t j = 0; (in = fixture_job(j)); j++, jobs++) {
		json_t *out = run_ok(in);
		const char *creator = str_at(in, "job.primary_username");
		json_t *hooks = at(out, "analysis_data.generated_hooks"), *h;
		size_t i;
		ASSERT_EQ_INT(json_array_size(hooks), 5);
		json_array_foreach(hooks, i, h)
		{
			const char *text = str_at(h, "hook_text"),
			           *subj = str_at(h, "new_subject_used");
			const char *orig = str_at(h, "original_competitor_hook");
			ASSERT(text && subj && orig);
			/* It carries its declared topic, a noun phrase without stop words. */
			if (!strstr(text, subj))
				FAIL("@%s hook %zu \"%s\" lacks its subject \"%s\"", creator, i,
				     text, subj);
			char low[256];
			snprintf(low, sizeof(low), "%s", subj[0] == '#' ? subj + 1 : subj);
			for (char *save, *w = strtok_r(low, " ", &save); w;
			     w = strtok_r(NULL, " ", &save)) {
				for (char *p = w; *p; p++)
					*p = (char)tolower((unsigned char)*p);
				if (subj[0] != '#' && text_word_class(w, strlen(w)) == WORD_STOP)
					FAIL("@%s hook \"%s\": subject \"%s\" has the stop word "
					     "\"%s\"",
					     creator, text, subj, w);
			}
			if (!ends_with_punctuation(text))
				FAIL("@%s hook \"%s\" has no final punctuation", creator, text);
			if (doubled(text))
				FAIL("@%s hook \"%s\" doubles \"%s\"", creator, text,
				     doubled(text));
			/* No glued transcript line ("... today Here's what you need to know"). */
			ASSERT(!strstr(text, " Here's what you need") &&
			       !strstr(text, " Number one"));
			ASSERT(strcmp(text, orig) != 0);
			adapted += strstr(str_at(h, "adaptation_strategy"), "Kept @") != NULL;
			/* A topic said to be unused is in none of the creator's reels. */
			if (strstr(str_at(h, "content_theme_alignment"), " and not in @")) {
				unused++;
				if (user_text_contains(in, creator, subj))
					FAIL("@%s uses \"%s\" already", creator, subj);
			}
			for (size_t k = 0; k < i; k++)
				ASSERT(strcmp(text,
				              str_at(json_array_get(hooks, k), "hook_text")) != 0);
		}
		json_decref(out), json_decref(in);
	}
	ASSERT_EQ_INT(jobs, 4);
	printf("  %d of 20 hooks adapt the competitor's own sentence, %d use a topic the creator "
	       "never used\n",
	       adapted, unused);
	ASSERT_CMP_INT(adapted, >=, 10); /* most keep the competitor's own sentence */
	/* Only over-performing competitor topics are offered, so fewer hooks are on
	 * unused ones than there are trends; the rest are the creator's own themes. */
	ASSERT_CMP_INT(unused, >=, 1);
}

/* ---- fallbacks without competitor hooks ------------------------------- */

/* Example job i with only the accounts for which keep() says yes keeping their reels. */
static json_t *fixture_job_reels_of(size_t i, bool keep_competitor_profiles, bool keep_own_reels)
{
	json_t *in = fixture_job(i);
	const char *creator = str_at(in, "job.primary_username");
	json_t *reels = json_array(), *profiles = json_array(), *x;
	size_t k;
	json_array_foreach(json_object_get(in, "reels"), k, x)
	{
		if (keep_own_reels && !strcmp(str_at(x, "username"), creator))
			json_array_append(reels, x);
	}
	json_array_foreach(json_object_get(in, "profiles"), k, x)
	{
		if (keep_competitor_profiles || !strcmp(str_at(x, "username"), creator))
			json_array_append(profiles, x);
	}
	json_object_set_new(in, "reels", reels);
	json_object_set_new(in, "profiles", profiles);
	return in;
}

/* Words that describe a format: a strategy phrase may end with one ("workout tutorials"). */
static bool format_word(const char *w)
{
	static const char *const f[] = {"tutorial", "tutorials", "video", "videos", "reel",
	                                "reels",    "content",   "post",  "posts",  NULL};
	for (const char *const *p = f; *p; p++)
		if (!strcmp(w, *p))
			return true;
	return false;
}

/*
 * The five hooks and scripts of out are natural and distinct: each carries its
 * subject (a noun phrase without stop words), ends with punctuation, doubles no
 * word, glues no sentences, uses a/an right; each has a script; source fields
 * say where it came from ("own": the creator's reels, "template": none).
 */
static void check_fallback_hooks(json_t *in, json_t *out, const char *source)
{
	const char *creator = str_at(in, "job.primary_username");
	json_t *hooks = at(out, "analysis_data.generated_hooks"), *h;
	ASSERT_EQ_INT(json_array_size(hooks), 5);
	ASSERT_EQ_INT(json_array_size(json_object_get(out, "scripts")), 5);
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.complete_scripts")), 5);
	ASSERT_EQ_INT(int_at(out, "analysis_data.analysis_summary.scripts_created"), 5);
	bool show = getenv("SHOW_HOOKS") != NULL;
	if (show)
		printf("  @%s (%s): %s\n", creator, source,
		       str_at(out, "analysis_data.analysis_summary.notes.0"));
	size_t i;
	json_array_foreach(hooks, i, h)
	{
		const char *text = str_at(h, "hook_text"), *subj = str_at(h, "new_subject_used");
		ASSERT(text && subj);
		if (show)
			printf("    %zu. %-64s [%s] \"%s\"\n", i + 1, text, str_at(h, "hook_type"),
			       subj);
		if (!strstr(text, subj))
			FAIL("hook \"%s\" lacks its subject \"%s\"", text, subj);
		char low[256];
		snprintf(low, sizeof(low), "%s", subj);
		for (char *save, *w = strtok_r(low, " ", &save); w;
		     w = strtok_r(NULL, " ", &save)) {
			for (char *p = w; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			if (text_word_class(w, strlen(w)) == WORD_STOP && !format_word(w) &&
			    strcmp(subj, "your niche"))
				FAIL("hook \"%s\": subject \"%s\" has the stop word \"%s\"", text,
				     subj, w);
		}
		if (!ends_with_punctuation(text))
			FAIL("hook \"%s\" has no final punctuation", text);
		if (doubled(text))
			FAIL("hook \"%s\" doubles \"%s\"", text, doubled(text));
		ASSERT(!strstr(text, " Here's what you need") && !strstr(text, " Number one"));
		/* a/an agree with the next word (no "a hour" checks needed for these topics). */
		for (const char *p = text; (p = strstr(p, " a ")); p++)
			if (strchr("aeiouAEIOU", p[3]))
				FAIL("hook \"%s\": \"a\" before a vowel", text);
		for (const char *p = text; (p = strstr(p, " an ")); p++)
			if (!strchr("aeiouAEIOUh", p[4]))
				FAIL("hook \"%s\": \"an\" before a consonant", text);
		for (size_t k = 0; k < i; k++)
			ASSERT(strcmp(text, str_at(json_array_get(hooks, k), "hook_text")) != 0);
		/* Where it came from. */
		ASSERT_EQ_STR(str_at(h, "source_username"), creator);
		ASSERT(json_is_null(at(h, "original_competitor_hook")));
		json_t *sc = json_array_get(at(out, "analysis_data.complete_scripts"), i);
		ASSERT(json_is_null(at(sc, "based_on_competitor")));
		ASSERT(json_is_null(at(sc, "competitor_reel_id")));
		ASSERT_EQ_STR(str_at(sc, "source_hook"), text);
		json_t *row = json_array_get(json_object_get(out, "scripts"), i);
		ASSERT_EQ_STR(str_at(row, "primary_hook"), text);
		ASSERT_CONTAINS(str_at(row, "script_content"), "PROBLEM: ");
		ASSERT_CONTAINS(str_at(row, "script_content"), "CTA: ");
		ASSERT(json_is_null(at(row, "source_reels.based_on_competitor")));
		if (!strcmp(source, "own")) {
			ASSERT_CONTAINS(str_at(h, "adaptation_strategy"), "Fallback to own hooks");
			ASSERT(user_text_contains(in, creator, ""));
			ASSERT_EQ_STR(str_at(h, "source_reel_metadata.username"), creator);
			ASSERT(json_is_number(at(h, "estimated_effectiveness")));
			/* "Same structure" only where the hook kept the reel's own words. */
			if (strstr(str_at(h, "adaptation_strategy"), "swapped"))
				ASSERT_CONTAINS(str_at(row, "script_content"),
				                "Same structure as your own reel");
			else
				ASSERT(!strstr(str_at(row, "script_content"), "Same structure"));
		} else {
			ASSERT_CONTAINS(str_at(h, "adaptation_strategy"), "Fallback to templates");
			ASSERT(json_is_null(at(h, "source_reel_id")));
			ASSERT_EQ_INT(json_object_size(at(h, "source_reel_metadata")), 0);
			ASSERT(json_is_null(at(h, "estimated_effectiveness")));
		}
	}
}

TEST(zero_competitors_get_five_natural_hooks_from_the_creators_own_best_hooks)
{
	json_t *in;
	int jobs = 0, adapted = 0;
	for (size_t j = 0; (in = j < 4 ? fixture_job_reels_of(j, false, true) : NULL);
	     j++, jobs++) {
		json_t *out = run_ok(in);
		check_fallback_hooks(in, out, "own");
		const char *note = str_at(out, "analysis_data.analysis_summary.notes.0");
		ASSERT_CONTAINS(note, "No competitor hook (the job has no competitor accounts)");
		ASSERT_CONTAINS(note, "best-performing hook(s)");
		/* The sources are the creator's highest-outlier reels with text, best first. */
		json_t *h;
		size_t i;
		double prev = 1e18;
		json_array_foreach(at(out, "analysis_data.generated_hooks"), i, h)
		{
			adapted += strstr(str_at(h, "adaptation_strategy"), "kept the ") != NULL;
			const char *id = str_at(h, "source_reel_id");
			json_t *r;
			size_t k;
			json_array_foreach(json_object_get(in, "reels"), k, r)
			{
				if (strcmp(str_at(r, "content_id"), id))
					continue;
				/* views / median: order by outlier is order by views within one
				 * account. */
				double v = num_at(r, "view_count");
				if (i < 5 && v > prev)
					FAIL("hook %zu comes from a reel with more views than hook "
					     "%zu's",
					     i + 1, i);
				prev = v;
			}
		}
		/* Byte-identical on a second run. */
		json_t *again = run_ok(in);
		char *sa = json_dumps(out, JSON_SORT_KEYS), *sb = json_dumps(again, JSON_SORT_KEYS);
		ASSERT_EQ_STR(sa, sb);
		free(sa), free(sb);
		json_decref(again), json_decref(out), json_decref(in);
	}
	ASSERT_EQ_INT(jobs, 4);
	printf("  %d of 20 hooks adapt the creator's own sentence\n", adapted);
	ASSERT_CMP_INT(adapted, >=, 5);
}

TEST(competitors_without_reels_get_five_hooks_from_the_creators_own_hooks)
{
	json_t *in = fixture_job_reels_of(0, true, true);
	ASSERT_CMP_INT(json_array_size(json_object_get(in, "profiles")), ==, 4);
	json_t *out = run_ok(in);
	check_fallback_hooks(in, out, "own");
	ASSERT_CONTAINS(str_at(out, "analysis_data.analysis_summary.notes.0"),
	                "No competitor hook (the competitors have no reels)");
	json_decref(out), json_decref(in);
}

TEST(no_reels_at_all_get_five_template_hooks_on_content_strategy_topics)
{
	json_t *in;
	for (size_t j = 0; (in = j < 4 ? fixture_job_reels_of(j, true, false) : NULL); j++) {
		json_t *out = run_ok(in);
		check_fallback_hooks(in, out, "template");
		const char *note = str_at(out, "analysis_data.analysis_summary.notes.0");
		ASSERT_CONTAINS(note, "per-type templates on noun phrases of the content strategy");
		/* Five template shapes, and the topics come from the strategy. */
		json_t *h;
		size_t i;
		const char *ct = str_at(in, "job.content_strategy.contentType");
		const char *aud = str_at(in, "job.content_strategy.targetAudience");
		json_array_foreach(at(out, "analysis_data.generated_hooks"), i, h)
		{
			const char *subj = str_at(h, "new_subject_used");
			if (!strcasestr(ct, subj) && !strcasestr(aud, subj))
				FAIL("\"%s\" is in neither \"%s\" nor \"%s\"", subj, ct, aud);
			ASSERT_CONTAINS(str_at(h, "content_theme_alignment"), "content strategy");
			for (size_t k = 0; k < i; k++)
				ASSERT(
				    strcmp(str_at(h, "hook_type"),
				           str_at(json_array_get(
				                      at(out, "analysis_data.generated_hooks"), k),
				                  "hook_type")) != 0);
		}
		json_decref(out), json_decref(in);
	}
}

TEST(no_reels_and_no_strategy_use_the_bio_else_say_there_is_no_topic)
{
	/* A bio names the niche: five template hooks on its noun phrases. */
	json_t *in = fixture_job_reels_of(1, false, false); /* nonna.kitchenlab */
	json_object_set_new(json_object_get(in, "job"), "content_strategy", json_object());
	json_t *out = run_ok(in);
	check_fallback_hooks(in, out, "template");
	ASSERT_CONTAINS(str_at(out, "analysis_data.analysis_summary.notes.0"), "bio");
	ASSERT_CONTAINS(str_at(out, "analysis_data.generated_hooks.0.content_theme_alignment"),
	                "bio");
	ASSERT(json_is_false(at(out, "analysis_data.analysis_summary.content_strategy_used")));
	json_decref(out), json_decref(in);
	/* Nothing at all names a topic: no hooks, and a note that says why. */
	in = fixture_job_reels_of(1, false, false);
	json_object_set_new(json_object_get(in, "job"), "content_strategy", json_null());
	json_object_del(json_array_get(json_object_get(in, "profiles"), 0), "bio");
	out = run_ok(in);
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.generated_hooks")), 0);
	ASSERT_EQ_INT(json_array_size(json_object_get(out, "scripts")), 0);
	ASSERT_CONTAINS(str_at(out, "analysis_data.analysis_summary.notes.0"),
	                "neither the content strategy nor @nonna.kitchenlab's bio names a topic");
	json_decref(out), json_decref(in);
}

/* ---- hostile input ----------------------------------------------------- */

TEST(no_reels_and_no_profiles_complete_cleanly)
{
	json_t *in = doc(json_array(), json_array());
	json_t *out = run_ok(in);
	ASSERT_EQ_INT(int_at(out, "counts.total_reels_analyzed"), 0);
	ASSERT_EQ_INT(json_array_size(at(out, "analysis_data.generated_hooks")), 0);
	ASSERT_EQ_STR(str_at(out, "analysis_data.workflow_version"), "hook_based_v2");
	json_decref(out), json_decref(in);
}

TEST(wrong_typed_and_missing_fields_are_tolerated)
{
	json_t *reels = json_array();
	json_array_append_new(reels,
	                      json_pack("{s:s, s:s, s:s, s:[], s:b, s:{}, s:i, s:i}", "content_id",
	                                "w1", "username", "rival", "view_count", "12abc",
	                                "like_count", "comment_count", 1, "date_posted",
	                                "description", 42, "transcript_text", 7));
	json_array_append_new(reels, json_pack("{s:I, s:s, s:f, s:I, s:s}", "content_id",
	                                       (json_int_t)123456789, "username", "@Rival",
	                                       "view_count", -5.0, "like_count", (json_int_t)-3,
	                                       "date_posted", "2025-11-20T10:00:00+00:00"));
	json_t *profiles =
	    json_pack("[{s:s, s:s, s:[]}]", "username", "rival", "followers", "lots", "bio");
	json_t *in = doc(profiles, reels);
	json_object_set_new(json_object_get(in, "job"), "content_strategy",
	                    json_pack("{s:i, s:[s,s]}", "contentType", 5, "goals", "grow", "sell"));
	json_t *out = run_ok(in);
	ASSERT_EQ_INT(int_at(out, "counts.competitor_reels_count"), 2);
	ASSERT(row_for(out, "123456789") != NULL);
	ASSERT_EQ_INT(int_at(row_for(out, "123456789"), "view_count_at_analysis"), 0);
	ASSERT_EQ_STR(str_at(row_for(out, "123456789"), "username"), "rival");
	json_decref(out), json_decref(in);
}

TEST(huge_captions_emoji_and_other_languages_are_bounded)
{
	size_t n = 100 * 1024;
	char *cap = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		cap[i] =
		    "ab cd\xF0\x9F\x94\xA5 "[i % 10]; /* words and fire emoji, no sentence end */
	cap[n] = '\0';
	json_t *reels = json_array();
	json_array_append_new(reels, reel("big", "rival", 100, 1, cap, cap));
	json_array_append_new(reels, reel("jp", "rival", 300, 1, "パンの作り方。簡単です。", NULL));
	json_array_append_new(reels, reel("ru", "rival", 200, 1, "Как испечь хлеб? Легко.", NULL));
	json_array_append_new(reels, reel("ar", "rival", 150, 1, "كيف تخبز الخبز؟", NULL));
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	const char *h = str_at(row_for(out, "big"), "hook_text");
	ASSERT(h != NULL);
	ASSERT_CMP_INT(text_chars(h), <=, 150);
	ASSERT_EQ_STR(str_at(row_for(out, "jp"), "hook_text"), "パンの作り方。簡単です。");
	ASSERT_EQ_STR(str_at(row_for(out, "ru"), "analysis_metadata.hook_type"), "question");
	char *s = json_dumps(out, JSON_SORT_KEYS);
	ASSERT_CMP_INT(strlen(s), <, 200000); /* output stays bounded */
	free(s), free(cap);
	json_decref(out), json_decref(in);
}

TEST(invalid_utf8_and_nul_bytes_are_repaired)
{
	json_t *reels = json_array();
	json_t *r = reel("bad", "rival", 100, 1, NULL, NULL);
	/* Bytes jansson would refuse to parse: an overlong, a lone continuation, a NUL. */
	static const char raw[] = "Why \xC0\xAF this \x80 works\0 here? yes";
	json_object_set_new(r, "description", json_stringn_nocheck(raw, sizeof(raw) - 1));
	json_object_set_new(r, "content_id", json_stringn_nocheck("id\xFF\0x", 5));
	json_array_append_new(reels, r);
	json_t *in = doc(json_array(), reels);
	json_t *out = run_ok(in);
	char *s = json_dumps(out, JSON_SORT_KEYS);
	ASSERT(s != NULL);
	json_error_t jerr;
	json_t *back = json_loads(s, 0, &jerr); /* re-parses: valid UTF-8, no \u0000 */
	ASSERT(back != NULL);
	ASSERT(strstr(s, "\\u0000") == NULL);
	ASSERT_CONTAINS(str_at(out, "reels.0.hook_text"), "Why");
	free(s);
	json_decref(back), json_decref(out), json_decref(in);
}

TEST(thousands_of_reels_are_capped_and_fast)
{
	json_t *reels = json_array();
	char id[32], user[16];
	for (int i = 0; i < 6000; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		snprintf(user, sizeof(user), "acct%d", i % 80); /* more accounts than the cap too */
		json_array_append_new(reels,
		                      reel(id, i % 7 ? user : "creator", i * 37 % 5000, i % 60,
		                           "Five reasons to bake bread today #bread #bake", NULL));
	}
	json_t *in = doc(json_array(), reels);
	double t0 = test_now_ms();
	json_t *out = run_ok(in);
	double ms = test_now_ms() - t0;
	printf("  6000 reels analysed in %.1f ms\n", ms);
	ASSERT_CMP_INT(ms, <, 2000);
	ASSERT_EQ_INT(int_at(out, "analysis_data.analysis_summary.reels_ignored.over_reel_cap"),
	              1000);
	ASSERT_CMP_INT(int_at(out, "analysis_data.analysis_summary.reels_ignored.over_account_cap"),
	               >, 0);
	ASSERT_CMP_INT(int_at(out, "counts.total_reels_analyzed"), <=, 30);
	json_decref(out), json_decref(in);
}

/* ---- malformed input --------------------------------------------------- */

TEST(malformed_documents_are_rejected_with_a_precise_message)
{
	static const struct {
		const char *json, *err;
	} table[] = {
	    {"[]", "input: expected a JSON object"},
	    {"{}", "now: expected unix seconds"},
	    {"{\"now\":-5}", "now: expected unix seconds"},
	    {"{\"now\":1}", "job: expected an object"},
	    {"{\"now\":1,\"job\":{}}", "job.primary_username: expected a non-empty string"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"\"}}", "job.primary_username"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\",\"analysis_run\":0}}",
	     "job.analysis_run: expected an integer >= 1"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\",\"analysis_type\":\"weekly\"}}",
	     "job.analysis_type"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\",\"content_strategy\":\"x\"}}",
	     "job.content_strategy: expected an object or null"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\"}}", "profiles: expected an array"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\"},\"profiles\":[1]}",
	     "profiles[0]: expected an object"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\"},\"profiles\":[{\"username\":\"b\","
	     "\"role\":\"primary\"}]}",
	     "profiles[0].role: \"primary\" contradicts job.primary_username"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\"},\"profiles\":[]}",
	     "reels: expected an array"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\"},\"profiles\":[],\"reels\":[{},{}]}",
	     "reels[0].content_id: expected a non-empty string or an integer"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\"},\"profiles\":[],\"reels\":[{"
	     "\"content_id\":\"x\",\"username\":\"a\"},{\"content_id\":\"y\",\"username\":5}]}",
	     "reels[1].username: expected a non-empty string"},
	    {"{\"now\":1,\"job\":{\"primary_username\":\"a\"},\"profiles\":[],\"reels\":[],"
	     "\"since\":\"yesterday\"}",
	     "since: expected unix seconds or null"},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		json_error_t jerr;
		json_t *in = json_loads(table[i].json, 0, &jerr);
		ASSERT(in != NULL);
		json_t *out = (json_t *)1;
		char err[256];
		int rc = analysis_run(in, &out, err, sizeof(err));
		if (rc != -EINVAL)
			FAIL("%s: expected -EINVAL, seen %d", table[i].json, rc);
		ASSERT(out == NULL);
		if (!strstr(err, table[i].err))
			FAIL("%s: expected error \"%s\", seen \"%s\"", table[i].json, table[i].err,
			     err);
		json_decref(in);
	}
	json_t *out;
	ASSERT_EQ_INT(analysis_run(NULL, &out, NULL, 0), -EINVAL);
}

/* ---- speed ------------------------------------------------------------- */

static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time, not wall time: the machine is shared. */
TEST(engine_speed_for_four_accounts_of_twelve_reels)
{
	json_t *in = standard_job();
	int n = 0;
	double t0 = cpu_ms(), el;
	do {
		json_t *out = run_ok(in);
		json_decref(out);
		n++;
	} while ((el = cpu_ms() - t0) < 300);
	printf("  %.0f analyses per CPU second (4 accounts x 12 reels, output built and freed)\n",
	       n * 1000.0 / el);
	/* generous: sanitizer builds are slower; valgrind (make memcheck) is
	 * far slower still, so there only the memory is checked. */
	if (!getenv("VIRALSUP_UNDER_VALGRIND"))
		ASSERT_CMP_INT(n, >, 30);
	json_decref(in);
}
