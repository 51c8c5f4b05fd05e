-- A channel's weekly posting slots: wall-clock times in the workspace's zone that "add to
-- queue" fills. Kept as text, the way api.md spells them (`mon`, `09:30`): the instant a slot
-- falls on depends on the zone and the date, and is worked out each time.
CREATE TABLE channel_slots (
    workspace_id  uuid NOT NULL,
    channel_id    uuid NOT NULL,
    weekday       text NOT NULL CHECK (weekday IN ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')),
    time          text NOT NULL CHECK (time ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'),
    PRIMARY KEY (workspace_id, channel_id, weekday, time),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id) ON DELETE CASCADE
);

GRANT SELECT, INSERT, UPDATE, DELETE ON channel_slots TO postroute_app;

ALTER TABLE channel_slots ENABLE ROW LEVEL SECURITY;
ALTER TABLE channel_slots FORCE ROW LEVEL SECURITY;
CREATE POLICY channel_slots_scope ON channel_slots
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());
