/*
 * The analysis engine: turns one job's stored profiles and reels into the
 * original's analysis_data document plus the viral_analysis_reels and
 * viral_scripts rows. Pure and deterministic: no clock, no randomness, no
 * I/O; the caller passes "now" in, and the same input gives byte-identical
 * output (json_dumps with JSON_SORT_KEYS). See docs/analysis.md.
 *
 * Input document:
 *   { "now": <unix seconds>,
 *     "job": { "queue_id": str, "primary_username": str (required),
 *              "analysis_run": int >= 1, "analysis_type": "initial"|"recurring",
 *              "content_strategy": { "contentType", "targetAudience", "goals" } | null },
 *     "profiles": [ { "username": str (required), "role": "primary"|"competitor",
 *                     "profile_name", "bio", "followers", "posts_count", ... } ],
 *     "reels": [ { "content_id": str|int (required), "username": str (required),
 *                  "shortcode", "view_count", "like_count", "comment_count",
 *                  "date_posted" (unix seconds or ISO 8601), "description",
 *                  "transcript_text" } ],
 *     "since": <unix seconds> | null }
 *
 * Structure (types of the top-level members, array elements being objects,
 * identifying keys) is validated strictly; value fields are tolerated
 * (wrong type -> treated as missing, negative counts -> 0, text repaired to
 * valid UTF-8 and bounded).
 *
 * Output document:
 *   { "analysis_data": {...}, "reels": [...], "scripts": [...], "counts": {...} }
 */
#ifndef VIRALSUP_ANALYZER_ENGINE_H
#define VIRALSUP_ANALYZER_ENGINE_H

#include <jansson.h>
#include <stddef.h>

/*
 * Runs the analysis of one job. input is borrowed. On success returns 0
 * and stores a new reference in *output (caller json_decref()s it). On a
 * malformed input returns -EINVAL, leaves *output NULL and writes a precise
 * reason ("reels[3].username: expected a string") into err (errlen bytes,
 * may be NULL/0). Never aborts on any input; aborts only on out-of-memory.
 */
int analysis_run(const json_t *input, json_t **output, char *err, size_t errlen);

#endif
