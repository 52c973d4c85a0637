/*
 * Internal types and module interfaces of the analysis engine (engine.c
 * parses and assembles; metrics.c, select.c, hooks.c, trends.c and ideas.c
 * each compute one part). Not for use outside actors/analyzer.
 */
#ifndef VIRALSUP_ANALYZER_ANALYSIS_H
#define VIRALSUP_ANALYZER_ANALYSIS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "actors/analyzer/text.h"

/* Work caps: beyond these, input is ignored (and counted), never slower. */
#define AN_MAX_REELS             5000
#define AN_MAX_ACCOUNTS          64  /* fits the uint64_t account masks in trends.c */
#define AN_ID_MAX                255 /* content_id, shortcode, username (VARCHAR(255)) */
#define AN_NAME_MAX              200 /* profile_name, content_strategy fields */
#define AN_BIO_MAX               400
#define AN_CAPTION_SCAN          2200 /* bytes of a caption used for tokens (Instagram's limit) */
#define AN_TRANSCRIPT_SCAN       1500 /* bytes of a transcript used for tokens */
#define AN_HOOK_MAX_CHARS        150
#define AN_DESC_SHORT            100 /* description excerpts in metadata (as the original) */
#define AN_WINDOW_SECS           (30 * 86400)
#define AN_RECURRING_DEFAULT     (48 * 3600) /* "since" when a recurring run gives none */
#define AN_PRIMARY_CANDIDATES    10
#define AN_COMPETITOR_CANDIDATES 20
#define AN_PRIMARY_PICKS         3
#define AN_COMPETITOR_PICKS      5
#define AN_PICKS_PER_ACCOUNT     3
#define AN_HOOKS                 5
#define AN_TRENDS                10
#define AN_MAX_NOTES             8

#define AN_WORKFLOW       "hook_based_v2"
#define AN_ENGINE         "viralsup-engine"
#define AN_ENGINE_VERSION "viralsup-engine/1"

enum hook_type {
	HOOK_NUMBER_LIST,
	HOOK_HOW_TO,
	HOOK_WARNING,
	HOOK_CONTRARIAN,
	HOOK_QUESTION,
	HOOK_STORY,
	HOOK_CURIOSITY,
	HOOK_STATEMENT,
	HOOK_TYPES
};

enum hook_source { HOOK_SRC_NONE, HOOK_SRC_TRANSCRIPT, HOOK_SRC_CAPTION };

struct an_account {
	const char *username; /* lower-cased */
	const char *profile_name, *bio;
	int64_t followers, posts_count;
	bool has_profile, primary;
	/* metrics.c */
	int reels, reels_with_views, window_reels;
	double median_views, median_nonzero, mean_views, max_views;
	double likes, comments, views_total;
	double engagement_rate;         /* percent of views, over reels with views */
	double engagement_per_follower; /* percent, < 0 when followers unknown */
	double posts_per_week, median_gap_days;
	int64_t newest, oldest; /* < 0 when no dated reel */
	double consistency;     /* 0..10 */
};

struct an_reel {
	const char *content_id, *shortcode;   /* shortcode may be NULL */
	int account, index;                   /* index: position in the input */
	int64_t views, likes, comments, date; /* date < 0: unknown */
	const char *desc, *tr;                /* raw input bytes (borrowed), may be NULL */
	size_t desc_len, tr_len;
	bool tr_present; /* transcript_text given as a string (the pipeline asked for it) */
	double outlier;
	bool is_new;
	/* select.c */
	const char *reason;
	int rank;
	bool selected, picked, fallback;
	/* hooks.c */
	const char *hook;
	enum hook_source hook_src;
	enum hook_type htype;
	uint64_t power; /* bit i: power word i */
	double effectiveness;
};

struct an_trend {
	const char *term; /* a topic phrase as written ("one-pan dinners", "Lisbon") or a tag */
	bool hashtag;
	int reels, accounts;
	double weight, lift; /* sum and mean-ratio of outlier scores (trends.c) */
};

/* A subject for the generated hooks, best first (trends.c). */
enum topic_origin {
	TOPIC_TREND,     /* a competitor topic phrase the creator never used */
	TOPIC_HASHTAG,   /* a competitor hashtag the creator never used, split into words */
	TOPIC_UNDERUSED, /* a competitor topic the creator uses at under half their rate */
	/* Without any competitor topic: */
	TOPIC_OWN_RARE, /* a theme in few of the creator's reels that over-perform */
	TOPIC_THEME,    /* one of the creator's top themes */
	TOPIC_STRATEGY, /* a noun phrase of content_strategy (contentType, targetAudience) */
	TOPIC_BIO,      /* a noun phrase of the creator's bio */
	TOPIC_DEFAULT,  /* "your niche" */
	TOPIC_ORIGINS
};
struct an_topic {
	const char *text; /* as it goes into a hook */
	bool plural, proper;
	enum topic_origin origin;
	int reels, accounts, creator_reels;
	double lift;      /* TOPIC_OWN_RARE: mean outlier of its reels / the creator's mean */
	const char *from; /* TOPIC_STRATEGY: the strategy field it came from */
};

