/*
 * Trends: topic phrases and hashtags of competitor reels (captions and
 * transcripts) weighted by the outlier scores of the reels that use them,
 * minus everything the creator has used; and the subjects of the generated
 * hooks. One hash table of words, phrases (2-3 words) and hashtags, linear
 * in the scanned text, which is bounded per reel and per run.
 *
 * A topic phrase is a run of 1-3 words with no punctuation inside, made of
 * content words (text_word_class): descriptive adjectives only in front
 * ("crispy tofu"), time units only as the head ("rest days"). It counts as
 * a topic when it is seen in at least two reels and in more than one
 * context (the word before it differs): a phrase that always comes with the
 * same neighbour ("in school", "Ingredients: olive oil") is part of a
 * template line, not what the reel is about. A shorter phrase mostly seen
 * inside a longer one ("glute" in "glute bridges") gives way to it, and a
 * longer one that is a rare variant of a shorter one ("restaurant homemade
 * pesto") to the shorter.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "actors/analyzer/analysis.h"

#define SCAN_BUDGET (4u << 20) /* bytes of text tokenised per run */
#define MAX_TERMS   32768
#define PHRASE_MAX  3
#define KEY_MAX     (PHRASE_MAX * (TOKEN_MAX + 1))

enum term_kind { TERM_WORDS, TERM_TAG };

struct term {
	const char *key;     /* lower-cased words joined by one space, or the tag; NULL: empty */
	const char *display; /* as written mid-sentence when always capitalised there */
	uint32_t hash;
	uint32_t lctx; /* hash of the word before the first occurrence (0: none) */
	uint8_t kind, nwords, cls;
	bool eligible; /* words: a well-formed topic phrase; tags: not generic */
	bool varied;   /* seen after more than one different word */
	bool ctx_set, subsumed, dropped;
	uint8_t case_state; /* 0 unknown, 1 capitalised mid-sentence, 2 seen lower-case */
	int reels, last_reel;
	uint64_t accounts;
	double weight;
	int creator_reels, creator_last;
	double creator_weight;
};

struct term_index {
	struct term *slots;
	size_t cap, used;
	struct arena *arena;
};

struct run_word {
	struct term *t; /* the word's own entry */
	const char *raw;
	size_t rawlen;
	uint32_t left; /* hash of the token before it, 0 after a break */
};

struct scan {
	struct an_ctx *c;
	struct term_index *t;
	const struct an_reel *r;
	int reel; /* index of r */
	bool creator;
	struct run_word run[PHRASE_MAX];
	int nrun;
	uint32_t prev; /* hash of the previous token, 0 after a break */
};

static const char *const generic_tags[] = {
    "explore", "explorepage", "foryou",   "foryoupage", "fyp",        "instagood", "instagram",
    "reel",    "reels",       "trending", "viral",      "viralreels", NULL};

static bool in_list(const char *w, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(w, *list))
			return true;
	return false;
}

static uint32_t fnv(const char *s, size_t n, enum term_kind kind)
{
	uint32_t h = kind == TERM_TAG ? 2166136261u ^ '#' : 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h ? h : 1; /* 0 means "no context" */
}

static void table_grow(struct term_index *t)
{
	struct term *old = t->slots;
	size_t oldcap = t->cap;
	t->cap = oldcap ? oldcap * 2 : 256;
	t->slots = arena_alloc(t->arena, sizeof(*t->slots) * t->cap);
	for (size_t i = 0; i < oldcap; i++) {
		if (!old[i].key)
			continue;
		size_t j = old[i].hash & (t->cap - 1);
		while (t->slots[j].key)
			j = (j + 1) & (t->cap - 1);
		t->slots[j] = old[i];
	}
}

/* The entry of a key, or NULL. */
static struct term *table_find(const struct term_index *t, const char *key, size_t len,
                               enum term_kind kind)
{
	uint32_t h = fnv(key, len, kind);
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct term *e = &t->slots[i];
		if (!e->key)
			return NULL;
		if (e->hash == h && e->kind == kind && !strncmp(e->key, key, len) && !e->key[len])
			return e;
	}
}

/* Class of one word for topics: text_word_class, plus power words. */
static enum word_class word_class(const char *w, size_t len)
{
	enum word_class k = text_word_class(w, len);
	/* List nouns ("tips", "hacks") may head a topic ("hostel hacks") though they sell. */
	if (k != WORD_STOP && k != WORD_TIME && hook_is_power_word(w))
		k = WORD_STOP; /* "mistakes", "secret": how hooks sell, not what they are about */
	return k;
}

/* Whether words of these classes make a topic phrase. */
static bool well_formed(const uint8_t *cls, int n)
{
	for (int i = 0; i < n; i++) {
		if (cls[i] == WORD_STOP)
			return false;
		if (cls[i] == WORD_MOD && i == n - 1)
			return false; /* an adjective is no head */
		if (cls[i] == WORD_TIME && (i != n - 1 || n == 1))
			return false; /* "days" alone or in front is no topic */
	}
	return true;
}

