-- 008: content carries the indexes a query uses, once (docs/SCHEMA.md, "Content
-- indexes"). Every index costs every content upsert of the pipeline.
--   idx_content_shortcode duplicates the UNIQUE (shortcode) constraint's index;
--   idx_content_username is the leading column of idx_content_username_date
--   (migration 003), which serves every username lookup of ours and of the
--   original's readers.
DROP INDEX IF EXISTS idx_content_shortcode;
DROP INDEX IF EXISTS idx_content_username;
