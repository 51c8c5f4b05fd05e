//! The X client against the fake X, and the fake against X's documented shapes.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postroute_fakes::FakeX;
use postroute_platforms::PlatformError;
use postroute_platforms::x::{XClient, XEndpoints};
use sha2::Digest;

const REDIRECT: &str = "https://postroute.example/v1/oauth/x/callback";
const VERIFIER: &str = "a-verifier-of-more-than-forty-three-characters-0123456789";

fn client(fake: &FakeX) -> XClient {
    XClient::new(
        XEndpoints { auth_base: fake.base_url(), api_base: fake.base_url() },
        "client-1",
        "secret-1",
    )
    .unwrap()
}

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
}

/// Follows the authorize URL like a browser whose user clicks "Authorize"; returns the query of
/// the redirect back to us.
async fn authorize(client: &XClient) -> std::collections::HashMap<String, String> {
    let url = client.authorize_url(REDIRECT, "state-123", &challenge()).unwrap();
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = browser.get(url).send().await.unwrap();
    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(REDIRECT));
    location.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn code_exchange_refresh_rotation_and_revocation() {
    let fake = FakeX::start("client-1", "secret-1").await.unwrap();
    let client = client(&fake);
    let callback = authorize(&client).await;
    assert_eq!(callback["state"], "state-123");

    assert!(matches!(
        client
            .exchange_code(
                &callback["code"],
                "the-wrong-verifier-xxxxxxxxxxxxxxxxxxxxxxxxxxx",
                REDIRECT
            )
            .await,
        Err(PlatformError::AuthDead(_))
    ));
    let callback = authorize(&client).await;
    let tokens = client.exchange_code(&callback["code"], VERIFIER, REDIRECT).await.unwrap();
    assert_eq!(tokens.expires_in, Some(7200));
    assert!(tokens.scope.as_deref().unwrap().contains("offline.access"));
    // A code works once.
    assert!(matches!(
        client.exchange_code(&callback["code"], VERIFIER, REDIRECT).await,
        Err(PlatformError::AuthDead(_))
    ));

    let account = client.me(&tokens.access_token).await.unwrap();
    assert_eq!(account.id, "1001");
    assert_eq!(account.username, "postroute_fan");

    let first_refresh = tokens.refresh_token.clone().unwrap();
    let rotated = client.refresh(&first_refresh).await.unwrap();
    assert_ne!(rotated.refresh_token.as_deref(), Some(first_refresh.as_str()));
    assert!(
        matches!(client.refresh(&first_refresh).await, Err(PlatformError::AuthDead(_))),
        "a rotated token is dead"
    );

    fake.expire_access_tokens();
    assert!(matches!(client.me(&rotated.access_token).await, Err(PlatformError::AuthDead(_))));

    fake.set_token_outage(Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
    assert!(matches!(
        client.refresh(rotated.refresh_token.as_deref().unwrap()).await,
        Err(PlatformError::Transient(_))
    ));
    fake.set_token_outage(None);

    fake.revoke_account("1001");
    assert!(matches!(
        client.refresh(rotated.refresh_token.as_deref().unwrap()).await,
        Err(PlatformError::AuthDead(_))
    ));

    client.revoke(&rotated.access_token).await.unwrap();
    assert_eq!(fake.revoked_tokens(), vec![rotated.access_token]);
}

#[tokio::test]
async fn a_refused_authorization_comes_back_without_a_code() {
    let fake = FakeX::start("client-1", "secret-1").await.unwrap();
    fake.deny_next_authorization();
    let callback = authorize(&client(&fake)).await;
    assert_eq!(callback["error"], "access_denied");
    assert!(!callback.contains_key("code"));
}

/// Recorded shapes from platforms.md 1.1 and 1.4: the fake must answer in them, not in whatever
/// our client happens to accept.
#[tokio::test]
async fn the_fake_speaks_xs_documented_shapes() {
    let fake = FakeX::start("client-1", "secret-1").await.unwrap();
    let client = client(&fake);
    let callback = authorize(&client).await;
    let http = reqwest::Client::new();
    let token_url = fake.base_url().join("2/oauth2/token").unwrap();
    let basic =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("client-1:secret-1"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", callback["code"].as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let success: serde_json::Value = http
        .post(token_url.clone())
        .header("authorization", &basic)
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in ["token_type", "expires_in", "access_token", "scope", "refresh_token"] {
        assert!(success.get(field).is_some(), "{field} in {success}");
    }
    assert_eq!(success["token_type"], "bearer");

    let spent = http
        .post(token_url.clone())
        .header("authorization", &basic)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "spent")])
        .send()
        .await
        .unwrap();
    assert_eq!(spent.status(), 400);
    let spent: serde_json::Value = spent.json().await.unwrap();
    assert_eq!(
        spent,
        serde_json::json!({"error": "invalid_request", "error_description": "Value passed for the token was invalid."})
    );

    let unauthenticated = http
        .post(token_url)
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        unauthenticated.json::<serde_json::Value>().await.unwrap()["error"],
        "unauthorized_client"
    );

    let me = http
        .get(fake.base_url().join("2/users/me").unwrap())
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
    );

    // 1.4: the rate-limit headers on every answer, and the v2 problem body on a 429.
    let token = success["access_token"].as_str().unwrap();
    let me_url = fake.base_url().join("2/users/me").unwrap();
    let ok = http.get(me_url.clone()).bearer_auth(token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    for header in ["x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset"] {
        assert!(ok.headers()[header].to_str().unwrap().parse::<u64>().is_ok(), "{header}");
    }
    assert_eq!(
        ok.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"data": {"id": "1001", "name": "PostRoute Fan", "username": "postroute_fan"}}),
        "without user.fields, the default fields only"
    );
    fake.exhaust_rate_limit(std::time::Duration::from_secs(60));
    let limited = http.get(me_url).bearer_auth(token).send().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["x-rate-limit-remaining"], "0");
    assert_eq!(
        limited.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})
    );
}

