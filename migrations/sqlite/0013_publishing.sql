-- The SQLite twin of migrations/postgres/0013_publishing.sql. SQLite cannot change a CHECK
-- constraint, so post_targets is rebuilt with its new status and columns; nothing references
-- it yet, and its rows are copied as they are.
CREATE TABLE post_targets_rebuilt (
    workspace_id      BLOB NOT NULL,
    post_id           BLOB NOT NULL,
    channel_id        BLOB NOT NULL,
    position          INTEGER NOT NULL CHECK (position >= 0),
    status            TEXT NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'publishing', 'published', 'failed', 'unknown',
                                            'missed')),
    platform_post_id  TEXT,
    url               TEXT,
    error             TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    published_at      TEXT,
    fence             INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    next_attempt_at   TEXT,
    last_attempt_at   TEXT,
    error_class       TEXT,
    error_code        TEXT,
    remote_ids        TEXT,
    media_state       TEXT,
    PRIMARY KEY (workspace_id, post_id, channel_id),
    FOREIGN KEY (workspace_id, post_id) REFERENCES posts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id)
) STRICT;
INSERT INTO post_targets_rebuilt (workspace_id, post_id, channel_id, position, status,
                                  platform_post_id, url, error, attempts, published_at)
    SELECT workspace_id, post_id, channel_id, position, status, platform_post_id, url, error,
           attempts, published_at
    FROM post_targets;
DROP TABLE post_targets;
ALTER TABLE post_targets_rebuilt RENAME TO post_targets;
CREATE INDEX post_targets_channel_idx ON post_targets (workspace_id, channel_id);
CREATE INDEX post_targets_claim_idx ON post_targets (status, next_attempt_at);

CREATE TABLE publish_attempts (
    workspace_id      BLOB NOT NULL,
    id                BLOB NOT NULL,
    post_id           BLOB NOT NULL,
    channel_id        BLOB NOT NULL,
    fence             INTEGER NOT NULL,
    attempt_no        INTEGER NOT NULL CHECK (attempt_no >= 1),
    worker            TEXT NOT NULL,
    phase             TEXT NOT NULL CHECK (phase IN ('sending', 'answered', 'reconciled')),
    answers           BLOB,
    occurred_at       TEXT NOT NULL,
    outcome_class     TEXT,
    http_status       INTEGER,
    platform_code     TEXT,
    platform_post_id  TEXT,
    platform_request_id TEXT,
    detail            TEXT,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, post_id, channel_id)
        REFERENCES post_targets (workspace_id, post_id, channel_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX publish_attempts_target_idx ON publish_attempts (workspace_id, post_id, channel_id, fence);

-- Append-only, as the application role's privileges make it on PostgreSQL: attempts are never
-- changed, and go only with their target.
CREATE TRIGGER publish_attempts_no_update BEFORE UPDATE ON publish_attempts
BEGIN
    SELECT RAISE(ABORT, 'publish_attempts is append-only');
END;
CREATE TRIGGER publish_attempts_no_delete BEFORE DELETE ON publish_attempts
    WHEN EXISTS (SELECT 1 FROM post_targets
                 WHERE workspace_id = OLD.workspace_id AND post_id = OLD.post_id
                   AND channel_id = OLD.channel_id)
BEGIN
    SELECT RAISE(ABORT, 'publish_attempts is append-only');
END;
