-- 002: what crash-safe queueing needs, added beside the original schema
-- (new columns with defaults, new tables); nothing the original's clients
-- read changes meaning. The protocol that uses these lives in sql/queue.c.

-- Owners: one row per process boot (node + pid + process start). The id
-- comes from a sequence, so an identity is never reused even when a pid
-- is; leases name an owner, and an owner whose heartbeat is older than its
-- heartbeat_expiry (or that has stopped) holds nothing any more.
CREATE TABLE owners (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	node TEXT NOT NULL,
	pid INTEGER NOT NULL,
	role TEXT NOT NULL DEFAULT 'scheduler',
	process_started_at TIMESTAMPTZ NOT NULL,
	registered_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
	heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
	heartbeat_expiry INTERVAL NOT NULL DEFAULT '30 seconds',
	stopped_at TIMESTAMPTZ,
	UNIQUE (node, pid, process_started_at)
);

-- Batches: one row per "process pending" trigger (API, schedule, CLI).
CREATE TABLE batches (
	id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
	trigger_source VARCHAR(50) NOT NULL DEFAULT 'api',
	requested_by TEXT,
	owner_id BIGINT,
	total_jobs INTEGER NOT NULL DEFAULT 0,
	completed_jobs INTEGER NOT NULL DEFAULT 0,
	failed_jobs INTEGER NOT NULL DEFAULT 0,
	started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
	finished_at TIMESTAMPTZ
);
CREATE INDEX idx_batches_started_at ON batches (started_at DESC);

-- The job columns robustness needs.
ALTER TABLE viral_ideas_queue
	ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0,
	ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 5,
	ADD COLUMN next_attempt_at TIMESTAMPTZ,
	ADD COLUMN lease_owner BIGINT,
	ADD COLUMN lease_token UUID,
	ADD COLUMN lease_expires_at TIMESTAMPTZ,
	ADD COLUMN last_error TEXT,
	ADD COLUMN batch_id UUID REFERENCES batches (id) ON DELETE SET NULL,
	ADD COLUMN rescues INTEGER NOT NULL DEFAULT 0,
	ADD COLUMN transition_reason TEXT,
	ADD CONSTRAINT viral_ideas_queue_status_check
		CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'paused'));

-- Discovery: pending jobs in claim order, and the (few) processing rows
-- whose lease or owner may have expired. Both partial, so a million
-- finished rows cost nothing.
CREATE INDEX idx_viral_queue_claimable ON viral_ideas_queue (priority, submitted_at)
	WHERE status = 'pending';
CREATE INDEX idx_viral_queue_leases ON viral_ideas_queue (lease_expires_at)
	WHERE status = 'processing';
CREATE INDEX idx_viral_queue_batch ON viral_ideas_queue (batch_id) WHERE batch_id IS NOT NULL;

-- A hot queue: frequent small updates. Leave room on each page for HOT
-- updates (progress, lease renewals touch no indexed column) and vacuum
-- after a small fraction of the table changed, not the default 20 %.
ALTER TABLE viral_ideas_queue SET (
	fillfactor = 80,
	autovacuum_vacuum_scale_factor = 0.02,
	autovacuum_vacuum_threshold = 200,
	autovacuum_analyze_scale_factor = 0.02,
	autovacuum_vacuum_cost_delay = 1
);

ALTER TABLE viral_ideas_competitors
	ADD COLUMN processed_at TIMESTAMPTZ,
	ADD COLUMN error_message TEXT,
	ADD COLUMN created_at TIMESTAMPTZ DEFAULT NOW(),
	ADD COLUMN updated_at TIMESTAMPTZ DEFAULT NOW();
CREATE TRIGGER update_viral_competitors_updated_at BEFORE UPDATE ON viral_ideas_competitors
	FOR EACH ROW EXECUTE FUNCTION update_updated_at_column();

-- The append-only job event log: every status transition of every job,
-- whoever made it. No foreign key: history outlives a deleted job.
CREATE TABLE job_events (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job_id UUID NOT NULL,
	at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
	from_status VARCHAR(50),
	to_status VARCHAR(50) NOT NULL,
	owner_id BIGINT,
	node TEXT,
	actor TEXT,
	lease_token UUID,
	attempt INTEGER,
	reason TEXT
);
CREATE INDEX idx_job_events_job ON job_events (job_id, id);
CREATE INDEX idx_job_events_at ON job_events (at);

