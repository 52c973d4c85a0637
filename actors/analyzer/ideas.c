/*
 * Ideas: five new hooks, each keeping a proven competitor hook's structure
 * and swapping in a trend topic, and a short script per hook (hook,
 * problem, solution, call to action) written for the job's content
 * strategy. Deterministic templates, no model.
 */
#include <math.h>
#include <string.h>

#include "actors/analyzer/analysis.h"

#define SCRIPT_MAX 4000

struct idea {
	const struct an_reel *src;
	const char *topic, *hook, *old_word, *strategy_text, *alignment;
	enum hook_type type;
	bool substituted;
	uint64_t power;
};

/* Topics in order of preference, deduplicated. Returns the count. */
static int collect_topics(struct an_ctx *c, const char **out, int max)
{
	int n = 0;
	const char *cand[2 * AN_TRENDS + 8];
	int nc = 0;
	/* Hashtags first: creators name their topics there; words come second. */
	for (int i = 0; i < c->nhashtags; i++)
		cand[nc++] = c->hashtags[i].term;
	for (int i = 0; i < c->ntopics; i++)
		cand[nc++] = c->topics[i].term;
	if (c->strategy_given && *c->content_type)
		cand[nc++] = c->content_type;
	for (int i = 0; i < c->nthemes; i++)
		cand[nc++] = c->themes[i];
	for (int i = 0; i < nc && n < max; i++) {
		bool dup = false;
		for (int j = 0; j < n && !dup; j++)
			dup = !strcmp(out[j], cand[i]);
		if (!dup)
			out[n++] = cand[i];
	}
	if (n == 0)
		out[n++] = "your niche";
	return n;
}

static const char *capitalised(struct arena *a, const char *s)
{
	char *p = arena_strndup(a, s, strlen(s));
	if (p[0] >= 'a' && p[0] <= 'z')
		p[0] = (char)(p[0] - 'a' + 'A');
	return p;
}

static const char *template_hook(struct an_ctx *c, enum hook_type t, const char *topic)
{
	struct arena *a = &c->arena;
	switch (t) {
	case HOOK_NUMBER_LIST:
		return arena_printf(a, "3 %s mistakes every %s should stop making", topic,
		                    c->audience);
	case HOOK_HOW_TO:
		return arena_printf(a, "How to get better at %s without burning out", topic);
	case HOOK_WARNING:
		return arena_printf(a, "Stop ignoring %s if %s matters to you", topic, c->goals);
	case HOOK_CONTRARIAN:
		return arena_printf(a, "Unpopular opinion: %s is not what you've been told", topic);
	case HOOK_QUESTION:
		return arena_printf(a, "Why does nobody talk about %s?", topic);
	case HOOK_STORY:
		return arena_printf(a, "I tried %s for 30 days. Here's what happened", topic);
	case HOOK_CURIOSITY:
		return arena_printf(a, "The %s secret nobody tells %s", topic, c->audience);
	default:
		return arena_printf(a, "%s is the most underrated skill for %s",
		                    capitalised(a, topic), c->audience);
	}
}

static const char *const determiners[] = {
    "a",  "about", "an",  "any",   "every", "for",  "her",   "his", "in",   "my",   "no", "of",
    "on", "our",   "the", "their", "these", "this", "those", "to",  "with", "your", NULL};

static bool in_words(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(w, *list))
			return true;
	return false;
}

/*
 * Replaces the source hook's subject with topic, keeping everything else.
 * The subject is a plain ASCII word of 4+ letters that is no stop word,
 * power word or time word: preferably the last one within two words after
 * a determiner or preposition ("your dough", "about hydration"), else the
 * last one. NULL when the hook has none or is over 120 characters.
 */
