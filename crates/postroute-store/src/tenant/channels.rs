//! Channels of a workspace and their sealed tokens. The storage layer never sees a token in the
//! clear: it stores what the server sealed (AES-256-GCM, bound to workspace, channel and field).

use chrono::{DateTime, Utc};
use postroute_domain::{ChannelId, ChannelStatus, NewAuditEntry, Provider, UserId, WorkspaceId};
use uuid::Uuid;

use super::targets::ChannelLoss;
use super::{Tenant, audit};
use crate::StoreError;
use crate::dialect::RowLock;
use crate::outbox::{NewOutboxEmail, insert_email};
use crate::pool::Conn;

/// A channel as listed (never with token material).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Its id.
    pub id: ChannelId,
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// Where it publishes.
    pub provider: Provider,
    /// The platform's id of the account.
    pub external_id: String,
    /// Name shown in the UI.
    pub display_name: String,
    /// Avatar.
    pub avatar_url: Option<String>,
    /// Whether it can publish.
    pub status: ChannelStatus,
    /// First connected.
    pub connected_at: DateTime<Utc>,
    /// Who connected it.
    pub connected_by: Option<UserId>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When the access token expires (null for tokens that do not).
    pub token_expires_at: Option<DateTime<Utc>>,
    /// The last token-job failure.
    pub last_error: Option<String>,
}

/// A channel's tokens as stored: sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedTokens {
    /// The sealed access token.
    pub access_token: Vec<u8>,
    /// The sealed refresh token, where the platform has one.
    pub refresh_token: Option<Vec<u8>>,
    /// The key both are sealed with.
    pub key_id: String,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SealedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedTokens")
            .field("key_id", &self.key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The account a connection found.
#[derive(Clone, Debug)]
pub struct ChannelAccount<'a> {
    /// Where it publishes.
    pub provider: Provider,
    /// The platform's id.
    pub external_id: &'a str,
    /// Name shown.
    pub display_name: &'a str,
    /// Avatar.
    pub avatar_url: Option<&'a str>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChannelRow {
    workspace_id: Uuid,
    id: Uuid,
    provider: String,
    external_id: String,
    display_name: String,
    avatar_url: Option<String>,
    status: String,
    connected_at: DateTime<Utc>,
    connected_by: Option<Uuid>,
    updated_at: DateTime<Utc>,
    token_expires_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
}

pub(crate) const CHANNEL_COLUMNS: &str = "workspace_id, id, provider, external_id, display_name, \
     avatar_url, status, connected_at, connected_by, updated_at, token_expires_at, last_error";

impl TryFrom<ChannelRow> for Channel {
    type Error = StoreError;

    fn try_from(row: ChannelRow) -> Result<Self, StoreError> {
        let corrupt = |reason: String| StoreError::CorruptRow { table: "channels", reason };
        Ok(Self {
            id: ChannelId::from_uuid(row.id),
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            provider: row
                .provider
                .parse()
                .map_err(|_| corrupt(format!("provider `{}`", row.provider)))?,
            status: ChannelStatus::parse(&row.status)
                .ok_or_else(|| corrupt(format!("status `{}`", row.status)))?,
            external_id: row.external_id,
            display_name: row.display_name,
            avatar_url: row.avatar_url,
            connected_at: row.connected_at,
            connected_by: row.connected_by.map(UserId::from_uuid),
            updated_at: row.updated_at,
            token_expires_at: row.token_expires_at,
            last_error: row.last_error,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct TokenRow {
    pub(crate) access_token: Option<Vec<u8>>,
    pub(crate) refresh_token: Option<Vec<u8>>,
    pub(crate) token_key_id: Option<String>,
    pub(crate) token_expires_at: Option<DateTime<Utc>>,
}

impl TokenRow {
    pub(crate) fn sealed(self) -> Option<SealedTokens> {
        Some(SealedTokens {
            access_token: self.access_token?,
            refresh_token: self.refresh_token,
            key_id: self.token_key_id?,
            expires_at: self.token_expires_at,
        })
    }
}

/// What saving a connection did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Saved {
    /// A new channel.
    Created,
    /// The account was connected before: its channel is active again with new tokens.
    Reconnected,
    /// A concurrent connection of the same account won with another channel id: seal for that
    /// id and save again.
    IdChanged(ChannelId),
    /// The plan's channel limit is reached; nothing was written.
    LimitReached,
}

impl Tenant<'_> {
    /// Every channel, oldest first.
    pub async fn channels(&self) -> Result<Vec<Channel>, StoreError> {
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS} \
             FROM channels \
             WHERE workspace_id = $1 \
             ORDER BY connected_at, id"
        );
        let mut tx = self.begin_read().await?;
        let rows: Vec<ChannelRow> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        tx.commit().await?;
        rows.into_iter().map(Channel::try_from).collect()
    }

