//! PostRoute's background work: one runner (`runner`) and one file per job under `jobs/`.
//! `postroute serve` runs it beside the API unless `worker.run_in_serve` is false;
//! `postroute worker` runs it alone. Any number of workers may run at once: a job either claims
//! its items under a lease (mail, channel tokens) or does work that is harmless twice (retention,
//! purge).

pub mod jobs;
pub mod runner;

use std::time::Duration;

use anyhow::Context;
use postroute_app::Services;
use postroute_app::channels::PublishSettings;
use postroute_app::mail::MailSender;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use runner::Job;

use jobs::mail_delivery::MailDelivery;
use jobs::publish::PublishJob;
use jobs::purge::PurgeJob;
use jobs::retention::RetentionJob;
use jobs::token_refresh::TokenRefresh;

/// Starts every job on `work`; each ends once `stop` turns true and its pass in progress is done.
pub fn start(
    services: &Services,
    stop: &watch::Receiver<bool>,
    work: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let config = &services.config;
    let worker = &config.worker;
    let store = &services.store;

    let sender = MailSender::from_config(config).context("cannot set up email delivery")?;
    let mail = MailDelivery::new(store.clone(), services.composer.clone(), sender, &config.email);
    spawn(work, mail, Duration::from_millis(worker.poll_interval_ms), stop);

    let tokens =
        TokenRefresh::new(store.clone(), services.channels.clone(), services.composer.clone());
    spawn(work, tokens, Duration::from_secs(worker.token_check_interval_secs), stop);

    let publish = PublishJob::new(
        store.clone(),
        services.channels.clone(),
        services.composer.clone(),
        PublishSettings::from_config(worker),
    );
    spawn(work, publish, Duration::from_millis(worker.poll_interval_ms), stop);

    let housekeeping = Duration::from_secs(worker.retention_interval_secs);
    spawn(work, RetentionJob::new(store.clone()), housekeeping, stop);

    let grace = chrono::Duration::days(i64::from(worker.workspace_purge_after_days));
    let purge = PurgeJob::new(store.clone(), services.storage.clone(), grace);
    spawn(work, purge, housekeeping, stop);

    tracing::info!(
        provider = debug(&config.email.provider),
        "worker running: publishing, email delivery, channel tokens, event retention, \
         workspace purge"
    );
    Ok(())
}

fn spawn<J: Job>(
    work: &mut JoinSet<anyhow::Result<()>>,
    job: J,
    interval: Duration,
    stop: &watch::Receiver<bool>,
) {
    let stop = stop.clone();
    work.spawn(async move {
        runner::run(job, interval, stop).await;
        Ok(())
    });
}
