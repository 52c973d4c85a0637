-- 001: the original viral-ideas schema (SEED-SYSTEM.md section 1), kept
-- column-for-column so existing clients, dashboards and SQL keep working.
-- Differences from the original are deliberate fixes, listed in
-- docs/SCHEMA.md: one coherent set of migrations instead of conflicting
-- files, viral_queue_summary gains current_step and error_message, the
-- competitor columns the original docs promised exist, no permissive RLS.

-- UUIDs: defaults use gen_random_uuid() (core since PostgreSQL 13, needs no
-- extension and no privilege). Client SQL written for the original calls
-- uuid_generate_v4(): provide it through uuid-ossp when we may create it,
-- else as a thin wrapper, so such SQL runs unchanged either way.
DO $$
BEGIN
	BEGIN
		CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
	EXCEPTION WHEN OTHERS THEN
		IF to_regprocedure('uuid_generate_v4()') IS NULL THEN
			CREATE FUNCTION uuid_generate_v4() RETURNS uuid
				LANGUAGE sql VOLATILE AS 'SELECT gen_random_uuid()';
		END IF;
	END;
END
$$;

-- 1.1 enums
CREATE TYPE account_type AS ENUM ('Influencer', 'Theme Page', 'Business Page', 'Personal');
CREATE TYPE queue_priority AS ENUM ('HIGH', 'LOW');
CREATE TYPE queue_status AS ENUM ('PENDING', 'PROCESSING', 'COMPLETED', 'FAILED', 'PAUSED');
CREATE TYPE content_type AS ENUM ('reel', 'post', 'story');

-- 1.13 functions used by triggers, the CHECK and the view
CREATE FUNCTION update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at = NOW();
	RETURN NEW;
END
$$;

CREATE FUNCTION update_viral_queue_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at = NOW();
	RETURN NEW;
END
$$;

-- '{}' or an object whose contentType, targetAudience and goals are strings.
CREATE FUNCTION validate_content_strategy(strategy jsonb) RETURNS boolean
	LANGUAGE sql IMMUTABLE AS $$
	SELECT strategy = '{}'::jsonb
	    OR (jsonb_typeof(strategy) = 'object'
		AND jsonb_typeof(strategy -> 'contentType') = 'string'
		AND jsonb_typeof(strategy -> 'targetAudience') = 'string'
		AND jsonb_typeof(strategy -> 'goals') = 'string')
$$;

CREATE FUNCTION extract_content_strategy_field(strategy jsonb, field text) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$
	SELECT strategy ->> field
$$;