/*
 * The entry of a key, inserted when new (cls: the classes of its words);
 * NULL once the table holds MAX_TERMS.
 */
static struct term *table_get(struct term_index *t, const char *key, size_t len,
                              enum term_kind kind, const uint8_t *cls, int nwords)
{
	uint32_t h = fnv(key, len, kind);
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct term *e = &t->slots[i];
		if (e->key) {
			if (e->hash == h && e->kind == kind && !strncmp(e->key, key, len) &&
			    !e->key[len])
				return e;
			continue;
		}
		if (t->used >= MAX_TERMS)
			return NULL;
		if (2 * (t->used + 1) > t->cap) {
			table_grow(t);
			return table_get(t, key, len, kind, cls, nwords);
		}
		e->key = arena_strndup(t->arena, key, len);
		e->hash = h;
		e->kind = (uint8_t)kind;
		e->nwords = (uint8_t)nwords;
		e->last_reel = e->creator_last = -1;
		/* Classified once per distinct key: later hits cost one lookup. */
		if (kind == TERM_TAG) {
			bool digits = true;
			for (size_t k = 0; k < len; k++)
				digits &= key[k] >= '0' && key[k] <= '9';
			e->eligible = !digits && len >= 3 && !in_list(e->key, generic_tags);
		} else {
			e->cls = nwords == 1 ? (uint8_t)word_class(e->key, len) : cls[0];
			uint8_t one = e->cls;
			e->eligible = well_formed(nwords == 1 ? &one : cls, nwords);
		}
		t->used++;
		return e;
	}
}

/* One occurrence of e in the reel being scanned. */
static void count(struct scan *s, struct term *e, uint32_t left)
{
	double w = s->r->outlier;
	if (!e->ctx_set) {
		e->ctx_set = true;
		e->lctx = left;
	} else if (e->lctx != left) {
		e->varied = true;
	}
	if (s->creator) {
		if (e->creator_last != s->reel) {
			e->creator_last = s->reel;
			e->creator_reels++;
			e->creator_weight += 1 + w;
		}
	} else if (e->last_reel != s->reel) {
		e->last_reel = s->reel;
		e->reels++;
		e->weight += w;
		e->accounts |= (uint64_t)1 << (s->r->account & 63);
	}
}

