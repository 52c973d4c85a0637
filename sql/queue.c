/*
 * The queue protocol (see queue.h). All SQL of the protocol is in the
 * statements below; each operation is "build parameters" + one statement
 * + "read the result", shared by the blocking and the async entry points.
 *
 * Fencing: every statement after a claim matches on
 *   id = $1 AND lease_token = $2 AND status = 'processing'
 * so a holder whose job was reclaimed (new token) or finished changes
 * nothing. Status changes set transition_reason; the BEFORE UPDATE trigger
 * of migration 002 turns it into a job_events row. The claim and the
 * completion, which move many jobs per statement, insert their events
 * themselves in one set-based INSERT and set the reason 'logged', which the
 * trigger only clears (migration 011).
 */
#include "sql/queue.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- SQL */

static const char SQL_OWNER_REGISTER[] =
    "INSERT INTO owners (node, pid, role, process_started_at, heartbeat_expiry) "
    "VALUES ($1, $2::int, $3, now(), $4::int * interval '1 millisecond') RETURNING id";

static const char SQL_OWNER_HEARTBEAT[] =
    "UPDATE owners SET heartbeat_at = now() WHERE id = $1::bigint AND stopped_at IS NULL "
    "RETURNING id";

static const char SQL_OWNER_STOP[] =
    "UPDATE owners SET stopped_at = COALESCE(stopped_at, now()) WHERE id = $1::bigint "
    "RETURNING id";

/*
 * $1 owner, $2 K, $3 lease ms, $4 legacy stuck ms, $5 only this id or NULL.
 * Two candidate sets, each read through its own partial index and locked
 * with SKIP LOCKED, merged in priority/FIFO order. A reclaimed row (lease
 * expired, owner dead or stopped, legacy row) is no strike against the job:
 * its holder went away, not necessarily because of it (docs/RELIABILITY.md).
 */
static const char SQL_CLAIM[] =
    "WITH stale AS ("
    " SELECT q.id, q.priority, q.submitted_at,"
    "  format('reclaimed from owner %s: %s', COALESCE(q.lease_owner::text, 'none'),"
    "   CASE WHEN q.lease_expires_at < now() THEN 'lease expired'"
    "        WHEN q.lease_token IS NULL THEN 'legacy row stuck in processing'"
    "        ELSE 'owner gone' END) AS why"
    " FROM viral_ideas_queue q"
    " WHERE q.status = 'processing' AND ($5::uuid IS NULL OR q.id = $5::uuid)"
    "  AND (q.lease_expires_at < now()"
    "   OR (q.lease_token IS NULL AND COALESCE(q.started_processing_at, q.updated_at,"
    "        q.submitted_at) < now() - $4::int * interval '1 millisecond')"
    "   OR EXISTS (SELECT 1 FROM owners o WHERE o.id = q.lease_owner"
    "        AND (o.stopped_at IS NOT NULL OR o.heartbeat_at + o.heartbeat_expiry < now())))"
    " ORDER BY q.priority, q.submitted_at"
    " LIMIT $2::int"
    " FOR UPDATE OF q SKIP LOCKED"
    "), ready AS ("
    " SELECT q.id, q.priority, q.submitted_at, NULL::text AS why"
    " FROM viral_ideas_queue q"
    " WHERE q.status = 'pending' AND (q.next_attempt_at IS NULL OR q.next_attempt_at <= now())"
    "  AND ($5::uuid IS NULL OR q.id = $5::uuid)"
    " ORDER BY q.priority, q.submitted_at"
    " LIMIT $2::int"
    " FOR UPDATE OF q SKIP LOCKED"
    "), pick AS ("
    " SELECT id, why FROM (SELECT * FROM stale UNION ALL SELECT * FROM ready) c"
    " ORDER BY priority, submitted_at"
    " LIMIT $2::int"
    "), upd AS ("
    " UPDATE viral_ideas_queue q SET"
    "  status = 'processing',"
    /* A reclaim is the holder's loss, not a try that failed: it spends no
     * attempt (attempts drive the release backoff and max_attempts). */
    "  attempts = q.attempts + (p.why IS NULL)::int,"
    "  started_processing_at = now(),"
    "  progress_percentage = CASE WHEN p.why IS NULL THEN 0 ELSE q.progress_percentage END,"
    "  lease_owner = $1::bigint,"
    "  lease_token = gen_random_uuid(),"
    "  lease_expires_at = now() + $3::int * interval '1 millisecond',"
    "  next_attempt_at = NULL,"
    /* 'logged': the events insert below logs the transition (migration 011). */
    "  transition_reason = 'logged'"
    " FROM pick p WHERE q.id = p.id"
    " RETURNING q.*, p.why IS NOT NULL AS reclaimed, COALESCE(p.why, 'claimed') AS why"
    "), events AS ("
    " INSERT INTO job_events (job_id, from_status, to_status, owner_id, node, actor,"
    "  lease_token, attempt, reason)"
    " SELECT u.id, CASE WHEN u.reclaimed THEN 'processing' ELSE 'pending' END, u.status,"
    "  u.lease_owner, (SELECT node FROM owners WHERE id = $1::bigint),"
    "  current_setting('application_name', true), u.lease_token, u.attempts, u.why"
    " FROM upd u"
    ")"
    " SELECT u.id, u.lease_token, u.session_id, u.primary_username, u.content_strategy::text,"
    "  COALESCE(u.priority, 5), u.attempts, u.max_attempts, u.rescues,"
    "  COALESCE(u.total_runs, 0) + 1, u.reclaimed, u.batch_id,"
    "  (SELECT COALESCE(json_agg(c.competitor_username ORDER BY c.added_at, c.competitor_username),"
    "    '[]'::json) FROM viral_ideas_competitors c WHERE c.queue_id = u.id AND c.is_active),"
    "  u.crash_suspect"
    " FROM upd u"
    " ORDER BY u.priority, u.submitted_at";

/* $1 owner, $2 lease ms, $3 ids uuid[], $4 tokens uuid[]; returns the ids NOT renewed. */
static const char SQL_RENEW[] =
    "WITH mine AS (SELECT * FROM unnest($3::uuid[], $4::uuid[]) AS m(id, token)),"
    " hb AS (UPDATE owners SET heartbeat_at = now() WHERE id = $1::bigint AND stopped_at IS NULL"
    "  RETURNING id),"
    " upd AS (UPDATE viral_ideas_queue q"
    "  SET lease_expires_at = now() + $2::int * interval '1 millisecond'"
    "  FROM mine WHERE q.id = mine.id AND q.lease_token = mine.token"
    "  AND q.status = 'processing' AND q.lease_owner = $1::bigint AND EXISTS (SELECT 1 FROM hb)"
    "  RETURNING q.id)"
    " SELECT m.id FROM mine m WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.id = m.id)";

