//! Webhooks (S-EDGE-2): the HMAC over the raw body is checked before anything is parsed, Stripe's
//! timestamp tolerance holds, a failure is a 400 and a critical security event, and a replayed
//! event is acknowledged without being recorded twice.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_app::webhooks::{meta_signature, stripe_signature, x_signature};
use postroute_test_support::{Backend, TestApp, TestResponse, db_test};
use reqwest::Method;
use secrecy::SecretString;

const STRIPE_SECRET: &str = "whsec_test_secret";
const META_TOKEN: &str = "verify-me";
const X_SECRET: &str = "x-consumer-secret";

async fn app(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .configure(|config| {
            config.stripe.webhook_secret = Some(SecretString::from(STRIPE_SECRET));
            config.meta.webhook_verify_token = Some(SecretString::from(META_TOKEN));
            config.x.consumer_secret = Some(SecretString::from(X_SECRET));
        })
        .spawn()
        .await
}

async fn deliver(app: &TestApp, path: &str, header: (&str, &str), body: &[u8]) -> TestResponse {
    app.fetch(
        app.request(Method::POST, path)
            .header("content-type", "application/json")
            .header(header.0, header.1)
            .body(body.to_vec()),
    )
    .await
}

async fn refusals(app: &TestApp, provider: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM system_events WHERE event_type = 'webhook_signature_invalid' \
         AND severity = 'critical' AND security AND CAST(details AS TEXT) LIKE '%\"{provider}\"%'"
    ))
    .await
}

#[db_test]
// proves S-EDGE-2
async fn stripe_deliveries_are_verified_timely_and_recorded_once(backend: Backend) {
    let app = app(backend).await;
    let body = br#"{"id":"evt_1","type":"customer.subscription.updated","data":{"object":{}}}"#;
    let now = chrono::Utc::now().timestamp();
    let signature = stripe_signature(STRIPE_SECRET.as_bytes(), now, body);

    let first = deliver(&app, "/v1/webhooks/stripe", ("stripe-signature", &signature), body).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json(), serde_json::json!({"received": true, "duplicate": false}));
    let replay = deliver(&app, "/v1/webhooks/stripe", ("stripe-signature", &signature), body).await;
    assert_eq!(replay.json()["duplicate"], true, "acknowledged, not processed twice");
    assert_eq!(app.store().webhook_events().count("stripe").await.unwrap(), 1);

    // Wrong secret, changed body, too old, missing: 400 and a critical event each.
    let forged = stripe_signature(b"whsec_guess", now, body);
    let changed = br#"{"id":"evt_1","type":"invoice.paid","data":{"object":{}}}"#;
    let stale = stripe_signature(STRIPE_SECRET.as_bytes(), now - 600, body);
    for (header, payload) in [
        (forged.as_str(), &body[..]),
        (signature.as_str(), &changed[..]),
        (stale.as_str(), &body[..]),
        ("", &body[..]),
    ] {
        let response =
            deliver(&app, "/v1/webhooks/stripe", ("stripe-signature", header), payload).await;
        assert_eq!(response.status, 400, "{header}");
        assert_eq!(response.json()["code"], "invalid_signature");
    }
    assert_eq!(refusals(&app, "stripe").await, 4);
    // Checked before parsing: garbage with a bad signature is a signature failure, not a
    // parse error; garbage with a good one is a malformed request.
    let garbage = b"not json at all";
    let refused =
        deliver(&app, "/v1/webhooks/stripe", ("stripe-signature", &forged), garbage).await;
    assert_eq!(refused.json()["code"], "invalid_signature");
    let genuine_garbage = stripe_signature(STRIPE_SECRET.as_bytes(), now, garbage);
    let malformed =
        deliver(&app, "/v1/webhooks/stripe", ("stripe-signature", &genuine_garbage), garbage).await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.json()["code"], "malformed_request");
    assert_eq!(app.store().webhook_events().count("stripe").await.unwrap(), 1);
}

#[db_test]
// proves S-EDGE-2
async fn meta_and_x_deliveries_and_their_handshakes(backend: Backend) {
    let app = app(backend).await;
    // Meta's subscription check echoes the challenge only for our token.
    let handshake = format!(
        "/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token={META_TOKEN}\
         &hub.challenge=1158201444"
    );
    let verified = app.get(&handshake, 200).await;
    assert_eq!(verified.text(), "1158201444");
    app.get("/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1", 403)
        .await;

    let body = br#"{"object":"page","entry":[{"id":"501","time":1,"changes":[]}]}"#;
    // The harness gives the app the fake Meta's credentials: sign as that app.
    let secret = secrecy::ExposeSecret::expose_secret(app.config.meta.app_secret.as_ref().unwrap())
        .to_owned();
    let signature = meta_signature(secret.as_bytes(), body);
    let first = deliver(&app, "/v1/webhooks/meta", ("x-hub-signature-256", &signature), body).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.json()["duplicate"], false);
    let again = deliver(&app, "/v1/webhooks/meta", ("x-hub-signature-256", &signature), body).await;
    assert_eq!(again.json()["duplicate"], true);
    let forged = meta_signature(b"guess", body);
    assert_eq!(
        deliver(&app, "/v1/webhooks/meta", ("x-hub-signature-256", &forged), body).await.status,
        400
    );
    assert_eq!(refusals(&app, "meta").await, 1);

    // X's CRC answer is the HMAC of the token under the consumer secret.
    let crc = app.get("/v1/webhooks/x?crc_token=challenge123", 200).await.json();
    assert_eq!(crc["response_token"], x_signature(X_SECRET.as_bytes(), b"challenge123"));
    app.get("/v1/webhooks/x", 422).await;
    // The CRC answer is a signature: it is never given for something that could pass for
    // an event, or anyone could have X's deliveries forged.
    let event = r#"{"for_user_id":"42","user_event":{}}"#;
    let encoded: String = event.bytes().map(|b| format!("%{b:02X}")).collect();
    app.get(&format!("/v1/webhooks/x?crc_token={encoded}"), 400).await;
    let body = br#"{"for_user_id":"42","user_event":{"revoke":{"date_time":"2026-11-29T09:00:00Z","target":{"app_id":"1"},"source":{"user_id":"42"}}}}"#;
    let signature = x_signature(X_SECRET.as_bytes(), body);
    assert_eq!(
        deliver(&app, "/v1/webhooks/x", ("x-twitter-webhooks-signature", &signature), body)
            .await
            .status,
        200
    );
    let forged = x_signature(b"guess", body);
    assert_eq!(
        deliver(&app, "/v1/webhooks/x", ("x-twitter-webhooks-signature", &forged), body)
            .await
            .status,
        400
    );
    assert_eq!(refusals(&app, "x").await, 1);
    assert_eq!(app.store().webhook_events().count("x").await.unwrap(), 1);
}

#[db_test]
async fn an_unconfigured_provider_has_no_endpoint(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = br#"{"id":"evt_1"}"#;
    let signature = stripe_signature(b"anything", chrono::Utc::now().timestamp(), body);
    assert_eq!(
        deliver(&app, "/v1/webhooks/stripe", ("stripe-signature", &signature), body).await.status,
        404
    );
    app.get("/v1/webhooks/x?crc_token=a", 404).await;
    app.get("/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token=&hub.challenge=1", 404).await;
}
