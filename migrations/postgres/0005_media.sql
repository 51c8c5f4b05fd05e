-- The media library: files whose type was decided from their bytes, stored under a synthesised
-- name (id + sniffed extension); the client's file name is never kept.

CREATE TABLE media (
    workspace_id  uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            uuid NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('image', 'video')),
    mime          text NOT NULL,
    size_bytes    bigint NOT NULL CHECK (size_bytes > 0),
    width         integer,
    height        integer,
    duration_ms   bigint,
    sha256        text NOT NULL,
    object_key    text NOT NULL,
    uploaded_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX media_workspace_created_idx ON media (workspace_id, created_at DESC, id DESC);
CREATE INDEX media_uploaded_by_idx ON media (uploaded_by);

GRANT SELECT, INSERT, UPDATE, DELETE ON media TO postroute_app;
ALTER TABLE media ENABLE ROW LEVEL SECURITY;
ALTER TABLE media FORCE ROW LEVEL SECURITY;
CREATE POLICY media_scope ON media
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());