/* The results row of the run a failing holder was working on, and batch counters. */
#define SQL_ON_FAILED                                                                        \
	" res AS (UPDATE viral_analysis_results r SET status = 'failed',"                    \
	"  error_message = u.error_message, updated_at = now()"                              \
	"  FROM upd u WHERE u.status = 'failed' AND r.queue_id = u.id"                       \
	"  AND r.analysis_run = COALESCE(u.total_runs, 0) + 1 AND r.status <> 'completed')," \
	" bat AS (UPDATE batches b SET failed_jobs = b.failed_jobs + 1,"                     \
	"  finished_at = CASE WHEN b.completed_jobs + b.failed_jobs + 1 >= b.total_jobs"     \
	"   THEN COALESCE(b.finished_at, now()) END"                                         \
	"  FROM upd u WHERE u.status = 'failed' AND b.id = u.batch_id)"

#define SQL_FENCE " WHERE id = $1::uuid AND lease_token = $2::uuid AND status = 'processing'"

/* $1 id, $2 token, $3 reason, $4 base ms, $5 cap ms. */
static const char SQL_RELEASE[] =
    "WITH upd AS (UPDATE viral_ideas_queue SET"
    "  status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'pending' END,"
    "  next_attempt_at = CASE WHEN attempts >= max_attempts THEN NULL"
    "   ELSE now() + least($5::float8, $4::float8 * power(2, least(greatest(attempts - 1, 0), 40)))"
    "    * (0.75 + random() * 0.5) * interval '1 millisecond' END,"
    "  last_error = $3::text,"
    "  error_message = CASE WHEN attempts >= max_attempts"
    "   THEN format('gave up after %s attempts: %s', attempts, $3::text) ELSE error_message END,"
    "  current_step = CASE WHEN attempts >= max_attempts THEN left('Processing error: ' || "
    "$3::text, 100)"
    "   ELSE left(format('Retrying after attempt %s: %s', attempts, $3::text), 100) END,"
    "  lease_expires_at = NULL,"
    "  transition_reason = CASE WHEN attempts >= max_attempts"
    "   THEN 'attempts exhausted: ' || $3::text ELSE 'released: ' || $3::text END" SQL_FENCE
    "  RETURNING id, status, error_message, total_runs, batch_id)," SQL_ON_FAILED
    " SELECT status FROM upd";

/* $1 id, $2 token, $3 error. */
static const char SQL_FAIL[] =
    "WITH upd AS (UPDATE viral_ideas_queue SET status = 'failed', error_message = $3::text,"
    "  last_error = $3::text, current_step = left('Processing error: ' || $3::text, 100),"
    "  lease_expires_at = NULL, transition_reason = 'failed: ' || $3::text" SQL_FENCE
    "  RETURNING id, status, error_message, total_runs, batch_id)," SQL_ON_FAILED
    " SELECT status FROM upd";

/* $1 id, $2 token, $3 reason, $4 rescue cap. A strike: the job's unit ran alone in a
 * worker that died, so the death is the job's own. */
static const char SQL_RESCUE[] =
    "WITH upd AS (UPDATE viral_ideas_queue SET"
    "  status = CASE WHEN rescues >= $4::int THEN 'failed' ELSE 'pending' END,"
    "  rescues = rescues + 1, crash_suspect = true, next_attempt_at = NULL,"
    "  last_error = $3::text,"
    "  error_message = CASE WHEN rescues >= $4::int"
    "   THEN format('poison job: crashed its handler %s times running alone (cap %s); last: %s',"
    "               rescues + 1, $4::int, $3::text) ELSE error_message END,"
    "  current_step = CASE WHEN rescues >= $4::int"
    "   THEN 'Processing error: crash rescue limit reached' ELSE current_step END,"
    "  lease_expires_at = NULL,"
    "  transition_reason = CASE WHEN rescues >= $4::int"
    "   THEN format('poison: rescue cap %s reached: %s', $4::int, $3::text)"
    "   ELSE 'rescued: ' || $3::text END" SQL_FENCE
    "  RETURNING id, status, error_message, total_runs, batch_id)," SQL_ON_FAILED
    " SELECT status FROM upd";

/* $1 id, $2 token, $3 reason. A worker died while this job's unit was there
 * among others': no strike, but from now on the job runs alone. */
static const char SQL_SUSPECT[] =
    "UPDATE viral_ideas_queue SET crash_suspect = true, last_error = $3::text" SQL_FENCE
    " RETURNING status";

/*
 * Completion of one or many jobs in one transaction. $1 is a JSON array of
 * {id, token, run, step, analysis_data, result}: result is the analysis
 * engine's output {analysis_data, reels, scripts, counts} (or null), step
 * overrides current_step, analysis_data overrides result's. Each job is
 * fenced by its token. One row per input, in order: 'done', 'again' (the
 * same holder completed it before: a repeat is a success) or 'lost'.
 *
 * Each large piece is stored once (010_stored_once.sql): the reels'
 * analysis_metadata and the scripts' source_reels and script_structure go
 * into the compressed document under viralsup_row_documents (keyed by
 * content_id and by the script row's id, generated here), their columns NULL
 * (unless the document is not an object: then the rows keep them). A script
 * whose title, text, hook, call to action, audience, duration and structure
 * are those of its complete_scripts entry stores none of them, only that
 * entry's position (012_stored_once_more.sql). Rows get time-ordered ids
 * and are inserted in key order, so their indexes fill their pages. A run
 * completed again onto its results row keeps that row's scripts and reels
 * but replaces its document: a trigger (013_keep_row_refs.sql) writes what
 * they read from the old document into them first.
 */
