//! The retention job (S-LOG-2): ordinary system events are deleted a year after they occurred;
//! security events are kept forever. Every worker runs it; the deletes are idempotent, so two
//! workers at once only share the work.

use std::time::Duration;

use postroute_domain::system_event::ORDINARY_EVENT_RETENTION_DAYS;
use postroute_store::{Store, StoreError};
use tokio::sync::watch;

use crate::clock;

/// The retention job.
#[derive(Debug, Clone)]
pub struct RetentionJob {
    store: Store,
}

impl RetentionJob {
    /// A job over `store`.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// One pass: deletes the ordinary events older than the retention period; returns how many.
    pub async fn run_once(&self) -> Result<u64, StoreError> {
        let cutoff = clock::now() - chrono::Duration::days(ORDINARY_EVENT_RETENTION_DAYS);
        let deleted = self.store.system_events().delete_expired(cutoff).await?;
        if deleted > 0 {
            tracing::info!(deleted, "expired system events deleted");
        }
        Ok(deleted)
    }

    /// Runs a pass now and then every `interval` until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, interval: Duration) {
        loop {
            if let Err(error) = self.run_once().await {
                tracing::warn!(%error, "retention pass failed; retrying at the next interval");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}
