//! The staff area (S-LOG-2): the system event log and accounts, for staff only; everyone else
//! gets the 404 of a missing route and leaves an event; staff revocation ends sessions at once
//! (S-AUTH-4); ordinary events expire after a year, security events never.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_test_support::{Backend, PASSWORD, TestApp, db_test};
use postroute_worker::Job;
use postroute_worker::jobs::retention::RetentionJob;
use reqwest::Method;
use serde_json::{Value, json};

const STAFF_ROUTES: [(&str, &str); 3] = [
    ("GET", "/v1/admin/events"),
    ("GET", "/v1/admin/users?email=someone@example.com"),
    ("POST", "/v1/admin/users/{user}/revoke-sessions"),
];

/// The headers of a response, with the values that differ on every request left out.
fn stable_headers(response: &postroute_test_support::TestResponse) -> Vec<(String, String)> {
    let varying = ["date", "x-request-id", "ratelimit-remaining", "ratelimit-reset"];
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(name, _)| !varying.contains(&name.as_str()))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    headers.sort();
    headers
}

async fn denied_events(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM system_events WHERE event_type = 'admin_access_denied'").await
}

#[db_test]
// proves S-LOG-2
async fn only_staff_reach_the_staff_area_and_everyone_else_leaves_a_trace(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let member = app.signed_in_user("member@example.com").await;
    let missing_route = app.get("/v1/no/such/route", 404).await;
    let mut expected_events = 0;
    for (method, template) in STAFF_ROUTES {
        let path = template.replace("{user}", &member.id);
        // Signed in, but not staff.
        let response = app
            .fetch(app.request(method.parse().unwrap(), &path).bearer_auth(&member.access_token))
            .await;
        assert_eq!(response.status, 404, "{method} {path}");
        assert_eq!(response.body, missing_route.body, "indistinguishable from no route at all");
        assert_eq!(
            stable_headers(&response),
            stable_headers(&missing_route),
            "{method} {path}: headers too"
        );
        // Signed out.
        let response = app.fetch(app.request(method.parse().unwrap(), &path)).await;
        assert_eq!(response.status, 404, "{method} {path} signed out");
        expected_events += 2;
        assert_eq!(denied_events(&app).await, expected_events);
    }
    let attempted = app.count(&format!(
        "SELECT count(*) FROM system_events WHERE event_type = 'admin_access_denied' AND security \
         AND severity = 'warning' AND actor_user_id = {}",
        app.uuid_literal(&member.id)
    )).await;
    assert_eq!(attempted, 3, "each signed-in attempt names its actor");
    // Other methods and paths under /v1/admin answer the same 404, never a revealing 405,
    // and are recorded by their route, not by whatever the caller put in the path.
    for (method, path) in [
        ("DELETE", "/v1/admin/events".to_owned()),
        ("POST", "/v1/admin/events".to_owned()),
        ("GET", format!("/v1/admin/users/{}/revoke-sessions", "x".repeat(2000))),
        ("PUT", "/v1/admin".to_owned()),
        ("GET", "/v1/admin/secrets/and/more".to_owned()),
    ] {
        let response = app
            .fetch(app.request(method.parse().unwrap(), &path).bearer_auth(&member.access_token))
            .await;
        assert_eq!(response.status, 404, "{method} {path}");
        assert_eq!(response.body, missing_route.body, "{method} {path}");
        // No `Allow` naming the route's real methods, nor anything else a missing route lacks.
        assert_eq!(stable_headers(&response), stable_headers(&missing_route), "{method} {path}");
    }
    assert_eq!(denied_events(&app).await, expected_events + 5);
    let long = app
        .count("SELECT count(*) FROM system_events WHERE CAST(details AS TEXT) LIKE '%xxxxxxxxxx%'")
        .await;
    assert_eq!(long, 0, "the raw path is not stored");
    // A prober gets a bounded number of events (they are kept forever), and still the 404.
    for _ in 0..30 {
        app.get_as(&member.access_token, "/v1/admin/events", 404).await;
    }
    assert_eq!(denied_events(&app).await, 20, "at most 20 an hour from one address");
    // The member's sessions were not touched by the refused revocation.
    app.get_as(&member.access_token, "/v1/me", 200).await;

    // Made staff, the same account is let in on its very next request.
    app.make_staff(&member.id).await;
    app.get_as(&member.access_token, "/v1/admin/events", 200).await;
}

