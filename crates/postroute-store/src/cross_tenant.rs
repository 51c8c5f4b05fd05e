//! The escape hatch from tenant scope. Every read here can see every workspace, so its callers
//! are few and named: billing, webhook ingestion, the scheduler and staff endpoints. A test in
//! postroute-server fails when anything else calls `Store::cross_tenant_unscoped`.

use chrono::{DateTime, Utc};
use postroute_domain::{ChannelId, Provider, WorkspaceId};
use uuid::Uuid;

use crate::StoreError;
use crate::dialect::{Lease, claim_leased};
use crate::pool::{Db, Scope};
use crate::tenant::channels::{SealedTokens, TokenRow, reseal};
use crate::tenant::{WORKSPACE_COLUMNS, Workspace, WorkspaceRow};

/// A channel whose tokens are due for the token job.
#[derive(Clone, Debug)]
pub struct DueChannel {
    /// Its workspace.
    pub workspace: WorkspaceId,
    /// Its id.
    pub id: ChannelId,
    /// Its provider.
    pub provider: Provider,
    /// The platform's id of the account.
    pub external_id: String,
    /// Its display name.
    pub display_name: String,
    /// Its sealed tokens.
    pub tokens: SealedTokens,
    /// Consecutive failed checks so far.
    pub check_failures: i32,
}

#[derive(sqlx::FromRow)]
pub(crate) struct DueRow {
    workspace_id: Uuid,
    id: Uuid,
    provider: String,
    external_id: String,
    display_name: String,
    check_failures: i32,
    #[sqlx(flatten)]
    tokens: TokenRow,
}

/// A channel whose tokens are sealed under a key other than the current one.
#[derive(Clone, Debug)]
pub struct StaleChannel {
    /// Its workspace.
    pub workspace: WorkspaceId,
    /// Its id.
    pub id: ChannelId,
    /// Its sealed tokens.
    pub tokens: SealedTokens,
}

#[derive(sqlx::FromRow)]
struct StaleRow {
    workspace_id: Uuid,
    id: Uuid,
    #[sqlx(flatten)]
    tokens: TokenRow,
}

/// Access to every workspace at once. Obtained only from `Store::cross_tenant_unscoped`.
#[derive(Debug, Clone, Copy)]
pub struct CrossTenant<'a> {
    pub(crate) db: &'a Db,
    /// The publisher's shared commits.
    commits: &'a crate::publishing::GroupCommit,
}

impl<'a> CrossTenant<'a> {
    pub(crate) fn new(db: &'a Db, commits: &'a crate::publishing::GroupCommit) -> Self {
        Self { db, commits }
    }

    /// The publisher's claims, intents and outcomes on every workspace's post targets.
    pub fn publishing(&self) -> crate::Publishing<'a> {
        crate::Publishing::new(self.db, self.commits)
    }

    /// Logical copies of the whole database, every workspace at once, for encrypted backups.
    pub fn backups(&self) -> crate::Backups<'a> {
        crate::Backups::new(self.db)
    }

    /// Any live workspace by id, without a member to act for (a billing webhook's customer,
    /// a due post's workspace).
    pub async fn workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.id = $1 AND w.deleted_at IS NULL"
        );
        let mut tx = self.db.begin_read_in(Scope::CrossTenant).await?;
        let row: Option<WorkspaceRow> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        tx.commit().await?;
        row.map(Workspace::try_from).transpose()
    }

    /// Up to `limit` workspaces deleted before `deleted_before`, oldest first: the purge job's
    /// work.
    pub async fn deleted_workspaces(
        &self,
        deleted_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<WorkspaceId>, StoreError> {
        let mut tx = self.db.begin_read_in(Scope::CrossTenant).await?;
        let rows: Vec<(Uuid,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT id FROM workspaces WHERE deleted_at IS NOT NULL AND deleted_at < $1 \
             ORDER BY deleted_at LIMIT $2",
        )
        .bind(deleted_before)
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(rows.into_iter().map(|(id,)| WorkspaceId::from_uuid(id)).collect())
    }

    /// Claims active channels whose check is due, until `lease_until`: concurrent workers never
    /// claim the same channel, so refreshes of one account are serialised (X rotates refresh
    /// tokens: two concurrent refreshes would kill the grant).
    pub async fn claim_due_channels(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueChannel>, StoreError> {
        let lease = Lease {
            table: "channels",
            key: "workspace_id, id",
            lease_column: "check_locked_until",
            due: "status = 'active' AND next_check_at <= $1",
            order_by: "next_check_at",
            also_set: "",
            returning: "workspace_id, id, provider, external_id, display_name, check_failures, \
                        access_token, refresh_token, token_key_id, token_expires_at",
            owner: None,
            then: None,
        };
        let rows: Vec<DueRow> =
            claim_leased(self.db, Some(Scope::CrossTenant), &lease, now, lease_until, limit)
                .await?;
        due_channels(rows)
    }

    /// Up to `limit` channels whose tokens are sealed under a key other than `current_key_id`.
    pub async fn channels_sealed_with_other_keys(
        &self,
        current_key_id: &str,
        limit: u32,
    ) -> Result<Vec<StaleChannel>, StoreError> {
        let mut tx = self.db.begin_read_in(Scope::CrossTenant).await?;
        let rows: Vec<StaleRow> = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
                "SELECT workspace_id, id, access_token, refresh_token, token_key_id, \
                 token_expires_at \
                 FROM channels \
                 WHERE token_key_id IS NOT NULL AND token_key_id <> $1 \
                 ORDER BY workspace_id, id LIMIT $2",
            )
            .bind(current_key_id)
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await
        })?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                Some(StaleChannel {
                    workspace: WorkspaceId::from_uuid(row.workspace_id),
                    id: ChannelId::from_uuid(row.id),
                    tokens: row.tokens.sealed()?,
                })
            })
            .collect())
    }

    /// Replaces a channel's tokens with the same tokens sealed under another key, unless they
    /// changed since they were read (then the caller reads them again).
    pub async fn reseal_channel(
        &self,
        channel: &StaleChannel,
        resealed: &SealedTokens,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_in(Scope::CrossTenant).await?;
        let swapped =
            reseal(tx.conn(), channel.workspace, channel.id, &channel.tokens, resealed).await?;
        tx.commit().await?;
        Ok(swapped)
    }
}

/// Claimed rows as channels to check.
pub(crate) fn due_channels(rows: Vec<DueRow>) -> Result<Vec<DueChannel>, StoreError> {
    rows.into_iter()
        .filter_map(|row| {
            let provider = match row.provider.parse() {
                Ok(provider) => provider,
                Err(_) => {
                    return Some(Err(StoreError::CorruptRow {
                        table: "channels",
                        reason: format!("provider `{}`", row.provider),
                    }));
                }
            };
            Some(Ok(DueChannel {
                workspace: WorkspaceId::from_uuid(row.workspace_id),
                id: ChannelId::from_uuid(row.id),
                provider,
                external_id: row.external_id,
                display_name: row.display_name,
                check_failures: row.check_failures,
                tokens: row.tokens.sealed()?,
            }))
        })
        .collect()
}
