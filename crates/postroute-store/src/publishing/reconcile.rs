//! Reconciliation's side of the store: unknown targets are claimed under a lease and a new fence
//! (so a person's decision, or a second reconciler, fences this one out), the platform is
//! looked at, and what was found is written with an attempt row in phase `reconciled`.

use chrono::{DateTime, Utc};
use postroute_domain::{ChannelId, PostId, WorkspaceId};
use uuid::Uuid;

use super::{CLAIMED_COLUMNS, ClaimedRow, ClaimedTarget, Publishing, TargetKey};
use crate::StoreError;
use crate::dialect::{Lease, claim_leased};
use crate::pool::Scope;

/// An unknown target a reconciler holds.
#[derive(Clone, Debug)]
pub struct UnknownTarget {
    /// The claim, as the publisher's.
    pub claim: ClaimedTarget,
    /// Looks already made.
    pub looks: u32,
    /// Whether the one retry that proof of absence allows was spent.
    pub absence_retried: bool,
    /// When the unanswered call began: where the search of the account starts.
    pub sent_at: Option<DateTime<Utc>>,
    /// Post ids the platform gave to calls since then, recorded by a worker that had lost its
    /// claim: our own records come before any look at the platform.
    pub recorded_ids: Vec<String>,
}

/// What a look at the platform decided for an unknown target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reconciliation {
    /// The post is on the platform.
    Published {
        /// Its id (a thread's first part).
        platform_post_id: String,
        /// Where it can be seen.
        url: Option<String>,
        /// JSON: every part's id, for a thread.
        remote_ids: Option<String>,
    },
    /// The unanswered part of a thread is on the platform and more parts remain: the target
    /// goes back to the queue, and the next claim sends the rest.
    ThreadContinues {
        /// JSON: the ids of the parts posted so far.
        remote_ids: String,
    },
    /// Nothing found yet; look again at `at`.
    LookAgain {
        /// When.
        at: DateTime<Utc>,
    },
    /// Proof that nothing was created: the one retry, now.
    Retry,
    /// The publisher has done all it safely can: `missed` when the retry would come too late,
    /// `unknown` otherwise; a person decides, and is told.
    AskPerson {
        /// `unknown` or `missed`.
        missed: bool,
        /// In words, for the target.
        reason: String,
    },
}

#[derive(sqlx::FromRow)]
struct UnknownRow {
    #[sqlx(flatten)]
    claimed: ClaimedRow,
    reconcile_looks: i32,
    absence_retried: bool,
}

