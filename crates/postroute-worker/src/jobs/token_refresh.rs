//! The token job: claims channels whose tokens are due for a refresh or a check, and hands each
//! to the channel service.

use std::sync::Arc;

use postroute_app::channels::ChannelService;
use postroute_app::clock;
use postroute_app::mail::MailComposer;
use postroute_store::{Store, StoreError};

use crate::Job;

/// A claimed channel belongs to its worker this long: far longer than one refresh takes, so two
/// workers never refresh one X account at once (which would kill its rotating grant).
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
const BATCH: u32 = 20;

/// The token job.
#[derive(Debug, Clone)]
pub struct TokenRefresh {
    store: Store,
    channels: ChannelService,
    composer: Arc<MailComposer>,
}

impl TokenRefresh {
    /// A job over `store`.
    pub fn new(store: Store, channels: ChannelService, composer: Arc<MailComposer>) -> Self {
        Self { store, channels, composer }
    }
}

impl Job for TokenRefresh {
    const NAME: &'static str = "channel_tokens";

    /// Claims due channels and checks each; returns how many it handled.
    async fn run_once(&self) -> Result<usize, StoreError> {
        let now = clock::now();
        let due =
            self.store.cross_tenant_unscoped().claim_due_channels(now, now + LEASE, BATCH).await?;
        for channel in &due {
            if let Err(error) = self.channels.check(channel, &self.composer).await {
                // The claim lapses with its lease and the channel is tried again.
                tracing::error!(
                    channel.id = display(&channel.id),
                    error = display(&error),
                    "channel check failed"
                );
            }
        }
        Ok(due.len())
    }
}
