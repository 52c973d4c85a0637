/*
 * Ideas: five new hooks, each keeping a proven hook's structure and swapping
 * in a new topic, and a short script per hook (hook, problem, solution, call
 * to action) written for the job's content strategy. Deterministic
 * templates, no model. The structures come, in fallback order, from the
 * competitor picks; without any, from the creator's own best hooks; without
 * those, from per-type templates on topics of the strategy or the bio.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/analysis.h"

#define SCRIPT_MAX 4000

struct idea {
	const struct an_reel *src;
	const struct an_topic *tp;
	const char *topic;   /* canonical subject (scripts, titles) */
	const char *subject; /* the subject as written in the hook */
	const char *hook, *old_phrase, *strategy_text, *alignment;
	enum hook_type type;
	bool substituted;
	uint64_t power;
};

static bool in_words(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(w, *list))
			return true;
	return false;
}

static bool is_letter(char ch)
{
	return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z';
}

static bool is_vowel(char ch)
{
	return strchr("aeiouAEIOU", ch) != NULL;
}

/* "Busy women 25-40 starting strength training" -> "busy women": the head of the audience. */
static const char *audience_short(struct an_ctx *c)
{
	static const char *const cut[] = {"who",  "with", "that", "in",    "on",    "at",
	                                  "for",  "from", "to",   "of",    "which", "whose",
	                                  "like", "by",   "over", "under", NULL};
	if (!c->strategy_given || !*c->audience)
		return "you";
	const char *s = c->audience;
	char out[AN_NAME_MAX + 1];
	size_t o = 0;
	bool first = true;
	for (size_t i = 0; s[i] && o < AN_NAME_MAX - 1;) {
		while (s[i] == ' ')
			i++;
		size_t j = i;
		while (s[j] && s[j] != ' ' && s[j] != ',' && s[j] != ';' && s[j] != '(')
			j++;
		if (j == i)
			break;
		char w[64];
		size_t n = j - i < sizeof(w) - 1 ? j - i : sizeof(w) - 1;
		bool digit = false, letters = true;
		for (size_t k = 0; k < n; k++) {
			w[k] =
			    (char)((s[i + k] >= 'A' && s[i + k] <= 'Z') ? s[i + k] + 32 : s[i + k]);
			digit |= s[i + k] >= '0' && s[i + k] <= '9';
			letters &= is_letter(s[i + k]) || s[i + k] == '-' || s[i + k] == '\'';
		}
		w[n] = '\0';
		bool participle = n > 4 && !strcmp(w + n - 3, "ing");
		if (digit || !letters || participle || in_words(w, cut))
			break;
		if (o + n + 2 >= sizeof(out))
			break;
		if (o)
			out[o++] = ' ';
		/* Lower-case a capitalised first word unless it leads an acronym ("Gen Z"). */
		size_t k2 = j;
		while (s[k2] == ' ')
			k2++;
		bool acronym_next =
		    s[k2] >= 'A' && s[k2] <= 'Z' &&
		    (!s[k2 + 1] || s[k2 + 1] == ' ' || (s[k2 + 1] >= 'A' && s[k2 + 1] <= 'Z'));
		bool upper_rest = false;
		for (size_t k = 1; k < n; k++)
			upper_rest |= s[i + k] >= 'A' && s[i + k] <= 'Z';
		for (size_t k = 0; k < n; k++)
			out[o++] =
			    (first && k == 0 && !acronym_next && !upper_rest) ? w[0] : s[i + k];
		first = false;
		i = j;
		if (s[i] == ',' || s[i] == ';' || s[i] == '(')
			break;
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '-'))
		o--;
	/* A trailing "and" (cut at "and young ... with ...") goes. */
	if (o >= 4 && !strncmp(out + o - 4, " and", 4))
		o -= 4;
	return o ? arena_strndup(&c->arena, out, o) : "you";
}

static bool mentions(const char *text, const char *const *needles)
{
	for (; *needles; needles++)
		if (strcasestr(text, *needles))
			return true;
	return false;
}

/* The payoff of the how-to template, from the niche the strategy describes. */
static const char *goal_verb(struct an_ctx *c)
{
	static const char *const fitness[] = {"strength", "workout", "fitness",  "gym",  "training",
	                                      "lift",     "muscle",  "mobility", "yoga", NULL};
	static const char *const cooking[] = {"recipe",  "cook",   "meal", "food",
	                                      "kitchen", "dinner", "bak",  NULL};
	static const char *const finance[] = {"financ", "money",  "budget", "salary",
	                                      "invest", "saving", "debt",   NULL};
	static const char *const travel[] = {"travel",   "trip",   "itinerar",
	                                     "backpack", "hostel", NULL};
	const char *all =
	    arena_printf(&c->arena, "%s %s %s", c->content_type, c->audience, c->goals);
	if (mentions(all, fitness))
		return "get stronger";
	if (mentions(all, cooking))
		return "cook faster";
	if (mentions(all, finance))
		return "save more";
	if (mentions(all, travel))
		return "travel for less";
	return "get better results";
}

