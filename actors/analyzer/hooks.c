/*
 * Hook extraction and classification: the first sentence of the transcript
 * (else of the caption), a hook type from fixed phrase rules tried in a
 * fixed order, and the power words of a fixed lexicon.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/analysis.h"

static const char *const type_names[HOOK_TYPES] = {
    [HOOK_NUMBER_LIST] = "number_list", [HOOK_HOW_TO] = "how_to",       [HOOK_WARNING] = "warning",
    [HOOK_CONTRARIAN] = "contrarian",   [HOOK_QUESTION] = "question",   [HOOK_STORY] = "story",
    [HOOK_CURIOSITY] = "curiosity",     [HOOK_STATEMENT] = "statement",
};

const char *hook_type_name(enum hook_type t)
{
	return (unsigned)t < HOOK_TYPES ? type_names[t] : "statement";
}

/* Not "days": "I spent 30 days ..." is a story, not a list. */
static const char *const list_nouns[] = {
    " tips ",    " ways ",      " things ",  " reasons ", " steps ", " mistakes ", " habits ",
    " secrets ", " rules ",     " lessons ", " signs ",   " hacks ", " ideas ",    " tools ",
    " foods ",   " exercises ", " books ",   " apps ",    " myths ", NULL};
static const char *const number_words[] = {" two ",    " three ",   " four ",   " five ", " six ",
                                           " seven ",  " eight ",   " nine ",   " ten ",  " top ",
                                           " twelve ", " fifteen ", " twenty ", NULL};
static const char *const howto_phrases[] = {
    " how to ", " how i ",           " here's how ",   " step by step ", " tutorial ",
    " guide ",  " the easiest way ", " the best way ", " learn to ",     NULL};
static const char *const warning_phrases[] = {
    " stop ",     " don't ",   " do not ",    " never ",    " avoid ",  " warning ", " mistake ",
    " mistakes ", " careful ", " dangerous ", " red flag ", " beware ", NULL};
static const char *const contrarian_phrases[] = {" unpopular opinion ",
                                                 " hot take ",
                                                 " myth ",
                                                 " myths ",
                                                 " overrated ",
                                                 " is wrong ",
                                                 " are wrong ",
                                                 " nobody tells ",
                                                 " no one tells ",
                                                 " lie ",
                                                 " lies ",
                                                 " the truth about ",
                                                 " actually ",
                                                 " isn't what ",
                                                 " forget everything ",
                                                 NULL};
static const char *const question_starts[] = {
    " why ",  " what ", " how ",  " who ",  " when ",  " where ", " which ",  " is ",
    " are ",  " do ",   " does ", " did ",  " can ",   " could ", " should ", " would ",
    " have ", " has ",  " will ", " ever ", " wanna ", NULL};
static const char *const story_phrases[] = {
    " when i ",    " i was ",      " i used to ", " yesterday ", " last year ",     " last week ",
    " years ago ", " i remember ", " story ",     " i tried ",   " i spent ",       " i quit ",
    " my first ",  " i finally ",  " i got ",     " i decided ", " this is how i ", NULL};
static const char *const curiosity_phrases[] = {" secret ",
                                                " secrets ",
                                                " nobody ",
                                                " no one ",
                                                " you won't believe ",
                                                " this is why ",
                                                " here's why ",
                                                " the reason ",
                                                " what happened ",
                                                " wait ",
                                                " watch ",
                                                " until the end ",
                                                " hidden ",
                                                " surprising ",
                                                " didn't expect ",
                                                " the one thing ",
                                                " no idea ",
                                                NULL};

static bool has_any(const char *norm, const char *const *list)
{
	for (; *list; list++)
		if (strstr(norm, *list))
			return true;
	return false;
}

static bool starts_with_any(const char *norm, const char *const *list)
{
	for (; *list; list++)
		if (!strncmp(norm, *list, strlen(*list)))
			return true;
	return false;
}

/* A digit token followed by a list noun, or a leading number. */
static bool is_number_list(const char *norm)
{
	if (norm[1] >= '0' && norm[1] <= '9')
		return true;
	if (starts_with_any(norm, number_words))
		return true;
	for (const char *p = norm; (p = strchr(p, ' ')) && p[1]; p++) {
		if (p[1] < '0' || p[1] > '9')
			continue;
		const char *q = p + 1;
		while (*q >= '0' && *q <= '9')
			q++;
		if (*q == ' ') {
			for (const char *const *n = list_nouns; *n; n++)
				if (!strncmp(q, *n, strlen(*n)))
					return true;
		}
	}
	return false;
}

