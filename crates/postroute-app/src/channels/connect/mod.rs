//! Connecting an account, by job: [`start`] sends the user to the platform with a single-use
//! state bound to the user and workspace (and a PKCE verifier, where the platform uses one, that
//! never leaves the server); [`complete`] turns the code the platform sends back into sealed
//! tokens and a channel, or into a choice when the login granted several accounts; [`choose`]
//! connects the accounts picked from that choice. What differs per platform is behind
//! [`Connect`](super::platforms::Connect).

mod choose;
mod complete;
mod start;

pub(crate) use choose::pending_associated_data;
pub(crate) use start::state_associated_data;

pub use choose::{Candidate, PendingChoice};
pub use complete::{CallbackQuery, Completion};

use postroute_domain::{AuditAction, ChannelId, NewAuditEntry, Provider};
use postroute_store::{ChannelAccount, Saved, Tenant, Workspace};
use serde_json::json;

use super::ChannelService;
use super::platforms::GrantedAccount;
use crate::Refusal;
use crate::clock;
use crate::workspaces::Caller;

fn channel_limit(workspace: &Workspace) -> String {
    let limit = workspace.plan.entitlements().max_channels.unwrap_or_default();
    format!(
        "The {} plan includes {limit} channels; upgrade to connect more.",
        workspace.plan.as_str()
    )
}

impl ChannelService {
    fn check_capacity(workspace: &Workspace, connected: i64, adding: usize) -> Result<(), Refusal> {
        if let Some(limit) = workspace.plan.entitlements().max_channels
            && connected.saturating_add(adding as i64) > i64::from(limit)
        {
            return Err(Refusal::PlanRequired(channel_limit(workspace)));
        }
        Ok(())
    }

    fn redirect_uri(&self, provider: Provider) -> String {
        let mut url = self.public_url.clone();
        url.set_path(&format!("/v1/oauth/{provider}/callback"));
        url.set_query(None);
        url.to_string()
    }

    /// Saves an account a login granted as a channel of `provider`: a new channel, or the
    /// account's existing one made active again.
    async fn save(
        &self,
        caller: &Caller,
        tenant: &Tenant<'_>,
        provider: Provider,
        granted: &GrantedAccount,
    ) -> Result<ChannelId, Refusal> {
        let next_check_at = granted.first_check.at(&granted.tokens, clock::now());
        let account = ChannelAccount {
            provider,
            external_id: &granted.external_id,
            display_name: &granted.display_name,
            avatar_url: granted.avatar_url.as_deref(),
        };
        let mut id =
            tenant.channel_id_for(account.provider, account.external_id).await?.unwrap_or_default();
        let workspace = tenant.workspace().await?.ok_or(Refusal::NotFound)?;
        let max_channels = workspace.plan.entitlements().max_channels;
        // A concurrent connection of the same account may have created it with another id: the
        // tokens must be sealed for the id they are stored under, so seal again for that one.
        for _ in 0..3 {
            let sealed = self.cipher.seal(caller.workspace.id, id, &granted.tokens)?;
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
                    tracing::info!(
                        workspace.id = display(&caller.workspace.id),
                        channel.id = display(&id),
                        provider = display(&account.provider),
                        "channel connected"
                    );
                    return Ok(id);
                }
                Saved::IdChanged(existing) => id = existing,
                Saved::LimitReached => {
                    let detail = channel_limit(&workspace);
                    return Err(Refusal::PlanRequired(detail));
                }
            }
        }
        Err(Refusal::from(postroute_store::StoreError::Conflict {
            constraint: "channels_account_key".to_owned(),
        }))
    }
}
