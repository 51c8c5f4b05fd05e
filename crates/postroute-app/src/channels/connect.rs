//! Connecting an account: the authorize redirect with a single-use state bound to the user and
//! workspace (and, for X, a PKCE verifier that never leaves the server), then the callback that
//! turns the platform's code into sealed tokens and a channel.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use postroute_domain::{
    Action, AuditAction, ChannelId, NewAuditEntry, PendingConnectionId, Provider, Role, UserId,
    WorkspaceId, role_allows,
};
use postroute_platforms::meta::{FACEBOOK_SCOPES, INSTAGRAM_SCOPES};
use postroute_store::{ChannelAccount, PendingConnection, Saved, Tenant, Workspace};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::tokens::{PlainToken, PlainTokens};
use super::{ChannelError, ChannelService, STATE_LIFETIME};
use crate::workspaces::Caller;
use crate::{clock, crypto};

/// How often the token job looks at a Meta channel whose token does not expire.
pub(crate) const META_CHECK_INTERVAL: chrono::Duration = chrono::Duration::hours(24);
/// X access tokens are refreshed this long before they expire.
pub(crate) const REFRESH_AHEAD: chrono::Duration = chrono::Duration::minutes(10);

/// An account a Meta login found, offered for the user to pick.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    /// Page id or Instagram account id.
    pub external_id: String,
    /// Page name or @username.
    pub display_name: String,
    /// Picture.
    pub avatar_url: Option<String>,
}

/// A candidate with the Page token it publishes with (Instagram uses its Page's token): only
/// ever sealed, never shown.
#[derive(Clone, Serialize, Deserialize)]
struct SealedCandidate {
    external_id: String,
    display_name: String,
    avatar_url: Option<String>,
    token: String,
}

impl SealedCandidate {
    fn public(&self) -> Candidate {
        Candidate {
            external_id: self.external_id.clone(),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
        }
    }
}

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

/// A pending choice as shown to its user.
#[derive(Debug)]
pub struct PendingChoice {
    /// Facebook or Instagram.
    pub provider: Provider,
    /// Until when.
    pub expires_at: DateTime<Utc>,
    /// The accounts.
    pub candidates: Vec<Candidate>,
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

fn callback_error(
    code: &'static str,
    detail: &str,
    workspace: Option<WorkspaceId>,
) -> ChannelError {
    ChannelError::Callback { code, detail: detail.to_owned(), workspace }
}

fn channel_limit(workspace: &Workspace) -> String {
    let limit = workspace.plan.entitlements().max_channels.unwrap_or_default();
    format!(
        "The {} plan includes {limit} channels; upgrade to connect more.",
        workspace.plan.as_str()
    )
}

/// What an OAuth state's sealed PKCE verifier is bound to.
pub(crate) fn state_associated_data(workspace: WorkspaceId, state_hash: &[u8]) -> Vec<u8> {
    format!("oauth_state:{workspace}:{}", crate::crypto::hex(state_hash)).into_bytes()
}

/// What a pending connection's sealed candidates are bound to.
pub(crate) fn pending_associated_data(
    workspace: WorkspaceId,
    pending: PendingConnectionId,
) -> Vec<u8> {
    format!("pending_connection:{workspace}:{pending}").into_bytes()
}

impl ChannelService {
    fn check_capacity(
        workspace: &Workspace,
        connected: i64,
        adding: usize,
    ) -> Result<(), ChannelError> {
        if let Some(limit) = workspace.plan.entitlements().max_channels
            && connected.saturating_add(adding as i64) > i64::from(limit)
        {
            return Err(ChannelError::PlanRequired(channel_limit(workspace)));
        }
        Ok(())
    }

