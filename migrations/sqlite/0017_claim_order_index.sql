-- The SQLite twin of migrations/postgres/0017_claim_order_index.sql.
DROP INDEX post_targets_claim_idx;
CREATE INDEX post_targets_claim_idx ON post_targets (status, next_attempt_at, post_id, position);

UPDATE post_targets SET next_attempt_at = (
    SELECT p.scheduled_at FROM posts p
    WHERE p.workspace_id = post_targets.workspace_id AND p.id = post_targets.post_id)
  WHERE status = 'pending' AND next_attempt_at IS NULL
    AND EXISTS (SELECT 1 FROM posts p
                WHERE p.workspace_id = post_targets.workspace_id AND p.id = post_targets.post_id
                  AND p.status IN ('scheduled', 'publishing'));
