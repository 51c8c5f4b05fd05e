//! The publisher's side of post targets: the claim, the intent committed before every
//! irreversible platform call, the outcome recorded after it, and the recovery of targets whose
//! worker's lease ran out. Reached only through `Store::cross_tenant_unscoped().publishing()`:
//! the claim looks across every workspace.
//!
//! Exactly once on the platform cannot come from the queue (a lease that runs out means
//! at-least-once); it comes from the fence and the intent:
//! - every claim adds one to the target's `fence`, and every later write names the fence it
//!   holds, so a worker whose lease ran out can neither start a call nor overwrite the outcome
//!   of the worker that holds the target now;
//! - an attempt row in phase `sending` is committed before the call starts, and only while the
//!   lease still outlasts the call's timeout; a target whose lease ran out with such a row and
//!   no answer is `unknown`, to be reconciled, never sent again blindly; one without is sent
//!   again, since nothing can have reached the platform.

use chrono::{DateTime, Utc};
use postroute_domain::{ChannelId, PostId, PostStatus, Provider, UserId, WorkspaceId};
use uuid::Uuid;

use crate::StoreError;
use crate::dialect::{Lease, claim_leased};
use crate::pool::{Db, Scope, Tx};
use crate::tenant::targets::ChannelLoss;

/// One channel of one post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TargetKey {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The post.
    pub post: PostId,
    /// The channel.
    pub channel: ChannelId,
}

/// A target a worker holds: it may publish it while its lease lasts, under `fence`.
#[derive(Clone, Debug)]
pub struct ClaimedTarget {
    /// Which target.
    pub key: TargetKey,
    /// The claim's fence: every write of this worker names it.
    pub fence: i64,
    /// When the lease ends.
    pub lease_expires_at: DateTime<Utc>,
    /// The channel's platform.
    pub provider: Provider,
    /// When the post was due.
    pub due_at: DateTime<Utc>,
    /// Attempts made before this claim.
    pub attempts: i32,
    /// JSON: the ids of thread parts already posted.
    pub remote_ids: Option<String>,
    /// JSON: media uploaded or containers made for this target.
    pub media_state: Option<String>,
    /// When the target itself came due: its post's time, the time of a retry, or the moment
    /// a person sent it again. Claimed more than `worker.missed_after_mins` after that, it is
    /// missed rather than published, however it got there (a first claim, a retry, or a
    /// claim taken back from a worker that died before its call).
    pub came_due_at: DateTime<Utc>,
}

/// An attempt row: the intent, then its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptId(pub Uuid);

/// What became of a target after an attempt; the worker decides it (with the domain's rules),
/// the store writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetOutcome {
    /// On the platform.
    Published {
        /// The platform's id of the post (a thread's first part).
        platform_post_id: String,
        /// Where it can be seen.
        url: Option<String>,
    },
    /// Nothing was created; try again at `at`.
    RetryAt {
        /// When.
        at: DateTime<Utc>,
    },
    /// The platform refused it for good.
    Failed,
    /// The call may or may not have created the post: reconcile, never resend blindly; the
    /// first look at the platform comes at `look_at`.
    Unknown {
        /// When reconciliation first looks.
        look_at: DateTime<Utc>,
    },
}

impl TargetOutcome {
    fn status(&self) -> &'static str {
        match self {
            Self::Published { .. } => "published",
            Self::RetryAt { .. } => "pending",
            Self::Failed => "failed",
            Self::Unknown { .. } => "unknown",
        }
    }
}

/// What the platform answered, as recorded on the attempt and shown on the target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// The outcome class (`published`, `retryable`, `rate_limited`, `ambiguous`, `auth_dead`,
    /// `permanent`, ...).
    pub class: String,
    /// The HTTP status, when one came back.
    pub http_status: Option<u16>,
    /// The platform's error code.
    pub platform_code: Option<String>,
    /// The platform's id of what it created.
    pub platform_post_id: Option<String>,
    /// The platform's request id, for its support.
    pub platform_request_id: Option<String>,
    /// In words, for a person (secrets never included).
    pub detail: Option<String>,
}

