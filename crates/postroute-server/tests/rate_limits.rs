//! Rate limits on both stores: the credential gate, the global limit, shared budgets across
//! instances through Redis, and client addresses behind a proxy.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_app::rate_limit::{Counting, LimitStore, Quota, RedisStore};
use postroute_test_support::{
    Backend, TestApp, TestAppBuilder, TestResponse, db_test, redis_url_from_env,
};
use reqwest::Method;
use serde_json::json;

fn gated(backend: Backend) -> TestAppBuilder {
    TestApp::builder(backend).configure(|config| {
        config.rate_limits.credential_attempts = 5;
        config.rate_limits.credential_window_secs = 300;
    })
}

async fn failed_login(app: &TestApp) -> TestResponse {
    app.fetch(
        app.request(Method::POST, "/v1/auth/login")
            .json(&json!({"email": "who@example.com", "password": "guessing"})),
    )
    .await
}

/// Five attempts pass (and fail on their merits), the sixth is refused before its body is read.
async fn assert_credential_gate(app: &TestApp) {
    for attempt in 0..5u32 {
        let response = failed_login(app).await;
        assert_eq!(response.status, 401, "attempt {attempt}");
        assert_eq!(response.header("ratelimit-limit"), Some("5"));
        assert_eq!(
            response.header("ratelimit-remaining"),
            Some((4 - attempt).to_string().as_str())
        );
    }
    let refused = failed_login(app).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.json()["code"], "rate_limited");
    // A window, not a refilling bucket: the next attempt waits until the first of the five is
    // five minutes old.
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((240..=300).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.header("ratelimit-limit"), Some("5"));
    assert_eq!(refused.header("ratelimit-remaining"), Some("0"));
    assert!(refused.header("ratelimit-reset").is_some());

    // The bucket is shared by every credential endpoint, and checked before the body is parsed
    // (so before any password hashing): even a malformed body gets 429, not 400.
    let register = app
        .post_json(
            "/v1/auth/register",
            &json!({"email": "n@example.com", "password": "x", "name": "x"}),
            429,
        )
        .await;
    assert_eq!(register.json()["code"], "rate_limited");
    app.send(
        app.request(Method::POST, "/v1/auth/password-reset/request")
            .header("content-type", "application/json")
            .body("{"),
        429,
    )
    .await;
    // Other endpoints are not in this bucket.
    app.get("/v1/openapi.json", 200).await;
}

#[db_test]
// proves S-AUTH-7
// proves S-LOG-2 (rate-limit trips and failed logins are system events; the staff view and
// retention are proven in tests/admin.rs)
async fn the_credential_endpoints_share_five_attempts_per_address(backend: Backend) {
    let app = gated(backend).spawn().await;
    assert_credential_gate(&app).await;
    failed_login(&app).await;
    let trips: Vec<_> = app
        .store()
        .system_events()
        .recent(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|event| event.event_type == "rate_limited")
        .collect();
    assert_eq!(trips.len(), 1, "one event per trip, not per refused request");
    assert_eq!(trips[0].details["limit"], "credentials");
    assert_eq!(trips[0].ip, Some("127.0.0.1".parse().unwrap()));
    // Every failed login is a system event too (S-AUTH-7), with the email hashed.
    let failures = app
        .store()
        .system_events()
        .recent(50)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "login_failed")
        .count();
    assert_eq!(failures, 5);
}

#[db_test]
// proves S-AUTH-7
// proves S-EDGE-1
async fn the_credential_gate_holds_on_redis(backend: Backend) {
    let Some(redis) = redis_url_from_env() else { return };
    let prefix = format!("postroute-test:{}:", uuid::Uuid::now_v7().simple());
    let app = gated(backend).redis(&redis, &prefix).spawn().await;
    assert_credential_gate(&app).await;
    app.get("/readyz", 200).await;
}

#[db_test]
// proves S-EDGE-1
async fn instances_sharing_redis_share_one_budget(backend: Backend) {
    let Some(redis) = redis_url_from_env() else { return };
    let prefix = format!("postroute-test:{}:", uuid::Uuid::now_v7().simple());
    let first = gated(backend.clone()).redis(&redis, &prefix).spawn().await;
    let second = gated(backend).redis(&redis, &prefix).spawn_beside(&first).await;
    for _ in 0..3 {
        assert_eq!(failed_login(&first).await.status, 401);
    }
    for _ in 0..2 {
        assert_eq!(failed_login(&second).await.status, 401);
    }
    assert_eq!(failed_login(&first).await.status, 429);
    assert_eq!(failed_login(&second).await.status, 429);
}

#[db_test]
// proves S-EDGE-1
async fn every_endpoint_shares_a_per_address_budget_probes_excepted(backend: Backend) {
    let app = TestApp::builder(backend)
        .configure(|config| config.rate_limits.requests_per_minute = 10)
        .spawn()
        .await;
    for _ in 0..10 {
        app.get("/v1/openapi.json", 200).await;
    }
    let refused = app.get("/v1/me", 429).await;
    assert!(refused.header("retry-after").is_some());
    app.get("/no/such/path", 429).await;
    app.get("/healthz", 200).await;
    app.get("/readyz", 200).await;
}

