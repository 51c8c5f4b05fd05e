//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

use super::{health, problem, well_known};

/// PostRoute's HTTP API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "PostRoute API",
        version = "1",
        description = "Plan, review, schedule and publish social-media posts. Errors are \
                       application/problem+json (RFC 9457) with a stable `code`."
    ),
    paths(health::healthz, health::readyz, well_known::security_txt, openapi_json),
    components(schemas(problem::Problem, problem::FieldError)),
    tags((name = "operations", description = "Probes and service metadata")),
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The document as pretty JSON, as checked in at `docs/openapi.json`.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
}
