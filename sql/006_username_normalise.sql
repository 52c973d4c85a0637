-- 006: usernames are normalised wherever a job enters the database.
-- The gateway normalises what it inserts, but other writers do not (the
-- original's create_viral_queue_item / add_competitor_to_queue, scripts,
-- psql): a job for ' @Alice' was fetched and stored as 'alice' by the
-- fetcher while every later lookup used 'Alice', so the run found no reels
-- and no profile. Normalising in the database covers every writer, and the
-- scheduler, analyzer and results page need no change.
-- (007, not 006: 006 is reserved by another branch; the numbers need not
-- be contiguous.)

-- Instagram names are case-insensitive; '@' is how people write them.
CREATE FUNCTION viralsup_username_normalise(name text) RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	AS $$ SELECT lower(btrim(regexp_replace(btrim(name), '^@', ''))) $$;

CREATE FUNCTION viralsup_queue_username_normalise() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	NEW.primary_username := viralsup_username_normalise(NEW.primary_username);
	RETURN NEW;
END
$$;

CREATE FUNCTION viralsup_competitor_username_normalise() RETURNS trigger
	LANGUAGE plpgsql AS $$
BEGIN
	NEW.competitor_username := viralsup_username_normalise(NEW.competitor_username);
	RETURN NEW;
END
$$;

-- BEFORE: the unique key (queue_id, competitor_username) and ON CONFLICT
-- see the normalised name, so '@Bob' and 'bob' in one job are one
-- competitor. UPDATE OF the name column only: the scheduler's frequent
-- updates of other columns do not fire it.
CREATE TRIGGER viral_ideas_queue_username_normalise
	BEFORE INSERT OR UPDATE OF primary_username ON viral_ideas_queue
	FOR EACH ROW EXECUTE FUNCTION viralsup_queue_username_normalise();
CREATE TRIGGER viral_ideas_competitors_username_normalise
	BEFORE INSERT OR UPDATE OF competitor_username ON viral_ideas_competitors
	FOR EACH ROW EXECUTE FUNCTION viralsup_competitor_username_normalise();

-- Rows already there. Competitors that become duplicates within a job
-- keep one row: the active one, else the one already normalised.
DELETE FROM viral_ideas_competitors c
WHERE EXISTS (
	SELECT 1 FROM viral_ideas_competitors d
	WHERE d.queue_id = c.queue_id AND d.id <> c.id
	  AND viralsup_username_normalise(d.competitor_username)
	      = viralsup_username_normalise(c.competitor_username)
	  AND (d.is_active, d.competitor_username = viralsup_username_normalise(d.competitor_username),
	       d.id::text)
	      > (c.is_active, c.competitor_username = viralsup_username_normalise(c.competitor_username),
	         c.id::text));
UPDATE viral_ideas_competitors SET competitor_username = competitor_username
WHERE competitor_username <> viralsup_username_normalise(competitor_username);
UPDATE viral_ideas_queue SET primary_username = primary_username
WHERE primary_username <> viralsup_username_normalise(primary_username);

-- The original's helper compared the name as given: match it normalised.
CREATE OR REPLACE FUNCTION remove_competitor_from_queue(p_queue_id uuid,
							p_competitor_username text)
	RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	UPDATE viral_ideas_competitors SET is_active = FALSE, removed_at = NOW()
	WHERE queue_id = p_queue_id
	  AND competitor_username = viralsup_username_normalise(p_competitor_username);
	RETURN FOUND;
END
$$;
