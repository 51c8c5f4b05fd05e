//! Telling people what became of their targets, and what holds publishing back beyond one
//! target: a channel blocked until its platform's rate limit resets, a provider paused for the
//! whole deployment.
//!
//! Every write that gives a target an outcome people must hear of sets `needs_report`; the
//! report pass reads those, and writes the audit entries and emails together with clearing the
//! flag, so an outcome is reported once, whatever crashes in between.

use chrono::{DateTime, Utc};
use postroute_domain::{ChannelId, NewAuditEntry, Provider, TargetStatus, UserId, WorkspaceId};
use uuid::Uuid;

use super::{Publishing, TargetKey, reconcile::key_of};
use crate::outbox::insert_email;
use crate::pool::Scope;
use crate::tenant::audit;
use crate::{NewOutboxEmail, StoreError};

/// A target whose outcome is to be reported.
#[derive(Clone, Debug)]
pub struct OutcomeReport {
    /// Which target.
    pub key: TargetKey,
    /// What it became: published, failed, missed, or unknown once a person must decide.
    pub status: TargetStatus,
    /// Why, in words.
    pub error: Option<String>,
    /// The stored `error_class`.
    pub error_class: Option<String>,
    /// The stored `error_code`: the platform's, or why the channel was lost.
    pub error_code: Option<String>,
    /// Where it can be seen, once published.
    pub url: Option<String>,
    /// The channel's platform.
    pub provider: Provider,
    /// The channel's name.
    pub channel_name: String,
    /// The workspace's name.
    pub workspace_name: String,
    /// The post's text.
    pub content: String,
    /// When it was to go out.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Its author, while the account exists: id, address, name.
    pub author: Option<(UserId, String, String)>,
}

#[derive(sqlx::FromRow)]
struct ReportRow {
    workspace_id: Uuid,
    post_id: Uuid,
    channel_id: Uuid,
    status: String,
    error: Option<String>,
    error_class: Option<String>,
    error_code: Option<String>,
    url: Option<String>,
    provider: String,
    channel_name: String,
    workspace_name: String,
    content: String,
    scheduled_at: Option<DateTime<Utc>>,
    author_id: Option<Uuid>,
    email: Option<String>,
    name: Option<String>,
}

/// A provider's publishing paused for the whole deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderPause {
    /// Until when.
    pub until: DateTime<Utc>,
    /// Why, in the platform's words.
    pub reason: String,
}