static bool has_upper(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

/* Proper nouns keep their case: "Lisbon", "Amalfi coast" (never seen lower-case). */
static void note_case(struct scan *s, struct term *e, int first)
{
	if (e->case_state == 2)
		return;
	bool upper = false;
	for (int k = first; k < s->nrun; k++)
		upper |= has_upper(s->run[k].raw, s->run[k].rawlen);
	if (!upper) {
		e->case_state = 2;
		return;
	}
	if (e->case_state == 1 || !s->run[first].left)
		return; /* sentence-initial capitals prove nothing */
	char buf[KEY_MAX + 1];
	size_t o = 0;
	for (int k = first; k < s->nrun; k++) {
		if (o)
			buf[o++] = ' ';
		memcpy(buf + o, s->run[k].raw, s->run[k].rawlen);
		o += s->run[k].rawlen;
	}
	e->display = arena_strndup(s->t->arena, buf, o);
	e->case_state = 1;
}

static int scan_token(void *ud, const struct token *tk)
{
	struct scan *s = ud;
	if (tk->brk)
		s->prev = 0, s->nrun = 0;
	if (tk->kind == TOKEN_HASHTAG) {
		struct term *e = table_get(s->t, tk->tok, tk->len, TERM_TAG, NULL, 1);
		if (e && e->eligible)
			count(s, e, 1);
		s->prev = 0, s->nrun = 0;
		return 0;
	}
	uint32_t left = s->prev;
	if (tk->len < 3) { /* a short ASCII word is a stop word: no entry needed */
		s->prev = fnv(tk->tok, tk->len, TERM_WORDS);
		s->nrun = 0;
		bool article = tk->len == 1 && tk->tok[0] == 'a';
		if (article)
			s->prev = left;
		return 0;
	}
	struct term *w = table_get(s->t, tk->tok, tk->len, TERM_WORDS, NULL, 1);
	/* An article is no context: "exploring the Amalfi coast" vs "opinion: the Amalfi coast". */
	if (!(tk->len <= 3 &&
	      (!strcmp(tk->tok, "the") || !strcmp(tk->tok, "a") || !strcmp(tk->tok, "an"))))
		s->prev = w ? w->hash : 1;
	if (!w || w->cls == WORD_STOP) {
		s->nrun = 0;
		return 0;
	}
	if (s->nrun == PHRASE_MAX) {
		memmove(s->run, s->run + 1, sizeof(s->run[0]) * (PHRASE_MAX - 1));
		s->nrun--;
	}
	s->run[s->nrun++] = (struct run_word){w, tk->raw, tk->rawlen, left};
	/* Every phrase that ends here: the word, the last two, the last three. */
	for (int first = s->nrun - 1; first >= 0; first--) {
		int n = s->nrun - first;
		uint8_t cls[PHRASE_MAX];
		for (int k = 0; k < n; k++)
			cls[k] = s->run[first + k].t->cls;
		if (!well_formed(cls, n))
			continue;
		struct term *e = w;
		if (n > 1) {
			char key[KEY_MAX + 1];
			size_t o = 0;
			for (int k = first; k < s->nrun; k++) {
				size_t kl = strlen(s->run[k].t->key);
				if (o)
					key[o++] = ' ';
				memcpy(key + o, s->run[k].t->key, kl);
				o += kl;
			}
			e = table_get(s->t, key, o, TERM_WORDS, cls, n);
			if (!e)
				continue;
		}
		count(s, e, s->run[first].left);
		note_case(s, e, first);
	}
	return 0;
}

static int cmp_trend(const void *pa, const void *pb)
{
	const struct an_trend *a = pa, *b = pb;
	if (a->weight != b->weight)
		return a->weight > b->weight ? -1 : 1;
	if (a->reels != b->reels)
		return a->reels > b->reels ? -1 : 1;
	return strcmp(a->term, b->term);
}

/* An account's own name (#alpha on alpha's reels) is branding, not a topic. */
static bool is_account(const struct an_ctx *c, const char *term)
{
	for (int a = 0; a < c->naccounts; a++)
		if (!strcmp(c->accounts[a].username, term))
			return true;
	return false;
}

/* Inserts x into the best-first list top[0..*n) of at most k entries. */
static void top_insert(struct an_trend *top, int *n, int k, const struct an_trend *x)
{
	if (*n == k && cmp_trend(x, &top[k - 1]) >= 0)
		return;
	int i = *n < k ? (*n)++ : k - 1;
	while (i > 0 && cmp_trend(x, &top[i - 1]) < 0) {
		top[i] = top[i - 1];
		i--;
	}
	top[i] = *x;
}

static int total(const struct term *e)
{
	return e->reels + e->creator_reels;
}

/* A topic phrase: well formed, in 2+ reels, in varied contexts, not an account name. */
static bool is_topic(const struct an_ctx *c, const struct term *e)
{
	return e->key && e->kind == TERM_WORDS && e->eligible && e->varied && total(e) >= 2 &&
	       !e->subsumed && !e->dropped && !is_account(c, e->key);
}

static const char *shown(const struct term *e)
{
	return e->case_state == 1 && e->display ? e->display : e->key;
}

/*
 * Nested phrases: the shorter gives way when the longer holds 60 % of its
 * reels ("glute" in "glute bridges"), the longer when it holds less than
 * that of a shorter topic ("restaurant homemade pesto" vs "homemade pesto").
 */
static void resolve_nesting(struct term_index *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct term *p = &t->slots[i];
		if (!p->key || p->kind != TERM_WORDS || p->nwords < 2 || !p->eligible ||
		    !p->varied || total(p) < 2)
			continue;
		const char *sp1 = strchr(p->key, ' '), *sp2 = strrchr(p->key, ' ');
		size_t klen = strlen(p->key);
		struct term *sub[2] = {
		    table_find(t, p->key, (size_t)(sp2 - p->key), TERM_WORDS),
		    table_find(t, sp1 + 1, klen - (size_t)(sp1 + 1 - p->key), TERM_WORDS)};
		for (int k = 0; k < 2; k++) {
			struct term *s = sub[k];
			if (!s || !s->eligible)
				continue;
			if (total(p) * 10 >= total(s) * 6)
				s->subsumed = true;
			else if (s->varied && total(s) >= 2)
				p->dropped = true;
		}
	}
}

/*
 * The best AN_TRENDS trends of one kind into *out (over-performers, lift >
 * 1, first); *overperform says whether all of them over-perform. One pass
 * keeping two short best-first lists: no sort of the whole table.
 */
static int pick(struct an_ctx *c, struct term_index *t, enum term_kind kind, double mean,
                struct an_trend **out, bool *overperform)
{
	struct an_trend *over = arena_alloc(&c->arena, sizeof(*over) * AN_TRENDS);
	struct an_trend *rest = arena_alloc(&c->arena, sizeof(*rest) * AN_TRENDS);
	int nover = 0, nrest = 0;
	for (size_t i = 0; i < t->cap; i++) {
		struct term *e = &t->slots[i];
		if (!e->key || e->kind != kind || !e->eligible || e->creator_reels > 0 ||
		    e->reels < 2 || is_account(c, e->key))
			continue;
		if (kind == TERM_WORDS && !is_topic(c, e))
			continue;
		double lift = mean > 0 ? (e->weight / e->reels) / mean : 0;
		struct an_trend x = {shown(e),
		                     kind == TERM_TAG,
		                     e->reels,
		                     __builtin_popcountll(e->accounts),
		                     an_round4(e->weight),
		                     an_round4(lift)};
		if (x.lift > 1)
			top_insert(over, &nover, AN_TRENDS, &x);
		else
			top_insert(rest, &nrest, AN_TRENDS, &x);
	}
	for (int i = 0; i < nrest && nover < AN_TRENDS; i++)
		over[nover++] = rest[i];
	*out = over;
	*overperform = nover > 0 && over[nover - 1].lift > 1;
	return nover;
}

