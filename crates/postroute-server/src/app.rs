//! Bootstrap: one function turns a configuration into a running server. The binary and the
//! test harness both call it, so tests exercise exactly what production runs.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::{Control, Handle};
use postroute_store::{Store, StoreOptions};
use secrecy::ExposeSecret;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::accounts::{AccountService, Lifetimes};
use crate::admin::staff::StaffService;
use crate::auth::{AccessTokens, PasswordHasher};
use crate::channels::ChannelService;
use crate::config::{Config, Keys, TlsMinVersion};
use crate::crypto::derive_key;
use crate::mail::worker::MailWorker;
use crate::mail::{MailComposer, MailSender};
use crate::media::links::LINK_KEY_PURPOSE;
use crate::media::{LinkSigner, MediaService, MediaStorage};
use crate::posts::PostService;
use crate::rate_limit::{RateLimiter, RedisStore};
use crate::scheduler::purge::PurgeJob;
use crate::scheduler::retention::RetentionJob;
use crate::scheduler::token_refresh::TokenJob;
use crate::webhooks::WebhookService;
use crate::workspaces::{InvitationLimits, WorkspaceService};
use postroute_platforms::meta::{MetaClient, MetaEndpoints};
use postroute_platforms::x::{XClient, XEndpoints};

/// Invitations can be accepted for a week.
const INVITATION_LIFETIME: chrono::Duration = chrono::Duration::days(7);
use crate::{http, tls};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// The database.
    pub store: Store,
    /// Accounts and sessions.
    pub accounts: AccountService,
    /// Workspaces, members, invitations, audit log.
    pub workspaces: WorkspaceService,
    /// Connected social accounts.
    pub channels: ChannelService,
    /// The media library.
    pub media: MediaService,
    /// Posts, their review and schedule.
    pub posts: PostService,
    /// What staff may see and do.
    pub staff: StaffService,
    /// Deliveries from Stripe, Meta and X.
    pub webhooks: WebhookService,
    /// Request rate limits.
    pub limiter: RateLimiter,
}

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
    let composer = Arc::new(MailComposer::new(
        keys.derived_keyring(crate::mail::OUTBOX_KEY_PURPOSE),
        config.http.public_url.clone(),
    ));
    let channels = channel_service(&config, store.clone(), &keys)?;
    let (stop_workers, workers_stopped) = watch::channel(false);
    let mut work = JoinSet::new();
    let mut housekeeping = JoinSet::new();
    if role == Role::Worker || config.worker.run_in_serve {
        let sender = MailSender::from_config(&config).context("cannot set up email delivery")?;
        let worker = MailWorker::new(store.clone(), composer.clone(), sender, &config.email);
        let poll = Duration::from_millis(config.worker.poll_interval_ms);
        let mail_stopped = workers_stopped.clone();
        work.spawn(async move {
            worker.run(mail_stopped, poll).await;
            Ok(())
        });
        let token_job = TokenJob::new(store.clone(), channels.clone(), composer.clone());
        let tokens_stopped = workers_stopped.clone();
        let token_poll = Duration::from_secs(config.worker.token_check_interval_secs);
        work.spawn(async move {
            token_job.run(tokens_stopped, token_poll).await;
            Ok(())
        });
        let retention = RetentionJob::new(store.clone());
        let retention_stopped = workers_stopped.clone();
        let retention_interval = Duration::from_secs(config.worker.retention_interval_secs);
        work.spawn(async move {
            retention.run(retention_stopped, retention_interval).await;
            Ok(())
        });
        let storage = MediaStorage::from_config(&config).context("cannot open media storage")?;
        let grace = chrono::Duration::days(i64::from(config.worker.workspace_purge_after_days));
        let purge = PurgeJob::new(store.clone(), storage, grace);
        let purge_stopped = workers_stopped.clone();
        work.spawn(async move {
            purge.run(purge_stopped, retention_interval).await;
            Ok(())
        });
        tracing::info!(
            provider = ?config.email.provider,
            "worker running: email delivery, channel tokens, event retention, workspace purge"
        );
    }

    let control = Control::new();
    let (mut https_addr, mut plain_addr) = (None, None);
    if role == Role::Serve {
        let state = build_state(config.clone(), store.clone(), &keys, composer, channels).await?;
        let limiter = state.limiter.clone();
        housekeeping.spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                limiter.forget_full_buckets();
            }
        });
        let router = http::router(state);
        if let Some(address) = config.http.listen {
            let tls = tls::server_config(&config.http, &config.data_dir)?;
            let listener = bind(address)?;
            let local = listener.local_addr()?;
            let serve = http::transport::serve_https(
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
            tracing::info!(url = %format!("https://{local}"), "PostRoute is listening (HTTPS, {versions})");
            https_addr = Some(local);
        }
        if let Some(address) = config.http.plain_listen {
            let listener = bind(address)?;
            let local = listener.local_addr()?;
            let serve = http::transport::serve_plain(
                listener,
                Handle::with_control(control.clone()),
                router,
                &config.http,
            )?;
            work.spawn(async move { serve.await.context("plain listener failed") });
            tracing::info!(url = %format!("http://{local}"), "PostRoute is listening (plain HTTP, for a TLS-terminating proxy)");
            plain_addr = Some(local);
        }
    }

    Ok(RunningApp {
        https_addr,
        plain_addr,
        control,
        grace: Duration::from_secs(config.http.shutdown_grace_secs),
        work,
        housekeeping,
        stop_workers,
        store,
    })
}

