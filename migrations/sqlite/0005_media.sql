-- The media library. The SQLite twin of migrations/postgres/0005_media.sql.

CREATE TABLE media (
    workspace_id  BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id            BLOB NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('image', 'video')),
    mime          TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL CHECK (size_bytes > 0),
    width         INTEGER,
    height        INTEGER,
    duration_ms   INTEGER,
    sha256        TEXT NOT NULL,
    object_key    TEXT NOT NULL,
    uploaded_by   BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
) STRICT;
CREATE INDEX media_workspace_created_idx ON media (workspace_id, created_at DESC, id DESC);
CREATE INDEX media_uploaded_by_idx ON media (uploaded_by);
