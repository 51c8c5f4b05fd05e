//! The token job: claims channels whose tokens are due for a refresh or a check, and hands each
//! to the channel service.

use std::sync::Arc;
use std::time::Duration;

use postroute_store::Store;
use tokio::sync::watch;

use crate::channels::ChannelService;
use crate::clock;
use crate::mail::MailComposer;

/// A claimed channel belongs to its worker this long: far longer than one refresh takes, so two
/// workers never refresh one X account at once (which would kill its rotating grant).
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
const BATCH: u32 = 20;

/// The token job.
#[derive(Debug, Clone)]
pub struct TokenJob {
    store: Store,
    channels: ChannelService,
    composer: Arc<MailComposer>,
}

impl TokenJob {
    /// A job over `store`.
    pub fn new(store: Store, channels: ChannelService, composer: Arc<MailComposer>) -> Self {
        Self { store, channels, composer }
    }

    /// One pass: claims due channels and checks each; returns how many it handled.
    pub async fn run_once(&self) -> Result<usize, postroute_store::StoreError> {
        let now = clock::now();
        let due =
            self.store.cross_tenant_unscoped().claim_due_channels(now, now + LEASE, BATCH).await?;
        for channel in &due {
            if let Err(error) = self.channels.check(channel, &self.composer).await {
                // The claim lapses with its lease and the channel is tried again.
                tracing::error!(channel.id = %channel.id, %error, "channel check failed");
            }
        }
        Ok(due.len())
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, poll_interval: Duration) {
        loop {
            let handled = match self.run_once().await {
                Ok(handled) => handled,
                Err(error) => {
                    tracing::warn!(%error, "token job pass failed; retrying");
                    0
                }
            };
            if *shutdown.borrow() {
                return;
            }
            if handled == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(poll_interval) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}
