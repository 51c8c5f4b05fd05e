//! Errors produced outside our handlers (the router's 405, a timeout's 408, a panic's 500)
//! arrive without a problem body; this turns each into problem+json so that no client ever
//! sees an empty, plain-text or HTML error.

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::{PROBLEM_JSON, Problem};

/// Replaces the body of any error response that is not already problem+json, keeping headers
/// such as `Allow`, `Retry-After` and `WWW-Authenticate`.
pub async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_problem(&response) {
        return response;
    }
    let (parts, _discarded_body) = response.into_parts();
    let mut replacement = Problem::for_status(status).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement.headers_mut().insert(name.clone(), value.clone());
        }
    }
    replacement
}

fn is_problem(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with(PROBLEM_JSON))
}