static const char SQL_COMPLETE[] =
    "WITH input AS (SELECT (x->>'id')::uuid AS id, (x->>'token')::uuid AS token,"
    "  COALESCE((x->>'run')::int, 1) AS run, x->>'step' AS step,"
    /* JSON null is not SQL NULL: NULLIF makes absent documents NULL. */
    "  COALESCE(NULLIF(x->'analysis_data', 'null'), NULLIF(x->'result', 'null')->'analysis_data')"
    "   AS data, NULLIF(x->'result', 'null') AS d, ord"
    "  FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(x, ord)),"
    " upd AS (UPDATE viral_ideas_queue q SET status = 'completed', progress_percentage = 100,"
    "  current_step = left(COALESCE(i.step, CASE WHEN i.d IS NULL THEN 'Analysis completed'"
    "   WHEN i.run = 1 THEN format('Initial analysis completed: %s transcripts fetched',"
    "    COALESCE(i.d->'counts'->>'transcripts_fetched', '0'))"
    "   ELSE format('Recurring analysis completed: %s new transcripts',"
    "    COALESCE(i.d->'counts'->>'transcripts_fetched', '0')) END), 100),"
    "  completed_at = now(), last_analysis_at = now(), total_runs = COALESCE(q.total_runs, 0) + 1,"
    "  last_discovery_fetch_at = CASE WHEN i.run > 1 THEN now() ELSE q.last_discovery_fetch_at END,"
    "  next_scheduled_run = CASE WHEN q.auto_rerun_enabled"
    "   THEN now() + make_interval(hours => COALESCE(q.rerun_frequency_hours, 24)) END,"
    "  error_message = NULL, lease_expires_at = NULL,"
    "  transition_reason = 'logged'" /* events below (migration 011) */
    "  FROM input i WHERE q.id = i.id AND q.lease_token = i.token AND q.status = 'processing'"
    "  RETURNING q.id, q.batch_id, i.run, i.d, i.data, q.lease_owner, q.lease_token,"
    "   q.attempts),"
    " events AS (INSERT INTO job_events (job_id, from_status, to_status, owner_id, node, actor,"
    "   lease_token, attempt, reason)"
    "  SELECT u.id, 'processing', 'completed', u.lease_owner, o.node,"
    "   current_setting('application_name', true), u.lease_token, u.attempts,"
    "   'completed run ' || u.run"
    "  FROM upd u LEFT JOIN owners o ON o.id = u.lease_owner),"
    /* The scripts with the ids their rows will have; ref: the row's text
     * repeats complete_scripts[o - 1] (012_stored_once_more.sql). */
    " sx AS (SELECT qid, sid, x, o, in_doc, (x->>'estimated_duration')::int AS dur,"
    "  in_doc AND cs IS NOT NULL"
    "  AND left(COALESCE(x->>'script_title', 'Hook Script'), 255) = cs->'script'->>'title'"
    "  AND COALESCE(x->>'script_content', '') = cs->'script'->>'full_script'"
    "  AND x->>'primary_hook' IS NOT DISTINCT FROM cs->>'source_hook'"
    "  AND x->>'call_to_action' IS NOT DISTINCT FROM"
    "   cs->'script'->'structure_breakdown'->>'cta_section'"
    "  AND left(x->>'target_audience', 255) IS NOT DISTINCT FROM"
    "   cs->'adaptation_context'->>'target_audience'"
    "  AND x->>'estimated_duration' IS NOT DISTINCT FROM cs->'script'->>'estimated_duration'"
    "  AND x->'script_structure' IS NOT DISTINCT FROM cs->'script'->'structure_breakdown'"
    "  AS ref FROM (SELECT upd.id AS qid, viralsup_uuid7() AS sid, x, o,"
    "  jsonb_typeof(COALESCE(upd.data, '{}'::jsonb)) = 'object' AS in_doc,"
    "  upd.data->'complete_scripts'->(o::int - 1) AS cs FROM upd,"
    "  jsonb_array_elements(COALESCE(upd.d->'scripts', '[]'::jsonb)) WITH ORDINALITY AS e(x, o))"
    "  s),"
    /* The reels to store, the first of those repeating a content_id; j: the
     * individual_reel_analyses entry whose hook_analysis the reel's metadata,
     * hook_text and power_words repeat (012). */
    " rx AS (SELECT DISTINCT ON (upd.id, r->>'content_id') upd.id AS qid, r, o,"
    "  jsonb_typeof(COALESCE(upd.data, '{}'::jsonb)) = 'object' AS in_doc,"
    "  (SELECT i.n - 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(upd.data)"
    "   = 'object' AND jsonb_typeof(upd.data->'individual_reel_analyses') = 'array'"
    "   AND jsonb_typeof(r->'analysis_metadata'->'hook_analysis') = 'object'"
    "   THEN upd.data->'individual_reel_analyses' END) WITH ORDINALITY AS i(v, n)"
    "   WHERE i.v->>'content_id' = r->>'content_id'"
    "   AND i.v->'hook_analysis' = r->'analysis_metadata'->'hook_analysis'"
    "   AND r->>'hook_text' IS NOT DISTINCT FROM i.v->'hook_analysis'->>'hook_text'"
    "   AND r->'power_words' IS NOT DISTINCT FROM i.v->'hook_analysis'->'power_words'"
    "   ORDER BY i.n LIMIT 1) AS j"
    "  FROM upd, jsonb_array_elements(COALESCE(upd.d->'reels', '[]'::jsonb))"
    "   WITH ORDINALITY AS e(r, o)"
    "  WHERE r->>'content_id' IS NOT NULL AND r->>'username' IS NOT NULL"
    "  ORDER BY upd.id, r->>'content_id', o),"
    /* The rows' documents (010, 012). */
    " rowdocs AS (SELECT upd.id AS qid, jsonb_build_object('reels', COALESCE((SELECT"
    "   jsonb_object_agg(r->>'content_id', CASE WHEN j IS NULL"
    "   THEN COALESCE(r->'analysis_metadata', '{}'::jsonb)"
    "   ELSE (r->'analysis_metadata') - 'hook_analysis' END)"
    "   FROM rx WHERE rx.qid = upd.id), '{}'::jsonb),"
    "  'hooks', COALESCE((SELECT jsonb_object_agg(r->>'content_id', j)"
    "   FROM rx WHERE rx.qid = upd.id AND j IS NOT NULL), '{}'::jsonb),"
    "  'scripts', COALESCE((SELECT jsonb_object_agg(sx.sid::text, COALESCE((SELECT"
    "   jsonb_object_agg(k, v) FROM jsonb_each(sx.x) AS f(k, v)"
    "   WHERE k IN ('source_reels', 'generation_prompt')"
    "   OR (k = 'script_structure' AND NOT sx.ref)), '{}'::jsonb)"
    "   || CASE WHEN sx.ref THEN jsonb_build_object('n', sx.o - 1) ELSE '{}'::jsonb END)"
    "   FROM sx WHERE sx.qid = upd.id), '{}'::jsonb)) AS doc FROM upd WHERE upd.d IS NOT NULL),"
    " res AS (INSERT INTO viral_analysis_results AS v (id, queue_id, analysis_run,"
    "   analysis_type, status, analysis_completed_at, transcripts_completed_at, analysis_data,"
    "   workflow_version, total_reels_analyzed, primary_reels_count, competitor_reels_count,"
    "   transcripts_fetched)"
    "  SELECT viralsup_uuid7(), id, run, CASE WHEN run = 1 THEN 'initial' ELSE 'recurring' END,"
    "   'completed',"
    "   now(), now(), CASE WHEN rowdocs.doc IS NOT NULL"
    "    AND jsonb_typeof(COALESCE(data, '{}'::jsonb)) = 'object'"
    "    THEN COALESCE(data, '{}'::jsonb) || jsonb_build_object('viralsup_row_documents',"
    "     rowdocs.doc) ELSE COALESCE(data, '{}'::jsonb) END, 'hook_based_v2',"
    "   COALESCE((d->'counts'->>'total_reels_analyzed')::int, 0),"
    "   COALESCE((d->'counts'->>'primary_reels_count')::int, 0),"
    "   COALESCE((d->'counts'->>'competitor_reels_count')::int, 0),"
    "   COALESCE((d->'counts'->>'transcripts_fetched')::int, 0)"
    "  FROM upd LEFT JOIN rowdocs ON rowdocs.qid = upd.id"
    "  ON CONFLICT (queue_id, analysis_run) DO UPDATE SET status = 'completed',"
    "   analysis_completed_at = COALESCE(v.analysis_completed_at, now()),"
    "   analysis_data = COALESCE(EXCLUDED.analysis_data, v.analysis_data),"
    "   total_reels_analyzed = EXCLUDED.total_reels_analyzed,"
    "   primary_reels_count = EXCLUDED.primary_reels_count,"
    "   competitor_reels_count = EXCLUDED.competitor_reels_count,"
    "   transcripts_fetched = EXCLUDED.transcripts_fetched,"
    "   error_message = NULL, updated_at = now()"
    "  RETURNING v.id, v.queue_id),"
    /* In key order (ids and (analysis_id, content_id) ascending): each index
     * insertion lands on the rightmost leaf page (012). Of reels repeating a
     * content_id the first is stored. */
    " reels AS (INSERT INTO viral_analysis_reels (id, analysis_id, content_id, reel_type,"
    "   username, selection_reason, rank_in_selection, view_count_at_analysis,"
    "   like_count_at_analysis, comment_count_at_analysis, outlier_score_at_analysis,"
    "   transcript_requested, transcript_completed, hook_text, power_words, analysis_metadata,"
    "   transcript_fetched_at)"
    "  SELECT viralsup_uuid7(), res.id, r->>'content_id', left(r->>'reel_type', 20), "
    "r->>'username',"
    "   left(r->>'selection_reason', 100), COALESCE((r->>'rank_in_selection')::int, 0),"
    "   COALESCE((r->>'view_count_at_analysis')::bigint, 0),"
    "   COALESCE((r->>'like_count_at_analysis')::bigint, 0),"
    "   COALESCE((r->>'comment_count_at_analysis')::bigint, 0),"
    "   COALESCE((r->>'outlier_score_at_analysis')::numeric, 0),"
    "   COALESCE((r->>'transcript_requested')::boolean, false),"
    "   COALESCE((r->>'transcript_completed')::boolean, false),"
    "   CASE WHEN j IS NULL THEN r->>'hook_text' END, CASE WHEN j IS NULL THEN r->'power_words' "
    "END,"
    "   CASE WHEN NOT in_doc THEN COALESCE(r->'analysis_metadata', '{}'::jsonb) END,"
    "   CASE WHEN (r->>'transcript_completed')::boolean THEN now() END"
    "  FROM res JOIN rx ON rx.qid = res.queue_id ORDER BY res.id, r->>'content_id'"
    "  ON CONFLICT (analysis_id, content_id) DO NOTHING),"
    " scripts AS (INSERT INTO viral_scripts (id, analysis_id, script_title, script_content,"
    "   script_type, estimated_duration, target_audience, primary_hook, call_to_action,"
    "   source_reels, script_structure, generation_prompt, ai_model, generation_temperature,"
    "   status, hook_metadata)"
    "  SELECT sx.sid, res.id,"
    "   CASE WHEN NOT ref THEN left(COALESCE(x->>'script_title', 'Hook Script'), 255) END,"
    "   CASE WHEN NOT ref THEN COALESCE(x->>'script_content', '') END,"
    "   left(COALESCE(x->>'script_type', 'reel'), 50),"
    "   CASE WHEN NOT ref THEN dur END,"
    "   CASE WHEN NOT ref THEN left(x->>'target_audience', 255) END,"
    "   CASE WHEN NOT ref THEN x->>'primary_hook' END,"
    "   CASE WHEN NOT ref THEN x->>'call_to_action' END,"
    "   CASE WHEN NOT in_doc THEN x->'source_reels' END,"
    "   CASE WHEN NOT in_doc THEN x->'script_structure' END,"
    "   CASE WHEN NOT in_doc THEN x->>'generation_prompt' END, left(x->>'ai_model', 100),"
    "   (x->>'generation_temperature')::numeric, left(COALESCE(x->>'status', 'completed'), 50),"
    "   COALESCE(x->'hook_metadata', '{}'::jsonb)"
    "  FROM res JOIN sx ON sx.qid = res.queue_id"
    "  WHERE NOT EXISTS (SELECT 1 FROM viral_scripts v WHERE v.analysis_id = res.id)"
    "  ORDER BY sx.qid, sx.o),"
    " comp AS (UPDATE viral_ideas_competitors c SET processing_status = 'completed',"
    "  processed_at = now() FROM upd WHERE c.queue_id = upd.id AND c.is_active"
    "  AND c.processing_status <> 'failed'),"
    " bat AS (UPDATE batches b SET completed_jobs = b.completed_jobs + n.k,"
    "  finished_at = CASE WHEN b.completed_jobs + b.failed_jobs + n.k >= b.total_jobs"
    "   THEN COALESCE(b.finished_at, now()) END"
    "  FROM (SELECT batch_id, count(*) AS k FROM upd WHERE batch_id IS NOT NULL"
    "   GROUP BY batch_id) n WHERE b.id = n.batch_id)"
    " SELECT CASE WHEN EXISTS (SELECT 1 FROM upd WHERE upd.id = i.id) THEN 'done'"
    "  WHEN EXISTS (SELECT 1 FROM viral_ideas_queue q WHERE q.id = i.id"
    "   AND q.lease_token = i.token AND q.status = 'completed') THEN 'again'"
    "  ELSE 'lost' END FROM input i ORDER BY i.ord";

