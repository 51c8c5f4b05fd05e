//! Small request bodies are read before the handler runs. A handler may refuse a request
//! before it reads the body (a bad token, an unknown workspace, an `If-Match` that cannot
//! match); hyper then closes the connection, and a body still on its way makes the kernel reset
//! it, so the client loses the answer and sees a broken connection instead. Read first, the body
//! is in memory whatever the handler does, and the connection stays usable.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;

/// What is read early, and how long it may take to arrive.
#[derive(Clone, Copy, Debug)]
pub struct SmallBodies {
    /// Bodies that declare at most this many bytes (the largest JSON body a route takes).
    pub limit: usize,
    /// The request deadline, which reading the body must keep as the handler would have.
    pub deadline: Duration,
}

/// Reads a body that declares a length within `limit` before passing the request on; larger
/// and streamed bodies are left to their handler.
pub async fn read_small_bodies(
    State(SmallBodies { limit, deadline }): State<SmallBodies>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    let Some(length) = declared.filter(|length| (1..=limit).contains(length)) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, length)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        // The client stopped sending, or sent other than it declared.
        Ok(Err(_)) => Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            "The request body could not be read.",
        )
        .into_response(),
        Err(_elapsed) => Problem::for_status(StatusCode::REQUEST_TIMEOUT).into_response(),
    }
}
