//! `GET /metrics`: Prometheus text on a listener of its own, and on the public one only when
//! configured (api.md, "Staff (internal) and operations").

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_test_support::{Backend, TestApp, db_test};

#[db_test]
async fn metrics_are_served_on_their_own_listener_and_count_requests_by_route(backend: Backend) {
    let app = TestApp::builder(backend)
        .configure(|config| config.metrics.listen = Some("127.0.0.1:0".parse().unwrap()))
        .spawn()
        .await;
    app.get("/healthz", 200).await;
    // An id in the path is not a label: the route's template is.
    let unknown = uuid::Uuid::now_v7();
    app.get(&format!("/v1/workspaces/{unknown}/posts"), 401).await;
    app.get("/no/such/path", 404).await;

    let address = app.metrics_addr().expect("metrics listener");
    let response = reqwest::get(format!("http://{address}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        response.headers()
    );
    let text = response.text().await.unwrap();
    for series in [
        r#"http_requests_total{method="GET",route="/healthz",status="200"}"#,
        r#"http_requests_total{method="GET",route="/v1/workspaces/{workspace_id}/posts",status="401"}"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"}"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/healthz",le="0.005"}"#,
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
    assert!(!text.contains(&unknown.to_string()), "no raw path in a label:\n{text}");

    // Not on the public listener unless configured.
    app.get("/metrics", 404).await;
}

#[db_test]
async fn publishing_is_measured_by_outcome_lag_claim_time_and_backlog(backend: Backend) {
    let app = TestApp::builder(backend)
        .configure(|config| config.metrics.listen = Some("127.0.0.1:0".parse().unwrap()))
        .spawn()
        .await;
    let owner = app.signed_in_user("owner@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    let channel = app.connect_x(&owner, &workspace).await;
    let posts = format!("/v1/workspaces/{workspace}/posts");
    let body = serde_json::json!({ "content": "Measured", "channel_ids": [channel] });
    let post = app.json_as(&owner, reqwest::Method::POST, &posts, body, 201).await;
    let path = format!("{posts}/{}", post["id"].as_str().unwrap());
    let now = format!("{path}/publish-now");
    app.json_as(&owner, reqwest::Method::POST, &now, serde_json::Value::Null, 202).await;

    let address = app.metrics_addr().expect("metrics listener");
    let mut text = String::new();
    for _ in 0..200 {
        text =
            reqwest::get(format!("http://{address}/metrics")).await.unwrap().text().await.unwrap();
        if text.contains(r#"postroute_publish_outcomes_total{platform="x",class="published"}"#) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for series in [
        r#"postroute_publish_outcomes_total{platform="x",class="published"}"#,
        r#"postroute_publish_lag_seconds_bucket{platform="x",le="#,
        "postroute_publish_claim_seconds_bucket",
        r#"postroute_publish_targets{state="due"}"#,
        r#"postroute_publish_targets{state="unknown"}"#,
    ] {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
}

#[db_test]
async fn metrics_are_on_the_public_listener_only_when_configured(backend: Backend) {
    let app = TestApp::builder(backend)
        .configure(|config| config.metrics.on_public_listener = true)
        .spawn()
        .await;
    assert_eq!(app.metrics_addr(), None);
    app.get("/healthz", 200).await;
    let text = app.get("/metrics", 200).await.text();
    assert!(text.contains("http_requests_total"), "{text}");
}