bool trends_plural(const char *phrase)
{
	const char *head = strrchr(phrase, ' ');
	head = head ? head + 1 : phrase;
	size_t n = strlen(head);
	if (n < 4 || (head[n - 1] | 0x20) != 's')
		return false;
	char p = (char)(head[n - 2] | 0x20);
	return p != 's' && p != 'u' && p != 'i';
}

/* Words a hashtag may be split into beyond those seen in the run's text. */
static const char *const tag_words[] = {
    "based",    "beauty",  "body",    "bread",  "breakfast", "budget",   "care",     "cook",
    "cooking",  "debt",    "diet",    "dinner", "easy",      "europe",   "family",   "fashion",
    "fat",      "finance", "fitness", "food",   "free",      "gym",      "hair",     "health",
    "healthy",  "home",    "ideas",   "kids",   "life",      "loss",     "lunch",    "meal",
    "mental",   "money",   "muscle",  "plant",  "prep",      "recipe",   "recipes",  "run",
    "running",  "save",    "side",    "skin",   "solo",      "strength", "style",    "tips",
    "training", "travel",  "trip",    "vegan",  "weight",    "workout",  "workouts", "yoga",
    NULL};

static bool known_word(const struct term_index *t, const char *w, size_t n)
{
	if (n < 3)
		return false;
	if (table_find(t, w, n, TERM_WORDS))
		return true;
	for (const char *const *k = tag_words; *k; k++)
		if (strlen(*k) == n && !memcmp(*k, w, n))
			return true;
	return false;
}

/*
 * "mealprep" -> "meal prep" when it splits into 2 or 3 known words (fewest
 * pieces, longest first piece); NULL otherwise. A one-word tag that is a
 * known word is itself.
 */
static const char *split_tag(struct an_ctx *c, const struct term_index *t, const char *tag)
{
	size_t n = strlen(tag);
	if (known_word(t, tag, n))
		return tag;
	for (size_t i = n - 3; i >= 3; i--)
		if (known_word(t, tag, i) && known_word(t, tag + i, n - i))
			return arena_printf(&c->arena, "%.*s %s", (int)i, tag, tag + i);
	for (size_t i = n - 6; i >= 3 && n >= 9; i--)
		for (size_t j = n - 3; j >= i + 3; j--)
			if (known_word(t, tag, i) && known_word(t, tag + i, j - i) &&
			    known_word(t, tag + j, n - j))
				return arena_printf(&c->arena, "%.*s %.*s %s", (int)i, tag,
				                    (int)(j - i), tag + i, tag + j);
	return NULL;
}

/* Ranking of under-used topics: weight, then reels, then key (deterministic). */
static bool better(const struct term *a, const struct term *b)
{
	if (a->weight != b->weight)
		return a->weight > b->weight;
	if (a->reels != b->reels)
		return a->reels > b->reels;
	return strcmp(a->key, b->key) < 0;
}

/* Ranking of the creator's rare themes: lift, then its reels, then key. */
static bool rare_better(const struct term *a, double la, const struct term *b, double lb)
{
	if (la != lb)
		return la > lb;
	if (a->creator_reels != b->creator_reels)
		return a->creator_reels > b->creator_reels;
	return strcmp(a->key, b->key) < 0;
}

/* Known already, also as its singular or plural ("squat" / "squats"). */
static bool subject_known(const struct an_ctx *c, const char *text)
{
	size_t n = strlen(text);
	for (int i = 0; i < c->nsubjects; i++) {
		const char *k = c->subjects[i].text;
		size_t m = strlen(k);
		if (!strcasecmp(k, text) ||
		    (m == n + 1 && (k[n] == 's' || k[n] == 'S') && !strncasecmp(k, text, n)) ||
		    (n == m + 1 && (text[m] == 's' || text[m] == 'S') && !strncasecmp(k, text, m)))
			return true;
	}
	return false;
}

/*
 * Not a subject to film: a profession is who talks, not what about ("3
 * mistakes everyone makes with dermatologist"); a lone generic word says
 * nothing ("How to start with payday", "Is form worth it").
 */
static bool is_profession(const char *text)
{
	static const char *const vague[] = {"form",    "tourists", "payday", "people", "things",
	                                    "stuff",   "life",     "time",   "way",    "day",
	                                    "today",   "content",  "video",  "reels",  "everyone",
	                                    "someone", "results",  "money",  "work",   NULL};
	for (int i = 0; vague[i]; i++)
		if (!strcasecmp(text, vague[i]))
			return true;
	/* A stop word inside ("workout tutorials": a format, not a subject). */
	for (const char *w = text; *w && *text != '#';) {
		size_t n = strcspn(w, " ");
		char low[TOKEN_MAX + 1];
		if (n > 0 && n <= TOKEN_MAX) {
			for (size_t k = 0; k < n; k++)
				low[k] = (char)tolower((unsigned char)w[k]);
			low[n] = '\0';
			if (text_word_class(low, n) == WORD_STOP)
				return true;
		}
		w += n + (w[n] == ' ');
	}
	static const char *const jobs[] = {
	    "dermatologist", "dermatologists", "doctor",      "doctors",   "coach",
	    "coaches",       "trainer",        "trainers",    "therapist", "nutritionist",
	    "dietitian",     "physio",         "esthetician", "expert",    "experts",
	    "influencer",    "chef",           "advisor",     NULL};
	const char *last = strrchr(text, ' ');
	last = last ? last + 1 : text;
	for (int i = 0; jobs[i]; i++)
		if (!strcasecmp(last, jobs[i]))
			return true;
	return false;
}

