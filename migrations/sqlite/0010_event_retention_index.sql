-- The SQLite twin of migrations/postgres/0010_event_retention_index.sql.
CREATE INDEX system_events_ordinary_occurred_at_idx ON system_events (occurred_at) WHERE NOT security;
