//! Configuration: built-in defaults, then `postroute.toml` (or `--config FILE`), then
//! `POSTROUTE_<SECTION>__<KEY>` environment variables; validated before anything starts.

pub(crate) mod keys;
mod serde_helpers;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use ipnet::IpNet;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use url::Url;

pub use keys::{KeyName, Keys, generate_key, write_private};

/// The file read from the working directory when `--config` is not given.
pub const DEFAULT_CONFIG_FILE: &str = "postroute.toml";

/// Environment variables with this prefix after `POSTROUTE_` belong to the test suite.
const TEST_VARIABLE_PREFIX: &str = "TEST_";

/// Why the configuration cannot be used; printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be read or has the wrong shape (figment names the key and the source).
    #[error("configuration error: {0}")]
    Load(String),
    /// A value was read but is not acceptable.
    #[error("invalid configuration: {key}: {reason}")]
    Invalid {
        /// The dotted key, e.g. `encryption.oauth_key`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A key file could not be read or written.
    #[error("{key}: {reason}")]
    KeyFile {
        /// The dotted key the file stands in for.
        key: String,
        /// What went wrong.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, reason: impl Into<String>) -> Self {
        Self::Invalid { key: key.to_owned(), reason: reason.into() }
    }
}

/// Development or production: production refuses the conveniences of development.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Self-signed certificate, generated keys and log email are allowed (with warnings).
    #[default]
    Development,
    /// Every key, a real certificate and a real email provider are required.
    Production,
}

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `development` or `production`.
    pub env: Environment,
    /// SQLite file, local media, development keys, certificate and outbox live here.
    pub data_dir: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// The database.
    pub database: DatabaseConfig,
    /// Listeners, TLS and the HTTP edge.
    pub http: HttpConfig,
    /// Access-token signing.
    pub auth: AuthConfig,
    /// Encryption of channel OAuth tokens at rest.
    pub encryption: EncryptionConfig,
    /// Encryption of backups.
    pub backup: BackupConfig,
    /// The shared rate-limit store.
    pub redis: RedisConfig,
    /// Request rate limits.
    pub rate_limits: RateLimitConfig,
    /// Outgoing email.
    pub email: EmailConfig,
    /// Background jobs.
    pub worker: WorkerConfig,
    /// The X app channels connect through.
    pub x: XConfig,
    /// The Meta app Facebook Pages and Instagram accounts connect through.
    pub meta: MetaConfig,
    /// Stripe.
    pub stripe: StripeConfig,
    /// Where media files are kept.
    pub storage: StorageConfig,
    /// Prometheus metrics.
    pub metrics: MetricsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            env: Environment::Development,
            data_dir: PathBuf::from("./data"),
            log: LogConfig::default(),
            database: DatabaseConfig::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            encryption: EncryptionConfig::default(),
            backup: BackupConfig::default(),
            redis: RedisConfig::default(),
            rate_limits: RateLimitConfig::default(),
            email: EmailConfig::default(),
            worker: WorkerConfig::default(),
            x: XConfig::default(),
            meta: MetaConfig::default(),
            stripe: StripeConfig::default(),
            storage: StorageConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// Log level and format.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `postroute_server=debug,info`; `RUST_LOG` wins.
    pub level: String,
    /// `pretty` for people, `json` for log collectors.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { level: "info".to_owned(), format: LogFormat::Pretty }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// The database connection.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; SQLite in the data directory when absent.
    #[serde(serialize_with = "serde_helpers::redact_url_password")]
    pub url: Option<String>,
    /// Pool size per process.
    pub max_connections: u32,
    /// Seconds to wait for a pooled connection before answering 503.
    pub acquire_timeout_secs: u64,
    /// PostgreSQL: the role pooled connections switch to, which row-level security applies to
    /// (created by the migrations). Empty when the login role is already that restricted role.
    pub app_role: String,
    /// Development only: start even when the pooled role can step around row-level security
    /// (a superuser login with an empty `app_role`, say). Production refuses it.
    pub allow_rls_bypass: bool,
    /// Production: allow PostgreSQL and Redis URLs without TLS to a host that is not this
    /// machine (a private network the operator vouches for).
    pub allow_plaintext: bool,
}

