//! While the database is away, requests that need it are answered 503 at once instead of
//! each waiting out the pool's acquire timeout; the store's probe notices the database's return
//! (see `Store::report_unavailable`).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use postroute_app::Refusal;
use postroute_store::Store;

use crate::problem::{ApiError, DatabaseAway};

/// Routes that never touch the database, and readiness, which asks it itself.
const WITHOUT_DATABASE: [&str; 4] =
    ["/healthz", "/readyz", "/v1/openapi.json", "/.well-known/security.txt"];

/// Answers at once while the database is away; reports a response that found it unavailable.
pub(super) async fn fail_fast_while_away(
    State(store): State<Store>,
    request: Request,
    next: Next,
) -> Response {
    if store.is_away() && !WITHOUT_DATABASE.contains(&request.uri().path()) {
        return ApiError(Refusal::DatabaseUnavailable("known to be away".to_owned()))
            .into_response();
    }
    let response = next.run(request).await;
    if response.extensions().get::<DatabaseAway>().is_some() {
        store.report_unavailable();
    }
    response
}
