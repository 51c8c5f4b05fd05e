-- When a post's current content was approved (null: never, or edited since). A workspace that
-- starts requiring approval sends its scheduled posts without one back to draft, and a post is
-- scheduled there only with one.
ALTER TABLE posts ADD COLUMN approved_at timestamptz;