impl std::fmt::Debug for DatabaseConfig {
    // The URL may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url.as_deref().map(serde_helpers::without_password))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout_secs", &self.acquire_timeout_secs)
            .field("app_role", &self.app_role)
            .field("allow_rls_bypass", &self.allow_rls_bypass)
            .field("allow_plaintext", &self.allow_plaintext)
            .finish()
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 10,
            acquire_timeout_secs: 5,
            app_role: "postroute_app".to_owned(),
            allow_rls_bypass: false,
            allow_plaintext: false,
        }
    }
}

/// The oldest TLS version the HTTPS listener accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsMinVersion {
    /// TLS 1.3 only: the default and the security page's promise.
    #[default]
    #[serde(rename = "1.3")]
    Tls13,
    /// Also TLS 1.2, for old webhook senders; never older.
    #[serde(rename = "1.2")]
    Tls12,
}

/// Listeners, TLS and the HTTP edge.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// HTTPS listener address; `none` disables it (a plain listener is then required).
    #[serde(with = "serde_helpers::optional_listen")]
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain; a self-signed localhost certificate is generated in development.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// `1.3` (default) or `1.2`.
    pub tls_min_version: TlsMinVersion,
    /// Optional plain-HTTP listener for use behind a TLS-terminating proxy.
    pub plain_listen: Option<SocketAddr>,
    /// Peers (CIDRs) whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    #[serde(deserialize_with = "serde_helpers::comma_list")]
    pub trusted_proxies: Vec<IpNet>,
    /// Base of links in emails and OAuth redirect URIs.
    pub public_url: Url,
    /// Origins allowed to call the API from a browser.
    #[serde(deserialize_with = "serde_helpers::comma_list")]
    pub cors_origins: Vec<String>,
    /// Whole-request deadline, body included, in seconds.
    pub request_timeout_secs: u64,
    /// The same for media uploads, which may carry 50 MiB over a slow link.
    pub upload_timeout_secs: u64,
    /// Deadline for a client to send its request headers, in seconds (slow-loris guard).
    pub header_read_timeout_secs: u64,
    /// A connection (HTTP/1.1 or HTTP/2) with no request in flight for this long is closed,
    /// in seconds.
    pub idle_timeout_secs: u64,
    /// Largest request header block, in bytes, counted as HTTP/2 does (name + value + 32 per
    /// field); the same for both HTTP versions.
    pub max_header_bytes: usize,
    /// Largest JSON request body, in bytes.
    pub json_body_limit_bytes: usize,
    /// How long in-flight requests may run on after SIGTERM, in seconds.
    pub shutdown_grace_secs: u64,
    /// The `Contact:` of `/.well-known/security.txt`.
    pub security_contact: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8443))),
            tls_cert: None,
            tls_key: None,
            tls_min_version: TlsMinVersion::Tls13,
            plain_listen: None,
            trusted_proxies: Vec::new(),
            public_url: Url::parse("https://localhost:8443").unwrap_or_else(|_| unreachable!()),
            cors_origins: Vec::new(),
            request_timeout_secs: 30,
            upload_timeout_secs: 600,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 10,
            max_header_bytes: 16 * 1024,
            json_body_limit_bytes: 64 * 1024,
            shutdown_grace_secs: 30,
            security_contact: "mailto:security@postroute.app".to_owned(),
        }
    }
}

/// Accounts, sessions and tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Base64 of at least 32 random bytes; generated into the data directory in development.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub jwt_secret: Option<SecretString>,
    /// The key being rotated out: access tokens it signed stay valid until they expire.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub jwt_previous_secret: Option<SecretString>,
    /// Access-token lifetime in seconds.
    pub access_token_ttl_secs: u64,
    /// Refresh-token lifetime in days.
    pub refresh_token_ttl_days: u64,
    /// Email-verification link lifetime in hours.
    pub verification_token_ttl_hours: u64,
    /// Password-reset link lifetime in minutes.
    pub reset_token_ttl_minutes: u64,
    /// Password hashing.
    pub argon2: Argon2Config,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_previous_secret: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            verification_token_ttl_hours: 24,
            reset_token_ttl_minutes: 60,
            argon2: Argon2Config::default(),
        }
    }
}