/// The scenarios of the referee suite (referee/x_checks.py), met by our client.
#[tokio::test]
async fn our_client_meets_the_referee_scenarios() {
    let fake = FakeX::start("client-1", "secret-1").await.unwrap();
    let client = client(&fake);
    let callback = authorize(&client).await;
    let tokens = client.exchange_code(&callback["code"], VERIFIER, REDIRECT).await.unwrap();
    // X grants what was asked: the client must ask for everything it needs.
    let mut granted: Vec<&str> = tokens.scope.as_deref().unwrap().split(' ').collect();
    granted.sort_unstable();
    let mut asked: Vec<&str> = postroute_platforms::x::SCOPES.split(' ').collect();
    asked.sort_unstable();
    assert_eq!(granted, asked);
    assert!(tokens.refresh_token.is_some(), "offline.access brings a refresh token");
    // The avatar comes only when user.fields asks for it.
    let account = client.me(&tokens.access_token).await.unwrap();
    assert!(account.profile_image_url.unwrap().starts_with("https://"));

    fake.exhaust_rate_limit(std::time::Duration::from_secs(60));
    match client.me(&tokens.access_token).await {
        Err(PlatformError::RateLimited { reset: Some(reset) }) => {
            assert!((50..=60).contains(&reset.as_secs()), "{reset:?}")
        }
        other => panic!("{other:?}"),
    }

    fake.set_outage(Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
    assert!(matches!(client.me(&tokens.access_token).await, Err(PlatformError::Transient(_))));
    fake.set_outage(None);

    // A revoked authorization: refresh answers invalid_grant.
    fake.revoke_account("1001");
    assert!(matches!(
        client.refresh(tokens.refresh_token.as_deref().unwrap()).await,
        Err(PlatformError::AuthDead(_))
    ));
}
