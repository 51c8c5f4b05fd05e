-- Webhook deliveries that passed their signature check, one row per provider event: a replayed
-- or re-delivered event finds its row and is acknowledged without being processed twice.
CREATE TABLE webhook_events (
    provider      text NOT NULL CHECK (provider IN ('stripe', 'meta', 'x')),
    event_id      text NOT NULL,
    received_at   timestamptz NOT NULL,
    payload       jsonb NOT NULL,
    processed_at  timestamptz,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX webhook_events_unprocessed_idx ON webhook_events (received_at) WHERE processed_at IS NULL;

GRANT SELECT, INSERT, UPDATE ON webhook_events TO postroute_app;
