/*
 * Trends: words and hashtags of competitor reels (captions and transcripts)
 * weighted by the outlier scores of the reels that use them, minus
 * everything the creator has used. One hash table, linear in the scanned
 * text, which is bounded per reel and per run.
 */
#include <stdlib.h>
#include <string.h>

#include "actors/analyzer/analysis.h"

#define SCAN_BUDGET (4u << 20) /* bytes of text tokenised per run */
#define MAX_TERMS   32768

struct term {
	const char *key; /* the token; NULL: empty slot */
	uint32_t hash;
	bool hashtag, eligible;
	int reels, last_reel;
	uint64_t accounts;
	double weight;
	int creator_reels, creator_last;
	double creator_weight;
};

struct table {
	struct term *slots;
	size_t cap, used;
	struct arena *arena;
};

struct scan {
	struct an_ctx *c;
	struct table *t;
	const struct an_reel *r;
	int reel; /* index of r */
	bool creator;
};

static const char *const generic_words[] = {
    "bio",     "comment", "comments", "days",  "follow", "followers", "hours", "instagram", "link",
    "minutes", "months",  "post",     "reel",  "reels",  "share",     "time",  "today",     "video",
    "videos",  "watch",   "week",     "weeks", "year",   "years",     NULL};
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

/* Whether a word can name a topic: long enough, not a number, not filler. */
static bool topic_word(const char *w, size_t len)
{
	bool ascii = true, digits = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)w[i];
		ascii &= ch < 0x80;
		digits &= ch >= '0' && ch <= '9';
	}
	if (digits)
		return false;
	if (ascii ? len < 4 : text_chars(w) < 2)
		return false;
	/* Power words (mistakes, secret, ...) are how hooks sell, not what they are about. */
	return !text_is_stopword(w) && !in_list(w, generic_words) && !hook_power_words(NULL, w);
}

static uint32_t fnv(const char *s, size_t n, bool tag)
{
	uint32_t h = tag ? 2166136261u ^ '#' : 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

static void table_grow(struct table *t)
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

/* The entry of a token, inserted when new; NULL once the table holds MAX_TERMS. */
static struct term *table_get(struct table *t, const char *tok, size_t len, bool tag)
{
	uint32_t h = fnv(tok, len, tag);
	for (size_t i = h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct term *e = &t->slots[i];
		if (e->key) {
			if (e->hash == h && e->hashtag == tag && !strcmp(e->key, tok))
				return e;
			continue;
		}
		if (t->used >= MAX_TERMS)
			return NULL;
		if (2 * (t->used + 1) > t->cap) {
			table_grow(t);
			return table_get(t, tok, len, tag);
		}
		e->key = arena_strndup(t->arena, tok, len);
		e->hash = h;
		e->hashtag = tag;
		e->last_reel = e->creator_last = -1;
		/* Classified once per distinct token: later hits cost one lookup. */
		e->eligible = tag ? !in_list(tok, generic_tags) : topic_word(tok, len);
		t->used++;
		return e;
	}
}

static int scan_token(void *ud, enum token_kind kind, const char *tok, size_t len)
{
	struct scan *s = ud;
	bool tag = kind == TOKEN_HASHTAG;
	if (len < (tag ? 2u : 4u) && (unsigned char)tok[0] < 0x80)
		return 0; /* too short to matter (non-ASCII words may be short in bytes) */
	struct term *e = table_get(s->t, tok, len, tag);
	if (!e || !e->eligible)
		return 0;
	double w = s->r->outlier;
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

/*
 * The best AN_TRENDS trends of one kind into *out (over-performers, lift >
 * 1, first); *overperform says whether all of them over-perform. One pass
 * keeping two short best-first lists: no sort of the whole table.
 */
static int pick(struct an_ctx *c, struct table *t, bool tag, int min_reels, double mean,
                struct an_trend **out, bool *overperform)
{
	struct an_trend *over = arena_alloc(&c->arena, sizeof(*over) * AN_TRENDS);
	struct an_trend *rest = arena_alloc(&c->arena, sizeof(*rest) * AN_TRENDS);
	int nover = 0, nrest = 0;
	for (size_t i = 0; i < t->cap; i++) {
		struct term *e = &t->slots[i];
		if (!e->key || !e->eligible || e->hashtag != tag || e->creator_reels > 0 ||
		    e->reels < min_reels || is_account(c, e->key))
			continue;
		double lift = mean > 0 ? (e->weight / e->reels) / mean : 0;
		struct an_trend x = {e->key,
		                     tag,
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
	*overperform = nover > 0 && (nover == 0 || over[nover - 1].lift > 1);
	return nover;
}

void trends_compute(struct an_ctx *c)
{
	size_t budget = SCAN_BUDGET;
	struct table t = {.arena = &c->arena};
	table_grow(&t);

	/* The creator first, so that its words are known before ranking. */
	int nbasis = 0;
	double sum = 0;
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
			}
			struct scan s = {c, &t, r, i, creator};
			size_t d = r->desc_len < AN_CAPTION_SCAN ? r->desc_len : AN_CAPTION_SCAN;
			size_t tr = r->tr_len < AN_TRANSCRIPT_SCAN ? r->tr_len : AN_TRANSCRIPT_SCAN;
			d = d < budget ? d : budget;
			budget -= d;
			tr = tr < budget ? tr : budget;
			budget -= tr;
			text_tokens(r->desc, d, d, scan_token, &s);
			text_tokens(r->tr, tr, tr, scan_token, &s);
		}
	}
	double mean = nbasis ? sum / nbasis : 0;
	int min_reels = nbasis >= 6 ? 2 : 1;
	c->ntopics = pick(c, &t, false, min_reels, mean, &c->topics, &c->topics_overperform);
	c->nhashtags = pick(c, &t, true, min_reels, mean, &c->hashtags, &c->hashtags_overperform);

	/* The creator's own themes: its words weighted by (1 + outlier). */
	struct an_trend own[5];
	int n = 0;
	for (size_t i = 0; i < t.cap; i++) {
		struct term *e = &t.slots[i];
		if (e->key && e->eligible && !e->hashtag && e->creator_reels > 0) {
			struct an_trend x = {e->key, false, e->creator_reels, 1, e->creator_weight,
			                     0};
			top_insert(own, &n, 5, &x);
		}
	}
	c->theme_top_reels = n ? own[0].reels : 0;
	c->themes = arena_alloc(&c->arena, sizeof(char *) * 5);
	for (c->nthemes = 0; c->nthemes < n; c->nthemes++)
		c->themes[c->nthemes] = own[c->nthemes].term;
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
