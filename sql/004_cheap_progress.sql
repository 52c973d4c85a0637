-- 004: progress updates are the most frequent statement on the queue
-- table; they must not pay for the requeue notification. 002's
-- statement-level trigger built transition tables for every UPDATE. This
-- row-level one runs only when status becomes 'pending' (its WHEN clause
-- is evaluated without calling any function), and NOTIFY folds identical
-- notifications within one transaction into one, so a bulk requeue still
-- wakes schedulers once.
DROP TRIGGER viral_ideas_queue_requeued ON viral_ideas_queue;
DROP FUNCTION viralsup_jobs_requeued();
CREATE FUNCTION viralsup_job_requeued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('viralsup_jobs', 'requeue');
	RETURN NULL;
END
$$;
CREATE TRIGGER viral_ideas_queue_requeued AFTER UPDATE OF status ON viral_ideas_queue
	FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status IS DISTINCT FROM 'pending')
	EXECUTE FUNCTION viralsup_job_requeued();
