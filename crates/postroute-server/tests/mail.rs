//! The email outbox: written with the action, sealed at rest, delivered through outages,
//! never twice.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::Duration;

use postroute_store::OutboxStatus;
use postroute_test_support::{Backend, PASSWORD, TestApp, db_test};
use reqwest::StatusCode;
use serde_json::json;

async fn register(app: &TestApp, email: &str) {
    app.post_json(
        "/v1/auth/register",
        &json!({"email": email, "password": PASSWORD, "name": "Grace"}),
        202,
    )
    .await;
}

async fn outbox_row(app: &TestApp, to: &str) -> postroute_store::OutboxEmail {
    let rows = app.store().outbox().to_address(to).await.unwrap();
    assert_eq!(rows.len(), 1, "exactly one queued email to {to}");
    rows.into_iter().next().unwrap()
}

async fn wait_until(mut condition: impl AsyncFnMut() -> bool) {
    for _ in 0..500 {
        if condition().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not met in time");
}

#[db_test]
// proves S-AUTH-5
async fn a_message_survives_a_provider_outage_and_is_delivered_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.resend().set_outage(Some(StatusCode::SERVICE_UNAVAILABLE));
    register(&app, "grace@example.com").await;

    // Queued in the same transaction as the account, its body sealed: the single-use link
    // is nowhere in the database in the clear.
    let queued = outbox_row(&app, "grace@example.com").await;
    assert_eq!(queued.template, "verify_email");
    let sealed = queued.sealed_body.clone().expect("sealed body");
    assert!(!String::from_utf8_lossy(&sealed).contains("token="));
    assert!(!String::from_utf8_lossy(&sealed).contains("Grace"));

    wait_until(async || outbox_row(&app, "grace@example.com").await.attempts >= 2).await;
    let retried = outbox_row(&app, "grace@example.com").await;
    assert_eq!(retried.status(), OutboxStatus::Pending);
    assert!(retried.last_error.as_deref().unwrap().contains("503"), "{:?}", retried.last_error);
    assert!(app.resend().accepted().is_empty());

    app.resend().set_outage(None);
    let delivered = app.email_to("grace@example.com", "Confirm your email").await;
    assert_eq!(delivered.idempotency_key.as_deref(), Some(queued.id.to_string().as_str()));
    wait_until(async || outbox_row(&app, "grace@example.com").await.status() == OutboxStatus::Sent)
        .await;
    let sent = outbox_row(&app, "grace@example.com").await;
    assert_eq!(sent.sealed_body, None, "bodies are forgotten once sent");
    assert_eq!(sent.provider_message_id.as_deref(), Some(delivered.id.as_str()));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.resend().accepted().len(), 1, "never sent twice");
}

#[db_test]
async fn a_message_the_provider_refuses_for_good_is_not_retried(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.resend().set_outage(Some(StatusCode::UNPROCESSABLE_ENTITY));
    register(&app, "refused@example.com").await;
    wait_until(async || {
        outbox_row(&app, "refused@example.com").await.status() == OutboxStatus::Failed
    })
    .await;
    let failed = outbox_row(&app, "refused@example.com").await;
    assert_eq!(failed.attempts, 1);
    assert_eq!(failed.sealed_body, None);
    app.resend().set_outage(None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.resend().accepted().is_empty());
}

#[db_test]
async fn workers_of_several_instances_never_send_one_message_twice(backend: Backend) {
    let first = TestApp::spawn(backend.clone()).await;
    let second = TestApp::builder(backend).spawn_beside(&first).await;
    let addresses: Vec<String> = (0..12).map(|n| format!("user{n}@example.com")).collect();
    for (n, address) in addresses.iter().enumerate() {
        let app = if n % 2 == 0 { &first } else { &second };
        register(app, address).await;
    }
    wait_until(async || {
        first.resend().accepted().len() + second.resend().accepted().len() >= addresses.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut keys: Vec<String> = first
        .resend()
        .accepted()
        .into_iter()
        .chain(second.resend().accepted())
        .map(|email| email.idempotency_key.unwrap())
        .collect();
    assert_eq!(keys.len(), addresses.len());
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), addresses.len(), "each message delivered exactly once");
}

#[db_test]
async fn the_development_provider_writes_messages_to_the_data_directory(backend: Backend) {
    let app = TestApp::builder(backend).without_fake_resend().spawn().await;
    register(&app, "dev@example.com").await;
    let outbox = app.config.data_dir.join("outbox");
    wait_until(async || {
        std::fs::read_dir(&outbox).map(|entries| entries.count() == 1).unwrap_or(false)
    })
    .await;
    let file = std::fs::read_dir(&outbox).unwrap().next().unwrap().unwrap().path();
    assert_eq!(file.extension().unwrap(), "eml");
    let message = std::fs::read_to_string(file).unwrap();
    assert!(message.contains("To: dev@example.com"));
    assert!(message.contains("/verify-email#token="));
    assert!(app.resend().accepted().is_empty());
}

#[db_test]
async fn the_smtp_provider_delivers_through_a_relay(backend: Backend) {
    let relay = postroute_fakes::FakeSmtp::start().await.unwrap();
    let url = relay.url();
    let app = TestApp::builder(backend)
        .without_fake_resend()
        .configure(move |config| {
            config.email.provider = postroute_app::config::EmailProvider::Smtp;
            config.email.smtp_url = Some(secrecy::SecretString::from(url));
        })
        .spawn()
        .await;
    register(&app, "smtp@example.com").await;
    wait_until(async || !relay.messages().is_empty()).await;
    let message = &relay.messages()[0];
    assert_eq!(message.to, vec!["smtp@example.com".to_owned()]);
    assert!(message.data.contains("Subject: Confirm your email address for PostRoute"));
    wait_until(async || outbox_row(&app, "smtp@example.com").await.status() == OutboxStatus::Sent)
        .await;
}

#[db_test]
// proves S-AUTH-5: a queued link cannot be redirected by changing its row's address
async fn a_queued_message_whose_recipient_was_changed_is_never_sent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.resend().set_outage(Some(StatusCode::SERVICE_UNAVAILABLE));
    register(&app, "victim@example.com").await;
    // Changed only once the first attempt has failed: a worker that read the row before the
    // change would otherwise send it, rightly, to the address it was sealed for.
    wait_until(async || outbox_row(&app, "victim@example.com").await.last_error.is_some()).await;
    let moved = app
        .execute_sql(
            "UPDATE email_outbox SET to_address = 'attacker@example.com' \
             WHERE to_address = 'victim@example.com'",
        )
        .await;
    assert_eq!(moved, 1);

    app.resend().set_outage(None);
    wait_until(async || {
        outbox_row(&app, "attacker@example.com").await.status() == OutboxStatus::Failed
    })
    .await;
    assert!(app.resend().accepted().is_empty(), "nothing went out, to anyone");
    let failed = outbox_row(&app, "attacker@example.com").await;
    assert!(failed.last_error.is_some());
}