/* The first number of a hook (2..10), else 3: a list keeps its count. */
static int hook_count(const char *hook)
{
	for (const char *p = hook; *p; p++)
		if (*p >= '0' && *p <= '9') {
			long v = strtol(p, NULL, 10);
			return v >= 2 && v <= 10 ? (int)v : 3;
		}
	return 3;
}

static const char *template_hook(struct an_ctx *c, enum hook_type t, const struct an_topic *tp,
                                 const struct an_reel *src)
{
	struct arena *a = &c->arena;
	const char *topic = tp->text;
	switch (t) {
	case HOOK_NUMBER_LIST:
		return arena_printf(a, "%d mistakes everyone makes with %s.",
		                    src ? hook_count(src->hook) : 3, topic);
	case HOOK_HOW_TO:
		return arena_printf(a, "How to %s with %s in 30 days.", goal_verb(c), topic);
	case HOOK_WARNING:
		return arena_printf(a, "Stop doing this with %s.", topic);
	case HOOK_CONTRARIAN:
		return arena_printf(a, "Unpopular opinion: %s %s overrated.", topic,
		                    tp->plural ? "are" : "is");
	case HOOK_QUESTION:
		return arena_printf(a, "Why is nobody talking about %s?", topic);
	case HOOK_STORY:
		return arena_printf(a, "I tried %s for 30 days. Here's what happened.", topic);
	case HOOK_CURIOSITY:
		return arena_printf(a, "The %s secret nobody tells %s.", topic, audience_short(c));
	default:
		return arena_printf(a, "Nobody talks about %s enough.", topic);
	}
}

/* A word of s: [start, end) and its lower-cased copy (ASCII letters and apostrophes). */
struct word {
	size_t start, end;
	char low[24];
};

/* The word ending right before s[pos] (spaces skipped); false at punctuation or the start. */
static bool word_before(const char *s, size_t pos, struct word *w)
{
	size_t e = pos;
	while (e > 0 && s[e - 1] == ' ')
		e--;
	size_t b = e;
	while (b > 0 && (is_letter(s[b - 1]) || s[b - 1] == '\''))
		b--;
	if (b == e || e - b >= sizeof(w->low) || (b > 0 && s[b - 1] != ' '))
		return false;
	w->start = b, w->end = e;
	for (size_t k = 0; k < e - b; k++)
		w->low[k] = (char)(s[b + k] | 0x20);
	w->low[e - b] = '\0';
	return true;
}

/* The word starting right after s[pos] (spaces skipped); false at punctuation or the end. */
static bool word_after(const char *s, size_t pos, struct word *w)
{
	size_t b = pos;
	while (s[b] == ' ')
		b++;
	size_t e = b;
	while (is_letter(s[e]) || s[e] == '\'' || (s[e] == '-' && is_letter(s[e + 1])))
		e++;
	if (b == e || e - b >= sizeof(w->low) || b == pos)
		return false;
	w->start = b, w->end = e;
	for (size_t k = 0; k < e - b; k++)
		w->low[k] = (char)(s[b + k] | 0x20);
	w->low[e - b] = '\0';
	return true;
}

/* Replaces s[off, off + n) with r (arena). */
static char *splice(struct arena *a, const char *s, size_t off, size_t n, const char *r)
{
	return arena_printf(a, "%.*s%s%s", (int)off, s, r, s + off + n);
}

/* r with the case of its first letter taken from model. */
static const char *same_case(struct arena *a, const char *model, const char *r)
{
	char *p = arena_strndup(a, r, strlen(r));
	if (model[0] >= 'A' && model[0] <= 'Z' && p[0] >= 'a' && p[0] <= 'z')
		p[0] = (char)(p[0] - 32);
	return p;
}

/* Verbs that agree with the subject, singular then plural. */
static const char *const agree[][2] = {
    {"is", "are"},   {"isn't", "aren't"},   {"was", "were"}, {"wasn't", "weren't"},
    {"has", "have"}, {"hasn't", "haven't"}, {"does", "do"},  {"doesn't", "don't"},
};

/* The agreeing form of verb w for a plural (or singular) subject; NULL when w is no such verb. */
static const char *agreeing(const char *w, bool plural)
{
	for (size_t i = 0; i < sizeof(agree) / sizeof(agree[0]); i++)
		if (!strcmp(w, agree[i][0]) || !strcmp(w, agree[i][1]))
			return agree[i][plural];
	return NULL;
}

/* Nouns a topic phrase can modify ("this rest days secret", "5 home workouts tips"). */
static bool modified_noun(const char *w)
{
	static const char *const nouns[] = {
	    "secret",  "secrets",  "tip",     "tips",    "hack",   "hacks", "trick",     "tricks",
	    "mistake", "mistakes", "guide",   "routine", "recipe", "rules", "rule",      "myth",
	    "myths",   "lesson",   "lessons", "ideas",   "idea",   "plan",  "challenge", NULL};
	return in_words(w, nouns) || text_word_class(w, strlen(w)) == WORD_CONTENT ||
	       text_word_class(w, strlen(w)) == WORD_TIME;
}

