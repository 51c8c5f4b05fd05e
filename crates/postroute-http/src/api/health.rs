//! Liveness and readiness probes for orchestrators and load balancers.

use postroute_app::Refusal;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::ApiError;
use crate::state::AppState;

/// How long readiness waits for the database before calling it unavailable.
const READINESS_DEADLINE: Duration = Duration::from_secs(2);

/// A probe's answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProbeStatus {
    /// `ok` for liveness, `ready` for readiness.
    pub status: &'static str,
}

/// Liveness: the process is serving HTTP. No dependency is checked, so a database outage never
/// gets healthy instances restarted.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = ProbeStatus)))]
pub async fn healthz() -> Json<ProbeStatus> {
    Json(ProbeStatus { status: "ok" })
}

/// Readiness: the database (and Redis, when configured) answers. 503 while it does not, so
/// traffic moves elsewhere.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = ProbeStatus),
        (status = 503, description = "The database is unreachable", body = crate::problem::Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<ProbeStatus>, ApiError> {
    // Each dependency has its own deadline, so a slow Redis is never taken for a database that
    // is away.
    let database = async {
        match tokio::time::timeout(READINESS_DEADLINE, state.store.check_ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(format!("database: {error}")),
            Err(_elapsed) => Err("database: no answer in time".to_owned()),
        }
    };
    let limits = async {
        match tokio::time::timeout(READINESS_DEADLINE, state.limiter.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(format!("rate-limit store: {error}")),
            Err(_elapsed) => Err("rate-limit store: no answer in time".to_owned()),
        }
    };
    let (database, limits) = tokio::join!(database, limits);
    if database.is_err() {
        // This was the store's own probe: requests that need the database fail fast from now.
        state.store.report_check_failed();
    }
    match database.and(limits) {
        Ok(()) => Ok(Json(ProbeStatus { status: "ready" })),
        Err(reason) => Err(ApiError(Refusal::Unavailable(format!("readiness: {reason}")))),
    }
}
