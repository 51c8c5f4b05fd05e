//! The purge job: a deleted workspace answers 404 at once, and some days later everything of it
//! is removed for good — its media objects from storage, then its rows. Account erasure relies on
//! it too: the workspaces an erased owner held alone are deleted with the account and purged
//! here, so nothing they wrote or uploaded outlives the grace period.

use std::time::Duration;

use postroute_store::{Store, StoreError};
use tokio::sync::watch;

use crate::clock;
use crate::media::MediaStorage;

/// Workspaces handled per pass.
const BATCH: u32 = 20;

/// The purge job.
#[derive(Debug, Clone)]
pub struct PurgeJob {
    store: Store,
    storage: MediaStorage,
    grace: chrono::Duration,
}

impl PurgeJob {
    /// A job that purges workspaces deleted more than `grace` ago.
    pub fn new(store: Store, storage: MediaStorage, grace: chrono::Duration) -> Self {
        Self { store, storage, grace }
    }

    /// One pass; returns how many workspaces were purged. A workspace whose objects cannot all
    /// be removed keeps its rows until a later pass succeeds.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let due = self
            .store
            .cross_tenant_unscoped()
            .deleted_workspaces(clock::now() - self.grace, BATCH)
            .await?;
        let mut purged = 0;
        for workspace in due {
            // Every object is stored under `{workspace}/`: removing the prefix also finds the
            // ones no row points at (a failed delete, a crash between storing and recording).
            let removed = match self.storage.delete_prefix(&workspace.to_string()).await {
                Ok(removed) => removed,
                Err(error) => {
                    tracing::warn!(workspace.id = %workspace, %error, "could not remove the workspace's media objects; the purge will retry");
                    continue;
                }
            };
            if self.store.tenant(workspace).purge().await? {
                tracing::info!(workspace.id = %workspace, objects = removed, "deleted workspace purged");
                purged += 1;
            }
        }
        Ok(purged)
    }

    /// Runs a pass now and then every `interval` until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, interval: Duration) {
        loop {
            if let Err(error) = self.run_once().await {
                tracing::warn!(%error, "purge pass failed; retrying at the next interval");
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
