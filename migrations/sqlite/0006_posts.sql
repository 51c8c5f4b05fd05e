-- Posts, their files and their channels. The SQLite twin of migrations/postgres/0006_posts.sql.

CREATE TABLE posts (
    workspace_id      BLOB NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                BLOB NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('draft', 'in_review', 'approved', 'scheduled',
                          'publishing', 'published', 'partially_published', 'failed')),
    content           TEXT NOT NULL,
    variants          TEXT NOT NULL DEFAULT '{}',
    scheduled_at      TEXT,
    author_id         BLOB REFERENCES users (id) ON DELETE SET NULL,
    rejection_reason  TEXT,
    reviewed_by       BLOB REFERENCES users (id) ON DELETE SET NULL,
    reviewed_at       TEXT,
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (workspace_id, id)
) STRICT;
CREATE INDEX posts_due_idx ON posts (scheduled_at) WHERE status = 'scheduled';
CREATE INDEX posts_workspace_scheduled_idx ON posts (workspace_id, scheduled_at);
CREATE INDEX posts_author_id_idx ON posts (author_id);
CREATE INDEX posts_reviewed_by_idx ON posts (reviewed_by);

CREATE TABLE post_media (
    workspace_id  BLOB NOT NULL,
    post_id       BLOB NOT NULL,
    position      INTEGER NOT NULL CHECK (position >= 0),
    media_id      BLOB NOT NULL,
    PRIMARY KEY (workspace_id, post_id, position),
    UNIQUE (workspace_id, post_id, media_id),
    FOREIGN KEY (workspace_id, post_id) REFERENCES posts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, media_id) REFERENCES media (workspace_id, id)
) STRICT;
CREATE INDEX post_media_media_idx ON post_media (workspace_id, media_id);

CREATE TABLE post_targets (
    workspace_id      BLOB NOT NULL,
    post_id           BLOB NOT NULL,
    channel_id        BLOB NOT NULL,
    position          INTEGER NOT NULL CHECK (position >= 0),
    status            TEXT NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'publishing', 'published', 'failed', 'unknown')),
    platform_post_id  TEXT,
    url               TEXT,
    error             TEXT,
    attempts          INTEGER NOT NULL DEFAULT 0,
    published_at      TEXT,
    PRIMARY KEY (workspace_id, post_id, channel_id),
    FOREIGN KEY (workspace_id, post_id) REFERENCES posts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id)
) STRICT;
CREATE INDEX post_targets_channel_idx ON post_targets (workspace_id, channel_id);
