//! Request ids and request logs: every request gets a fresh id, carried in its tracing span
//! and returned in `X-Request-Id`, and one log line when it completes.

use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

use super::ClientIp;

/// The response header naming the request.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Paths are logged up to this many characters: enough to recognise, too few to flood a log.
const LOGGED_PATH_CHARS: usize = 200;

/// The id of the request being served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestId(pub Uuid);

/// Middleware: assigns the id, opens the span, logs the outcome.
///
/// A client-supplied `X-Request-Id` is not reused: an id chosen by the client could be used to
/// forge or confuse log lines. The query string is never logged (OAuth codes travel there).
pub async fn observe_request(mut request: Request, next: Next) -> Response {
    let request_id = RequestId(Uuid::now_v7());
    request.extensions_mut().insert(request_id);
    let client_ip = request.extensions().get::<ClientIp>().map(|ClientIp(ip)| ip.to_string());
    let path: String = request.uri().path().chars().take(LOGGED_PATH_CHARS).collect();
    let span = tracing::info_span!(
        "request",
        request_id = display(&request_id.0),
        method = display(&request.method()),
        path = display(&path),
        client_ip = client_ip.as_deref().unwrap_or("-"),
    );
    let method = request.method().clone();
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    crate::metrics::record_request(&method, &response, elapsed);
    let duration_ms = elapsed.as_millis() as u64;
    span.in_scope(|| {
        let status = response.status().as_u16();
        if response.status().is_server_error() {
            tracing::warn!(status, duration_ms, "request failed");
        } else {
            tracing::info!(status, duration_ms, "request served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&request_id.0.to_string()) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}
