//! The edge in-process, around stand-in routes that panic, stall or read JSON: whatever goes
//! wrong behind it, the client gets problem+json with every security header.

use std::net::SocketAddr;

use axum::body::{Body, to_bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use tower::ServiceExt;

use super::*;
use crate::extract::json::JsonBody;

#[derive(Deserialize)]
struct Greeting {
    name: String,
}

async fn panics() -> &'static str {
    panic!("a bug")
}

fn edge(http: &HttpConfig) -> Router {
    let routes = Router::new()
        .route("/panic", get(panics))
        .route(
            "/stall",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
        .route(
            "/greet",
            post(|JsonBody(greeting): JsonBody<Greeting>| async move { greeting.name }),
        );
    wrap(routes, http, None).layer(MockConnectInfo(SocketAddr::from(([192, 0, 2, 7], 40000))))
}

async fn call(router: Router, request: Request<Body>) -> Response {
    router.oneshot(request).await.expect("the router is infallible")
}

fn get_request(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn json_request(body: impl Into<Body>, content_type: &str) -> Request<Body> {
    Request::post("/greet").header(header::CONTENT_TYPE, content_type).body(body.into()).unwrap()
}

async fn problem(response: Response) -> serde_json::Value {
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
    let bytes = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn assert_security_headers(response: &Response) {
    let headers = response.headers();
    assert_eq!(headers["strict-transport-security"], "max-age=31536000; includeSubDomains");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin");
    assert_eq!(
        headers["permissions-policy"],
        "camera=(), microphone=(), geolocation=(), interest-cohort=()"
    );
    assert_eq!(headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    assert!(headers.contains_key("x-request-id"));
}

// proves S-EDGE-4
#[tokio::test]
async fn a_panicking_handler_is_an_opaque_500_problem_with_every_header() {
    let response = call(edge(&HttpConfig::default()), get_request("/panic")).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_security_headers(&response);
    let body = problem(response).await;
    assert_eq!(body["code"], "internal_error");
    assert!(!body.to_string().contains("a bug"), "the panic message must not leak: {body}");
}

// proves S-EDGE-5
#[tokio::test(start_paused = true)]
async fn a_request_that_outlives_its_deadline_is_a_408_problem() {
    let response = call(edge(&HttpConfig::default()), get_request("/stall")).await;
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert_security_headers(&response);
    assert_eq!(problem(response).await["code"], "request_timeout");
}

// proves S-EDGE-5
#[tokio::test]
async fn an_over_size_body_is_a_413_problem() {
    let http = HttpConfig { json_body_limit_bytes: 64, ..HttpConfig::default() };
    let body = format!(r#"{{"name":"{}"}}"#, "x".repeat(100));
    let response = call(edge(&http), json_request(body, "application/json")).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_security_headers(&response);
    assert_eq!(problem(response).await["code"], "payload_too_large");
}

// proves S-EDGE-5
#[tokio::test]
async fn malformed_or_mistyped_json_is_a_4xx_problem_never_a_500() {
    let cases: [(&str, &str, StatusCode, &str); 5] = [
        (r#"{"name":"#, "application/json", StatusCode::BAD_REQUEST, "malformed_request"),
        ("\u{feff}{}", "application/json", StatusCode::BAD_REQUEST, "malformed_request"),
        (
            r#"{"name":42}"#,
            "application/json",
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (r#"{}"#, "application/json", StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (
            r#"{"name":"a"}"#,
            "text/plain",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
    ];
    for (body, content_type, status, code) in cases {
        let response = call(edge(&HttpConfig::default()), json_request(body, content_type)).await;
        assert_eq!(response.status(), status, "{body}");
        assert_security_headers(&response);
        assert_eq!(problem(response).await["code"], code, "{body}");
    }
    let response =
        call(edge(&HttpConfig::default()), json_request(r#"{"name":42}"#, "application/json"))
            .await;
    assert_eq!(problem(response).await["errors"][0]["field"], "name");
}

#[tokio::test]
async fn a_valid_body_reaches_the_handler() {
    let response =
        call(edge(&HttpConfig::default()), json_request(r#"{"name":"Ada"}"#, "application/json"))
            .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_security_headers(&response);
    assert_eq!(to_bytes(response.into_body(), 1024).await.unwrap(), "Ada");
}
