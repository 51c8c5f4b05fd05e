#![expect(clippy::result_large_err, reason = "figment's Jail fixes the closure's error type")]

use figment::Jail;

use super::*;

const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="; // bytes 0..32
const KEY_B: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="; // bytes 32..64

fn load_error() -> String {
    Config::load(None).expect_err("configuration should be refused").to_string()
}

#[test]
fn defaults_are_the_documented_development_defaults() {
    Jail::expect_with(|_jail| {
        let config = Config::load(None).unwrap();
        assert_eq!(config.env, Environment::Development);
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.http.listen, Some("127.0.0.1:8443".parse().unwrap()));
        assert_eq!(config.http.tls_min_version, TlsMinVersion::Tls13);
        assert_eq!(config.http.plain_listen, None);
        assert_eq!(config.database_url(), "sqlite://./data/postroute.db");
        assert_eq!(config.http.public_url.as_str(), "https://localhost:8443/");
        Ok(())
    });
}

#[test]
fn environment_variables_nest_with_double_underscores_and_override_the_file() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "postroute.toml",
            "data_dir = \"/srv/postroute\"\n[http]\nlisten = \"0.0.0.0:9443\"\ncors_origins = [\"https://app.example\"]\n",
        )?;
        jail.set_env("POSTROUTE_HTTP__LISTEN", "127.0.0.1:7443");
        jail.set_env("POSTROUTE_HTTP__TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1/32");
        jail.set_env("POSTROUTE_DATABASE__URL", "postgres://app@db/postroute");
        jail.set_env("POSTROUTE_TEST_POSTGRES_URL", "postgres://ignored");
        let config = Config::load(None).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/postroute"));
        assert_eq!(config.http.listen, Some("127.0.0.1:7443".parse().unwrap()));
        assert_eq!(config.http.cors_origins, vec!["https://app.example".to_owned()]);
        assert_eq!(config.http.trusted_proxies.len(), 2);
        assert_eq!(config.database_url(), "postgres://app@db/postroute");
        Ok(())
    });
}

#[test]
fn an_unknown_key_is_named_in_one_line() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_HTTP__LISTN", "127.0.0.1:1");
        let message = load_error();
        assert!(message.contains("listn"), "{message}");
        assert!(!message.contains('\n'), "{message}");
        Ok(())
    });
}

#[test]
fn a_value_of_the_wrong_shape_names_its_key() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_DATABASE__MAX_CONNECTIONS", "plenty");
        let message = load_error().to_lowercase();
        assert!(message.contains("database.max_connections"), "{message}");

        jail.set_env("POSTROUTE_DATABASE__MAX_CONNECTIONS", "4");
        jail.set_env("POSTROUTE_HTTP__TRUSTED_PROXIES", "10.0.0.0/8,not-a-network");
        let message = load_error().to_lowercase();
        assert!(
            message.contains("trusted_proxies") && message.contains("not-a-network"),
            "{message}"
        );
        Ok(())
    });
}

#[test]
fn keys_must_be_base64_of_the_right_length() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_ENCRYPTION__OAUTH_KEY", "c2hvcnQ=");
        assert_eq!(
            load_error(),
            "invalid configuration: encryption.oauth_key: must be base64 of exactly 32 bytes (got 5 bytes)"
        );
        jail.set_env("POSTROUTE_ENCRYPTION__OAUTH_KEY", KEY_A);
        jail.set_env("POSTROUTE_BACKUP__KEY", KEY_A);
        assert_eq!(
            load_error(),
            "invalid configuration: backup.key: must differ from encryption.oauth_key"
        );
        Ok(())
    });
}

