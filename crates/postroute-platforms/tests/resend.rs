//! The Resend client against the fake Resend, and the fake against Resend's documented shapes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_fakes::FakeResend;
use postroute_platforms::email::{DeliveryError, OutgoingEmail, ResendClient};

const KEY: &str = "re_test_key";

fn email<'a>(key: &'a str, subject: &'a str) -> OutgoingEmail<'a> {
    OutgoingEmail {
        from: "PostRoute <no-reply@postroute.example>",
        to: "ada@example.com",
        subject,
        text: "Hello",
        html: "<p>Hello</p>",
        idempotency_key: key,
    }
}

#[tokio::test]
async fn a_message_is_delivered_once_even_when_its_send_is_retried() {
    let fake = FakeResend::start(KEY).await.unwrap();
    let client = ResendClient::new(&fake.base_url(), KEY).unwrap();
    let first = client.send(&email("msg-1", "Welcome")).await.unwrap();
    let retried = client.send(&email("msg-1", "Welcome")).await.unwrap();
    assert_eq!(first, retried, "a replayed idempotent request answers the first response");
    let accepted = fake.accepted();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].to, vec!["ada@example.com".to_owned()]);
    assert_eq!(accepted[0].subject, "Welcome");
    assert_eq!(accepted[0].idempotency_key.as_deref(), Some("msg-1"));
}

#[tokio::test]
async fn an_outage_and_a_bad_key_are_retryable_a_bad_request_is_not() {
    let fake = FakeResend::start(KEY).await.unwrap();
    fake.set_outage(Some(reqwest::StatusCode::INTERNAL_SERVER_ERROR));
    let client = ResendClient::new(&fake.base_url(), KEY).unwrap();
    let outage = client.send(&email("msg-2", "x")).await.unwrap_err();
    assert!(matches!(outage, DeliveryError::Transient(_)), "{outage:?}");
    fake.set_outage(None);

    let wrong_key = ResendClient::new(&fake.base_url(), "re_wrong").unwrap();
    assert!(wrong_key.send(&email("msg-3", "x")).await.unwrap_err().is_retryable());

    client.send(&email("msg-4", "first")).await.unwrap();
    let reused_key = client.send(&email("msg-4", "different")).await.unwrap_err();
    assert!(matches!(reused_key, DeliveryError::Permanent(_)), "{reused_key:?}");
    assert_eq!(fake.accepted().len(), 1);
}

/// The fake must answer in Resend's documented shapes (platforms.md section 4), not in
/// whatever our client happens to accept.
#[tokio::test]
async fn the_fake_speaks_resends_documented_shapes() {
    let fake = FakeResend::start(KEY).await.unwrap();
    let url = fake.base_url().join("emails").unwrap();
    let http = reqwest::Client::new();
    let body = serde_json::json!({"from": "a@b.example", "to": "c@d.example", "subject": "s", "text": "t"});

    let ok = http
        .post(url.clone())
        .bearer_auth(KEY)
        .header("user-agent", "t")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let ok: serde_json::Value = ok.json().await.unwrap();
    assert!(uuid::Uuid::parse_str(ok["id"].as_str().unwrap()).is_ok(), "{ok}");

    let missing = serde_json::json!({"from": "a@b.example", "to": "c@d.example"});
    let invalid = http
        .post(url.clone())
        .bearer_auth(KEY)
        .header("user-agent", "t")
        .json(&missing)
        .send()
        .await
        .unwrap();
    assert_eq!(invalid.status(), 422);
    let invalid: serde_json::Value = invalid.json().await.unwrap();
    assert_eq!(invalid["statusCode"], 422);
    assert_eq!(invalid["name"], "missing_required_field");
    assert!(invalid["message"].is_string());

    let unauthenticated =
        http.post(url.clone()).header("user-agent", "t").json(&body).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
    assert_eq!(
        unauthenticated.json::<serde_json::Value>().await.unwrap()["name"],
        "missing_api_key"
    );

    // Section 4: invalid_from_address is a 422 in the same body.
    let bad_from =
        serde_json::json!({"from": "PostRoute <no-reply>", "to": "c@d.example", "subject": "s"});
    let refused = http
        .post(url.clone())
        .bearer_auth(KEY)
        .header("user-agent", "t")
        .json(&bad_from)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let refused: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(
        (&refused["statusCode"], &refused["name"]),
        (&serde_json::json!(422), &serde_json::json!("invalid_from_address"))
    );

    let no_agent = reqwest::Client::builder().build().unwrap();
    let refused = no_agent.post(url).bearer_auth(KEY).json(&body).send().await.unwrap();
    assert_eq!(refused.status(), 403, "a User-Agent is required");
}

/// The scenarios of the referee suite (referee/resend_checks.py), met by our client.
#[tokio::test]
async fn our_client_meets_the_referee_scenarios() {
    let fake = FakeResend::start(KEY).await.unwrap();
    let client = ResendClient::new(&fake.base_url(), KEY).unwrap();
    fake.set_rate_limit(Some(std::time::Duration::from_secs(3)));
    match client.send(&email("msg-5", "x")).await {
        Err(DeliveryError::RateLimited { retry_after: Some(wait) }) => {
            assert!((1..=3).contains(&wait.as_secs()), "{wait:?}")
        }
        other => panic!("{other:?}"),
    }
    fake.set_rate_limit(None);
    // A sender Resend refuses is a permanent failure: retrying cannot fix it.
    let refused = OutgoingEmail { from: "PostRoute <no-reply>", ..email("msg-6", "x") };
    assert!(matches!(client.send(&refused).await, Err(DeliveryError::Permanent(_))));
    let malformed_to = OutgoingEmail { to: "ada at example.com", ..email("msg-7", "x") };
    assert!(matches!(client.send(&malformed_to).await, Err(DeliveryError::Permanent(_))));
    assert!(fake.accepted().is_empty());
}
