//! A channel's weekly posting slots, and the times its queue has already given away.

use chrono::{DateTime, Utc};
use postroute_domain::{ChannelId, NewAuditEntry, PostId};
use uuid::Uuid;

use super::{Tenant, audit};
use crate::StoreError;
use crate::dialect::RowLock;

/// One slot as stored: api.md's weekday name and `HH:MM`.
pub type StoredSlot = (String, String);

impl Tenant<'_> {
    /// The slots of `channel`, in no particular order; `None` when there is no such channel.
    pub async fn channel_slots(
        &self,
        channel: ChannelId,
    ) -> Result<Option<Vec<StoredSlot>>, StoreError> {
        let mut tx = self.begin_read().await?;
        let exists: Option<(Uuid,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT id FROM channels WHERE workspace_id = $1 AND id = $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(channel.as_uuid())
        .fetch_optional(&mut *c)
        .await)?;
        if exists.is_none() {
            return Ok(None);
        }
        let slots: Vec<StoredSlot> = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
            "SELECT weekday, time FROM channel_slots WHERE workspace_id = $1 AND channel_id = $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(channel.as_uuid())
        .fetch_all(&mut *c)
        .await
        })?;
        tx.commit().await?;
        Ok(Some(slots))
    }

    /// Replaces every slot of `channel` with `slots`, with its audit entry; `false` when there is
    /// no such channel. Two replacements at once leave one of the two whole, never a mix: the
    /// channel row is locked first.
    pub async fn replace_channel_slots(
        &self,
        channel: ChannelId,
        slots: &[StoredSlot],
        audit: &NewAuditEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT id FROM channels WHERE workspace_id = $1 AND id = $2 {}",
            RowLock::NoKeyUpdate.clause(self.db)
        );
        let exists: Option<(Uuid,)> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .bind(channel.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        if exists.is_none() {
            return Ok(false);
        }
        on_conn!(tx.conn(), |c| sqlx::query(
            "DELETE FROM channel_slots WHERE workspace_id = $1 AND channel_id = $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(channel.as_uuid())
        .execute(&mut *c)
        .await
        .map(drop))?;
        for (weekday, time) in slots {
            on_conn!(tx.conn(), |c| sqlx::query(
                "INSERT INTO channel_slots (workspace_id, channel_id, weekday, time) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(self.workspace.as_uuid())
            .bind(channel.as_uuid())
            .bind(weekday)
            .bind(time)
            .execute(&mut *c)
            .await
            .map(drop))?;
        }
        audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The slots of every channel in `channels` together, read in one transaction.
    pub async fn slots_of_channels(
        &self,
        channels: &[ChannelId],
    ) -> Result<Vec<StoredSlot>, StoreError> {
        let mut slots = Vec::new();
        let mut tx = self.begin_read().await?;
        for channel in channels {
            let rows: Vec<StoredSlot> = on_conn!(tx.conn(), |c| sqlx::query_as(
                "SELECT weekday, time FROM channel_slots \
                 WHERE workspace_id = $1 AND channel_id = $2",
            )
            .bind(self.workspace.as_uuid())
            .bind(channel.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
            slots.extend(rows);
        }
        tx.commit().await?;
        Ok(slots)
    }

    /// The times at or after `from` that other posts to any of `channels` already hold
    /// (written, in review, approved, scheduled or going out), so the queue gives each away
    /// once.
    pub async fn times_taken_on(
        &self,
        channels: &[ChannelId],
        except: PostId,
        from: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let mut taken = Vec::new();
        let mut tx = self.begin_read().await?;
        for channel in channels {
            let rows: Vec<(DateTime<Utc>,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
                "SELECT p.scheduled_at FROM posts p \
                 JOIN post_targets t ON t.workspace_id = p.workspace_id AND t.post_id = p.id \
                 WHERE p.workspace_id = $1 AND t.channel_id = $2 AND p.id <> $3 \
                 AND p.scheduled_at >= $4 \
                 AND p.status IN ('in_review', 'approved', 'scheduled', 'publishing')",
            )
            .bind(self.workspace.as_uuid())
            .bind(channel.as_uuid())
            .bind(except.as_uuid())
            .bind(from)
            .fetch_all(&mut *c)
            .await)?;
            taken.extend(rows.into_iter().map(|(at,)| at));
        }
        tx.commit().await?;
        Ok(taken)
    }
}
