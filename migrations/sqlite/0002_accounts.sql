-- Single-use email tokens (verification, password reset) and the transactional email outbox.
-- The SQLite twin of migrations/postgres/0002_accounts.sql.

CREATE TABLE email_tokens (
    token_hash  BLOB PRIMARY KEY NOT NULL,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
) STRICT;
CREATE INDEX email_tokens_user_id_purpose_idx ON email_tokens (user_id, purpose);

CREATE TABLE email_outbox (
    id                   BLOB PRIMARY KEY NOT NULL,
    user_id              BLOB REFERENCES users (id) ON DELETE CASCADE,
    to_address           TEXT NOT NULL,
    template             TEXT NOT NULL,
    subject              TEXT NOT NULL,
    sealed_body          BLOB,
    created_at           TEXT NOT NULL,
    next_attempt_at      TEXT NOT NULL,
    attempts             INTEGER NOT NULL DEFAULT 0,
    locked_until         TEXT,
    sent_at              TEXT,
    failed_at            TEXT,
    last_error           TEXT,
    provider_message_id  TEXT
) STRICT;
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX email_outbox_user_id_idx ON email_outbox (user_id);