-- Transitions are logged by the database itself, so no writer can forget
-- and changes made by other clients (the original's tools, psql) are
-- audited too. viralsup's statements say why in transition_reason; the
-- trigger moves it into the event and clears it, so a later update by
-- anyone else shows up as "external".
CREATE FUNCTION viralsup_log_transition() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	v_node text;
BEGIN
	IF NEW.transition_reason IS NOT NULL THEN
		SELECT node INTO v_node FROM owners WHERE id = NEW.lease_owner;
		INSERT INTO job_events (job_id, from_status, to_status, owner_id, node, actor,
					lease_token, attempt, reason)
		VALUES (NEW.id, OLD.status, NEW.status, NEW.lease_owner, v_node,
			current_setting('application_name', true), NEW.lease_token, NEW.attempts, NEW.transition_reason);
		NEW.transition_reason := NULL;
	ELSE
		INSERT INTO job_events (job_id, from_status, to_status, actor, attempt, reason)
		VALUES (NEW.id, OLD.status, NEW.status,
			'external:' || COALESCE(current_setting('application_name', true), ''),
			NEW.attempts, 'external update');
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER viral_ideas_queue_log_transition BEFORE UPDATE ON viral_ideas_queue
	FOR EACH ROW
	WHEN (OLD.status IS DISTINCT FROM NEW.status OR NEW.transition_reason IS NOT NULL)
	EXECUTE FUNCTION viralsup_log_transition();

-- Inserts: log "submitted" for the whole statement in one set-based
-- insert, and wake schedulers with one NOTIFY per statement (a bulk
-- insert of 10,000 jobs sends one notification, not 10,000).
CREATE FUNCTION viralsup_jobs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO job_events (job_id, from_status, to_status, actor, attempt, reason)
	SELECT n.id, NULL, n.status,
	       'client:' || COALESCE(current_setting('application_name', true), ''),
	       n.attempts, 'submitted'
	FROM new_rows n;
	IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'pending') THEN
		PERFORM pg_notify('viralsup_jobs', 'insert');
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER viral_ideas_queue_inserted AFTER INSERT ON viral_ideas_queue
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION viralsup_jobs_inserted();

-- Re-queues (anything becoming pending): one NOTIFY per statement.
CREATE FUNCTION viralsup_jobs_requeued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
		   WHERE n.status = 'pending' AND o.status IS DISTINCT FROM 'pending') THEN
		PERFORM pg_notify('viralsup_jobs', 'requeue');
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER viral_ideas_queue_requeued AFTER UPDATE ON viral_ideas_queue
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION viralsup_jobs_requeued();

-- Cluster-wide schedules ("every 5 minutes"): whichever node inserts the
-- row for a fire time runs it; the others get a unique violation / no row.
CREATE TABLE schedule_fires (
	schedule_name TEXT NOT NULL,
	fire_at TIMESTAMPTZ NOT NULL,
	owner_id BIGINT,
	fired_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
	batch_id UUID,
	PRIMARY KEY (schedule_name, fire_at)
);

-- The original's "rerun" helper now also clears the lease and retry state
-- so a re-queued job is claimable at once.
CREATE OR REPLACE FUNCTION trigger_queue_processing(p_queue_id uuid)
	RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	UPDATE viral_ideas_queue
	SET status = 'pending', progress_percentage = 0, current_step = NULL, error_message = NULL,
	    attempts = 0, rescues = 0, next_attempt_at = NULL, lease_expires_at = NULL,
	    transition_reason = 'trigger_queue_processing'
	WHERE id = p_queue_id;
	RETURN FOUND;
END
$$;

-- Batch progress as the dashboard wants it, from the jobs themselves.
CREATE VIEW batch_summary AS
SELECT b.*,
       count(q.id) FILTER (WHERE q.status = 'pending') AS pending_now,
       count(q.id) FILTER (WHERE q.status = 'processing') AS processing_now,
       count(q.id) FILTER (WHERE q.status = 'completed') AS completed_now,
       count(q.id) FILTER (WHERE q.status = 'failed') AS failed_now
FROM batches b
LEFT JOIN viral_ideas_queue q ON q.batch_id = b.id
GROUP BY b.id;