#[test]
fn production_refuses_development_defaults() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_ENV", "production");
        assert!(load_error().contains("auth.jwt_secret: is required in production"));

        jail.set_env("POSTROUTE_AUTH__JWT_SECRET", KEY_A);
        jail.set_env("POSTROUTE_ENCRYPTION__OAUTH_KEY", KEY_A);
        jail.set_env("POSTROUTE_BACKUP__KEY", KEY_B);
        assert!(
            load_error().contains("http.tls_cert: is required in production"),
            "{}",
            load_error()
        );

        jail.set_env("POSTROUTE_HTTP__TLS_CERT", "/etc/postroute/cert.pem");
        jail.set_env("POSTROUTE_HTTP__TLS_KEY", "/etc/postroute/key.pem");
        jail.set_env("POSTROUTE_HTTP__PUBLIC_URL", "http://postroute.example");
        assert!(load_error().contains("http.public_url: must be https in production"));

        jail.set_env("POSTROUTE_HTTP__PUBLIC_URL", "https://postroute.example");
        assert!(
            load_error().contains("email.provider: `log` only writes mail to disk"),
            "{}",
            load_error()
        );

        jail.set_env("POSTROUTE_EMAIL__PROVIDER", "resend");
        assert!(load_error().contains("email.resend_api_key: is required"), "{}", load_error());
        jail.set_env("POSTROUTE_EMAIL__RESEND_API_KEY", "re_live_key");
        jail.set_env("POSTROUTE_AUTH__ARGON2__MEMORY_KIB", "8192");
        assert!(load_error().contains("auth.argon2: is below OWASP"), "{}", load_error());
        jail.set_env("POSTROUTE_AUTH__ARGON2__MEMORY_KIB", "65536");
        jail.set_env("POSTROUTE_RATE_LIMITS__ENABLED", "false");
        assert!(load_error().contains("rate_limits.enabled: must be true in production"));
        jail.set_env("POSTROUTE_RATE_LIMITS__ENABLED", "true");

        let config = Config::load(None).unwrap();
        assert_eq!(config.env, Environment::Production);
        Ok(())
    });
}

#[test]
fn behind_a_proxy_the_https_listener_can_be_switched_off() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_HTTP__LISTEN", "none");
        assert!(load_error().contains("nothing would listen"));
        jail.set_env("POSTROUTE_HTTP__PLAIN_LISTEN", "127.0.0.1:8080");
        let config = Config::load(None).unwrap();
        assert_eq!(config.http.listen, None);
        Ok(())
    });
}

#[test]
fn cors_origins_must_be_exact_origins() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_HTTP__CORS_ORIGINS", "*");
        assert!(load_error().contains("wildcard"));
        jail.set_env("POSTROUTE_HTTP__CORS_ORIGINS", "https://app.example/path");
        assert!(load_error().contains("no path"));
        Ok(())
    });
}

#[test]
fn the_idle_timeout_is_positive() {
    Jail::expect_with(|jail| {
        assert_eq!(Config::load(None).unwrap().http.idle_timeout_secs, 10);
        jail.set_env("POSTROUTE_HTTP__IDLE_TIMEOUT_SECS", "0");
        assert!(load_error().contains("http.idle_timeout_secs"));
        Ok(())
    });
}

#[test]
fn the_header_limit_is_bounded() {
    Jail::expect_with(|jail| {
        assert_eq!(Config::load(None).unwrap().http.max_header_bytes, 16 * 1024);
        jail.set_env("POSTROUTE_HTTP__MAX_HEADER_BYTES", "512");
        assert!(load_error().contains("http.max_header_bytes"));
        jail.set_env("POSTROUTE_HTTP__MAX_HEADER_BYTES", "2000000");
        assert!(load_error().contains("http.max_header_bytes"));
        jail.set_env("POSTROUTE_HTTP__MAX_HEADER_BYTES", "32768");
        assert_eq!(Config::load(None).unwrap().http.max_header_bytes, 32 * 1024);
        Ok(())
    });
}

#[test]
fn an_explicit_config_file_must_exist() {
    Jail::expect_with(|_jail| {
        let error = Config::load(Some(Path::new("missing.toml"))).unwrap_err().to_string();
        assert!(error.contains("missing.toml does not exist"), "{error}");
        Ok(())
    });
}

// proves S-ENC-4
#[test]
fn the_printed_configuration_redacts_every_secret() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_AUTH__JWT_SECRET", KEY_A);
        jail.set_env("POSTROUTE_ENCRYPTION__OAUTH_KEY", KEY_B);
        jail.set_env("POSTROUTE_DATABASE__URL", "postgres://app:hunter2@db/postroute");
        let config = Config::load(None).unwrap();
        let printed = config.to_redacted_toml().expect("renders");
        let debugged = format!("{config:?}");
        for secret in [KEY_A, KEY_B, "hunter2"] {
            assert!(!printed.contains(secret), "{printed}");
            assert!(!debugged.contains(secret), "{debugged}");
        }
        assert!(printed.contains("jwt_secret = \"[redacted]\""), "{printed}");
        Ok(())
    });
}

