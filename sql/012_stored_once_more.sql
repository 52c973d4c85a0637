-- 012: what an analysis's rows still repeated of its document is stored
-- once, its rows are keyed in insertion order, and its tables keep only the
-- indexes a reader uses (issue 14). docs/SCHEMA.md, "Each piece of an
-- analysis stored once".
--
-- 1. The row documents (010, viralsup_row_documents in analysis_data) gain:
--
--   {"reels":   {"<content_id>": <analysis_metadata, without hook_analysis
--                                 when "hooks" names the reel>, ...},
--    "hooks":   {"<content_id>": <index in individual_reel_analyses>, ...},
--    "scripts": {"<viral_scripts.id>": {"source_reels": ...,
--                "generation_prompt": ..., "n": <index in complete_scripts>
--                or "script_structure": ...}}}
--
-- A reel named in "hooks" had its analysis_metadata.hook_analysis, hook_text
-- and power_words equal to that individual_reel_analyses entry's
-- hook_analysis, hook_analysis.hook_text and hook_analysis.power_words: its
-- row's hook_text and power_words are NULL. A script with "n" had its
-- script_title, script_content, primary_hook, call_to_action,
-- target_audience, estimated_duration and script_structure equal to
-- complete_scripts[n]'s script.title, script.full_script, source_hook,
-- script.structure_breakdown.cta_section, adaptation_context.target_audience,
-- script.estimated_duration and script.structure_breakdown: those seven
-- columns are NULL. The completion statement (sql/queue.c) checks each
-- equality when it stores a run; anything that differs is stored as under
-- 010. generation_prompt (a line of provenance per script) moves to the
-- compressed document like source_reels. The views below and the results
-- endpoint derive the values; a non-NULL column wins, so rows written before
-- (or by other writers) read as they were. The two NOT NULL constraints must
-- go for that; every writer still supplies both.
ALTER TABLE viral_scripts ALTER COLUMN script_title DROP NOT NULL,
	ALTER COLUMN script_content DROP NOT NULL;

CREATE OR REPLACE VIEW viral_analysis_reels_full AS
SELECT a.id, a.analysis_id, a.content_id, a.reel_type, a.username, a.selection_reason,
	a.rank_in_selection, a.view_count_at_analysis, a.like_count_at_analysis,
	a.comment_count_at_analysis, a.outlier_score_at_analysis, a.transcript_requested,
	a.transcript_completed, a.transcript_error,
	COALESCE(a.hook_text, h.ha ->> 'hook_text') AS hook_text,
	COALESCE(a.power_words, h.ha -> 'power_words') AS power_words,
	COALESCE(a.analysis_metadata, CASE WHEN h.ha IS NULL THEN m.m
		ELSE m.m || jsonb_build_object('hook_analysis', h.ha) END) AS analysis_metadata,
	a.selected_at, a.transcript_fetched_at
FROM viral_analysis_reels a JOIN viral_analysis_results r ON r.id = a.analysis_id
	CROSS JOIN LATERAL (SELECT r.analysis_data -> 'viralsup_row_documents' -> 'reels'
		-> a.content_id AS m) m
	CROSS JOIN LATERAL (SELECT r.analysis_data -> 'individual_reel_analyses'
		-> ((r.analysis_data -> 'viralsup_row_documents' -> 'hooks' ->> a.content_id)::int)
		-> 'hook_analysis' AS ha) h;

CREATE OR REPLACE VIEW viral_scripts_full AS
SELECT s.id, s.analysis_id,
	COALESCE(s.script_title, c.cs -> 'script' ->> 'title')::varchar(255) AS script_title,
	COALESCE(s.script_content, c.cs -> 'script' ->> 'full_script') AS script_content,
	s.script_type,
	COALESCE(s.estimated_duration, (c.cs -> 'script' ->> 'estimated_duration')::int)
		AS estimated_duration,
	COALESCE(s.target_audience, c.cs -> 'adaptation_context' ->> 'target_audience')::varchar(255)
		AS target_audience,
	COALESCE(s.primary_hook, c.cs ->> 'source_hook') AS primary_hook,
	COALESCE(s.call_to_action, c.cs -> 'script' -> 'structure_breakdown' ->> 'cta_section')
		AS call_to_action,
	COALESCE(s.source_reels, e.e -> 'source_reels') AS source_reels,
	COALESCE(s.script_structure, e.e -> 'script_structure',
		c.cs -> 'script' -> 'structure_breakdown') AS script_structure,
	COALESCE(s.generation_prompt, e.e ->> 'generation_prompt') AS generation_prompt,
	s.ai_model, s.generation_temperature, s.status, s.created_at,
	s.updated_at, s.hook_metadata, s.voice_analysis
FROM viral_scripts s JOIN viral_analysis_results r ON r.id = s.analysis_id
	CROSS JOIN LATERAL (SELECT r.analysis_data -> 'viralsup_row_documents' -> 'scripts'
		-> s.id::text AS e) e
	CROSS JOIN LATERAL (SELECT r.analysis_data -> 'complete_scripts'
		-> ((e.e ->> 'n')::int) AS cs) c;

-- 2. Time-ordered ids (UUID version 7: 48 bits of milliseconds, then random
-- bits) for the rows the completion statement inserts. With random ids every
-- insertion into a primary key, and into the reels' (analysis_id, content_id)
-- key, lands on a random leaf page, and the indexes settle at ~70% full; in
-- id order they fill their pages (~90%). Column defaults stay the
-- original's.
CREATE FUNCTION viralsup_uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
	SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
		substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
		FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;

-- 3. Indexes no query of ours or of the original's readers uses (the
-- original reads runs by queue_id, reels and scripts by analysis_id; the
-- keys that stay, and their readers, are listed in docs/SCHEMA.md):
-- (queue_id, analysis_run DESC) is the UNIQUE (queue_id, analysis_run)
-- index read backwards;
DROP INDEX idx_viral_results_queue_run;
-- nothing selects runs by status, update time or workflow version, scripts
-- by type, or reels by transcript state across runs.
DROP INDEX idx_viral_results_status;
DROP INDEX idx_viral_results_updated_at;
DROP INDEX idx_viral_results_workflow_version;
DROP INDEX idx_viral_scripts_type;
DROP INDEX idx_viral_reels_transcript;
