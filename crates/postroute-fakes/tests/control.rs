//! The control API (README "Control API") changes what the fakes answer, and refuses what it
//! does not understand: checked here in Rust, so it holds where the referee suite is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_fakes::{FakeCredentials, FakePorts, Fakes};
use serde_json::{Value, json};

async fn post(fakes: &Fakes, path: &str, body: Value) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(fakes.control_url().join(path).unwrap())
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn get(fakes: &Fakes, path: &str) -> Value {
    reqwest::get(fakes.control_url().join(path).unwrap()).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn the_control_api_injects_faults_and_refuses_nonsense() {
    let fakes = Fakes::start(FakePorts::default(), FakeCredentials::default()).await.unwrap();
    let index = get(&fakes, "/").await;
    assert_eq!(index["x"], fakes.x.base_url().as_str());
    assert_eq!(index["smtp"], fakes.smtp.url());

    // An outage on X answers the API in X's problem shape.
    assert_eq!(post(&fakes, "x/faults", json!({"outage": 503})).await, 204);
    let me = reqwest::Client::new()
        .get(fakes.x.base_url().join("2/users/me").unwrap())
        .bearer_auth("any")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 503);
    assert_eq!(me.json::<Value>().await.unwrap()["status"], 503);
    assert_eq!(post(&fakes, "x/faults", json!({"outage": null})).await, 204);

    // A second Page, seen by the next login.
    let pages = json!([{"id": "501", "name": "A"}, {"id": "502", "name": "B", "instagram": {"id": "9", "username": "b"}}]);
    assert_eq!(post(&fakes, "meta/pages", pages).await, 204);
    assert_eq!(get(&fakes, "meta/state").await["pages"], json!(["501", "502"]));

    // A rate limit on Resend carries its headers.
    assert_eq!(
        post(&fakes, "resend/faults", json!({"rate_limit": {"limit": 2, "reset_in_secs": 5}}))
            .await,
        204
    );
    let limited = reqwest::Client::new()
        .post(fakes.resend.base_url().join("emails").unwrap())
        .bearer_auth(&fakes.credentials.resend_key)
        .header("user-agent", "control-test")
        .json(&json!({"from": "a@b.example", "to": "c@d.example", "subject": "s"}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["ratelimit-remaining"], "0");
    assert!(fakes.resend.accepted().is_empty());

    // What the API does not understand is a 400 that says why, and changes nothing.
    for (path, body) in [
        ("x/faults", json!({"outage": "soon"})),
        ("x/revoke", json!({})),
        ("meta/kill-tokens", json!({"subcode": 999})),
        ("meta/pages", json!({"id": "1"})),
        ("meta/settings", json!({"page_size": "one"})),
        ("smtp/mode", json!({"mode": "flaky"})),
        ("x/publish-faults", json!({"fault": "meteor"})),
        ("x/publish-faults", json!({"fault": "duplicate", "call": "retweet"})),
        ("x/settings", json!({"media_processing_ms": "slow"})),
        ("meta/publish-faults", json!({"fault": "duplicate", "times": "twice"})),
        ("meta/settings", json!({"container_ready_ms": "soon"})),
        ("meta/settings", json!({"publishing_limit": -1})),
    ] {
        assert_eq!(post(&fakes, path, body).await, 400, "{path}");
    }
    assert_eq!(get(&fakes, "meta/state").await["pages"], json!(["501", "502"]));
    assert_eq!(get(&fakes, "smtp/messages").await, json!([]));
    assert_eq!(get(&fakes, "x/state").await["publish_faults_armed"], 0);
    assert_eq!(get(&fakes, "meta/state").await["publish_faults_armed"], 0);
}

#[tokio::test]
async fn armed_publish_faults_show_in_the_state_and_posts_in_the_record() {
    let fakes = Fakes::start(FakePorts::default(), FakeCredentials::default()).await.unwrap();
    let fault = json!({"fault": "created_then_500", "call": "tweet", "times": 2});
    assert_eq!(post(&fakes, "x/publish-faults", fault).await, 204);
    assert_eq!(get(&fakes, "x/state").await["publish_faults_armed"], 2);
    assert_eq!(post(&fakes, "x/publish-faults", json!({"clear": true})).await, 204);
    assert_eq!(get(&fakes, "x/state").await["publish_faults_armed"], 0);
    let fault = json!({"fault": "graph_error", "call": "media", "code": 9004});
    assert_eq!(post(&fakes, "meta/publish-faults", fault).await, 204);
    assert_eq!(get(&fakes, "meta/state").await["publish_faults_armed"], 1);
    let settings =
        json!({"container_ready_ms": 0, "container_lifetime_secs": 60, "publishing_limit": 25});
    assert_eq!(post(&fakes, "meta/settings", settings).await, 204);
    assert_eq!(post(&fakes, "x/settings", json!({"media_processing_ms": 0})).await, 204);
    assert_eq!(get(&fakes, "x/published").await, json!([]));
    assert_eq!(get(&fakes, "meta/published").await, json!([]));
}
