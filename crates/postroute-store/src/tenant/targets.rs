//! What a person does with a target the publisher could not settle: send it again, say it is
//! out (with its URL), or leave it unpublished.

use chrono::{DateTime, Utc};
use postroute_domain::publish::post_status_from_targets;
use postroute_domain::{ChannelId, NewAuditEntry, PostId, PostStatus, TargetStatus, UserId};

use super::{Tenant, audit};
use crate::pool::Conn;
use crate::{NewOutboxEmail, StoreError};

/// A person's decision on one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetDecision<'a> {
    /// A `failed` or `missed` target goes to its platform again, now.
    Retry,
    /// An `unknown` target was found on its platform at `url`.
    MarkPublished {
        /// Where it can be seen.
        url: &'a str,
    },
    /// An `unknown` or `missed` target is left unpublished.
    Dismiss,
}

impl TargetDecision<'_> {
    /// The statuses the decision applies to.
    fn applies_to(&self) -> &'static str {
        match self {
            Self::Retry => "'failed', 'missed'",
            Self::MarkPublished { .. } => "'unknown'",
            Self::Dismiss => "'unknown', 'missed'",
        }
    }
}

/// What publishing one target reads before its first call: its post, its channel and the
/// channel's sealed tokens.
#[derive(Clone, Debug)]
pub struct PublishInputs {
    /// The post.
    pub post: crate::Post,
    /// The channel.
    pub channel: crate::Channel,
    /// The channel's tokens, sealed.
    pub tokens: crate::SealedTokens,
}

impl Tenant<'_> {
    /// The post, channel and sealed tokens for publishing `post` to `channel`, read in one
    /// transaction (one snapshot, and one round of `BEGIN`/`COMMIT` instead of three); `None`
    /// when any of them is gone.
    pub async fn publish_inputs(
        &self,
        post: PostId,
        channel: ChannelId,
    ) -> Result<Option<PublishInputs>, StoreError> {
        let mut tx = self.begin_read().await?;
        let post = self.select_post(tx.conn(), post).await?;
        let found = match post {
            None => None,
            Some(post) => match self.select_channel_with_tokens(tx.conn(), channel).await? {
                Some((channel, Some(tokens))) => Some(PublishInputs { post, channel, tokens }),
                _ => None,
            },
        };
        tx.commit().await?;
        Ok(found)
    }
}

/// The `error_code` of a target failed because its channel needs reconnecting: the channel's
/// email named it, so its report is an audit entry only.
pub const LOST_TO_RECONNECT: &str = "channel_needs_reconnect";
/// The `error_code` of a target failed because its channel was disconnected.
pub const LOST_TO_DISCONNECT: &str = "channel_disconnected";

/// Why a channel can no longer publish: what its failed targets say and how they are classed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChannelLoss {
    /// Its grant died: reconnecting it restores it.
    NeedsReconnect,
    /// Someone disconnected it.
    Disconnected,
}

impl ChannelLoss {
    /// `error`, `error_code` and `error_class` of the targets it fails.
    pub(crate) fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::NeedsReconnect => (
                "The platform no longer accepts this channel's access, so this post could not \
                 go out. Reconnect the channel, then retry.",
                LOST_TO_RECONNECT,
                "auth_dead",
            ),
            Self::Disconnected => (
                "The channel was disconnected before this post went out. Connect it again, then \
                 retry.",
                LOST_TO_DISCONNECT,
                "permanent",
            ),
        }
    }
}

/// A post waiting to go out on a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingPost {
    /// The post.
    pub post: PostId,
    /// Its text.
    pub content: String,
    /// When it is to go out.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Its author, while the account exists: id, address, name.
    pub author: Option<(UserId, String, String)>,
}

#[derive(sqlx::FromRow)]
struct WaitingRow {
    id: uuid::Uuid,
    content: String,
    scheduled_at: Option<DateTime<Utc>>,
    author_id: Option<uuid::Uuid>,
    email: Option<String>,
    name: Option<String>,
}