    /// One channel.
    pub async fn channel(&self, id: ChannelId) -> Result<Option<Channel>, StoreError> {
        let mut tx = self.begin_read().await?;
        let channel = self.select_channel(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(channel)
    }

    /// A channel's sealed tokens, if it has any.
    pub async fn channel_tokens(&self, id: ChannelId) -> Result<Option<SealedTokens>, StoreError> {
        let mut tx = self.begin_read().await?;
        let tokens = self.select_channel_tokens(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(tokens)
    }

    pub(super) async fn select_channel(
        &self,
        mut conn: Conn<'_>,
        id: ChannelId,
    ) -> Result<Option<Channel>, StoreError> {
        let sql =
            format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE workspace_id = $1 AND id = $2");
        let row: Option<ChannelRow> = on_conn!(&mut conn, |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(&mut **c)
            .await)?;
        row.map(Channel::try_from).transpose()
    }

    /// The channel and its sealed tokens in one statement, for the publisher.
    pub(super) async fn select_channel_with_tokens(
        &self,
        mut conn: Conn<'_>,
        id: ChannelId,
    ) -> Result<Option<(Channel, Option<SealedTokens>)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            channel: ChannelRow,
            #[sqlx(flatten)]
            tokens: TokenRow,
        }
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS}, access_token, refresh_token, token_key_id \
             FROM channels WHERE workspace_id = $1 AND id = $2"
        );
        let row: Option<Row> = on_conn!(&mut conn, |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(&mut **c)
            .await)?;
        row.map(|row| Ok((Channel::try_from(row.channel)?, row.tokens.sealed()))).transpose()
    }

    pub(super) async fn select_channel_tokens(
        &self,
        mut conn: Conn<'_>,
        id: ChannelId,
    ) -> Result<Option<SealedTokens>, StoreError> {
        let row: Option<TokenRow> = on_conn!(&mut conn, |c| sqlx::query_as(
            "SELECT access_token, refresh_token, token_key_id, token_expires_at FROM channels \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&mut **c)
        .await)?;
        Ok(row.and_then(TokenRow::sealed))
    }

    /// Channels that count against the plan: everything not disconnected.
    pub async fn connected_channel_count(&self) -> Result<i64, StoreError> {
        let mut tx = self.begin_read().await?;
        let (count,): (i64,) = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
                "SELECT count(*) FROM channels WHERE workspace_id = $1 AND \
                 status <> 'disconnected'",
            )
            .bind(self.workspace.as_uuid())
            .fetch_one(&mut *c)
            .await
        })?;
        tx.commit().await?;
        Ok(count)
    }

    /// The channel id an account has here, if it was ever connected.
    pub async fn channel_id_for(
        &self,
        provider: Provider,
        external_id: &str,
    ) -> Result<Option<ChannelId>, StoreError> {
        let mut tx = self.begin_read().await?;
        let id: Option<(Uuid,)> = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
                "SELECT id \
                 FROM channels \
                 WHERE workspace_id = $1 AND provider = $2 AND external_id = $3",
            )
            .bind(self.workspace.as_uuid())
            .bind(provider.as_str())
            .bind(external_id)
            .fetch_optional(&mut *c)
            .await
        })?;
        tx.commit().await?;
        Ok(id.map(|(id,)| ChannelId::from_uuid(id)))
    }

    /// Saves a connection under `id`, with tokens sealed for that id: a new channel, or the
    /// account's existing channel made active again (its posts stay with it).
    #[expect(clippy::too_many_arguments, reason = "one row's worth of facts, each named")]
    pub async fn save_connection(
        &self,
        id: ChannelId,
        account: &ChannelAccount<'_>,
        tokens: &SealedTokens,
        connected_by: UserId,
        next_check_at: Option<DateTime<Utc>>,
        max_channels: Option<u32>,
        now: DateTime<Utc>,
        audit: impl FnOnce(bool) -> NewAuditEntry,
    ) -> Result<Saved, StoreError> {
        let mut tx = self.begin().await?;
        crate::dialect::lock_workspace(tx.conn(), self.workspace).await?;
        let existing: Option<(Uuid, String)> = on_conn!(tx.conn(), |c| {
            sqlx::query_as(&format!(
                "SELECT id, status \
                 FROM channels \
                 WHERE workspace_id = $1 AND provider = $2 AND external_id = $3 {}",
                RowLock::Update.clause(self.db)
            ))
            .bind(self.workspace.as_uuid())
            .bind(account.provider.as_str())
            .bind(account.external_id)
            .fetch_optional(&mut *c)
            .await
        })?;
        let adds_a_channel = existing.as_ref().is_none_or(|(_, status)| status == "disconnected");
        if let Some(limit) = max_channels
            && adds_a_channel
        {
            let (connected,): (i64,) = on_conn!(tx.conn(), |c| {
                sqlx::query_as(
                    "SELECT count(*) \
                     FROM channels \
                     WHERE workspace_id = $1 AND status <> 'disconnected'",
                )
                .bind(self.workspace.as_uuid())
                .fetch_one(&mut *c)
                .await
            })?;
            if connected >= i64::from(limit) {
                return Ok(Saved::LimitReached);
            }
        }
        let reconnected = match existing {
            Some((existing, _)) if existing != id.as_uuid() => {
                return Ok(Saved::IdChanged(ChannelId::from_uuid(existing)));
            }
            Some(_) => {
                on_conn!(tx.conn(), |c| {
                    sqlx::query(
                        "UPDATE channels \
                         SET display_name = $3, avatar_url = $4, status = 'active', \
                         access_token = $5, refresh_token = $6, token_key_id = $7, \
                         token_expires_at = $8, next_check_at = $9, check_failures = 0, \
                         check_locked_until = NULL, last_error = NULL, updated_at = $10 \
                         WHERE workspace_id = $1 AND id = $2",
                    )
                    .bind(self.workspace.as_uuid())
                    .bind(id.as_uuid())
                    .bind(account.display_name)
                    .bind(account.avatar_url)
                    .bind(&tokens.access_token)
                    .bind(tokens.refresh_token.as_deref())
                    .bind(&tokens.key_id)
                    .bind(tokens.expires_at)
                    .bind(next_check_at)
                    .bind(now)
                    .execute(&mut *c)
                    .await
                    .map(drop)
                })?;
                true
            }
            None => {
                on_conn!(tx.conn(), |c| {
                    sqlx::query(
                        "INSERT INTO channels (workspace_id, id, provider, external_id, \
                         display_name, avatar_url, status, connected_at, connected_by, updated_at, \
                         access_token, refresh_token, token_key_id, token_expires_at, \
                         next_check_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $7, $9, $10, $11, $12, \
                         $13)",
                    )
                    .bind(self.workspace.as_uuid())
                    .bind(id.as_uuid())
                    .bind(account.provider.as_str())
                    .bind(account.external_id)
                    .bind(account.display_name)
                    .bind(account.avatar_url)
                    .bind(now)
                    .bind(connected_by.as_uuid())
                    .bind(&tokens.access_token)
                    .bind(tokens.refresh_token.as_deref())
                    .bind(&tokens.key_id)
                    .bind(tokens.expires_at)
                    .bind(next_check_at)
                    .execute(&mut *c)
                    .await
                    .map(drop)
                })?;
                false
            }
        };
        audit::insert_entry(tx.conn(), self.workspace, &audit(reconnected), now).await?;
        tx.commit().await?;
        Ok(if reconnected { Saved::Reconnected } else { Saved::Created })
    }

    /// Disconnects a channel: deletes its tokens (returned, so they can be revoked at the
    /// platform) and records who did it. `None` when there is no such channel.
    pub async fn disconnect_channel(
        &self,
        id: ChannelId,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<Option<Option<SealedTokens>>, StoreError> {
        let mut tx = self.begin().await?;
        let tokens: Option<TokenRow> = on_conn!(tx.conn(), |c| sqlx::query_as(&format!(
            "SELECT access_token, refresh_token, token_key_id, token_expires_at FROM channels \
             WHERE workspace_id = $1 AND id = $2 AND status <> 'disconnected' {}",
            RowLock::Update.clause(self.db)
        ))
        .bind(self.workspace.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&mut *c)
        .await)?;
        let Some(tokens) = tokens else {
            return Ok(None);
        };
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE channels \
                 SET status = 'disconnected', access_token = NULL, refresh_token = NULL, \
                 token_key_id = NULL, token_expires_at = NULL, next_check_at = NULL, \
                 updated_at = $3 \
                 WHERE workspace_id = $1 AND id = $2",
            )
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(now)
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
        super::targets::fail_for_lost_channel(&mut tx, self, id, ChannelLoss::Disconnected, now)
            .await?;
        audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        tx.commit().await?;
        Ok(Some(tokens.sealed()))
    }

    /// Stores tokens a refresh returned, replacing the old ones in one statement (X rotates its
    /// refresh token: the new one is written before the old is forgotten), and releases the
    /// channel's claim. `false` when the channel is no longer active.
    pub async fn store_refreshed_tokens(
        &self,
        id: ChannelId,
        tokens: &SealedTokens,
        next_check_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let updated = on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE channels \
                 SET access_token = $3, refresh_token = $4, token_key_id = $5, \
                 token_expires_at = $6, next_check_at = $7, check_failures = 0, \
                 check_locked_until = NULL, last_error = NULL, updated_at = $8 \
                 WHERE workspace_id = $1 AND id = $2 AND status = 'active'",
            )
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(&tokens.access_token)
            .bind(tokens.refresh_token.as_deref())
            .bind(&tokens.key_id)
            .bind(tokens.expires_at)
            .bind(next_check_at)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected())
        })?;
        tx.commit().await?;
        Ok(updated > 0)
    }

    /// Records a check that found nothing wrong, and when to look again.
    pub async fn record_check_passed(
        &self,
        id: ChannelId,
        next_check_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.update_check(id, None, next_check_at, false).await
    }

    /// Records a failure worth retrying; the channel stays active.
    pub async fn record_check_failed(
        &self,
        id: ChannelId,
        error: &str,
        next_check_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.update_check(id, Some(error), next_check_at, true).await
    }

    async fn update_check(
        &self,
        id: ChannelId,
        error: Option<&str>,
        next_check_at: DateTime<Utc>,
        failed: bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE channels SET next_check_at = $3, last_error = $4, check_locked_until = NULL, \
             check_failures = CASE WHEN $5 THEN check_failures + 1 ELSE 0 END \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(id.as_uuid())
        .bind(next_check_at)
        .bind(error)
        .bind(failed)
        .execute(&mut *c)
        .await
        .map(drop))?;
        tx.commit().await
    }

    /// Claims one active channel for a refresh now, as `CrossTenant::claim_due_channels` would
    /// when it is due: the publisher's forced refresh after a 401 takes the same claim as the
    /// token job, so the two never refresh one account at once. `None` while another holds it.
    pub async fn claim_channel_now(
        &self,
        channel: ChannelId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<crate::DueChannel>, StoreError> {
        let mut tx = self.begin().await?;
        let row: Option<crate::cross_tenant::DueRow> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "UPDATE channels SET check_locked_until = $4 \
             WHERE workspace_id = $1 AND id = $2 AND status = 'active' \
             AND (check_locked_until IS NULL OR check_locked_until <= $3) \
             RETURNING workspace_id, id, provider, external_id, display_name, check_failures, \
             access_token, refresh_token, token_key_id, token_expires_at",
        )
        .bind(self.workspace.as_uuid())
        .bind(channel.as_uuid())
        .bind(now)
        .bind(lease_until)
        .fetch_optional(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(crate::cross_tenant::due_channels(row.into_iter().collect())?.pop())
    }

    /// The platform refused the channel's grant for good: marks it `needs_reconnect` and fails
    /// its pending targets. Only the transition from active writes the audit entry and queues
    /// `emails` (one incident, one notice naming the posts); returns whether this call made the
    /// transition.
    pub async fn mark_needs_reconnect(
        &self,
        id: ChannelId,
        error: &str,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
        emails: &[NewOutboxEmail<'_>],
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let changed = on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE channels \
                 SET status = 'needs_reconnect', last_error = $3, check_locked_until = NULL, \
                 next_check_at = NULL, updated_at = $4 \
                 WHERE workspace_id = $1 AND id = $2 AND status = 'active'",
            )
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(error)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected())
        })?;
        if changed == 0 {
            return Ok(false);
        }
        // The channel's email names these posts: their reports add audit entries, no email.
        super::targets::fail_for_lost_channel(&mut tx, self, id, ChannelLoss::NeedsReconnect, now)
            .await?;
        audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        for email in emails {
            insert_email(tx.conn(), email).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

pub(crate) async fn reseal(
    conn: Conn<'_>,
    workspace: WorkspaceId,
    id: ChannelId,
    old: &SealedTokens,
    new: &SealedTokens,
) -> Result<bool, StoreError> {
    // Compare-and-swap on the old ciphertext: a refresh that wrote new tokens meanwhile wins.
    let updated = on_conn!(conn, |c| sqlx::query(
        "UPDATE channels SET access_token = $5, refresh_token = $6, token_key_id = $7 \
         WHERE workspace_id = $1 AND id = $2 AND access_token = $3 AND token_key_id = $4",
    )
    .bind(workspace.as_uuid())
    .bind(id.as_uuid())
    .bind(&old.access_token)
    .bind(&old.key_id)
    .bind(&new.access_token)
    .bind(new.refresh_token.as_deref())
    .bind(&new.key_id)
    .execute(&mut *c)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(updated > 0)
}
