//! The HTTP API: routes, extractors and the edge every request passes through.

pub mod edge;
mod health;
pub mod json;
pub mod openapi;
pub mod problem;
mod well_known;

use axum::Router;
use axum::routing::get;

use crate::app::AppState;

/// The whole API behind its edge layers.
pub fn router(state: AppState) -> Router {
    let http = state.config.http.clone();
    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/.well-known/security.txt", get(well_known::security_txt))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .with_state(state);
    edge::wrap(routes, &http)
}
