/*
 * The llm engine's pure half: what the prompts carry, the schemas replies
 * must match, tolerant parsing, validation, and merging into the rules
 * output. No I/O (llm.c makes the calls). See llm.h.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/analyzer/llm.h"

#define TEXT_CAP 4000 /* longest string kept from a reply */

const char *llm_part_name(enum llm_part p)
{
	static const char *const names[] = {"profile_analysis", "hook_analysis", "generated_hooks",
	                                    "script"};
	return p < LLM_PARTS ? names[p] : "?";
}

/* ---- small JSON helpers ---- */

static void set(json_t *o, const char *k, json_t *v)
{
	if (!v || json_object_set_new(o, k, v) < 0) {
		fprintf(stderr, "llm: out of memory\n");
		abort();
	}
}

static void push(json_t *a, json_t *v)
{
	if (!v || json_array_append_new(a, v) < 0) {
		fprintf(stderr, "llm: out of memory\n");
		abort();
	}
}

/* Value at a dotted path ("analysis_data.profile_analysis"), or NULL. */
static json_t *at(const json_t *o, const char *path)
{
	char key[64];
	json_t *cur = (json_t *)o;
	while (cur && *path) {
		size_t n = strcspn(path, ".");
		if (n >= sizeof key)
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		cur = json_object_get(cur, key);
		path += n + (path[n] == '.');
	}
	return cur;
}

static const char *str_at(const json_t *o, const char *path)
{
	return json_string_value(at(o, path));
}

/* A copy of s cut to at most max bytes on a UTF-8 boundary (json string). */
static json_t *cut(const char *s, size_t max)
{
	if (!s)
		return json_null();
	size_t n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	json_t *v = json_stringn(s, n);
	return v ? v : json_string("");
}

static json_t *copy_or_null(const json_t *v)
{
	return v ? json_deep_copy(v) : json_null();
}

/* The input reel with this content_id (string or integer in the input). */
static const json_t *input_reel(const json_t *input, const char *content_id)
{
	const json_t *r;
	size_t i;
	char buf[32];
	if (!content_id)
		return NULL;
	json_array_foreach(json_object_get(input, "reels"), i, r)
	{
		const json_t *id = json_object_get(r, "content_id");
		const char *s = json_string_value(id);
		if (json_is_integer(id)) {
			snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(id));
			s = buf;
		}
		if (s && !strcmp(s, content_id))
			return r;
	}
	return NULL;
}

/* ---- the grounded context ---- */

static json_t *terms(const json_t *list, bool over, bool hashtag)
{
	json_t *a = json_array();
	const json_t *t;
	size_t i;
	json_array_foreach(list, i, t)
	{
		double lift = json_number_value(json_object_get(t, "lift"));
		if ((lift > 1.0) != over)
			continue;
		const char *term = json_string_value(json_object_get(t, "term"));
		if (!term)
			continue;
		if (!over) {
			push(a, json_sprintf("%s%s", hashtag ? "#" : "", term));
			continue;
		}
		push(a, json_pack("{s:s+, s:O?, s:O?, s:f}", "topic", hashtag ? "#" : "", term,
		                  "competitor_reels", json_object_get(t, "competitor_reels"),
		                  "competitor_accounts", json_object_get(t, "competitor_accounts"),
		                  "lift", round(lift * 100) / 100));
	}
	return a;
}