static bool ends_with_question(const char *hook)
{
	size_t n = strlen(hook);
	while (n > 0 && (hook[n - 1] == ' ' || hook[n - 1] == '"' || hook[n - 1] == ')'))
		n--;
	if (n >= 1 && hook[n - 1] == '?')
		return true;
	return n >= 3 && !memcmp(hook + n - 3, "\xEF\xBC\x9F", 3); /* U+FF1F */
}

enum hook_type hook_classify(struct arena *a, const char *hook)
{
	if (!hook || !*hook)
		return HOOK_STATEMENT;
	const char *norm = text_normalize(a, hook, strlen(hook));
	if (is_number_list(norm))
		return HOOK_NUMBER_LIST;
	if (has_any(norm, howto_phrases))
		return HOOK_HOW_TO;
	if (has_any(norm, warning_phrases))
		return HOOK_WARNING;
	if (has_any(norm, contrarian_phrases))
		return HOOK_CONTRARIAN;
	if (ends_with_question(hook))
		return HOOK_QUESTION;
	/* Before the question words: "When I ..." opens a story, not a question. */
	if (has_any(norm, story_phrases))
		return HOOK_STORY;
	if (starts_with_any(norm, question_starts))
		return HOOK_QUESTION;
	if (has_any(norm, curiosity_phrases))
		return HOOK_CURIOSITY;
	return HOOK_STATEMENT;
}

/*
 * The fixed power-word lexicon, sorted (bsearch) and at most 64 long: bit i
 * of a mask is word i, so masks list their words in alphabetical order.
 */
static const char *const power_words[] = {
    "actually", "avoid",     "because",  "best",       "blueprint",    "boost",      "breakthrough",
    "crazy",    "discover",  "easy",     "effortless", "everyone",     "exclusive",  "fast",
    "finally",  "first",     "formula",  "free",       "guaranteed",   "hack",       "hacks",
    "hidden",   "imagine",   "insane",   "instant",    "instantly",    "lessons",    "million",
    "mindset",  "mistake",   "mistakes", "money",      "never",        "new",        "nobody",
    "now",      "only",      "powerful", "proven",     "quick",        "results",    "save",
    "secret",   "secrets",   "shocking", "simple",     "stop",         "struggle",   "surprising",
    "tips",     "transform", "truth",    "ultimate",   "unbelievable", "underrated", "viral",
    "warning",  "why",       "worst",    "you",
};
#define N_POWER (int)(sizeof(power_words) / sizeof(power_words[0]))
_Static_assert(sizeof(power_words) / sizeof(power_words[0]) <= 64, "power words fit a mask");

static int cmp_word(const void *key, const void *elem)
{
	return strcmp((const char *)key, *(const char *const *)elem);
}

static int power_token(void *ud, const struct token *t)
{
	if (t->len < 3)
		return 0;
	const char *const *hit =
	    bsearch(t->tok, power_words, (size_t)N_POWER, sizeof(power_words[0]), cmp_word);
	if (hit)
		*(uint64_t *)ud |= (uint64_t)1 << (hit - power_words);
	return 0;
}

bool hook_is_power_word(const char *word)
{
	return bsearch(word, power_words, (size_t)N_POWER, sizeof(power_words[0]), cmp_word) !=
	       NULL;
}

uint64_t hook_power_words(struct arena *a, const char *text)
{
	(void)a;
	uint64_t mask = 0;
	if (text)
		text_tokens(text, strlen(text), strlen(text), 0, power_token, &mask);
	return mask;
}

int hook_power_count(uint64_t mask)
{
	return __builtin_popcountll(mask);
}

json_t *hook_power_words_json(uint64_t mask)
{
	json_t *arr = json_array();
	for (int i = 0; i < N_POWER; i++)
		if (mask & ((uint64_t)1 << i))
			an_push(arr, an_str(power_words[i]));
	return arr;
}

static const char *const strategies[HOOK_TYPES] = {
    [HOOK_NUMBER_LIST] = "Promises a concrete, countable payoff",
    [HOOK_HOW_TO] = "Promises a practical method the viewer can copy",
    [HOOK_WARNING] = "Triggers loss aversion by flagging a costly mistake",
    [HOOK_CONTRARIAN] = "Challenges a common belief to provoke a reaction",
    [HOOK_QUESTION] = "Opens with a direct question the viewer wants answered",
    [HOOK_STORY] = "Opens a personal story loop the viewer wants closed",
    [HOOK_CURIOSITY] = "Withholds a key detail to open a curiosity gap",
    [HOOK_STATEMENT] = "Makes a bold, direct claim up front",
};

const char *hook_strategy(enum hook_type t)
{
	return strategies[(unsigned)t < HOOK_TYPES ? t : HOOK_STATEMENT];
}