impl Publishing<'_> {
    /// Up to `limit` targets whose outcome is not reported yet, a post's targets together.
    pub async fn reports_due(&self, limit: u32) -> Result<Vec<OutcomeReport>, StoreError> {
        let mut tx = self.db.begin_read_in(Scope::CrossTenant).await?;
        let rows: Vec<ReportRow> = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
            "SELECT t.workspace_id, t.post_id, t.channel_id, t.status, t.error, t.error_class, \
             t.error_code, t.url, c.provider, c.display_name AS channel_name, w.name AS workspace_name, \
             p.content, p.scheduled_at, p.author_id, u.email, u.name \
             FROM post_targets t \
             JOIN posts p ON p.workspace_id = t.workspace_id AND p.id = t.post_id \
             JOIN channels c ON c.workspace_id = t.workspace_id AND c.id = t.channel_id \
             JOIN workspaces w ON w.id = t.workspace_id \
             LEFT JOIN users u ON u.id = p.author_id \
             WHERE t.needs_report \
             ORDER BY t.workspace_id, t.post_id, t.position LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await
        })?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| {
                let corrupt =
                    |what: String| StoreError::CorruptRow { table: "post_targets", reason: what };
                Ok(OutcomeReport {
                    key: key_of(row.workspace_id, row.post_id, row.channel_id),
                    status: TargetStatus::parse(&row.status)
                        .ok_or_else(|| corrupt(format!("status `{}`", row.status)))?,
                    error: row.error,
                    error_class: row.error_class,
                    error_code: row.error_code,
                    url: row.url,
                    provider: row
                        .provider
                        .parse()
                        .map_err(|_| corrupt(format!("provider `{}`", row.provider)))?,
                    channel_name: row.channel_name,
                    workspace_name: row.workspace_name,
                    content: row.content,
                    scheduled_at: row.scheduled_at,
                    author: crate::publishing::author(row.author_id, row.email, row.name),
                })
            })
            .collect()
    }

    /// Marks the targets of one workspace reported, each only while it still has the status it
    /// was reported with, and writes the audit entries and emails in the same transaction.
    /// Returns how many targets were still as reported; with none, nothing is written (a person
    /// acted meanwhile, and the report would be stale).
    pub async fn mark_reported(
        &self,
        workspace: WorkspaceId,
        targets: &[(TargetKey, TargetStatus)],
        audit_entries: &[NewAuditEntry],
        emails: &[NewOutboxEmail<'_>],
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut tx = self.db.begin_in(Scope::Workspace(workspace)).await?;
        let mut still = 0;
        for (key, status) in targets {
            let cleared = on_conn!(tx.conn(), |c| sqlx::query(
                "UPDATE post_targets SET needs_report = false \
                 WHERE workspace_id = $1 AND post_id = $2 AND channel_id = $3 \
                 AND needs_report AND status = $4",
            )
            .bind(key.workspace.as_uuid())
            .bind(key.post.as_uuid())
            .bind(key.channel.as_uuid())
            .bind(status.as_str())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
            still += usize::try_from(cleared).unwrap_or(0);
        }
        if still == 0 {
            return Ok(0);
        }
        for entry in audit_entries {
            audit::insert_entry(tx.conn(), workspace, entry, now).await?;
        }
        for email in emails {
            insert_email(tx.conn(), email).await?;
        }
        tx.commit().await?;
        Ok(still)
    }

    /// How many targets are due now and not yet claimed, and how many are `unknown`: the
    /// publisher's backlog and what waits on reconciliation or a person, for the gauges.
    pub async fn backlog(&self, now: DateTime<Utc>) -> Result<(i64, i64), StoreError> {
        let mut tx = self.db.begin_read_in(Scope::CrossTenant).await?;
        let due_sql = format!("SELECT COUNT(*) FROM post_targets WHERE {}", super::DUE);
        let (due,): (i64,) =
            on_conn!(tx.conn(), |c| sqlx::query_as(&due_sql).bind(now).fetch_one(&mut *c).await)?;
        let (unknown,): (i64,) = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT COUNT(*) FROM post_targets WHERE status = 'unknown'",
        )
        .fetch_one(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok((due, unknown))
    }

    /// Holds back every target of `channel` until `until`: the platform's rate limit is per
    /// account, so the next one would be refused too.
    pub async fn block_channel(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_in(Scope::Workspace(workspace)).await?;
        on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE channels SET publish_blocked_until = $3 \
             WHERE workspace_id = $1 AND id = $2 \
             AND (publish_blocked_until IS NULL OR publish_blocked_until < $3)",
        )
        .bind(workspace.as_uuid())
        .bind(channel.as_uuid())
        .bind(until)
        .execute(&mut *c)
        .await
        .map(drop))?;
        tx.commit().await?;
        Ok(())
    }

    /// Pauses `provider` for every workspace until `until` (extending a shorter pause). `true`
    /// when it was not paused at `now`: the first to notice raises the alarm.
    pub async fn pause_provider(
        &self,
        provider: Provider,
        until: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_in(Scope::CrossTenant).await?;
        let was_paused: Option<(DateTime<Utc>,)> = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
            "SELECT paused_until FROM provider_pauses WHERE provider = $1 AND paused_until > $2",
        )
        .bind(provider.as_str())
        .bind(now)
        .fetch_optional(&mut *c)
        .await
        })?;
        on_conn!(tx.conn(), |c| sqlx::query(
            "INSERT INTO provider_pauses (provider, paused_until, paused_at, reason) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (provider) DO UPDATE SET paused_until = excluded.paused_until, \
             reason = excluded.reason, \
             paused_at = CASE WHEN provider_pauses.paused_until > excluded.paused_at \
             THEN provider_pauses.paused_at ELSE excluded.paused_at END \
             WHERE provider_pauses.paused_until < excluded.paused_until",
        )
        .bind(provider.as_str())
        .bind(until)
        .bind(now)
        .bind(reason)
        .execute(&mut *c)
        .await
        .map(drop))?;
        tx.commit().await?;
        Ok(was_paused.is_none())
    }

    /// Ends a provider's pause now (an operator topped up the credits). `false` when it was
    /// not paused.
    pub async fn resume_provider(
        &self,
        provider: Provider,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_in(Scope::CrossTenant).await?;
        let resumed = on_conn!(tx.conn(), |c| sqlx::query(
            "DELETE FROM provider_pauses WHERE provider = $1 AND paused_until > $2",
        )
        .bind(provider.as_str())
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))?;
        tx.commit().await?;
        Ok(resumed > 0)
    }

    /// The pause on `provider` in force at `now`, if any.
    pub async fn provider_pause(
        &self,
        provider: Provider,
        now: DateTime<Utc>,
    ) -> Result<Option<ProviderPause>, StoreError> {
        let mut tx = self.db.begin_read_in(Scope::CrossTenant).await?;
        let row: Option<(DateTime<Utc>, String)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT paused_until, reason FROM provider_pauses \
             WHERE provider = $1 AND paused_until > $2",
        )
        .bind(provider.as_str())
        .bind(now)
        .fetch_optional(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(row.map(|(until, reason)| ProviderPause { until, reason }))
    }
}
