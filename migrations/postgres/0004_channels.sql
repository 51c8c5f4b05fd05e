-- Channels (connected social accounts) with their OAuth tokens sealed, the single-use OAuth
-- states of connections in progress, and Meta logins waiting for the user to pick accounts.

CREATE TABLE channels (
    workspace_id        uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                  uuid NOT NULL,
    provider            text NOT NULL CHECK (provider IN ('x', 'facebook', 'instagram')),
    external_id         text NOT NULL,
    display_name        text NOT NULL,
    avatar_url          text,
    status              text NOT NULL CHECK (status IN ('active', 'needs_reconnect', 'disconnected')),
    connected_at        timestamptz NOT NULL,
    connected_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at          timestamptz NOT NULL,
    -- AES-256-GCM, each bound to (workspace, channel, field); NULL once disconnected.
    access_token        bytea,
    refresh_token       bytea,
    -- The key both ciphertexts are sealed with: rotation finds stale rows by it.
    token_key_id        text,
    token_expires_at    timestamptz,
    -- The token job's bookkeeping.
    next_check_at       timestamptz,
    check_failures      integer NOT NULL DEFAULT 0,
    check_locked_until  timestamptz,
    last_error          text,
    PRIMARY KEY (workspace_id, id),
    -- Connecting the same account again updates its channel (and keeps its posts).
    CONSTRAINT channels_account_key UNIQUE (workspace_id, provider, external_id)
);
CREATE INDEX channels_due_idx ON channels (next_check_at) WHERE status = 'active';
CREATE INDEX channels_token_key_id_idx ON channels (token_key_id);
CREATE INDEX channels_connected_by_idx ON channels (connected_by);

CREATE TABLE oauth_states (
    workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- SHA-256 of the state parameter.
    state_hash     bytea NOT NULL,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       text NOT NULL CHECK (provider IN ('x', 'facebook', 'instagram')),
    -- The PKCE verifier, sealed: it never leaves the server.
    pkce_verifier  bytea,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    PRIMARY KEY (workspace_id, state_hash)
);
CREATE INDEX oauth_states_user_id_idx ON oauth_states (user_id);

CREATE TABLE pending_connections (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      text NOT NULL CHECK (provider IN ('facebook', 'instagram')),
    -- The accounts to choose from, Page tokens included, sealed.
    candidates    bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX pending_connections_user_id_idx ON pending_connections (user_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON channels, oauth_states, pending_connections TO postroute_app;

ALTER TABLE channels ENABLE ROW LEVEL SECURITY;
ALTER TABLE channels FORCE ROW LEVEL SECURITY;
CREATE POLICY channels_scope ON channels
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());

ALTER TABLE oauth_states ENABLE ROW LEVEL SECURITY;
ALTER TABLE oauth_states FORCE ROW LEVEL SECURITY;
CREATE POLICY oauth_states_scope ON oauth_states
    USING (workspace_id = postroute_scope_workspace())
    WITH CHECK (workspace_id = postroute_scope_workspace());

ALTER TABLE pending_connections ENABLE ROW LEVEL SECURITY;
ALTER TABLE pending_connections FORCE ROW LEVEL SECURITY;
CREATE POLICY pending_connections_scope ON pending_connections
    USING (workspace_id = postroute_scope_workspace())
    WITH CHECK (workspace_id = postroute_scope_workspace());
