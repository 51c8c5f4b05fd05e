//! Access and refresh tokens: rotation, reuse detection, concurrency, and forged tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use postroute_test_support::{Backend, PASSWORD, TestApp, db_test};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest;

async fn refresh(app: &TestApp, refresh_token: &str) -> postroute_test_support::TestResponse {
    app.fetch(
        app.request(Method::POST, "/v1/auth/refresh")
            .json(&json!({"refresh_token": refresh_token})),
    )
    .await
}

#[db_test]
// proves S-AUTH-2
async fn refresh_rotates_the_token_every_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signed_in_user("rotate@example.com").await;
    let first = refresh(&app, &user.refresh_token).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-control"), Some("no-store"));
    let first = first.json();
    let successor = first["refresh_token"].as_str().unwrap();
    assert_ne!(successor, user.refresh_token);
    assert_eq!(URL_SAFE_NO_PAD.decode(successor).unwrap().len(), 64, "64 random bytes");
    app.get_as(first["access_token"].as_str().unwrap(), "/v1/me", 200).await;

    let second = refresh(&app, successor).await.json();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
}

#[db_test]
// proves S-AUTH-2
async fn refresh_tokens_and_passwords_are_stored_only_as_hashes(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let user = app.signed_in_user("hashed@example.com").await;
    let digest: String = sha2::Sha256::digest(user.refresh_token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let blob = match backend {
        postroute_test_support::Backend::Sqlite => format!("X'{digest}'"),
        postroute_test_support::Backend::Postgres { .. } => format!("decode('{digest}', 'hex')"),
    };
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM refresh_tokens WHERE token_hash = {blob}")).await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 1);
    let account =
        app.store().accounts().find_by_email("hashed@example.com").await.unwrap().unwrap();
    assert!(account.password_hash.starts_with("$argon2id$"));
    assert!(!account.password_hash.contains(PASSWORD));
}

#[db_test]
// proves S-AUTH-3
// proves S-LOG-2 (refresh-token reuse is a critical security event)
async fn a_reused_refresh_token_ends_every_session_of_the_user(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let laptop = app.signed_in_user("reuse@example.com").await;
    let phone = app.login("reuse@example.com", PASSWORD).await;
    let rotated = refresh(&app, &laptop.refresh_token).await.json();

    let reused = refresh(&app, &laptop.refresh_token).await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.json()["code"], "refresh_token_reused");

    app.get_as(&phone.access_token, "/v1/me", 401).await;
    app.get_as(rotated["access_token"].as_str().unwrap(), "/v1/me", 401).await;
    assert_eq!(refresh(&app, rotated["refresh_token"].as_str().unwrap()).await.status, 401);
    assert_eq!(refresh(&app, &phone.refresh_token).await.status, 401);

    let events = app.store().system_events().recent(20).await.unwrap();
    let event = events
        .iter()
        .find(|event| event.event_type == "refresh_token_reused")
        .expect("security event");
    assert!(event.security);
    assert_eq!(event.severity, postroute_domain::Severity::Critical);
    assert!(event.actor.is_some());
    assert_eq!(event.details["sessions_revoked"], 2);
    app.login("reuse@example.com", PASSWORD).await;
}

#[db_test]
// proves S-AUTH-3: a rotated token presented to logout is reuse, exactly as at refresh
async fn logout_with_a_rotated_refresh_token_is_reuse(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let laptop = app.signed_in_user("thief@example.com").await;
    let phone = app.login("thief@example.com", PASSWORD).await;
    let rotated = refresh(&app, &laptop.refresh_token).await.json();

    let logout = app
        .post_json("/v1/auth/logout", &json!({"refresh_token": laptop.refresh_token}), 401)
        .await;
    assert_eq!(logout.json()["code"], "refresh_token_reused");

    app.get_as(&phone.access_token, "/v1/me", 401).await;
    app.get_as(rotated["access_token"].as_str().unwrap(), "/v1/me", 401).await;
    assert_eq!(refresh(&app, rotated["refresh_token"].as_str().unwrap()).await.status, 401);
    let events = app.store().system_events().recent(20).await.unwrap();
    let event = events
        .iter()
        .find(|event| event.event_type == "refresh_token_reused")
        .expect("security event");
    assert_eq!(event.severity, postroute_domain::Severity::Critical);
    assert_eq!(event.details["sessions_revoked"], 2);
}

