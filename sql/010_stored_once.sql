-- 010: each large piece of an analysis stored once (issue 14).
--
-- The engine's per-reel analysis_metadata and per-script source_reels and
-- script_structure repeat what its analysis_data document says (hook
-- analyses, hook metadata, source reel metadata, structure breakdowns).
-- Rows are small and stored uncompressed; the document is compressed (lz4,
-- 005), where a repeated piece costs a few bytes. So from this migration on
-- the completion statement (sql/queue.c) keeps those three JSON values in
-- the document only, under the private key viralsup_row_documents:
--
--   {"reels":   {"<content_id>": <analysis_metadata>, ...},
--    "scripts": {"<viral_scripts.id>": {"source_reels": ..., "script_structure": ...}}}
--
-- and writes the row columns NULL. Readers get the values back from the
-- document: the results endpoint does it inline, SQL readers use the views
-- below. Rows written before this migration keep their values (a non-NULL
-- column wins), and their documents have no such key. docs/SCHEMA.md.

-- The analysis document as the engine wrote it (without the row documents).
CREATE VIEW viral_analysis_results_full AS
SELECT r.id, r.queue_id, r.analysis_run, r.analysis_type, r.total_reels_analyzed,
	r.primary_reels_count, r.competitor_reels_count, r.transcripts_fetched, r.status,
	r.error_message, r.started_at, r.transcripts_completed_at, r.analysis_completed_at,
	r.created_at, r.updated_at,
	CASE WHEN jsonb_typeof(r.analysis_data) = 'object'
		THEN r.analysis_data - 'viralsup_row_documents' ELSE r.analysis_data END AS analysis_data,
	r.workflow_version
FROM viral_analysis_results r;

CREATE VIEW viral_analysis_reels_full AS
SELECT a.id, a.analysis_id, a.content_id, a.reel_type, a.username, a.selection_reason,
	a.rank_in_selection, a.view_count_at_analysis, a.like_count_at_analysis,
	a.comment_count_at_analysis, a.outlier_score_at_analysis, a.transcript_requested,
	a.transcript_completed, a.transcript_error, a.hook_text, a.power_words,
	COALESCE(a.analysis_metadata,
		r.analysis_data -> 'viralsup_row_documents' -> 'reels' -> a.content_id)
		AS analysis_metadata,
	a.selected_at, a.transcript_fetched_at
FROM viral_analysis_reels a JOIN viral_analysis_results r ON r.id = a.analysis_id;

CREATE VIEW viral_scripts_full AS
SELECT s.id, s.analysis_id, s.script_title, s.script_content, s.script_type,
	s.estimated_duration, s.target_audience, s.primary_hook, s.call_to_action,
	COALESCE(s.source_reels, r.analysis_data -> 'viralsup_row_documents' -> 'scripts'
		-> s.id::text -> 'source_reels') AS source_reels,
	COALESCE(s.script_structure, r.analysis_data -> 'viralsup_row_documents' -> 'scripts'
		-> s.id::text -> 'script_structure') AS script_structure,
	s.generation_prompt, s.ai_model, s.generation_temperature, s.status, s.created_at,
	s.updated_at, s.hook_metadata, s.voice_analysis
FROM viral_scripts s JOIN viral_analysis_results r ON r.id = s.analysis_id;

-- The UNIQUE (analysis_id, content_id) index serves every read of a run's
-- reels (by analysis_id; the ordering of ~30 rows is a sort in memory):
-- (analysis_id, reel_type, rank_in_selection) only cost each reel row ~65
-- bytes and an index insertion.
DROP INDEX idx_viral_reels_analysis;