/* $1 id, $2 token, $3 pct (NULL keeps), $4 step (NULL keeps). No transition: no event. */
static const char SQL_PROGRESS[] =
    "UPDATE viral_ideas_queue SET"
    " progress_percentage = COALESCE($3::int, progress_percentage),"
    " current_step = COALESCE(left($4, 100), current_step)" SQL_FENCE " RETURNING 1";

/* $1 ids, $2 tokens, $3 pcts, $4 steps: arrays of one element per job. */
static const char SQL_PROGRESS_MANY[] =
    "UPDATE viral_ideas_queue q SET progress_percentage = u.pct,"
    " current_step = left(u.step, 100)"
    " FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[]) AS u(id, token, pct, step)"
    " WHERE q.id = u.id AND q.lease_token = u.token AND q.status = 'processing'";

/* $1 retention s, $2 batch size: bounded deletes, never one long transaction. */
static const char SQL_PRUNE[] =
    "WITH d AS (DELETE FROM job_events WHERE id IN (SELECT id FROM job_events"
    "  WHERE at < now() - $1::int * interval '1 second' ORDER BY id LIMIT $2::int)"
    "  RETURNING 1) SELECT count(*) FROM d";

const char *queue_claim_sql(void)
{
	return SQL_CLAIM;
}

/* ----------------------------------------------------------- statements */

#define MAX_PARAMS 6

