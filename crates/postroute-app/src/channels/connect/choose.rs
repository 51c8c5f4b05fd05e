//! Choosing among the accounts a login granted: they wait sealed, for the member who logged in,
//! until picked or expired.

use chrono::{DateTime, Utc};
use postroute_domain::{ChannelId, PendingConnectionId, Provider, WorkspaceId};
use postroute_store::PendingConnection;
use serde::{Deserialize, Serialize};

use super::super::ChannelService;
use super::super::check::FirstCheck;
use super::super::platforms::GrantedAccount;
use super::super::tokens::{PlainToken, PlainTokens};
use crate::Refusal;
use crate::clock;
use crate::workspaces::Caller;

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

/// A granted account as sealed in a pending choice: only ever sealed, never shown. The fields
/// Meta never fills are left out when empty, so its choices seal exactly as before they existed.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct SealedCandidate {
    external_id: String,
    display_name: String,
    avatar_url: Option<String>,
    token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "FirstCheck::is_default")]
    first_check: FirstCheck,
}

impl SealedCandidate {
    /// What its user is shown.
    pub(super) fn public(&self) -> Candidate {
        Candidate {
            external_id: self.external_id.clone(),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
        }
    }
}

impl From<GrantedAccount> for SealedCandidate {
    fn from(account: GrantedAccount) -> Self {
        Self {
            external_id: account.external_id,
            display_name: account.display_name,
            avatar_url: account.avatar_url,
            token: account.tokens.access_token.expose().to_owned(),
            refresh_token: account.tokens.refresh_token.map(|token| token.expose().to_owned()),
            expires_at: account.tokens.expires_at,
            first_check: account.first_check,
        }
    }
}

impl From<&SealedCandidate> for GrantedAccount {
    fn from(candidate: &SealedCandidate) -> Self {
        Self {
            external_id: candidate.external_id.clone(),
            display_name: candidate.display_name.clone(),
            avatar_url: candidate.avatar_url.clone(),
            tokens: PlainTokens {
                access_token: PlainToken::new(candidate.token.clone()),
                refresh_token: candidate.refresh_token.clone().map(PlainToken::new),
                expires_at: candidate.expires_at,
            },
            first_check: candidate.first_check,
        }
    }
}

/// What a pending connection's sealed candidates are bound to.
pub(crate) fn pending_associated_data(
    workspace: WorkspaceId,
    pending: PendingConnectionId,
) -> Vec<u8> {
    format!("pending_connection:{workspace}:{pending}").into_bytes()
}

impl ChannelService {
    /// The choice a login left for `caller`.
    pub async fn pending(
        &self,
        caller: &Caller,
        id: PendingConnectionId,
    ) -> Result<PendingChoice, Refusal> {
        let pending = self
            .store
            .tenant(caller.workspace.id)
            .pending_connection(id, caller.user, clock::now())
            .await?
            .ok_or(Refusal::NotFound)?;
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
    ) -> Result<Vec<SealedCandidate>, Refusal> {
        let plain = self
            .cipher
            .open_bytes(&pending.candidates, &pending_associated_data(workspace, pending.id))?;
        serde_json::from_slice(&plain)
            .map_err(|_| Refusal::from(crate::crypto::OpenError::Malformed))
    }

    /// Connects the accounts `external_ids` of a pending choice (once).
    pub async fn choose(
        &self,
        caller: &Caller,
        id: PendingConnectionId,
        external_ids: &[String],
    ) -> Result<Vec<ChannelId>, Refusal> {
        if external_ids.is_empty() {
            return Err(Refusal::invalid("external_ids", "choose at least one account"));
        }
        let tenant = self.store.tenant(caller.workspace.id);
        let pending = tenant
            .pending_connection(id, caller.user, clock::now())
            .await?
            .ok_or(Refusal::NotFound)?;
        let candidates = self.open_candidates(caller.workspace.id, &pending)?;
        let chosen: Vec<&SealedCandidate> = candidates
            .iter()
            .filter(|candidate| external_ids.contains(&candidate.external_id))
            .collect();
        if chosen.len() != external_ids.len() {
            return Err(Refusal::invalid(
                "external_ids",
                "contains an account this login did not offer",
            ));
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
            channels.push(self.save(caller, &tenant, pending.provider, &candidate.into()).await?);
        }
        tenant.take_pending_connection(id, caller.user, clock::now()).await?;
        Ok(channels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Choices sealed before the optional fields existed may still be waiting when this version
    // starts, and a Meta choice must seal as it did then.
    const SEALED_BEFORE: &str =
        r#"{"external_id":"17","display_name":"Bakery","avatar_url":null,"token":"page-token"}"#;

    #[test]
    fn a_meta_candidate_seals_as_it_did_before_the_optional_fields() {
        let granted = GrantedAccount {
            external_id: "17".to_owned(),
            display_name: "Bakery".to_owned(),
            avatar_url: None,
            tokens: PlainTokens {
                access_token: PlainToken::new("page-token".to_owned()),
                refresh_token: None,
                expires_at: None,
            },
            first_check: FirstCheck::AfterInterval,
        };
        let sealed = serde_json::to_string(&SealedCandidate::from(granted)).unwrap();
        assert_eq!(sealed, SEALED_BEFORE);
    }

    #[test]
    fn a_candidate_sealed_before_the_optional_fields_is_checked_after_the_interval() {
        let candidate: SealedCandidate = serde_json::from_str(SEALED_BEFORE).unwrap();
        let granted = GrantedAccount::from(&candidate);
        assert_eq!(granted.tokens.access_token.expose(), "page-token");
        assert!(granted.tokens.refresh_token.is_none());
        assert_eq!(granted.first_check, FirstCheck::AfterInterval);
    }
}
