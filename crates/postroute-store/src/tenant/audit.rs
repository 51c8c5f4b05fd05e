//! The append-only audit log: written only inside the transaction of the action it records,
//! read page by page. There is no update or delete here, and on PostgreSQL the application
//! role holds neither privilege on the table.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use postroute_domain::{AuditAction, AuditEntryId, NewAuditEntry, UserId, WorkspaceId};
use sqlx::types::Json;
use uuid::Uuid;

use super::Tenant;
use crate::StoreError;
use crate::pool::Conn;

/// An entry as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    /// Its id.
    pub id: AuditEntryId,
    /// When the action happened.
    pub occurred_at: DateTime<Utc>,
    /// Who took it, while that account exists.
    pub actor: Option<UserId>,
    /// What it was, e.g. `member.role_changed`.
    pub action: String,
    /// What it was taken on (`user`, `invitation`, `workspace`).
    pub target_type: Option<String>,
    /// Its id.
    pub target_id: Option<String>,
    /// From where.
    pub ip: Option<IpAddr>,
    /// Action-specific facts.
    pub details: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    actor_user_id: Option<Uuid>,
    action: String,
    target_type: Option<String>,
    target_id: Option<String>,
    ip: Option<String>,
    details: Json<serde_json::Value>,
}

/// Which entries to list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only this actor.
    pub actor: Option<UserId>,
    /// At or after.
    pub since: Option<DateTime<Utc>>,
    /// Before.
    pub until: Option<DateTime<Utc>>,
}

/// Where the previous page ended: entries strictly older than this come next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditCursor {
    /// The last entry's time.
    pub occurred_at: DateTime<Utc>,
    /// The last entry's id (breaks ties between entries of one microsecond).
    pub id: AuditEntryId,
}

impl Tenant<'_> {
    /// Newest first, at most `limit` entries after `cursor`.
    pub async fn audit_log(
        &self,
        filter: &AuditFilter,
        cursor: Option<AuditCursor>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<AuditRow> = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
                "SELECT id, occurred_at, actor_user_id, action, target_type, target_id, ip, \
                 details \
                 FROM audit_log \
                 WHERE workspace_id = $1 AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR \
                 actor_user_id = $3) AND ($4 IS NULL OR occurred_at >= $4) AND ($5 IS NULL OR \
                 occurred_at < $5) AND ($6 IS NULL OR occurred_at < $6 OR (occurred_at = $6 AND \
                 id < $7)) \
                 ORDER BY occurred_at DESC, id DESC LIMIT $8",
            )
            .bind(self.workspace.as_uuid())
            .bind(filter.action.map(AuditAction::as_str))
            .bind(filter.actor.map(|actor| actor.as_uuid()))
            .bind(filter.since)
            .bind(filter.until)
            .bind(cursor.map(|cursor| cursor.occurred_at))
            .bind(cursor.map(|cursor| cursor.id.as_uuid()))
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
        })?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: AuditEntryId::from_uuid(row.id),
                    occurred_at: row.occurred_at,
                    actor: row.actor_user_id.map(UserId::from_uuid),
                    action: row.action,
                    target_type: row.target_type,
                    target_id: row.target_id,
                    ip: row
                        .ip
                        .map(|ip| {
                            ip.parse().map_err(|_| StoreError::CorruptRow {
                                table: "audit_log",
                                reason: format!("ip `{ip}`"),
                            })
                        })
                        .transpose()?,
                    details: row.details.0,
                })
            })
            .collect()
    }
}

/// Appends one entry; the only statement that writes the audit log.
pub(crate) async fn insert_entry(
    conn: Conn<'_>,
    workspace: WorkspaceId,
    entry: &NewAuditEntry,
    occurred_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO audit_log (workspace_id, id, occurred_at, actor_user_id, action, \
             target_type, target_id, ip, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(workspace.as_uuid())
        .bind(AuditEntryId::new().as_uuid())
        .bind(occurred_at)
        .bind(entry.actor.map(|actor| actor.as_uuid()))
        .bind(entry.action.as_str())
        .bind(entry.target.as_ref().map(|target| target.kind))
        .bind(entry.target.as_ref().map(|target| target.id.as_str()))
        .bind(entry.ip.map(|ip| ip.to_string()))
        .bind(Json(&entry.details))
        .execute(&mut *c)
        .await
        .map(drop)
    })?;
    Ok(())
}
