//! What a person does with a target the publisher could not settle: send it again, say it is
//! out (with its URL), or leave it unpublished.

use chrono::{DateTime, Utc};
use postroute_domain::publish::post_status_from_targets;
use postroute_domain::{ChannelId, NewAuditEntry, PostId, PostStatus, TargetStatus};

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

impl Tenant<'_> {
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
                "status = 'pending', next_attempt_at = $4, error = NULL, error_class = NULL"
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
        let sql = format!(
            "UPDATE post_targets SET {set} \
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
             WHERE workspace_id = $1 AND id = $2 AND status = 'publishing'",
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
