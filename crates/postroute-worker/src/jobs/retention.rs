//! The retention job (S-LOG-2): ordinary system events are deleted a year after they occurred;
//! security events are kept forever. Every worker runs it; the deletes are idempotent, so two
//! workers at once only share the work.

use postroute_app::clock;
use postroute_domain::system_event::ORDINARY_EVENT_RETENTION_DAYS;
use postroute_store::{Store, StoreError};

use crate::Job;

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
}

impl Job for RetentionJob {
    const NAME: &'static str = "event_retention";

    /// Deletes the ordinary events older than the retention period; returns how many.
    async fn run_once(&self) -> Result<usize, StoreError> {
        let cutoff = clock::now() - chrono::Duration::days(ORDINARY_EVENT_RETENTION_DAYS);
        let deleted = self.store.system_events().delete_expired(cutoff).await?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }
}
