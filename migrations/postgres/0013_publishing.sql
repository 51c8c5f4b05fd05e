-- The publisher's claim on a target and every attempt it makes (issue 13): a lease with a
-- fence that grows with every claim, so a worker that lost its lease cannot overwrite the one
-- that holds it, and an append-only record of each attempt, written before the platform is
-- called (the intent) and again when it answers.

ALTER TABLE post_targets DROP CONSTRAINT post_targets_status_check;
ALTER TABLE post_targets ADD CONSTRAINT post_targets_status_check
    CHECK (status IN ('pending', 'publishing', 'published', 'failed', 'unknown', 'missed'));
-- Nullable columns without a default, and one with a constant default: adding them rewrites
-- nothing, so the running version goes on while this applies.
ALTER TABLE post_targets ADD COLUMN fence bigint NOT NULL DEFAULT 0;
ALTER TABLE post_targets ADD COLUMN lease_owner text;
ALTER TABLE post_targets ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE post_targets ADD COLUMN next_attempt_at timestamptz;
ALTER TABLE post_targets ADD COLUMN last_attempt_at timestamptz;
ALTER TABLE post_targets ADD COLUMN error_class text;
ALTER TABLE post_targets ADD COLUMN error_code text;
-- JSON: the ids of a thread's parts already posted, and the media uploaded or containers made
-- for this target, so a resumed attempt continues instead of starting again.
ALTER TABLE post_targets ADD COLUMN remote_ids text;
ALTER TABLE post_targets ADD COLUMN media_state text;
CREATE INDEX post_targets_claim_idx ON post_targets (status, next_attempt_at);

CREATE TABLE publish_attempts (
    workspace_id      uuid NOT NULL,
    id                uuid NOT NULL,
    post_id           uuid NOT NULL,
    channel_id        uuid NOT NULL,
    fence             bigint NOT NULL,
    attempt_no        integer NOT NULL CHECK (attempt_no >= 1),
    worker            text NOT NULL,
    -- `sending`: the intent, committed before the platform is called; `answered`: what came
    -- back (or that nothing did); `reconciled`: what a later look at the platform found.
    phase             text NOT NULL CHECK (phase IN ('sending', 'answered', 'reconciled')),
    -- The `sending` row this one answers.
    answers           uuid,
    occurred_at       timestamptz NOT NULL,
    outcome_class     text,
    http_status       integer,
    platform_code     text,
    platform_post_id  text,
    platform_request_id text,
    detail            text,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, post_id, channel_id)
        REFERENCES post_targets (workspace_id, post_id, channel_id) ON DELETE CASCADE
);
CREATE INDEX publish_attempts_target_idx ON publish_attempts (workspace_id, post_id, channel_id, fence);

-- Append-only for the application: it may add attempts and read them, never change one. Rows
-- go with their target (the cascade runs with the table owner's rights).
GRANT SELECT, INSERT ON publish_attempts TO postroute_app;

ALTER TABLE publish_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE publish_attempts FORCE ROW LEVEL SECURITY;
CREATE POLICY publish_attempts_scope ON publish_attempts
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());
