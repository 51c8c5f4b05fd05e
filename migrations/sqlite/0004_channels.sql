-- Channels, OAuth states and pending Meta connections.
-- The SQLite twin of migrations/postgres/0004_channels.sql.

CREATE TABLE channels (
    workspace_id        BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                  BLOB NOT NULL,
    provider            TEXT NOT NULL CHECK (provider IN ('x', 'facebook', 'instagram')),
    external_id         TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    avatar_url          TEXT,
    status              TEXT NOT NULL CHECK (status IN ('active', 'needs_reconnect', 'disconnected')),
    connected_at        TEXT NOT NULL,
    connected_by        BLOB REFERENCES users (id) ON DELETE SET NULL,
    updated_at          TEXT NOT NULL,
    access_token        BLOB,
    refresh_token       BLOB,
    token_key_id        TEXT,
    token_expires_at    TEXT,
    next_check_at       TEXT,
    check_failures      INTEGER NOT NULL DEFAULT 0,
    check_locked_until  TEXT,
    last_error          TEXT,
    PRIMARY KEY (workspace_id, id),
    CONSTRAINT channels_account_key UNIQUE (workspace_id, provider, external_id)
) STRICT;
CREATE INDEX channels_due_idx ON channels (next_check_at) WHERE status = 'active';
CREATE INDEX channels_token_key_id_idx ON channels (token_key_id);
CREATE INDEX channels_connected_by_idx ON channels (connected_by);

CREATE TABLE oauth_states (
    workspace_id   BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    state_hash     BLOB NOT NULL,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT NOT NULL CHECK (provider IN ('x', 'facebook', 'instagram')),
    pkce_verifier  BLOB,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    used_at        TEXT,
    PRIMARY KEY (workspace_id, state_hash)
) STRICT;
CREATE INDEX oauth_states_user_id_idx ON oauth_states (user_id);

CREATE TABLE pending_connections (
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            BLOB NOT NULL,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL CHECK (provider IN ('facebook', 'instagram')),
    candidates    BLOB NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT,
    PRIMARY KEY (workspace_id, id)
) STRICT;
CREATE INDEX pending_connections_user_id_idx ON pending_connections (user_id);