impl Tenant<'_> {
    /// The author of `post`, while the account exists: id, address, name.
    pub async fn post_author(
        &self,
        post: PostId,
    ) -> Result<Option<(UserId, String, String)>, StoreError> {
        let mut tx = self.begin_read().await?;
        let row: Option<(uuid::Uuid, String, String)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT u.id, u.email, u.name FROM posts p JOIN users u ON u.id = p.author_id \
             WHERE p.workspace_id = $1 AND p.id = $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(post.as_uuid())
        .fetch_optional(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(row.map(|(id, email, name)| (UserId::from_uuid(id), email, name)))
    }

    /// The posts with a pending target on `channel`, soonest first.
    pub async fn posts_waiting_on(
        &self,
        channel: ChannelId,
    ) -> Result<Vec<WaitingPost>, StoreError> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<WaitingRow> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT p.id, p.content, p.scheduled_at, p.author_id, u.email, u.name \
             FROM post_targets t \
             JOIN posts p ON p.workspace_id = t.workspace_id AND p.id = t.post_id \
             LEFT JOIN users u ON u.id = p.author_id \
             WHERE t.workspace_id = $1 AND t.channel_id = $2 AND t.status = 'pending' \
             ORDER BY p.scheduled_at, p.id",
        )
        .bind(self.workspace.as_uuid())
        .bind(channel.as_uuid())
        .fetch_all(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|row| WaitingPost {
                post: PostId::from_uuid(row.id),
                content: row.content,
                scheduled_at: row.scheduled_at,
                author: crate::publishing::author(row.author_id, row.email, row.name),
            })
            .collect())
    }

    /// Applies `decision` to the target of `post` on `channel`, with its audit entry, and
    /// brings the post's status in line. `None` when there is no such target; `Some(false)`
    /// when the target's status does not allow the decision (nothing changes then).
    pub async fn decide_target(
        &self,
        post: PostId,
        channel: ChannelId,
        decision: &TargetDecision<'_>,
        audit: &NewAuditEntry,
        now: DateTime<Utc>,
    ) -> Result<Option<bool>, StoreError> {
        let mut tx = self.begin().await?;
        let exists: Option<(String,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT status FROM post_targets \
             WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3",
        )
        .bind(self.workspace.as_uuid())
        .bind(post.as_uuid())
        .bind(channel.as_uuid())
        .fetch_optional(&mut *c)
        .await)?;
        if exists.is_none() {
            return Ok(None);
        }
        let set = match decision {
            TargetDecision::Retry => {
                "status = 'pending', next_attempt_at = $4, error = NULL, error_class = NULL, \
                 reconcile_looks = 0, absence_retried = false"
            }
            TargetDecision::MarkPublished { .. } => {
                "status = 'published', url = $5, published_at = $4, error = NULL, \
                 error_class = NULL"
            }
            TargetDecision::Dismiss => {
                "status = 'failed', next_attempt_at = NULL, \
                 error = 'Left unpublished by a person.'"
            }
        };
        // A person's decision fences out any reconciler still looking at the target, and
        // reports itself (its own audit entry).
        let sql = format!(
            "UPDATE post_targets SET {set}, fence = fence + 1, lease_owner = NULL, \
             lease_expires_at = NULL, needs_report = false \
             WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 \
             AND status IN ({})",
            decision.applies_to()
        );
        let url = match decision {
            TargetDecision::MarkPublished { url } => Some(*url),
            _ => None,
        };
        let changed = on_conn!(tx.conn(), |c| sqlx::query(&sql)
            .bind(self.workspace.as_uuid())
            .bind(post.as_uuid())
            .bind(channel.as_uuid())
            .bind(now)
            .bind(url)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if changed == 0 {
            return Ok(Some(false));
        }
        if *decision == TargetDecision::Retry {
            // The publisher claims targets of posts that are on their way.
            on_conn!(tx.conn(), |c| sqlx::query(
                "UPDATE posts SET status = 'publishing', version = version + 1, updated_at = $3 \
                 WHERE workspace_id = $1 AND id = $2",
            )
            .bind(self.workspace.as_uuid())
            .bind(post.as_uuid())
            .bind(now)
            .execute(&mut *c)
            .await
            .map(drop))?;
        } else {
            settle(tx.conn(), self, post, now).await?;
        }
        audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        tx.commit().await?;
        Ok(Some(true))
    }
}

