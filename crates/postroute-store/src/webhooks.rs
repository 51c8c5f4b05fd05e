//! Verified webhook deliveries, one row per provider event (S-EDGE-2): the row is the
//! idempotency record that keeps a replay from being processed twice.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use crate::StoreError;
use crate::pool::Db;

/// Records webhook deliveries.
#[derive(Debug, Clone, Copy)]
pub struct WebhookEvents<'a> {
    db: &'a Db,
}

impl<'a> WebhookEvents<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// Records a verified delivery; `false` when this provider's event was recorded before (a
    /// replay or a re-delivery), in which case nothing changes.
    pub async fn record(
        &self,
        provider: &str,
        event_id: &str,
        payload: &serde_json::Value,
        received_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let inserted = on_writer!(self.db, |pool| sqlx::query(
            "INSERT INTO webhook_events (provider, event_id, received_at, payload) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (provider, event_id) DO NOTHING",
        )
        .bind(provider)
        .bind(event_id)
        .bind(received_at)
        .bind(Json(payload))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(inserted == 1)
    }

    /// How many deliveries of `provider` are recorded (for tests and operators).
    pub async fn count(&self, provider: &str) -> Result<i64, StoreError> {
        let (count,): (i64,) = on_reader!(self.db, |pool| sqlx::query_as(
            "SELECT count(*) FROM webhook_events WHERE provider = $1",
        )
        .bind(provider)
        .fetch_one(pool)
        .await)?;
        Ok(count)
    }
}