static struct an_topic *add_subject(struct an_ctx *c, const char *text, enum topic_origin origin,
                                    int reels, int accounts, int creator_reels, double lift)
{
	if (c->nsubjects >= AN_HOOKS || subject_known(c, text) ||
	    (origin != TOPIC_DEFAULT && is_profession(text)))
		return NULL;
	struct an_topic *tp = &c->subjects[c->nsubjects++];
	*tp = (struct an_topic){text,
	                        trends_plural(text),
	                        text[0] >= 'A' && text[0] <= 'Z',
	                        origin,
	                        reels,
	                        accounts,
	                        creator_reels,
	                        lift,
	                        NULL};
	return tp;
}

/* ---- noun phrases of the content strategy and the bio --------------------- */

#define PHRASE_WORDS 64 /* words of one field looked at */

/* How a video is made, not what it is about ("workout tutorials", "finance explainers"). */
static const char *const format_words[] = {
    "breakdown",  "breakdowns",  "clip",         "clips",  "content", "demo",   "demos",
    "explainer",  "explainers",  "guide",        "guides", "post",    "posts",  "reel",
    "reels",      "review",      "reviews",      "series", "short",   "shorts", "talking-head",
    "tutorial",   "tutorials",   "video",        "videos", "vlog",    "vlogs",  "voiceover",
    "voiceovers", "walkthrough", "walkthroughs", NULL};
/* Words after which the rest of a clause qualifies, not names, the topic. */
static const char *const cut_words[] = {
    "about", "at",   "below", "by",    "for", "from",  "in",  "into", "like",  "of",   "on", "over",
    "ready", "that", "to",    "under", "via", "which", "who", "with", "every", "each", NULL};
/* Too vague to be a topic on their own. */
static const char *const generic_words[] = {
    "community", "course", "everyone", "family",     "folks",  "followers", "friends",
    "life",      "link",   "men",      "newsletter", "people", "person",    "plan",
    "program",   "stuff",  "things",   "women",      "world",  NULL};

struct phrase_word {
	char low[TOKEN_MAX + 1];
	char raw[TOKEN_MAX + 1];
	uint8_t cls;
	bool format, keep_case;
};

struct phrase_scan {
	struct an_ctx *c;
	bool after_participle; /* targetAudience: a phrase only after "starting", "learning" ... */
	enum topic_origin origin;
	const char *from;
	struct phrase_word run[PHRASE_WORDS];
	int nrun, seen;
	bool cut, armed, have_prev;
};

/* Ends the current run: trims it into a topic phrase and adds it as a subject. */
static void phrase_flush(struct phrase_scan *p)
{
	struct phrase_word *w = p->run;
	int n = p->nrun;
	p->nrun = 0;
	/* A time unit or list noun heads a phrase, never leads it; nor does an adjective end it. */
	while (n > 0 && w[0].cls == WORD_TIME)
		w++, n--;
	while (n > 0 && w[n - 1].cls == WORD_MOD)
		n--;
	/* A trailing format word goes when two words remain ("personal finance explainers"). */
	if (n >= 3 && w[n - 1].format)
		n--;
	if (n > PHRASE_MAX)
		w += n - PHRASE_MAX, n = PHRASE_MAX;
	while (n > 0 && w[0].cls == WORD_TIME)
		w++, n--;
	if (n == 0)
		return;
	bool all_format = true;
	for (int k = 0; k < n; k++)
		all_format &= w[k].format;
	if (all_format)
		return;
	uint8_t cls[PHRASE_MAX];
	for (int k = 0; k < n; k++)
		cls[k] = w[k].format ? WORD_CONTENT : w[k].cls;
	if (!well_formed(cls, n))
		return;
	if (n == 1 && in_list(w[0].low, generic_words))
		return;
	char buf[PHRASE_MAX * (TOKEN_MAX + 1) + 1];
	size_t o = 0;
	for (int k = 0; k < n; k++) {
		const char *x = w[k].keep_case ? w[k].raw : w[k].low;
		if (o)
			buf[o++] = ' ';
		memcpy(buf + o, x, strlen(x));
		o += strlen(x);
	}
	if (is_account(p->c, arena_strndup(&p->c->arena, buf, o)))
		return;
	struct an_topic *tp =
	    add_subject(p->c, arena_strndup(&p->c->arena, buf, o), p->origin, 0, 0, 0, 0);
	if (tp) {
		tp->from = p->from;
		tp->proper = w[0].keep_case;
	}
}