json_t *llm_context(const json_t *input, const json_t *out)
{
	const json_t *ad = json_object_get(out, "analysis_data");
	const json_t *pa = json_object_get(ad, "profile_analysis");
	const char *primary = str_at(input, "job.primary_username");
	json_t *ctx = json_object();

	/* The creator. */
	const json_t *m = at(pa, "metrics.primary");
	json_t *creator = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "username",
	                            json_object_get(m, "username"), "profile_name",
	                            json_object_get(m, "profile_name"), "followers",
	                            json_object_get(m, "followers"), "median_views",
	                            json_object_get(m, "median_nonzero_views"), "engagement_rate",
	                            json_object_get(m, "engagement_rate"), "posts_per_week",
	                            json_object_get(m, "posts_per_week"));
	const json_t *p;
	size_t i;
	json_array_foreach(json_object_get(input, "profiles"), i, p)
	{
		const char *u = json_string_value(json_object_get(p, "username"));
		if (u && primary && !strcasecmp(u[0] == '@' ? u + 1 : u, primary))
			set(creator, "bio", cut(json_string_value(json_object_get(p, "bio")), 400));
	}
	set(ctx, "creator", creator);
	const json_t *cs = at(input, "job.content_strategy");
	set(ctx, "content_strategy", json_is_object(cs) ? json_deep_copy(cs) : json_null());
	set(ctx, "creator_themes", copy_or_null(at(pa, "profile_summary.primary_content_themes")));

	/* The analysed reels: the creator's best hooks and the competitors' outliers. */
	json_t *own = json_array(), *comp = json_array(), *voice = json_array();
	const json_t *r;
	json_array_foreach(json_object_get(ad, "individual_reel_analyses"), i, r)
	{
		const char *id = json_string_value(json_object_get(r, "content_id"));
		const json_t *ir = input_reel(input, id);
		bool mine =
		    !strcmp(str_at(r, "reel_type") ? str_at(r, "reel_type") : "", "primary");
		json_t *o = json_pack("{s:s?, s:O?, s:O?, s:O?, s:O?}", "content_id", id,
		                      "username", json_object_get(r, "username"), "hook",
		                      at(r, "hook_analysis.hook_text"), "views",
		                      json_object_get(r, "view_count"), "outlier_vs_account_median",
		                      json_object_get(r, "outlier_score"));
		set(o, "caption", cut(json_string_value(json_object_get(ir, "description")), 240));
		set(o, "transcript",
		    cut(json_string_value(json_object_get(ir, "transcript_text")),
		        mine ? 300 : 400));
		push(mine ? own : comp, o);
		if (mine && json_array_size(voice) < 3) {
			const char *tr = json_string_value(json_object_get(ir, "transcript_text"));
			const char *d = json_string_value(json_object_get(ir, "description"));
			if ((tr && *tr) || (d && *d))
				push(voice, cut(tr && *tr ? tr : d, 600));
		}
	}
	set(ctx, "creator_best_reels", own);
	set(ctx, "creator_voice_samples", voice);
	set(ctx, "competitor_outliers", comp);

	/* Trends: only what over-performs is offered; the rest is named to avoid. */
	const json_t *tt = at(pa, "trends.topics"), *th = at(pa, "trends.hashtags");
	json_t *over = terms(tt, true, false), *tags = terms(th, true, true);
	size_t k;
	json_array_foreach(tags, k, p) push(over, json_incref((json_t *)p));
	json_decref(tags);
	set(ctx, "trending_topics", over);
	json_t *weak = terms(tt, false, false), *weak_tags = terms(th, false, true);
	json_array_extend(weak, weak_tags);
	json_decref(weak_tags);
	set(ctx, "weak_topics", weak);
	/* The rules engine's subjects, minus any that under-performs. */
	json_t *subjects = json_array();
	json_array_foreach(json_object_get(ad, "generated_hooks"), i, r)
	{
		const json_t *s = json_object_get(r, "new_subject_used"), *w;
		bool weak_one = false;
		json_array_foreach(weak, k, w) weak_one |=
		    json_is_string(s) && !strcasecmp(json_string_value(w), json_string_value(s));
		if (json_is_string(s) && !weak_one)
			push(subjects, json_deep_copy(s));
	}
	set(ctx, "candidate_subjects", subjects);
	return ctx;
}

/* ---- prompts ---- */

static const char SYSTEM[] =
    "You are a short-form video content strategist writing for one Instagram creator.\n"
    "Ground rules:\n"
    "- Use only facts in the DATA. Never invent credentials (do not call the creator a "
    "doctor, dermatologist, coach, nutritionist or expert unless their bio says so), "
    "numbers, prices, percentages, results, timelines, client stories or statistics.\n"
    "- Write in the creator's own voice: their words, their energy, their language (if "
    "they mix Spanish or Portuguese with English, you may too). Plain spoken sentences a "
    "person says to camera, no stage directions, no hashtags in spoken text.\n"
    "- The content strategy's goals are what the creator wants (e.g. to sell a program); "
    "they are not the audience's problem.\n"
    "- Auto-captions and transcripts may have no punctuation: read them for meaning.\n"
    "- Answer with one JSON object matching the requested schema and nothing else.";

static json_t *messages(const char *task, json_t *data)
{
	char *d = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(6));
	json_decref(data);
	json_t *m = json_pack("[{s:s, s:s}, {s:s, s:s++}]", "role", "system", "content", SYSTEM,
	                      "role", "user", "content", task, "\n\nDATA:\n", d ? d : "{}");
	free(d);
	return m;
}

