-- 013: a row that reads part of itself from its run's document (012) keeps
-- what it read when that document is replaced, whoever replaces it.
--
-- Until now the completion statement did this itself, in two CTEs that ran
-- for every completion although a run is completed onto an existing results
-- row only when the original's tools re-run it: those CTEs opened four more
-- tables and their indexes on every call (12 % of a one-job claim and
-- completion's time, docs/PERFORMANCE.md). As a trigger the work is done
-- only when a document really changes, and also when another writer (a
-- tool of the original product) rewrites analysis_data: before, that left
-- the referencing rows reading the new document's text.
--
-- A BEFORE trigger sees the results row as it was, so the views still
-- resolve each reference against the old document; the columns a row left
-- NULL are written from them.
CREATE FUNCTION viralsup_keep_row_refs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE viral_scripts s SET script_title = f.script_title,
		script_content = f.script_content, estimated_duration = f.estimated_duration,
		target_audience = f.target_audience, primary_hook = f.primary_hook,
		call_to_action = f.call_to_action, source_reels = f.source_reels,
		script_structure = f.script_structure, generation_prompt = f.generation_prompt
	FROM viral_scripts_full f
	WHERE f.analysis_id = OLD.id AND s.id = f.id
		AND (s.script_content IS NULL OR s.source_reels IS NULL
			OR s.script_structure IS NULL OR s.generation_prompt IS NULL);
	UPDATE viral_analysis_reels a SET hook_text = f.hook_text,
		power_words = f.power_words, analysis_metadata = f.analysis_metadata
	FROM viral_analysis_reels_full f
	WHERE f.analysis_id = OLD.id AND a.id = f.id
		AND (a.analysis_metadata IS NULL OR a.hook_text IS NULL OR a.power_words IS NULL);
	RETURN NEW;
END
$$;

CREATE TRIGGER viral_analysis_results_keep_row_refs
	BEFORE UPDATE OF analysis_data ON viral_analysis_results
	FOR EACH ROW WHEN (OLD.analysis_data IS DISTINCT FROM NEW.analysis_data)
	EXECUTE FUNCTION viralsup_keep_row_refs();