static bool is_participle(const char *w, size_t n)
{
	return n > 4 && !strcmp(w + n - 3, "ing");
}

static int phrase_token(void *ud, const struct token *tk)
{
	struct phrase_scan *p = ud;
	if (p->seen++ >= PHRASE_WORDS)
		return 1;
	bool initial = tk->brk || !p->have_prev;
	p->have_prev = true;
	if (tk->brk) {
		phrase_flush(p);
		p->cut = false;
		p->armed = false;
	}
	if (tk->kind == TOKEN_HASHTAG) {
		phrase_flush(p);
		return 0;
	}
	if (!strcmp(tk->tok, "and") || !strcmp(tk->tok, "or") || !strcmp(tk->tok, "plus")) {
		phrase_flush(p);
		p->cut = false;
		return 0;
	}
	if (in_list(tk->tok, cut_words)) {
		phrase_flush(p);
		p->cut = true;
		return 0;
	}
	if (p->after_participle && p->nrun == 0 && is_participle(tk->tok, tk->len)) {
		p->armed = true, p->cut = false;
		return 0;
	}
	bool format = in_list(tk->tok, format_words);
	enum word_class k = word_class(tk->tok, tk->len);
	bool head_ok = k != WORD_STOP || (format && p->nrun > 0);
	if (p->cut || !head_ok || (p->after_participle && !p->armed && p->nrun == 0) ||
	    p->nrun >= PHRASE_WORDS || tk->len > TOKEN_MAX) {
		phrase_flush(p);
		if (p->after_participle && !(p->cut || head_ok))
			p->armed = false;
		return 0;
	}
	struct phrase_word *w = &p->run[p->nrun++];
	memcpy(w->low, tk->tok, tk->len + 1);
	size_t rl = tk->rawlen < TOKEN_MAX ? tk->rawlen : TOKEN_MAX;
	memcpy(w->raw, tk->raw, rl);
	w->raw[rl] = '\0';
	w->cls = (uint8_t)k;
	w->format = format;
	/* A capital keeps mid-sentence ("Italian", "Lisbon"), and in an acronym ("HIIT"). */
	bool upper = tk->raw[0] >= 'A' && tk->raw[0] <= 'Z';
	bool acronym = rl >= 2 && tk->raw[1] >= 'A' && tk->raw[1] <= 'Z';
	w->keep_case = upper && (!initial || acronym) && rl == tk->len;
	return 0;
}

/* Adds the noun phrases of text (the strategy's fields, the bio) as subjects. */
static void text_subjects(struct an_ctx *c, const char *text, bool after_participle,
                          enum topic_origin origin, const char *from)
{
	if (!text || !*text)
		return;
	struct phrase_scan p = {
	    .c = c, .after_participle = after_participle, .origin = origin, .from = from};
	text_tokens(text, strlen(text), 1024, TOKENS_HYPHENS, phrase_token, &p);
	phrase_flush(&p);
}

/*
 * The subjects of the generated hooks, best first: trend phrases the
 * creator never used, trend hashtags split into words, competitor topics the
 * creator uses at under half the competitors' rate, unsplittable hashtags
 * as "#tag". Without any: the creator's rarely used but over-performing
 * themes, its top themes, noun phrases of the content strategy, of the bio,
 * else "your niche".
 */
