-- Accounts, device sessions, refresh tokens and the staff-only system event log.
-- The SQLite twin of migrations/postgres/0001_foundation.sql: uuids are 16-byte blobs,
-- timestamps RFC 3339 text in UTC, booleans 0/1, JSON text.

CREATE TABLE users (
    id                 BLOB PRIMARY KEY NOT NULL,
    email              TEXT NOT NULL,
    email_normalized   TEXT NOT NULL,
    name               TEXT NOT NULL,
    password_hash      TEXT NOT NULL,
    email_verified_at  TEXT,
    is_staff           INTEGER NOT NULL DEFAULT 0 CHECK (is_staff IN (0, 1)),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    CONSTRAINT users_email_normalized_key UNIQUE (email_normalized)
) STRICT;

CREATE TABLE sessions (
    id              BLOB PRIMARY KEY NOT NULL,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent      TEXT,
    ip              TEXT,
    created_at      TEXT NOT NULL,
    last_used_at    TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    revoked_at      TEXT,
    revoked_reason  TEXT
) STRICT;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash   BLOB PRIMARY KEY NOT NULL,
    session_id   BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    rotated_at   TEXT
) STRICT;
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id);

CREATE TABLE system_events (
    id             BLOB PRIMARY KEY NOT NULL,
    occurred_at    TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    severity       TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    security       INTEGER NOT NULL CHECK (security IN (0, 1)),
    actor_user_id  BLOB REFERENCES users (id) ON DELETE SET NULL,
    ip             TEXT,
    details        TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX system_events_occurred_at_idx ON system_events (occurred_at);
CREATE INDEX system_events_type_occurred_at_idx ON system_events (event_type, occurred_at);
CREATE INDEX system_events_actor_user_id_idx ON system_events (actor_user_id);