/// Argon2id parameters (S-ENC-3). Defaults: m = 64 MiB, t = 3, p = 1, above OWASP's minimum.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Config {
    /// Memory per hash in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Hashes computed at once; 0 means one per CPU. Bounds memory: this many × `memory_kib`.
    pub max_concurrent: usize,
}

impl Default for Argon2Config {
    fn default() -> Self {
        Self { memory_kib: 64 * 1024, iterations: 3, parallelism: 1, max_concurrent: 0 }
    }
}

/// Encryption of channel OAuth tokens at rest.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionConfig {
    /// Base64 of exactly 32 bytes (AES-256); generated into the data directory in development.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub oauth_key: Option<SecretString>,
    /// Keys being rotated out (comma-separated base64): what they sealed still opens, until
    /// `postroute keys rotate` has re-sealed everything under `oauth_key`.
    #[serde(
        deserialize_with = "serde_helpers::secret_comma_list",
        serialize_with = "serde_helpers::redact_list"
    )]
    pub previous_oauth_keys: Vec<SecretString>,
}

/// The X app (developer.x.com): a confidential client with OAuth 2.0.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct XConfig {
    /// OAuth 2.0 client id; X channels cannot be connected without it.
    pub client_id: Option<String>,
    /// OAuth 2.0 client secret.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub client_secret: Option<SecretString>,
    /// `https://api.x.com`.
    pub api_base_url: Url,
    /// `https://x.com` (the authorize page).
    pub auth_base_url: Url,
    /// The app's consumer secret (API secret key): signs webhook deliveries and CRC answers.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub consumer_secret: Option<SecretString>,
}

impl Default for XConfig {
    fn default() -> Self {
        Self {
            client_id: None,
            client_secret: None,
            consumer_secret: None,
            api_base_url: Url::parse("https://api.x.com").unwrap_or_else(|_| unreachable!()),
            auth_base_url: Url::parse("https://x.com").unwrap_or_else(|_| unreachable!()),
        }
    }
}

/// The Meta app (developers.facebook.com).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetaConfig {
    /// App id; Facebook and Instagram channels cannot be connected without it.
    pub app_id: Option<String>,
    /// App secret.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub app_secret: Option<SecretString>,
    /// `https://graph.facebook.com/v25.0/`.
    pub graph_base_url: Url,
    /// `https://www.facebook.com/v25.0/` (the login dialog).
    pub dialog_base_url: Url,
    /// The token Meta echoes when it verifies the webhook subscription.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub webhook_verify_token: Option<SecretString>,
}

impl Default for MetaConfig {
    fn default() -> Self {
        Self {
            app_id: None,
            app_secret: None,
            webhook_verify_token: None,
            graph_base_url: Url::parse("https://graph.facebook.com/v25.0/")
                .unwrap_or_else(|_| unreachable!()),
            dialog_base_url: Url::parse("https://www.facebook.com/v25.0/")
                .unwrap_or_else(|_| unreachable!()),
        }
    }
}

/// Stripe (billing). Only webhook verification reads it so far.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StripeConfig {
    /// The endpoint's signing secret (`whsec_...`).
    #[serde(serialize_with = "serde_helpers::redact")]
    pub webhook_secret: Option<SecretString>,
    /// How old a signed delivery may be before it is refused as a replay.
    pub webhook_tolerance_secs: u64,
}

impl Default for StripeConfig {
    fn default() -> Self {
        Self { webhook_secret: None, webhook_tolerance_secs: 300 }
    }
}

/// Which object store holds media.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    /// Files under `DATA_DIR/media`.
    #[default]
    Local,
    /// An S3-compatible bucket (AWS S3, MinIO, Ceph, R2...).
    S3,
}

