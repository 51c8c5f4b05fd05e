-- Workspaces (tenants), memberships, invitations and the append-only audit log, with
-- row-level security: the application runs as `postroute_app`, which cannot bypass it.

CREATE TABLE workspaces (
    id                 uuid PRIMARY KEY,
    name               text NOT NULL,
    timezone           text NOT NULL,
    approval_required  boolean NOT NULL DEFAULT false,
    plan               text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'studio', 'agency')),
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    -- Deleted workspaces answer 404 at once; their rows are purged later.
    deleted_at         timestamptz
);

CREATE TABLE memberships (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'reviewer')),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
-- Exactly one owner: the schema refuses a second, whatever the requests race to do.
CREATE UNIQUE INDEX memberships_one_owner_idx ON memberships (workspace_id) WHERE role = 'owner';
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TABLE invitations (
    workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                uuid NOT NULL,
    email             text NOT NULL,
    email_normalized  text NOT NULL,
    role              text NOT NULL CHECK (role IN ('admin', 'member', 'reviewer')),
    token_hash        bytea NOT NULL UNIQUE,
    invited_by        uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    accepted_at       timestamptz,
    accepted_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at        timestamptz,
    PRIMARY KEY (workspace_id, id)
);
CREATE UNIQUE INDEX invitations_one_open_per_email_idx ON invitations (workspace_id, email_normalized)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_invited_by_idx ON invitations (invited_by);
CREATE INDEX invitations_accepted_by_idx ON invitations (accepted_by);

CREATE TABLE audit_log (
    workspace_id   uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id             uuid NOT NULL,
    occurred_at    timestamptz NOT NULL,
    actor_user_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    action         text NOT NULL,
    target_type    text,
    target_id      text,
    ip             text,
    details        jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX audit_log_workspace_time_idx ON audit_log (workspace_id, occurred_at DESC, id DESC);
CREATE INDEX audit_log_actor_user_id_idx ON audit_log (actor_user_id);

-- The application role. Created once per cluster; every database grants it its tables.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'postroute_app') THEN
        CREATE ROLE postroute_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    END IF;
END
$$;
GRANT postroute_app TO CURRENT_USER;
GRANT USAGE ON SCHEMA public TO postroute_app;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON users, sessions, refresh_tokens, email_tokens, email_outbox, system_events,
       workspaces, memberships, invitations
    TO postroute_app;
-- Append-only: the application may add to the audit log and read it, nothing else.
GRANT SELECT, INSERT ON audit_log TO postroute_app;

-- The scope of a transaction, set with set_config(..., true) so it ends with the transaction:
--   postroute.workspace_id  the tenant a request acts for
--   postroute.user_id       the user whose own memberships may be listed across workspaces
--   postroute.cross_tenant  'on' only inside Store::cross_tenant_unscoped (billing, webhooks,
--                           the scheduler, staff endpoints)
CREATE FUNCTION postroute_scope_workspace() RETURNS uuid LANGUAGE sql STABLE AS
    $$ SELECT NULLIF(current_setting('postroute.workspace_id', true), '')::uuid $$;
CREATE FUNCTION postroute_scope_user() RETURNS uuid LANGUAGE sql STABLE AS
    $$ SELECT NULLIF(current_setting('postroute.user_id', true), '')::uuid $$;
CREATE FUNCTION postroute_scope_cross_tenant() RETURNS boolean LANGUAGE sql STABLE AS
    $$ SELECT coalesce(current_setting('postroute.cross_tenant', true), '') = 'on' $$;

ALTER TABLE memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY memberships_scope ON memberships
    USING (workspace_id = postroute_scope_workspace() OR user_id = postroute_scope_user()
           OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());

ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY;
ALTER TABLE workspaces FORCE ROW LEVEL SECURITY;
CREATE POLICY workspaces_scope ON workspaces
    USING (id = postroute_scope_workspace()
           OR id IN (SELECT workspace_id FROM memberships WHERE user_id = postroute_scope_user())
           OR postroute_scope_cross_tenant())
    WITH CHECK (id = postroute_scope_workspace() OR postroute_scope_cross_tenant());

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_scope ON invitations
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_scope ON audit_log
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());

GRANT EXECUTE ON FUNCTION postroute_scope_workspace(), postroute_scope_user(),
    postroute_scope_cross_tenant() TO postroute_app;