/// A post still in review when its time came: it goes back to draft, and its author is told.
#[derive(Clone, Debug)]
pub struct LapsedReview {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// Its name, for the email.
    pub workspace_name: String,
    /// The post.
    pub post: PostId,
    /// The version it was seen at: the lapse applies only if it is still that one.
    pub version: i64,
    /// When it was to be published.
    pub scheduled_at: DateTime<Utc>,
    /// Its author's account, address and name, while the account exists.
    pub author: Option<(UserId, String, String)>,
}

#[derive(sqlx::FromRow)]
struct LapsedRow {
    workspace_id: Uuid,
    workspace_name: String,
    id: Uuid,
    version: i64,
    scheduled_at: DateTime<Utc>,
    author_id: Option<Uuid>,
    email: Option<String>,
    name: Option<String>,
}

/// What a recovery pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Leases that ran out before any intent: sent to the queue again.
    pub requeued: u64,
    /// Leases that ran out after an intent without an answer: `unknown`, to reconcile.
    pub unknown: u64,
    /// Leases that ran out before any intent, on a channel disconnected or needing a reconnect
    /// meanwhile: failed, with the channel's reason.
    pub failed: u64,
}

/// The publisher's queries. See the module's comment for the protocol.
#[derive(Debug, Clone, Copy)]
pub struct Publishing<'a> {
    db: &'a Db,
    /// Where intents and answers wait for a commit to share.
    commits: &'a GroupCommit,
}

// Due: its own due time has come (`next_attempt_at`: its post's time, set when the post is
// scheduled, or the time of its next try), its post is on the schedule, and its channel may
// publish now (connected, not held back by the platform's rate limit, its provider not paused
// for the deployment). The due time on the target keeps the due targets one range of the
// claim index, in order: the claim reads the first of them and stops. The post and channel
// are checked by scalar subqueries, row by row as the range is read, not by `EXISTS`, which
// PostgreSQL turns into joins driven by the other table.
const DUE: &str = "status = 'pending' AND next_attempt_at <= $1 \
                   AND (SELECT p.status IN ('scheduled', 'publishing') AND p.scheduled_at <= $1 \
                   FROM posts p WHERE p.workspace_id = post_targets.workspace_id \
                   AND p.id = post_targets.post_id) \
                   AND (SELECT c.status = 'active' \
                   AND (c.publish_blocked_until IS NULL OR c.publish_blocked_until <= $1) \
                   AND NOT EXISTS (SELECT 1 FROM provider_pauses pp \
                   WHERE pp.provider = c.provider AND pp.paused_until > $1) \
                   FROM channels c WHERE c.workspace_id = post_targets.workspace_id \
                   AND c.id = post_targets.channel_id)";

/// What a claim returns of each target: what the worker needs of its post and channel comes
/// back with the claim itself, not in a read per target.
const CLAIMED_COLUMNS: &str = "workspace_id, post_id, channel_id, fence, attempts, remote_ids, \
                               media_state, \
                               (SELECT c.provider FROM channels c \
                               WHERE c.workspace_id = post_targets.workspace_id \
                               AND c.id = post_targets.channel_id) AS provider, \
                               (SELECT p.scheduled_at FROM posts p \
                               WHERE p.workspace_id = post_targets.workspace_id \
                               AND p.id = post_targets.post_id) AS scheduled_at, \
                               next_attempt_at AS came_due_at";

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    workspace_id: Uuid,
    post_id: Uuid,
    channel_id: Uuid,
    fence: i64,
    attempts: i32,
    remote_ids: Option<String>,
    media_state: Option<String>,
    provider: String,
    scheduled_at: Option<DateTime<Utc>>,
    came_due_at: Option<DateTime<Utc>>,
}

impl ClaimedRow {
    /// The claimed target, its lease ending at `lease_until`.
    fn into_target(
        self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<ClaimedTarget, StoreError> {
        let provider = self.provider.parse().map_err(|_| StoreError::CorruptRow {
            table: "channels",
            reason: format!("provider `{}`", self.provider),
        })?;
        Ok(ClaimedTarget {
            key: reconcile::key_of(self.workspace_id, self.post_id, self.channel_id),
            fence: self.fence,
            lease_expires_at: lease_until,
            provider,
            due_at: self.scheduled_at.unwrap_or(now),
            attempts: self.attempts,
            remote_ids: self.remote_ids,
            media_state: self.media_state,
            came_due_at: self.came_due_at.unwrap_or(now),
        })
    }
}

impl<'a> Publishing<'a> {
    pub(crate) fn new(db: &'a Db, commits: &'a GroupCommit) -> Self {
        Self { db, commits }
    }