static void choose_subjects(struct an_ctx *c, struct term_index *t, double mean, double own_mean,
                            const int *theme_reels)
{
	c->subjects = arena_alloc(&c->arena, sizeof(*c->subjects) * AN_HOOKS);
	c->nsubjects = 0;
	/* Only what over-performs (lift > 1): a topic whose competitor reels do worse than
	 * their usual reel is no recommendation. */
	for (int i = 0; i < c->ntopics; i++)
		if (c->topics[i].lift > 1)
			add_subject(c, c->topics[i].term, TOPIC_TREND, c->topics[i].reels,
			            c->topics[i].accounts, 0, c->topics[i].lift);
	for (int i = 0; i < c->nhashtags; i++) {
		if (c->hashtags[i].lift <= 1)
			continue;
		const char *words = split_tag(c, t, c->hashtags[i].term);
		const struct term *used =
		    words ? table_find(t, words, strlen(words), TERM_WORDS) : NULL;
		if (words && !(used && used->creator_reels > 0))
			add_subject(c, words, TOPIC_HASHTAG, c->hashtags[i].reels,
			            c->hashtags[i].accounts, 0, c->hashtags[i].lift);
	}
	/* Under-used: creator rate < half the competitors' rate; best weight first. */
	const struct term *under[AN_HOOKS];
	int nunder = 0, cr = c->creator_reels_scanned, kr = c->competitor_reels_scanned;
	for (size_t i = 0; i < t->cap && cr > 0; i++) {
		const struct term *e = &t->slots[i];
		if (!is_topic(c, e) || e->creator_reels == 0 || e->reels < 2 ||
		    2 * e->creator_reels * kr >= e->reels * cr || mean <= 0 ||
		    (e->weight / e->reels) / mean <= 1)
			continue;
		if (nunder == AN_HOOKS && !better(e, under[AN_HOOKS - 1]))
			continue;
		int k = nunder < AN_HOOKS ? nunder++ : AN_HOOKS - 1;
		while (k > 0 && better(e, under[k - 1])) {
			under[k] = under[k - 1];
			k--;
		}
		under[k] = e;
	}
	for (int i = 0; i < nunder; i++)
		add_subject(c, shown(under[i]), TOPIC_UNDERUSED, under[i]->reels,
		            __builtin_popcountll(under[i]->accounts), under[i]->creator_reels,
		            mean > 0 ? an_round4((under[i]->weight / under[i]->reels) / mean) : 0);
	for (int i = 0; i < c->nhashtags; i++)
		if (c->hashtags[i].lift > 1 && !split_tag(c, t, c->hashtags[i].term))
			add_subject(c, arena_printf(&c->arena, "#%s", c->hashtags[i].term),
			            TOPIC_HASHTAG, c->hashtags[i].reels, c->hashtags[i].accounts, 0,
			            c->hashtags[i].lift);
	/* Five hooks, five subjects: fewer competitor topics are topped up with the creator's own.
	 */
	if (c->nsubjects >= AN_HOOKS)
		return;
	/*
	 * Not enough competitor topics: the creator's own. First themes in few of its
	 * reels whose reels over-perform (under-used), then its top themes, then
	 * the content strategy's noun phrases, then the bio's.
	 */
	const struct term *rare[AN_HOOKS - 2];
	double rlift[AN_HOOKS - 2];
	int nrare = 0;
	for (size_t i = 0; i < t->cap && cr > 0 && own_mean > 0; i++) {
		const struct term *e = &t->slots[i];
		if (!is_topic(c, e) || e->creator_reels == 0 || 4 * e->creator_reels > cr)
			continue;
		double l = an_round4((e->creator_weight / e->creator_reels - 1) / own_mean);
		if (l <= 1)
			continue;
		if (nrare == AN_HOOKS - 2 && !rare_better(e, l, rare[nrare - 1], rlift[nrare - 1]))
			continue;
		int k = nrare < AN_HOOKS - 2 ? nrare++ : AN_HOOKS - 3;
		while (k > 0 && rare_better(e, l, rare[k - 1], rlift[k - 1])) {
			rare[k] = rare[k - 1], rlift[k] = rlift[k - 1];
			k--;
		}
		rare[k] = e, rlift[k] = l;
	}
	/* Two of each of the creator's kinds, then the strategy, then the rest. */
	for (int i = 0; i < nrare && i < 2; i++)
		add_subject(c, shown(rare[i]), TOPIC_OWN_RARE, 0, 0, rare[i]->creator_reels,
		            rlift[i]);
	for (int i = 0; i < c->nthemes && i < 2; i++)
		add_subject(c, c->themes[i], TOPIC_THEME, 0, 0, theme_reels[i], 0);
	text_subjects(c, c->strategy_given ? c->content_type : NULL, false, TOPIC_STRATEGY,
	              "contentType");
	text_subjects(c, c->strategy_given ? c->audience : NULL, true, TOPIC_STRATEGY,
	              "targetAudience");
	if (c->nsubjects == 0)
		text_subjects(c, c->accounts[c->primary].bio, false, TOPIC_BIO, NULL);
	for (int i = 2; i < c->nthemes; i++)
		add_subject(c, c->themes[i], TOPIC_THEME, 0, 0, theme_reels[i], 0);
	for (int i = 2; i < nrare; i++)
		add_subject(c, shown(rare[i]), TOPIC_OWN_RARE, 0, 0, rare[i]->creator_reels,
		            rlift[i]);
	if (c->nsubjects == 0)
		add_subject(c, "your niche", TOPIC_DEFAULT, 0, 0, 0, 0);
}

