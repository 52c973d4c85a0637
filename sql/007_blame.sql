-- 007: blame only the guilty. A job whose unit was in a worker that died
-- while other jobs' units were there too is only suspected: it is marked
-- here (so a restarted scheduler, or another node, knows) and from then on
-- runs alone, where a death is certainly its own and counts as a strike
-- (rescues). Reclaims after a scheduler, node or database loss never count.
ALTER TABLE viral_ideas_queue ADD COLUMN crash_suspect BOOLEAN NOT NULL DEFAULT false;