    /// Marks pending targets that came due before `due_before` as `missed`: published that
    /// late, a post would be stale, so a person decides. A target's own due time rules (its
    /// post's time, a retry's, a person's "send again"), not its post's status: a target taken
    /// back from a worker that died before its call belongs to a post already `publishing`,
    /// and would otherwise go out however late the workers came back. Their posts' status
    /// follows (a post none of whose targets went out is `failed`). Returns how many targets.
    pub async fn sweep_missed(
        &self,
        now: DateTime<Utc>,
        due_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.db.begin_in(Scope::CrossTenant).await?;
        let missed: Vec<(Uuid, Uuid)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "UPDATE post_targets SET status = 'missed', next_attempt_at = NULL, \
             needs_report = true, \
             error = 'It came due too late to publish without a person deciding.' \
             WHERE status = 'pending' AND next_attempt_at < $1 AND EXISTS (SELECT 1 FROM posts p \
             WHERE p.workspace_id = post_targets.workspace_id AND p.id = post_targets.post_id \
             AND p.status IN ('scheduled', 'publishing')) \
             RETURNING workspace_id, post_id",
        )
        .bind(due_before)
        .fetch_all(&mut *c)
        .await)?;
        let count = u64::try_from(missed.len()).unwrap_or(u64::MAX);
        self.settle_posts(&mut tx, missed, now).await?;
        tx.commit().await?;
        Ok(count)
    }

    /// Settles each of `posts` (workspace and post ids, as a statement returned them for its
    /// targets, repeats and all) once, in `tx`.
    async fn settle_posts(
        &self,
        tx: &mut crate::pool::Tx,
        mut posts: Vec<(Uuid, Uuid)>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        posts.sort_unstable();
        posts.dedup();
        for (workspace, post) in posts {
            let tenant = crate::Tenant::new(self.db, WorkspaceId::from_uuid(workspace));
            crate::tenant::targets::settle(tx.conn(), &tenant, PostId::from_uuid(post), now)
                .await?;
        }
        Ok(())
    }

    /// Claims up to `limit` due targets for `worker` until `lease_until`, each with a fence one
    /// higher than its last; their posts become `publishing`, so they can no longer be edited.
    pub async fn claim_due(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedTarget>, StoreError> {
        let lease = Lease {
            table: "post_targets",
            key: "workspace_id, post_id, channel_id",
            lease_column: "lease_expires_at",
            due: DUE,
            order_by: "next_attempt_at, post_id, position",
            also_set: ", status = 'publishing', fence = fence + 1, lease_owner = $4",
            returning: CLAIMED_COLUMNS,
            owner: Some(worker),
            // Only the posts of the targets this worker holds: every scheduled post's targets
            // would be read at each claim otherwise.
            then: Some(
                "UPDATE posts SET status = 'publishing', version = version + 1, updated_at = $1 \
                 FROM post_targets t \
                 WHERE t.workspace_id = posts.workspace_id AND t.post_id = posts.id \
                 AND t.status = 'publishing' AND t.lease_owner = $2 AND posts.status = 'scheduled'",
            ),
        };
        let rows: Vec<ClaimedRow> =
            claim_leased(self.db, Some(Scope::CrossTenant), &lease, now, lease_until, limit)
                .await?;
        rows.into_iter().map(|row| row.into_target(now, lease_until)).collect()
    }

    /// Marks a claimed target `missed` instead of publishing it, while `fence` holds it: it
    /// came due too long ago (the same rule as [`Self::sweep_missed`], applied at the last
    /// moment before the call, so a target that crossed the line after the pass's sweep is
    /// not published late). Settles its post. `false` when the claim was lost.
    pub async fn miss_claimed(
        &self,
        key: &TargetKey,
        fence: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_in(Scope::Workspace(key.workspace)).await?;
        let missed = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE post_targets SET status = 'missed', next_attempt_at = NULL, \
             needs_report = true, lease_owner = NULL, lease_expires_at = NULL, \
             error = 'It came due too late to publish without a person deciding.' \
             WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 AND fence = $4 \
             AND status = 'publishing'",
        )
        .bind(key.workspace.as_uuid())
        .bind(key.post.as_uuid())
        .bind(key.channel.as_uuid())
        .bind(fence)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))?;
        let tenant = crate::Tenant::new(self.db, key.workspace);
        crate::tenant::targets::settle(tx.conn(), &tenant, key.post, now).await?;
        tx.commit().await?;
        Ok(missed == 1)
    }

    /// Commits the intent to call the platform: an attempt in phase `sending`, but only while
    /// `fence` still holds the target and its lease lasts until at least `must_hold_until` (now
    /// plus the call's timeout and a margin). `None` means: do not call. The commit may be
    /// shared with other writes waiting at the same moment (`commits.rs`); it has happened when
    /// this returns.
    pub async fn begin_attempt(
        &self,
        key: &TargetKey,
        fence: i64,
        worker: &str,
        now: DateTime<Utc>,
        must_hold_until: DateTime<Utc>,
    ) -> Result<Option<AttemptId>, StoreError> {
        let write =
            Write::Intent { key: *key, fence, worker: worker.to_owned(), now, must_hold_until };
        match self.commits.submit(self.db, write).await? {
            Written::Intent(attempt) => Ok(attempt),
            Written::Answer(_) => Err(mismatched()),
        }
    }

    /// Records what the platform answered to `attempt`, always (a platform id is never lost),
    /// and applies `outcome` to the target only while `fence` still holds it: `false` means
    /// the lease was lost, and the worker that holds the target now will find this answer when
    /// it reconciles. The post's status follows its targets in the same transaction, which may
    /// be shared with other writes waiting at the same moment (`commits.rs`).
    pub async fn record_answer(
        &self,
        key: &TargetKey,
        fence: i64,
        attempt: AttemptId,
        answer: &Answer,
        outcome: &TargetOutcome,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let write = Write::Answer {
            key: *key,
            fence,
            attempt,
            answer: answer.clone(),
            outcome: outcome.clone(),
            now,
        };
        match self.commits.submit(self.db, write).await? {
            Written::Answer(applied) => Ok(applied),
            Written::Intent(_) => Err(mismatched()),
        }
    }

    /// Records what the platform answered to `attempt` and nothing else: the target stays as it
    /// is, in the hands of the worker that holds it (a 401 answered by a refresh, say, before
    /// the same call is made again).
    pub async fn record_answer_only(
        &self,
        key: &TargetKey,
        attempt: AttemptId,
        answer: &Answer,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_in(Scope::Workspace(key.workspace)).await?;
        insert_answer(&mut tx, key, attempt, answer, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the answer to one part of a thread and the ids posted so far, while `fence`
    /// holds the target; the target stays `publishing` for the next part. `false` means the
    /// lease was lost (the answer is kept all the same).
    pub async fn record_part(
        &self,
        key: &TargetKey,
        fence: i64,
        attempt: AttemptId,
        answer: &Answer,
        remote_ids: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_in(Scope::Workspace(key.workspace)).await?;
        insert_answer(&mut tx, key, attempt, answer, now).await?;
        let saved = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE post_targets SET remote_ids = $5 \
             WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 AND fence = $4 \
             AND status = 'publishing'",
        )
        .bind(key.workspace.as_uuid())
        .bind(key.post.as_uuid())
        .bind(key.channel.as_uuid())
        .bind(fence)
        .bind(remote_ids)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))?;
        tx.commit().await?;
        Ok(saved == 1)
    }

    /// Saves what was made on the platform for this target before the call that publishes it
    /// (X media keys, an Instagram container), while `fence` holds it: a resumed attempt
    /// continues from it, and reconciliation looks for it. `false` when the claim was lost.
    pub async fn save_media_state(
        &self,
        key: &TargetKey,
        fence: i64,
        state: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_in(Scope::Workspace(key.workspace)).await?;
        let saved = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE post_targets SET media_state = $5 \
             WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 AND fence = $4 \
             AND status = 'publishing'",
        )
        .bind(key.workspace.as_uuid())
        .bind(key.post.as_uuid())
        .bind(key.channel.as_uuid())
        .bind(fence)
        .bind(state)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))?;
        tx.commit().await?;
        Ok(saved == 1)
    }

    /// Gives a claimed target back without calling the platform (nothing was sent): it waits
    /// until `until`, with `reason` on it for people to read.
    pub async fn defer(
        &self,
        key: &TargetKey,
        fence: i64,
        until: DateTime<Utc>,
        reason: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_in(Scope::Workspace(key.workspace)).await?;
        let deferred = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE post_targets SET status = 'pending', next_attempt_at = $5, error = $6, \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 AND fence = $4 \
             AND status = 'publishing'",
        )
        .bind(key.workspace.as_uuid())
        .bind(key.post.as_uuid())
        .bind(key.channel.as_uuid())
        .bind(fence)
        .bind(until)
        .bind(reason)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))?;
        tx.commit().await?;
        Ok(deferred == 1)
    }

    /// Brings a post's status in line with its targets once none is still on its way
    /// (`published`, `partially_published` or `failed`); returns the status it now has.
    pub async fn settle_post(
        &self,
        workspace: WorkspaceId,
        post: PostId,
        now: DateTime<Utc>,
    ) -> Result<Option<PostStatus>, StoreError> {
        let tenant = crate::Tenant::new(self.db, workspace);
        let mut tx = self.db.begin_in(Scope::Workspace(workspace)).await?;
        let status = crate::tenant::targets::settle(tx.conn(), &tenant, post, now).await?;
        tx.commit().await?;
        Ok(status)
    }

    /// When the next post scheduled after `now` falls due, if any is.
    pub async fn next_scheduled_after(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut tx = self.db.begin_read_in(Scope::CrossTenant).await?;
        let next: Option<(DateTime<Utc>,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT scheduled_at FROM posts WHERE status = 'scheduled' AND scheduled_at > $1 \
             ORDER BY scheduled_at LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(next.map(|(at,)| at))
    }

    /// Up to `limit` posts still in review whose time has come (`now` or before).
    pub async fn reviews_past_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<LapsedReview>, StoreError> {
        let mut tx = self.db.begin_read_in(Scope::CrossTenant).await?;
        let rows: Vec<LapsedRow> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT p.workspace_id, w.name AS workspace_name, p.id, p.version, p.scheduled_at, \
             p.author_id, u.email, u.name \
             FROM posts p \
             JOIN workspaces w ON w.id = p.workspace_id \
             LEFT JOIN users u ON u.id = p.author_id \
             WHERE p.status = 'in_review' AND p.scheduled_at <= $1 \
             ORDER BY p.scheduled_at LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|row| LapsedReview {
                workspace: WorkspaceId::from_uuid(row.workspace_id),
                workspace_name: row.workspace_name,
                post: PostId::from_uuid(row.id),
                version: row.version,
                scheduled_at: row.scheduled_at,
                author: author(row.author_id, row.email, row.name),
            })
            .collect())
    }

    /// Takes back targets whose lease ran out while `publishing`: with an intent that has no
    /// answer, the call may have happened, and they become `unknown`; otherwise nothing
    /// unrecorded can have reached the platform and they go back to the queue.
    /// Reconciliation first looks at `look_at`.
    pub async fn recover_expired(
        &self,
        now: DateTime<Utc>,
        look_at: DateTime<Utc>,
    ) -> Result<Recovered, StoreError> {
        let mut tx = self.db.begin_in(Scope::CrossTenant).await?;
        let intent = "EXISTS (SELECT 1 FROM publish_attempts a \
                      WHERE a.workspace_id = post_targets.workspace_id \
                      AND a.post_id = post_targets.post_id \
                      AND a.channel_id = post_targets.channel_id \
                      AND a.fence = post_targets.fence AND a.phase = 'sending' \
                      AND NOT EXISTS (SELECT 1 FROM publish_attempts b \
                      WHERE b.workspace_id = a.workspace_id AND b.answers = a.id))";
        let expired = "status = 'publishing' AND lease_expires_at < $1";
        let unknown_sql = format!(
            "UPDATE post_targets SET status = 'unknown', error_class = 'ambiguous', \
             error = 'The worker stopped while the platform was being called; checking whether \
             the post went out.', lease_owner = NULL, lease_expires_at = NULL, \
             next_attempt_at = $2, reconcile_looks = 0 \
             WHERE {expired} AND {intent}"
        );
        // Every call this claim began was answered (none, or a thread's parts, whose ids are
        // stored): the next claim resumes where it stopped.
        let requeue_sql = format!(
            "UPDATE post_targets SET status = 'pending', lease_owner = NULL, \
             lease_expires_at = NULL WHERE {expired} AND NOT {intent}"
        );
        let unknown = on_conn!(tx.conn(), |c| sqlx::query(&unknown_sql)
            .bind(now)
            .bind(look_at)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        // Nothing was sent, but the channel was lost meanwhile: its own pass failed the
        // targets waiting on it, not this one, which a worker held then. Requeued, it would
        // wait on a channel that never publishes again, and nobody would hear of it; it fails
        // with the same reason, and is reported (an email too: the channel's named it not).
        let lost_sql = format!(
            "UPDATE post_targets SET status = 'failed', error = $2, error_code = $3, \
             error_class = 'permanent', next_attempt_at = NULL, needs_report = true, \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE {expired} AND NOT {intent} AND (SELECT c.status = $4 FROM channels c \
             WHERE c.workspace_id = post_targets.workspace_id AND c.id = post_targets.channel_id) \
             RETURNING workspace_id, post_id"
        );
        let mut lost: Vec<(Uuid, Uuid)> = Vec::new();
        for (status, loss, code) in [
            ("disconnected", ChannelLoss::Disconnected, Some(crate::LOST_TO_DISCONNECT)),
            ("needs_reconnect", ChannelLoss::NeedsReconnect, None),
        ] {
            let (error, ..) = loss.columns();
            let failed: Vec<(Uuid, Uuid)> = on_conn!(tx.conn(), |c| sqlx::query_as(&lost_sql)
                .bind(now)
                .bind(error)
                .bind(code)
                .bind(status)
                .fetch_all(&mut *c)
                .await)?;
            lost.extend(failed);
        }
        let failed = u64::try_from(lost.len()).unwrap_or(u64::MAX);
        self.settle_posts(&mut tx, lost, now).await?;
        let requeued = on_conn!(tx.conn(), |c| sqlx::query(&requeue_sql)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        tx.commit().await?;
        Ok(Recovered { unknown, requeued, failed })
    }
}

/// A post's author from a `LEFT JOIN users`: their id, address and name while the account
/// exists.
pub(crate) fn author(
    id: Option<Uuid>,
    email: Option<String>,
    name: Option<String>,
) -> Option<(UserId, String, String)> {
    match (id, email, name) {
        (Some(id), Some(email), Some(name)) => Some((UserId::from_uuid(id), email, name)),
        _ => None,
    }
}

/// The intent of [`Publishing::begin_attempt`], written in `tx`.
async fn write_intent(
    tx: &mut Tx,
    key: &TargetKey,
    fence: i64,
    worker: &str,
    now: DateTime<Utc>,
    must_hold_until: DateTime<Utc>,
) -> Result<Option<AttemptId>, StoreError> {
    let attempt_no: Option<(i32,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
        "UPDATE post_targets SET attempts = attempts + 1, last_attempt_at = $5 \
         WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 AND fence = $4 \
         AND status = 'publishing' AND lease_expires_at >= $6 \
         RETURNING attempts",
    )
    .bind(key.workspace.as_uuid())
    .bind(key.post.as_uuid())
    .bind(key.channel.as_uuid())
    .bind(fence)
    .bind(now)
    .bind(must_hold_until)
    .fetch_optional(&mut *c)
    .await)?;
    let Some((attempt_no,)) = attempt_no else { return Ok(None) };
    let id = Uuid::now_v7();
    on_conn!(tx.conn(), |c| sqlx::query(
        "INSERT INTO publish_attempts (workspace_id, id, post_id, channel_id, fence, \
         attempt_no, worker, phase, occurred_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'sending', $8)",
    )
    .bind(key.workspace.as_uuid())
    .bind(id)
    .bind(key.post.as_uuid())
    .bind(key.channel.as_uuid())
    .bind(fence)
    .bind(attempt_no)
    .bind(worker)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(drop))?;
    Ok(Some(AttemptId(id)))
}

