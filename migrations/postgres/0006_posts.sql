-- Posts, the files they carry and the channels they go to. References between tenant rows are
-- composite (workspace_id, id) keys, so a post can never point at another workspace's channel or
-- media (S-TENANT-2).

CREATE TABLE posts (
    workspace_id      uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    id                uuid NOT NULL,
    status            text NOT NULL CHECK (status IN ('draft', 'in_review', 'approved', 'scheduled',
                          'publishing', 'published', 'partially_published', 'failed')),
    content           text NOT NULL,
    variants          jsonb NOT NULL DEFAULT '{}'::jsonb,
    scheduled_at      timestamptz,
    author_id         uuid REFERENCES users (id) ON DELETE SET NULL,
    rejection_reason  text,
    reviewed_by       uuid REFERENCES users (id) ON DELETE SET NULL,
    reviewed_at       timestamptz,
    -- Bumped by every write: a change based on an older read is refused, not silently merged.
    version           bigint NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX posts_due_idx ON posts (scheduled_at) WHERE status = 'scheduled';
CREATE INDEX posts_workspace_scheduled_idx ON posts (workspace_id, scheduled_at);
CREATE INDEX posts_author_id_idx ON posts (author_id);
CREATE INDEX posts_reviewed_by_idx ON posts (reviewed_by);

CREATE TABLE post_media (
    workspace_id  uuid NOT NULL,
    post_id       uuid NOT NULL,
    position      integer NOT NULL CHECK (position >= 0),
    media_id      uuid NOT NULL,
    PRIMARY KEY (workspace_id, post_id, position),
    UNIQUE (workspace_id, post_id, media_id),
    FOREIGN KEY (workspace_id, post_id) REFERENCES posts (workspace_id, id) ON DELETE CASCADE,
    -- No cascade: a file a post holds cannot vanish from under it.
    FOREIGN KEY (workspace_id, media_id) REFERENCES media (workspace_id, id)
);
CREATE INDEX post_media_media_idx ON post_media (workspace_id, media_id);

CREATE TABLE post_targets (
    workspace_id      uuid NOT NULL,
    post_id           uuid NOT NULL,
    channel_id        uuid NOT NULL,
    position          integer NOT NULL CHECK (position >= 0),
    status            text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'publishing', 'published', 'failed', 'unknown')),
    platform_post_id  text,
    url               text,
    error             text,
    attempts          integer NOT NULL DEFAULT 0,
    published_at      timestamptz,
    PRIMARY KEY (workspace_id, post_id, channel_id),
    FOREIGN KEY (workspace_id, post_id) REFERENCES posts (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id)
);
CREATE INDEX post_targets_channel_idx ON post_targets (workspace_id, channel_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON posts, post_media, post_targets TO postroute_app;

ALTER TABLE posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE posts FORCE ROW LEVEL SECURITY;
CREATE POLICY posts_scope ON posts
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());

ALTER TABLE post_media ENABLE ROW LEVEL SECURITY;
ALTER TABLE post_media FORCE ROW LEVEL SECURITY;
CREATE POLICY post_media_scope ON post_media
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());

ALTER TABLE post_targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE post_targets FORCE ROW LEVEL SECURITY;
CREATE POLICY post_targets_scope ON post_targets
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());
