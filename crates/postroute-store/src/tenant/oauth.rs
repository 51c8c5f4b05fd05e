//! Connections in progress: the single-use OAuth `state` of each, and Meta logins whose Pages
//! or Instagram accounts wait for the user to pick.

use chrono::{DateTime, Utc};
use postroute_domain::{PendingConnectionId, Provider, UserId};
use uuid::Uuid;

use super::Tenant;
use crate::StoreError;

/// A connection that was started.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthState {
    /// Who started it.
    pub user: UserId,
    /// With which provider.
    pub provider: Provider,
    /// The sealed PKCE verifier (X).
    pub pkce_verifier: Option<Vec<u8>>,
}

impl std::fmt::Debug for OAuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthState")
            .field("user", &self.user)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct StateRow {
    user_id: Uuid,
    provider: String,
    pkce_verifier: Option<Vec<u8>>,
}

/// A Meta login waiting for the user's choice.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingConnection {
    /// Its id.
    pub id: PendingConnectionId,
    /// Facebook or Instagram.
    pub provider: Provider,
    /// The sealed candidates (Page tokens included).
    pub candidates: Vec<u8>,
    /// Until when the choice can be made.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for PendingConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingConnection")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: Uuid,
    provider: String,
    candidates: Vec<u8>,
    expires_at: DateTime<Utc>,
}

fn provider(value: &str, table: &'static str) -> Result<Provider, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::CorruptRow { table, reason: format!("provider `{value}`") })
}

impl Tenant<'_> {
    /// Remembers a started connection under the SHA-256 of its `state`.
    pub async fn record_oauth_state(
        &self,
        state_hash: &[u8],
        user: UserId,
        provider: Provider,
        pkce_verifier: Option<&[u8]>,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "INSERT INTO oauth_states (workspace_id, state_hash, user_id, provider, \
                 pkce_verifier, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(self.workspace.as_uuid())
            .bind(state_hash)
            .bind(user.as_uuid())
            .bind(provider.as_str())
            .bind(pkce_verifier)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
        tx.commit().await
    }

    /// Uses a state: one conditional update, so a state works once and only before it expires.
    pub async fn take_oauth_state(
        &self,
        state_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<OAuthState>, StoreError> {
        let mut tx = self.begin().await?;
        let row: Option<StateRow> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "UPDATE oauth_states SET used_at = $3 \
             WHERE workspace_id = $1 AND state_hash = $2 AND used_at IS NULL AND expires_at > $3 \
             RETURNING user_id, provider, pkce_verifier",
        )
        .bind(self.workspace.as_uuid())
        .bind(state_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await)?;
        tx.commit().await?;
        row.map(|row| {
            Ok(OAuthState {
                user: UserId::from_uuid(row.user_id),
                provider: provider(&row.provider, "oauth_states")?,
                pkce_verifier: row.pkce_verifier,
            })
        })
        .transpose()
    }

    /// Keeps a Meta login's candidates for the user to choose from.
    pub async fn save_pending_connection(
        &self,
        pending: &PendingConnection,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "INSERT INTO pending_connections (workspace_id, id, user_id, provider, candidates, \
                 created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(self.workspace.as_uuid())
            .bind(pending.id.as_uuid())
            .bind(user.as_uuid())
            .bind(pending.provider.as_str())
            .bind(&pending.candidates)
            .bind(now)
            .bind(pending.expires_at)
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
        tx.commit().await
    }

    /// The user's own unexpired, unused pending connection.
    pub async fn pending_connection(
        &self,
        id: PendingConnectionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingConnection>, StoreError> {
        self.pending(id, user, now, false).await
    }

    /// Uses the pending connection (once).
    pub async fn take_pending_connection(
        &self,
        id: PendingConnectionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingConnection>, StoreError> {
        self.pending(id, user, now, true).await
    }

    async fn pending(
        &self,
        id: PendingConnectionId,
        user: UserId,
        now: DateTime<Utc>,
        take: bool,
    ) -> Result<Option<PendingConnection>, StoreError> {
        let sql = if take {
            "UPDATE pending_connections \
             SET used_at = $4 \
             WHERE workspace_id = $1 AND id = $2 AND user_id = $3 AND used_at IS NULL AND \
             expires_at > $4 \
             RETURNING id, provider, candidates, expires_at"
        } else {
            "SELECT id, provider, candidates, expires_at \
             FROM pending_connections \
             WHERE workspace_id = $1 AND id = $2 AND user_id = $3 AND used_at IS NULL AND \
             expires_at > $4"
        };
        let mut tx = self.begin().await?;
        let row: Option<PendingRow> = on_conn!(tx.conn(), |c| sqlx::query_as(sql)
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .bind(now)
            .fetch_optional(&mut *c)
            .await)?;
        tx.commit().await?;
        row.map(|row| {
            Ok(PendingConnection {
                id: PendingConnectionId::from_uuid(row.id),
                provider: provider(&row.provider, "pending_connections")?,
                candidates: row.candidates,
                expires_at: row.expires_at,
            })
        })
        .transpose()
    }
}
