//! Liveness and readiness.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::Duration;

use postroute_test_support::{TestApp, db_test};

db_test!(
    async fn liveness_and_readiness_answer_when_all_is_well(backend) {
        let app = TestApp::spawn(backend).await;
        assert_eq!(app.get("/healthz", 200).await.json()["status"], "ok");
        assert_eq!(app.get("/readyz", 200).await.json()["status"], "ready");
    }
);

db_test!(
    async fn readiness_is_503_while_the_database_is_away_and_200_when_it_returns(backend) {
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
);