enum op {
	OP_OWNER_REGISTER,
	OP_OWNER_HEARTBEAT,
	OP_OWNER_STOP,
	OP_CLAIM,
	OP_RENEW,
	OP_RELEASE,
	OP_FAIL,
	OP_RESCUE,
	OP_SUSPECT,
	OP_COMPLETE,
	OP_COMPLETE_MANY,
	OP_PROGRESS,
	OP_PRUNE,
};

/* One statement ready to send: SQL, parameters, and storage they point into. */
struct stmt {
	enum op op;
	const char *sql;
	int n;
	const char *p[MAX_PARAMS];
	char num[MAX_PARAMS][24];
	char *owned[2]; /* heap strings some params point to */
};

static void stmt_free(struct stmt *s)
{
	free(s->owned[0]);
	free(s->owned[1]);
}

static const char *num(struct stmt *s, int i, long long v)
{
	snprintf(s->num[i], sizeof s->num[i], "%lld", v);
	return s->num[i];
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	size_t n = strlen(err);
	while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
		err[--n] = '\0';
}

static void build_fenced(struct stmt *s, enum op op, const char *sql, const char *id,
                         const char *token)
{
	s->op = op;
	s->sql = sql;
	s->p[0] = id;
	s->p[1] = token;
	s->n = 2;
}

static void build_claim(struct stmt *s, const struct queue_claim_opts *o)
{
	s->op = OP_CLAIM;
	s->sql = SQL_CLAIM;
	s->n = 5;
	s->p[0] = num(s, 0, o->owner);
	s->p[1] = num(s, 1, o->limit > 0 ? o->limit : 1);
	s->p[2] = num(s, 2, o->lease_ms > 0 ? o->lease_ms : 60000);
	s->p[3] = num(s, 3, o->legacy_stuck_ms > 0 ? o->legacy_stuck_ms : 60000);
	s->p[4] = o->only_id; /* NULL: any job */
}

/* A PostgreSQL array literal of uuids; -EINVAL when an element is not uuid-shaped. */
static int uuid_array(const char *const *v, int n, char **out)
{
	char *a = malloc((size_t)n * QUEUE_UUID_LEN + 3);
	if (!a)
		abort();
	char *p = a;
	*p++ = '{';
	for (int i = 0; i < n; i++) {
		size_t len = v[i] ? strlen(v[i]) : 0;
		if (len == 0 || len > 36 || strspn(v[i], "0123456789abcdefABCDEF-") != len) {
			free(a);
			return -EINVAL;
		}
		if (i)
			*p++ = ',';
		memcpy(p, v[i], len);
		p += len;
	}
	*p++ = '}';
	*p = '\0';
	*out = a;
	return 0;
}

static int build_renew(struct stmt *s, long long owner, int lease_ms, int n, const char *const *ids,
                       const char *const *tokens)
{
	s->op = OP_RENEW;
	s->sql = SQL_RENEW;
	s->n = 4;
	s->p[0] = num(s, 0, owner);
	s->p[1] = num(s, 1, lease_ms > 0 ? lease_ms : 60000);
	if (n < 0 || uuid_array(ids, n, &s->owned[0]) < 0 ||
	    uuid_array(tokens, n, &s->owned[1]) < 0) {
		stmt_free(s);
		return -EINVAL;
	}
	s->p[2] = s->owned[0];
	s->p[3] = s->owned[1];
	return 0;
}

static void build_owner_register(struct stmt *s, const char *node, const char *role, int expiry_ms)
{
	s->op = OP_OWNER_REGISTER;
	s->sql = SQL_OWNER_REGISTER;
	s->n = 4;
	s->p[0] = node ? node : "unknown";
	s->p[1] = num(s, 1, getpid());
	s->p[2] = role ? role : "scheduler";
	s->p[3] = num(s, 3, expiry_ms > 0 ? expiry_ms : 30000);
}

static void build_owner(struct stmt *s, enum op op, long long owner)
{
	s->op = op;
	s->sql = op == OP_OWNER_HEARTBEAT ? SQL_OWNER_HEARTBEAT : SQL_OWNER_STOP;
	s->n = 1;
	s->p[0] = num(s, 0, owner);
}

static void build_release(struct stmt *s, const char *id, const char *token, const char *reason,
                          int base_ms, int cap_ms)
{
	build_fenced(s, OP_RELEASE, SQL_RELEASE, id, token);
	s->p[2] = reason ? reason : "released";
	s->p[3] = num(s, 3, base_ms > 0 ? base_ms : 1000);
	s->p[4] = num(s, 4, cap_ms > 0 ? cap_ms : 300000);
	s->n = 5;
}

static void build_fail(struct stmt *s, const char *id, const char *token, const char *error)
{
	build_fenced(s, OP_FAIL, SQL_FAIL, id, token);
	s->p[2] = error ? error : "failed";
	s->n = 3;
}

static void build_rescue(struct stmt *s, const char *id, const char *token, const char *reason,
                         int cap)
{
	build_fenced(s, OP_RESCUE, SQL_RESCUE, id, token);
	s->p[2] = reason ? reason : "handler crashed";
	s->p[3] = num(s, 3, cap > 0 ? cap : 3);
	s->n = 4;
}

static void build_suspect(struct stmt *s, const char *id, const char *token, const char *reason)
{
	build_fenced(s, OP_SUSPECT, SQL_SUSPECT, id, token);
	s->p[2] = reason ? reason : "a worker died";
	s->n = 3;
}

/* Appends one completion object to a JSON array being built in buf. The
 * documents are JSON text already and go in as they are; ids and tokens
 * must look like UUIDs (a quote in them could not forge the array). */
