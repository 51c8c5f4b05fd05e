//! The HTTP edge: what every request passes through before and after its handler.

pub mod bare_errors;
pub mod client_ip;
pub mod header_limit;
pub mod observe;
pub mod security_headers;
pub mod small_bodies;

pub use client_ip::{ClientIp, TrustedProxies};
pub use observe::RequestId;

use postroute_app::Refusal;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use axum::response::IntoResponse;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::problem::{ApiError, Problem};
use crate::rate_limit::RequestLimit;
use postroute_app::config::HttpConfig;

/// Puts `routes` behind the edge: unknown paths and methods answer problem+json, and every
/// response, whatever produced it, gets the security headers and a request id.
///
/// `global_limit`, when given, throttles every request per client address (S-EDGE-1), unknown
/// paths included.
pub fn wrap(routes: Router, http: &HttpConfig, global_limit: Option<RequestLimit>) -> Router {
    let proxies = TrustedProxies::new(http.trusted_proxies.clone());
    // The backstop: no request outlives the longest deadline (an upload's); the router gives
    // every other route the shorter request deadline.
    let request_timeout =
        Duration::from_secs(http.request_timeout_secs.max(http.upload_timeout_secs));
    let mut router =
        routes.fallback(|| async { ApiError(Refusal::NotFound) }).method_not_allowed_fallback(
            || async { Problem::for_status(StatusCode::METHOD_NOT_ALLOWED).into_response() },
        );
    // Inside the rate limit: a throttled client's body is not read.
    // Up to the largest JSON body any route takes (a post, a webhook delivery); uploads stream.
    let small_bodies = small_bodies::SmallBodies {
        limit: http
            .json_body_limit_bytes
            .max(crate::POST_BODY_LIMIT)
            .max(crate::WEBHOOK_BODY_LIMIT),
        deadline: Duration::from_secs(http.request_timeout_secs),
    };
    router = router.layer(from_fn_with_state(small_bodies, small_bodies::read_small_bodies));
    if let Some(limit) = global_limit {
        router = router.layer(from_fn_with_state(limit, crate::rate_limit::enforce));
    }
    router.layer(
        // Outermost first.
        ServiceBuilder::new()
            .layer(map_response(security_headers::add_security_headers))
            .layer(from_fn_with_state(proxies, client_ip::resolve_client_ip))
            .layer(from_fn(observe::observe_request))
            .layer(CatchPanicLayer::custom(|_panic| {
                tracing::error!("handler panicked");
                Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
            }))
            .layer(from_fn(bare_errors::problem_for_bare_errors))
            .layer(from_fn_with_state(
                header_limit::HeaderLimits::new(http.max_header_bytes),
                header_limit::enforce_header_limits,
            ))
            .layer(cors_layer(&http.cors_origins))
            .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
            .layer(DefaultBodyLimit::max(http.json_body_limit_bytes)),
    )
}

/// Only listed origins get `Access-Control-Allow-Origin`; never `*` (S-EDGE-3).
fn cors_layer(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> =
        origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        // Conditional writes (`If-Match` on posts) and ranged media reads must work from a
        // browser too; so must reading what a script needs to act on: the version to send
        // back, how long to wait, which part of a file arrived, and the id to quote to support.
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::RANGE,
            header::IF_RANGE,
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            header::CONTENT_RANGE,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
            observe::X_REQUEST_ID.clone(),
        ])
        .max_age(Duration::from_secs(600))
}

#[cfg(test)]
mod tests;
