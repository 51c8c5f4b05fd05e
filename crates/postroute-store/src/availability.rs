//! Whether the database is away. While it is, callers are told at once instead of each
//! waiting out the pool's acquire timeout for a connection that will not come; one probe at a
//! time looks for the database's return.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::Store;

/// How often a probe asks whether the database is back.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// How long one probe waits for an answer.
const PROBE_DEADLINE: Duration = Duration::from_secs(2);

/// Shared by every clone of one [`Store`].
#[derive(Debug, Default)]
pub(crate) struct Availability {
    away: AtomicBool,
    probing: AtomicBool,
}

impl Store {
    /// True while the database is known to be away: a statement now would fail, so callers
    /// answer "unavailable" without trying (and without queueing for a connection).
    pub fn is_away(&self) -> bool {
        self.availability.away.load(Ordering::Acquire)
    }

    /// Records that the database did not answer, and starts the probe that notices its return,
    /// unless one is running. Needs a Tokio runtime.
    pub fn report_away(&self) {
        let availability = &self.availability;
        availability.away.store(true, Ordering::Release);
        if availability.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("database away: failing fast until it answers again");
        let store = self.clone();
        tokio::spawn(async move { store.probe_until_back().await });
    }

    async fn probe_until_back(self) {
        loop {
            tokio::time::sleep(PROBE_INTERVAL).await;
            let answered = tokio::time::timeout(PROBE_DEADLINE, self.check_ready()).await;
            if matches!(answered, Ok(Ok(()))) {
                break;
            }
        }
        self.availability.away.store(false, Ordering::Release);
        self.availability.probing.store(false, Ordering::Release);
        tracing::info!("database answers again");
    }
}

/// A fresh record: the database is presumed there until something says otherwise.
pub(crate) fn fresh() -> Arc<Availability> {
    Arc::default()
}