json_t *llm_messages(enum llm_part p, const json_t *ctx, const json_t *input, const json_t *arg,
                     const json_t *hooks)
{
	char task[3000];
	const char *user = str_at(ctx, "creator.username");
	user = user ? user : "the creator";
	switch (p) {
	case LLM_PROFILE:
		snprintf(
		    task, sizeof task,
		    "Analyse @%s for a content plan. profile_summary: who they are and who they "
		    "serve, from the bio, strategy and reels. audience_pain_points: 3-5 problems "
		    "the target audience has, in the audience's words (not the creator's "
		    "goals). top_performing_patterns: from creator_best_reels (higher "
		    "outlier_vs_account_median = better). new_content_opportunities."
		    "unexplored_topics: up to 5 subjects from trending_topics (lift > 1 means "
		    "competitors' reels on it beat their usual reel; never one from "
		    "weak_topics), each a specific subject of 1-4 words, with a one-sentence "
		    "topic_description citing its figures; content_angles: one concrete angle "
		    "per topic for this audience. content_analysis.best_performing_categories: "
		    "the content categories of the creator's best reels.",
		    user);
		return messages(task, json_deep_copy(ctx));
	case LLM_HOOK_ANALYSIS: {
		const char *id = json_string_value(json_object_get(arg, "content_id"));
		const json_t *ir = input_reel(input, id);
		json_t *reel = json_pack(
		    "{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?}", "username",
		    json_object_get(arg, "username"), "reel_type",
		    json_object_get(arg, "reel_type"), "views", json_object_get(ir, "view_count"),
		    "likes", json_object_get(ir, "like_count"), "comments",
		    json_object_get(ir, "comment_count"), "outlier_vs_account_median",
		    json_object_get(arg, "outlier_score"));
		set(reel, "caption",
		    cut(json_string_value(json_object_get(ir, "description")), 1000));
		set(reel, "transcript",
		    cut(json_string_value(json_object_get(ir, "transcript_text")), 1500));
		snprintf(
		    task, sizeof task,
		    "Analyse the hook of this reel (its first spoken line, else the caption's "
		    "first line). hook_text: that line as the viewer hears it, punctuated, at "
		    "most 25 words, in its original language. hook_type: one of number_list, "
		    "how_to, warning, contrarian, question, story, curiosity, statement. "
		    "effectiveness_score 0-10, calibrated: 5 = as good as the account's median "
		    "reel, about +1.5 per doubling of outlier_vs_account_median, 9+ only for a "
		    "reel far above its median. why_it_works: specific to this hook, citing its "
		    "words. improvement_potential: one concrete change. audience_hook_match: "
		    "who this hook speaks to.");
		return messages(task, reel);
	}
	case LLM_HOOKS: {
		snprintf(
		    task, sizeof task,
		    "Write exactly 5 hooks (spoken first lines) for @%s's next reels.\n"
		    "- Each adapts the structure of one competitor outlier (its content_id in "
		    "source_reel_id; \"\" if none fits) to a subject for this creator; say how "
		    "in adaptation_strategy.\n"
		    "- One subject per hook: the five new_subject_used values must all differ. "
		    "Take subjects from trending_topics, candidate_subjects or creator_themes "
		    "that fit the content strategy; never from weak_topics. A subject is a "
		    "specific thing (\"hostel kitchens\", \"glute bridges\"), not one generic "
		    "word.\n"
		    "- Serve the strategy's target audience; hooks lead towards its goals.\n"
		    "- A hook that promises a number (\"3 mistakes\") must be one the script "
		    "can deliver. At most 20 words, grammatical, in the creator's voice.\n"
		    "- why_it_works cites the source reel's figures from the DATA, nothing "
		    "invented.",
		    user);
		return messages(task, json_deep_copy(ctx));
	}
	case LLM_SCRIPT: {
		size_t i = (size_t)json_integer_value(arg);
		const json_t *h = json_array_get(json_object_get(hooks, "hooks"), i);
		json_t *data = json_deep_copy(ctx);
		set(data, "hook", json_deep_copy(h));
		const char *src = str_at(h, "source_reel_id");
		const json_t *r;
		size_t k;
		json_array_foreach(json_object_get(ctx, "competitor_outliers"), k, r)
		{
			const char *id = str_at(r, "content_id");
			if (src && id && !strcmp(src, id))
				set(data, "source_reel", json_deep_copy(r));
		}
		snprintf(
		    task, sizeof task,
		    "Write the full spoken script of hook %zu for @%s: exactly what the creator "
		    "says on camera, 110-170 words, the first sentence being the hook "
		    "verbatim. structure_breakdown: hook_section (the hook), problem_section "
		    "(the audience's real problem, in their words), solution_section (the "
		    "concrete points, spoken; if the hook promises N things, give exactly N), "
		    "cta_section (one call to action towards the strategy's goals). "
		    "full_script: the four sections as one spoken text. estimated_duration: "
		    "seconds at about 2.5 words per second. voice_analysis: from "
		    "creator_voice_samples. authenticity_score: 0-10 each, honestly.",
		    i + 1, user);
		return messages(task, data);
	}
	default:
		return json_array();
	}
}

/* ---- schemas ---- */

