/*
 * Bulk writes of fetched content (the writer's SQL): profiles and reels of
 * many accounts upserted in one statement, keyed by natural ids (username,
 * shortcode), so a re-sent write is harmless.
 */
#ifndef VIRALSUP_SQL_STORE_H
#define VIRALSUP_SQL_STORE_H

#include "sql/pg.h"

/* rows: content rows written, or -1 with err. */
typedef void (*store_fn)(long long rows, const char *err, void *arg);

/*
 * Upserts a JSON array of normalised account documents (the shape in
 * actors/fetcher/provider.h): primary_profiles by username (with view
 * statistics of the fetched reels), content by shortcode (outlier_score =
 * views / the account's median of non-zero views in this fetch, 4 places;
 * a stored transcript is kept when the new fetch has none). A reel whose
 * shortcode is stored under another content id, or whose content id is
 * stored under another shortcode, is skipped, never overwritten.
 */
int store_accounts_async(struct pg *pg, const char *docs_json, store_fn cb, void *arg);

/*
 * The analysis engine's input document for one job run (see
 * actors/analyzer/engine.h), built in one query from primary_profiles and
 * the newest reels (at most reels_per_account) of each account.
 * accounts[0] is the primary. json is valid during the call only.
 */
struct analysis_input_req {
	const char *job_id, *primary, *analysis_type, *content_strategy;
	int run;
	long long since; /* 0: none */
	const char *const *accounts;
	int naccounts;
	int reels_per_account;
};
typedef void (*analysis_input_fn)(const char *json, const char *err, void *arg);
int store_analysis_input_async(struct pg *pg, const struct analysis_input_req *req,
                               analysis_input_fn cb, void *arg);

#endif