/// Where media files are kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `local` or `s3`.
    pub backend: StorageBackend,
    /// The bucket (required with `s3`).
    pub s3_bucket: Option<String>,
    /// The S3 endpoint for S3-compatible services; AWS's regional endpoint when unset.
    pub s3_endpoint: Option<Url>,
    /// The bucket's region.
    pub s3_region: String,
    /// Access key id; without it the standard AWS variables and instance credentials apply.
    pub s3_access_key_id: Option<String>,
    /// Secret access key.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub s3_secret_access_key: Option<SecretString>,
    /// How long a signed public link to a media file stays valid, in seconds.
    pub public_link_ttl_secs: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".to_owned(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            public_link_ttl_secs: 3600,
        }
    }
}

/// Encryption of backups.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupConfig {
    /// Base64 of exactly 32 bytes, never equal to the OAuth key.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub key: Option<SecretString>,
    /// Where backups are written (default: `DATA_DIR/backups`).
    pub dir: Option<PathBuf>,
    /// Days a backup is kept before `postroute backup prune` removes it.
    pub retention_days: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self { key: None, dir: None, retention_days: 30 }
    }
}

/// The shared rate-limit store.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://host:6379`; limits are per process (in memory) without it.
    #[serde(serialize_with = "serde_helpers::redact_optional_secret_url")]
    pub url: Option<SecretString>,
    /// Prefix of every key PostRoute writes, so deployments can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self { url: None, key_prefix: "postroute:".to_owned() }
    }
}

/// Request rate limits (S-EDGE-1, S-AUTH-7, S-UPLOAD-3). The request budget refills
/// continuously (GCRA); credential attempts and uploads are counted in a sliding window: at
/// most that many in any span of the window.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Off only for benchmarks of the unthrottled path; refused in production.
    pub enabled: bool,
    /// Requests per minute per client address, across the API.
    pub requests_per_minute: u32,
    /// Attempts per client address on the credential endpoints, per window.
    pub credential_attempts: u32,
    /// The credential window in seconds.
    pub credential_window_secs: u64,
    /// Media uploads per user, per window (S-UPLOAD-3).
    pub uploads_per_window: u32,
    /// The upload window in seconds.
    pub upload_window_secs: u64,
    /// Invitation emails one workspace may send in any 24 hours: invite, revoke and invite
    /// again must not make PostRoute a relay for text the inviter chose.
    pub invitations_per_workspace_per_day: u32,
    /// Invitation emails one workspace may send to one address in any 24 hours (per workspace,
    /// so that nobody can use up an address's invitations to keep it out of other workspaces).
    pub invitations_per_address_per_day: u32,
    /// Invitation emails one account may send in any 24 hours, from all its workspaces:
    /// creating workspaces does not multiply what it can send.
    pub invitations_per_inviter_per_day: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            requests_per_minute: 200,
            credential_attempts: 5,
            credential_window_secs: 300,
            uploads_per_window: 30,
            upload_window_secs: 300,
            invitations_per_workspace_per_day: 50,
            invitations_per_address_per_day: 3,
            invitations_per_inviter_per_day: 50,
        }
    }
}

/// Which service delivers email.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailProvider {
    /// Development: writes each message to the log and to `DATA_DIR/outbox/*.eml`.
    #[default]
    Log,
    /// The Resend HTTP API.
    Resend,
    /// Any SMTP server (TLS via rustls).
    Smtp,
}

/// Outgoing email.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    /// `log`, `resend` or `smtp`.
    pub provider: EmailProvider,
    /// The sender, e.g. `PostRoute <no-reply@postroute.example>`.
    pub from: String,
    /// Resend API key (`re_...`).
    #[serde(serialize_with = "serde_helpers::redact")]
    pub resend_api_key: Option<SecretString>,
    /// Resend API base URL.
    pub resend_base_url: Url,
    /// `smtps://user:pass@host:465` or `smtp://user:pass@host:587?tls=required`.
    #[serde(serialize_with = "serde_helpers::redact")]
    pub smtp_url: Option<SecretString>,
    /// Delivery attempts before a message is given up on.
    pub max_attempts: u32,
    /// First retry delay in seconds; each later one doubles, up to an hour.
    pub retry_base_secs: u64,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            provider: EmailProvider::Log,
            from: "PostRoute <no-reply@localhost>".to_owned(),
            resend_api_key: None,
            resend_base_url: Url::parse("https://api.resend.com")
                .unwrap_or_else(|_| unreachable!()),
            smtp_url: None,
            max_attempts: 10,
            retry_base_secs: 30,
        }
    }
}

