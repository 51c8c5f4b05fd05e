//! The purge job: a deleted workspace answers 404 at once, and some days later everything of it
//! is removed for good — its media objects from storage, then its rows. Account erasure relies on
//! it too: the workspaces an erased owner held alone are deleted with the account and purged
//! here, so nothing they wrote or uploaded outlives the grace period.

use postroute_app::clock;
use postroute_app::media::MediaStorage;
use postroute_store::{Store, StoreError};

use crate::Job;

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
}

impl Job for PurgeJob {
    const NAME: &'static str = "workspace_purge";

    /// Returns how many workspaces were purged. A workspace whose objects cannot all be removed
    /// keeps its rows until a later pass succeeds.
    async fn run_once(&self) -> Result<usize, StoreError> {
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
                    tracing::warn!(
                        workspace.id = display(&workspace),
                        error = display(&error),
                        "could not remove the workspace's media objects; the purge will retry"
                    );
                    continue;
                }
            };
            if self.store.tenant(workspace).purge().await? {
                tracing::info!(
                    workspace.id = display(&workspace),
                    objects = removed,
                    "deleted workspace purged"
                );
                purged += 1;
            }
        }
        Ok(purged)
    }
}
