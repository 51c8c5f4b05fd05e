//! The one way background work runs. Every job is a pass (`Job::run_once`) that finds what is
//! due, claims it under a lease where two workers could race for it, and handles it; the runner
//! decides when the next pass runs:
//! - a pass that handled something is followed by another at once, so a backlog drains at the
//!   speed of the work, not of the poll interval;
//! - a pass that found nothing waits the job's interval, or less when the job knows that
//!   something falls due sooner;
//! - a pass that failed (the database away, say) is retried after 1 s, 2 s, 4 s... but never
//!   later than the interval, so a failure is neither hammered nor left for an hour;
//! - a stop request lets the pass in progress finish (an email being sent, a token being
//!   refreshed), then ends the loop.
//!
//! Each pass leaves one log line: the job, what it handled and how long it took (`debug` when it
//! found nothing, `warn` when it failed).

use std::future::Future;
use std::time::{Duration, Instant};

use postroute_store::StoreError;
use tokio::sync::watch;

/// The first retry after a failed pass; each further failure doubles it.
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// A kind of background work.
pub trait Job: Send + Sync + 'static {
    /// The job's name in log lines.
    const NAME: &'static str;

    /// One pass over what is due now; returns how many items it handled.
    fn run_once(&self) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// How long to wait after a pass that found nothing: the job's interval, unless the job
    /// knows that something falls due sooner (a post scheduled for a given instant should not
    /// wait for the next poll).
    fn idle_pause(&self, interval: Duration) -> impl Future<Output = Duration> + Send {
        async move { interval }
    }
}

/// Runs `job` until `stop` turns true, a pass at once and then by the rules above.
pub async fn run<J: Job>(job: J, interval: Duration, mut stop: watch::Receiver<bool>) {
    let mut failures: u32 = 0;
    loop {
        let started = Instant::now();
        let outcome = job.run_once().await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let pause = match outcome {
            Ok(0) => {
                failures = 0;
                tracing::debug!(job = J::NAME, handled = 0, elapsed_ms, "job pass");
                Some(job.idle_pause(interval).await)
            }
            Ok(handled) => {
                failures = 0;
                tracing::info!(job = J::NAME, handled, elapsed_ms, "job pass");
                None
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                let retry = retry_after(failures, interval);
                tracing::warn!(
                    job = J::NAME,
                    error = display(&error),
                    elapsed_ms,
                    retry_in_ms = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX),
                    "job pass failed"
                );
                Some(retry)
            }
        };
        if *stop.borrow() {
            return;
        }
        if let Some(pause) = pause {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// 1 s × 2^(failures − 1), at most `interval`.
fn retry_after(failures: u32, interval: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(20);
    FIRST_RETRY.saturating_mul(1 << exponent).min(interval)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn failed_passes_back_off_up_to_the_interval() {
        let hour = Duration::from_secs(3600);
        let delays: Vec<u64> = (1..=14).map(|n| retry_after(n, hour).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600]);
        assert_eq!(retry_after(1, Duration::from_millis(50)), Duration::from_millis(50));
        assert_eq!(retry_after(u32::MAX, hour), hour);
    }

    /// Hands out `backlog` items one per pass, then fails `failing` passes, then finds nothing.
    struct Scripted {
        backlog: AtomicUsize,
        failing: AtomicUsize,
        passes: Arc<AtomicUsize>,
    }

    impl Job for Scripted {
        const NAME: &'static str = "scripted";

        async fn run_once(&self) -> Result<usize, StoreError> {
            self.passes.fetch_add(1, Ordering::SeqCst);
            if self.backlog.load(Ordering::SeqCst) > 0 {
                self.backlog.fetch_sub(1, Ordering::SeqCst);
                return Ok(1);
            }
            if self.failing.load(Ordering::SeqCst) > 0 {
                self.failing.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::CorruptRow {
                    table: "scripted",
                    reason: "the test says so".into(),
                });
            }
            Ok(0)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_backlog_drains_without_waiting_then_failures_back_off_then_it_stops() {
        let passes = Arc::new(AtomicUsize::new(0));
        let job = Scripted {
            backlog: AtomicUsize::new(5),
            failing: AtomicUsize::new(2),
            passes: passes.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let interval = Duration::from_secs(60);
        let runner = tokio::spawn(run(job, interval, stopped));

        // Five items and the first failure happen at once: no interval between busy passes.
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 6);
        // The second failure after the first retry (1 s), the idle pass after the second (2 s).
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 7);
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 8);
        // Idle: the next pass waits the interval.
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 8);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 9);

        stop.send(true).expect("the runner is listening");
        tokio::time::timeout(Duration::from_secs(1), runner)
            .await
            .expect("a stop request ends the runner without waiting out the interval")
            .expect("the runner did not panic");
        assert_eq!(passes.load(Ordering::SeqCst), 9, "no pass after the stop");
    }

    /// Finds nothing, but knows that something falls due in `due_in`.
    struct DueSoon {
        due_in: Duration,
        passes: Arc<AtomicUsize>,
    }

    impl Job for DueSoon {
        const NAME: &'static str = "due-soon";

        async fn run_once(&self) -> Result<usize, StoreError> {
            self.passes.fetch_add(1, Ordering::SeqCst);
            Ok(0)
        }

        async fn idle_pause(&self, interval: Duration) -> Duration {
            self.due_in.min(interval)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_job_that_knows_the_next_due_time_wakes_then_not_at_the_next_poll() {
        let passes = Arc::new(AtomicUsize::new(0));
        let job = DueSoon { due_in: Duration::from_secs(3), passes: passes.clone() };
        let (stop, stopped) = watch::channel(false);
        let runner = tokio::spawn(run(job, Duration::from_secs(60), stopped));

        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(2998)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 1, "not before the due time");
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(passes.load(Ordering::SeqCst), 2, "at the due time, not after 60 s");

        stop.send(true).expect("the runner is listening");
        runner.await.expect("the runner did not panic");
    }
}