    /// Starts connecting `provider`: returns the URL to send the user's browser to.
    pub async fn start(&self, caller: &Caller, provider: &str) -> Result<String, ChannelError> {
        let provider: Provider =
            provider.parse().map_err(|error: postroute_domain::channel::UnknownProvider| {
                ChannelError::Invalid(vec![("provider", error.to_string())])
            })?;
        let configured = match provider {
            Provider::X => self.x.is_some(),
            Provider::Facebook | Provider::Instagram => self.meta.is_some(),
        };
        if !configured {
            return Err(ChannelError::Invalid(vec![(
                "provider",
                format!("{provider} is not configured on this server"),
            )]));
        }
        let tenant = self.store.tenant(caller.workspace.id);
        Self::check_capacity(&caller.workspace, tenant.connected_channel_count().await?, 1)?;

        // The state names its workspace, so the callback's lookup stays inside one tenant.
        let (secret, _) = crypto::random_token()?;
        let state = format!("{}.{secret}", caller.workspace.id.as_uuid().simple());
        let state_hash = crypto::sha256(state.as_bytes());
        let now = clock::now();
        let redirect_uri = self.redirect_uri(provider);
        let (url, verifier) = match (provider, &self.x, &self.meta) {
            (Provider::X, Some(x), _) => {
                let (verifier, _) = crypto::random_token()?;
                let challenge = URL_SAFE_NO_PAD.encode(crypto::sha256(verifier.as_bytes()));
                (x.authorize_url(&redirect_uri, &state, &challenge), Some(verifier))
            }
            (Provider::Facebook, _, Some(meta)) => {
                (meta.dialog_url(&redirect_uri, &state, FACEBOOK_SCOPES), None)
            }
            (Provider::Instagram, _, Some(meta)) => {
                (meta.dialog_url(&redirect_uri, &state, INSTAGRAM_SCOPES), None)
            }
            _ => unreachable!("checked above"),
        };
        let url =
            url.map_err(|error| ChannelError::Invalid(vec![("provider", error.to_string())]))?;
        let sealed_verifier = verifier
            .map(|verifier| {
                self.cipher.seal_bytes(
                    verifier.as_bytes(),
                    &state_associated_data(caller.workspace.id, &state_hash),
                )
            })
            .transpose()?;
        tenant
            .record_oauth_state(
                &state_hash,
                caller.user,
                provider,
                sealed_verifier.as_deref(),
                now,
                now + STATE_LIFETIME,
            )
            .await?;
        Ok(url.to_string())
    }

