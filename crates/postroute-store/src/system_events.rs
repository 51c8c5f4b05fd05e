//! The staff-only system event log (S-LOG-2).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use postroute_domain::{NewSystemEvent, Severity, SystemEventId, UserId};
use sqlx::types::Json;
use uuid::Uuid;

use crate::StoreError;
use crate::pool::Db;

/// A system event as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSystemEvent {
    /// Its id.
    pub id: SystemEventId,
    /// When it was written.
    pub occurred_at: DateTime<Utc>,
    /// The event type, e.g. `login_failed`.
    pub event_type: String,
    /// How urgent it is.
    pub severity: Severity,
    /// Whether it belongs to the security class (kept forever).
    pub security: bool,
    /// The user who caused it, while that account exists.
    pub actor: Option<UserId>,
    /// The client address, when known.
    pub ip: Option<IpAddr>,
    /// Kind-specific facts.
    pub details: serde_json::Value,
}

#[derive(sqlx::FromRow)]
struct SystemEventRow {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    event_type: String,
    severity: String,
    security: bool,
    actor_user_id: Option<Uuid>,
    ip: Option<String>,
    details: Json<serde_json::Value>,
}

impl TryFrom<SystemEventRow> for StoredSystemEvent {
    type Error = StoreError;

    fn try_from(row: SystemEventRow) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::CorruptRow { table: "system_events", reason };
        Ok(Self {
            id: SystemEventId::from_uuid(row.id),
            occurred_at: row.occurred_at,
            severity: Severity::parse(&row.severity)
                .ok_or_else(|| corrupt(format!("severity `{}`", row.severity)))?,
            event_type: row.event_type,
            security: row.security,
            actor: row.actor_user_id.map(UserId::from_uuid),
            ip: row
                .ip
                .map(|ip| ip.parse().map_err(|_| corrupt(format!("ip `{ip}`"))))
                .transpose()?,
            details: row.details.0,
        })
    }
}

/// Which events to list.
#[derive(Clone, Debug, Default)]
pub struct SystemEventFilter {
    /// Only events of this type, e.g. `login_failed`.
    pub event_type: Option<String>,
    /// Only events of this severity.
    pub severity: Option<Severity>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
}

/// Rows deleted per statement by the retention job, so no statement holds the table for long.
const RETENTION_BATCH: i64 = 5_000;

/// Writes and reads the system event log.
#[derive(Debug)]
pub struct SystemEvents<'a> {
    db: &'a Db,
}

impl<'a> SystemEvents<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// Appends one event.
    pub async fn record(
        &self,
        event: &NewSystemEvent,
        occurred_at: DateTime<Utc>,
    ) -> Result<SystemEventId, StoreError> {
        let id = SystemEventId::new();
        on_writer!(self.db, |pool| sqlx::query(
            "INSERT INTO system_events \
             (id, occurred_at, event_type, severity, security, actor_user_id, ip, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_uuid())
        .bind(occurred_at)
        .bind(event.kind.as_str())
        .bind(event.kind.severity().as_str())
        .bind(event.kind.is_security())
        .bind(event.actor.map(|actor| actor.as_uuid()))
        .bind(event.ip.map(|ip| ip.to_string()))
        .bind(Json(&event.details))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(id)
    }

    /// The newest events first, at most `limit` of them.
    pub async fn recent(&self, limit: u32) -> Result<Vec<StoredSystemEvent>, StoreError> {
        let rows: Vec<SystemEventRow> = on_reader!(self.db, |pool| {
            sqlx::query_as(
                "SELECT id, occurred_at, event_type, severity, security, actor_user_id, ip, \
                 details \
                 FROM system_events \
                 ORDER BY occurred_at DESC, id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(StoredSystemEvent::try_from).collect()
    }

    /// Events the user caused, oldest first (for the GDPR export).
    pub async fn for_actor(&self, user: UserId) -> Result<Vec<StoredSystemEvent>, StoreError> {
        let rows: Vec<SystemEventRow> = on_reader!(self.db, |pool| {
            sqlx::query_as(
                "SELECT id, occurred_at, event_type, severity, security, actor_user_id, ip, \
                 details \
                 FROM system_events \
                 WHERE actor_user_id = $1 \
                 ORDER BY occurred_at, id",
            )
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(StoredSystemEvent::try_from).collect()
    }

    /// Events matching `filter`, newest first, at most `limit` after `cursor` (the last id of the
    /// previous page).
    pub async fn list(
        &self,
        filter: &SystemEventFilter,
        cursor: Option<SystemEventId>,
        limit: u32,
    ) -> Result<Vec<StoredSystemEvent>, StoreError> {
        let rows: Vec<SystemEventRow> = on_reader!(self.db, |pool| {
            sqlx::query_as(
                "SELECT id, occurred_at, event_type, severity, security, actor_user_id, ip, \
                 details \
                 FROM system_events \
                 WHERE ($1 IS NULL OR id < $1) AND ($2 IS NULL OR event_type = $2) AND ($3 IS NULL \
                 OR severity = $3) AND ($4 IS NULL OR occurred_at >= $4) AND ($5 IS NULL OR \
                 occurred_at < $5) \
                 ORDER BY id DESC LIMIT $6",
            )
            .bind(cursor.map(|id| id.as_uuid()))
            .bind(filter.event_type.as_deref())
            .bind(filter.severity.map(Severity::as_str))
            .bind(filter.since)
            .bind(filter.until)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })?;
        rows.into_iter().map(StoredSystemEvent::try_from).collect()
    }

    /// Deletes ordinary events that occurred before `before`; security events are kept forever
    /// (S-LOG-2). Works in batches; returns how many went.
    pub async fn delete_expired(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let batch = on_writer!(self.db, |pool| sqlx::query(
                "DELETE FROM system_events WHERE id IN (SELECT id FROM system_events \
                 WHERE NOT security AND occurred_at < $1 LIMIT $2)",
            )
            .bind(before)
            .bind(RETENTION_BATCH)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
            deleted += batch;
            if batch < u64::try_from(RETENTION_BATCH).unwrap_or(u64::MAX) {
                return Ok(deleted);
            }
        }
    }
}
