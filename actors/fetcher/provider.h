/*
 * Data providers: fetch one Instagram account (profile, recent reels,
 * transcripts of its best reels) and hand back one normalised JSON document.
 *
 *   rapidapi  the original's data source over HTTP (SEED-SYSTEM.md 3.5, 3.7,
 *             appendix A): scraper API (profile, reels pages) + transcript API
 *   fixtures  the same answer documents read from a directory
 *             (<dir>/<username>/profile.json, reels_<page>.json,
 *             transcript_<shortcode>.json; see examples/instagram/README.md)
 *
 * Both run on the caller's libev loop; many accounts may be in flight at once.
 *
 * ----------------------------------------------------------------------------
 * The normalised account document (what provider_done_cb receives on
 * FETCH_OK; the writer upserts it). Every string is valid UTF-8 without NUL
 * and capped (PROVIDER_MAX_*); every count is an integer >= 0.
 *
 * {
 *   "username":   "maya.lifts",               as requested (lower case)
 *   "provider":   "rapidapi" | "fixtures",
 *   "fetched_at": 1795900000,                  Unix seconds
 *   "profile": {
 *     "username": str, "full_name": str, "biography": str,
 *     "followers": int, "posts_count": int,
 *     "is_verified": bool, "is_business": bool,
 *     "profile_pic_url": str | null            (hd_profile_pic_url preferred)
 *   },
 *   "reels": [                                 newest first, as listed by the API
 *     { "content_id":    str,                  the media pk, decimal digits
 *       "shortcode":     str,                  [A-Za-z0-9_-]{1,64}
 *       "url":           "https://www.instagram.com/p/<shortcode>/",
 *       "view_count":    int,                  play_count
 *       "like_count":    int,
 *       "comment_count": int,
 *       "taken_at":      int,                  Unix seconds, 0 when unknown
 *       "caption":       str,                  "" when none
 *       "thumbnail_url": str | null,           http(s) only
 *       "pinned":        bool,                 pinned to the profile's reels tab
 *       "transcript_status": "fetched" | "none" | "failed" | "not_requested",
 *       "transcript":    null | { "lang": str | null,
 *                                 "available_langs": [str],
 *                                 "segments": [{"text": str, "offset": num,
 *                                               "duration": num}] },
 *       "transcript_error": str                only when status is "failed"
 *     } ],
 *   "fetch": {
 *     "pages": int,                            reels pages fetched
 *     "stop": "end" | "since" | "known" | "max_reels" | "max_pages",
 *     "incremental": bool,                     since or known_shortcode was given
 *     "reels_skipped": int,                    items without a usable pk/code
 *     "transcripts_requested": int, "transcripts_fetched": int,
 *     "transcripts_failed": int,
 *     "requests": int, "retries": int          HTTP requests made / retried
 *   }
 * }
 *
 * For an incremental fetch (since / known_shortcode), "reels" holds only
 * the reels newer than the stop mark; it may be empty.
 * ----------------------------------------------------------------------------
 */
#ifndef VIRALSUP_FETCHER_PROVIDER_H
#define VIRALSUP_FETCHER_PROVIDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/curl_ev.h"

struct ev_loop;

/* Limits applied while parsing provider answers (bytes unless stated). */
#define PROVIDER_MAX_NAME       256 /* username, full_name */
#define PROVIDER_MAX_BIO        4096
#define PROVIDER_MAX_CAPTION    8192
#define PROVIDER_MAX_URL        2048
#define PROVIDER_MAX_TOKEN      1024   /* pagination_token */
#define PROVIDER_MAX_SEGMENT    4096   /* one transcript segment's text */
#define PROVIDER_MAX_SEGMENTS   2000   /* segments kept per transcript */
#define PROVIDER_MAX_TRANSCRIPT 131072 /* total segment text per transcript */
#define PROVIDER_MAX_PAGE_REELS 200    /* reels read from one page */
#define PROVIDER_MAX_USERNAME   64     /* [A-Za-z0-9._]{1,64} */

enum fetch_status {
	FETCH_OK,        /* doc delivered */
	FETCH_TRANSIENT, /* 429 / 5xx / timeout / network, retries exhausted: retry later */
	FETCH_PERMANENT, /* not found, private, malformed, too large, 4xx: do not retry */
	FETCH_CANCELLED, /* provider_cancel_all / provider_free */
};

const char *fetch_status_name(enum fetch_status s);

struct provider_opts {
	const char *scraper_url; /* default https://instagram-scraper-stable-api.p.rapidapi.com */
	const char *transcript_url; /* default https://instagram-transcripts.p.rapidapi.com */
	const char *
	    scraper_host; /* x-rapidapi-host, default instagram-scraper-stable-api.p.rapidapi.com */
	const char *transcript_host; /* default instagram-transcripts.p.rapidapi.com */
	const char *api_key;         /* RAPIDAPI_KEY; required by rapidapi */
	const char *fixtures_dir;    /* default examples/instagram */
	double rate_per_sec;         /* this process's token bucket; <= 0: unlimited */
	double burst;                /* bucket size; default max(1, rate) */
	int max_attempts;            /* per HTTP request, default 4 */
	long backoff_base_ms;        /* 2nd attempt after base, then x2 ...; default 500 */
	long backoff_max_ms;         /* default 30000 */
	long retry_after_max_ms;     /* a longer Retry-After fails the request now; default 60000 */
	int reels_page_count;        /* "count" form field, default 50 */
	struct curl_ev_opts http;    /* timeouts, max body (default 8 MiB) */
};

