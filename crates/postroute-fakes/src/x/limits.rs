//! Who is calling and how much of their window is left: the bearer token's account and scopes,
//! and X's 15-minute windows with their `x-rate-limit-*` headers (rate-limits table,
//! publishing.md A.3), one window per endpoint for the whole fake.

#![expect(
    clippy::result_large_err,
    reason = "the Err is X's answer itself, built once and returned at once; boxing buys nothing"
)]

use super::*;

/// An endpoint's 15-minute window, as X's rate-limits table gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Endpoint {
    Me,
    CreateTweet,
    DeleteTweet,
    UserTimeline,
    MediaUpload,
    MediaChunked,
    MediaStatus,
}

impl Endpoint {
    pub(super) fn limit(self) -> u32 {
        match self {
            Self::Me => ME_WINDOW_LIMIT,
            Self::CreateTweet => 100,
            Self::DeleteTweet => 50,
            Self::UserTimeline => 900,
            Self::MediaUpload => 500,
            Self::MediaChunked => 1875,
            Self::MediaStatus => 1000,
        }
    }
}

/// What is left of a window, for the headers.
#[derive(Clone, Copy, Debug)]
pub(super) struct Window {
    limit: u32,
    remaining: u32,
    reset_at: u64,
}

impl Window {
    /// X's rate-limit headers on `response`.
    pub(super) fn stamp(self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        headers.insert("x-rate-limit-limit", self.limit.into());
        headers.insert("x-rate-limit-remaining", self.remaining.into());
        headers.insert("x-rate-limit-reset", self.reset_at.into());
        response
    }

    /// The window's size.
    pub(super) fn limit(self) -> u32 {
        self.limit
    }

    /// A window with nothing left until `reset_at`.
    pub(super) fn spent(limit: u32, reset_at: u64) -> Self {
        Self { limit, remaining: 0, reset_at }
    }
}

/// The account and scopes of the request's bearer token, or X's 401.
pub(super) fn caller(state: &XState, headers: &HeaderMap) -> Result<Issued, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match token.and_then(|token| state.access.get(token)) {
        Some(issued) if !issued.expired => Ok(issued.clone()),
        _ => Err(problem(StatusCode::UNAUTHORIZED, "Unauthorized")),
    }
}

/// Spends one call of `endpoint`'s window, or answers X's 429 with the reset. An injected limit
/// answers as a spent window without touching the real one, so lifting it leaves the count of
/// calls as it was.
pub(super) fn spend(state: &mut XState, endpoint: Endpoint) -> Result<Window, Response> {
    let limit = endpoint.limit();
    let now = unix_now();
    let window = state.windows.entry(endpoint).or_insert((0, now + 900));
    if window.1 <= now {
        *window = (0, now + 900);
    }
    let (used, reset_at) = match state.faults.active_rate_limit() {
        Some(injected) => (limit, injected.reset_at),
        None => *state.windows.get(&endpoint).unwrap_or(&(0, now + 900)),
    };
    if used >= limit {
        let refused = problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
        return Err(Window::spent(limit, reset_at).stamp(refused));
    }
    let window = state.windows.entry(endpoint).or_insert((0, reset_at));
    window.0 += 1;
    Ok(Window { limit, remaining: limit - window.0, reset_at })
}

/// X's 403 for a token without the scopes a call needs; the exact body is not documented.
pub(super) fn require_scopes(issued: &Issued, needed: &[&str]) -> Result<(), Response> {
    if needed.iter().all(|needed| issued.scopes.iter().any(|scope| scope == needed)) {
        Ok(())
    } else {
        Err(problem(StatusCode::FORBIDDEN, "Forbidden"))
    }
}