/* Where the generated hooks' structures came from (ideas.c), in fallback order. */
enum idea_source {
	IDEAS_NONE,       /* no hook: nothing to build on and no topic */
	IDEAS_COMPETITOR, /* competitor picks (the normal case) */
	IDEAS_OWN,        /* the creator's own best hooks (no competitor hook) */
	IDEAS_TEMPLATE,   /* per-type templates (no reel with a hook at all) */
};

struct an_ctx {
	struct arena arena;
	int64_t now, since; /* since < 0: none */
	const char *queue_id, *primary_username;
	int run;
	bool recurring;
	const char *content_type, *audience, *goals; /* never NULL (defaults) */
	bool strategy_given;
	char timestamp[32];

	struct an_account *accounts;
	int naccounts, primary;
	struct an_reel *reels;
	int nreels, reels_over_cap, reels_duplicate, reels_unknown_account, reels_skipped;

	int *selected; /* reel indices in row order */
	int nselected, nsel_primary, nsel_competitor, nfallback;
	int *picks; /* primary picks then competitor picks */
	int npicks, npick_primary, npick_competitor;

	struct an_trend *topics, *hashtags;
	int ntopics, nhashtags;
	struct an_topic *subjects; /* for ideas.c, best first, at least one */
	int nsubjects;
	struct term_index *index; /* trends.c's phrase table, for trends_hook_topic() */
	int creator_reels_scanned, competitor_reels_scanned;
	bool topics_overperform, hashtags_overperform;
	const char **themes;          /* creator's own top topic phrases */
	int nthemes, theme_top_reels; /* primary reels using themes[0] */

	/* ideas.c: what the hooks were built from, for the notes */
	enum idea_source idea_source;
	int idea_nsources;    /* distinct source reels used */
	unsigned idea_topics; /* bit per enum topic_origin used in a hook */

	const char *notes[AN_MAX_NOTES];
	int nnotes;
};

void an_note(struct an_ctx *c, const char *note);
/* Rounds to 4 (or 2) decimal places, mapping NaN/inf to 0. */
double an_round4(double x);
double an_round2(double x);
/* A jansson string from valid UTF-8 (text.c output); aborts on OOM. NULL -> json null. */
json_t *an_str(const char *s);
/* Sets key to value (stolen); aborts on OOM. */
void an_set(json_t *obj, const char *key, json_t *value);
void an_push(json_t *arr, json_t *value);
/* source_reel_metadata of the original for one reel (description cut to 100 chars). */
json_t *an_reel_metadata(struct an_ctx *c, const struct an_reel *r);
/* "2026-11-29T17:00:00Z"; "" for t < 0. */
void an_iso_time(int64_t t, char buf[32]);
/* Account of a reel. */
static inline struct an_account *an_acct(struct an_ctx *c, const struct an_reel *r)
{
	return &c->accounts[r->account];
}

/* metrics.c: per-account metrics and every reel's outlier score. */
void metrics_compute(struct an_ctx *c);
json_t *metrics_account_json(const struct an_ctx *c, const struct an_account *a);

/* select.c: the candidate rows for viral_analysis_reels ... */
void select_reels(struct an_ctx *c);
/* ... and, once their hooks are known, the picks for hook analysis. */
void select_picks(struct an_ctx *c);

/* hooks.c */
enum hook_type hook_classify(struct arena *a, const char *hook);
const char *hook_type_name(enum hook_type t);
uint64_t hook_power_words(struct arena *a, const char *text);
/* Whether one lower-cased word is in the power-word lexicon. */
bool hook_is_power_word(const char *word);
json_t *hook_power_words_json(uint64_t mask);
int hook_power_count(uint64_t mask);
/* Extracts, classifies and scores the hook of every selected reel ... */
void hooks_extract(struct an_ctx *c);
/* ... or of one reel (r->hook NULL when it has no text). */
void hooks_extract_one(struct an_ctx *c, struct an_reel *r);
/* One individual_reel_analyses entry (original shape) for a picked reel. */
json_t *hooks_analysis_json(struct an_ctx *c, const struct an_reel *r);
const char *hook_strategy(enum hook_type t);
json_t *hook_triggers_json(enum hook_type t);

/* trends.c: over-performing competitor topics and hashtags the creator has not used. */
void trends_compute(struct an_ctx *c);
/*
 * The topic phrase of a competitor hook: the byte span [*start, *start +
 * *len) of the known topic phrase it contains (one seen in at least two
 * reels, in more than one context, not part of a longer one). Returns
 * false when the hook has none.
 */
bool trends_hook_topic(struct an_ctx *c, const char *hook, size_t *start, size_t *len);
/* Whether a phrase's head noun is plural ("rest days", "savings"). */
bool trends_plural(const char *phrase);
json_t *trends_json(const struct an_trend *t, int n);

/* ideas.c: generated_hooks, complete_scripts, scripts_summary and viral_scripts rows. */
void ideas_generate(struct an_ctx *c, json_t *hooks, json_t *scripts, json_t *summary,
                    json_t *rows);

#endif