static const char *substitute(struct an_ctx *c, const char *hook, const char *topic,
                              const char **old_word)
{
	static const char *const time_words[] = {"days",    "weeks", "months", "years",
	                                         "minutes", "hours", "time",   "today",
	                                         "week",    "year",  NULL};
	size_t len = strlen(hook), best = 0, best_len = 0, any = 0, any_len = 0;
	int window = 0;
	char w[TOKEN_MAX + 1];
	if (text_chars(hook) > 120)
		return NULL;
	for (size_t i = 0; i < len;) {
		unsigned char ch = (unsigned char)hook[i];
		if (!((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')) {
			if (ch >= 0x80 || (ch >= '0' && ch <= '9'))
				window = 0; /* a number or a foreign word breaks the phrase */
			i++;
			continue;
		}
		size_t j = i;
		bool plain = true;
		while (j < len) {
			unsigned char d = (unsigned char)hook[j];
			if (((d | 0x20) >= 'a' && (d | 0x20) <= 'z') || d == '\'')
				j++;
			else if (d >= 0x80 || (d >= '0' && d <= '9'))
				plain = false, j++;
			else
				break;
		}
		size_t n = j - i;
		bool det = false;
		if (plain && n <= TOKEN_MAX) {
			for (size_t k = 0; k < n; k++)
				w[k] = (char)(hook[i + k] | 0x20);
			w[n] = '\0';
			det = in_words(w, determiners);
			if (n >= 4 && !strchr(w, '\'') && !text_is_stopword(w) &&
			    !in_words(w, time_words) && !hook_power_words(&c->arena, w)) {
				any = i, any_len = n;
				if (window > 0)
					best = i, best_len = n;
			}
		}
		window = det ? 2 : window > 0 ? window - 1 : 0;
		i = j;
	}
	if (!best_len)
		best = any, best_len = any_len;
	if (!best_len)
		return NULL;
	*old_word = arena_strndup(&c->arena, hook + best, best_len);
	bool cap = hook[best] >= 'A' && hook[best] <= 'Z';
	return arena_printf(&c->arena, "%.*s%s%s", (int)best, hook,
	                    cap ? capitalised(&c->arena, topic) : topic, hook + best + best_len);
}

static const char *solution_text(struct an_ctx *c, enum hook_type t, const char *topic)
{
	struct arena *a = &c->arena;
	switch (t) {
	case HOOK_NUMBER_LIST:
		return arena_printf(a,
		                    "Walk through 3 quick points on %s, one per beat, each with a "
		                    "concrete example.",
		                    topic);
	case HOOK_HOW_TO:
		return arena_printf(
		    a, "Show the method for %s in 3 steps, on screen, the way you do it yourself.",
		    topic);
	case HOOK_WARNING:
		return arena_printf(
		    a, "Name the mistake, show what it costs, then show the fix for %s.", topic);
	case HOOK_CONTRARIAN:
		return arena_printf(
		    a, "State the common belief about %s, then the evidence that flips it.", topic);
	case HOOK_QUESTION:
		return arena_printf(
		    a, "Answer the question with your own take on %s and one example.", topic);
	case HOOK_STORY:
		return arena_printf(
		    a, "Tell it in three beats: before, the turning point with %s, after.", topic);
	case HOOK_CURIOSITY:
		return arena_printf(
		    a, "Reveal the key detail about %s at the midpoint, then explain why it works.",
		    topic);
	default:
		return arena_printf(a, "Back the claim about %s with one proof and one example.",
		                    topic);
	}
}

static bool contains_ci(const char *hay, const char *const *needles)
{
	char low[AN_NAME_MAX + 1];
	size_t n = 0;
	for (; hay[n] && n < AN_NAME_MAX; n++)
		low[n] = (hay[n] >= 'A' && hay[n] <= 'Z') ? (char)(hay[n] + 32) : hay[n];
	low[n] = '\0';
	for (; *needles; needles++)
		if (strstr(low, *needles))
			return true;
	return false;
}

static const char *cta_text(struct an_ctx *c, const char *topic)
{
	static const char *const sell[] = {"sale",    "sell", "lead",    "client", "customer",
	                                   "product", "book", "revenue", NULL};
	static const char *const grow[] = {"follow",    "grow",  "audience",
	                                   "awareness", "reach", NULL};
	static const char *const engage[] = {"engag", "community", "comment", "conversation", NULL};
	static const char *const teach[] = {"educat", "teach", "save", "inform", NULL};
	struct arena *a = &c->arena;
	if (contains_ci(c->goals, sell))
		return arena_printf(a, "Comment \"%s\" and I'll send you the details.", topic);
	if (contains_ci(c->goals, grow))
		return arena_printf(a, "Follow for more on %s.", topic);
	if (contains_ci(c->goals, engage))
		return arena_printf(a, "What's your take on %s? Tell me in the comments.", topic);
	if (contains_ci(c->goals, teach))
		return "Save this for later and send it to someone who needs it.";
	return arena_printf(a, "Follow for more on %s and save this for later.", topic);
}

static int words(const char *s)
{
	int n = 0;
	bool in = false;
	for (; *s; s++) {
		bool sp = *s == ' ' || *s == '\n';
		n += !sp && !in;
		in = !sp;
	}
	return n;
}

static json_t *themes_json(const struct an_ctx *c, int max)
{
	json_t *a = json_array();
	for (int i = 0; i < c->nthemes && i < max; i++)
		an_push(a, an_str(c->themes[i]));
	return a;
}

/* The creator's speaking style from its own picked hooks. */
static void voice(struct an_ctx *c, json_t **voice_out, const char **energy)
{
	int n = 0, w = 0;
	bool excl = false, quest = false;
	for (int k = 0; k < c->npick_primary; k++) {
		const struct an_reel *r = &c->reels[c->picks[k]];
		if (!r->hook)
			continue;
		n++;
		w += words(r->hook);
		excl |= strchr(r->hook, '!') != NULL;
		quest |= strchr(r->hook, '?') != NULL;
	}
	json_t *v = json_object();
	an_set(v, "typical_phrases", themes_json(c, 5));
	const char *structure = NULL;
	if (n)
		structure = w / n <= 10   ? "short, punchy sentences"
		            : w / n <= 20 ? "medium-length sentences"
		                          : "long, explanatory sentences";
	an_set(v, "sentence_structure", an_str(structure));
	an_set(v, "transition_words", json_array());
	json_t *m = json_array();
	if (excl)
		an_push(m, an_str("exclamations"));
	if (quest)
		an_push(m, an_str("questions"));
	an_set(v, "energy_markers", m);
	*voice_out = v;
	*energy = !n ? NULL : excl ? "high" : "medium";
}

void ideas_generate(struct an_ctx *c, json_t *hooks, json_t *scripts, json_t *summary, json_t *rows)
{
	int nsrc = c->npick_competitor;
	if (nsrc == 0)
		return;
	const struct an_reel *src[AN_COMPETITOR_PICKS];
	for (int k = 0; k < nsrc; k++)
		src[k] = &c->reels[c->picks[c->npick_primary + k]];
	const char *topics[AN_HOOKS];
	int ntopics = collect_topics(c, topics, AN_HOOKS);
	const char *creator = c->accounts[c->primary].username;
	json_t *voice_analysis;
	const char *energy;
	voice(c, &voice_analysis, &energy);

	int used_src[AN_HOOKS], used_topic[AN_HOOKS];
	for (int i = 0; i < AN_HOOKS; i++) {
		struct idea d = {.src = src[i % nsrc]};
		const struct an_reel *r = d.src;
		const struct an_account *comp = an_acct(c, r);
		/* Topic i, or the next one that the source hook does not already use. */
		const char *norm = text_normalize(&c->arena, r->hook, strlen(r->hook));
		int ti = i % ntopics;
		bool fresh = false;
		for (int k = 0; k < ntopics && !fresh; k++) {
			char pat[AN_NAME_MAX + 3];
			snprintf(pat, sizeof(pat), " %s ", topics[(i + k) % ntopics]);
			if (!strstr(norm, pat)) {
				ti = (i + k) % ntopics;
				fresh = true;
			}
		}
		d.topic = topics[ti];
		/* A (source, topic) pair seen before gets a different structure. */
		int seen = !fresh;
		for (int j = 0; j < i; j++)
			seen += used_src[j] == i % nsrc && used_topic[j] == ti;
		used_src[i] = i % nsrc;
		used_topic[i] = ti;
		d.type = (enum hook_type)((r->htype + seen) % HOOK_TYPES);
		if (seen == 0)
			d.hook = substitute(c, r->hook, d.topic, &d.old_word);
		d.substituted = d.hook != NULL;
		if (!d.hook)
			d.hook = template_hook(c, d.type, d.topic);
		d.hook = text_clean(&c->arena, d.hook, strlen(d.hook), 400,
		                    TEXT_ONELINE | TEXT_ELLIPSIS);
		d.power = hook_power_words(&c->arena, d.hook);
		d.strategy_text =
		    d.substituted
		        ? arena_printf(&c->arena,
		                       "Kept @%s's %s structure (%s) and swapped \"%s\" for \"%s\"",
		                       comp->username, hook_type_name(d.type),
		                       hook_strategy(d.type), d.old_word, d.topic)
		        : arena_printf(&c->arena,
		                       "Applied a %s structure (%s) from @%s's reel to \"%s\"",
		                       hook_type_name(d.type), hook_strategy(d.type),
		                       comp->username, d.topic);
		const struct an_trend *tr = NULL;
		for (int k = 0; k < c->ntopics && !tr; k++)
			if (!strcmp(c->topics[k].term, d.topic))
				tr = &c->topics[k];
		for (int k = 0; k < c->nhashtags && !tr; k++)
			if (!strcmp(c->hashtags[k].term, d.topic))
				tr = &c->hashtags[k];
		d.alignment =
		    tr ? arena_printf(
		             &c->arena,
		             "\"%s\" appears in %d competitor reels from %d accounts (lift "
		             "%.2f) and not in @%s's reels; written as %s for %s",
		             d.topic, tr->reels, tr->accounts, tr->lift, creator, c->content_type,
		             c->audience)
		       : arena_printf(&c->arena,
		                      "\"%s\" (no competitor trend found); written as %s for %s",
		                      d.topic, c->content_type, c->audience);

		json_t *meta = an_reel_metadata(c, r);
		json_t *h = json_object();
		an_set(h, "hook_id", json_integer(i + 1));
		an_set(h, "hook_text", an_str(d.hook));
		an_set(h, "original_competitor_hook", an_str(r->hook));
		an_set(h, "source_reel_id", an_str(r->content_id));
		an_set(h, "source_username", an_str(comp->username));
		an_set(h, "new_subject_used", an_str(d.topic));
		an_set(h, "adaptation_strategy", an_str(d.strategy_text));
		an_set(h, "psychological_triggers", hook_triggers_json(d.type));
		an_set(h, "power_words_used", hook_power_words_json(d.power));
		an_set(h, "estimated_effectiveness", json_real(r->effectiveness));
		an_set(h, "why_it_works",
		       an_str(arena_printf(&c->arena,
		                           "%s; the source reel reached %.2fx @%s's median views",
		                           hook_strategy(d.type), r->outlier, comp->username)));
		an_set(h, "creator_voice_elements", themes_json(c, 3));
		an_set(h, "content_theme_alignment", an_str(d.alignment));
		an_set(h, "hook_type", an_str(hook_type_name(d.type)));
		an_set(h, "source_reel_metadata", json_deep_copy(meta));
		an_push(hooks, h);

		/* The script. */
		const char *problem =
		    arena_printf(&c->arena, "Most %s struggle with %s, and it keeps them from %s.",
		                 c->audience, d.topic, c->goals);
		const char *solution =
		    arena_printf(&c->arena,
		                 "%s Film it as %s. Same structure as @%s's reel (%lld views, "
		                 "%.2fx their median).",
		                 solution_text(c, d.type, d.topic), c->content_type, comp->username,
		                 (long long)r->views, r->outlier);
		const char *cta = cta_text(c, d.topic);
		const char *full =
		    arena_printf(&c->arena, "HOOK: %s\n\nPROBLEM: %s\n\nSOLUTION: %s\n\nCTA: %s",
		                 d.hook, problem, solution, cta);
		full = text_clean(&c->arena, full, strlen(full), SCRIPT_MAX, TEXT_ELLIPSIS);
		int dur = (int)lround(words(full) / 2.5);
		dur = dur < 15 ? 15 : dur > 90 ? 90 : dur;
		const char *title = arena_printf(&c->arena, "Hook Script %d: %s (%s)", i + 1,
		                                 d.topic, hook_type_name(d.type));
		title = text_clean(&c->arena, title, strlen(title), AN_ID_MAX, TEXT_ELLIPSIS);

		json_t *structure = json_object();
		an_set(structure, "hook_section", an_str(d.hook));
		an_set(structure, "problem_section", an_str(problem));
		an_set(structure, "solution_section", an_str(solution));
		an_set(structure, "cta_section", an_str(cta));

		int themes_used = 0;
		const char *snorm = text_normalize(&c->arena, full, strlen(full));
		for (int k = 0; k < c->nthemes; k++) {
			char pat[TOKEN_MAX + 3];
			snprintf(pat, sizeof(pat), " %s ", c->themes[k]);
			themes_used += strstr(snorm, pat) != NULL;
		}
		json_t *s = json_object();
		an_set(s, "title", an_str(title));
		an_set(s, "hook_used", an_str(d.hook));
		an_set(s, "full_script", an_str(full));
		an_set(s, "structure_breakdown", json_deep_copy(structure));
		an_set(s, "estimated_duration", json_integer(dur));
		an_set(s, "creator_voice_elements", themes_json(c, 3));
		an_set(s, "speaking_pattern_match", json_null());
		an_set(s, "energy_level", an_str(energy));
		an_set(s, "vocabulary_alignment",
		       an_str(c->nthemes ? arena_printf(&c->arena, "%d of @%s's %d top words used",
		                                        themes_used, creator, c->nthemes)
		                         : NULL));
		json_t *auth = json_object();
		an_set(auth, "voice_match",
		       c->nthemes ? json_real(an_round2(10.0 * themes_used / c->nthemes))
		                  : json_null());
		an_set(auth, "vocabulary_accuracy", json_null());
		an_set(auth, "natural_flow", json_null());
		an_set(auth, "personality_capture", json_null());
		json_t *ctx = json_object();
		an_set(ctx, "hook_strategy", an_str(hook_strategy(d.type)));
		an_set(ctx, "psychological_triggers", hook_triggers_json(d.type));
		an_set(ctx, "unique_angle",
		       an_str(arena_printf(&c->arena, "Script #%d - %s", i + 1, d.strategy_text)));
		an_set(ctx, "content_type", an_str(c->content_type));
		an_set(ctx, "target_audience", an_str(c->audience));
		an_set(ctx, "goals", an_str(c->goals));

		json_t *cs = json_object();
		an_set(cs, "script", s);
		an_set(cs, "voice_analysis", json_deep_copy(voice_analysis));
		an_set(cs, "authenticity_score", auth);
		an_set(cs, "hook_id", json_integer(i + 1));
		an_set(cs, "source_hook", an_str(d.hook));
		an_set(cs, "based_on_competitor", an_str(comp->username));
		an_set(cs, "original_competitor_hook", an_str(r->hook));
		an_set(cs, "competitor_reel_id", an_str(r->content_id));
		an_set(cs, "adaptation_context", json_deep_copy(ctx));
		an_push(scripts, cs);

		json_t *sum = json_object();
		an_set(sum, "script_id", json_integer(i + 1));
		an_set(sum, "hook_id", json_integer(i + 1));
		an_set(sum, "title", an_str(title));
		an_set(sum, "estimated_duration", json_integer(dur));
		an_set(sum, "based_on_competitor", an_str(comp->username));
		an_set(sum, "original_competitor_hook", an_str(r->hook));
		an_set(sum, "competitor_reel_id", an_str(r->content_id));
		an_push(summary, sum);

		json_t *hm = json_object();
		an_set(hm, "hook_strategy", an_str(hook_strategy(d.type)));
		an_set(hm, "psychological_triggers", hook_triggers_json(d.type));
		an_set(hm, "power_words_used", hook_power_words_json(d.power));
		an_set(hm, "estimated_effectiveness", json_real(r->effectiveness));
		an_set(hm, "content_theme_alignment", an_str(d.alignment));
		an_set(hm, "hook_type", an_str(hook_type_name(d.type)));
		json_t *src_reels = json_object();
		an_set(src_reels, "competitor_hook_source", meta);
		an_set(src_reels, "hook_id", json_integer(i + 1));
		an_set(src_reels, "adaptation_strategy", an_str(d.strategy_text));
		an_set(src_reels, "source_reel_id", an_str(r->content_id));
		an_set(src_reels, "based_on_competitor", an_str(comp->username));
		an_set(src_reels, "original_competitor_hook", an_str(r->hook));
		an_set(src_reels, "competitor_reel_id", an_str(r->content_id));
		an_set(src_reels, "adaptation_context", ctx);
		an_set(src_reels, "hook_metadata", hm);

		json_t *row = json_object();
		an_set(row, "script_title", an_str(title));
		an_set(row, "script_content", an_str(full));
		an_set(row, "script_type", an_str("reel"));
		an_set(row, "estimated_duration", json_integer(dur));
		an_set(row, "target_audience", an_str(c->audience));
		an_set(row, "primary_hook", an_str(d.hook));
		an_set(row, "call_to_action", an_str(cta));
		an_set(row, "source_reels", src_reels);
		an_set(row, "script_structure", structure);
		an_set(row, "generation_prompt",
		       an_str(arena_printf(
		           &c->arena,
		           "%s: %s structure from @%s reel %s; topic \"%s\"; content_type \"%s\"; "
		           "target_audience \"%s\"; goals \"%s\"",
		           AN_ENGINE_VERSION, hook_type_name(d.type), comp->username, r->content_id,
		           d.topic, c->content_type, c->audience, c->goals)));
		an_set(row, "ai_model", an_str(AN_ENGINE));
		an_set(row, "generation_temperature", json_integer(0));
		an_set(row, "status", an_str("completed"));
		an_push(rows, row);
	}
	json_decref(voice_analysis);
}
