//! The publisher: claims due post targets and publishes each through the channel service.
//!
//! A pass first marks as missed what came due too long ago, takes back targets whose worker's
//! lease ran out (requeued when nothing was sent, unknown when a call may have happened),
//! reconciles unknown targets whose next look is due, then claims what is due, and last reports
//! every outcome reached (audit entries, and one email per incident). Any number of workers run
//! this at once: the claim, the fence and the intent in the store keep each target's call to
//! one worker (see `postroute_store::Publishing`).

use std::sync::Arc;

use futures_util::StreamExt;
use postroute_app::channels::{ChannelService, PublishContext, PublishSettings, Published, lag};
use postroute_app::clock;
use postroute_app::mail::MailComposer;
use postroute_app::posts::{lapse_review, report_outcomes};
use postroute_store::{ClaimedTarget, Publishing, Store, StoreError};

use crate::Job;

/// Reviews lapsed and unknown targets reconciled per pass.
const BATCH: u32 = 16;

/// How often the backlog gauges are refreshed.
const GAUGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// The publish job.
#[derive(Debug, Clone)]
pub struct PublishJob {
    store: Store,
    channels: ChannelService,
    composer: Arc<MailComposer>,
    /// This process, in attempt rows: `host-pid-…`, unique per start.
    worker: String,
    settings: PublishSettings,
    /// When the backlog gauges were last set.
    gauged_at: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl PublishJob {
    /// A job over `store`, publishing as `settings` say.
    pub fn new(
        store: Store,
        channels: ChannelService,
        composer: Arc<MailComposer>,
        settings: PublishSettings,
    ) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".to_owned());
        let worker = format!("{host}-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        Self { store, channels, composer, worker, settings, gauged_at: Arc::default() }
    }

    /// Sets the backlog gauges, at most every [`GAUGE_INTERVAL`]: two counts are cheap, but
    /// not at every pass of a busy worker.
    async fn measure_backlog(&self, publishing: &Publishing<'_>) {
        {
            let mut last = self.gauged_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < GAUGE_INTERVAL) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        match publishing.backlog(clock::now()).await {
            Ok((due, unknown)) => {
                metrics::gauge!("postroute_publish_targets", "state" => "due").set(due as f64);
                metrics::gauge!("postroute_publish_targets", "state" => "unknown")
                    .set(unknown as f64);
            }
            Err(error) => tracing::warn!(error = display(&error), "could not count the backlog"),
        }
    }

    /// Publishes what is due, `concurrency` targets at once, refilling the free places as calls
    /// finish (a sixteenth at a time, so one slow call does not hold back the rest, nor does
    /// every finished call cost a claim). A target is claimed only when a place is free for
    /// it: claimed and left waiting, it would spend its lease before its call. Calls wait on
    /// the platforms, not on this machine, and hold no database connection (the intent
    /// commits before them). Returns how many targets it took.
    async fn publish_due(&self, publishing: &Publishing<'_>) -> Result<usize, StoreError> {
        use futures_util::stream::FuturesUnordered;
        let concurrency = self.settings.concurrency;
        let refill_at = (concurrency / 16).max(1);
        let mut in_flight = FuturesUnordered::new();
        let (mut taken, mut exhausted) = (0, false);
        loop {
            let free = concurrency - in_flight.len();
            if !exhausted && (free >= refill_at || in_flight.is_empty()) {
                let now = clock::now();
                let started = std::time::Instant::now();
                let limit = u32::try_from(free).unwrap_or(u32::MAX);
                let claim =
                    publishing.claim_due(&self.worker, now, now + self.settings.lease, limit);
                tokio::pin!(claim);
                // The calls under way are polled while the claim waits: one of them may hold
                // the connection the claim needs (SQLite has one writer), and a future nobody
                // polls never lets go of it.
                let claimed = loop {
                    tokio::select! {
                        claimed = &mut claim => break claimed,
                        Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
                    }
                };
                match claimed {
                    Ok(claimed) => {
                        metrics::histogram!("postroute_publish_claim_seconds")
                            .record(started.elapsed().as_secs_f64());
                        // Fewer than asked for: nothing more is due for now.
                        exhausted = claimed.len() < free;
                        taken += claimed.len();
                        for target in claimed {
                            in_flight.push(async move { self.publish(publishing, &target).await });
                        }
                    }
                    // The calls under way finish before the failure is reported: dropped,
                    // they would leave their targets to reconciliation.
                    Err(error) if !in_flight.is_empty() => {
                        while in_flight.next().await.is_some() {}
                        return Err(error);
                    }
                    Err(error) => return Err(error),
                }
            }
            if in_flight.next().await.is_none() {
                return Ok(taken);
            }
        }
    }

    fn context<'a>(&'a self, publishing: &'a Publishing<'a>) -> PublishContext<'a> {
        PublishContext {
            publishing,
            worker: &self.worker,
            settings: &self.settings,
            composer: &self.composer,
        }
    }

    async fn publish(&self, publishing: &Publishing<'_>, target: &ClaimedTarget) {
        let now = clock::now();
        let platform = target.provider.as_str();
        if now - target.came_due_at > self.settings.missed_after {
            // Crossed the missed line after this pass's sweep: never published that late.
            match publishing.miss_claimed(&target.key, target.fence, now).await {
                Ok(true) => tracing::warn!(
                    post.id = display(&target.key.post),
                    channel.id = display(&target.key.channel),
                    "a claimed target came due too late and was marked missed"
                ),
                // The claim was lost meanwhile: the worker that holds the target decides.
                Ok(false) => {}
                Err(error) => tracing::error!(
                    post.id = display(&target.key.post),
                    error = display(&error),
                    "could not mark a late target missed; its lease lapses"
                ),
            }
            return;
        }
        let lag_secs = lag(target, now).num_milliseconds() as f64 / 1000.0;
        metrics::histogram!("postroute_publish_lag_seconds", "platform" => platform)
            .record(lag_secs.max(0.0));
        let class = match self.channels.publish(&self.context(publishing), target).await {
            Ok(Published::Out(_)) => "published",
            Ok(Published::NotOut(class)) => class,
            Ok(Published::Untouched) => "untouched",
            Err(error) => {
                // The claim lapses with its lease and recovery decides what the target becomes.
                tracing::error!(
                    post.id = display(&target.key.post),
                    channel.id = display(&target.key.channel),
                    error = display(&error),
                    "publishing failed"
                );
                "error"
            }
        };
        metrics::counter!(
            "postroute_publish_outcomes_total",
            "platform" => platform,
            "class" => class
        )
        .increment(1);
    }
}