async fn login_from(app: &TestApp, forwarded_for: &str) -> u16 {
    let url = format!("http://{}/v1/auth/login", app.plain_addr().unwrap());
    let response = reqwest::Client::new()
        .post(url)
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": "who@example.com", "password": "guessing"}))
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

#[db_test]
// proves S-TLS-3
async fn behind_a_trusted_proxy_clients_are_told_apart_and_ipv6_counts_per_64(backend: Backend) {
    let app = gated(backend)
        .configure(|config| {
            config.http.plain_listen = Some("127.0.0.1:0".parse().unwrap());
            config.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        })
        .spawn()
        .await;
    // One /64: five addresses inside it share one bucket.
    for host in 1..=5 {
        assert_eq!(login_from(&app, &format!("2001:db8:0:7::{host}")).await, 401);
    }
    assert_eq!(login_from(&app, "2001:db8:0:7:ffff::1").await, 429);
    // The next /64 and an IPv4 client have buckets of their own.
    assert_eq!(login_from(&app, "2001:db8:0:8::1").await, 401);
    assert_eq!(login_from(&app, "198.51.100.4").await, 401);
    let events = app.store().system_events().recent(50).await.unwrap();
    assert!(events.iter().any(|event| event.ip == Some("198.51.100.4".parse().unwrap())));
}

#[db_test]
// proves S-TLS-3
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(backend: Backend) {
    let app = gated(backend)
        .configure(|config| config.http.plain_listen = Some("127.0.0.1:0".parse().unwrap()))
        .spawn()
        .await;
    // A client rotating fake X-Forwarded-For values is still one client.
    for n in 1..=5 {
        assert_eq!(login_from(&app, &format!("203.0.113.{n}")).await, 401);
    }
    assert_eq!(login_from(&app, "203.0.113.99").await, 429);
    let events = app.store().system_events().recent(50).await.unwrap();
    assert!(events.iter().all(|event| event.ip == Some("127.0.0.1".parse().unwrap())));
}

// proves S-AUTH-7
// proves S-UPLOAD-3
#[tokio::test]
async fn a_redis_window_admits_its_limit_per_period_and_no_more() {
    let Some(redis) = redis_url_from_env() else { return };
    let prefix = format!("postroute-test:{}:", uuid::Uuid::now_v7().simple());
    let store = RedisStore::connect(&redis, &prefix).await.unwrap();
    let quota = Quota {
        name: "window-test",
        burst: 3,
        period: std::time::Duration::from_millis(600),
        counting: Counting::Window,
    };
    for remaining in [2, 1, 0] {
        let decision = store.check(&quota, "user:1").await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, remaining);
    }
    let refused = store.check(&quota, "user:1").await.unwrap();
    assert!(!refused.allowed);
    assert!(refused.retry_after > std::time::Duration::ZERO);
    assert!(refused.retry_after <= quota.period);
    // Another key has its own window; refusals are not counted against the key.
    assert!(store.check(&quota, "user:2").await.unwrap().allowed);
    tokio::time::sleep(refused.retry_after + std::time::Duration::from_millis(50)).await;
    assert!(store.check(&quota, "user:1").await.unwrap().allowed, "the oldest left the window");
}

/// A password re-check as `token` from `forwarded_for`, through the trusted proxy.
async fn recheck_from(app: &TestApp, forwarded_for: &str, token: &str, method: Method) -> u16 {
    let (path, body) = match method {
        Method::DELETE => ("/v1/me", json!({"password": "a wrong guess"})),
        _ => (
            "/v1/me/password",
            json!({"current_password": "a wrong guess", "new_password": "whatever it may be"}),
        ),
    };
    let url = format!("http://{}{path}", app.plain_addr().unwrap());
    let response = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token)
        .header("x-forwarded-for", forwarded_for)
        .json(&body)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

#[db_test]
// proves S-AUTH-7: a stolen session guesses the password no faster than the login form
async fn password_rechecks_are_gated_per_address_and_per_account(backend: Backend) {
    // Room for the three sign-ups (three attempts each from this machine's address).
    const ATTEMPTS: u32 = 10;
    let app = TestApp::builder(backend)
        .configure(|config| {
            config.rate_limits.credential_attempts = ATTEMPTS;
            config.http.plain_listen = Some("127.0.0.1:0".parse().unwrap());
            config.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        })
        .spawn()
        .await;
    let victim = app.signed_in_user("victim@example.com").await;
    let first = app.signed_in_user("first@example.com").await;
    let second = app.signed_in_user("second@example.com").await;
    // Per account: a wrong guess from each of ten addresses, then the next is refused.
    for host in 1..=ATTEMPTS {
        let status =
            recheck_from(&app, &format!("198.51.100.{host}"), &victim.access_token, Method::POST)
                .await;
        assert_eq!(status, 403, "guess {host}");
    }
    assert_eq!(
        recheck_from(&app, "198.51.100.99", &victim.access_token, Method::DELETE).await,
        429
    );
    let events = app.store().system_events().recent(50).await.unwrap();
    let failures =
        events.iter().filter(|event| event.event_type == "password_check_failed").count();
    assert_eq!(
        failures, ATTEMPTS as usize,
        "each wrong guess is a security event; the refused one hashed nothing"
    );
    assert!(
        events
            .iter()
            .filter(|event| event.event_type == "password_check_failed")
            .all(|event| event.security && event.actor.is_some())
    );

    // Per address: two accounts from one address share its attempts.
    for (attempt, user) in [&first, &second].into_iter().cycle().take(ATTEMPTS as usize).enumerate()
    {
        assert_eq!(
            recheck_from(&app, "203.0.113.7", &user.access_token, Method::DELETE).await,
            403,
            "attempt {attempt}"
        );
    }
    assert_eq!(recheck_from(&app, "203.0.113.7", &second.access_token, Method::POST).await, 429);
    // The accounts are intact: nothing was changed or erased by a guess.
    app.login("first@example.com", postroute_test_support::PASSWORD).await;
}