-- 1.8 primary_profiles
CREATE TABLE primary_profiles (
	id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
	username VARCHAR(255) UNIQUE NOT NULL,
	profile_name VARCHAR(255),
	bio TEXT,
	followers INTEGER DEFAULT 0,
	posts_count INTEGER DEFAULT 0,
	is_verified BOOLEAN DEFAULT FALSE,
	is_business_account BOOLEAN DEFAULT FALSE,
	profile_url VARCHAR(500),
	profile_image_url TEXT,
	profile_image_path TEXT,
	hd_profile_image_path TEXT,
	account_type account_type DEFAULT 'Personal',
	language VARCHAR(10) DEFAULT 'en',
	content_type VARCHAR(50) DEFAULT 'entertainment',
	total_reels INTEGER DEFAULT 0,
	median_views BIGINT DEFAULT 0,
	mean_views DECIMAL(12, 2) DEFAULT 0,
	std_views DECIMAL(12, 2) DEFAULT 0,
	total_views BIGINT DEFAULT 0,
	total_likes BIGINT DEFAULT 0,
	total_comments BIGINT DEFAULT 0,
	profile_primary_category VARCHAR(100),
	profile_secondary_category VARCHAR(100),
	profile_tertiary_category VARCHAR(100),
	profile_categorization_confidence DECIMAL(3, 2) DEFAULT 0.5,
	account_type_confidence DECIMAL(3, 2) DEFAULT 0.5,
	similar_account1 VARCHAR(255), similar_account2 VARCHAR(255),
	similar_account3 VARCHAR(255), similar_account4 VARCHAR(255),
	similar_account5 VARCHAR(255), similar_account6 VARCHAR(255),
	similar_account7 VARCHAR(255), similar_account8 VARCHAR(255),
	similar_account9 VARCHAR(255), similar_account10 VARCHAR(255),
	similar_account11 VARCHAR(255), similar_account12 VARCHAR(255),
	similar_account13 VARCHAR(255), similar_account14 VARCHAR(255),
	similar_account15 VARCHAR(255), similar_account16 VARCHAR(255),
	similar_account17 VARCHAR(255), similar_account18 VARCHAR(255),
	similar_account19 VARCHAR(255), similar_account20 VARCHAR(255),
	last_full_scrape TIMESTAMPTZ,
	analysis_timestamp TIMESTAMPTZ,
	created_at TIMESTAMPTZ DEFAULT NOW(),
	updated_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX idx_primary_profiles_username ON primary_profiles (username);
CREATE INDEX idx_primary_profiles_account_type ON primary_profiles (account_type);
CREATE INDEX idx_primary_profiles_followers ON primary_profiles (followers);
CREATE INDEX idx_primary_profiles_median_views ON primary_profiles (median_views);
CREATE INDEX idx_primary_profiles_created_at ON primary_profiles (created_at);
CREATE TRIGGER update_primary_profiles_updated_at BEFORE UPDATE ON primary_profiles
	FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

CREATE VIEW primary_profile_stats AS
SELECT count(*) AS total_profiles,
       count(*) FILTER (WHERE is_verified) AS verified_profiles,
       avg(followers) AS avg_followers,
       avg(median_views) AS avg_median_views,
       sum(total_reels) AS total_reels
FROM primary_profiles;

-- 1.9 secondary_profiles (the pipeline reads it; kept for compatibility)
CREATE TABLE secondary_profiles (
	id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
	username VARCHAR(255) UNIQUE NOT NULL,
	full_name VARCHAR(255),
	biography TEXT,
	followers_count INTEGER DEFAULT 0,
	following_count INTEGER DEFAULT 0,
	media_count INTEGER DEFAULT 0,
	profile_pic_url TEXT,
	profile_pic_path TEXT,
	is_verified BOOLEAN DEFAULT FALSE,
	is_private BOOLEAN DEFAULT FALSE,
	category VARCHAR(100),
	estimated_account_type account_type,
	primary_category VARCHAR(100),
	secondary_category VARCHAR(100),
	tertiary_category VARCHAR(100),
	categorization_confidence DECIMAL(3, 2) DEFAULT 0.5,
	account_type_confidence DECIMAL(3, 2) DEFAULT 0.5,
	discovered_by VARCHAR(255),
	discovery_reason VARCHAR(100),
	api_source VARCHAR(50),
	similarity_rank INTEGER DEFAULT 0,
	last_basic_scrape TIMESTAMPTZ,
	last_full_scrape TIMESTAMPTZ,
	discovered_by_id UUID REFERENCES primary_profiles (id) ON DELETE SET NULL,
	created_at TIMESTAMPTZ DEFAULT NOW(),
	updated_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX idx_secondary_profiles_username ON secondary_profiles (username);
CREATE TRIGGER update_secondary_profiles_updated_at BEFORE UPDATE ON secondary_profiles
	FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- 1.7 content (with the transcript columns the viral pipeline added)
CREATE TABLE content (
	id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
	content_id VARCHAR(255) UNIQUE NOT NULL,
	shortcode VARCHAR(255) UNIQUE NOT NULL,
	content_type content_type DEFAULT 'reel',
	url TEXT,
	description TEXT,
	thumbnail_url TEXT,
	thumbnail_path TEXT,
	display_url_path TEXT,
	video_thumbnail_path TEXT,
	view_count BIGINT DEFAULT 0,
	like_count BIGINT DEFAULT 0,
	comment_count BIGINT DEFAULT 0,
	outlier_score DECIMAL(10, 4) DEFAULT 0,
	date_posted TIMESTAMPTZ,
	username VARCHAR(255) NOT NULL,
	language VARCHAR(10) DEFAULT 'en',
	content_style VARCHAR(50) DEFAULT 'video',
	primary_category VARCHAR(100),
	secondary_category VARCHAR(100),
	tertiary_category VARCHAR(100),
	categorization_confidence DECIMAL(3, 2) DEFAULT 0.5,
	keyword_1 VARCHAR(100),
	keyword_2 VARCHAR(100),
	keyword_3 VARCHAR(100),
	keyword_4 VARCHAR(100),
	all_image_urls JSONB DEFAULT '{}',
	created_at TIMESTAMPTZ DEFAULT NOW(),
	updated_at TIMESTAMPTZ DEFAULT NOW(),
	profile_id UUID REFERENCES primary_profiles (id) ON DELETE CASCADE,
	transcript JSONB,
	transcript_language VARCHAR(10),
	transcript_fetched_at TIMESTAMPTZ,
	transcript_available BOOLEAN DEFAULT FALSE
);
CREATE INDEX idx_content_username ON content (username);
CREATE INDEX idx_content_profile_id ON content (profile_id);
CREATE INDEX idx_content_shortcode ON content (shortcode);
CREATE INDEX idx_content_view_count ON content (view_count);
CREATE INDEX idx_content_primary_category ON content (primary_category);
CREATE INDEX idx_content_date_posted ON content (date_posted);
CREATE INDEX idx_content_created_at ON content (created_at);
CREATE INDEX idx_content_transcript_available ON content (transcript_available)
	WHERE transcript_available = TRUE;
CREATE INDEX idx_content_transcript_fetched_at ON content (transcript_fetched_at DESC)
	WHERE transcript_fetched_at IS NOT NULL;
CREATE TRIGGER update_content_updated_at BEFORE UPDATE ON content
	FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- 1.2 viral_ideas_queue
CREATE TABLE viral_ideas_queue (
	id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
	session_id VARCHAR(255) NOT NULL UNIQUE,
	primary_username VARCHAR(255) NOT NULL,
	content_strategy JSONB DEFAULT '{}',
	analysis_settings JSONB DEFAULT '{}',
	status VARCHAR(50) DEFAULT 'pending',
	priority INTEGER DEFAULT 5,
	current_step VARCHAR(100),
	progress_percentage INTEGER DEFAULT 0,
	error_message TEXT,
	auto_rerun_enabled BOOLEAN DEFAULT TRUE,
	rerun_frequency_hours INTEGER DEFAULT 24,
	next_scheduled_run TIMESTAMPTZ,
	total_runs INTEGER DEFAULT 0,
	submitted_at TIMESTAMPTZ DEFAULT NOW(),
	started_processing_at TIMESTAMPTZ,
	completed_at TIMESTAMPTZ,
	last_analysis_at TIMESTAMPTZ,
	created_at TIMESTAMPTZ DEFAULT NOW(),
	updated_at TIMESTAMPTZ DEFAULT NOW(),
	last_reel_fetch_at TIMESTAMPTZ,
	last_discovery_fetch_at TIMESTAMPTZ,
	CONSTRAINT check_valid_content_strategy CHECK (validate_content_strategy(content_strategy))
);
CREATE INDEX idx_viral_queue_session_id ON viral_ideas_queue (session_id);
CREATE INDEX idx_viral_queue_primary_username ON viral_ideas_queue (primary_username);
CREATE INDEX idx_viral_queue_status ON viral_ideas_queue (status);
CREATE INDEX idx_viral_queue_priority ON viral_ideas_queue (priority);
CREATE INDEX idx_viral_queue_submitted_at ON viral_ideas_queue (submitted_at DESC);
CREATE INDEX idx_viral_queue_next_run ON viral_ideas_queue (next_scheduled_run)
	WHERE auto_rerun_enabled = TRUE;
CREATE INDEX idx_viral_queue_auto_rerun ON viral_ideas_queue (auto_rerun_enabled, next_scheduled_run);
CREATE TRIGGER viral_ideas_queue_updated_at BEFORE UPDATE ON viral_ideas_queue
	FOR EACH ROW EXECUTE FUNCTION update_viral_queue_updated_at();

-- 1.3 viral_ideas_competitors (with the columns the original's docs listed)
CREATE TABLE viral_ideas_competitors (
	id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
	queue_id UUID REFERENCES viral_ideas_queue (id) ON DELETE CASCADE,
	competitor_username VARCHAR(255) NOT NULL,
	selection_method VARCHAR(50) DEFAULT 'suggested',
	is_active BOOLEAN DEFAULT TRUE,
	processing_status VARCHAR(50) DEFAULT 'pending',
	added_at TIMESTAMPTZ DEFAULT NOW(),
	removed_at TIMESTAMPTZ,
	UNIQUE (queue_id, competitor_username)
);
CREATE INDEX idx_viral_competitors_queue_id ON viral_ideas_competitors (queue_id);
CREATE INDEX idx_viral_competitors_username ON viral_ideas_competitors (competitor_username);
CREATE INDEX idx_viral_competitors_active ON viral_ideas_competitors (is_active)
	WHERE is_active = TRUE;

-- 1.4 viral_analysis_results (final intended shape, legacy columns dropped)
CREATE TABLE viral_analysis_results (
	id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
	queue_id UUID NOT NULL REFERENCES viral_ideas_queue (id) ON DELETE CASCADE,
	analysis_run INTEGER DEFAULT 1,
	analysis_type VARCHAR(50) DEFAULT 'initial',
	total_reels_analyzed INTEGER DEFAULT 0,
	primary_reels_count INTEGER DEFAULT 0,
	competitor_reels_count INTEGER DEFAULT 0,
	transcripts_fetched INTEGER DEFAULT 0,
	status VARCHAR(50) DEFAULT 'pending',
	error_message TEXT,
	started_at TIMESTAMPTZ DEFAULT NOW(),
	transcripts_completed_at TIMESTAMPTZ,
	analysis_completed_at TIMESTAMPTZ,
	created_at TIMESTAMPTZ DEFAULT NOW(),
	updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
	analysis_data JSONB DEFAULT '{}',
	workflow_version VARCHAR(50) DEFAULT 'v2_json',
	UNIQUE (queue_id, analysis_run)
);
CREATE INDEX idx_viral_results_queue_run ON viral_analysis_results (queue_id, analysis_run DESC);
CREATE INDEX idx_viral_results_status ON viral_analysis_results (status, started_at DESC);
CREATE INDEX idx_viral_results_analysis_data ON viral_analysis_results USING GIN (analysis_data);
CREATE INDEX idx_viral_results_workflow_version ON viral_analysis_results (workflow_version);
CREATE INDEX idx_viral_results_updated_at ON viral_analysis_results (updated_at);
CREATE INDEX idx_viral_results_generated_hooks ON viral_analysis_results
	USING GIN ((analysis_data -> 'generated_hooks'));
CREATE INDEX idx_viral_results_profile_analysis ON viral_analysis_results
	USING GIN ((analysis_data -> 'profile_analysis'));

-- 1.5 viral_analysis_reels
CREATE TABLE viral_analysis_reels (
	id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
	analysis_id UUID NOT NULL REFERENCES viral_analysis_results (id) ON DELETE CASCADE,
	content_id VARCHAR(255) NOT NULL,
	reel_type VARCHAR(20) NOT NULL,
	username VARCHAR(255) NOT NULL,
	selection_reason VARCHAR(100),
	rank_in_selection INTEGER DEFAULT 0,
	view_count_at_analysis BIGINT DEFAULT 0,
	like_count_at_analysis BIGINT DEFAULT 0,
	comment_count_at_analysis BIGINT DEFAULT 0,
	outlier_score_at_analysis NUMERIC DEFAULT 0,
	transcript_requested BOOLEAN DEFAULT FALSE,
	transcript_completed BOOLEAN DEFAULT FALSE,
	transcript_error TEXT,
	hook_text TEXT,
	power_words JSONB,
	analysis_metadata JSONB DEFAULT '{}',
	selected_at TIMESTAMPTZ DEFAULT NOW(),
	transcript_fetched_at TIMESTAMPTZ,
	UNIQUE (analysis_id, content_id)
);
CREATE INDEX idx_viral_reels_analysis ON viral_analysis_reels
	(analysis_id, reel_type, rank_in_selection);
CREATE INDEX idx_viral_reels_transcript ON viral_analysis_reels
	(transcript_completed, transcript_fetched_at DESC) WHERE transcript_completed = TRUE;
CREATE INDEX idx_viral_reels_metadata ON viral_analysis_reels USING GIN (analysis_metadata);

-- 1.6 viral_scripts
CREATE TABLE viral_scripts (
	id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
	analysis_id UUID NOT NULL REFERENCES viral_analysis_results (id) ON DELETE CASCADE,
	script_title VARCHAR(255) NOT NULL,
	script_content TEXT NOT NULL,
	script_type VARCHAR(50) DEFAULT 'reel',
	estimated_duration INTEGER,
	target_audience VARCHAR(255),
	primary_hook TEXT,
	call_to_action TEXT,
	source_reels JSONB,
	script_structure JSONB,
	generation_prompt TEXT,
	ai_model VARCHAR(100),
	generation_temperature NUMERIC,
	status VARCHAR(50) DEFAULT 'draft',
	created_at TIMESTAMPTZ DEFAULT NOW(),
	updated_at TIMESTAMPTZ DEFAULT NOW(),
	hook_metadata JSONB DEFAULT '{}',
	voice_analysis JSONB DEFAULT '{}'
);
CREATE INDEX idx_viral_scripts_analysis ON viral_scripts (analysis_id, status);
CREATE INDEX idx_viral_scripts_type ON viral_scripts (script_type, created_at DESC);
CREATE INDEX idx_viral_scripts_hook_metadata ON viral_scripts USING GIN (hook_metadata);

-- 1.12 viral_queue_summary: the original's columns, plus current_step and
-- error_message that its own dashboard query selects (bug 25).
CREATE VIEW viral_queue_summary AS
SELECT q.id,
       q.session_id,
       q.primary_username,
       q.status,
       q.priority,
       q.progress_percentage,
       q.auto_rerun_enabled,
       q.rerun_frequency_hours,
       q.last_analysis_at,
       q.next_scheduled_run,
       q.total_runs,
       q.submitted_at,
       q.started_processing_at,
       q.completed_at,
       extract_content_strategy_field(q.content_strategy, 'contentType') AS content_type,
       extract_content_strategy_field(q.content_strategy, 'targetAudience') AS target_audience,
       extract_content_strategy_field(q.content_strategy, 'goals') AS main_goals,
       q.content_strategy AS full_content_strategy,
       count(c.id) FILTER (WHERE c.is_active = TRUE) AS active_competitors_count,
       count(c.id) AS total_competitors_count,
       q.current_step,
       q.error_message
FROM viral_ideas_queue q
LEFT JOIN viral_ideas_competitors c ON c.queue_id = q.id
GROUP BY q.id;

-- 1.13 manual helpers
CREATE FUNCTION create_viral_queue_item(p_session_id text, p_primary_username text,
					p_competitors text[], p_content_strategy jsonb DEFAULT '{}',
					p_priority integer DEFAULT 5)
	RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
	qid uuid;
BEGIN
	INSERT INTO viral_ideas_queue (session_id, primary_username, content_strategy, priority, status)
	VALUES (p_session_id, p_primary_username, COALESCE(p_content_strategy, '{}'), p_priority, 'pending')
	RETURNING id INTO qid;
	INSERT INTO viral_ideas_competitors (queue_id, competitor_username, selection_method)
	SELECT qid, u, 'manual' FROM unnest(COALESCE(p_competitors, '{}')) AS u
	ON CONFLICT (queue_id, competitor_username) DO NOTHING;
	RETURN qid;
END
$$;

CREATE FUNCTION add_competitor_to_queue(p_queue_id uuid, p_competitor_username text)
	RETURNS uuid LANGUAGE plpgsql AS $$
DECLARE
	cid uuid;
BEGIN
	INSERT INTO viral_ideas_competitors (queue_id, competitor_username, selection_method)
	VALUES (p_queue_id, p_competitor_username, 'manual')
	ON CONFLICT (queue_id, competitor_username)
	DO UPDATE SET is_active = TRUE, removed_at = NULL
	RETURNING id INTO cid;
	RETURN cid;
END
$$;

CREATE FUNCTION remove_competitor_from_queue(p_queue_id uuid, p_competitor_username text)
	RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	UPDATE viral_ideas_competitors SET is_active = FALSE, removed_at = NOW()
	WHERE queue_id = p_queue_id AND competitor_username = p_competitor_username;
	RETURN FOUND;
END
$$;

CREATE FUNCTION trigger_queue_processing(p_queue_id uuid)
	RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	UPDATE viral_ideas_queue
	SET status = 'pending', progress_percentage = 0, current_step = NULL, error_message = NULL
	WHERE id = p_queue_id;
	RETURN FOUND;
END
$$;