#[db_test]
// proves S-LOG-2
async fn staff_read_the_event_log_by_type_severity_and_time(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = app.signed_in_user("staff@example.com").await;
    app.make_staff(&staff.id).await;
    let outsider = app.signed_in_user("outsider@example.com").await;
    app.post_json(
        "/v1/auth/login",
        &json!({"email": "outsider@example.com", "password": "wrong password!"}),
        401,
    )
    .await;
    app.get_as(&outsider.access_token, "/v1/admin/events", 404).await;

    let events = |query: &str| {
        let path = format!("/v1/admin/events{query}");
        let token = staff.access_token.clone();
        let app = &app;
        async move { app.get_as(&token, &path, 200).await.json() }
    };
    let all: Value = events("").await;
    let types: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["admin_access_denied", "login_failed"], "newest first");
    let denied = &all["items"][0];
    assert_eq!(denied["actor_id"], outsider.id.as_str());
    assert_eq!(denied["details"]["attempted"], "GET /v1/admin/events");
    assert_eq!(denied["security"], true);
    assert!(denied["ip"].is_string());

    let login_failures = events("?type=login_failed").await;
    assert_eq!(login_failures["items"].as_array().unwrap().len(), 1);
    assert_eq!(events("?severity=critical").await["items"], json!([]));
    let later = (chrono::Utc::now() + chrono::Duration::minutes(5))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(events(&format!("?since={later}")).await["items"], json!([]));
    assert_eq!(events(&format!("?until={later}")).await["items"].as_array().unwrap().len(), 2);

    let first = events("?limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = events(&format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(second["items"][0]["type"], "login_failed");
    assert_eq!(second["next_cursor"], Value::Null);

    let problem = app
        .get_as(&staff.access_token, "/v1/admin/events?severity=loud&since=yesterday", 422)
        .await
        .json();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["since", "severity"]);
}

#[db_test]
// proves S-AUTH-4
async fn staff_find_an_account_and_end_its_sessions_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let staff = app.signed_in_user("staff@example.com").await;
    app.make_staff(&staff.id).await;
    let user = app.signed_in_user("Victim@Example.com").await;
    let second_device = app.login("Victim@Example.com", PASSWORD).await;

    let found = app
        .get_as(&staff.access_token, "/v1/admin/users?email=victim@example.com", 200)
        .await
        .json();
    assert_eq!(found["items"][0]["id"], user.id.as_str());
    assert_eq!(found["items"][0]["live_sessions"], 2);
    assert!(found["items"][0].get("password_hash").is_none());
    let none = app
        .get_as(&staff.access_token, "/v1/admin/users?email=nobody@example.com", 200)
        .await
        .json();
    assert_eq!(none["items"], json!([]));
    app.get_as(&staff.access_token, "/v1/admin/users?email=not-an-address", 422).await;
    app.get_as(&staff.access_token, "/v1/admin/users", 422).await;

    let path = format!("/v1/admin/users/{}/revoke-sessions", user.id);
    let revoked =
        app.send_json_as(&staff.access_token, Method::POST, &path, &json!({}), 200).await.json();
    assert_eq!(revoked["revoked"], 2);
    // Both devices are out on their very next request.
    app.get_as(&user.access_token, "/v1/me", 401).await;
    app.get_as(&second_device.access_token, "/v1/me", 401).await;
    app.get_as(&staff.access_token, "/v1/me", 200).await;
    let recorded = app
        .get_as(&staff.access_token, "/v1/admin/events?type=sessions_revoked_by_staff", 200)
        .await
        .json();
    assert_eq!(recorded["items"][0]["actor_id"], staff.id.as_str());
    assert_eq!(recorded["items"][0]["details"]["user_id"], user.id.as_str());
    assert_eq!(recorded["items"][0]["details"]["sessions"], 2);

    let missing = format!("/v1/admin/users/{}/revoke-sessions", uuid::Uuid::now_v7());
    app.send_json_as(&staff.access_token, Method::POST, &missing, &json!({}), 404).await;
}

#[db_test]
// proves S-LOG-2
async fn ordinary_events_expire_after_a_year_and_security_events_never(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let old = "'2024-01-01T00:00:00+00:00'";
    let recent = format!("'{}'", (chrono::Utc::now() - chrono::Duration::days(300)).to_rfc3339());
    for (event_type, security, at) in [
        ("rate_limited", false, old.to_owned()),
        ("login_failed", true, old.to_owned()),
        ("rate_limited", false, recent.clone()),
    ] {
        app.execute_sql(&format!(
            "INSERT INTO system_events (id, occurred_at, event_type, severity, security, details) \
             VALUES ({}, {at}, '{event_type}', 'info', {security}, '{{}}')",
            app.uuid_literal(&uuid::Uuid::now_v7().to_string())
        ))
        .await;
    }
    let job = RetentionJob::new(app.store().clone());
    assert_eq!(job.run_once().await.unwrap(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM system_events WHERE event_type = 'rate_limited'").await,
        1,
        "the recent one stays"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM system_events WHERE event_type = 'login_failed'").await,
        1,
        "security events are kept forever"
    );
    assert_eq!(job.run_once().await.unwrap(), 0, "a second pass finds nothing");
}