#[db_test]
// proves S-AUTH-3
async fn concurrent_refreshes_of_one_token_yield_one_winner_whose_successor_dies(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signed_in_user("race@example.com").await;
    let attempts = (0..8).map(|_| refresh(&app, &user.refresh_token));
    let responses = futures_util::future::join_all(attempts).await;
    let winners: Vec<Value> = responses
        .iter()
        .filter(|response| response.status == 200)
        .map(|response| response.json())
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one refresh succeeds: {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for loser in responses.iter().filter(|response| response.status != 200) {
        assert_eq!(loser.status, 401);
        assert_eq!(loser.json()["code"], "refresh_token_reused");
    }
    let winner = &winners[0];
    app.get_as(winner["access_token"].as_str().unwrap(), "/v1/me", 401).await;
    assert_eq!(refresh(&app, winner["refresh_token"].as_str().unwrap()).await.status, 401);
}

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn sign(claims: &Value, kid: &str, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[db_test]
// proves S-AUTH-1
async fn forged_and_expired_access_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.signed_in_user("forge@example.com").await;
    let genuine = claims_of(&user.access_token);
    let kid = kid_of(&user.access_token);
    let secret = app.jwt_secret().to_vec();
    let now = chrono::Utc::now().timestamp();

    // The genuine token re-signed with our own key still works: the forgeries below fail
    // for the one thing each changes.
    app.get_as(&sign(&genuine, &kid, &secret), "/v1/me", 200).await;

    let with = |field: &str, value: Value| {
        let mut claims = genuine.clone();
        claims[field] = value;
        claims
    };
    let (header, payload, _) = {
        let mut parts = user.access_token.split('.');
        (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        )
    };
    let hmac = |signing_input: &str| {
        URL_SAFE_NO_PAD.encode(
            jsonwebtoken::crypto::sign(
                signing_input.as_bytes(),
                &EncodingKey::from_secret(&secret),
                Algorithm::HS256,
            )
            .unwrap()
            .as_bytes(),
        )
    };
    let alg_none =
        format!("{}.{payload}.", segment(&json!({"alg": "none", "typ": "JWT", "kid": kid})));
    let rs256_header = segment(&json!({"alg": "RS256", "typ": "JWT", "kid": kid}));
    let hs_rs_confusion =
        format!("{rs256_header}.{payload}.{}", hmac(&format!("{rs256_header}.{payload}")));
    let no_kid_header = segment(&json!({"alg": "HS256", "typ": "JWT"}));
    let no_kid =
        format!("{no_kid_header}.{payload}.{}", hmac(&format!("{no_kid_header}.{payload}")));
    let tampered = format!(
        "{header}.{}.{}",
        segment(&with("sub", json!(uuid::Uuid::now_v7().to_string()))),
        user.access_token.rsplit('.').next().unwrap()
    );

    let forgeries = [
        ("alg none", alg_none),
        ("HS/RS confusion", hs_rs_confusion),
        ("no kid", no_kid),
        ("unknown kid", sign(&genuine, "0000000000000000", &secret)),
        ("wrong key", sign(&genuine, &kid, b"an attacker's guess at the key, 32b")),
        ("wrong audience", sign(&with("aud", json!("someone-else")), &kid, &secret)),
        ("wrong issuer", sign(&with("iss", json!("https://evil.example")), &kid, &secret)),
        ("expired by one second", sign(&with("exp", json!(now - 1)), &kid, &secret)),
        (
            "no expiry",
            sign(
                &{
                    let mut c = genuine.clone();
                    c.as_object_mut().unwrap().remove("exp");
                    c
                },
                &kid,
                &secret,
            ),
        ),
        (
            "unknown session",
            sign(&with("sid", json!(uuid::Uuid::now_v7().to_string())), &kid, &secret),
        ),
        ("tampered subject", tampered),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (case, token) in forgeries {
        let refused = app.get_as(&token, "/v1/me", 401).await;
        assert_eq!(refused.json()["code"], "unauthorized", "{case}");
    }

    let malformed_headers = [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        format!("Basic {}", user.access_token),
        format!("Bearer  {}", user.access_token),
        format!("Bearer {} extra", user.access_token),
        user.access_token.clone(),
    ];
    for value in malformed_headers {
        app.send(app.request(Method::GET, "/v1/me").header("authorization", value.as_str()), 401)
            .await;
    }
    app.send(app.request(Method::GET, "/v1/me"), 401).await;
    let doubled = app
        .request(Method::GET, "/v1/me")
        .header("authorization", format!("Bearer {}", user.access_token))
        .header("authorization", format!("Bearer {}", user.access_token));
    app.send(doubled, 401).await;
    // Lower-case scheme is allowed (RFC 7235: schemes are case-insensitive).
    app.send(
        app.request(Method::GET, "/v1/me")
            .header("authorization", format!("bearer {}", user.access_token)),
        200,
    )
    .await;

    // A token of a revoked session.
    app.post_json("/v1/auth/logout", &json!({"refresh_token": user.refresh_token}), 204).await;
    app.get_as(&user.access_token, "/v1/me", 401).await;
}
