//! Starting a connection: the authorize redirect and the single-use state it carries.

use postroute_domain::{Provider, WorkspaceId};

use super::super::platforms::{Authorization, Connect};
use super::super::{ChannelService, STATE_LIFETIME};
use crate::Refusal;
use crate::workspaces::Caller;
use crate::{clock, crypto};

/// What an OAuth state's sealed PKCE verifier is bound to.
pub(crate) fn state_associated_data(workspace: WorkspaceId, state_hash: &[u8]) -> Vec<u8> {
    format!("oauth_state:{workspace}:{}", crate::crypto::hex(state_hash)).into_bytes()
}

impl ChannelService {
    /// Starts connecting `provider`: returns the URL to send the user's browser to.
    pub async fn start(&self, caller: &Caller, provider: &str) -> Result<String, Refusal> {
        let provider: Provider =
            provider.parse().map_err(|error: postroute_domain::channel::UnknownProvider| {
                Refusal::invalid("provider", error.to_string())
            })?;
        let platform = self.platform(provider).map_err(|_| {
            Refusal::invalid("provider", format!("{provider} is not configured on this server"))
        })?;
        let tenant = self.store.tenant(caller.workspace.id);
        Self::check_capacity(&caller.workspace, tenant.connected_channel_count().await?, 1)?;

        // The state names its workspace, so the callback's lookup stays inside one tenant.
        let (secret, _) = crypto::random_token()?;
        let state = format!("{}.{secret}", caller.workspace.id.as_uuid().simple());
        let state_hash = crypto::sha256(state.as_bytes());
        let now = clock::now();
        let Authorization { url, pkce_verifier } =
            platform.authorize(&self.redirect_uri(provider), &state)?;
        let sealed_verifier = pkce_verifier
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
}