static bool uuid_like(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
		if (!(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

static char *completion_array(int n, const struct queue_completion *c)
{
	size_t cap = 16, len = 0;
	for (int i = 0; i < n; i++)
		cap += 200 + (c[i].result ? strlen(c[i].result) : 4) +
		       (c[i].analysis_data ? strlen(c[i].analysis_data) : 4) +
		       (c[i].step ? 2 * strlen(c[i].step) + 8 : 4);
	char *buf = malloc(cap);
	if (!buf)
		abort();
	buf[len++] = '[';
	for (int i = 0; i < n; i++) {
		json_t *step = c[i].step ? json_string(c[i].step) : json_null();
		char *st = json_dumps(step, JSON_ENCODE_ANY);
		json_decref(step);
		len += (size_t)snprintf(buf + len, cap - len,
		                        "%s{\"id\":\"%s\",\"token\":\"%s\",\"run\":%d,\"step\":%s,"
		                        "\"analysis_data\":%s,\"result\":%s}",
		                        i ? "," : "", uuid_like(c[i].id) ? c[i].id : "",
		                        uuid_like(c[i].token) ? c[i].token : "",
		                        c[i].run > 0 ? c[i].run : 1, st ? st : "null",
		                        c[i].analysis_data ? c[i].analysis_data : "null",
		                        c[i].result ? c[i].result : "null");
		free(st);
	}
	buf[len++] = ']';
	buf[len] = '\0';
	return buf;
}

static void build_complete_many(struct stmt *s, int n, const struct queue_completion *c)
{
	s->op = n == 1 ? OP_COMPLETE : OP_COMPLETE_MANY;
	s->sql = SQL_COMPLETE;
	s->owned[0] = completion_array(n, c);
	s->p[0] = s->owned[0];
	s->n = 1;
}

static void build_complete(struct stmt *s, const char *id, const char *token,
                           const struct queue_result *r)
{
	struct queue_completion c = {
	    .id = id,
	    .token = token,
	    .run = r ? r->analysis_run : 1,
	    .step = r ? r->current_step : NULL,
	    .analysis_data = r ? r->analysis_data : NULL,
	    .result = r ? r->result : NULL,
	};
	build_complete_many(s, 1, &c);
}

static void build_progress(struct stmt *s, const char *id, const char *token, int pct,
                           const char *step)
{
	build_fenced(s, OP_PROGRESS, SQL_PROGRESS, id, token);
	s->p[2] = pct >= 0 ? num(s, 2, pct > 100 ? 100 : pct) : NULL;
	s->p[3] = step;
	s->n = 4;
}

static void build_prune(struct stmt *s, int retention_s, int max_rows)
{
	s->op = OP_PRUNE;
	s->sql = SQL_PRUNE;
	s->n = 2;
	s->p[0] = num(s, 0, retention_s > 0 ? retention_s : 7 * 86400);
	s->p[1] = num(s, 1, max_rows > 0 ? max_rows : 10000);
}

/* -------------------------------------------------------------- results */

static char *dup_or_null(const PGresult *res, int r, int c)
{
	if (PQgetisnull(res, r, c))
		return NULL;
	char *s = strdup(PQgetvalue(res, r, c));
	if (!s)
		abort();
	return s;
}

void queue_jobs_free(struct queue_job *jobs, int n)
{
	if (!jobs)
		return;
	for (int i = 0; i < n; i++) {
		struct queue_job *j = &jobs[i];
		free(j->session_id);
		free(j->primary_username);
		free(j->content_strategy);
		free(j->batch_id);
		for (int k = 0; k < j->ncompetitors; k++)
			free(j->competitors[k]);
		free(j->competitors);
	}
	free(jobs);
}

static void parse_competitors(struct queue_job *j, const char *text)
{
	json_error_t jerr;
	json_t *a = json_loads(text, 0, &jerr);
	if (json_is_array(a) && json_array_size(a) > 0) {
		j->competitors = calloc(json_array_size(a), sizeof(char *));
		if (!j->competitors)
			abort();
		size_t i;
		json_t *v;
		json_array_foreach(a, i, v)
		{
			if (json_is_string(v)) {
				j->competitors[j->ncompetitors] = strdup(json_string_value(v));
				if (!j->competitors[j->ncompetitors])
					abort();
				j->ncompetitors++;
			}
		}
	}
	json_decref(a);
}

static int parse_claim(const PGresult *res, struct queue_job **out)
{
	int n = PQntuples(res);
	struct queue_job *jobs = calloc(n ? n : 1, sizeof *jobs);
	if (!jobs)
		abort();
	for (int r = 0; r < n; r++) {
		struct queue_job *j = &jobs[r];
		snprintf(j->id, sizeof j->id, "%s", PQgetvalue(res, r, 0));
		snprintf(j->lease_token, sizeof j->lease_token, "%s", PQgetvalue(res, r, 1));
		j->session_id = dup_or_null(res, r, 2);
		j->primary_username = dup_or_null(res, r, 3);
		j->content_strategy = dup_or_null(res, r, 4);
		j->priority = atoi(PQgetvalue(res, r, 5));
		j->attempts = atoi(PQgetvalue(res, r, 6));
		j->max_attempts = atoi(PQgetvalue(res, r, 7));
		j->rescues = atoi(PQgetvalue(res, r, 8));
		j->analysis_run = atoi(PQgetvalue(res, r, 9));
		j->reclaimed = PQgetvalue(res, r, 10)[0] == 't';
		j->batch_id = dup_or_null(res, r, 11);
		parse_competitors(j, PQgetvalue(res, r, 12));
		j->crash_suspect = PQgetvalue(res, r, 13)[0] == 't';
	}
	*out = jobs;
	return n;
}

/* The enum queue_rc of a fenced statement's result. */
static int completion_rc(const char *v)
{
	return strcmp(v, "lost") == 0 ? QUEUE_LOST_LEASE : QUEUE_OK;
}

static int parse_rc(enum op op, const PGresult *res)
{
	if (PQntuples(res) == 0)
		return QUEUE_LOST_LEASE;
	if (op == OP_COMPLETE)
		return completion_rc(PQgetvalue(res, 0, 0));
	if ((op == OP_RELEASE || op == OP_RESCUE) && strcmp(PQgetvalue(res, 0, 0), "failed") == 0)
		return QUEUE_GAVE_UP;
	return QUEUE_OK;
}

static int parse_lost(const PGresult *res, char (*lost)[QUEUE_UUID_LEN])
{
	int n = PQntuples(res);
	for (int r = 0; lost && r < n; r++)
		snprintf(lost[r], QUEUE_UUID_LEN, "%s", PQgetvalue(res, r, 0));
	return n;
}

static long long parse_id(const PGresult *res)
{
	return PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 0)) : -1;
}

/* ------------------------------------------------------------- blocking */

/*
 * The blocking calls prepare each statement once per connection, as the
 * async ones do through sql/pg.c: parsing and planning the large CTEs cost
 * more than running them (docs/PERFORMANCE.md, "Queue statements"). A
 * PGconn carries no user data, so a few recent connections are remembered
 * here by address and backend pid (a reused address has a new backend);
 * a statement found missing is prepared again. Not thread-safe: every
 * user of this file is a single-threaded process.
 */
/* The statements a process runs again and again. Not the once-per-process ones
 * (owner register and stop, prune): preparing would only add round trips, and
 * the stop runs on the way out of an exiting scheduler. */
static const char *const PREPARED_SQL[] = {
    SQL_OWNER_HEARTBEAT, SQL_CLAIM,   SQL_RENEW,    SQL_RELEASE,  SQL_FAIL,
    SQL_RESCUE,          SQL_SUSPECT, SQL_COMPLETE, SQL_PROGRESS, SQL_PROGRESS_MANY,
};
#define NPREPARED_SQL (int)(sizeof PREPARED_SQL / sizeof PREPARED_SQL[0])

struct prepared_conn {
	const PGconn *conn;
	int backend_pid;
	unsigned ready; /* bit i: PREPARED_SQL[i] is prepared on this connection */
};
static struct prepared_conn prepared_conns[8];
static unsigned prepared_next;

static struct prepared_conn *prepared_of(PGconn *c)
{
	int pid = PQbackendPID(c);
	for (size_t i = 0; i < sizeof prepared_conns / sizeof prepared_conns[0]; i++)
		if (prepared_conns[i].conn == c && prepared_conns[i].backend_pid == pid)
			return &prepared_conns[i];
	struct prepared_conn *p =
	    &prepared_conns[prepared_next++ % (sizeof prepared_conns / sizeof prepared_conns[0])];
	*p = (struct prepared_conn){.conn = c, .backend_pid = pid};
	return p;
}

/* The name s->sql is prepared under on c (name has room for 24), or NULL
 * when it could not be: then the statement runs unprepared, and reports any
 * error itself. Checks pg_prepared_statements before preparing, because a
 * failed PREPARE would abort the caller's transaction. */
static const char *prepared_name(PGconn *c, const char *sql, char *name)
{
	int i = 0;
	while (i < NPREPARED_SQL && PREPARED_SQL[i] != sql)
		i++;
	if (i == NPREPARED_SQL || PQstatus(c) != CONNECTION_OK)
		return NULL;
	snprintf(name, 24, "viralsup_queue_%d", i);
	struct prepared_conn *p = prepared_of(c);
	if (p->ready & (1u << i))
		return name;
	const char *param[1] = {name};
	PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_prepared_statements WHERE name = $1", 1,
	                           NULL, param, NULL, NULL, 0);
	bool have = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
	bool asked = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	if (!asked)
		return NULL;
	if (!have) {
		r = PQprepare(c, name, sql, 0, NULL);
		have = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
	}
	if (have)
		p->ready |= 1u << i;
	return have ? name : NULL;
}