static const char *const SCHEMA_TEXT[LLM_PARTS] = {
    /* LLM_PROFILE */
    "{\"type\":\"object\",\"properties\":{"
    "\"profile_summary\":{\"type\":\"object\",\"properties\":{\"core_identity\":{\"type\":"
    "\"string\"},\"unique_value_proposition\":{\"type\":\"string\"},\"primary_content_themes\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"target_audience_description\":{"
    "\"type\":\"string\"},\"content_personality\":{\"type\":\"string\"},\"audience_pain_points\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"signature_approaches\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"}}}},"
    "\"top_performing_patterns\":{\"type\":\"object\",\"properties\":{\"most_engaging_topics\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"winning_content_formats\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"}},\"audience_engagement_triggers\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"}}}},"
    "\"new_content_opportunities\":{\"type\":\"object\",\"properties\":{\"unexplored_topics\":{"
    "\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"topic_descriptions\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"topic\":{\"type\":\"string\"},"
    "\"description\":{\"type\":\"string\"}}}},\"content_angles\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"string\"}}}},"
    "\"content_analysis\":{\"type\":\"object\",\"properties\":{\"best_performing_categories\":{"
    "\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}}}",
    /* LLM_HOOK_ANALYSIS */
    "{\"type\":\"object\",\"properties\":{"
    "\"hook_analysis\":{\"type\":\"object\",\"properties\":{\"hook_text\":{\"type\":\"string\"},"
    "\"hook_type\":{\"type\":\"string\"},\"hook_strategy\":{\"type\":\"string\"},\"power_words\":"
    "{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"emotional_triggers\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"}},\"effectiveness_score\":{\"type\":\"number\"},"
    "\"why_it_works\":{\"type\":\"string\"},\"psychological_principles\":{\"type\":\"array\","
    "\"items\":{\"type\":\"string\"}},\"audience_hook_match\":{\"type\":\"string\"},"
    "\"improvement_potential\":{\"type\":\"string\"}}},"
    "\"engagement_correlation\":{\"type\":\"object\",\"properties\":{"
    "\"hook_to_engagement_strength\":{\"type\":\"string\"},\"likely_scroll_stop_factors\":{"
    "\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"retention_elements\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"}}}}}}",
    /* LLM_HOOKS */
    "{\"type\":\"object\",\"properties\":{\"hooks\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"object\",\"properties\":{\"hook_text\":{\"type\":\"string\"},\"hook_type\":{\"type\":"
    "\"string\"},\"source_reel_id\":{\"type\":\"string\"},\"new_subject_used\":{\"type\":"
    "\"string\"},\"adaptation_strategy\":{\"type\":\"string\"},\"psychological_triggers\":{"
    "\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"power_words_used\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"}},\"why_it_works\":{\"type\":\"string\"},"
    "\"creator_voice_elements\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"content_theme_alignment\":{\"type\":\"string\"}}}}}}",
    /* LLM_SCRIPT */
    "{\"type\":\"object\",\"properties\":{"
    "\"script\":{\"type\":\"object\",\"properties\":{\"title\":{\"type\":\"string\"},"
    "\"hook_used\":{\"type\":\"string\"},\"full_script\":{\"type\":\"string\"},"
    "\"structure_breakdown\":{\"type\":\"object\",\"properties\":{\"hook_section\":{\"type\":"
    "\"string\"},\"problem_section\":{\"type\":\"string\"},\"solution_section\":{\"type\":"
    "\"string\"},\"cta_section\":{\"type\":\"string\"}}},\"estimated_duration\":{\"type\":"
    "\"integer\"},\"creator_voice_elements\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"string\"}},\"speaking_pattern_match\":{\"type\":\"string\"},\"energy_level\":{\"type\":"
    "\"string\"},\"vocabulary_alignment\":{\"type\":\"string\"}}},"
    "\"voice_analysis\":{\"type\":\"object\",\"properties\":{\"typical_phrases\":{\"type\":"
    "\"array\",\"items\":{\"type\":\"string\"}},\"sentence_structure\":{\"type\":\"string\"},"
    "\"transition_words\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"energy_markers\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}},"
    "\"authenticity_score\":{\"type\":\"object\",\"properties\":{\"voice_match\":{\"type\":"
    "\"number\"},\"vocabulary_accuracy\":{\"type\":\"number\"},\"natural_flow\":{\"type\":"
    "\"number\"},\"personality_capture\":{\"type\":\"number\"}}}}}",
};

/* Strict mode (OpenAI): every property required, no others. */
static void strictify(json_t *s)
{
	json_t *props = json_object_get(s, "properties");
	if (props) {
		json_t *req = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(props, k, v)
		{
			push(req, json_string(k));
			strictify(v);
		}
		set(s, "required", req);
		set(s, "additionalProperties", json_false());
	}
	json_t *items = json_object_get(s, "items");
	if (items)
		strictify(items);
}

const json_t *llm_schema(enum llm_part p)
{
	static json_t *schemas[LLM_PARTS];
	if (p >= LLM_PARTS)
		return NULL;
	if (!schemas[p]) {
		schemas[p] = json_loads(SCHEMA_TEXT[p], 0, NULL);
		if (!schemas[p]) {
			fprintf(stderr, "llm: schema %d does not parse\n", (int)p);
			abort();
		}
		strictify(schemas[p]);
	}
	return schemas[p];
}

/* ---- parsing and validation ---- */

/* Checks v against the schema subset we use; repairs what is harmless (long
 * strings cut, reals for integers rounded). Returns false with the path. */