#[test]
fn production_smtp_must_be_encrypted() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_ENV", "production");
        jail.set_env("POSTROUTE_AUTH__JWT_SECRET", KEY_A);
        jail.set_env("POSTROUTE_ENCRYPTION__OAUTH_KEY", KEY_A);
        jail.set_env("POSTROUTE_BACKUP__KEY", KEY_B);
        jail.set_env("POSTROUTE_HTTP__TLS_CERT", "/etc/postroute/cert.pem");
        jail.set_env("POSTROUTE_HTTP__TLS_KEY", "/etc/postroute/key.pem");
        jail.set_env("POSTROUTE_HTTP__PUBLIC_URL", "https://postroute.example");
        jail.set_env("POSTROUTE_EMAIL__PROVIDER", "smtp");
        jail.set_env("POSTROUTE_EMAIL__SMTP_URL", "smtp://relay.example:25");
        assert!(
            load_error().contains("email.smtp_url: must use TLS in production"),
            "{}",
            load_error()
        );
        jail.set_env("POSTROUTE_EMAIL__SMTP_URL", "smtp://relay.example:587?tls=required");
        assert!(Config::load(None).is_ok());
        jail.set_env("POSTROUTE_EMAIL__SMTP_URL", "smtps://relay.example:465");
        assert!(Config::load(None).is_ok());
        Ok(())
    });
}

// proves S-TLS-4
#[test]
fn production_calls_platforms_over_https_only() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_ENV", "production");
        jail.set_env("POSTROUTE_AUTH__JWT_SECRET", KEY_A);
        jail.set_env("POSTROUTE_ENCRYPTION__OAUTH_KEY", KEY_A);
        jail.set_env("POSTROUTE_BACKUP__KEY", KEY_B);
        jail.set_env("POSTROUTE_HTTP__TLS_CERT", "/etc/postroute/cert.pem");
        jail.set_env("POSTROUTE_HTTP__TLS_KEY", "/etc/postroute/key.pem");
        jail.set_env("POSTROUTE_HTTP__PUBLIC_URL", "https://postroute.example");
        jail.set_env("POSTROUTE_EMAIL__PROVIDER", "resend");
        jail.set_env("POSTROUTE_EMAIL__RESEND_API_KEY", "re_live");
        let config = Config::load(None).unwrap();
        assert_eq!(config.x.api_base_url.scheme(), "https");
        assert_eq!(config.meta.graph_base_url.as_str(), "https://graph.facebook.com/v25.0/");
        for key in [
            "POSTROUTE_X__API_BASE_URL",
            "POSTROUTE_META__GRAPH_BASE_URL",
            "POSTROUTE_EMAIL__RESEND_BASE_URL",
        ] {
            jail.set_env(key, "http://127.0.0.1:4010/");
            assert!(
                load_error().contains("must be https in production"),
                "{key}: {}",
                load_error()
            );
            jail.set_env(key, "https://platform.example/");
        }
        // Development may point them at local fakes.
        jail.set_env("POSTROUTE_ENV", "development");
        jail.set_env("POSTROUTE_X__API_BASE_URL", "http://127.0.0.1:4011/");
        assert!(Config::load(None).is_ok());
        Ok(())
    });
}

#[test]
fn webhook_secrets_cannot_be_empty_and_the_tolerance_is_bounded() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_X__CONSUMER_SECRET", "");
        assert!(load_error().contains("x.consumer_secret"));
        jail.set_env("POSTROUTE_X__CONSUMER_SECRET", "secret");
        jail.set_env("POSTROUTE_STRIPE__WEBHOOK_SECRET", " ");
        assert!(load_error().contains("stripe.webhook_secret"));
        jail.set_env("POSTROUTE_STRIPE__WEBHOOK_SECRET", "whsec_1");
        jail.set_env("POSTROUTE_STRIPE__WEBHOOK_TOLERANCE_SECS", "99999999999999");
        assert!(load_error().contains("stripe.webhook_tolerance_secs"));
        Ok(())
    });
}