/// The answer and outcome of [`Publishing::record_answer`], written in `tx` with the post's
/// settling.
#[expect(clippy::too_many_arguments, reason = "one answer's parts, as `record_answer` takes them")]
async fn write_answer(
    db: &Db,
    tx: &mut Tx,
    key: &TargetKey,
    fence: i64,
    attempt: AttemptId,
    answer: &Answer,
    outcome: &TargetOutcome,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    insert_answer(tx, key, attempt, answer, now).await?;
    let (platform_post_id, url, published_at, next_attempt_at) = match outcome {
        TargetOutcome::Published { platform_post_id, url } => {
            (Some(platform_post_id.as_str()), url.as_deref(), Some(now), None)
        }
        TargetOutcome::RetryAt { at } => (None, None, None, Some(*at)),
        TargetOutcome::Unknown { look_at } => (None, None, None, Some(*look_at)),
        TargetOutcome::Failed => (None, None, None, None),
    };
    // Published and failed are told at once; unknown only once reconciliation gives up.
    let needs_report = matches!(outcome, TargetOutcome::Published { .. } | TargetOutcome::Failed);
    let published = matches!(outcome, TargetOutcome::Published { .. });
    let applied = on_conn!(tx.conn(), |c| sqlx::query(
        "UPDATE post_targets SET status = $5, platform_post_id = COALESCE($6, \
         platform_post_id), url = COALESCE($7, url), published_at = COALESCE($8, \
         published_at), next_attempt_at = $9, error_class = $10, error_code = $11, \
         error = $12, lease_owner = NULL, lease_expires_at = NULL, needs_report = $13, \
         reconcile_looks = 0 \
         WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 AND fence = $4",
    )
    .bind(key.workspace.as_uuid())
    .bind(key.post.as_uuid())
    .bind(key.channel.as_uuid())
    .bind(fence)
    .bind(outcome.status())
    .bind(platform_post_id)
    .bind(url)
    .bind(published_at)
    .bind(next_attempt_at)
    .bind(Some(answer.class.as_str()).filter(|_| !published))
    .bind(answer.platform_code.as_deref())
    .bind(answer.detail.as_deref().filter(|_| !published))
    .bind(needs_report)
    .execute(&mut *c)
    .await
    .map(|done| done.rows_affected()))?;
    // The post follows its targets in the same commit: one write less per target, and no
    // moment at which a target is out and its post still says otherwise.
    let tenant = crate::Tenant::new(db, key.workspace);
    crate::tenant::targets::settle(tx.conn(), &tenant, key.post, now).await?;
    Ok(applied == 1)
}

