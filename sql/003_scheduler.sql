-- 003: what the scheduler's periodic and admin work reads. Newest
-- completions (for "last processed at" and job duration estimates) come
-- from a partial index, so a million finished rows are not scanned.
CREATE INDEX idx_viral_queue_completed_at ON viral_ideas_queue (completed_at DESC)
	WHERE status = 'completed';
-- Due auto re-runs, in due order.
CREATE INDEX idx_viral_queue_rerun_due ON viral_ideas_queue (next_scheduled_run)
	WHERE status = 'completed' AND auto_rerun_enabled;
-- Newest stored reel per account, for incremental fetches.
CREATE INDEX idx_content_username_date ON content (username, date_posted DESC);
