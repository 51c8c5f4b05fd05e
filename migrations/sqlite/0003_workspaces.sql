-- Workspaces (tenants), memberships, invitations and the append-only audit log.
-- The SQLite twin of migrations/postgres/0003_workspaces.sql. SQLite has no row-level security:
-- tenant scope is held by the storage layer's tenant handle, and append-only by a trigger.

CREATE TABLE workspaces (
    id                 BLOB PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL,
    timezone           TEXT NOT NULL,
    approval_required  INTEGER NOT NULL DEFAULT 0 CHECK (approval_required IN (0, 1)),
    plan               TEXT NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'studio', 'agency')),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    deleted_at         TEXT
) STRICT;

CREATE TABLE memberships (
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'reviewer')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) STRICT;
CREATE UNIQUE INDEX memberships_one_owner_idx ON memberships (workspace_id) WHERE role = 'owner';
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

CREATE TABLE invitations (
    workspace_id      BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                BLOB NOT NULL,
    email             TEXT NOT NULL,
    email_normalized  TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('admin', 'member', 'reviewer')),
    token_hash        BLOB NOT NULL UNIQUE,
    invited_by        BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at        TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    accepted_at       TEXT,
    accepted_by       BLOB REFERENCES users (id) ON DELETE SET NULL,
    revoked_at        TEXT,
    PRIMARY KEY (workspace_id, id)
) STRICT;
CREATE UNIQUE INDEX invitations_one_open_per_email_idx ON invitations (workspace_id, email_normalized)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_invited_by_idx ON invitations (invited_by);
CREATE INDEX invitations_accepted_by_idx ON invitations (accepted_by);

CREATE TABLE audit_log (
    workspace_id   BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id             BLOB NOT NULL,
    occurred_at    TEXT NOT NULL,
    actor_user_id  BLOB REFERENCES users (id) ON DELETE SET NULL,
    action         TEXT NOT NULL,
    target_type    TEXT,
    target_id      TEXT,
    ip             TEXT,
    details        TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (workspace_id, id)
) STRICT;
CREATE INDEX audit_log_workspace_time_idx ON audit_log (workspace_id, occurred_at DESC, id DESC);
CREATE INDEX audit_log_actor_user_id_idx ON audit_log (actor_user_id);

-- Append-only. Erasing a user detaches their entries (the foreign key's SET NULL), which is the
-- one change allowed; purging a deleted workspace removes its log with it.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    WHEN NOT (NEW.actor_user_id IS NULL AND OLD.actor_user_id IS NOT NULL
              AND NEW.workspace_id IS OLD.workspace_id AND NEW.id IS OLD.id
              AND NEW.occurred_at IS OLD.occurred_at AND NEW.action IS OLD.action
              AND NEW.target_type IS OLD.target_type AND NEW.target_id IS OLD.target_id
              AND NEW.ip IS OLD.ip AND NEW.details IS OLD.details)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    WHEN EXISTS (SELECT 1 FROM workspaces WHERE id = OLD.workspace_id AND deleted_at IS NULL)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