static bool check(json_t *parent, const char *key, size_t idx, json_t *v, const json_t *s,
                  char *path, size_t plen, char *why, size_t whylen)
{
	const char *type = json_string_value(json_object_get(s, "type"));
	size_t len = strlen(path);
	if (!strcmp(type, "string")) {
		if (!json_is_string(v)) {
			snprintf(why, whylen, "%s: expected a string", *path ? path : "reply");
			return false;
		}
		if (json_string_length(v) > TEXT_CAP) {
			json_t *c = cut(json_string_value(v), TEXT_CAP);
			if (parent && key)
				set(parent, key, c);
			else if (parent)
				json_array_set_new(parent, idx, c);
			else
				json_decref(c);
		}
		return true;
	}
	if (!strcmp(type, "number") || !strcmp(type, "integer")) {
		if (!json_is_number(v)) {
			snprintf(why, whylen, "%s: expected a number", path);
			return false;
		}
		if (!strcmp(type, "integer") && json_is_real(v) && parent && key)
			set(parent, key, json_integer((json_int_t)llround(json_real_value(v))));
		return true;
	}
	if (!strcmp(type, "array")) {
		if (!json_is_array(v)) {
			snprintf(why, whylen, "%s: expected an array", path);
			return false;
		}
		const json_t *items = json_object_get(s, "items");
		for (size_t i = 0; i < json_array_size(v); i++) {
			snprintf(path + len, plen - len, "[%zu]", i);
			if (!check(v, NULL, i, json_array_get(v, i), items, path, plen, why,
			           whylen))
				return false;
		}
		path[len] = '\0';
		return true;
	}
	if (!json_is_object(v)) {
		snprintf(why, whylen, "%s: expected an object", *path ? path : "reply");
		return false;
	}
	const char *k;
	json_t *ps;
	json_object_foreach(json_object_get(s, "properties"), k, ps)
	{
		snprintf(path + len, plen - len, "%s%s", len ? "." : "", k);
		json_t *f = json_object_get(v, k);
		if (!f) {
			snprintf(why, whylen, "%s: missing", path);
			return false;
		}
		if (!check(v, k, 0, f, ps, path, plen, why, whylen))
			return false;
	}
	path[len] = '\0';
	return true;
}

/* Lower-cased, letters and digits only: "Hostel  Kitchens!" -> "hostelkitchens". */
static void squash(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	for (; s && *s && n + 1 < cap; s++)
		if (isalnum((unsigned char)*s) || (unsigned char)*s >= 0x80)
			out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
}

static int words(const char *s)
{
	int n = 0;
	bool in = false;
	for (; s && *s; s++) {
		bool w = !isspace((unsigned char)*s);
		n += w && !in;
		in = w;
	}
	return n;
}

static bool nonempty(const json_t *o, const char *path, char *why, size_t whylen)
{
	const char *s = str_at(o, path);
	for (; s && *s; s++)
		if (!isspace((unsigned char)*s))
			return true;
	snprintf(why, whylen, "%s: empty", path);
	return false;
}

/* The part's own rules beyond the schema. */
static bool part_rules(enum llm_part p, json_t *v, char *why, size_t whylen)
{
	switch (p) {
	case LLM_HOOK_ANALYSIS: {
		if (!nonempty(v, "hook_analysis.hook_text", why, whylen))
			return false;
		json_t *h = json_object_get(v, "hook_analysis");
		double e = json_number_value(json_object_get(h, "effectiveness_score"));
		e = isfinite(e) ? (e < 0 ? 0 : e > 10 ? 10 : e) : 0;
		set(h, "effectiveness_score", json_real(round(e * 10) / 10));
		return true;
	}
	case LLM_HOOKS: {
		json_t *a = json_object_get(v, "hooks");
		if (json_array_size(a) < 5) {
			snprintf(why, whylen, "hooks: %zu of 5", json_array_size(a));
			return false;
		}
		while (json_array_size(a) > 5)
			json_array_remove(a, 5);
		char subj[5][128], text[5][256];
		for (size_t i = 0; i < 5; i++) {
			json_t *h = json_array_get(a, i);
			if (!nonempty(h, "hook_text", why, whylen) ||
			    !nonempty(h, "new_subject_used", why, whylen))
				return false;
			if (words(str_at(h, "hook_text")) > 40) {
				snprintf(why, whylen, "hooks[%zu].hook_text: over 40 words", i);
				return false;
			}
			squash(str_at(h, "new_subject_used"), subj[i], sizeof subj[i]);
			squash(str_at(h, "hook_text"), text[i], sizeof text[i]);
			for (size_t j = 0; j < i; j++) {
				if (!strcmp(subj[i], subj[j])) {
					snprintf(
					    why, whylen,
					    "hooks[%zu] and hooks[%zu] share the subject \"%s\"", j,
					    i, str_at(h, "new_subject_used"));
					return false;
				}
				if (!strcmp(text[i], text[j])) {
					snprintf(why, whylen, "hooks[%zu] repeats hooks[%zu]", i,
					         j);
					return false;
				}
			}
		}
		return true;
	}
	case LLM_SCRIPT: {
		if (!nonempty(v, "script.full_script", why, whylen))
			return false;
		if (words(str_at(v, "script.full_script")) < 25) {
			snprintf(why, whylen, "script.full_script: %d words, not a script",
			         words(str_at(v, "script.full_script")));
			return false;
		}
		json_t *s = json_object_get(v, "script");
		json_int_t d = json_integer_value(json_object_get(s, "estimated_duration"));
		if (d < 5 || d > 600)
			set(s, "estimated_duration",
			    json_integer(
			        (json_int_t)lround(words(str_at(s, "full_script")) / 2.5)));
		json_t *auth = json_object_get(v, "authenticity_score");
		const char *k;
		json_t *x;
		json_object_foreach(auth, k, x)
		{
			double e = json_number_value(x);
			e = isfinite(e) ? (e < 0 ? 0 : e > 10 ? 10 : e) : 0;
			json_object_set_new(auth, k, json_real(round(e * 10) / 10));
		}
		return true;
	}
	default:
		return true;
	}
}

