//! The `RateLimit-*` response headers (draft-ietf-httpapi-ratelimit-headers), written both on
//! answers a limit admitted and on its 429 refusals; a module of its own so that the refusals
//! (`problem`) and the middleware (`rate_limit`) need not reach into each other.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use postroute_app::rate_limit::Decision;

pub(crate) static RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
static RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
static RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Sets `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds).
pub fn insert_rate_limit_headers(headers: &mut HeaderMap, decision: &Decision) {
    let reset = decision.reset_after.as_secs_f64().ceil() as u64;
    headers.insert(RATELIMIT_LIMIT.clone(), HeaderValue::from(decision.limit));
    headers.insert(RATELIMIT_REMAINING.clone(), HeaderValue::from(decision.remaining));
    headers.insert(RATELIMIT_RESET.clone(), HeaderValue::from(reset));
}
