-- Single-use email tokens (verification, password reset) and the transactional email outbox.

CREATE TABLE email_tokens (
    -- SHA-256 of the token; the token itself travels only in the email.
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX email_tokens_user_id_purpose_idx ON email_tokens (user_id, purpose);

-- Written in the same transaction as the action that causes the email; delivered by the worker.
CREATE TABLE email_outbox (
    id                   uuid PRIMARY KEY,
    user_id              uuid REFERENCES users (id) ON DELETE CASCADE,
    to_address           text NOT NULL,
    template             text NOT NULL,
    subject              text NOT NULL,
    -- The text and HTML bodies, sealed with AES-256-GCM: they carry single-use links.
    -- Cleared once the message is sent or given up on.
    sealed_body          bytea,
    created_at           timestamptz NOT NULL,
    next_attempt_at      timestamptz NOT NULL,
    attempts             integer NOT NULL DEFAULT 0,
    -- A worker that claimed the message owns it until then; a crashed worker's claim lapses.
    locked_until         timestamptz,
    sent_at              timestamptz,
    failed_at            timestamptz,
    last_error           text,
    provider_message_id  text
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX email_outbox_user_id_idx ON email_outbox (user_id);
