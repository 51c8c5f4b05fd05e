//! Whether the database is away. While it is, callers are told at once instead of each
//! waiting out the pool's acquire timeout for a connection that will not come; one probe at a
//! time looks for the database's return.
//!
//! A failure only raises a suspicion: the database counts as away once a probe of its own has
//! failed too, so a pool that is merely exhausted under load never turns into an outage.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use crate::Store;

/// How often a probe asks whether the database is back.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// How long one probe waits for an answer.
const PROBE_DEADLINE: Duration = Duration::from_secs(2);

/// No probe runs; the database is presumed there.
const PRESENT: u8 = 0;
/// A failure was reported; a probe is checking.
const SUSPECT: u8 = 1;
/// A probe failed; it goes on probing until the database answers.
const AWAY: u8 = 2;

/// Shared by every clone of one [`Store`]. One state, so that "away" always has a probe
/// running: only a move out of `PRESENT` starts one, and only that probe moves back (a report
/// that lands after it did finds `PRESENT` again and starts the next).
#[derive(Debug, Default)]
pub(crate) struct Availability {
    state: AtomicU8,
}

impl Store {
    /// True while the database is known to be away: a statement now would fail, so callers
    /// answer "unavailable" without trying (and without queueing for a connection).
    pub fn is_away(&self) -> bool {
        self.availability.state.load(Ordering::Acquire) == AWAY
    }

    /// Says that a statement found the database unavailable. A probe, unless one is running,
    /// checks whether it really is away. Needs a Tokio runtime.
    pub fn report_unavailable(&self) {
        let started = self
            .availability
            .state
            .compare_exchange(PRESENT, SUSPECT, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if started {
            let store = self.clone();
            tokio::spawn(async move { store.probe_until_present().await });
        }
    }

    /// Says that a readiness check, the same check the probe makes, just failed: the database
    /// counts as away at once, and a probe looks for its return unless one is running.
    pub fn report_check_failed(&self) {
        if self.availability.state.swap(AWAY, Ordering::AcqRel) == PRESENT {
            tracing::warn!("database away: failing fast until it answers again");
            let store = self.clone();
            tokio::spawn(async move { store.probe_until_present().await });
        }
    }

    async fn probe_until_present(self) {
        let state = &self.availability.state;
        loop {
            let answered = tokio::time::timeout(PROBE_DEADLINE, self.check_ready()).await;
            if matches!(answered, Ok(Ok(()))) {
                if state.swap(PRESENT, Ordering::AcqRel) == AWAY {
                    tracing::info!("database answers again");
                }
                return;
            }
            if state.swap(AWAY, Ordering::AcqRel) == SUSPECT {
                tracing::warn!("database away: failing fast until it answers again");
            }
            tokio::time::sleep(PROBE_INTERVAL).await;
        }
    }
}

/// A fresh record: the database is presumed there until something says otherwise.
pub(crate) fn fresh() -> Arc<Availability> {
    Arc::default()
}