async fn build_state(
    config: Arc<Config>,
    store: Store,
    keys: &Keys,
    composer: Arc<MailComposer>,
    channels: ChannelService,
) -> anyhow::Result<AppState> {
    let auth = &config.auth;
    let hasher =
        PasswordHasher::new(&auth.argon2).await.context("cannot set up password hashing")?;
    let previous_jwt_secret = match &auth.jwt_previous_secret {
        Some(previous) => Some(crate::config::KeyName::JwtSecret.decode(previous.expose_secret())?),
        None => None,
    };
    let tokens = AccessTokens::new(
        keys.jwt_secret.expose_secret(),
        previous_jwt_secret.as_ref().map(|secret| secret.expose_secret()),
        config.http.public_url.as_str(),
        chrono::Duration::seconds(i64::try_from(auth.access_token_ttl_secs).unwrap_or(900)),
    );
    let days = |value: u64| {
        chrono::Duration::days(i64::try_from(value).unwrap_or(i64::MAX / 86_400_000_000))
    };
    let hours = |value: u64| chrono::Duration::hours(i64::try_from(value).unwrap_or(1));
    let minutes = |value: u64| chrono::Duration::minutes(i64::try_from(value).unwrap_or(1));
    let limiter = match &config.redis.url {
        Some(url) => RateLimiter::redis(
            RedisStore::connect(url.expose_secret(), &config.redis.key_prefix)
                .await
                .context("cannot connect to Redis (redis.url)")?,
        ),
        None => RateLimiter::in_memory(),
    };
    let workspaces = WorkspaceService::new(
        store.clone(),
        composer.clone(),
        INVITATION_LIFETIME,
        InvitationLimits::from_config(&config.rate_limits, limiter.clone()),
    );
    let accounts = AccountService::new(
        store.clone(),
        hasher,
        Arc::new(tokens),
        composer,
        Lifetimes {
            refresh: days(auth.refresh_token_ttl_days),
            verification: hours(auth.verification_token_ttl_hours),
            reset: minutes(auth.reset_token_ttl_minutes),
        },
        derive_key(keys.jwt_secret.expose_secret(), "postroute/email-hash/v1"),
    );
    let storage = MediaStorage::from_config(&config).context("cannot set up media storage")?;
    let links = LinkSigner::new(
        keys.derived_keys(LINK_KEY_PURPOSE),
        config.http.public_url.clone(),
        Duration::from_secs(config.storage.public_link_ttl_secs),
    );
    let media = MediaService::new(store.clone(), storage, links, &config.data_dir)
        .context("cannot create the upload scratch directory under data_dir")?;
    let posts = PostService::new(store.clone());
    let staff = StaffService::new(store.clone());
    let webhooks = WebhookService::new(store.clone(), limiter.clone(), &config);
    Ok(AppState {
        config,
        store,
        accounts,
        workspaces,
        channels,
        media,
        posts,
        staff,
        webhooks,
        limiter,
    })
}

fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        url: config.database_url(),
        max_connections: config.database.max_connections,
        acquire_timeout: Duration::from_secs(config.database.acquire_timeout_secs),
        app_role: Some(config.database.app_role.clone()).filter(|role| !role.is_empty()),
    }
}

/// Applies pending migrations (SQLite's file is created in the data directory by default).
pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    if config.database.url.is_none() {
        create_private_dir(&config.data_dir)?;
    }
    Store::migrate(&store_options(config)).await.context("cannot apply database migrations")
}

/// The channel service with the platform clients the configuration enables.
pub fn channel_service(
    config: &Config,
    store: Store,
    keys: &Keys,
) -> anyhow::Result<ChannelService> {
    let x = match (&config.x.client_id, &config.x.client_secret) {
        (Some(id), Some(secret)) => Some(XClient::new(
            XEndpoints {
                auth_base: config.x.auth_base_url.clone(),
                api_base: config.x.api_base_url.clone(),
            },
            id,
            secret.expose_secret(),
        )?),
        _ => None,
    };
    let meta = match (&config.meta.app_id, &config.meta.app_secret) {
        (Some(id), Some(secret)) => Some(MetaClient::new(
            MetaEndpoints {
                graph_base: config.meta.graph_base_url.clone(),
                dialog_base: config.meta.dialog_base_url.clone(),
            },
            id,
            secret.expose_secret(),
        )?),
        _ => None,
    };
    Ok(ChannelService::new(
        store,
        Arc::new(keys.oauth_keyring()),
        x,
        meta,
        config.http.public_url.clone(),
    ))
}

/// Connects to the configured, migrated database.
///
/// Refuses a pool whose role could step around row-level security (S-TENANT-2): the policies are
/// the backstop behind every tenant query, and a backstop that silently is not there is worse
/// than none. Development may go on with `database.allow_rls_bypass`, loudly.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&store_options(config)).await.context("cannot open the database")?;
    let bypass = store
        .row_security_bypass()
        .await
        .context("cannot check the database role's row-level security")?;
    if let Some(reason) = bypass {
        if !config.database.allow_rls_bypass {
            store.close().await;
            anyhow::bail!(
                "row-level security would not bind: {reason}; set database.app_role to a role \
                 without SUPERUSER or BYPASSRLS that owns no tables (the migrations create \
                 `postroute_app`)"
            );
        }
        tracing::warn!(
            %reason,
            "ROW-LEVEL SECURITY IS BYPASSED: tenant isolation rests on the application alone \
             (database.allow_rls_bypass = true)"
        );
    }
    Ok(store)
}

/// The data directory holds keys and the database: when PostRoute creates it, only the
/// service account may read it.
fn create_private_dir(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if path.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create the data directory {}", path.display()))
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
                    Some(Err(error)) => outcome = Err(anyhow::Error::new(error).context("task panicked")),
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