json_t *llm_parse_reply(enum llm_part p, const char *content, size_t len, char *why, size_t whylen)
{
	const char *s = content, *end = content + len;
	if (!content || !len) {
		snprintf(why, whylen, "empty reply");
		return NULL;
	}
	/* A fenced block: ```json ... ``` (models add them even when told not to). */
	const char *fence = memmem(s, len, "```", 3);
	if (fence) {
		const char *body = memchr(fence + 3, '\n', (size_t)(end - fence - 3));
		const char *close = body ? memmem(body, (size_t)(end - body), "```", 3) : NULL;
		if (body && close)
			s = body + 1, end = close;
	}
	const char *open = memchr(s, '{', (size_t)(end - s));
	if (!open) {
		snprintf(why, whylen, "no JSON object in the reply");
		return NULL;
	}
	json_error_t jerr;
	json_t *v = json_loadb(open, (size_t)(end - open), JSON_DISABLE_EOF_CHECK, &jerr);
	if (!v) {
		snprintf(why, whylen, "reply is not JSON: %s", jerr.text);
		return NULL;
	}
	/* A bare array of hooks is a common shape for "5 hooks". */
	char path[256] = "";
	if (!check(NULL, NULL, 0, v, llm_schema(p), path, sizeof path, why, whylen) ||
	    !part_rules(p, v, why, whylen)) {
		json_decref(v);
		return NULL;
	}
	return v;
}

/* ---- cache key ---- */

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= 0xff; /* field separator */
	h *= 0x100000001b3ULL;
	return h;
}

void llm_reel_key(const json_t *input, const json_t *analysis, const char *model, char key[33])
{
	const char *id = str_at(analysis, "content_id");
	const json_t *ir = input_reel(input, id);
	const char *f[] = {LLM_PROMPT_VERSION,
	                   model,
	                   str_at(analysis, "username"),
	                   id,
	                   json_string_value(json_object_get(ir, "description")),
	                   json_string_value(json_object_get(ir, "transcript_text"))};
	uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		a = fnv(a, f[i]);
		b = fnv(b ^ (i + 1) * 0x9e3779b97f4a7c15ULL, f[i]);
	}
	snprintf(key, 33, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
}

/* ---- merging ---- */

void llm_merge_profile(json_t *out, const json_t *reply)
{
	json_t *pa = at(out, "analysis_data.profile_analysis");
	if (!pa)
		return;
	const char *sec;
	json_t *fields;
	json_object_foreach((json_t *)reply, sec, fields)
	{
		json_t *dst = json_object_get(pa, sec);
		if (!dst) {
			set(pa, sec, json_deep_copy(fields));
			continue;
		}
		const char *k;
		json_t *v;
		json_object_foreach(fields, k, v)
		{
			if (!strcmp(k, "topic_descriptions")) {
				json_t *d = json_object(), *e;
				size_t i;
				json_array_foreach(v, i, e)
				{
					const char *t = str_at(e, "topic"),
					           *x = str_at(e, "description");
					if (t && x)
						set(d, t, json_string(x));
				}
				set(dst, k, d);
			} else
				set(dst, k, json_deep_copy(v));
		}
	}
	set(pa, "generated_by", json_string("llm"));
}

void llm_merge_hook_analysis(json_t *out, size_t index, const json_t *analysis, const char *by)
{
	json_t *e = json_array_get(at(out, "analysis_data.individual_reel_analyses"), index);
	if (!e)
		return;
	json_t *ha = json_object_get(e, "hook_analysis");
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(analysis, "hook_analysis"), k, v)
	{
		/* Numbers stay measured: the score is the rules engine's (from the reel's
		 * outlier score); the model's own guess is kept beside it. */
		if (!strcmp(k, "effectiveness_score") && json_object_get(ha, k))
			set(ha, "model_effectiveness_score", json_deep_copy(v));
		else
			set(ha, k, json_deep_copy(v));
	}
	set(e, "engagement_correlation",
	    json_deep_copy(json_object_get(analysis, "engagement_correlation")));
	set(e, "generated_by", json_string(by));
	/* The reel's row carries the same analysis and the model's reading of its hook. */
	const char *id = str_at(e, "content_id");
	json_t *row;
	size_t i;
	json_array_foreach(json_object_get(out, "reels"), i, row)
	{
		if (id && str_at(row, "content_id") && !strcmp(id, str_at(row, "content_id"))) {
			json_t *meta = json_object_get(row, "analysis_metadata");
			set(row, "hook_text", json_deep_copy(json_object_get(ha, "hook_text")));
			if (meta) {
				set(meta, "hook_analysis", json_deep_copy(e));
				set(meta, "hook_analysis_by", json_string(by));
			}
		}
	}
}