/* What to fetch for one account. Strings are copied by provider_fetch. */
struct fetch_request {
	const char *username;        /* [A-Za-z0-9._]{1,64}, else FETCH_PERMANENT */
	int max_reels;               /* default 50 */
	int max_pages;               /* default 5 */
	int64_t since;               /* stop at a reel with taken_at <= since; 0: none */
	const char *known_shortcode; /* stop at this reel (newest one stored); NULL: none */
	int transcripts;             /* transcripts for the top N fetched reels by views; default 3,
	                                negative: none */
	double deadline;             /* 0, or the time (on the loop's ev_now clock) by which every
	                                request must have ended: attempts are shortened to it and a
	                                retry that would start past it is not made (the fetch ends
	                                FETCH_TRANSIENT at once). See actors/fetcher/deadline.h. */
};

/*
 * Called once per provider_fetch that returned 0, from the event loop.
 * On FETCH_OK doc is the normalised document and the callee owns it
 * (json_decref); otherwise doc is NULL and reason says why, e.g.
 * "profile: HTTP 404 (not found)", "private account",
 * "reels page 2: malformed JSON: '[' or '{' expected near 'x' (line 1, col 1)",
 * "profile: HTTP 503 after 4 attempts",
 * "profile: HTTP 429: Retry-After 40s is past the scheduler's deadline (12.3s left)".
 * reason is valid during the call only.
 */
typedef void (*provider_done_cb)(void *arg, enum fetch_status status, const char *reason,
                                 json_t *doc);

struct provider;

/* Fills opts with defaults, then VIRALSUP_SCRAPER_URL, VIRALSUP_TRANSCRIPT_URL,
 * VIRALSUP_FIXTURES_DIR, RAPIDAPI_KEY (or INSTAGRAM_SCRAPER_API_KEY) from the
 * environment. The strings point into the environment. */
void provider_opts_from_env(struct provider_opts *opts);

/*
 * A new provider on loop. kind is "rapidapi", "fixtures", or NULL for the
 * default (rapidapi when opts->api_key is set, else fixtures). Returns NULL
 * with a message in err for an unknown kind or a missing key. opts is copied.
 */
struct provider *provider_new(struct ev_loop *loop, const char *kind,
                              const struct provider_opts *opts, char *err, size_t errlen);
/* Cancels everything in flight (callbacks run with FETCH_CANCELLED) and frees. */
void provider_free(struct provider *p);
const char *provider_name(const struct provider *p);

/* Starts fetching one account. 0: cb will run once; -EINVAL (bad request): cb never runs. */
int provider_fetch(struct provider *p, const struct fetch_request *req, provider_done_cb cb,
                   void *arg);
/* Ends every fetch in flight; their callbacks run with FETCH_CANCELLED. */
void provider_cancel_all(struct provider *p);
/* Accounts in flight. */
int provider_active(const struct provider *p);

/* The provider's HTTP requests since the process started (each attempt,
 * retries included), by answer: 2xx, 429, anything else (another status,
 * a timeout, a connection error). Counted when the answer arrives; all
 * zero for the fixtures provider, which makes none. */
struct provider_counters {
	uint64_t requests, ok, throttled, errors;
};
void provider_counters(const struct provider *p, struct provider_counters *out);

/*
 * Parsers of single answer documents (no I/O; used by both providers, the
 * tests and the fuzzer). Each returns 0, or a negative code with reason:
 *   -EBADMSG  malformed (not JSON, wrong shape, missing required fields)
 *   -ENOENT   the answer says the user does not exist
 *   -EPERM    private account
 */
/* *out <- the "profile" object of the normalised document (caller owns). */
int provider_parse_profile(const char *body, size_t len, json_t **out, char *reason, size_t rlen);
/* Appends normalised reels (without transcript fields) to reels; *next <- the
 * pagination token (malloc'ed, caller frees) or NULL at the end; *skipped
 * counts unusable items. */
int provider_parse_reels(const char *body, size_t len, json_t *reels, char **next, int *skipped,
                         char *reason, size_t rlen);
/* *out <- {lang, available_langs, segments} or NULL when the answer has no
 * transcript (empty/missing content). */
int provider_parse_transcript(const char *body, size_t len, json_t **out, char *reason,
                              size_t rlen);

/* True when s is a username we accept ([A-Za-z0-9._]{1,64}). */
bool provider_username_ok(const char *s);
/* True when s is a shortcode we accept ([A-Za-z0-9_-]{1,64}). */
bool provider_shortcode_ok(const char *s);

/*
 * Token bucket (requests per second), one per process. The pool-wide limit
 * is shared by giving each of N fetchers rate/N (see the fetcher report).
 */
struct ratelimit {
	double rate, burst, tokens;
	double last;          /* time of the last refill (seconds, any monotonic clock) */
	double blocked_until; /* after a 429 with Retry-After: no tokens before this */
};
void ratelimit_init(struct ratelimit *rl, double rate, double burst, double now);
/* Takes a token: returns 0 (go now) or the seconds to wait before trying again. */
double ratelimit_take(struct ratelimit *rl, double now);
/* No requests before until (e.g. now + Retry-After). */
void ratelimit_pause(struct ratelimit *rl, double until);

#endif