impl Job for PublishJob {
    const NAME: &'static str = "publish";

    /// Until the next scheduled post falls due, if that is sooner than the poll: a post is
    /// published at its time, not up to a poll interval after it.
    async fn idle_pause(&self, interval: std::time::Duration) -> std::time::Duration {
        let publishing = self.store.cross_tenant_unscoped().publishing();
        let now = clock::now();
        match publishing.next_scheduled_after(now).await {
            // A millisecond past the instant, so the pass never wakes just before it.
            Ok(Some(at)) => (at - now + chrono::TimeDelta::milliseconds(1))
                .to_std()
                .map_or(std::time::Duration::ZERO, |wait| wait.min(interval)),
            Ok(None) => interval,
            Err(error) => {
                tracing::warn!(error = display(&error), "could not read the next due time");
                interval
            }
        }
    }

    /// Sweeps, recovers, claims and publishes; returns how many targets it handled.
    async fn run_once(&self) -> Result<usize, StoreError> {
        let publishing = self.store.cross_tenant_unscoped().publishing();
        let now = clock::now();
        // A post nobody approved in time is never published: it goes back to its author first.
        let mut lapsed = 0;
        for review in publishing.reviews_past_due(now, BATCH).await? {
            match lapse_review(&self.store, &self.composer, &review).await {
                Ok(true) => lapsed += 1,
                Ok(false) => {}
                Err(error) => tracing::error!(
                    post.id = display(&review.post),
                    error = display(&error),
                    "could not return a lapsed review to draft"
                ),
            }
        }
        let missed = publishing.sweep_missed(now, now - self.settings.missed_after).await?;
        if missed > 0 {
            tracing::warn!(targets = missed, "targets came due too late and were marked missed");
        }
        let recovered = publishing.recover_expired(now, self.settings.first_look(now)).await?;
        if recovered.unknown > 0 {
            tracing::warn!(
                targets = recovered.unknown,
                "workers stopped mid-call: targets are unknown until reconciled"
            );
        }
        let lease_until = now + self.settings.lease;
        let unknown = publishing.claim_unknown(&self.worker, now, lease_until, BATCH).await?;
        for target in &unknown {
            if let Err(error) = self.channels.reconcile(&self.context(&publishing), target).await {
                // The claim lapses with its lease, and the next pass looks again.
                tracing::error!(
                    post.id = display(&target.claim.key.post),
                    channel.id = display(&target.claim.key.channel),
                    error = display(&error),
                    "reconciliation failed"
                );
            }
        }
        let published = self.publish_due(&publishing).await?;
        let reported = match report_outcomes(&self.store, &publishing, &self.composer).await {
            Ok(reported) => reported,
            Err(error) => {
                // The flags stay set: the next pass reports them.
                tracing::error!(error = display(&error), "could not report publishing outcomes");
                0
            }
        };
        self.measure_backlog(&publishing).await;
        if recovered.failed > 0 {
            tracing::warn!(
                targets = recovered.failed,
                "claimed targets' channels were lost before their call: failed with the reason"
            );
        }
        let swept = missed + recovered.unknown + recovered.requeued + recovered.failed;
        Ok(published + unknown.len() + lapsed + reported + usize::try_from(swept).unwrap_or(0))
    }
}
