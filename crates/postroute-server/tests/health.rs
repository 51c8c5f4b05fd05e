//! Liveness and readiness.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::Duration;

use postroute_test_support::{Backend, TestApp, db_test};

#[db_test]
async fn liveness_and_readiness_answer_when_all_is_well(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_eq!(app.get("/healthz", 200).await.json()["status"], "ok");
    assert_eq!(app.get("/readyz", 200).await.json()["status"], "ready");
}

#[db_test]
async fn readiness_is_503_while_the_database_is_away_and_200_when_it_returns(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.get("/readyz", 200).await;

    app.database().make_unreachable().await;
    let unready = app.get("/readyz", 503).await;
    assert_eq!(unready.header("content-type"), Some("application/problem+json"));
    assert_eq!(unready.json()["code"], "service_unavailable");
    // Liveness does not depend on the database: restarting would not help.
    app.get("/healthz", 200).await;

    app.database().make_reachable().await;
    let mut status = 0;
    for _ in 0..50 {
        status = app.fetch(app.request(reqwest::Method::GET, "/readyz")).await.status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "readiness recovers once the database is back");
}

#[db_test]
async fn while_the_database_is_away_requests_are_refused_at_once_with_retry_after(
    backend: Backend,
) {
    // A pool that would make each request wait two minutes for a connection: the test
    // client gives up after 30 s, so only an answer that does not wait can pass.
    let app = TestApp::builder(backend)
        .configure(|config| config.database.acquire_timeout_secs = 120)
        .spawn()
        .await;
    let user = app.signed_in_user("outage@example.com").await;

    app.database().make_unreachable().await;
    app.get("/readyz", 503).await;
    for _ in 0..3 {
        let refused = app.get_as(&user.access_token, "/v1/me", 503).await;
        assert_eq!(refused.json()["code"], "service_unavailable");
        assert_eq!(refused.header("retry-after"), Some("2"));
    }
    app.get("/healthz", 200).await;

    app.database().make_reachable().await;
    let mut status = 0;
    for _ in 0..100 {
        status = app
            .fetch(app.request(reqwest::Method::GET, "/v1/me").bearer_auth(&user.access_token))
            .await
            .status;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 200, "requests are served again once a probe sees the database back");
}
