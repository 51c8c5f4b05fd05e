-- The SQLite twin of migrations/postgres/0014_channel_slots.sql.
CREATE TABLE channel_slots (
    workspace_id  BLOB NOT NULL,
    channel_id    BLOB NOT NULL,
    weekday       TEXT NOT NULL CHECK (weekday IN ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')),
    time          TEXT NOT NULL CHECK (length(time) = 5 AND time GLOB '[0-2][0-9]:[0-5][0-9]'
                                       AND time <= '23:59'),
    PRIMARY KEY (workspace_id, channel_id, weekday, time),
    FOREIGN KEY (workspace_id, channel_id) REFERENCES channels (workspace_id, id) ON DELETE CASCADE
) STRICT;
