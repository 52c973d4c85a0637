-- Stored bytes per completed job, as PostgreSQL stores them: the analysis
-- document, the rest of the results row, the viral_analysis_reels and
-- viral_scripts rows, the content rows of the job's accounts, and each of
-- these tables' index bytes shared out by row count.
--
--   psql -X -q -t -A -v jobs='r3x%' -f tests/bench/stored_bytes.sql "$CONNINFO"
--
-- jobs: a LIKE pattern over viral_ideas_queue.session_id (completed jobs
-- only). A row's bytes are the sum of pg_column_size() of its columns (the
-- stored form: after compression, TOASTed values at their TOAST size) plus 28
-- bytes of tuple header and line pointer; page free space is not counted.
-- (pg_column_size of a whole row would count decompressed values.) Content
-- is counted for the jobs' accounts, an account shared by jobs once.
-- Prints one line, bytes per job:
-- jobs|document|results_rest|reels|scripts|analysis_indexes|content|content_indexes|total
-- (analysis_indexes: of viral_analysis_results, viral_analysis_reels and
-- viral_scripts; content_indexes: of content).
\set ON_ERROR_STOP 1
BEGIN;
CREATE TEMP TABLE m_jobs ON COMMIT DROP AS
	SELECT id, primary_username FROM viral_ideas_queue
	WHERE session_id LIKE :'jobs' AND status = 'completed';
CREATE TEMP TABLE m_runs ON COMMIT DROP AS
	SELECT r.id FROM viral_analysis_results r JOIN m_jobs j ON j.id = r.queue_id;
CREATE TEMP TABLE m_users ON COMMIT DROP AS
	SELECT primary_username AS u FROM m_jobs UNION
	SELECT c.competitor_username FROM viral_ideas_competitors c JOIN m_jobs j ON j.id = c.queue_id
	WHERE c.is_active;
-- (rows, bytes) of the rows of REL matching COND.
CREATE FUNCTION pg_temp.m_bytes(rel regclass, cond text, OUT n bigint, OUT b bigint)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE (SELECT format('SELECT count(*), COALESCE(sum(28 + %s), 0) FROM %s WHERE %s',
			string_agg(format('COALESCE(pg_column_size(%I), 0)', attname), ' + '), rel, cond)
		FROM pg_attribute WHERE attrelid = rel AND attnum > 0 AND NOT attisdropped)
		INTO n, b;
END $$;
CREATE TEMP TABLE m_t ON COMMIT DROP AS
	SELECT rel, (pg_temp.m_bytes(rel, cond)).*,
		pg_indexes_size(rel) AS idx,
		(SELECT reltuples FROM pg_class WHERE oid = rel) AS est
	FROM (VALUES ('viral_analysis_results'::regclass, 'id IN (SELECT id FROM m_runs)'),
		('viral_analysis_reels', 'analysis_id IN (SELECT id FROM m_runs)'),
		('viral_scripts', 'analysis_id IN (SELECT id FROM m_runs)'),
		('content', 'username IN (SELECT u FROM m_users)')) v(rel, cond);
-- Every table's exact row count, for the index shares.
UPDATE m_t SET est = (pg_temp.m_bytes(rel, 'true')).n;
SELECT (SELECT count(*) FROM m_jobs),
	round((SELECT COALESCE(sum(pg_column_size(analysis_data)), 0) FROM viral_analysis_results
		WHERE id IN (SELECT id FROM m_runs)) / k.n),
	round(((SELECT b FROM m_t WHERE rel = 'viral_analysis_results'::regclass)
		- (SELECT COALESCE(sum(pg_column_size(analysis_data)), 0) FROM viral_analysis_results
		WHERE id IN (SELECT id FROM m_runs))) / k.n),
	round((SELECT b FROM m_t WHERE rel = 'viral_analysis_reels'::regclass) / k.n),
	round((SELECT b FROM m_t WHERE rel = 'viral_scripts'::regclass) / k.n),
	round((SELECT sum(CASE WHEN est > 0 THEN idx * n / est ELSE 0 END) FROM m_t
		WHERE rel <> 'content'::regclass) / k.n),
	round((SELECT b FROM m_t WHERE rel = 'content'::regclass) / k.n),
	round((SELECT sum(CASE WHEN est > 0 THEN idx * n / est ELSE 0 END) FROM m_t
		WHERE rel = 'content'::regclass) / k.n),
	round(((SELECT sum(b) FROM m_t)
		+ (SELECT sum(CASE WHEN est > 0 THEN idx * n / est ELSE 0 END) FROM m_t)) / k.n)
FROM (SELECT greatest(count(*), 1)::numeric AS n FROM m_jobs) k;
COMMIT;