/* Runs s on c; the result on success (caller PQclears), NULL with err set. */
static PGresult *run(PGconn *c, struct stmt *s, char *err, size_t errlen)
{
	char name[24];
	const char *prepared = prepared_name(c, s->sql, name);
	PGresult *res = prepared ? PQexecPrepared(c, prepared, s->n, s->p, NULL, NULL, 0)
	                         : PQexecParams(c, s->sql, s->n, NULL, s->p, NULL, NULL, 0);
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (prepared && state && strcmp(state, "26000") == 0) {
		/* Deallocated behind our back (DISCARD ALL): prepare it next time. */
		prepared_of(c)->ready = 0;
		PQclear(res);
		res = PQexecParams(c, s->sql, s->n, NULL, s->p, NULL, NULL, 0);
	}
	stmt_free(s);
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		seterr(err, errlen, "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(c));
		PQclear(res);
		return NULL;
	}
	return res;
}

static int run_rc(PGconn *c, struct stmt *s, char *err, size_t errlen)
{
	enum op op = s->op;
	PGresult *res = run(c, s, err, errlen);
	if (!res)
		return QUEUE_ERROR;
	int rc = parse_rc(op, res);
	PQclear(res);
	return rc;
}

long long queue_owner_register(PGconn *c, const char *node, const char *role,
                               int heartbeat_expiry_ms, char *err, size_t errlen)
{
	struct stmt s = {0};
	build_owner_register(&s, node, role, heartbeat_expiry_ms);
	PGresult *res = run(c, &s, err, errlen);
	long long id = res ? parse_id(res) : -1;
	PQclear(res);
	return id;
}

int queue_owner_heartbeat(PGconn *c, long long owner, char *err, size_t errlen)
{
	struct stmt s = {0};
	build_owner(&s, OP_OWNER_HEARTBEAT, owner);
	return run_rc(c, &s, err, errlen);
}

int queue_owner_stop(PGconn *c, long long owner, char *err, size_t errlen)
{
	struct stmt s = {0};
	build_owner(&s, OP_OWNER_STOP, owner);
	return run_rc(c, &s, err, errlen);
}

int queue_claim(PGconn *c, const struct queue_claim_opts *opts, struct queue_job **jobs, char *err,
                size_t errlen)
{
	struct stmt s = {0};
	*jobs = NULL;
	build_claim(&s, opts);
	PGresult *res = run(c, &s, err, errlen);
	if (!res)
		return -1;
	int n = parse_claim(res, jobs);
	PQclear(res);
	return n;
}

int queue_renew(PGconn *c, long long owner, int lease_ms, int n, const char *const *ids,
                const char *const *tokens, char (*lost)[QUEUE_UUID_LEN], char *err, size_t errlen)
{
	struct stmt s = {0};
	if (build_renew(&s, owner, lease_ms, n, ids, tokens) < 0) {
		seterr(err, errlen, "queue_renew: malformed job id or lease token");
		return -1;
	}
	PGresult *res = run(c, &s, err, errlen);
	if (!res)
		return -1;
	int nlost = parse_lost(res, lost);
	PQclear(res);
	return nlost;
}

int queue_release(PGconn *c, const char *id, const char *token, const char *reason, int base_ms,
                  int cap_ms, char *err, size_t errlen)
{
	struct stmt s = {0};
	build_release(&s, id, token, reason, base_ms, cap_ms);
	return run_rc(c, &s, err, errlen);
}

int queue_fail(PGconn *c, const char *id, const char *token, const char *error, char *err,
               size_t errlen)
{
	struct stmt s = {0};
	build_fail(&s, id, token, error);
	return run_rc(c, &s, err, errlen);
}

int queue_rescue(PGconn *c, const char *id, const char *token, const char *reason, int rescue_cap,
                 char *err, size_t errlen)
{
	struct stmt s = {0};
	build_rescue(&s, id, token, reason, rescue_cap);
	return run_rc(c, &s, err, errlen);
}

int queue_complete(PGconn *c, const char *id, const char *token, const struct queue_result *r,
                   char *err, size_t errlen)
{
	struct stmt s = {0};
	build_complete(&s, id, token, r);
	return run_rc(c, &s, err, errlen);
}

int queue_complete_many(PGconn *c, int n, const struct queue_completion *comp, int *rc, char *err,
                        size_t errlen)
{
	struct stmt s = {0};
	build_complete_many(&s, n, comp);
	PGresult *res = run(c, &s, err, errlen);
	if (!res)
		return QUEUE_ERROR;
	for (int i = 0; i < n; i++)
		rc[i] = i < PQntuples(res) ? completion_rc(PQgetvalue(res, i, 0)) : QUEUE_ERROR;
	PQclear(res);
	return 0;
}

int queue_progress(PGconn *c, const char *id, const char *token, int pct, const char *step,
                   char *err, size_t errlen)
{
	struct stmt s = {0};
	build_progress(&s, id, token, pct, step);
	return run_rc(c, &s, err, errlen);
}

long long queue_prune_events(PGconn *c, int retention_s, int max_rows, char *err, size_t errlen)
{
	struct stmt s = {0};
	build_prune(&s, retention_s, max_rows);
	PGresult *res = run(c, &s, err, errlen);
	long long n = res ? parse_id(res) : -1;
	PQclear(res);
	return n;
}

