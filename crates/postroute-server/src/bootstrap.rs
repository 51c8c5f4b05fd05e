//! Bootstrap: one function turns a configuration into a running server. The binary and the
//! test harness both call it, so tests exercise exactly what production runs.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::{Control, Handle};
use postroute_app::config::{Config, Keys, TlsMinVersion};
use postroute_app::{Services, migrate, open_store};
use postroute_http::AppState;
use postroute_http::transport::tls;
use postroute_store::Store;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What to run in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The API, plus the worker unless `worker.run_in_serve` is false (`postroute serve`).
    Serve,
    /// Only the worker (`postroute worker`).
    Worker,
}

/// A started process: its addresses, and the means to stop it.
#[derive(Debug)]
pub struct RunningApp {
    https_addr: Option<SocketAddr>,
    plain_addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    control: Control,
    grace: Duration,
    /// Listeners and workers: they end on their own after `begin_shutdown`.
    work: JoinSet<anyhow::Result<()>>,
    /// Periodic upkeep: aborted once the work has ended.
    housekeeping: JoinSet<()>,
    stop_workers: watch::Sender<bool>,
    store: Store,
}

/// Starts `postroute serve`.
pub async fn start(config: Config) -> anyhow::Result<RunningApp> {
    start_role(config, Role::Serve).await
}

/// Opens the database, applies migrations, then starts what `role` asks for.
pub async fn start_role(config: Config, role: Role) -> anyhow::Result<RunningApp> {
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let keys = Keys::resolve(&config)?;
    migrate(&config).await?;
    let store = open_store(&config).await?;

    let config = Arc::new(config);
    let services = Services::build(config.clone(), store.clone(), &keys).await?;
    let (stop_workers, workers_stopped) = watch::channel(false);
    let mut work = JoinSet::new();
    let mut housekeeping = JoinSet::new();
    // Installed before anything records, so the first requests and jobs are counted.
    let metrics = postroute_http::metrics::recorder();
    housekeeping.spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            metrics.run_upkeep();
        }
    });
    if role == Role::Worker || config.worker.run_in_serve {
        postroute_worker::start(&services, &workers_stopped, &mut work)?;
    }

    let control = Control::new();
    let (mut https_addr, mut plain_addr, mut metrics_addr) = (None, None, None);
    // Both roles: the worker's jobs have metrics of their own.
    if let Some(address) = config.metrics.listen {
        let listener = bind(address)?;
        let local = listener.local_addr()?;
        let serve = postroute_http::transport::serve_plain(
            listener,
            Handle::with_control(control.clone()),
            postroute_http::metrics::routes(),
            &config.http,
        )?;
        work.spawn(async move { serve.await.context("metrics listener failed") });
        tracing::info!(
            url = display(&format!("http://{local}/metrics")),
            "metrics are served (plain HTTP)"
        );
        metrics_addr = Some(local);
    }
    if role == Role::Serve {
        let limiter = services.limiter.clone();
        housekeeping.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                limiter.forget_full_buckets();
            }
        });
        let router = postroute_http::router(AppState::new(services));
        if let Some(address) = config.http.listen {
            let tls = tls::server_config(&config.http, &config.data_dir)?;
            let listener = bind(address)?;
            let local = listener.local_addr()?;
            let serve = postroute_http::transport::serve_https(
                listener,
                tls,
                Handle::with_control(control.clone()),
                router.clone(),
                &config.http,
            )?;
            work.spawn(async move { serve.await.context("HTTPS listener failed") });
            let versions = match config.http.tls_min_version {
                TlsMinVersion::Tls13 => "TLS 1.3 only",
                TlsMinVersion::Tls12 => "TLS 1.2 and 1.3",
            };
            tracing::info!(
                url = display(&format!("https://{local}")),
                "PostRoute is listening (HTTPS, {versions})"
            );
            https_addr = Some(local);
        }
        if let Some(address) = config.http.plain_listen {
            let listener = bind(address)?;
            let local = listener.local_addr()?;
            let serve = postroute_http::transport::serve_plain(
                listener,
                Handle::with_control(control.clone()),
                router,
                &config.http,
            )?;
            work.spawn(async move { serve.await.context("plain listener failed") });
            tracing::info!(
                url = display(&format!("http://{local}")),
                "PostRoute is listening (plain HTTP, for a TLS-terminating proxy)"
            );
            plain_addr = Some(local);
        }
    }

    Ok(RunningApp {
        https_addr,
        plain_addr,
        metrics_addr,
        control,
        grace: Duration::from_secs(config.http.shutdown_grace_secs),
        work,
        housekeeping,
        stop_workers,
        store,
    })
}

fn bind(address: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(address).with_context(|| format!("cannot listen on {address}"))
}

impl RunningApp {
    /// The HTTPS listener's address, when it is enabled.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    /// The plain-HTTP listener's address, when it is enabled.
    pub fn plain_addr(&self) -> Option<SocketAddr> {
        self.plain_addr
    }

    /// The metrics listener's address, when it is enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Stops accepting connections and asks workers to stop; requests in flight and a send
    /// in progress may finish within the grace period.
    pub fn begin_shutdown(&self) {
        tracing::info!(
            grace_secs = self.grace.as_secs(),
            "shutting down: finishing work in flight"
        );
        self.control.graceful_shutdown(Some(self.grace));
        let _ = self.stop_workers.send(true);
    }

    /// Waits until listeners and workers have stopped (at most the grace period and a little),
    /// then stops upkeep and closes the database pool.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut outcome = Ok(());
        let deadline = tokio::time::sleep(self.grace + Duration::from_secs(5));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = self.work.join_next() => match joined {
                    None => break,
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(error))) => outcome = Err(error),
                    Some(Err(error)) => {
                        outcome = Err(anyhow::Error::new(error).context("task panicked"));
                    }
                },
                _ = &mut deadline => {
                    tracing::warn!("shutdown grace period over; stopping what is left");
                    self.work.shutdown().await;
                    break;
                }
            }
        }
        self.housekeeping.shutdown().await;
        self.store.close().await;
        outcome
    }
}

/// Takes over SIGTERM and SIGINT (Ctrl-C) at once, and returns what resolves when one
/// arrives. Call it before the listeners open: a signal that arrived between a listener opening
/// and the handlers being installed would kill the process instead of draining it.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => tracing::info!("received SIGTERM"),
            _ = interrupt.recv() => tracing::info!("received SIGINT"),
        }
    })
}
