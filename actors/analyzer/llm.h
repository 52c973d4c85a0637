/*
 * The llm engine: the rules engine's output (engine.h) rewritten where a
 * language model writes better words, through any OpenAI-compatible
 * chat-completions server. See docs/analysis.md ("The llm engine").
 *
 * Two halves:
 *  - llm_prompt.c, pure: the grounded context, the prompts and their JSON
 *    schemas, tolerant parsing and validation of a reply, and merging the
 *    parts into the rules output (every part the model did not deliver
 *    keeps the rules engine's text, and says so).
 *  - llm.c, I/O: the calls, concurrently on curl_ev (libcurl multi in the
 *    caller's libev loop), a process-wide concurrency cap, 429/Retry-After
 *    and 5xx backoff, per-call and per-job deadlines, cancellation.
 *
 *   struct llm *l = llm_new(loop, &cfg);
 *   struct llm_job *j = llm_job_new(l, input, rules_output, job_id);
 *   llm_job_cache_put(j, key, cached_analysis);   // optional, before run
 *   llm_job_run(j, on_done, arg);   // on_done(j, arg) runs once, later
 *   ... llm_job_output(j), llm_job_new_cache(j) ...
 *   llm_job_free(j);                // also cancels a running job (no callback)
 */
#ifndef VIRALSUP_ANALYZER_LLM_H
#define VIRALSUP_ANALYZER_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bumped whenever a prompt or schema changes: part of the cache key. */
#define LLM_PROMPT_VERSION "viralsup-llm/1"

struct ev_loop;
struct llm;
struct llm_job;

struct llm_config {
	const char *base_url; /* ".../v1": POST {base_url}/chat/completions */
	const char *model;
	const char *api_key; /* may be "" (local servers); never logged */
	double temperature;  /* generation calls; analyses use min(0.3, temperature) */
	long max_tokens;     /* per call */
	long timeout_ms;     /* per call (one HTTP attempt) */
	long job_timeout_ms; /* whole job: what is left then falls back to rules */
	int concurrency;     /* calls in flight, process-wide */
	int retries;         /* transport retries per call (429, 5xx, timeouts) */
	bool json_schema;    /* response_format json_schema (else json_object) */
};

/* Process-wide totals, for metrics. */
struct llm_totals {
	uint64_t jobs, jobs_llm, jobs_partial, jobs_rules; /* by what the output ended up being */
	uint64_t calls, call_failures, retries, cache_hits;
	uint64_t prompt_tokens, completion_tokens;
};

struct config;
/*
 * The llm.* keys of cfg (ipc/config.c) and the key from the environment
 * (VIRALSUP_LLM_API_KEY, else OPENAI_API_KEY; "" when neither). Returns 0,
 * or -EINVAL with the reason (which never contains the key).
 */
int llm_config_load(const struct config *cfg, struct llm_config *out, char *err, size_t errlen);

struct llm *llm_new(struct ev_loop *loop, const struct llm_config *cfg);
/* Cancels every call (no job callbacks run) and frees. Jobs must be freed first. */
void llm_free(struct llm *l);
const struct llm_totals *llm_totals(const struct llm *l);

/* A job over the rules output out (borrowed and modified in place; keep it alive). */
struct llm_job *llm_job_new(struct llm *l, const json_t *input, json_t *out, const char *job_id);
/* The cache keys of the job's picked reels (hex), for a cache lookup before llm_job_run. */
int llm_job_cache_keys(const struct llm_job *j, const char ***keys);
/* A cached hook analysis for key (from an earlier job); used instead of a call. */
void llm_job_cache_put(struct llm_job *j, const char *key, const json_t *analysis);
typedef void (*llm_done_fn)(struct llm_job *j, void *arg);
void llm_job_run(struct llm_job *j, llm_done_fn done, void *arg);
/* After done: new (key, analysis) pairs to store in the cache: a JSON object key -> analysis. */
const json_t *llm_job_new_cache(const struct llm_job *j);
void llm_job_free(struct llm_job *j);

/* ---- llm_prompt.c (pure; declared here for tests) ---- */

enum llm_part { LLM_PROFILE, LLM_HOOK_ANALYSIS, LLM_HOOKS, LLM_SCRIPT, LLM_PARTS };
const char *llm_part_name(enum llm_part p);

/* The grounded context of a job: statistics and strategy the prompts carry. New reference. */
json_t *llm_context(const json_t *input, const json_t *out);
/* The chat messages [{role, content}] of one call. ctx from llm_context; arg: the reel
 * (HOOK_ANALYSIS, an individual_reel_analyses entry) or the hook (SCRIPT, index into
 * hooks, with hooks the validated LLM_HOOKS reply). New reference. */
json_t *llm_messages(enum llm_part p, const json_t *ctx, const json_t *input, const json_t *arg,
                     const json_t *hooks);
/* The JSON schema a reply of part p must match (borrowed, process lifetime). */
const json_t *llm_schema(enum llm_part p);
/*
 * Parses a model's message content tolerantly (code fences, text around the
 * object) and validates it against the schema of p (and p's own rules: five
 * hooks with five different subjects, no empty text). Returns a new
 * reference, or NULL with the reason in why.
 */
json_t *llm_parse_reply(enum llm_part p, const char *content, size_t len, char *why, size_t whylen);
/* The cache key of a reel: a hash of what its hook analysis depends on (hex, 33 bytes). */
void llm_reel_key(const json_t *input, const json_t *analysis, const char *model, char key[33]);

/*
 * Merging into the rules output. Each returns nothing and cannot fail on a
 * validated reply; parts not merged keep the rules text.
 */
void llm_merge_profile(json_t *out, const json_t *reply);
void llm_merge_hook_analysis(json_t *out, size_t index, const json_t *analysis, const char *by);
/* Pair i (hook i + script i) from the model; script NULL: keeps the rules pair. */
void llm_merge_pair(json_t *out, const json_t *input, int i, const json_t *hook,
                    const json_t *script, const struct llm_config *cfg);

#endif
