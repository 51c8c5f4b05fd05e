//! Nothing secret reaches the log (S-ENC-4): the whole account lifecycle runs with every
//! PostRoute and database log line captured at TRACE, and no password, token, key or full
//! email address may appear in them.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use postroute_test_support::{Backend, PASSWORD, TestApp, db_test, token_in};
use reqwest::Method;
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One subscriber for the whole test binary, installed on first use.
fn captured_log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(
                "trace,hyper=debug,h2=debug,rustls=debug,reqwest=debug,tokio=debug,runtime=debug",
            )
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
        captured
    })
}

#[db_test]
// proves S-ENC-4
async fn no_password_token_key_or_address_is_logged(backend: Backend) {
    let log = captured_log();
    let app = TestApp::spawn(backend).await;
    let email = format!("secretive.{}@example.com", uuid::Uuid::now_v7().simple());
    let mut secrets = vec![PASSWORD.to_owned(), email.clone()];

    let user = app.signed_in_user(&email).await;
    let verification = token_in(&app.email_to(&email, "Confirm your email").await);
    secrets.extend([user.access_token.clone(), user.refresh_token.clone(), verification]);

    let rotated = app
        .post_json("/v1/auth/refresh", &json!({"refresh_token": user.refresh_token}), 200)
        .await
        .json();
    secrets.push(rotated["refresh_token"].as_str().unwrap().to_owned());
    secrets.push(rotated["access_token"].as_str().unwrap().to_owned());
    app.post_json("/v1/auth/refresh", &json!({"refresh_token": user.refresh_token}), 401).await;
    app.post_json(
        "/v1/auth/login",
        &json!({"email": email, "password": "a wrong guess here"}),
        401,
    )
    .await;
    secrets.push("a wrong guess here".to_owned());

    app.post_json("/v1/auth/password-reset/request", &json!({"email": email}), 202).await;
    let reset = token_in(&app.email_to(&email, "Reset your PostRoute password").await);
    app.post_json(
        "/v1/auth/password-reset/confirm",
        &json!({"token": reset, "new_password": "the newest secret phrase"}),
        204,
    )
    .await;
    secrets.extend([reset, "the newest secret phrase".to_owned()]);
    let again = app.login(&email, "the newest secret phrase").await;
    let change = json!({
        "current_password": "the newest secret phrase",
        "new_password": "yet another secret phrase",
    });
    app.send_json_as(&again.access_token, Method::POST, "/v1/me/password", &change, 204).await;
    secrets.extend([
        again.access_token.clone(),
        again.refresh_token.clone(),
        "yet another secret phrase".to_owned(),
    ]);

    // Channel tokens: connect an X account and let the token job refresh it.
    let workspace = app.workspace(&again, "Logged").await;
    let channel = app.connect_x(&again, &workspace).await;
    app.execute_sql(&format!(
        "UPDATE channels SET next_check_at = connected_at WHERE id = {}",
        app.uuid_literal(&channel)
    ))
    .await;
    for _ in 0..200 {
        if app.fake_x().refresh_count() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(app.fake_x().refresh_count() > 0, "the token job ran");
    secrets.extend(app.fake_x().issued_tokens());

    use base64::Engine;
    secrets.push(base64::engine::general_purpose::STANDARD.encode(app.jwt_secret()));
    for key in [&app.config.encryption.oauth_key, &app.config.backup.key] {
        secrets.push(secrecy::ExposeSecret::expose_secret(key.as_ref().unwrap()).to_owned());
    }

    let text = String::from_utf8_lossy(&log.0.lock().unwrap()).into_owned();
    assert!(text.contains("logged in"), "the log was captured");
    assert!(text.contains("login_failed"), "failed logins are logged, without their secrets");
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret reached the log: {}…",
            &secret[..secret.len().min(6)]
        );
    }
}
