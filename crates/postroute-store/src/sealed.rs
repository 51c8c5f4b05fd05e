//! Values the application sealed (`version || key id || nonce || ciphertext`), found by the key
//! that sealed them, so that `postroute keys rotate` can re-seal each under the current key.
//! Channel tokens keep their key id in a column of their own (see `cross_tenant`); these keep
//! it inside the value, bytes 2 to 9, which both dialects read with `substr`.

use postroute_domain::{EmailId, PendingConnectionId, WorkspaceId};
use uuid::Uuid;

use crate::StoreError;
use crate::cross_tenant::CrossTenant;
use crate::pool::Scope;

/// Where a sealed value lives, with what its associated data is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealedPlace {
    /// A queued email's bodies, bound to the message and its recipient.
    OutboxBody {
        /// The message.
        id: EmailId,
        /// Its recipient.
        to: String,
    },
    /// An OAuth flow's PKCE verifier, bound to its workspace and state.
    OAuthState {
        /// The workspace connecting a channel.
        workspace: WorkspaceId,
        /// The state's digest (its key).
        state_hash: Vec<u8>,
    },
    /// The accounts a Meta login offered, bound to their workspace and pending connection.
    PendingConnection {
        /// The workspace connecting a channel.
        workspace: WorkspaceId,
        /// The pending connection.
        id: PendingConnectionId,
    },
}

/// One sealed value and where it lives.
#[derive(Clone, Debug)]
pub struct SealedValue {
    /// Its row.
    pub place: SealedPlace,
    /// The sealed bytes as stored.
    pub sealed: Vec<u8>,
}

/// The kinds of sealed value, in the order rotation visits them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealedKind {
    /// `email_outbox.sealed_body`.
    OutboxBody,
    /// `oauth_states.pkce_verifier`.
    OAuthState,
    /// `pending_connections.candidates`.
    PendingConnection,
}

impl SealedKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::OutboxBody, Self::OAuthState, Self::PendingConnection];

    /// How a person would name it.
    pub fn label(self) -> &'static str {
        match self {
            Self::OutboxBody => "queued emails",
            Self::OAuthState => "OAuth states",
            Self::PendingConnection => "pending Meta connections",
        }
    }
}

type OutboxRow = (Uuid, String, Vec<u8>);
type TenantRow = (Uuid, Vec<u8>, Vec<u8>);

impl CrossTenant<'_> {
    /// Up to `limit` values of `kind` sealed under a key other than `current_key_id`.
    pub async fn sealed_with_other_keys(
        &self,
        kind: SealedKind,
        current_key_id: &[u8],
        limit: u32,
    ) -> Result<Vec<SealedValue>, StoreError> {
        let mut tx = self.db.begin_read_in(Scope::CrossTenant).await?;
        let values = match kind {
            SealedKind::OutboxBody => {
                let rows: Vec<OutboxRow> = on_conn!(tx.conn(), |c| sqlx::query_as(
                    "SELECT id, to_address, sealed_body FROM email_outbox \
                     WHERE sealed_body IS NOT NULL AND substr(sealed_body, 2, 8) <> $1 \
                     ORDER BY id LIMIT $2",
                )
                .bind(current_key_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *c)
                .await)?;
                rows.into_iter()
                    .map(|(id, to, sealed)| SealedValue {
                        place: SealedPlace::OutboxBody { id: EmailId::from_uuid(id), to },
                        sealed,
                    })
                    .collect()
            }
            SealedKind::OAuthState => {
                let rows: Vec<TenantRow> = on_conn!(tx.conn(), |c| sqlx::query_as(
                    "SELECT workspace_id, state_hash, pkce_verifier FROM oauth_states \
                     WHERE pkce_verifier IS NOT NULL AND substr(pkce_verifier, 2, 8) <> $1 \
                     ORDER BY workspace_id, state_hash LIMIT $2",
                )
                .bind(current_key_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *c)
                .await)?;
                rows.into_iter()
                    .map(|(workspace, state_hash, sealed)| SealedValue {
                        place: SealedPlace::OAuthState {
                            workspace: WorkspaceId::from_uuid(workspace),
                            state_hash,
                        },
                        sealed,
                    })
                    .collect()
            }
            SealedKind::PendingConnection => {
                let rows: Vec<(Uuid, Uuid, Vec<u8>)> = on_conn!(tx.conn(), |c| sqlx::query_as(
                    "SELECT workspace_id, id, candidates FROM pending_connections \
                     WHERE substr(candidates, 2, 8) <> $1 \
                     ORDER BY workspace_id, id LIMIT $2",
                )
                .bind(current_key_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *c)
                .await)?;
                rows.into_iter()
                    .map(|(workspace, id, sealed)| SealedValue {
                        place: SealedPlace::PendingConnection {
                            workspace: WorkspaceId::from_uuid(workspace),
                            id: PendingConnectionId::from_uuid(id),
                        },
                        sealed,
                    })
                    .collect()
            }
        };
        tx.commit().await?;
        Ok(values)
    }

    /// Replaces `value` with `resealed`, unless it changed since it was read (sent and wiped, for
    /// an email); `false` then.
    pub async fn reseal_value(
        &self,
        value: &SealedValue,
        resealed: &[u8],
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin_in(Scope::CrossTenant).await?;
        // Compare-and-swap on the old bytes: whatever wrote the row meanwhile wins.
        let swapped = match &value.place {
            SealedPlace::OutboxBody { id, .. } => on_conn!(tx.conn(), |c| sqlx::query(
                "UPDATE email_outbox SET sealed_body = $3 WHERE id = $1 AND sealed_body = $2",
            )
            .bind(id.as_uuid())
            .bind(&value.sealed)
            .bind(resealed)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?,
            SealedPlace::OAuthState { workspace, state_hash } => {
                on_conn!(tx.conn(), |c| sqlx::query(
                    "UPDATE oauth_states SET pkce_verifier = $4 \
                     WHERE workspace_id = $1 AND state_hash = $2 AND pkce_verifier = $3",
                )
                .bind(workspace.as_uuid())
                .bind(state_hash)
                .bind(&value.sealed)
                .bind(resealed)
                .execute(&mut *c)
                .await
                .map(|done| done.rows_affected()))?
            }
            SealedPlace::PendingConnection { workspace, id } => {
                on_conn!(tx.conn(), |c| sqlx::query(
                    "UPDATE pending_connections SET candidates = $4 \
                     WHERE workspace_id = $1 AND id = $2 AND candidates = $3",
                )
                .bind(workspace.as_uuid())
                .bind(id.as_uuid())
                .bind(&value.sealed)
                .bind(resealed)
                .execute(&mut *c)
                .await
                .map(|done| done.rows_affected()))?
            }
        };
        tx.commit().await?;
        Ok(swapped > 0)
    }
}