impl Publishing<'_> {
    /// Claims up to `limit` unknown targets whose next look is due, for `worker` until
    /// `lease_until`.
    pub async fn claim_unknown(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<UnknownTarget>, StoreError> {
        let lease = Lease {
            table: "post_targets",
            key: "workspace_id, post_id, channel_id",
            lease_column: "lease_expires_at",
            due: "status = 'unknown' AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1",
            order_by: "next_attempt_at, post_id, position",
            also_set: ", fence = fence + 1, lease_owner = $4",
            returning: &format!("{CLAIMED_COLUMNS}, reconcile_looks, absence_retried"),
            owner: Some(worker),
            then: None,
        };
        let rows: Vec<UnknownRow> =
            claim_leased(self.db, Some(Scope::CrossTenant), &lease, now, lease_until, limit)
                .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in rows {
            let claim = row.claimed.into_target(now, lease_until)?;
            let (sent_at, recorded_ids) = self.since_last_intent(&claim.key).await?;
            claimed.push(UnknownTarget {
                claim,
                looks: u32::try_from(row.reconcile_looks).unwrap_or(0),
                absence_retried: row.absence_retried,
                sent_at,
                recorded_ids,
            });
        }
        Ok(claimed)
    }

    /// When the last intent was committed, and the post ids answered to calls since.
    async fn since_last_intent(
        &self,
        key: &TargetKey,
    ) -> Result<(Option<DateTime<Utc>>, Vec<String>), StoreError> {
        let mut tx = self.db.begin_read_in(Scope::Workspace(key.workspace)).await?;
        let sent_at: Option<(DateTime<Utc>,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT occurred_at FROM publish_attempts \
             WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 AND phase = 'sending' \
             ORDER BY occurred_at DESC, id DESC LIMIT 1",
        )
        .bind(key.workspace.as_uuid())
        .bind(key.post.as_uuid())
        .bind(key.channel.as_uuid())
        .fetch_optional(&mut *c)
        .await)?;
        let Some((sent_at,)) = sent_at else {
            tx.commit().await?;
            return Ok((None, Vec::new()));
        };
        let ids: Vec<(String,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT platform_post_id FROM publish_attempts \
             WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 \
             AND phase = 'answered' AND platform_post_id IS NOT NULL AND occurred_at >= $4 \
             ORDER BY occurred_at, id",
        )
        .bind(key.workspace.as_uuid())
        .bind(key.post.as_uuid())
        .bind(key.channel.as_uuid())
        .bind(sent_at)
        .fetch_all(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok((Some(sent_at), ids.into_iter().map(|(id,)| id).collect()))
    }

    /// Writes what reconciliation decided for `key` while `fence` still holds it, with an
    /// attempt row in phase `reconciled` (`detail` says what was looked at and found). `false`
    /// when the claim was lost: a person decided meanwhile, and their decision stands.
    pub async fn record_reconciled(
        &self,
        key: &TargetKey,
        fence: i64,
        worker: &str,
        decision: &Reconciliation,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Each decision binds exactly the parameters its statement names, after the key, the
        // fence and now ($1 to $5): PostgreSQL refuses a parameter it cannot type.
        let (set, texts, at): (&str, [Option<&str>; 3], Option<DateTime<Utc>>) = match decision {
            Reconciliation::Published { platform_post_id, url, remote_ids } => (
                "status = 'published', platform_post_id = $6, url = $7, published_at = $5, \
                 remote_ids = COALESCE($8, remote_ids), next_attempt_at = NULL, \
                 error = NULL, error_class = NULL, needs_report = true",
                [Some(platform_post_id.as_str()), url.as_deref(), remote_ids.as_deref()],
                None,
            ),
            Reconciliation::ThreadContinues { remote_ids } => (
                "status = 'pending', remote_ids = $6, next_attempt_at = $5, error = NULL, \
                 error_class = NULL",
                [Some(remote_ids.as_str()), None, None],
                None,
            ),
            Reconciliation::LookAgain { at } => (
                "reconcile_looks = reconcile_looks + 1, next_attempt_at = $6",
                [None; 3],
                Some(*at),
            ),
            Reconciliation::Retry => (
                "status = 'pending', absence_retried = true, next_attempt_at = $5, \
                 error = 'Nothing was found on the platform: sending it once more.', \
                 error_class = NULL",
                [None; 3],
                None,
            ),
            Reconciliation::AskPerson { missed, reason } => (
                if *missed {
                    "status = 'missed', next_attempt_at = NULL, error = $6, needs_report = true"
                } else {
                    "status = 'unknown', next_attempt_at = NULL, error = $6, needs_report = true"
                },
                [Some(reason.as_str()), None, None],
                None,
            ),
        };
        let text_params = match decision {
            Reconciliation::Published { .. } => 3,
            Reconciliation::ThreadContinues { .. } | Reconciliation::AskPerson { .. } => 1,
            Reconciliation::LookAgain { .. } | Reconciliation::Retry => 0,
        };
        let sql = format!(
            "UPDATE post_targets SET {set}, lease_owner = NULL, lease_expires_at = NULL \
             WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 AND fence = $4 \
             AND status = 'unknown' RETURNING attempts"
        );
        let mut tx = self.db.begin_in(Scope::Workspace(key.workspace)).await?;
        let applied: Option<(i32,)> = on_conn!(tx.conn(), |c| {
            let mut query = sqlx::query_as(&sql)
                .bind(key.workspace.as_uuid())
                .bind(key.post.as_uuid())
                .bind(key.channel.as_uuid())
                .bind(fence)
                .bind(now);
            for text in texts.iter().take(text_params) {
                query = query.bind(*text);
            }
            if let Some(at) = at {
                query = query.bind(at);
            }
            query.fetch_optional(&mut *c).await
        })?;
        let Some((attempt_no,)) = applied else {
            return Ok(false);
        };
        let (class, platform_post_id) = match decision {
            Reconciliation::Published { platform_post_id, .. } => {
                ("published", Some(platform_post_id.as_str()))
            }
            Reconciliation::ThreadContinues { .. } => ("published", None),
            Reconciliation::LookAgain { .. } => ("not_found_yet", None),
            Reconciliation::Retry => ("absent", None),
            Reconciliation::AskPerson { .. } => ("inconclusive", None),
        };
        on_conn!(tx.conn(), |c| sqlx::query(
            "INSERT INTO publish_attempts (workspace_id, id, post_id, channel_id, fence, \
             attempt_no, worker, phase, occurred_at, outcome_class, platform_post_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'reconciled', $8, $9, $10, $11)",
        )
        .bind(key.workspace.as_uuid())
        .bind(Uuid::now_v7())
        .bind(key.post.as_uuid())
        .bind(key.channel.as_uuid())
        .bind(fence)
        .bind(attempt_no.max(1))
        .bind(worker)
        .bind(now)
        .bind(class)
        .bind(platform_post_id)
        .bind(detail)
        .execute(&mut *c)
        .await
        .map(drop))?;
        tx.commit().await?;
        Ok(true)
    }
}

/// A target's key from its stored ids.
pub(super) fn key_of(workspace_id: Uuid, post_id: Uuid, channel_id: Uuid) -> TargetKey {
    TargetKey {
        workspace: WorkspaceId::from_uuid(workspace_id),
        post: PostId::from_uuid(post_id),
        channel: ChannelId::from_uuid(channel_id),
    }
}
