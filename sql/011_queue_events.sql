-- 011: the queue's hot statements log their own transitions. 002's row
-- trigger ran an INSERT into job_events (and a lookup in owners) for every
-- row a claim or completion moved: 32 inserts for a claim of 32 jobs. The
-- claim and the completion (sql/queue.c) now insert their events in one
-- set-based INSERT in the same statement and mark the row with the reason
-- 'logged'; the trigger then only clears the mark. Every other writer is
-- logged as before: viralsup's rarer statements (release, fail, rescue,
-- admin actions) by the trigger with their reason, anyone else as an
-- external update. Measurements: docs/PERFORMANCE.md, "Queue statements".
CREATE OR REPLACE FUNCTION viralsup_log_transition() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	v_node text;
BEGIN
	IF NEW.transition_reason = 'logged' THEN
		NULL; -- the statement inserted this transition's event itself
	ELSIF NEW.transition_reason IS NOT NULL THEN
		SELECT node INTO v_node FROM owners WHERE id = NEW.lease_owner;
		INSERT INTO job_events (job_id, from_status, to_status, owner_id, node, actor,
					lease_token, attempt, reason)
		VALUES (NEW.id, OLD.status, NEW.status, NEW.lease_owner, v_node,
			current_setting('application_name', true), NEW.lease_token, NEW.attempts, NEW.transition_reason);
	ELSE
		INSERT INTO job_events (job_id, from_status, to_status, actor, attempt, reason)
		VALUES (NEW.id, OLD.status, NEW.status,
			'external:' || COALESCE(current_setting('application_name', true), ''),
			NEW.attempts, 'external update');
	END IF;
	NEW.transition_reason := NULL;
	RETURN NEW;
END
$$;

-- Every status transition moves the job row to a new version (status is
-- indexed, so no HOT update) and inserts into every index of the table.
-- Three of them serve no query: idx_viral_queue_session_id repeats the
-- UNIQUE (session_id) constraint's index, and next_scheduled_run is never
-- read by the original's code (SEED-SYSTEM.md) while viralsup finds due
-- re-runs through 003's idx_viral_queue_rerun_due.
DROP INDEX IF EXISTS idx_viral_queue_session_id;
DROP INDEX IF EXISTS idx_viral_queue_next_run;
DROP INDEX IF EXISTS idx_viral_queue_auto_rerun;