static const char *const triggers[HOOK_TYPES][2] = {
    [HOOK_NUMBER_LIST] = {"clarity", "anticipation"},
    [HOOK_HOW_TO] = {"aspiration", "competence"},
    [HOOK_WARNING] = {"fear of missing out", "loss aversion"},
    [HOOK_CONTRARIAN] = {"surprise", "disagreement"},
    [HOOK_QUESTION] = {"curiosity", "self-reflection"},
    [HOOK_STORY] = {"empathy", "relatability"},
    [HOOK_CURIOSITY] = {"curiosity", "intrigue"},
    [HOOK_STATEMENT] = {"confidence", "authority"},
};
static const char *const principles[HOOK_TYPES][2] = {
    [HOOK_NUMBER_LIST] = {"chunking", "specificity"},
    [HOOK_HOW_TO] = {"self-efficacy", "concrete payoff"},
    [HOOK_WARNING] = {"loss aversion", "negativity bias"},
    [HOOK_CONTRARIAN] = {"cognitive dissonance", "pattern interrupt"},
    [HOOK_QUESTION] = {"Zeigarnik effect", "self-reference"},
    [HOOK_STORY] = {"narrative transportation", "social proof"},
    [HOOK_CURIOSITY] = {"information gap", "Zeigarnik effect"},
    [HOOK_STATEMENT] = {"authority", "certainty"},
};
static const char *const retention[HOOK_TYPES] = {
    [HOOK_NUMBER_LIST] = "countdown structure",
    [HOOK_HOW_TO] = "step-by-step sequence",
    [HOOK_WARNING] = "consequence revealed later",
    [HOOK_CONTRARIAN] = "argument paid off at the end",
    [HOOK_QUESTION] = "answer withheld until later",
    [HOOK_STORY] = "narrative arc",
    [HOOK_CURIOSITY] = "delayed reveal",
    [HOOK_STATEMENT] = "proof follows the claim",
};

static json_t *pair_json(const char *const p[2])
{
	json_t *a = json_array();
	an_push(a, an_str(p[0]));
	an_push(a, an_str(p[1]));
	return a;
}

json_t *hook_triggers_json(enum hook_type t)
{
	return pair_json(triggers[(unsigned)t < HOOK_TYPES ? t : HOOK_STATEMENT]);
}

static int word_count(const char *s)
{
	int n = 0;
	bool in = false;
	for (; *s; s++) {
		bool sp = *s == ' ';
		if (!sp && !in)
			n++;
		in = !sp;
	}
	return n;
}

/*
 * 0..10: a raw score of 5 at the account's median, +1.5 per doubling of
 * the outlier score, +0.25 per power word (at most +1), +0.5 for a hook of
 * at most 12 words, squashed by a logistic around 5 (10 / (1 + e^-(raw-5)/2.2))
 * so that outliers stay apart instead of all clamping at 10: raw 7 -> 7.1,
 * 9 -> 8.6, 11 -> 9.4, 13 -> 9.7.
 */
static double effectiveness(const struct an_reel *r)
{
	double o = r->outlier > 1.0 / 16 ? r->outlier : 1.0 / 16;
	double s = 5 + 1.5 * log2(o);
	int pw = hook_power_count(r->power);
	s += (pw > 4 ? 4 : pw) * 0.25;
	if (r->hook && word_count(r->hook) <= 12)
		s += 0.5;
	s = 10 / (1 + exp(-(s - 5) / 2.2));
	return round(s * 10) / 10;
}

/* More than 14 words and no sentence punctuation at all: an auto-caption run-on. */
static bool unpunctuated(const char *h)
{
	return word_count(h) > 14 && !strpbrk(h, ".!?,;:") && !strstr(h, "…");
}

/* The caption's first sentence without its trailing hashtag wall ("... these 👇 #a #b"). */
static const char *caption_hook(struct an_ctx *c, const struct an_reel *r)
{
	if (!r->desc)
		return "";
	char *h = text_first_sentence(&c->arena, r->desc, r->desc_len, AN_HOOK_MAX_CHARS);
	for (;;) {
		size_t n = strlen(h);
		while (n > 0 && h[n - 1] == ' ')
			h[--n] = '\0';
		char *sp = strrchr(h, ' ');
		char *last = sp ? sp + 1 : h;
		if (*last != '#' || last == h)
			break;
		*last = '\0';
	}
	return h;
}

