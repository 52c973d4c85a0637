-- 005: storage for large documents. analysis_data (tens of KB per run)
-- and transcripts are written once per run and read whole: lz4 compresses
-- them several times faster than the default pglz. The original's GIN
-- indexes over analysis_data are dropped: nothing queries inside the
-- document (readers fetch it whole by queue id), and maintaining three
-- GIN indexes over every stored analysis cost about 40% of a job's
-- database time (docs/DECISIONS.md D9).
ALTER TABLE viral_analysis_results ALTER COLUMN analysis_data SET COMPRESSION lz4;
ALTER TABLE content ALTER COLUMN transcript SET COMPRESSION lz4;
DROP INDEX idx_viral_results_analysis_data;
DROP INDEX idx_viral_results_generated_hooks;
DROP INDEX idx_viral_results_profile_analysis;
DROP INDEX idx_viral_reels_metadata;
DROP INDEX idx_viral_scripts_hook_metadata;
