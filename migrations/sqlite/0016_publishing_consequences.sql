-- The SQLite twin of migrations/postgres/0016_publishing_consequences.sql.
ALTER TABLE post_targets ADD COLUMN reconcile_looks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE post_targets ADD COLUMN absence_retried INTEGER NOT NULL DEFAULT 0;
ALTER TABLE post_targets ADD COLUMN needs_report INTEGER NOT NULL DEFAULT 0;
CREATE INDEX post_targets_report_idx ON post_targets (workspace_id, post_id) WHERE needs_report;

ALTER TABLE channels ADD COLUMN publish_blocked_until TEXT;

CREATE TABLE provider_pauses (
    provider     TEXT PRIMARY KEY,
    paused_until TEXT NOT NULL,
    paused_at    TEXT NOT NULL,
    reason       TEXT NOT NULL
);
