//! Completing a connection: the code the platform sent back, for the member who started it,
//! becomes sealed tokens and a channel, or a choice when the login granted several accounts.

use postroute_domain::{
    Action, ChannelId, PendingConnectionId, Provider, UserId, WorkspaceId, role_allows,
};
use postroute_platforms::PlatformError;
use postroute_store::{OAuthState, PendingConnection, Tenant};
use serde::Deserialize;

use super::super::platforms::{Connect, ExchangeFailed, GrantedAccount};
use super::super::{ChannelService, STATE_LIFETIME};
use super::choose::{Candidate, SealedCandidate, pending_associated_data};
use super::start::state_associated_data;
use crate::Refusal;
use crate::workspaces::Caller;
use crate::{clock, crypto};

/// What the callback achieved.
#[derive(Debug)]
pub enum Completion {
    /// Channels were connected (or reconnected).
    Connected {
        /// The workspace.
        workspace: WorkspaceId,
        /// The channels.
        channels: Vec<ChannelId>,
    },
    /// Several accounts came back: the user picks at `pending`.
    Choose {
        /// The workspace.
        workspace: WorkspaceId,
        /// The pending connection.
        pending: PendingConnectionId,
        /// What to choose from.
        candidates: Vec<Candidate>,
    },
}

/// What the platform sent back: the callback's query string, or the body the web UI posts.
/// Other parameters the platforms add (Meta's `error_reason`, ...) are ignored.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct CallbackQuery {
    /// The authorization code.
    pub code: Option<String>,
    /// Our state, echoed.
    pub state: Option<String>,
    /// Set when the user refused.
    pub error: Option<String>,
}

/// The callback cannot complete; `code` says why (`invalid_state`, `access_denied`,
/// `missing_code`, `no_accounts`, `provider_error`).
fn callback_error(code: &'static str, detail: &str) -> Refusal {
    Refusal::Refused { code, detail: detail.to_owned() }
}

fn invalid_state() -> Refusal {
    callback_error(
        "invalid_state",
        "This connection link is invalid, used or expired; start again.",
    )
}

fn provider_failed(error: &PlatformError, workspace: WorkspaceId) -> Refusal {
    tracing::warn!(
        workspace.id = display(&workspace),
        class = error.class(),
        error = display(&error),
        "platform call failed while connecting"
    );
    Refusal::Refused {
        code: "provider_error",
        detail: format!(
            "The platform did not complete the connection ({}); try again.",
            error.class()
        ),
    }
}

impl ChannelService {
    /// Completes a connection the platform sent back, for `user` — who must be the member who
    /// started it: a state handed to someone else (a link sent to a victim, whose account would
    /// then be connected to the sender's workspace) does not complete.
    pub async fn complete(
        &self,
        provider: &str,
        query: &CallbackQuery,
        user: UserId,
        ip: std::net::IpAddr,
    ) -> Result<Completion, Refusal> {
        let provider: Provider = provider.parse().map_err(|_| invalid_state())?;
        let (workspace, state_hash, started) = self.take_state(provider, query, user).await?;
        if query.error.is_some() {
            return Err(callback_error(
                "access_denied",
                "The connection was cancelled at the platform.",
            ));
        }
        let code = query.code.as_deref().filter(|code| !code.is_empty()).ok_or_else(|| {
            callback_error("missing_code", "The platform sent no authorization code; start again.")
        })?;
        let tenant = self.store.tenant(workspace);
        let caller = Self::connecting_member(&tenant, started.user, ip).await?;
        let verifier = started
            .pkce_verifier
            .as_deref()
            .map(|sealed| {
                let bytes = self
                    .cipher
                    .open_bytes(sealed, &state_associated_data(workspace, &state_hash))?;
                String::from_utf8(bytes).map_err(|_| invalid_state())
            })
            .transpose()?;
        let platform = self.platform(provider).map_err(|_| invalid_state())?;
        let accounts = platform
            .exchange(code, verifier.as_deref(), &self.redirect_uri(provider))
            .await
            .map_err(|failed| match failed {
                ExchangeFailed::NoVerifier => invalid_state(),
                ExchangeFailed::Platform(error) => provider_failed(&error, workspace),
            })?;
        match accounts.len() {
            0 => Err(callback_error("no_accounts", platform.no_accounts())),
            1 => {
                let channel = self.save(&caller, &tenant, provider, &accounts[0]).await?;
                Ok(Completion::Connected { workspace, channels: vec![channel] })
            }
            _ => self.offer_choice(&tenant, workspace, provider, started.user, accounts).await,
        }
    }

    /// Spends the state `query` echoes, which must be one `user` started for `provider`.
    async fn take_state(
        &self,
        provider: Provider,
        query: &CallbackQuery,
        user: UserId,
    ) -> Result<(WorkspaceId, [u8; 32], OAuthState), Refusal> {
        let state = query.state.as_deref().ok_or_else(invalid_state)?;
        let workspace = state
            .split_once('.')
            .and_then(|(workspace, _)| uuid::Uuid::try_parse(workspace).ok())
            .map(WorkspaceId::from_uuid)
            .ok_or_else(invalid_state)?;
        let state_hash = crypto::sha256(state.as_bytes());
        let started = self
            .store
            .tenant(workspace)
            .take_oauth_state(&state_hash, clock::now())
            .await?
            .ok_or_else(invalid_state)?;
        if started.provider != provider || started.user != user {
            return Err(invalid_state());
        }
        Ok((workspace, state_hash, started))
    }

    /// The member who started, who may have lost the right to connect since.
    async fn connecting_member(
        tenant: &Tenant<'_>,
        user: UserId,
        ip: std::net::IpAddr,
    ) -> Result<Caller, Refusal> {
        let (workspace_row, role) = tenant.access(user).await?.ok_or_else(|| {
            Refusal::Forbidden("You are no longer a member of that workspace.".to_owned())
        })?;
        if !role_allows(role, Action::ConnectChannel) {
            return Err(Refusal::Forbidden("Your role may not connect channels.".to_owned()));
        }
        Ok(Caller { workspace: workspace_row, user, role, ip })
    }

    /// Keeps the accounts, sealed, for `user` to choose from.
    async fn offer_choice(
        &self,
        tenant: &Tenant<'_>,
        workspace: WorkspaceId,
        provider: Provider,
        user: UserId,
        accounts: Vec<GrantedAccount>,
    ) -> Result<Completion, Refusal> {
        let candidates: Vec<SealedCandidate> =
            accounts.into_iter().map(SealedCandidate::from).collect();
        let pending = PendingConnectionId::new();
        let sealed = self.cipher.seal_bytes(
            &serde_json::to_vec(&candidates)
                .unwrap_or_else(|_| unreachable!("candidates serialise")),
            &pending_associated_data(workspace, pending),
        )?;
        let now = clock::now();
        tenant
            .save_pending_connection(
                &PendingConnection {
                    id: pending,
                    provider,
                    candidates: sealed,
                    expires_at: now + STATE_LIFETIME,
                },
                user,
                now,
            )
            .await?;
        Ok(Completion::Choose {
            workspace,
            pending,
            candidates: candidates.iter().map(SealedCandidate::public).collect(),
        })
    }
}