impl Tenant<'_> {
    /// Returns a post still in review whose time has come to draft, with the reason
    /// `approval_expired` and the email that tells its author, in one transaction: a post
    /// nobody approved is never published. `false` when it changed meanwhile (approved,
    /// edited, moved), and then nothing is sent.
    pub async fn lapse_review(
        &self,
        post: PostId,
        version: i64,
        email: Option<&NewOutboxEmail<'_>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let lapsed = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE posts SET status = 'draft', status_reason = 'approval_expired', \
             version = version + 1, updated_at = $4 \
             WHERE workspace_id = $1 AND id = $2 AND version = $3 AND status = 'in_review' \
             AND scheduled_at <= $4",
        )
        .bind(self.workspace.as_uuid())
        .bind(post.as_uuid())
        .bind(version)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))?;
        if lapsed == 0 {
            return Ok(false);
        }
        if let Some(email) = email {
            crate::outbox::insert_email(tx.conn(), email).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

/// Brings a post's status in line with its targets once none is still on its way; returns the
/// status its targets give it.
pub(crate) async fn settle(
    mut conn: Conn<'_>,
    tenant: &Tenant<'_>,
    post: PostId,
    now: DateTime<Utc>,
) -> Result<Option<PostStatus>, StoreError> {
    let rows: Vec<(String,)> = on_conn!(&mut conn, |c| sqlx::query_as(
        "SELECT status FROM post_targets WHERE workspace_id = $1 AND post_id = $2",
    )
    .bind(tenant.workspace.as_uuid())
    .bind(post.as_uuid())
    .fetch_all(&mut **c)
    .await)?;
    let statuses = rows
        .iter()
        .map(|(status,)| {
            TargetStatus::parse(status).ok_or_else(|| StoreError::CorruptRow {
                table: "post_targets",
                reason: format!("status `{status}`"),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(status) = post_status_from_targets(statuses) else { return Ok(None) };
    if status != PostStatus::Publishing {
        on_conn!(&mut conn, |c| sqlx::query(
            "UPDATE posts SET status = $3, version = version + 1, updated_at = $4 \
             WHERE workspace_id = $1 AND id = $2 AND status IN ('publishing', 'scheduled')",
        )
        .bind(tenant.workspace.as_uuid())
        .bind(post.as_uuid())
        .bind(status.as_str())
        .bind(now)
        .execute(&mut **c)
        .await
        .map(drop))?;
    }
    Ok(Some(status))
}

/// Fails the pending targets of `channel`, which can no longer publish, with the reason for
/// people to read, and settles their posts: a post none of whose targets can go out shows
/// `failed` now, before its time, not after it. Returns the posts concerned.
pub(crate) async fn fail_for_lost_channel(
    tx: &mut crate::pool::Tx,
    tenant: &Tenant<'_>,
    channel: ChannelId,
    loss: ChannelLoss,
    now: DateTime<Utc>,
) -> Result<Vec<PostId>, StoreError> {
    let (error, code, class) = loss.columns();
    let posts: Vec<(uuid::Uuid,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
        "UPDATE post_targets SET status = 'failed', error = $3, error_code = $4, \
         error_class = $5, next_attempt_at = NULL, needs_report = true \
         WHERE workspace_id = $1 AND channel_id = $2 AND status = 'pending' \
         RETURNING post_id",
    )
    .bind(tenant.workspace.as_uuid())
    .bind(channel.as_uuid())
    .bind(error)
    .bind(code)
    .bind(class)
    .fetch_all(&mut *c)
    .await)?;
    let posts: Vec<PostId> = posts.into_iter().map(|(id,)| PostId::from_uuid(id)).collect();
    for post in &posts {
        settle(tx.conn(), tenant, *post, now).await?;
    }
    Ok(posts)
}
