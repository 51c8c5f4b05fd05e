-- What the publisher does beyond one call (issue 13): reconciliation of unknown targets, the
-- report of every outcome (audit entry, and an email for an incident), a channel blocked by
-- its platform's rate limit, and a provider paused for the whole deployment.

-- Looks at the platform made for an unknown target, and whether the one retry that proof of
-- absence allows was spent.
ALTER TABLE post_targets ADD COLUMN reconcile_looks integer NOT NULL DEFAULT 0;
ALTER TABLE post_targets ADD COLUMN absence_retried boolean NOT NULL DEFAULT false;
-- Set by every write that gives a target an outcome people must hear of (published, failed,
-- missed, unknown once a person must decide); cleared when the audit entry and any email are
-- written, in the same transaction.
ALTER TABLE post_targets ADD COLUMN needs_report boolean NOT NULL DEFAULT false;
CREATE INDEX post_targets_report_idx ON post_targets (workspace_id, post_id) WHERE needs_report;

-- A platform's rate limit is per account: nothing else is claimed on the channel before then.
ALTER TABLE channels ADD COLUMN publish_blocked_until timestamptz;

-- A provider's publishing paused for every workspace (X's 402: the app's credits are spent).
CREATE TABLE provider_pauses (
    provider     text PRIMARY KEY,
    paused_until timestamptz NOT NULL,
    paused_at    timestamptz NOT NULL,
    reason       text NOT NULL
);
GRANT SELECT, INSERT, UPDATE, DELETE ON provider_pauses TO postroute_app;
