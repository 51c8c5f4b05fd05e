//! The HTTP edge over the network, on the real app.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_test_support::{Backend, TestApp, db_test};
use reqwest::Method;

#[db_test]
// proves S-EDGE-4
// proves S-TLS-2
async fn every_response_carries_the_security_headers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.get("/healthz", 200).await.assert_security_headers("GET /healthz");
    app.get("/v1/openapi.json", 200).await.assert_security_headers("GET /v1/openapi.json");
    app.get("/no/such/path", 404).await.assert_security_headers("a missing route");
    let wrong_method = app.send(app.request(Method::DELETE, "/healthz"), 405).await;
    wrong_method.assert_security_headers("DELETE /healthz");
}

#[db_test]
async fn unknown_paths_and_methods_are_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let missing = app.get("/v1/nothing-here", 404).await;
    assert_eq!(missing.header("content-type"), Some("application/problem+json"));
    let body = missing.json();
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["status"], 404);
    assert_eq!(body["type"], "about:blank");

    let wrong_method = app.send(app.request(Method::PUT, "/readyz"), 405).await;
    assert_eq!(wrong_method.json()["code"], "method_not_allowed");
    assert!(wrong_method.header("allow").is_some_and(|allow| allow.contains("GET")));
}

#[db_test]
async fn every_response_names_a_fresh_request_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let spoofed =
        app.send(app.request(Method::GET, "/healthz").header("x-request-id", "forged"), 200).await;
    let first = spoofed.header("x-request-id").expect("request id").to_owned();
    assert_ne!(first, "forged", "a client-chosen id is not reused");
    assert!(uuid::Uuid::parse_str(&first).is_ok());
    let second = app.get("/no/such/path", 404).await;
    assert_ne!(second.header("x-request-id"), Some(first.as_str()));
}

#[db_test]
// proves S-EDGE-3
async fn cors_answers_only_allowlisted_origins(backend: Backend) {
    let app = TestApp::builder(backend)
        .configure(|config| config.http.cors_origins = vec!["https://app.example".to_owned()])
        .spawn()
        .await;
    let preflight = |origin: &'static str| {
        app.request(Method::OPTIONS, "/v1/openapi.json")
            .header("origin", origin)
            .header("access-control-request-method", "GET")
    };
    let allowed = app.send(preflight("https://app.example"), 200).await;
    assert_eq!(allowed.header("access-control-allow-origin"), Some("https://app.example"));
    assert_eq!(allowed.header("access-control-allow-credentials"), None);

    let refused = app.send(preflight("https://evil.example"), 200).await;
    assert_eq!(refused.header("access-control-allow-origin"), None);

    let simple = app
        .send(app.request(Method::GET, "/healthz").header("origin", "https://evil.example"), 200)
        .await;
    assert_eq!(simple.header("access-control-allow-origin"), None);
    simple.assert_security_headers("a cross-origin GET");
}

#[db_test]
// proves S-EDGE-3: an allowed origin can send conditional and ranged requests and read the
// headers it needs to act on
async fn cors_admits_conditional_requests_and_exposes_what_scripts_need(backend: Backend) {
    let app = TestApp::builder(backend)
        .configure(|config| config.http.cors_origins = vec!["https://app.example".to_owned()])
        .spawn()
        .await;
    let preflight = app
        .request(Method::OPTIONS, "/v1/workspaces/x/posts/y/approve")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, if-match, content-type");
    let allowed = app.send(preflight, 200).await;
    let names = |value: &str| -> Vec<String> {
        value.split(',').map(|name| name.trim().to_lowercase()).collect()
    };
    let headers = names(allowed.header("access-control-allow-headers").unwrap());
    for name in ["if-match", "if-none-match", "range", "if-range", "authorization"] {
        assert!(
            headers.iter().any(|allowed| allowed == name),
            "{name} is not allowed: {headers:?}"
        );
    }
    let simple = app
        .send(app.request(Method::GET, "/healthz").header("origin", "https://app.example"), 200)
        .await;
    let exposed = names(simple.header("access-control-expose-headers").unwrap());
    for name in [
        "etag",
        "retry-after",
        "content-range",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "x-request-id",
    ] {
        assert!(exposed.iter().any(|shown| shown == name), "{name} is not exposed: {exposed:?}");
    }
}

#[db_test]
async fn security_txt_follows_rfc_9116(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = app.get("/.well-known/security.txt", 200).await;
    assert!(response.header("content-type").is_some_and(|value| value.starts_with("text/plain")));
    let text = response.text();
    assert!(text.contains("Contact: mailto:"), "{text}");
    let expires =
        text.lines().find_map(|line| line.strip_prefix("Expires: ")).expect("Expires is required");
    let expires = chrono::DateTime::parse_from_rfc3339(expires).expect("RFC 3339 date");
    let ahead = expires.signed_duration_since(chrono::Utc::now());
    assert!(ahead > chrono::Duration::days(30) && ahead < chrono::Duration::days(365), "{ahead}");
    assert!(text.contains("Canonical: https://localhost:8443/.well-known/security.txt"));
    response.assert_security_headers("security.txt");
}

#[db_test]
// proves S-EDGE-4
async fn an_unexpected_failure_is_an_opaque_500_with_every_header(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A schema the code does not expect: the login's lookup fails inside the database.
    app.execute_sql("ALTER TABLE users RENAME TO users_elsewhere").await;
    let response = app
        .send(
            app.request(Method::POST, "/v1/auth/login")
                .json(&serde_json::json!({"email": "a@example.com", "password": "whatever it is"})),
            500,
        )
        .await;
    response.assert_security_headers("a panic's 500");
    let body = response.json();
    assert_eq!(body["code"], "internal_error");
    let text = body.to_string();
    assert!(
        !text.contains("users") && !text.contains("SELECT"),
        "no SQL or schema in the answer: {text}"
    );
}