/// A shared commit answered a write with another kind's result: a bug in `commits.rs`.
fn mismatched() -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(
        "a shared publishing commit returned another write's kind of result".to_owned(),
    ))
}

/// The attempt row in phase `answered` that records what the platform said to `attempt`.
async fn insert_answer(
    tx: &mut crate::pool::Tx,
    key: &TargetKey,
    attempt: AttemptId,
    answer: &Answer,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(tx.conn(), |c| sqlx::query(
        "INSERT INTO publish_attempts (workspace_id, id, post_id, channel_id, fence, \
             attempt_no, worker, phase, answers, occurred_at, outcome_class, http_status, \
             platform_code, platform_post_id, platform_request_id, detail) \
             SELECT workspace_id, $2, post_id, channel_id, fence, attempt_no, worker, 'answered', \
             id, $4, $5, $6, $7, $8, $9, $10 \
             FROM publish_attempts WHERE workspace_id = $1 AND id = $3 AND phase = 'sending'",
    )
    .bind(key.workspace.as_uuid())
    .bind(Uuid::now_v7())
    .bind(attempt.0)
    .bind(now)
    .bind(&answer.class)
    .bind(answer.http_status.map(i32::from))
    .bind(answer.platform_code.as_deref())
    .bind(answer.platform_post_id.as_deref())
    .bind(answer.platform_request_id.as_deref())
    .bind(answer.detail.as_deref())
    .execute(&mut *c)
    .await
    .map(drop))?;
    Ok(())
}

mod commits;
mod reconcile;
mod reports;

pub(crate) use commits::GroupCommit;
use commits::{Write, Written};

pub use reconcile::{Reconciliation, UnknownTarget};
pub use reports::{OutcomeReport, ProviderPause};

#[cfg(test)]
mod tests;
