//! The rate-limit middleware: 429 with `Retry-After` and `RateLimit-*` before the handler (and
//! so before any password hashing) runs, and a system event when a client trips a limit.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use postroute_app::Refusal;
use std::net::IpAddr;
use std::time::Duration;

use postroute_domain::{NewSystemEvent, SystemEventKind, UserId};
use postroute_store::Store;
use serde_json::json;

use crate::edge::ClientIp;
use crate::problem::ApiError;
use crate::rate_limit_headers::{RATELIMIT_LIMIT, insert_rate_limit_headers};
use crate::state::AppState;
use postroute_app::rate_limit::{Counting, Decision, Quota, RateLimiter, client_key};

/// Probes come from infrastructure at its own pace; they are never throttled.
pub(crate) const UNLIMITED_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// One limit applied to a group of routes.
#[derive(Clone, Debug)]
pub struct RequestLimit {
    /// The limiter (memory or Redis).
    pub limiter: RateLimiter,
    /// The bucket.
    pub quota: Quota,
    /// Where trips are recorded.
    pub store: Store,
}

/// Enforces `limit` per account (media uploads: S-UPLOAD-3); a handler calls it once it knows
/// who is asking, before it reads the body.
pub async fn enforce_for_user(
    limit: &RequestLimit,
    user: UserId,
    ip: IpAddr,
    path: &str,
) -> Result<Decision, ApiError> {
    let subject = format!("user:{user}");
    let decision = limit
        .limiter
        .admit(&limit.store, &limit.quota, &subject, || {
            NewSystemEvent::new(SystemEventKind::RateLimited)
                .actor(user)
                .ip(ip)
                .details(json!({ "limit": limit.quota.name, "path": path }))
        })
        .await;
    if decision.allowed { Ok(decision) } else { Err(ApiError(Refusal::RateLimited(decision))) }
}

/// The brute-force gate's bucket (S-AUTH-7), or `None` where rate limits are off.
pub fn credential_limit(state: &AppState) -> Option<RequestLimit> {
    let limits = &state.config.rate_limits;
    limits.enabled.then(|| RequestLimit {
        limiter: state.limiter.clone(),
        quota: Quota {
            name: "credentials",
            burst: limits.credential_attempts,
            period: Duration::from_secs(limits.credential_window_secs),
            counting: Counting::Window,
        },
        store: state.store.clone(),
    })
}

/// Puts a signed-in user's password re-check (changing the password, erasing the account)
/// behind the brute-force gate, per address (the bucket login shares) and per account, so a
/// stolen session cannot guess the password any faster than a stranger at the login form.
pub async fn enforce_password_recheck(
    state: &AppState,
    user: UserId,
    ip: IpAddr,
    path: &str,
) -> Result<(), ApiError> {
    let Some(limit) = credential_limit(state) else { return Ok(()) };
    enforce_for_address(&limit, ip, path).await?;
    enforce_for_user(&limit, user, ip, path).await?;
    Ok(())
}

/// Enforces `limit` for the client at `ip`, recording the first trip in a while.
async fn enforce_for_address(
    limit: &RequestLimit,
    ip: IpAddr,
    path: &str,
) -> Result<Decision, ApiError> {
    let subject = client_key(ip);
    let decision = limit
        .limiter
        .admit(&limit.store, &limit.quota, &subject, || {
            NewSystemEvent::new(SystemEventKind::RateLimited)
                .ip(ip)
                .details(json!({ "limit": limit.quota.name, "path": path }))
        })
        .await;
    if decision.allowed { Ok(decision) } else { Err(ApiError(Refusal::RateLimited(decision))) }
}

/// Middleware enforcing `limit` per client address.
pub async fn enforce(State(limit): State<RequestLimit>, request: Request, next: Next) -> Response {
    if UNLIMITED_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let Some(&ClientIp(ip)) = request.extensions().get::<ClientIp>() else {
        return ApiError(Refusal::Internal(anyhow::anyhow!(
            "rate limit runs before client address resolution"
        )))
        .into_response();
    };
    let decision = match enforce_for_address(&limit, ip, request.uri().path()).await {
        Ok(decision) => decision,
        Err(refusal) => return refusal.into_response(),
    };
    let mut response = next.run(request).await;
    // The innermost (strictest) limit already set its figures; an outer one does not overwrite.
    if !response.headers().contains_key(&RATELIMIT_LIMIT) {
        insert_rate_limit_headers(response.headers_mut(), &decision);
    }
    response
}
