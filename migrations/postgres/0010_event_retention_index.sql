-- The retention job deletes ordinary events by age; without this it would scan every security
-- event (kept forever) on each pass.
CREATE INDEX system_events_ordinary_occurred_at_idx ON system_events (occurred_at) WHERE NOT security;