/* The analysed competitor reel with this id, or NULL. */
static const json_t *analysed(const json_t *out, const char *id)
{
	const json_t *e;
	size_t i;
	json_array_foreach(at(out, "analysis_data.individual_reel_analyses"), i, e)
	{
		const char *c = str_at(e, "content_id");
		if (id && *id && c && !strcmp(c, id))
			return e;
	}
	return NULL;
}

static json_t *source_metadata(const json_t *out, const json_t *src)
{
	const json_t *h;
	size_t i;
	const char *id = str_at(src, "content_id");
	json_array_foreach(at(out, "analysis_data.generated_hooks"), i, h)
	{
		const char *s = str_at(h, "source_reel_id");
		if (s && id && !strcmp(s, id))
			return json_deep_copy(json_object_get(h, "source_reel_metadata"));
	}
	const char *code = str_at(src, "shortcode");
	json_t *m = json_pack(
	    "{s:O?, s:O?, s:O?, s:O?, s:O?}", "reel_id", json_object_get(src, "content_id"),
	    "content_id", json_object_get(src, "content_id"), "shortcode",
	    json_object_get(src, "shortcode"), "username", json_object_get(src, "username"),
	    "view_count", json_object_get(src, "view_count"));
	if (code)
		set(m, "instagram_url", json_sprintf("https://www.instagram.com/p/%s/", code));
	return m;
}

static void put_at(json_t *arr, int i, json_t *v)
{
	if ((size_t)i < json_array_size(arr))
		json_array_set_new(arr, (size_t)i, v);
	else
		push(arr, v);
}