void hooks_extract_one(struct an_ctx *c, struct an_reel *r)
{
	const char *h =
	    r->tr ? text_first_sentence(&c->arena, r->tr, r->tr_len, AN_HOOK_MAX_CHARS) : "";
	r->hook_src = HOOK_SRC_TRANSCRIPT;
	/* An auto-caption without punctuation gives no first sentence, only the
	 * whole text ("ok so stop buying ten serums you need like three things a
	 * gentle cleanser ..."): the caption's first line, which the creator wrote
	 * as a hook, is then the better one. */
	if (*h && unpunctuated(h) && r->desc) {
		const char *d = caption_hook(c, r);
		if (*d)
			h = "";
	}
	if (!*h) {
		h = caption_hook(c, r);
		r->hook_src = HOOK_SRC_CAPTION;
	}
	if (!*h) {
		r->hook_src = HOOK_SRC_NONE;
		r->hook = NULL;
		r->htype = HOOK_STATEMENT;
		return;
	}
	r->hook = h;
	r->htype = hook_classify(&c->arena, h);
	r->power = hook_power_words(&c->arena, h);
	r->effectiveness = effectiveness(r);
}

void hooks_extract(struct an_ctx *c)
{
	for (int k = 0; k < c->nselected; k++)
		hooks_extract_one(c, &c->reels[c->selected[k]]);
}

static const char *strength(double outlier)
{
	return outlier >= 2 ? "high" : outlier >= 1 ? "medium" : "low";
}

static bool has_emoji(const char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += utf8_next(s, len, i, &cp);
		if ((cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF))
			return true;
	}
	return false;
}

static const char *improvement(const struct an_reel *r)
{
	int words = word_count(r->hook);
	if (words > 20)
		return "Shorten the hook to under 12 words so it lands in the first 2 seconds";
	if (r->power == 0)
		return "Add a power word (secret, mistake, proven, ...) to sharpen the promise";
	if (r->htype == HOOK_STATEMENT)
		return "Turn the claim into a question or a number to open a loop";
	return "Test a tighter first line with the same structure";
}

json_t *hooks_analysis_json(struct an_ctx *c, const struct an_reel *r)
{
	const struct an_account *a = &c->accounts[r->account];
	json_t *h = json_object();
	an_set(h, "hook_text", an_str(r->hook));
	an_set(h, "hook_type", an_str(hook_type_name(r->htype)));
	an_set(h, "hook_strategy", an_str(hook_strategy(r->htype)));
	an_set(h, "power_words", hook_power_words_json(r->power));
	an_set(h, "emotional_triggers", hook_triggers_json(r->htype));
	an_set(h, "effectiveness_score", json_real(r->effectiveness));
	an_set(h, "why_it_works",
	       an_str(arena_printf(
	           &c->arena, "%s hook (%s); %lld views, %.2fx @%s's median of %.0f views",
	           hook_type_name(r->htype), hook_strategy(r->htype), (long long)r->views,
	           r->outlier, a->username, a->median_nonzero)));
	an_set(h, "psychological_principles",
	       pair_json(principles[(unsigned)r->htype < HOOK_TYPES ? r->htype : HOOK_STATEMENT]));
	an_set(h, "audience_hook_match",
	       an_str(c->strategy_given
	                  ? arena_printf(&c->arena, "target audience: %s", c->audience)
	                  : NULL));
	an_set(h, "improvement_potential", an_str(improvement(r)));

	json_t *stop = json_array();
	if (ends_with_question(r->hook))
		an_push(stop, an_str("opens with a question"));
	if (strpbrk(r->hook, "0123456789"))
		an_push(stop, an_str("specific number"));
	const char *norm = text_normalize(&c->arena, r->hook, strlen(r->hook));
	if (strstr(norm, " you ") || strstr(norm, " your "))
		an_push(stop, an_str("speaks to the viewer directly"));
	if (has_emoji(r->hook))
		an_push(stop, an_str("emoji"));
	if (word_count(r->hook) <= 8)
		an_push(stop, an_str("short first line"));
	if (r->power)
		an_push(stop, an_str("power words"));
	json_t *ret = json_array();
	an_push(ret,
	        an_str(retention[(unsigned)r->htype < HOOK_TYPES ? r->htype : HOOK_STATEMENT]));
	json_t *corr = json_object();
	an_set(corr, "hook_to_engagement_strength", an_str(strength(r->outlier)));
	an_set(corr, "likely_scroll_stop_factors", stop);
	an_set(corr, "retention_elements", ret);

	json_t *o = json_object();
	an_set(o, "hook_analysis", h);
	an_set(o, "engagement_correlation", corr);
	an_set(o, "reel_id", an_str(r->content_id));
	an_set(o, "content_id", an_str(r->content_id));
	an_set(o, "shortcode", an_str(r->shortcode));
	an_set(o, "reel_type", an_str(a->primary ? "primary" : "competitor"));
	an_set(o, "username", an_str(a->username));
	an_set(o, "outlier_score", json_real(r->outlier));
	an_set(o, "view_count", json_integer(r->views));
	an_set(o, "hook_source",
	       an_str(r->hook_src == HOOK_SRC_TRANSCRIPT ? "transcript" : "caption"));
	return o;
}