void trends_compute(struct an_ctx *c)
{
	size_t budget = SCAN_BUDGET;
	struct term_index *t = arena_alloc(&c->arena, sizeof(*t));
	t->arena = &c->arena;
	table_grow(t);
	c->index = t;

	/* The creator first, so that its words are known before ranking. */
	int nbasis = 0, ncreator = 0;
	double sum = 0, own_sum = 0;
	for (int role = 0; role < 2; role++) {
		for (int i = 0; i < c->nreels; i++) {
			struct an_reel *r = &c->reels[i];
			bool creator = an_acct(c, r)->primary;
			if (creator != (role == 0) || budget == 0)
				continue;
			if (!creator && c->recurring && !r->is_new)
				continue;
			if (!creator) {
				nbasis++;
				sum += r->outlier;
			} else {
				ncreator++;
				own_sum += r->outlier;
			}
			struct scan s = {.c = c, .t = t, .r = r, .reel = i, .creator = creator};
			size_t d = r->desc_len < AN_CAPTION_SCAN ? r->desc_len : AN_CAPTION_SCAN;
			size_t tr = r->tr_len < AN_TRANSCRIPT_SCAN ? r->tr_len : AN_TRANSCRIPT_SCAN;
			d = d < budget ? d : budget;
			budget -= d;
			tr = tr < budget ? tr : budget;
			budget -= tr;
			text_tokens(r->desc, d, d, TOKENS_HYPHENS, scan_token, &s);
			s.nrun = 0, s.prev = 0;
			text_tokens(r->tr, tr, tr, TOKENS_HYPHENS, scan_token, &s);
		}
	}
	c->creator_reels_scanned = ncreator;
	c->competitor_reels_scanned = nbasis;
	resolve_nesting(t);
	double mean = nbasis ? sum / nbasis : 0;
	c->ntopics = pick(c, t, TERM_WORDS, mean, &c->topics, &c->topics_overperform);
	c->nhashtags = pick(c, t, TERM_TAG, mean, &c->hashtags, &c->hashtags_overperform);

	/* The creator's own themes: its topic phrases weighted by (1 + outlier). */
	struct an_trend own[5];
	int n = 0;
	for (size_t i = 0; i < t->cap; i++) {
		struct term *e = &t->slots[i];
		if (is_topic(c, e) && e->creator_reels > 0) {
			struct an_trend x = {shown(e),          false, e->creator_reels, 1,
			                     e->creator_weight, 0};
			top_insert(own, &n, 5, &x);
		}
	}
	c->theme_top_reels = n ? own[0].reels : 0;
	c->themes = arena_alloc(&c->arena, sizeof(char *) * 5);
	int theme_reels[5] = {0};
	for (c->nthemes = 0; c->nthemes < n; c->nthemes++) {
		c->themes[c->nthemes] = own[c->nthemes].term;
		theme_reels[c->nthemes] = own[c->nthemes].reels;
	}
	choose_subjects(c, t, mean, ncreator ? own_sum / ncreator : 0, theme_reels);
}

struct hook_scan {
	struct an_ctx *c;
	const char *hook;
	struct run_word run[PHRASE_MAX];
	int nrun;
	size_t best_start, best_len;
	int best_reels, best_words;
};

static int hook_token(void *ud, const struct token *tk)
{
	struct hook_scan *h = ud;
	const struct term_index *t = h->c->index;
	if (tk->brk || tk->kind == TOKEN_HASHTAG)
		h->nrun = 0;
	if (tk->kind == TOKEN_HASHTAG)
		return 0;
	struct term *w = table_find(t, tk->tok, tk->len, TERM_WORDS);
	if (!w || w->cls == WORD_STOP) {
		h->nrun = 0;
		return 0;
	}
	if (h->nrun == PHRASE_MAX) {
		memmove(h->run, h->run + 1, sizeof(h->run[0]) * (PHRASE_MAX - 1));
		h->nrun--;
	}
	h->run[h->nrun++] = (struct run_word){w, tk->raw, tk->rawlen, 0};
	for (int first = h->nrun - 1; first >= 0; first--) {
		int n = h->nrun - first;
		const struct term *e = w;
		if (n > 1) {
			char key[KEY_MAX + 1];
			size_t o = 0;
			for (int k = first; k < h->nrun; k++) {
				size_t kl = strlen(h->run[k].t->key);
				if (o)
					key[o++] = ' ';
				memcpy(key + o, h->run[k].t->key, kl);
				o += kl;
			}
			e = table_find(t, key, o, TERM_WORDS);
		}
		/* Not a vague word or a profession: in "The hidden side of cheap flights
		 * tourists never see", "tourists" is the template's audience, not its topic. */
		if (!e || !is_topic(h->c, e) || is_profession(e->key))
			continue;
		/* Most reels wins; then the longer phrase; then the first one. */
		if (total(e) > h->best_reels || (total(e) == h->best_reels && n > h->best_words)) {
			h->best_reels = total(e);
			h->best_words = n;
			h->best_start = (size_t)(h->run[first].raw - h->hook);
			h->best_len = (size_t)(tk->raw + tk->rawlen - h->run[first].raw);
		}
	}
	return 0;
}

bool trends_hook_topic(struct an_ctx *c, const char *hook, size_t *start, size_t *len)
{
	if (!c->index || !hook)
		return false;
	struct hook_scan h = {.c = c, .hook = hook};
	text_tokens(hook, strlen(hook), strlen(hook), TOKENS_HYPHENS, hook_token, &h);
	if (!h.best_reels)
		return false;
	*start = h.best_start;
	*len = h.best_len;
	return true;
}

json_t *trends_json(const struct an_trend *t, int n)
{
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		json_t *o = json_object();
		an_set(o, "term", an_str(t[i].term));
		an_set(o, "competitor_reels", json_integer(t[i].reels));
		an_set(o, "competitor_accounts", json_integer(t[i].accounts));
		an_set(o, "weighted_score", json_real(t[i].weight));
		an_set(o, "lift", json_real(t[i].lift));
		an_set(o, "over_performing", json_boolean(t[i].lift > 1));
		an_push(arr, o);
	}
	return arr;
}
