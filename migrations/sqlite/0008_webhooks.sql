-- Webhook deliveries. The SQLite twin of migrations/postgres/0008_webhooks.sql.
CREATE TABLE webhook_events (
    provider      TEXT NOT NULL CHECK (provider IN ('stripe', 'meta', 'x')),
    event_id      TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    payload       TEXT NOT NULL,
    processed_at  TEXT,
    PRIMARY KEY (provider, event_id)
) STRICT;
CREATE INDEX webhook_events_unprocessed_idx ON webhook_events (received_at) WHERE processed_at IS NULL;