void llm_merge_pair(json_t *out, const json_t *input, int i, const json_t *hook,
                    const json_t *script, const struct llm_config *cfg)
{
	json_t *ad = json_object_get(out, "analysis_data");
	json_t *hooks = json_object_get(ad, "generated_hooks");
	json_t *cscripts = json_object_get(ad, "complete_scripts");
	json_t *summary = json_object_get(ad, "scripts_summary");
	json_t *rows = json_object_get(out, "scripts");
	if (!hook || !script) {
		/* The rules pair stays (if there is one): mark it. */
		json_t *h = json_array_get(hooks, (size_t)i);
		if (h)
			set(h, "generated_by", json_string("rules"));
		return;
	}
	const json_t *cs = at(input, "job.content_strategy");
	const char *audience = str_at(cs, "targetAudience"), *ctype = str_at(cs, "contentType"),
	           *goals = str_at(cs, "goals");
	const json_t *src = analysed(out, str_at(hook, "source_reel_id"));
	bool comp =
	    src && str_at(src, "reel_type") && !strcmp(str_at(src, "reel_type"), "competitor");
	const char *comp_user = comp ? str_at(src, "username") : NULL;
	const json_t *comp_hook = comp ? at(src, "hook_analysis.hook_text") : NULL;
	const char *comp_reel = comp ? str_at(src, "content_id") : NULL;
	const char *text = str_at(hook, "hook_text");
	const json_t *sc = json_object_get(script, "script");

	json_t *h = json_object();
	set(h, "hook_id", json_integer(i + 1));
	set(h, "hook_text", json_string(text));
	set(h, "original_competitor_hook", copy_or_null(comp_hook));
	set(h, "source_reel_id",
	    src ? json_deep_copy(json_object_get(src, "content_id")) : json_null());
	set(h, "source_username",
	    src ? json_deep_copy(json_object_get(src, "username"))
	        : json_string(str_at(input, "job.primary_username")));
	const char *keys[] = {"new_subject_used",
	                      "adaptation_strategy",
	                      "psychological_triggers",
	                      "power_words_used",
	                      "why_it_works",
	                      "creator_voice_elements",
	                      "content_theme_alignment",
	                      "hook_type"};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
		set(h, keys[k], json_deep_copy(json_object_get(hook, keys[k])));
	/* Grounded: the source reel's measured effectiveness, never the model's guess. */
	set(h, "estimated_effectiveness",
	    copy_or_null(src ? at(src, "hook_analysis.effectiveness_score") : NULL));
	set(h, "source_reel_metadata", src ? source_metadata(out, src) : json_object());
	set(h, "generated_by", json_string("llm"));
	put_at(hooks, i, h);

	json_t *s = json_deep_copy(sc);
	set(s, "hook_used", json_string(text));
	set(s, "script_kind", json_string("spoken"));
	json_t *ctx =
	    json_pack("{s:O?, s:O?, s:s++, s:s?, s:s?, s:s?}", "hook_strategy",
	              json_object_get(hook, "adaptation_strategy"), "psychological_triggers",
	              json_object_get(hook, "psychological_triggers"), "unique_angle", "Script #",
	              "", "", "content_type", ctype, "target_audience", audience, "goals", goals);
	set(ctx, "unique_angle",
	    json_sprintf("Script #%d - %s", i + 1,
	                 str_at(hook, "adaptation_strategy") ? str_at(hook, "adaptation_strategy")
	                                                     : ""));
	json_t *c = json_object();
	set(c, "script", s);
	set(c, "voice_analysis", copy_or_null(json_object_get(script, "voice_analysis")));
	set(c, "authenticity_score", copy_or_null(json_object_get(script, "authenticity_score")));
	set(c, "hook_id", json_integer(i + 1));
	set(c, "source_hook", json_string(text));
	set(c, "based_on_competitor", comp_user ? json_string(comp_user) : json_null());
	set(c, "original_competitor_hook", copy_or_null(comp_hook));
	set(c, "competitor_reel_id", comp_reel ? json_string(comp_reel) : json_null());
	set(c, "adaptation_context", json_deep_copy(ctx));
	set(c, "script_kind", json_string("spoken"));
	set(c, "generated_by", json_string("llm"));
	put_at(cscripts, i, c);

	const char *title = str_at(sc, "title");
	json_t *title_v = title && *title ? cut(title, 250) : json_sprintf("Hook Script %d", i + 1);
	json_t *dur = json_deep_copy(json_object_get(sc, "estimated_duration"));
	json_t *sm = json_pack("{s:i, s:i, s:O, s:O, s:s?, s:O?, s:s?, s:s}", "script_id", i + 1,
	                       "hook_id", i + 1, "title", title_v, "estimated_duration", dur,
	                       "based_on_competitor", comp_user, "original_competitor_hook",
	                       comp_hook, "competitor_reel_id", comp_reel, "script_kind", "spoken");
	put_at(summary, i, sm);

	json_t *hm =
	    json_pack("{s:O?, s:O?, s:O?, s:O, s:O?, s:O?}", "hook_strategy",
	              json_object_get(hook, "adaptation_strategy"), "psychological_triggers",
	              json_object_get(hook, "psychological_triggers"), "power_words_used",
	              json_object_get(hook, "power_words_used"), "estimated_effectiveness",
	              json_object_get(h, "estimated_effectiveness"), "content_theme_alignment",
	              json_object_get(hook, "content_theme_alignment"), "hook_type",
	              json_object_get(hook, "hook_type"));
	json_t *src_reels = json_object();
	set(src_reels, "competitor_hook_source",
	    comp ? json_deep_copy(json_object_get(h, "source_reel_metadata")) : json_null());
	set(src_reels, "hook_id", json_integer(i + 1));
	set(src_reels, "adaptation_strategy",
	    copy_or_null(json_object_get(hook, "adaptation_strategy")));
	set(src_reels, "source_reel_id", json_deep_copy(json_object_get(h, "source_reel_id")));
	set(src_reels, "based_on_competitor", comp_user ? json_string(comp_user) : json_null());
	set(src_reels, "original_competitor_hook", copy_or_null(comp_hook));
	set(src_reels, "competitor_reel_id", comp_reel ? json_string(comp_reel) : json_null());
	set(src_reels, "adaptation_context", ctx);
	set(src_reels, "hook_metadata", hm);
	set(src_reels, "voice_analysis", copy_or_null(json_object_get(script, "voice_analysis")));
	json_t *structure = json_deep_copy(json_object_get(sc, "structure_breakdown"));
	set(structure, "script_kind", json_string("spoken"));
	json_t *row = json_object();
	set(row, "script_title", title_v);
	set(row, "script_content", json_deep_copy(json_object_get(sc, "full_script")));
	set(row, "script_type", json_string("reel"));
	set(row, "estimated_duration", dur);
	set(row, "target_audience", audience ? json_string(audience) : json_string(""));
	set(row, "primary_hook", json_string(text));
	set(row, "call_to_action", copy_or_null(at(sc, "structure_breakdown.cta_section")));
	set(row, "source_reels", src_reels);
	set(row, "script_structure", structure);
	set(row, "generation_prompt",
	    json_sprintf("%s: hook prompt + script prompt %d; model %s; subject \"%s\"",
	                 LLM_PROMPT_VERSION, i + 1, cfg->model,
	                 str_at(hook, "new_subject_used") ? str_at(hook, "new_subject_used") : ""));
	set(row, "ai_model", json_string(cfg->model));
	set(row, "generation_temperature", json_real(cfg->temperature));
	set(row, "status", json_string("completed"));
	set(row, "script_kind", json_string("spoken"));
	put_at(rows, i, row);
}
