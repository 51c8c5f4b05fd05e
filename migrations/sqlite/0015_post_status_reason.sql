-- The SQLite twin of migrations/postgres/0015_post_status_reason.sql.
ALTER TABLE posts ADD COLUMN status_reason TEXT;