/*
 * Adapts hook to the topic by replacing its own topic phrase (trends.c)
 * and fixing what agrees with it: "the" before a proper noun, a/an, this/
 * these, is/are and does/do next to it, a capital at the start. NULL when
 * the hook has no topic phrase, is over 120 characters or already is about
 * the topic.
 */
/*
 * Whether a hook claims a role the creator's bio does not ("I'm a
 * dermatologist and ..." copied to an esthetician): such a structure is not
 * the creator's to reuse.
 */
static bool foreign_credential(struct an_ctx *c, const char *hook)
{
	static const char *const claims[] = {"i'm a ",   "i am a ", "as a ", "i'm an ",
	                                     "i am an ", "as an ",  "im a ", NULL};
	const char *bio = c->accounts[c->primary].bio;
	for (int i = 0; claims[i]; i++) {
		const char *p = strcasestr(hook, claims[i]);
		if (!p || (p > hook && p[-1] != ' '))
			continue;
		p += strlen(claims[i]);
		char role[32];
		size_t n = 0;
		while (n + 1 < sizeof role &&
		       ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			role[n++] = *p++;
		role[n] = '\0';
		if (n >= 4 && !(bio && strcasestr(bio, role)))
			return true;
	}
	return false;
}

static const char *substitute(struct an_ctx *c, const char *hook, const struct an_topic *tp,
                              const char **old_phrase, const char **subject)
{
	struct arena *a = &c->arena;
	size_t start, len;
	if (text_chars(hook) > 120 || foreign_credential(c, hook) ||
	    !trends_hook_topic(c, hook, &start, &len))
		return NULL;
	const char *old = arena_strndup(a, hook + start, len);
	if (!strcasecmp(old, tp->text))
		return NULL;
	bool oldpl = trends_plural(old), pl = tp->plural;
	struct word next, prev;
	bool has_next = word_after(hook, start + len, &next);
	/* The phrase is the head of its noun phrase unless a noun follows it. */
	bool head = !has_next || !modified_noun(next.low);
	const char *topic = tp->text;
	char *s = arena_strndup(a, hook, strlen(hook));
	size_t tstart = start, tlen = len;
	/* Right side first, so that offsets on the left stay valid. */
	const char *v;
	/* Verbs agree with the new subject (next to it even where the source's did not). */
	if (head && has_next && (v = agreeing(next.low, pl)) && strcmp(v, next.low)) {
		s = splice(a, s, next.start, next.end - next.start,
		           same_case(a, hook + next.start, v));
	}
	s = splice(a, s, tstart, tlen, topic);
	tlen = strlen(topic);
	if (word_before(s, tstart, &prev)) {
		const char *det = NULL;
		bool drop = false;
		if (!strcmp(prev.low, "the"))
			drop = head && tp->proper;
		else if (!strcmp(prev.low, "a") || !strcmp(prev.low, "an"))
			drop = head && pl, det = is_vowel(topic[0]) ? "an" : "a";
		else if (head && (!strcmp(prev.low, "this") || !strcmp(prev.low, "these")))
			det = pl ? "these" : "this";
		else if (head && (!strcmp(prev.low, "that") || !strcmp(prev.low, "those")))
			det = pl ? "those" : "that";
		if (drop) {
			size_t cut = tstart - prev.start;
			s = splice(a, s, prev.start, cut, "");
			tstart = prev.start;
		} else if (det) {
			size_t n = prev.end - prev.start;
			const char *r = same_case(a, s + prev.start, det);
			s = splice(a, s, prev.start, n, r);
			tstart = tstart - n + strlen(r);
		}
	}
	/* A verb before the phrase ("Is packing light ...", "Why does restaurant pesto ..."). */
	if (head) {
		size_t pos = tstart;
		for (int k = 0; k < 3 && word_before(s, pos, &prev); k++) {
			if ((v = agreeing(prev.low, pl))) {
				/* Further away only on a change of number, and never a
				 * sentence's first word: "Don't book X" is an imperative,
				 * not X's verb. */
				size_t b0 = prev.start;
				while (b0 > 0 && s[b0 - 1] == ' ')
					b0--;
				bool initial = b0 == 0 || strchr(".!?:", s[b0 - 1]);
				if (!strcmp(v, prev.low) || (k > 0 && (oldpl == pl || initial)))
					break;
				size_t n = prev.end - prev.start;
				const char *r = same_case(a, s + prev.start, v);
				s = splice(a, s, prev.start, n, r);
				tstart = tstart - n + strlen(r);
				break;
			}
			if (text_word_class(prev.low, strlen(prev.low)) == WORD_STOP)
				break; /* only adjectives and nouns in between */
			pos = prev.start;
		}
	}
	/* A sentence-initial subject gets a capital. */
	size_t b = tstart;
	while (b > 0 && s[b - 1] == ' ')
		b--;
	if ((b == 0 || strchr(".!?", s[b - 1])) && s[tstart] >= 'a' && s[tstart] <= 'z')
		s[tstart] = (char)(s[tstart] - 32);
	*old_phrase = old;
	*subject = arena_strndup(a, s + tstart, tlen);
	return s;
}

/* Whether two consecutive words are the same ("tips tips"). */
static bool doubled_word(struct arena *a, const char *s)
{
	const char *n = text_normalize(a, s, strlen(s));
	const char *p = n + 1, *q;
	while ((q = strchr(p, ' ')) && q[1]) {
		const char *r = strchr(q + 1, ' ');
		if (!r)
			break;
		if (q - p == r - q - 1 && !strncmp(p, q + 1, (size_t)(q - p)))
			return true;
		p = q + 1;
	}
	return false;
}

/* Whether hook has the words of one of made[0..n) (normalised; emoji and punctuation aside). */
static bool already_made(struct an_ctx *c, const char *const *made, int n, const char *hook)
{
	const char *a = text_normalize(&c->arena, hook, strlen(hook));
	for (int j = 0; j < n; j++)
		if (!strcmp(a, made[j]))
			return true;
	return false;
}

/*
 * The hook with final punctuation: "." unless it already ends with . ! ? …
 * (before any trailing emoji, which stay at the end).
 */
static const char *punctuate_end(struct arena *a, const char *h)
{
	size_t n = strlen(h), e = n;
	while (e > 0) {
		unsigned char ch = (unsigned char)h[e - 1];
		if (ch == ' ' || ch >= 0x80) {
			size_t k = e - 1;
			while (k > 0 && ((unsigned char)h[k] & 0xC0) == 0x80)
				k--;
			uint32_t cp = ' ';
			if (ch != ' ')
				utf8_next(h, n, k, &cp);
			bool symbol = cp == ' ' || (cp >= 0x2190 && cp <= 0x2BFF) ||
			              cp >= 0x1F000 || cp == 0xFE0F || cp == 0x200D;
			if (!symbol)
				break;
			e = k;
			continue;
		}
		break;
	}
	if (e == 0)
		return h;
	char last = h[e - 1];
	if (strchr(".!?", last) || (e >= 3 && !memcmp(h + e - 3, "\xE2\x80\xA6", 3)))
		return h;
	size_t cut = e;
	while (cut > 0 && strchr(",;:-", h[cut - 1]))
		cut--;
	return arena_printf(a, "%.*s.%s%s", (int)cut, h, e < n ? " " : "",
	                    e < n ? h + e + (h[e] == ' ') : "");
}

/* Final punctuation, and a capital first letter ("stop over exfoliating" from an
 * all-lower-case caption is "Stop over exfoliating."). */
static const char *punctuate(struct arena *a, const char *h)
{
	const char *r = punctuate_end(a, h);
	if (r[0] >= 'a' && r[0] <= 'z') {
		char *u = arena_strndup(a, r, strlen(r));
		u[0] = (char)(u[0] - 32);
		r = u;
	}
	return r;
}

/* A strategy field inside a sentence: "Women 25-35 ..." -> "women 25-35 ..." (not "UK ..."). */
static const char *mid_sentence(struct arena *a, const char *s)
{
	if (!(s[0] >= 'A' && s[0] <= 'Z') || (s[1] >= 'A' && s[1] <= 'Z'))
		return s;
	char *d = arena_strndup(a, s, strlen(s));
	d[0] = (char)(d[0] + 32);
	return d;
}

static const char *solution_text(struct an_ctx *c, enum hook_type t, const char *topic,
                                 const char *hook)
{
	struct arena *a = &c->arena;
	switch (t) {
	case HOOK_NUMBER_LIST:
		/* As many points as the hook promises ("5 tips" -> 5). */
		return arena_printf(a,
		                    "Walk through the %d points on %s, one per beat, each with a "
		                    "concrete example.",
		                    hook_count(hook), topic);
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
	/* Transition words and energy from everything the creator said or wrote
	 * (captions and transcripts of all its reels), by fixed word lists. */
	static const char *const transitions[] = {
	    "so",     "but",   "then",     "because",   "first",    "next",   "finally", "also",
	    "plus",   "and",   "honestly", "basically", "actually", "anyway", "pero",    "entonces",
	    "porque", "então", "mas",      "tipo",      "y",        NULL};
	int tcount[sizeof transitions / sizeof transitions[0]] = {0};
	bool emoji = false, caps = false;
	for (int i = 0; i < c->nreels; i++) {
		const struct an_reel *r = &c->reels[i];
		if (r->account != c->primary)
			continue;
		const char *texts[2] = {r->desc, r->tr};
		size_t lens[2] = {r->desc_len, r->tr_len};
		for (int t = 0; t < 2; t++) {
			size_t tn = lens[t] < AN_TRANSCRIPT_SCAN ? lens[t] : AN_TRANSCRIPT_SCAN;
			const char *p = texts[t];
			for (size_t k = 0; p && k < tn;) {
				if ((unsigned char)p[k] == 0xF0)
					emoji = true;
				excl |= p[k] == '!';
				quest |= p[k] == '?';
				size_t e = k;
				while (e < tn && ((p[e] >= 'a' && p[e] <= 'z') ||
				                  (p[e] >= 'A' && p[e] <= 'Z') ||
				                  (unsigned char)p[e] >= 0x80))
					e++;
				if (e == k) {
					k++;
					continue;
				}
				char low[16];
				size_t wl = e - k, up = 0;
				if (wl < sizeof low) {
					for (size_t q = 0; q < wl; q++) {
						up += p[k + q] >= 'A' && p[k + q] <= 'Z';
						low[q] = (p[k + q] >= 'A' && p[k + q] <= 'Z')
						             ? (char)(p[k + q] + 32)
						             : p[k + q];
					}
					low[wl] = '\0';
					caps |= wl >= 3 && up == wl;
					for (int q = 0; transitions[q]; q++)
						tcount[q] += !strcmp(low, transitions[q]);
				}
				k = e;
			}
		}
	}
	json_t *tw = json_array();
	for (int round = 0; round < 6; round++) {
		int best = -1;
		for (int q = 0; transitions[q]; q++)
			if (tcount[q] > 0 && (best < 0 || tcount[q] > tcount[best]))
				best = q;
		if (best < 0)
			break;
		an_push(tw, an_str(transitions[best]));
		tcount[best] = 0;
	}
	an_set(v, "transition_words", tw);
	json_t *m = json_array();
	if (excl)
		an_push(m, an_str("exclamations"));
	if (quest)
		an_push(m, an_str("questions"));
	if (emoji)
		an_push(m, an_str("emoji"));
	if (caps)
		an_push(m, an_str("words in capitals"));
	an_set(v, "energy_markers", m);
	*voice_out = v;
	*energy = !n ? NULL : excl ? "high" : "medium";
}

/* The creator's own hooks: best outlier first (ties: views, then input order). */
static int cmp_own(const void *pa, const void *pb)
{
	const struct an_reel *a = *(const struct an_reel *const *)pa;
	const struct an_reel *b = *(const struct an_reel *const *)pb;
	if (a->outlier != b->outlier)
		return a->outlier > b->outlier ? -1 : 1;
	if (a->views != b->views)
		return a->views > b->views ? -1 : 1;
	return (a->index > b->index) - (a->index < b->index);
}

/*
 * The structures to build on, in fallback order: the competitor picks; else
 * the creator's own hooks, best outlier first, from all its reels (a
 * recurring run with nothing new still has its older hits); else none
 * (templates). Returns how many went into src.
 */
static int sources(struct an_ctx *c, const struct an_reel **src, enum idea_source *kind)
{
	int n = 0;
	for (int k = 0; k < c->npick_competitor && n < AN_HOOKS; k++)
		src[n++] = &c->reels[c->picks[c->npick_primary + k]];
	*kind = IDEAS_COMPETITOR;
	if (n)
		return n;
	struct an_reel **own = arena_alloc(&c->arena, sizeof(*own) * (size_t)(c->nreels + 1));
	int m = 0;
	for (int i = 0; i < c->nreels; i++)
		if (an_acct(c, &c->reels[i])->primary)
			own[m++] = &c->reels[i];
	qsort(own, (size_t)m, sizeof(*own), cmp_own);
	/* Hooks were extracted for selected reels only: the others on demand, best first. */
	for (int k = 0; k < m && n < AN_HOOKS; k++) {
		if (!own[k]->selected)
			hooks_extract_one(c, own[k]);
		if (own[k]->hook)
			src[n++] = own[k];
	}
	*kind = n ? IDEAS_OWN : IDEAS_TEMPLATE;
	return n;
}

/* Why the topic suits the creator (content_theme_alignment). */
static const char *alignment(struct an_ctx *c, const struct an_topic *tp, const char *creator)
{
	struct arena *a = &c->arena;
	switch (tp->origin) {
	case TOPIC_TREND:
	case TOPIC_HASHTAG:
		return arena_printf(
		    a,
		    "\"%s\" appears in %d competitor reels from %d accounts (lift %.2f) "
		    "and not in @%s's reels; written as %s for %s",
		    tp->text, tp->reels, tp->accounts, tp->lift, creator, c->content_type,
		    c->audience);
	case TOPIC_UNDERUSED:
		return arena_printf(
		    a,
		    "\"%s\" appears in %d of %d competitor reels from %d accounts "
		    "(lift %.2f) but in only %d of @%s's %d reels; written as %s for %s",
		    tp->text, tp->reels, c->competitor_reels_scanned, tp->accounts, tp->lift,
		    tp->creator_reels, creator, c->creator_reels_scanned, c->content_type,
		    c->audience);
	case TOPIC_OWN_RARE:
		return arena_printf(
		    a,
		    "\"%s\" is in only %d of @%s's %d reels, which average %.2fx its "
		    "typical reel (no competitor topic found); written as %s for %s",
		    tp->text, tp->creator_reels, creator, c->creator_reels_scanned, tp->lift,
		    c->content_type, c->audience);
	case TOPIC_THEME:
		return arena_printf(a,
		                    "\"%s\" is one of @%s's top themes, in %d of its %d reels (no "
		                    "competitor topic found); written as %s for %s",
		                    tp->text, creator, tp->creator_reels, c->creator_reels_scanned,
		                    c->content_type, c->audience);
	case TOPIC_STRATEGY:
		return arena_printf(a,
		                    "\"%s\" comes from the content strategy's %s (no competitor or "
		                    "own topic found); written as %s for %s",
		                    tp->text, tp->from, c->content_type, c->audience);
	case TOPIC_BIO:
		return arena_printf(
		    a,
		    "\"%s\" comes from @%s's bio (no competitor topic, own topic or "
		    "content strategy); written as %s for %s",
		    tp->text, creator, c->content_type, c->audience);
	default:
		return arena_printf(a, "\"%s\" (no competitor trend found); written as %s for %s",
		                    tp->text, c->content_type, c->audience);
	}
}

/* Template shapes for hooks without any source reel, in this order: five that suit any topic. */
static const enum hook_type template_order[AN_HOOKS] = {HOOK_NUMBER_LIST, HOOK_HOW_TO,
                                                        HOOK_QUESTION, HOOK_STORY, HOOK_WARNING};

void ideas_generate(struct an_ctx *c, json_t *hooks, json_t *scripts, json_t *summary, json_t *rows)
{
	const struct an_reel *src[AN_HOOKS];
	enum idea_source kind;
	int nsrc = sources(c, src, &kind);
	const struct an_topic *topics = c->subjects;
	int ntopics = c->nsubjects;
	c->idea_source = kind;
	c->idea_nsources = nsrc;
	/* Without a reel to build on, a template needs a real topic ("your niche" is none). */
	if (kind == IDEAS_TEMPLATE && (ntopics == 0 || topics[0].origin == TOPIC_DEFAULT)) {
		c->idea_source = IDEAS_NONE;
		return;
	}
	const char *creator = c->accounts[c->primary].username;
	json_t *voice_analysis;
	const char *energy;
	voice(c, &voice_analysis, &energy);

	int used_src[AN_HOOKS], used_topic[AN_HOOKS];
	const char *made[AN_HOOKS], *skel[AN_HOOKS];
	bool tmpl_used[HOOK_TYPES] = {false};
	for (int i = 0; i < AN_HOOKS; i++) {
		const struct an_reel *r = nsrc ? src[i % nsrc] : NULL;
		struct idea d = {.src = r};
		/* The account whose hook gave the structure (the creator for templates). */
		const char *by = r ? an_acct(c, r)->username : creator;
		/*
		 * Topic i, or the next one that the source hook does not already use,
		 * one not given to an earlier hook first (one subject per hook while
		 * there are five).
		 */
		int ti = i % ntopics;
		bool fresh = false;
		for (int pass = 0; pass < 2 && !fresh; pass++) {
			for (int k = 0; k < ntopics && !fresh; k++) {
				int t = (i + k) % ntopics;
				bool taken = false;
				for (int j = 0; j < i && pass == 0; j++)
					taken |= used_topic[j] == t;
				if (!taken && (!r || !strcasestr(r->hook, topics[t].text))) {
					ti = t;
					fresh = true;
				}
			}
		}
		d.tp = &topics[ti];
		d.topic = d.subject = d.tp->text;
		c->idea_topics |= 1u << d.tp->origin;
		skel[i] = "";
		used_src[i] = r ? i % nsrc : -1;
		used_topic[i] = ti;
		if (r) {
			/* A (source, topic) pair seen before gets a different structure. */
			int seen = !fresh;
			for (int j = 0; j < i; j++)
				seen += used_src[j] == i % nsrc && used_topic[j] == ti;
			d.type = (enum hook_type)((r->htype + seen) % HOOK_TYPES);
			if (seen == 0)
				d.hook = substitute(c, r->hook, d.tp, &d.old_phrase, &d.subject);
		} else {
			d.type = template_order[i];
		}
		if (d.hook) {
			/* The source's words around its topic: five hooks, five different shapes.
			 */
			const char *at = strstr(r->hook, d.old_phrase);
			skel[i] =
			    arena_printf(&c->arena, "%s|%s",
			                 text_normalize(&c->arena, r->hook, (size_t)(at - r->hook)),
			                 text_normalize(&c->arena, at + strlen(d.old_phrase),
			                                strlen(at + strlen(d.old_phrase))));
			bool same_shape = false;
			for (int j = 0; j < i && !same_shape; j++)
				same_shape = !strcmp(skel[j], skel[i]);
			d.hook = punctuate(&c->arena, d.hook);
			if (same_shape || doubled_word(&c->arena, d.hook) ||
			    already_made(c, made, i, d.hook)) {
				d.hook = NULL, d.subject = d.topic, skel[i] = "";
				d.type =
				    (enum hook_type)((d.type + (same_shape ? 1 : 0)) % HOOK_TYPES);
			}
		}
		d.substituted = d.hook != NULL;
		/* A template of the type; the next type when it would double a word or repeat. */
		for (int k = 0; !d.hook && k < 2 * HOOK_TYPES; k++) {
			/* First pass: templates not used yet; second: any that reads well. */
			enum hook_type t = (enum hook_type)((d.type + k) % HOOK_TYPES);
			if (k < HOOK_TYPES && tmpl_used[t])
				continue;
			const char *h = template_hook(c, t, d.tp, r);
			bool dup = doubled_word(&c->arena, h) || already_made(c, made, i, h);
			if (!dup || k == 2 * HOOK_TYPES - 1)
				d.hook = h, d.type = t, tmpl_used[t] = true;
		}
		d.hook = text_clean(&c->arena, d.hook, strlen(d.hook), 400,
		                    TEXT_ONELINE | TEXT_ELLIPSIS);
		made[i] = text_normalize(&c->arena, d.hook, strlen(d.hook));
		d.power = hook_power_words(&c->arena, d.hook);
		const char *tname = hook_type_name(d.type), *tstrat = hook_strategy(d.type);
		switch (kind) {
		case IDEAS_COMPETITOR:
			d.strategy_text =
			    d.substituted
			        ? arena_printf(
			              &c->arena,
			              "Kept @%s's %s structure (%s) and swapped \"%s\" for \"%s\"",
			              by, tname, tstrat, d.old_phrase, d.subject)
			        : arena_printf(
			              &c->arena,
			              "Applied a %s structure (%s) from @%s's reel to \"%s\"",
			              tname, tstrat, by, d.topic);
			break;
		case IDEAS_OWN:
			d.strategy_text =
			    d.substituted
			        ? arena_printf(
			              &c->arena,
			              "Fallback to own hooks (no competitor hook): kept the %s "
			              "structure (%s) of @%s's own reel \"%s\" and swapped \"%s\" "
			              "for \"%s\"",
			              tname, tstrat, by, r->hook, d.old_phrase, d.subject)
			        : arena_printf(
			              &c->arena,
			              "Fallback to own hooks (no competitor hook): applied a %s "
			              "structure (%s) from @%s's own reel \"%s\" to \"%s\"",
			              tname, tstrat, by, r->hook, d.topic);
			break;
		default:
			d.strategy_text = arena_printf(
			    &c->arena,
			    "Fallback to templates (no competitor hook and no reel of @%s with a "
			    "hook): the %s template (%s) applied to \"%s\"",
			    creator, tname, tstrat, d.topic);
		}
		d.alignment = alignment(c, d.tp, creator);
		/* Competitor fields only name a competitor; the source fields name the hook's
		 * owner. */
		bool comp = kind == IDEAS_COMPETITOR;
		const char *comp_user = comp ? by : NULL;
		const char *comp_hook = comp ? r->hook : NULL;
		const char *comp_reel = comp ? r->content_id : NULL;

		json_t *meta = r ? an_reel_metadata(c, r) : json_object();
		json_t *h = json_object();
		an_set(h, "hook_id", json_integer(i + 1));
		an_set(h, "hook_text", an_str(d.hook));
		an_set(h, "original_competitor_hook", an_str(comp_hook));
		an_set(h, "source_reel_id", an_str(r ? r->content_id : NULL));
		an_set(h, "source_username", an_str(by));
		an_set(h, "new_subject_used", an_str(d.subject));
		an_set(h, "adaptation_strategy", an_str(d.strategy_text));
		an_set(h, "psychological_triggers", hook_triggers_json(d.type));
		an_set(h, "power_words_used", hook_power_words_json(d.power));
		an_set(h, "estimated_effectiveness", r ? json_real(r->effectiveness) : json_null());
		const char *why =
		    kind == IDEAS_COMPETITOR
		        ? arena_printf(&c->arena,
		                       "%s; the source reel reached %.2fx @%s's median views",
		                       tstrat, r->outlier, by)
		    : kind == IDEAS_OWN
		        ? arena_printf(&c->arena,
		                       "%s; @%s's own reel with this structure reached %.2fx its "
		                       "median views",
		                       tstrat, by, r->outlier)
		        : arena_printf(&c->arena,
		                       "%s; a standard %s template, not yet proven on any reel of "
		                       "this job",
		                       tstrat, tname);
		an_set(h, "why_it_works", an_str(why));
		an_set(h, "creator_voice_elements", themes_json(c, 3));
		an_set(h, "content_theme_alignment", an_str(d.alignment));
		an_set(h, "hook_type", an_str(tname));
		an_set(h, "source_reel_metadata", json_deep_copy(meta));
		an_push(hooks, h);

		/* The script. */
		/* The audience's problem; the goals are the creator's, not the audience's pain. */
		const char *problem = arena_printf(&c->arena, "Most %s struggle with %s.",
		                                   mid_sentence(&c->arena, c->audience), d.topic);
		/* "Same structure" only when the hook kept the source's words; a template
		 * applied to a topic has no proof of its own. */
		const char *proof =
		    !d.substituted ? ""
		    : kind == IDEAS_COMPETITOR
		        ? arena_printf(&c->arena,
		                       " Same structure as @%s's reel (%lld views, %.2fx their "
		                       "median).",
		                       by, (long long)r->views, r->outlier)
		    : kind == IDEAS_OWN
		        ? arena_printf(&c->arena,
		                       " Same structure as your own reel (%lld views, %.2fx your "
		                       "median).",
		                       (long long)r->views, r->outlier)
		        : "";
		const char *solution = arena_printf(
		    &c->arena, "%s Film it as %s.%s", solution_text(c, d.type, d.topic, d.hook),
		    mid_sentence(&c->arena, c->content_type), proof);
		const char *cta = cta_text(c, d.topic);
		const char *full =
		    arena_printf(&c->arena, "HOOK: %s\n\nPROBLEM: %s\n\nSOLUTION: %s\n\nCTA: %s",
		                 d.hook, problem, solution, cta);
		full = text_clean(&c->arena, full, strlen(full), SCRIPT_MAX, TEXT_ELLIPSIS);
		int dur = (int)lround(words(full) / 2.5);
		dur = dur < 15 ? 15 : dur > 90 ? 90 : dur;
		const char *title =
		    arena_printf(&c->arena, "Hook Script %d: %s (%s)", i + 1, d.topic, tname);
		title = text_clean(&c->arena, title, strlen(title), AN_ID_MAX, TEXT_ELLIPSIS);

		json_t *structure = json_object();
		an_set(structure, "hook_section", an_str(d.hook));
		an_set(structure, "problem_section", an_str(problem));
		an_set(structure, "solution_section", an_str(solution));
		an_set(structure, "cta_section", an_str(cta));
		an_set(structure, "script_kind", an_str("outline"));

		int themes_used = 0;
		const char *snorm = text_normalize(&c->arena, full, strlen(full));
		for (int k = 0; k < c->nthemes; k++) {
			char pat[TOKEN_MAX + 3];
			snprintf(pat, sizeof(pat), " %s ", c->themes[k]);
			themes_used += strstr(snorm, pat) != NULL;
		}
		json_t *s = json_object();
		an_set(s, "script_kind", an_str("outline"));
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
		an_set(ctx, "hook_strategy", an_str(tstrat));
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
		an_set(cs, "based_on_competitor", an_str(comp_user));
		an_set(cs, "original_competitor_hook", an_str(comp_hook));
		an_set(cs, "competitor_reel_id", an_str(comp_reel));
		an_set(cs, "adaptation_context", json_deep_copy(ctx));
		/* What to film, not lines to say: the rules engine writes outlines. */
		an_set(cs, "script_kind", an_str("outline"));
		an_push(scripts, cs);

		json_t *sum = json_object();
		an_set(sum, "script_id", json_integer(i + 1));
		an_set(sum, "hook_id", json_integer(i + 1));
		an_set(sum, "title", an_str(title));
		an_set(sum, "estimated_duration", json_integer(dur));
		an_set(sum, "based_on_competitor", an_str(comp_user));
		an_set(sum, "original_competitor_hook", an_str(comp_hook));
		an_set(sum, "competitor_reel_id", an_str(comp_reel));
		an_set(sum, "script_kind", an_str("outline"));
		an_push(summary, sum);

		json_t *hm = json_object();
		an_set(hm, "hook_strategy", an_str(tstrat));
		an_set(hm, "psychological_triggers", hook_triggers_json(d.type));
		an_set(hm, "power_words_used", hook_power_words_json(d.power));
		an_set(hm, "estimated_effectiveness",
		       r ? json_real(r->effectiveness) : json_null());
		an_set(hm, "content_theme_alignment", an_str(d.alignment));
		an_set(hm, "hook_type", an_str(tname));
		json_t *src_reels = json_object();
		if (comp) {
			an_set(src_reels, "competitor_hook_source", meta);
		} else {
			json_decref(meta);
			an_set(src_reels, "competitor_hook_source", json_null());
		}
		an_set(src_reels, "hook_id", json_integer(i + 1));
		an_set(src_reels, "adaptation_strategy", an_str(d.strategy_text));
		an_set(src_reels, "source_reel_id", an_str(r ? r->content_id : NULL));
		an_set(src_reels, "based_on_competitor", an_str(comp_user));
		an_set(src_reels, "original_competitor_hook", an_str(comp_hook));
		an_set(src_reels, "competitor_reel_id", an_str(comp_reel));
		an_set(src_reels, "adaptation_context", ctx);
		an_set(src_reels, "hook_metadata", hm);

		const char *made_from =
		    kind == IDEAS_COMPETITOR
		        ? arena_printf(&c->arena, "%s structure from @%s reel %s", tname, by,
		                       r->content_id)
		    : kind == IDEAS_OWN
		        ? arena_printf(&c->arena,
		                       "%s structure from @%s's own reel %s (fallback: no "
		                       "competitor hook)",
		                       tname, by, r->content_id)
		        : arena_printf(&c->arena,
		                       "%s template (fallback: no competitor hook and no own reel "
		                       "with a hook)",
		                       tname);
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
		       an_str(arena_printf(&c->arena,
		                           "%s: %s; topic \"%s\"; content_type \"%s\"; "
		                           "target_audience \"%s\"; goals \"%s\"",
		                           AN_ENGINE_VERSION, made_from, d.topic, c->content_type,
		                           c->audience, c->goals)));
		an_set(row, "ai_model", an_str(AN_ENGINE));
		an_set(row, "generation_temperature", json_integer(0));
		an_set(row, "status", an_str("completed"));
		an_set(row, "script_kind", an_str("outline"));
		an_push(rows, row);
	}
	json_decref(voice_analysis);
}
