//! Channels: connecting X accounts, Facebook Pages and Instagram professional accounts by
//! OAuth, keeping their tokens sealed (S-ENC-1), and disconnecting them.

mod check;
mod connect;
mod platforms;
mod publish;
mod reconcile;
mod slots;
mod tokens;

pub(crate) use connect::{pending_associated_data, state_associated_data};

use crate::Refusal;
use std::sync::Arc;

use postroute_domain::{AuditAction, ChannelId};
use postroute_platforms::meta::MetaClient;
use postroute_platforms::x::XClient;
use postroute_store::{Channel, Store};
use url::Url;

use self::platforms::Connect;
use crate::clock;
use crate::crypto::Keyring;
use crate::workspaces::Caller;

pub use check::CheckOutcome;
pub use connect::{CallbackQuery, Candidate, Completion, PendingChoice};
pub use publish::{CALL_TIMEOUT, PublishContext, PublishSettings, Published, lag};
pub use slots::{ChannelSlots, RequestedSlot};
pub(crate) use slots::{stored_week, zone_of};
pub use tokens::TokenCipher;

/// How long a started connection may take to come back.
pub const STATE_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// The channel service.
#[derive(Debug, Clone)]
pub struct ChannelService {
    store: Store,
    cipher: TokenCipher,
    x: Option<XClient>,
    meta: Option<MetaClient>,
    public_url: Url,
    /// The media library, for the files a post carries to its platform.
    media: Option<crate::media::MediaService>,
}

impl ChannelService {
    /// Wires the service; a platform whose client is `None` is not configured here.
    pub fn new(
        store: Store,
        keyring: Arc<Keyring>,
        x: Option<XClient>,
        meta: Option<MetaClient>,
        public_url: Url,
    ) -> Self {
        Self { store, cipher: TokenCipher::new(keyring), x, meta, public_url, media: None }
    }

    /// The service, publishing posts' files from `media`.
    pub fn with_media(mut self, media: crate::media::MediaService) -> Self {
        self.media = Some(media);
        self
    }

    /// Every channel of the workspace (never any token material).
    pub async fn list(&self, caller: &Caller) -> Result<Vec<Channel>, Refusal> {
        Ok(self.store.tenant(caller.workspace.id).channels().await?)
    }

    /// Disconnects a channel: its tokens are deleted, and revoked at the platform where it
    /// offers revocation (X does; Meta does not).
    pub async fn disconnect(&self, caller: &Caller, id: ChannelId) -> Result<(), Refusal> {
        let tenant = self.store.tenant(caller.workspace.id);
        let channel = tenant.channel(id).await?.ok_or(Refusal::NotFound)?;
        if channel.status == postroute_domain::ChannelStatus::Disconnected {
            return Ok(()); // Disconnecting is idempotent; the audit log has the first time.
        }
        let audit = caller.audit(AuditAction::ChannelDisconnected).target("channel", id).details(
            serde_json::json!({
                "provider": channel.provider.as_str(),
                "external_id": channel.external_id,
                "display_name": channel.display_name,
            }),
        );
        let Some(tokens) = tenant.disconnect_channel(id, clock::now(), &audit).await? else {
            return Err(Refusal::NotFound);
        };
        if let (Some(tokens), Ok(platform)) = (tokens, self.platform(channel.provider))
            && platform.revokes()
        {
            let opened = self.cipher.open(caller.workspace.id, id, &tokens)?;
            for token in [Some(opened.access_token), opened.refresh_token].into_iter().flatten() {
                if let Err(error) = platform.revoke(&token).await {
                    // The tokens are gone from our side whatever the platform says; the grant
                    // will lapse.
                    tracing::warn!(
                        channel.id = display(&id),
                        provider = display(&channel.provider),
                        error = display(&error),
                        "could not revoke a token"
                    );
                }
            }
        }
        tracing::info!(
            workspace.id = display(&caller.workspace.id),
            channel.id = display(&id),
            "channel disconnected"
        );
        Ok(())
    }
}