/* ---------------------------------------------------------------- async */

struct async_call {
	enum op op;
	void *cb;
	void *arg;
};

static void async_done(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	(void)pg;
	struct async_call *a = arg;
	switch (a->op) {
	case OP_CLAIM: {
		struct queue_job *jobs = NULL;
		int n = err ? -1 : parse_claim(res, &jobs);
		((queue_claim_fn)a->cb)(jobs, n, err, a->arg);
		break;
	}
	case OP_RENEW: {
		int n = err ? 0 : PQntuples(res);
		char(*lost)[QUEUE_UUID_LEN] = calloc(n ? n : 1, QUEUE_UUID_LEN);
		if (!lost)
			abort();
		if (!err)
			parse_lost(res, lost);
		((queue_renew_fn)a->cb)(err ? -1 : n, lost, err, a->arg);
		free(lost);
		break;
	}
	case OP_COMPLETE_MANY: {
		int n = err ? 0 : PQntuples(res);
		int *rc = calloc((size_t)n + 1, sizeof *rc);
		if (!rc)
			abort();
		for (int i = 0; i < n; i++)
			rc[i] = completion_rc(PQgetvalue(res, i, 0));
		((queue_many_fn)a->cb)(err ? -1 : n, rc, err, a->arg);
		free(rc);
		break;
	}
	case OP_OWNER_REGISTER:
	case OP_PRUNE:
		((queue_id_fn)a->cb)(err ? -1 : parse_id(res), err, a->arg);
		break;
	default:
		((queue_done_fn)a->cb)(err ? QUEUE_ERROR : parse_rc(a->op, res), err, a->arg);
		break;
	}
	free(a);
}

static int run_async(struct pg *pg, struct stmt *s, void *cb, void *arg)
{
	struct async_call *a = malloc(sizeof *a);
	if (!a)
		abort();
	a->op = s->op;
	a->cb = cb;
	a->arg = arg;
	int rc = pg_query(pg, s->sql, s->n, s->p, cb ? async_done : NULL, cb ? a : NULL);
	stmt_free(s);
	if (rc < 0 || !cb)
		free(a);
	return rc;
}

int queue_owner_register_async(struct pg *pg, const char *node, const char *role,
                               int heartbeat_expiry_ms, queue_id_fn cb, void *arg)
{
	struct stmt s = {0};
	build_owner_register(&s, node, role, heartbeat_expiry_ms);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_owner_heartbeat_async(struct pg *pg, long long owner, queue_done_fn cb, void *arg)
{
	struct stmt s = {0};
	build_owner(&s, OP_OWNER_HEARTBEAT, owner);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_owner_stop_async(struct pg *pg, long long owner, queue_done_fn cb, void *arg)
{
	struct stmt s = {0};
	build_owner(&s, OP_OWNER_STOP, owner);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_claim_async(struct pg *pg, const struct queue_claim_opts *opts, queue_claim_fn cb,
                      void *arg)
{
	struct stmt s = {0};
	build_claim(&s, opts);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_renew_async(struct pg *pg, long long owner, int lease_ms, int n, const char *const *ids,
                      const char *const *tokens, queue_renew_fn cb, void *arg)
{
	struct stmt s = {0};
	if (build_renew(&s, owner, lease_ms, n, ids, tokens) < 0)
		return -EINVAL;
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_release_async(struct pg *pg, const char *id, const char *token, const char *reason,
                        int base_ms, int cap_ms, queue_done_fn cb, void *arg)
{
	struct stmt s = {0};
	build_release(&s, id, token, reason, base_ms, cap_ms);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_fail_async(struct pg *pg, const char *id, const char *token, const char *error,
                     queue_done_fn cb, void *arg)
{
	struct stmt s = {0};
	build_fail(&s, id, token, error);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_rescue_async(struct pg *pg, const char *id, const char *token, const char *reason,
                       int rescue_cap, queue_done_fn cb, void *arg)
{
	struct stmt s = {0};
	build_rescue(&s, id, token, reason, rescue_cap);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_suspect_async(struct pg *pg, const char *id, const char *token, const char *reason,
                        queue_done_fn cb, void *arg)
{
	struct stmt s = {0};
	build_suspect(&s, id, token, reason);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_complete_async(struct pg *pg, const char *id, const char *token,
                         const struct queue_result *r, queue_done_fn cb, void *arg)
{
	struct stmt s = {0};
	build_complete(&s, id, token, r);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_progress_async(struct pg *pg, const char *id, const char *token, int pct,
                         const char *step, queue_done_fn cb, void *arg)
{
	struct stmt s = {0};
	build_progress(&s, id, token, pct, step);
	return run_async(pg, &s, (void *)cb, arg);
}

int queue_prune_events_async(struct pg *pg, int retention_s, int max_rows, queue_id_fn cb,
                             void *arg)
{
	struct stmt s = {0};
	build_prune(&s, retention_s, max_rows);
	return run_async(pg, &s, (void *)cb, arg);
}

struct many_call {
	queue_done_fn cb;
	void *arg;
};

static void many_done(struct pg *pg, PGresult *res, const char *err, void *arg)
{
	struct many_call *m = arg;
	(void)pg;
	(void)res;
	if (m->cb)
		m->cb(err ? QUEUE_ERROR : QUEUE_OK, err, m->arg);
	free(m);
}

int queue_progress_many_async(struct pg *pg, int n, const char *const *ids,
                              const char *const *tokens, const int *pcts, const char *const *steps,
                              queue_done_fn cb, void *arg)
{
	char **nums = calloc((size_t)n + 1, sizeof *nums);
	struct many_call *m = malloc(sizeof *m);
	if (!nums || !m)
		abort();
	for (int i = 0; i < n; i++) {
		nums[i] = malloc(16);
		if (!nums[i])
			abort();
		snprintf(nums[i], 16, "%d", pcts[i]);
	}
	char *a_ids = pg_text_array(ids, n), *a_tokens = pg_text_array(tokens, n);
	char *a_pcts = pg_text_array((const char *const *)nums, n);
	char *a_steps = pg_text_array(steps, n);
	const char *p[] = {a_ids, a_tokens, a_pcts, a_steps};
	m->cb = cb;
	m->arg = arg;
	int r = pg_query(pg, SQL_PROGRESS_MANY, 4, p, many_done, m);
	if (r < 0)
		free(m);
	for (int i = 0; i < n; i++)
		free(nums[i]);
	free(nums);
	free(a_ids);
	free(a_tokens);
	free(a_pcts);
	free(a_steps);
	return r;
}

int queue_complete_many_async(struct pg *pg, int n, const struct queue_completion *c,
                              queue_many_fn cb, void *arg)
{
	struct stmt s = {0};
	build_complete_many(&s, n, c);
	s.op = OP_COMPLETE_MANY; /* answers per item, whatever n is */
	return run_async(pg, &s, (void *)cb, arg);
}
