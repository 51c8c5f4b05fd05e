//! Liveness and readiness probes for orchestrators and load balancers.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::problem::ApiError;
use crate::app::AppState;

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
        (status = 503, description = "The database is unreachable", body = super::problem::Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<ProbeStatus>, ApiError> {
    let database = async {
        let answered = state.store.check_ready().await;
        if answered.is_err() {
            // Requests fail fast from now on, rather than each waiting for a connection.
            state.store.report_away();
        }
        answered.map_err(|error| format!("database: {error}"))
    };
    let limits =
        async { state.limiter.ping().await.map_err(|error| format!("rate-limit store: {error}")) };
    let checks = async { database.await.and(limits.await) };
    match tokio::time::timeout(READINESS_DEADLINE, checks).await {
        Ok(Ok(())) => Ok(Json(ProbeStatus { status: "ready" })),
        Ok(Err(reason)) => Err(ApiError::Unavailable(format!("readiness: {reason}"))),
        Err(_elapsed) => {
            state.store.report_away();
            Err(ApiError::Unavailable("readiness: no answer in time".to_owned()))
        }
    }
}