/// Prometheus metrics (`GET /metrics`). They say how busy the service is and how publishing
/// goes, which is nobody's business outside the operator's network: by default they are served
/// on no listener at all, and on the public one only when asked.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// A plain-HTTP listener of their own, e.g. `127.0.0.1:9464`.
    pub listen: Option<SocketAddr>,
    /// Also serve `/metrics` on the public listeners.
    pub on_public_listener: bool,
}

/// Background jobs (the email outbox today).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// `postroute serve` also runs the worker; set false when `postroute worker` runs apart.
    pub run_in_serve: bool,
    /// How often an idle worker looks for due work, in milliseconds.
    pub poll_interval_ms: u64,
    /// How often the token job looks for channels to refresh or check, in seconds.
    pub token_check_interval_secs: u64,
    /// How often the retention jobs run (expired system events, deleted workspaces), in
    /// seconds.
    pub retention_interval_secs: u64,
    /// Days a deleted workspace waits before its rows and media objects are purged for good.
    pub workspace_purge_after_days: u32,
    /// How long a claimed post target belongs to its worker, in seconds; a target whose worker
    /// died is taken up again within it. At least three platform-call timeouts (60).
    pub publish_lease_secs: u64,
    /// A target that comes due this many minutes late (after an outage, say) is `missed`: a
    /// person decides, rather than stale content going out. At least 1.
    pub missed_after_mins: u32,
    /// Targets one worker process publishes at once (1 to 1024). A call waits on the platform,
    /// not on this machine: throughput is this many calls per platform round trip.
    pub publish_concurrency: u32,
    /// How long X publishing pauses for every workspace after X answers 402 (the app's credits
    /// are spent), unless an operator runs `postroute admin resume-publishing x` first.
    pub x_credits_pause_mins: u32,
    /// The waits, in seconds, before each look at the platform for a post whose publishing
    /// call went unanswered: a new post can take a while to show in the account's listing,
    /// so absence is concluded only after the last look.
    pub reconcile_looks_secs: Vec<u64>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            run_in_serve: true,
            poll_interval_ms: 1000,
            token_check_interval_secs: 60,
            retention_interval_secs: 3600,
            workspace_purge_after_days: 30,
            publish_lease_secs: 60,
            missed_after_mins: 120,
            publish_concurrency: 64,
            x_credits_pause_mins: 60,
            reconcile_looks_secs: vec![20, 120, 600],
        }
    }
}

impl Config {
    /// Reads defaults, the config file and the environment, then validates the result.
    ///
    /// `explicit_file` is `--config`: it must exist. Without it `postroute.toml` in the working
    /// directory is read when present.
    pub fn load(explicit_file: Option<&Path>) -> Result<Self, ConfigError> {
        let file = match explicit_file {
            Some(path) if !path.is_file() => {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => path.to_path_buf(),
            None => PathBuf::from(DEFAULT_CONFIG_FILE),
        };
        Self::from_figment(
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Toml::file(file))
                .merge(environment()),
        )
    }

    /// Extracts and validates a configuration from any figment (tests layer their own).
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config =
            figment.extract().map_err(|error| ConfigError::Load(one_line(&error.to_string())))?;
        config.validate()?;
        Ok(config)
    }

    /// The database URL in effect: the configured one or SQLite in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("postroute.db").display()),
        }
    }

    /// The configuration as TOML with every secret redacted, for `postroute config check`.
    pub fn to_redacted_toml(&self) -> Result<String, ConfigError> {
        let mut effective = self.clone();
        effective.database.url = Some(self.database_url());
        toml::to_string(&effective)
            .map_err(|error| ConfigError::Load(format!("cannot render configuration: {error}")))
    }
}

/// `POSTROUTE_SECTION__KEY` variables, minus the test suite's own `POSTROUTE_TEST_*`.
fn environment() -> Env {
    Env::prefixed("POSTROUTE_")
        .filter(|key| !key.as_str().to_ascii_uppercase().starts_with(TEST_VARIABLE_PREFIX))
        .split("__")
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests;
