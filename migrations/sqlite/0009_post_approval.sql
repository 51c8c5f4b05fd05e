-- The SQLite twin of migrations/postgres/0009_post_approval.sql.
ALTER TABLE posts ADD COLUMN approved_at TEXT;
