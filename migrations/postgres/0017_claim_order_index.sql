-- A pending target carries its own due time in `next_attempt_at` (its post's time once the
-- post is scheduled, or the time of its next try), so the claim's due targets are one range of
-- one index, in claim order: a claim reads the first rows of that range and stops at its
-- limit. Before, a fresh target's time lived only on its post, and every claim joined and
-- sorted every pending target: draining a burst was quadratic, and on PostgreSQL the planner,
-- which cannot estimate the row-level-security predicates, chose a sort of the whole queue.
DROP INDEX post_targets_claim_idx;
CREATE INDEX post_targets_claim_idx ON post_targets (status, next_attempt_at, post_id, position);

UPDATE post_targets SET next_attempt_at = p.scheduled_at
  FROM posts p
  WHERE p.workspace_id = post_targets.workspace_id AND p.id = post_targets.post_id
    AND post_targets.status = 'pending' AND post_targets.next_attempt_at IS NULL
    AND p.status IN ('scheduled', 'publishing');
