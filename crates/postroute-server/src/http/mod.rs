//! The HTTP API: routes, extractors and the edge every request passes through.

pub mod edge;
mod health;
pub mod json;
pub mod openapi;
pub mod problem;
mod well_known;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use axum::response::IntoResponse;
use axum::routing::get;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use edge::TrustedProxies;
use problem::{ApiError, Problem};

/// The whole API with its edge layers.
pub fn router(state: AppState) -> Router {
    let http = &state.config.http;
    let proxies = TrustedProxies::new(http.trusted_proxies.clone());
    let request_timeout = Duration::from_secs(http.request_timeout_secs);
    let body_limit = http.json_body_limit_bytes;
    let cors = cors_layer(&http.cors_origins);

    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/.well-known/security.txt", get(well_known::security_txt))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async {
            Problem::for_status(StatusCode::METHOD_NOT_ALLOWED).into_response()
        })
        .with_state(state)
        .layer(
            // Outermost first: every response, whatever produced it, passes the header layer.
            ServiceBuilder::new()
                .layer(map_response(edge::security_headers::add_security_headers))
                .layer(from_fn_with_state(proxies, edge::client_ip::resolve_client_ip))
                .layer(from_fn(edge::observe::observe_request))
                .layer(CatchPanicLayer::custom(|_panic| {
                    tracing::error!("handler panicked");
                    Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response()
                }))
                .layer(from_fn(edge::bare_errors::problem_for_bare_errors))
                .layer(cors)
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, request_timeout))
                .layer(DefaultBodyLimit::max(body_limit)),
        )
}

/// Only listed origins get `Access-Control-Allow-Origin`; never `*` (S-EDGE-3).
fn cors_layer(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> =
        origins.iter().filter_map(|origin| HeaderValue::from_str(origin).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::RETRY_AFTER, header::HeaderName::from_static("x-request-id")])
        .max_age(Duration::from_secs(600))
}
