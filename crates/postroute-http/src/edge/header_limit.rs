//! One limit on request header blocks for HTTP/1.1 and HTTP/2 (S-EDGE-5), answered like every
//! other refusal: a 431 problem with the security headers and a request id.
//!
//! hyper enforces limits of its own (HTTP/1: a read buffer and a field count; HTTP/2: a header
//! list size), but answers them with a bare 431 built before any layer runs, and the two
//! versions' defaults differed by a factor of 25. So hyper is set to a hard cap a few times the
//! product limit (see [`transport_cap`]) and this layer enforces the limit itself: a request
//! over the limit but under the cap reaches it and is refused here. Only a request over the
//! hard cap still gets hyper's bare answer (docs/security.md).

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;

/// The most header fields a request may carry, in either version (hyper's HTTP/1 default).
pub const MAX_HEADER_FIELDS: usize = 100;

/// What HTTP/2 counts for each field beyond its name and value (RFC 9113, section 6.5.2); the
/// same accounting is used for HTTP/1.1 so that one limit means the same in both.
const FIELD_OVERHEAD: usize = 32;

/// The limits this layer enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderLimits {
    /// Largest header block, counted as [`header_block_size`] does.
    pub max_bytes: usize,
    /// Most header fields.
    pub max_fields: usize,
}

impl HeaderLimits {
    /// The limits for `max_bytes` (`http.max_header_bytes`).
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes, max_fields: MAX_HEADER_FIELDS }
    }
}

/// What hyper itself is set to accept, so that a request somewhat over the product limit
/// still reaches [`enforce_header_limits`]: twice the limit, and never below hyper's smallest
/// HTTP/1 buffer (8 KiB).
pub fn transport_cap(max_bytes: usize) -> usize {
    max_bytes.saturating_mul(2).max(8 * 1024)
}

/// The size of a request's header block as HTTP/2 counts it: for each field its name, its value
/// and 32 bytes, the request line's method and target counted as the pseudo-fields HTTP/2
/// carries them in.
pub fn header_block_size<B>(request: &Request<B>) -> usize {
    let uri = request.uri();
    let target = uri.path_and_query().map_or(uri.path().len(), |target| target.as_str().len());
    let mut size = ":method".len() + request.method().as_str().len() + FIELD_OVERHEAD;
    size += ":path".len() + target + FIELD_OVERHEAD;
    if let Some(scheme) = uri.scheme_str() {
        size += ":scheme".len() + scheme.len() + FIELD_OVERHEAD;
    }
    if let Some(authority) = uri.authority() {
        size += ":authority".len() + authority.as_str().len() + FIELD_OVERHEAD;
    }
    size + request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + FIELD_OVERHEAD)
        .sum::<usize>()
}

/// Middleware: refuses a request whose header block is over the limits with 431.
pub async fn enforce_header_limits(
    State(limits): State<HeaderLimits>,
    request: Request,
    next: Next,
) -> Response {
    let fields = request.headers().len();
    let size = header_block_size(&request);
    if size > limits.max_bytes || fields > limits.max_fields {
        tracing::info!(size, fields, "request header block over the limit");
        return Problem::for_status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn the_block_is_counted_as_http2_counts_it() {
        let request = Request::builder()
            .method(Method::GET)
            .uri("/v1/me?x=1")
            .header("host", "localhost")
            .header("authorization", "Bearer abc")
            .body(())
            .unwrap();
        let expected = (7 + 3 + 32) + (5 + 10 + 32) + (4 + 9 + 32) + (13 + 10 + 32);
        assert_eq!(header_block_size(&request), expected);

        let absolute = Request::builder().uri("https://localhost/v1/me").body(()).unwrap();
        assert_eq!(
            header_block_size(&absolute),
            (7 + 3 + 32) + (5 + 6 + 32) + (7 + 5 + 32) + (10 + 9 + 32)
        );
    }

    #[test]
    fn hyper_is_left_room_above_the_limit() {
        assert_eq!(transport_cap(16 * 1024), 32 * 1024);
        assert_eq!(transport_cap(1024), 8 * 1024, "hyper refuses a smaller HTTP/1 buffer");
        assert_eq!(transport_cap(usize::MAX), usize::MAX);
    }
}
