//! `/v1/me`: the caller's account, password, export and erasure.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use postroute_store::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::AuthAccount;
use crate::extract::json::JsonBody;
use crate::openapi::schemas;
use crate::problem::ApiError;
use crate::rate_limit::enforce_password_recheck;
use crate::state::AppState;
use postroute_app::accounts::{AuthSession, RequestContext};

/// The caller's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// User id.
    pub id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Whether the address is confirmed.
    pub email_verified: bool,
    /// Registration time.
    pub created_at: DateTime<Utc>,
}

impl From<User> for Me {
    fn from(user: User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email,
            name: user.name,
            email_verified: user.email_verified_at.is_some(),
            created_at: user.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateMeRequest {
    #[schema(value_type = schemas::DisplayName)]
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordRequest {
    current_password: String,
    #[schema(value_type = schemas::NewPassword)]
    new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EraseRequest {
    password: String,
}

/// The caller's account.
#[utoipa::path(get, path = "/v1/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me)))]
pub(crate) async fn me(caller: AuthAccount) -> Json<Me> {
    Json(caller.user.into())
}

/// Change the caller's display name.
#[utoipa::path(patch, path = "/v1/me", tag = "account", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, description = "Updated", body = Me)))]
pub(crate) async fn update_me(
    State(state): State<AppState>,
    auth: AuthSession,
    JsonBody(request): JsonBody<UpdateMeRequest>,
) -> Result<Json<Me>, ApiError> {
    Ok(Json(state.accounts.rename(auth, &request.name).await?.into()))
}

/// Change the password; every other session ends.
#[utoipa::path(post, path = "/v1/me/password", tag = "account", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed; other sessions ended"),
              (status = 403, description = "Wrong current password (`invalid_credentials`)", body = crate::problem::Problem),
              (status = 422, description = "Unacceptable new password", body = crate::problem::Problem),
              (status = 429, description = "Too many password attempts from this address or for this account (`rate_limited`)", body = crate::problem::Problem)))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    auth: AuthSession,
    context: RequestContext,
    JsonBody(request): JsonBody<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    enforce_password_recheck(&state, auth.user, context.ip, "/v1/me/password").await?;
    state
        .accounts
        .change_password(auth, &request.current_password, &request.new_password, context.ip)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Everything stored about the caller, as JSON (GDPR access).
#[utoipa::path(get, path = "/v1/me/export", tag = "account", security(("bearer" = [])),
    responses((status = 200, description = "The export", content_type = "application/json")))]
pub(crate) async fn export(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<Response, ApiError> {
    let mut response = Json(state.accounts.export(auth).await?).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Erase the caller's account (GDPR erasure). Workspaces the caller owns alone are deleted
/// with it; owning one that has other members is a 409: transfer it first.
#[utoipa::path(delete, path = "/v1/me", tag = "account", security(("bearer" = [])), request_body = EraseRequest,
    responses((status = 204, description = "Erased"),
              (status = 403, description = "Wrong password (`invalid_credentials`)", body = crate::problem::Problem),
              (status = 409, description = "Owns a workspace with other members", body = crate::problem::Problem),
              (status = 429, description = "Too many password attempts from this address or for this account (`rate_limited`)", body = crate::problem::Problem)))]
pub(crate) async fn erase(
    State(state): State<AppState>,
    auth: AuthSession,
    context: RequestContext,
    JsonBody(request): JsonBody<EraseRequest>,
) -> Result<StatusCode, ApiError> {
    enforce_password_recheck(&state, auth.user, context.ip, "/v1/me").await?;
    state.accounts.erase(auth, &request.password, context.ip).await?;
    Ok(StatusCode::NO_CONTENT)
}