    /// Completes a connection the platform sent back, for `user` — who must be the member who
    /// started it: a state handed to someone else (a link sent to a victim, whose account would
    /// then be connected to the sender's workspace) does not complete.
    pub async fn complete(
        &self,
        provider: &str,
        query: &CallbackQuery,
        user: UserId,
        ip: std::net::IpAddr,
    ) -> Result<Completion, ChannelError> {
        let invalid_state = |workspace| {
            callback_error(
                "invalid_state",
                "This connection link is invalid, used or expired; start again.",
                workspace,
            )
        };
        let provider: Provider = provider.parse().map_err(|_| invalid_state(None))?;
        let state = query.state.as_deref().ok_or_else(|| invalid_state(None))?;
        let workspace = state
            .split_once('.')
            .and_then(|(workspace, _)| uuid::Uuid::try_parse(workspace).ok())
            .map(WorkspaceId::from_uuid)
            .ok_or_else(|| invalid_state(None))?;
        let tenant = self.store.tenant(workspace);
        let state_hash = crypto::sha256(state.as_bytes());
        let started = tenant
            .take_oauth_state(&state_hash, clock::now())
            .await?
            .ok_or_else(|| invalid_state(Some(workspace)))?;
        if started.provider != provider || started.user != user {
            return Err(invalid_state(Some(workspace)));
        }
        if query.error.is_some() {
            return Err(callback_error(
                "access_denied",
                "The connection was cancelled at the platform.",
                Some(workspace),
            ));
        }
        let code = query.code.as_deref().filter(|code| !code.is_empty()).ok_or_else(|| {
            callback_error(
                "missing_code",
                "The platform sent no authorization code; start again.",
                Some(workspace),
            )
        })?;
        // The member who started may have lost the right to connect since.
        let (workspace_row, role) = tenant.access(started.user).await?.ok_or_else(|| {
            callback_error(
                "forbidden",
                "You are no longer a member of that workspace.",
                Some(workspace),
            )
        })?;
        if !role_allows(role, Action::ConnectChannel) {
            return Err(callback_error(
                "forbidden",
                "Your role may not connect channels.",
                Some(workspace),
            ));
        }
        let caller = Caller { workspace: workspace_row, user: started.user, role, ip };
        let redirect_uri = self.redirect_uri(provider);
        match provider {
            Provider::X => {
                let verifier = started
                    .pkce_verifier
                    .as_deref()
                    .map(|sealed| {
                        self.cipher
                            .open_bytes(sealed, &state_associated_data(workspace, &state_hash))
                    })
                    .transpose()?
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| invalid_state(Some(workspace)))?;
                let x = self.x.as_ref().ok_or_else(|| invalid_state(Some(workspace)))?;
                let tokens = x
                    .exchange_code(code, &verifier, &redirect_uri)
                    .await
                    .map_err(|error| Self::provider_failed(&error, workspace))?;
                let account = x
                    .me(&tokens.access_token)
                    .await
                    .map_err(|error| Self::provider_failed(&error, workspace))?;
                let now = clock::now();
                let expires_at = tokens
                    .expires_in
                    .map(|seconds| clock::after(now, std::time::Duration::from_secs(seconds)));
                let plain = PlainTokens {
                    access_token: PlainToken::new(tokens.access_token),
                    refresh_token: tokens.refresh_token.map(PlainToken::new),
                    expires_at,
                };
                let display_name = format!("@{}", account.username);
                let channel = self
                    .save(
                        &caller,
                        &tenant,
                        ChannelAccount {
                            provider,
                            external_id: &account.id,
                            display_name: &display_name,
                            avatar_url: account.profile_image_url.as_deref(),
                        },
                        &plain,
                        expires_at.map(|expires| expires - REFRESH_AHEAD),
                    )
                    .await?;
                Ok(Completion::Connected { workspace, channels: vec![channel] })
            }
            Provider::Facebook | Provider::Instagram => {
                let meta = self.meta.as_ref().ok_or_else(|| invalid_state(Some(workspace)))?;
                let short = meta
                    .exchange_code(code, &redirect_uri)
                    .await
                    .map_err(|error| Self::provider_failed(&error, workspace))?;
                let long = meta
                    .long_lived(&short.access_token)
                    .await
                    .map_err(|error| Self::provider_failed(&error, workspace))?;
                let pages = meta
                    .pages(&long.access_token)
                    .await
                    .map_err(|error| Self::provider_failed(&error, workspace))?;
                let candidates: Vec<SealedCandidate> = pages
                    .into_iter()
                    .filter_map(|page| match provider {
                        Provider::Facebook => Some(SealedCandidate {
                            external_id: page.id,
                            display_name: page.name,
                            avatar_url: page.picture_url,
                            token: page.access_token,
                        }),
                        _ => page.instagram.map(|instagram| SealedCandidate {
                            display_name: instagram
                                .username
                                .map(|name| format!("@{name}"))
                                .unwrap_or_else(|| page.name.clone()),
                            external_id: instagram.id,
                            avatar_url: instagram.profile_picture_url,
                            token: page.access_token,
                        }),
                    })
                    .collect();
                match candidates.len() {
                    0 => Err(callback_error(
                        "no_accounts",
                        match provider {
                            Provider::Instagram => {
                                "The Meta login granted no Page with a linked Instagram professional account."
                            }
                            _ => "The Meta login granted no Facebook Page.",
                        },
                        Some(workspace),
                    )),
                    1 => {
                        let channel =
                            self.save_candidate(&caller, &tenant, provider, &candidates[0]).await?;
                        Ok(Completion::Connected { workspace, channels: vec![channel] })
                    }
                    _ => {
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
                                started.user,
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
            }
        }
    }

    async fn save_candidate(
        &self,
        caller: &Caller,
        tenant: &Tenant<'_>,
        provider: Provider,
        candidate: &SealedCandidate,
    ) -> Result<ChannelId, ChannelError> {
        let token = candidate.token.clone();
        // Page tokens obtained with a long-lived user token do not expire; the token job checks
        // them daily so a revoked one is noticed before a scheduled post is.
        let plain = PlainTokens {
            access_token: PlainToken::new(token),
            refresh_token: None,
            expires_at: None,
        };
        self.save(
            caller,
            tenant,
            ChannelAccount {
                provider,
                external_id: &candidate.external_id,
                display_name: &candidate.display_name,
                avatar_url: candidate.avatar_url.as_deref(),
            },
            &plain,
            Some(clock::now() + META_CHECK_INTERVAL),
        )
        .await
    }

    /// Saves a connection: a new channel, or the account's existing one made active again.
    async fn save(
        &self,
        caller: &Caller,
        tenant: &Tenant<'_>,
        account: ChannelAccount<'_>,
        tokens: &PlainTokens,
        next_check_at: Option<DateTime<Utc>>,
    ) -> Result<ChannelId, ChannelError> {
        let mut id =
            tenant.channel_id_for(account.provider, account.external_id).await?.unwrap_or_default();
        let workspace = tenant.workspace().await?.ok_or(ChannelError::NotFound)?;
        let max_channels = workspace.plan.entitlements().max_channels;
        // A concurrent connection of the same account may have created it with another id: the
        // tokens must be sealed for the id they are stored under, so seal again for that one.
        for _ in 0..3 {
            let sealed = self.cipher.seal(caller.workspace.id, id, tokens)?;
            let saved = tenant
                .save_connection(
                    id,
                    &account,
                    &sealed,
                    caller.user,
                    next_check_at,
                    max_channels,
                    clock::now(),
                    |reconnected| {
                        NewAuditEntry::new(AuditAction::ChannelConnected, caller.user, caller.ip)
                            .target("channel", id)
                            .details(json!({
                                "provider": account.provider.as_str(),
                                "external_id": account.external_id,
                                "display_name": account.display_name,
                                "reconnected": reconnected,
                            }))
                    },
                )
                .await?;
            match saved {
                Saved::Created | Saved::Reconnected => {
                    tracing::info!(workspace.id = %caller.workspace.id, channel.id = %id, provider = %account.provider, "channel connected");
                    return Ok(id);
                }
                Saved::IdChanged(existing) => id = existing,
                Saved::LimitReached => {
                    let detail = channel_limit(&workspace);
                    return Err(ChannelError::Callback {
                        code: "plan_required",
                        detail,
                        workspace: Some(workspace.id),
                    });
                }
            }
        }
        Err(ChannelError::Store(postroute_store::StoreError::Conflict {
            constraint: "channels_account_key".to_owned(),
        }))
    }

    /// The choice a Meta login left for `caller`.
    pub async fn pending(
        &self,
        caller: &Caller,
        id: PendingConnectionId,
    ) -> Result<PendingChoice, ChannelError> {
        let pending = self
            .store
            .tenant(caller.workspace.id)
            .pending_connection(id, caller.user, clock::now())
            .await?
            .ok_or(ChannelError::NotFound)?;
        let candidates = self.open_candidates(caller.workspace.id, &pending)?;
        Ok(PendingChoice {
            provider: pending.provider,
            expires_at: pending.expires_at,
            candidates: candidates.iter().map(SealedCandidate::public).collect(),
        })
    }

    fn open_candidates(
        &self,
        workspace: WorkspaceId,
        pending: &PendingConnection,
    ) -> Result<Vec<SealedCandidate>, ChannelError> {
        let plain = self
            .cipher
            .open_bytes(&pending.candidates, &pending_associated_data(workspace, pending.id))?;
        serde_json::from_slice(&plain)
            .map_err(|_| ChannelError::Sealed(crate::crypto::OpenError::Malformed))
    }

    /// Connects the accounts `external_ids` of a pending choice (once).
    pub async fn choose(
        &self,
        caller: &Caller,
        id: PendingConnectionId,
        external_ids: &[String],
    ) -> Result<Vec<ChannelId>, ChannelError> {
        if external_ids.is_empty() {
            return Err(ChannelError::Invalid(vec![(
                "external_ids",
                "choose at least one account".to_owned(),
            )]));
        }
        let tenant = self.store.tenant(caller.workspace.id);
        let pending = tenant
            .pending_connection(id, caller.user, clock::now())
            .await?
            .ok_or(ChannelError::NotFound)?;
        let candidates = self.open_candidates(caller.workspace.id, &pending)?;
        let chosen: Vec<&SealedCandidate> = candidates
            .iter()
            .filter(|candidate| external_ids.contains(&candidate.external_id))
            .collect();
        if chosen.len() != external_ids.len() {
            return Err(ChannelError::Invalid(vec![(
                "external_ids",
                "contains an account this login did not offer".to_owned(),
            )]));
        }
        let mut new_channels = 0;
        for candidate in &chosen {
            let existing = tenant.channel_id_for(pending.provider, &candidate.external_id).await?;
            let live = match existing {
                Some(id) => tenant.channel(id).await?.is_some_and(|channel| {
                    channel.status != postroute_domain::ChannelStatus::Disconnected
                }),
                None => false,
            };
            if !live {
                new_channels += 1;
            }
        }
        Self::check_capacity(
            &caller.workspace,
            tenant.connected_channel_count().await?,
            new_channels,
        )?;
        // Save first, spend the choice last: a failure midway leaves the choice usable again, and
        // saving an account twice updates the same channel.
        let mut channels = Vec::new();
        for candidate in chosen {
            channels.push(self.save_candidate(caller, &tenant, pending.provider, candidate).await?);
        }
        tenant.take_pending_connection(id, caller.user, clock::now()).await?;
        Ok(channels)
    }

    /// Who is told when a channel needs reconnecting: the workspace's owner and admins.
    pub(crate) async fn reconnect_recipients(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Vec<(UserId, String, String)>, ChannelError> {
        Ok(self
            .store
            .tenant(workspace)
            .members()
            .await?
            .into_iter()
            .filter(|member| matches!(member.role, Role::Owner | Role::Admin))
            .map(|member| (member.user_id, member.email, member.name))
            .collect())
    }
}