/// Sets every production requirement that the tests below are not about.
fn production(jail: &mut Jail) {
    jail.set_env("POSTROUTE_ENV", "production");
    jail.set_env("POSTROUTE_AUTH__JWT_SECRET", KEY_A);
    jail.set_env("POSTROUTE_ENCRYPTION__OAUTH_KEY", KEY_A);
    jail.set_env("POSTROUTE_BACKUP__KEY", KEY_B);
    jail.set_env("POSTROUTE_HTTP__TLS_CERT", "/etc/postroute/cert.pem");
    jail.set_env("POSTROUTE_HTTP__TLS_KEY", "/etc/postroute/key.pem");
    jail.set_env("POSTROUTE_HTTP__PUBLIC_URL", "https://postroute.example");
    jail.set_env("POSTROUTE_EMAIL__PROVIDER", "resend");
    jail.set_env("POSTROUTE_EMAIL__RESEND_API_KEY", "re_live_key");
}

#[test]
fn a_plain_listener_needs_trusted_proxies_in_production_and_warns_in_development() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_HTTP__PLAIN_LISTEN", "127.0.0.1:8080");
        let development = Config::load(None).unwrap();
        assert!(
            development.warnings().iter().any(|warning| warning.contains("http.trusted_proxies")),
            "{:?}",
            development.warnings()
        );
        production(jail);
        assert!(load_error().contains("http.trusted_proxies: is required"), "{}", load_error());
        jail.set_env("POSTROUTE_HTTP__TRUSTED_PROXIES", "10.0.0.0/8");
        let config = Config::load(None).unwrap();
        assert!(config.warnings().iter().all(|warning| !warning.contains("trusted_proxies")));
        Ok(())
    });
}

#[test]
fn backups_are_kept_at_least_a_week() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_BACKUP__RETENTION_DAYS", "6");
        assert!(load_error().contains("backup.retention_days: must be at least 7"));
        jail.set_env("POSTROUTE_BACKUP__RETENTION_DAYS", "7");
        assert_eq!(Config::load(None).unwrap().backup.retention_days, 7);
        Ok(())
    });
}

#[test]
fn production_reaches_remote_databases_over_tls_only() {
    Jail::expect_with(|jail| {
        production(jail);
        jail.set_env("POSTROUTE_DATABASE__URL", "postgres://app@db.internal/postroute");
        assert!(load_error().contains("database.url: must use TLS"), "{}", load_error());
        // Read as the driver reads it: the last parameter wins, and an address beats a name.
        for url in [
            "postgres://app@db.internal/postroute?sslmode=prefer",
            "postgres://app@db.internal/postroute?sslmode=require&sslmode=disable",
            "postgres://app@localhost/postroute?hostaddr=10.0.0.5",
        ] {
            jail.set_env("POSTROUTE_DATABASE__URL", url);
            assert!(load_error().contains("database.url: must use TLS"), "{url}: {}", load_error());
        }
        // TLS required, or a database on this machine, is fine.
        for url in [
            "postgres://app@db.internal/postroute?sslmode=verify-full",
            "postgres://app@db.internal/postroute?ssl-mode=require",
            "postgres://app@127.0.0.1/postroute",
            "postgres://app@localhost/postroute",
            "postgres:///postroute?host=/run/postgresql",
        ] {
            jail.set_env("POSTROUTE_DATABASE__URL", url);
            assert!(Config::load(None).is_ok(), "{url}: {}", load_error());
        }
        jail.set_env("POSTROUTE_REDIS__URL", "redis://cache.internal:6379");
        assert!(load_error().contains("redis.url: must use TLS"), "{}", load_error());
        jail.set_env("POSTROUTE_REDIS__URL", "rediss://cache.internal:6380");
        assert!(Config::load(None).is_ok(), "{}", load_error());
        // Plain text to a remote host only when the operator says so.
        jail.set_env("POSTROUTE_REDIS__URL", "redis://cache.internal:6379");
        jail.set_env("POSTROUTE_DATABASE__URL", "postgres://app@db.internal/postroute");
        jail.set_env("POSTROUTE_DATABASE__ALLOW_PLAINTEXT", "true");
        assert!(Config::load(None).is_ok(), "{}", load_error());
        Ok(())
    });
}

#[test]
fn row_level_security_is_never_bypassed_in_production() {
    Jail::expect_with(|jail| {
        jail.set_env("POSTROUTE_DATABASE__ALLOW_RLS_BYPASS", "true");
        let development = Config::load(None).unwrap();
        assert!(development.warnings().iter().any(|warning| warning.contains("allow_rls_bypass")));
        production(jail);
        assert!(load_error().contains("database.allow_rls_bypass: is for development only"));
        Ok(())
    });
}
