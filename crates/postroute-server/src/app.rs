//! Bootstrap: one function turns a configuration into a running server. The binary and the
//! test harness both call it, so tests exercise exactly what production runs.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use axum_server::{Control, Handle};
use postroute_store::{Store, StoreOptions};
use tokio::task::JoinSet;

use crate::config::{Config, Keys};
use crate::{http, tls};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
}

/// A started server: its addresses, and the means to stop it.
#[derive(Debug)]
pub struct RunningApp {
    https_addr: Option<SocketAddr>,
    plain_addr: Option<SocketAddr>,
    control: Control,
    grace: Duration,
    listeners: JoinSet<std::io::Result<()>>,
    store: Store,
}

/// Opens the database, applies migrations, binds the listeners and starts serving.
pub async fn start(config: Config) -> anyhow::Result<RunningApp> {
    let _keys = Keys::resolve(&config)?;
    let store = open_store(&config).await?;
    store.migrate().await.context("cannot apply database migrations")?;

    let config = Arc::new(config);
    let state = AppState { config: config.clone(), store: store.clone() };
    let router = http::router(state);
    let http_config = &config.http;
    let header_timeout = Duration::from_secs(http_config.header_read_timeout_secs);
    let control = Control::new();
    let mut listeners = JoinSet::new();

    let https_addr = match http_config.listen {
        Some(address) => {
            let tls = tls::server_config(http_config, &config.data_dir)?;
            let listener = bind(address)?;
            let local = listener.local_addr()?;
            let mut server =
                axum_server::from_tcp_rustls(listener, RustlsConfig::from_config(tls))?
                    .handle(Handle::with_control(control.clone()))
                    .first_request_timeout(header_timeout);
            server.http_builder().http1().header_read_timeout(header_timeout);
            let service = router.clone().into_make_service_with_connect_info::<SocketAddr>();
            listeners.spawn(server.serve(service));
            tracing::info!(url = %format!("https://{local}"), "PostRoute is listening (HTTPS, TLS {})",
            match http_config.tls_min_version {
                crate::config::TlsMinVersion::Tls13 => "1.3 only",
                crate::config::TlsMinVersion::Tls12 => "1.2 and 1.3",
            });
            Some(local)
        }
        None => None,
    };
    let plain_addr = match http_config.plain_listen {
        Some(address) => {
            let listener = bind(address)?;
            let local = listener.local_addr()?;
            let mut server = axum_server::from_tcp(listener)?
                .handle(Handle::with_control(control.clone()))
                .first_request_timeout(header_timeout);
            server.http_builder().http1().header_read_timeout(header_timeout);
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            listeners.spawn(server.serve(service));
            tracing::info!(url = %format!("http://{local}"),
                "PostRoute is listening (plain HTTP, for a TLS-terminating proxy)");
            Some(local)
        }
        None => None,
    };

    Ok(RunningApp {
        https_addr,
        plain_addr,
        control,
        grace: Duration::from_secs(http_config.shutdown_grace_secs),
        listeners,
        store,
    })
}

/// Connects to the configured database (SQLite in the data directory by default).
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database.url.is_none() {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create the data directory {}", config.data_dir.display())
        })?;
    }
    Store::connect(&StoreOptions {
        url: config.database_url(),
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
    })
    .await
    .context("cannot open the database")
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

    /// Stops accepting connections; requests in flight may finish within the grace period.
    pub fn begin_shutdown(&self) {
        tracing::info!(
            grace_secs = self.grace.as_secs(),
            "shutting down: finishing requests in flight"
        );
        self.control.graceful_shutdown(Some(self.grace));
    }

    /// Waits until every listener has stopped, then closes the database pool.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut outcome = Ok(());
        while let Some(joined) = self.listeners.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    outcome = Err(anyhow::Error::new(error).context("listener failed"))
                }
                Err(error) => {
                    outcome = Err(anyhow::Error::new(error).context("listener task failed"))
                }
            }
        }
        self.store.close().await;
        outcome
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => tracing::info!("received SIGTERM"),
        _ = interrupt.recv() => tracing::info!("received SIGINT"),
    }
    Ok(())
}
