-- Accounts, device sessions, refresh tokens and the staff-only system event log.
-- Timestamps are written by the application (one clock, testable), never by now().

CREATE TABLE users (
    id                 uuid PRIMARY KEY,
    -- As the user typed it, for display and for sending mail.
    email              text NOT NULL,
    -- Lower-cased, NFC-normalised: the lookup key, unique across accounts.
    email_normalized   text NOT NULL,
    name               text NOT NULL,
    password_hash      text NOT NULL,
    email_verified_at  timestamptz,
    is_staff           boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT users_email_normalized_key UNIQUE (email_normalized)
);

CREATE TABLE sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent      text,
    ip              text,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- Every refresh token ever issued, so that a rotated one is recognised when it comes back.
CREATE TABLE refresh_tokens (
    -- SHA-256 of the token; the token itself is never stored.
    token_hash   bytea PRIMARY KEY,
    session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at    timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    rotated_at   timestamptz
);
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

CREATE TABLE system_events (
    id             uuid PRIMARY KEY,
    occurred_at    timestamptz NOT NULL,
    event_type     text NOT NULL,
    severity       text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    security       boolean NOT NULL,
    -- Kept when the user is erased: the event stays, the link to the person goes.
    actor_user_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    ip             text,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX system_events_occurred_at_idx ON system_events (occurred_at);
CREATE INDEX system_events_type_occurred_at_idx ON system_events (event_type, occurred_at);
CREATE INDEX system_events_actor_user_id_idx ON system_events (actor_user_id);
