//! Start-up validation: every rule names the key it is about.

use secrecy::ExposeSecret;

use super::keys::KeyName;
use super::{Config, ConfigError, EmailProvider, Environment, StorageBackend};

impl Config {
    /// Refuses a configuration the server could not run safely with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_keys()?;
        self.validate_http()?;
        self.validate_limits()?;
        self.validate_webhooks()?;
        self.validate_auth()?;
        self.validate_email()?;
        self.validate_platforms()?;
        self.validate_storage()?;
        self.validate_connections()?;
        if let Some(url) = &self.database.url
            && !["sqlite:", "postgres:", "postgresql:"].iter().any(|scheme| url.starts_with(scheme))
        {
            return Err(ConfigError::invalid(
                "database.url",
                "must start with sqlite:, postgres: or postgresql:",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|error| ConfigError::invalid("log.level", error.to_string()))?;
        Ok(())
    }

    fn validate_keys(&self) -> Result<(), ConfigError> {
        for name in KeyName::ALL {
            match name.configured(self) {
                Some(secret) => {
                    name.decode(secret.expose_secret())?;
                }
                None if self.env == Environment::Production => {
                    return Err(ConfigError::invalid(
                        name.config_key(),
                        format!("is required in production (set {})", name.env_var()),
                    ));
                }
                None => {}
            }
        }
        if let (Some(oauth), Some(backup)) = (&self.encryption.oauth_key, &self.backup.key) {
            let oauth = KeyName::OauthKey.decode(oauth.expose_secret())?;
            let backup = KeyName::BackupKey.decode(backup.expose_secret())?;
            if oauth.expose_secret() == backup.expose_secret() {
                return Err(ConfigError::invalid(
                    "backup.key",
                    "must differ from encryption.oauth_key",
                ));
            }
        }
        Ok(())
    }

    fn validate_storage(&self) -> Result<(), ConfigError> {
        let storage = &self.storage;
        if storage.backend == StorageBackend::S3
            && storage.s3_bucket.as_deref().is_none_or(str::is_empty)
        {
            return Err(ConfigError::invalid("storage.s3_bucket", "is required with backend s3"));
        }
        if storage.s3_access_key_id.is_some() != storage.s3_secret_access_key.is_some() {
            return Err(ConfigError::invalid(
                "storage.s3_secret_access_key",
                "storage.s3_access_key_id and storage.s3_secret_access_key go together",
            ));
        }
        // S-TLS-4: media leaves the process over HTTPS only, outside development.
        if self.env == Environment::Production
            && let Some(endpoint) = &storage.s3_endpoint
            && endpoint.scheme() != "https"
        {
            return Err(ConfigError::invalid("storage.s3_endpoint", "must be https in production"));
        }
        if !(60..=7 * 24 * 3600).contains(&storage.public_link_ttl_secs) {
            return Err(ConfigError::invalid(
                "storage.public_link_ttl_secs",
                "must be from 60 seconds to 7 days",
            ));
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), ConfigError> {
        if let Some(previous) = &self.auth.jwt_previous_secret {
            KeyName::JwtSecret.decode(previous.expose_secret()).map_err(|_| {
                ConfigError::invalid(
                    "auth.jwt_previous_secret",
                    "must be base64 of at least 32 bytes",
                )
            })?;
        }
        let argon2 = &self.auth.argon2;
        if argon2.iterations == 0
            || argon2.parallelism == 0
            || argon2.memory_kib < 8 * argon2.parallelism
        {
            return Err(ConfigError::invalid(
                "auth.argon2",
                "needs iterations >= 1, parallelism >= 1 and memory_kib >= 8 x parallelism",
            ));
        }
        if self.env == Environment::Production
            && !argon2_meets_owasp(argon2.memory_kib, argon2.iterations)
        {
            return Err(ConfigError::invalid(
                "auth.argon2",
                "is below OWASP's minimum (e.g. memory_kib 19456 with 2 iterations) in production",
            ));
        }
        for (key, value) in [
            ("auth.access_token_ttl_secs", self.auth.access_token_ttl_secs),
            ("auth.refresh_token_ttl_days", self.auth.refresh_token_ttl_days),
            ("auth.verification_token_ttl_hours", self.auth.verification_token_ttl_hours),
            ("auth.reset_token_ttl_minutes", self.auth.reset_token_ttl_minutes),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        Ok(())
    }

    fn validate_platforms(&self) -> Result<(), ConfigError> {
        if self.x.client_id.is_some() != self.x.client_secret.is_some() {
            return Err(ConfigError::invalid(
                "x.client_secret",
                "x.client_id and x.client_secret go together",
            ));
        }
        if self.meta.app_id.is_some() != self.meta.app_secret.is_some() {
            return Err(ConfigError::invalid(
                "meta.app_secret",
                "meta.app_id and meta.app_secret go together",
            ));
        }
        for (index, key) in self.encryption.previous_oauth_keys.iter().enumerate() {
            KeyName::OauthKey.decode(key.expose_secret()).map_err(|_| {
                ConfigError::invalid(
                    "encryption.previous_oauth_keys",
                    format!("entry {} must be base64 of exactly 32 bytes", index + 1),
                )
            })?;
        }
        // S-TLS-4: outbound calls use HTTPS; plain http is for local fakes in development.
        if self.env == Environment::Production {
            for (key, url) in [
                ("x.api_base_url", &self.x.api_base_url),
                ("x.auth_base_url", &self.x.auth_base_url),
                ("meta.graph_base_url", &self.meta.graph_base_url),
                ("meta.dialog_base_url", &self.meta.dialog_base_url),
                ("email.resend_base_url", &self.email.resend_base_url),
            ] {
                if url.scheme() != "https" {
                    return Err(ConfigError::invalid(key, "must be https in production"));
                }
            }
        }
        Ok(())
    }

    fn validate_email(&self) -> Result<(), ConfigError> {
        let email = &self.email;
        match email.provider {
            EmailProvider::Log if self.env == Environment::Production => {
                return Err(ConfigError::invalid(
                    "email.provider",
                    "`log` only writes mail to disk; use resend or smtp in production",
                ));
            }
            EmailProvider::Resend if email.resend_api_key.is_none() => {
                return Err(ConfigError::invalid(
                    "email.resend_api_key",
                    "is required with provider resend",
                ));
            }
            EmailProvider::Smtp => {
                let Some(smtp_url) = &email.smtp_url else {
                    return Err(ConfigError::invalid(
                        "email.smtp_url",
                        "is required with provider smtp",
                    ));
                };
                let Ok(url) = url::Url::parse(smtp_url.expose_secret()) else {
                    return Err(ConfigError::invalid(
                        "email.smtp_url",
                        "must be an smtp:// or smtps:// URL",
                    ));
                };
                if !matches!(url.scheme(), "smtp" | "smtps") {
                    return Err(ConfigError::invalid(
                        "email.smtp_url",
                        "must be an smtp:// or smtps:// URL",
                    ));
                }
                let encrypted = url.scheme() == "smtps"
                    || url.query_pairs().any(|(key, value)| key == "tls" && value == "required");
                if self.env == Environment::Production && !encrypted {
                    return Err(ConfigError::invalid(
                        "email.smtp_url",
                        "must use TLS in production: smtps://… or smtp://…?tls=required",
                    ));
                }
            }
            _ => {}
        }
        if !email.from.contains('@') {
            return Err(ConfigError::invalid(
                "email.from",
                "must hold an address, e.g. PostRoute <no-reply@example.com>",
            ));
        }
        if email.max_attempts == 0 || email.retry_base_secs == 0 {
            return Err(ConfigError::invalid(
                "email",
                "max_attempts and retry_base_secs must be greater than 0",
            ));
        }
        Ok(())
    }

    /// Settings that work but that an operator should know are weak; logged at start-up.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let argon2 = &self.auth.argon2;
        if !argon2_meets_owasp(argon2.memory_kib, argon2.iterations) {
            warnings.push(format!(
                "auth.argon2 (memory_kib {}, iterations {}) is below OWASP's minimum; production refuses it",
                argon2.memory_kib, argon2.iterations
            ));
        }
        if !self.rate_limits.enabled {
            warnings.push("rate limits are disabled; production refuses this".to_owned());
        }
        if self.http.plain_listen.is_some() && self.http.trusted_proxies.is_empty() {
            warnings.push(
                "http.plain_listen is set without http.trusted_proxies: behind a proxy every \
                 client shares the proxy's address and one rate-limit bucket; production \
                 refuses this"
                    .to_owned(),
            );
        }
        if self.database.allow_rls_bypass {
            warnings.push(
                "database.allow_rls_bypass is on: if the database role can bypass row-level \
                 security, tenant isolation rests on the application alone; production refuses this"
                    .to_owned(),
            );
        }
        warnings
    }

    fn validate_http(&self) -> Result<(), ConfigError> {
        let http = &self.http;
        if http.listen.is_none() && http.plain_listen.is_none() {
            return Err(ConfigError::invalid(
                "http.listen",
                "is `none` and http.plain_listen is not set: nothing would listen",
            ));
        }
        match (&http.tls_cert, &http.tls_key) {
            (Some(_), None) => {
                return Err(ConfigError::invalid("http.tls_key", "is required with http.tls_cert"));
            }
            (None, Some(_)) => {
                return Err(ConfigError::invalid("http.tls_cert", "is required with http.tls_key"));
            }
            (None, None) if http.listen.is_some() && self.env == Environment::Production => {
                return Err(ConfigError::invalid(
                    "http.tls_cert",
                    "is required in production: the self-signed development certificate is refused \
                     (or set http.listen = none behind a TLS-terminating proxy)",
                ));
            }
            _ => {}
        }
        if self.env == Environment::Production && http.public_url.scheme() != "https" {
            return Err(ConfigError::invalid("http.public_url", "must be https in production"));
        }
        for origin in &http.cors_origins {
            check_origin(origin)?;
        }
        // Below 1 KiB a bearer token and a few ordinary headers no longer fit; above 1 MiB the
        // limit stops protecting memory.
        if !(1024..=1024 * 1024).contains(&http.max_header_bytes) {
            return Err(ConfigError::invalid(
                "http.max_header_bytes",
                "must be from 1024 to 1048576 bytes",
            ));
        }
        // Without trusted proxies the proxy's address is every client's: one shared rate-limit
        // bucket, so one noisy client locks everyone out (and the credential gate means nothing).
        if self.env == Environment::Production
            && http.plain_listen.is_some()
            && http.trusted_proxies.is_empty()
        {
            return Err(ConfigError::invalid(
                "http.trusted_proxies",
                "is required with http.plain_listen in production: list the proxies' addresses",
            ));
        }
        Ok(())
    }

    /// Connections that would quietly undo a promise: row-level security that does not bind,
    /// backups that prune themselves away, credentials and tenant data sent in the clear.
    fn validate_connections(&self) -> Result<(), ConfigError> {
        if self.env == Environment::Production && self.database.allow_rls_bypass {
            return Err(ConfigError::invalid(
                "database.allow_rls_bypass",
                "is for development only; production never runs with row-level security bypassed",
            ));
        }
        // `prune` keeps `retention_days`: fewer than the 7 days of point-in-time recovery would
        // leave no backup older than the window an operator most needs to reach back into.
        if self.backup.retention_days < 7 {
            return Err(ConfigError::invalid(
                "backup.retention_days",
                "must be at least 7: prune would otherwise delete the backups a recovery needs",
            ));
        }
        if self.env == Environment::Production && !self.database.allow_plaintext {
            if let Some(url) = &self.database.url
                && url.starts_with("postgres")
                && !postroute_store::postgres_connection_is_private(url)
            {
                return Err(ConfigError::invalid(
                    "database.url",
                    "must use TLS to a remote PostgreSQL in production (sslmode=require, \
                     verify-ca or verify-full), or set database.allow_plaintext = true on purpose",
                ));
            }
            if let Some(url) = &self.redis.url
                && !redis_url_uses_tls(url.expose_secret())
            {
                return Err(ConfigError::invalid(
                    "redis.url",
                    "must use TLS (rediss://) to a remote Redis in production, or set \
                     database.allow_plaintext = true on purpose",
                ));
            }
        }
        Ok(())
    }

    fn validate_webhooks(&self) -> Result<(), ConfigError> {
        // An empty secret is a key anyone can reproduce: refuse it rather than accept forgeries.
        let secrets = [
            ("stripe.webhook_secret", &self.stripe.webhook_secret),
            ("x.consumer_secret", &self.x.consumer_secret),
            ("meta.webhook_verify_token", &self.meta.webhook_verify_token),
        ];
        for (key, secret) in secrets {
            if secret.as_ref().is_some_and(|secret| secret.expose_secret().trim().is_empty()) {
                return Err(ConfigError::invalid(key, "must not be empty; leave it unset instead"));
            }
        }
        if !(1..=3600).contains(&self.stripe.webhook_tolerance_secs) {
            return Err(ConfigError::invalid(
                "stripe.webhook_tolerance_secs",
                "must be from 1 to 3600 seconds",
            ));
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        if self.env == Environment::Production && !self.rate_limits.enabled {
            return Err(ConfigError::invalid("rate_limits.enabled", "must be true in production"));
        }
        let positive = [
            ("rate_limits.requests_per_minute", u64::from(self.rate_limits.requests_per_minute)),
            ("rate_limits.credential_attempts", u64::from(self.rate_limits.credential_attempts)),
            ("rate_limits.credential_window_secs", self.rate_limits.credential_window_secs),
            ("worker.poll_interval_ms", self.worker.poll_interval_ms),
            ("worker.token_check_interval_secs", self.worker.token_check_interval_secs),
            ("worker.retention_interval_secs", self.worker.retention_interval_secs),
            ("worker.missed_after_mins", u64::from(self.worker.missed_after_mins)),
            ("worker.x_credits_pause_mins", u64::from(self.worker.x_credits_pause_mins)),
            (
                "worker.workspace_purge_after_days",
                u64::from(self.worker.workspace_purge_after_days),
            ),
            ("database.max_connections", u64::from(self.database.max_connections)),
            ("database.acquire_timeout_secs", self.database.acquire_timeout_secs),
            ("http.request_timeout_secs", self.http.request_timeout_secs),
            ("http.upload_timeout_secs", self.http.upload_timeout_secs),
            ("rate_limits.uploads_per_window", u64::from(self.rate_limits.uploads_per_window)),
            ("rate_limits.upload_window_secs", self.rate_limits.upload_window_secs),
            (
                "rate_limits.invitations_per_workspace_per_day",
                u64::from(self.rate_limits.invitations_per_workspace_per_day),
            ),
            (
                "rate_limits.invitations_per_address_per_day",
                u64::from(self.rate_limits.invitations_per_address_per_day),
            ),
            (
                "rate_limits.invitations_per_inviter_per_day",
                u64::from(self.rate_limits.invitations_per_inviter_per_day),
            ),
            ("http.header_read_timeout_secs", self.http.header_read_timeout_secs),
            ("http.idle_timeout_secs", self.http.idle_timeout_secs),
            ("http.json_body_limit_bytes", self.http.json_body_limit_bytes as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        if !(1..=1024).contains(&self.worker.publish_concurrency) {
            return Err(ConfigError::invalid(
                "worker.publish_concurrency",
                "must be from 1 to 1024",
            ));
        }
        let looks = &self.worker.reconcile_looks_secs;
        if looks.is_empty()
            || looks.len() > 10
            || looks.iter().any(|&secs| secs == 0 || secs > 86_400)
        {
            return Err(ConfigError::invalid(
                "worker.reconcile_looks_secs",
                "must list 1 to 10 waits, each from 1 to 86400 seconds",
            ));
        }
        // A platform call never starts unless the lease outlasts it with a margin; a shorter
        // lease would leave every target to lapse unsent.
        let call = crate::channels::CALL_TIMEOUT;
        let lease = chrono::TimeDelta::seconds(
            i64::try_from(self.worker.publish_lease_secs).unwrap_or(i64::MAX),
        );
        if !postroute_domain::publish::lease_outlasts_calls(lease, call) {
            return Err(ConfigError::invalid(
                "worker.publish_lease_secs",
                format!(
                    "must be at least {} (three platform-call timeouts)",
                    3 * call.num_seconds()
                ),
            ));
        }
        Ok(())
    }
}

/// OWASP's Argon2id floor: any of m = 46 MiB/t = 1, 19 MiB/2, 12 MiB/3, 9 MiB/4, 7 MiB/5.
pub fn argon2_meets_owasp(memory_kib: u32, iterations: u32) -> bool {
    const OWASP_FLOOR: [(u32, u32); 5] =
        [(47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5)];
    OWASP_FLOOR.iter().any(|&(memory, passes)| memory_kib >= memory && iterations >= passes)
}

/// True for `rediss://`, or a `redis://` URL that names this machine.
fn redis_url_uses_tls(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else { return false };
    match parsed.scheme() {
        "rediss" => true,
        "redis+unix" | "unix" => true,
        _ => parsed.host().is_none_or(is_loopback),
    }
}

fn is_loopback(host: url::Host<&str>) -> bool {
    match host {
        // `postgres:` and `redis:` are not special schemes, so their hosts arrive as opaque
        // names, addresses included.
        url::Host::Domain(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|address| address.is_loopback())
        }
        url::Host::Ipv4(address) => address.is_loopback(),
        url::Host::Ipv6(address) => address.is_loopback(),
    }
}

/// An allowed CORS origin is exactly `scheme://host[:port]`: no wildcard, path or trailing slash.
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let invalid =
        |reason: &str| ConfigError::invalid("http.cors_origins", format!("`{origin}` {reason}"));
    if origin == "*" {
        return Err(invalid("is a wildcard; list the allowed origins instead"));
    }
    let url = url::Url::parse(origin).map_err(|_| invalid("is not a URL"))?;
    if url.origin().ascii_serialization() != origin {
        return Err(invalid("must be scheme://host[:port] with no path"));
    }
    Ok(())
}
