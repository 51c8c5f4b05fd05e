//! The services, built once from the configuration and shared by every face of the process:
//! the API's handlers, the web app and the workers reach the same instances.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use postroute_platforms::meta::{MetaClient, MetaEndpoints};
use postroute_platforms::x::{XClient, XEndpoints};
use postroute_store::{Store, StoreOptions};
use secrecy::ExposeSecret;

use crate::accounts::{AccountService, Lifetimes};
use crate::admin::staff::StaffService;
use crate::auth::{AccessTokens, PasswordHasher};
use crate::channels::ChannelService;
use crate::config::{Config, Keys};
use crate::crypto::derive_key;
use crate::mail::MailComposer;
use crate::media::links::LINK_KEY_PURPOSE;
use crate::media::{LinkSigner, MediaService, MediaStorage};
use crate::posts::PostService;
use crate::rate_limit::{RateLimiter, RedisStore};
use crate::webhooks::WebhookService;
use crate::workspaces::{InvitationLimits, WorkspaceService};

/// Invitations can be accepted for a week.
const INVITATION_LIFETIME: chrono::Duration = chrono::Duration::days(7);

/// Every service of the application, each cheap to clone.
#[derive(Clone, Debug)]
pub struct Services {
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
    /// Composes and seals the outbox's messages.
    pub composer: Arc<MailComposer>,
    /// Where media objects live.
    pub storage: MediaStorage,
}

impl Services {
    /// Builds every service over `store`, which is open and migrated.
    pub async fn build(config: Arc<Config>, store: Store, keys: &Keys) -> anyhow::Result<Self> {
        let composer = Arc::new(MailComposer::new(
            keys.derived_keyring(crate::mail::OUTBOX_KEY_PURPOSE),
            config.http.public_url.clone(),
        ));
        let channels = channel_service(&config, store.clone(), keys)?;
        let auth = &config.auth;
        let hasher = PasswordHasher::new(&auth.argon2).context("cannot set up password hashing")?;
        let previous_jwt_secret = match &auth.jwt_previous_secret {
            Some(previous) => {
                Some(crate::config::KeyName::JwtSecret.decode(previous.expose_secret())?)
            }
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
            composer.clone(),
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
        let media = MediaService::new(store.clone(), storage.clone(), links, &config.data_dir)
            .context("cannot create the upload scratch directory under data_dir")?;
        let posts = PostService::new(store.clone());
        let staff = StaffService::new(store.clone());
        let webhooks = WebhookService::new(store.clone(), limiter.clone(), &config);
        let channels = channels.with_media(media.clone());
        Ok(Services {
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
            composer,
            storage,
        })
    }
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
fn channel_service(config: &Config, store: Store, keys: &Keys) -> anyhow::Result<ChannelService> {
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
            reason = display(&reason),
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
