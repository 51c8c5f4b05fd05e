//! Start-up validation: every rule names the key it is about.

use secrecy::ExposeSecret;

use super::keys::KeyName;
use super::{Config, ConfigError, Environment};

impl Config {
    /// Refuses a configuration the server could not run safely with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_keys()?;
        self.validate_http()?;
        self.validate_limits()?;
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
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let positive = [
            ("database.max_connections", u64::from(self.database.max_connections)),
            ("database.acquire_timeout_secs", self.database.acquire_timeout_secs),
            ("http.request_timeout_secs", self.http.request_timeout_secs),
            ("http.header_read_timeout_secs", self.http.header_read_timeout_secs),
            ("http.json_body_limit_bytes", self.http.json_body_limit_bytes as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0"));
            }
        }
        Ok(())
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
