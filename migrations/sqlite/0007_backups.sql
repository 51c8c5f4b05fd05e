-- The SQLite twin of migrations/postgres/0007_backups.sql: SQLite has no roles or row-level
-- security, so there is nothing to change; the file keeps both histories at the same version.
SELECT 1;
