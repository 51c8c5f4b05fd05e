//! `/v1/auth/*`: registration, verification, login, refresh, logout, sessions, password reset.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postroute_domain::SessionId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::PathId;
use crate::extract::json::JsonBody;
use crate::openapi::schemas;
use crate::problem::ApiError;
use crate::state::AppState;
use postroute_app::accounts::{
    AuthSession, IssuedTokens, Registration, RequestContext, SessionView,
};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterRequest {
    #[schema(value_type = schemas::EmailAddress)]
    email: String,
    #[schema(value_type = schemas::NewPassword)]
    password: String,
    #[schema(value_type = schemas::DisplayName)]
    name: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenRequest {
    token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EmailRequest {
    #[schema(value_type = schemas::EmailAddress)]
    email: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginRequest {
    email: String,
    password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasswordResetConfirmRequest {
    token: String,
    #[schema(value_type = schemas::NewPassword)]
    new_password: String,
}

/// The answer to requests whose outcome must not reveal whether an account exists.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// What happens next.
    pub message: &'static str,
}

/// Tokens for a session.
#[derive(Serialize, ToSchema)]
pub(crate) struct TokensResponse {
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: i64,
    /// Opaque; rotated on every refresh. Keep it secret and refresh single-flight.
    refresh_token: String,
    /// Seconds until the refresh token expires.
    refresh_expires_in: i64,
}

/// The caller's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// Live sessions, newest first.
    pub items: Vec<SessionView>,
    /// Always null: every live session fits one page.
    pub next_cursor: Option<String>,
}

fn accepted(message: &'static str) -> (StatusCode, Json<Accepted>) {
    (StatusCode::ACCEPTED, Json(Accepted { message }))
}

/// Token responses must never be cached (RFC 6749 section 5.1).
fn tokens(issued: IssuedTokens) -> Response {
    let mut response = Json(TokensResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        refresh_token: issued.refresh_token,
        refresh_expires_in: issued.refresh_expires_in,
    })
    .into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Create an account; a verification email follows.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 202, description = "Same answer whether or not the email is registered", body = Accepted),
        (status = 422, description = "Invalid fields", body = crate::problem::Problem),
        (status = 429, description = "More than 5 attempts at the credential endpoints from this address in 5 minutes", body = crate::problem::Problem),
    ))]
pub(crate) async fn register(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    state
        .accounts
        .register(Registration {
            email: &request.email,
            password: &request.password,
            name: &request.name,
        })
        .await?;
    Ok(accepted("If the address can be registered, a verification email is on its way."))
}

/// Confirm an email address with the token from the verification email.
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "auth", request_body = TokenRequest,
    responses(
        (status = 200, description = "Address confirmed", body = Accepted),
        (status = 400, description = "Unknown, used or expired token (`invalid_token`)", body = crate::problem::Problem),
    ))]
pub(crate) async fn verify_email(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<Json<Accepted>, ApiError> {
    state.accounts.verify_email(&request.token).await?;
    Ok(Json(Accepted { message: "Email address confirmed. You can sign in now." }))
}

/// Send a new verification email.
#[utoipa::path(post, path = "/v1/auth/verify-email/resend", tag = "auth", request_body = EmailRequest,
    responses((status = 202, description = "Same answer for unknown emails", body = Accepted)))]
pub(crate) async fn resend_verification(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    state.accounts.resend_verification(&request.email).await?;
    Ok(accepted(
        "If the address has an unconfirmed account, a new verification email is on its way.",
    ))
}

/// Sign in.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokensResponse),
        (status = 401, description = "Wrong email or password (`invalid_credentials`)", body = crate::problem::Problem),
        (status = 403, description = "Correct password, unconfirmed email (`email_not_verified`)", body = crate::problem::Problem),
        (status = 429, description = "More than 5 attempts at the credential endpoints from this address in 5 minutes", body = crate::problem::Problem),
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    context: RequestContext,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    Ok(tokens(state.accounts.login(&request.email, &request.password, &context).await?))
}

/// Exchange a refresh token for new tokens; the old refresh token dies.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "Rotated", body = TokensResponse),
        (status = 401, description = "Invalid token (`unauthorized`), or a reused one (`refresh_token_reused`: every session ended)", body = crate::problem::Problem),
    ))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    context: RequestContext,
    JsonBody(request): JsonBody<RefreshRequest>,
) -> Result<Response, ApiError> {
    Ok(tokens(state.accounts.refresh(&request.refresh_token, &context).await?))
}

/// End the session of a refresh token.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 204, description = "Session ended (also for unknown tokens)"),
        (status = 401, description = "A rotated token (`refresh_token_reused`): every session ended", body = crate::problem::Problem),
    ))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    context: RequestContext,
    JsonBody(request): JsonBody<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    state.accounts.logout(&request.refresh_token, &context).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the caller.
#[utoipa::path(post, path = "/v1/auth/logout-all", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Every session ended")))]
pub(crate) async fn logout_all(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<StatusCode, ApiError> {
    state.accounts.logout_everywhere(auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Live sessions", body = SessionList)))]
pub(crate) async fn sessions(
    State(state): State<AppState>,
    auth: AuthSession,
) -> Result<Json<SessionList>, ApiError> {
    Ok(Json(SessionList { items: state.accounts.sessions(auth).await?, next_cursor: None }))
}

/// End one of the caller's sessions.
#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Session ended"),
        (status = 404, description = "Not one of the caller's live sessions", body = crate::problem::Problem),
    ))]
pub(crate) async fn end_session(
    State(state): State<AppState>,
    auth: AuthSession,
    PathId(session): PathId<SessionId>,
) -> Result<StatusCode, ApiError> {
    state.accounts.end_session(auth, session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Email a password-reset link.
#[utoipa::path(post, path = "/v1/auth/password-reset/request", tag = "auth", request_body = EmailRequest,
    responses((status = 202, description = "Same answer for unknown emails", body = Accepted)))]
pub(crate) async fn request_password_reset(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<EmailRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    state.accounts.request_password_reset(&request.email).await?;
    Ok(accepted("If the address has an account, a password-reset email is on its way."))
}

/// Set a new password with the token from the reset email; every session ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "auth", request_body = PasswordResetConfirmRequest,
    responses(
        (status = 204, description = "Password changed; every session ended"),
        (status = 400, description = "Unknown, used or expired token (`invalid_token`)", body = crate::problem::Problem),
        (status = 422, description = "Unacceptable new password", body = crate::problem::Problem),
    ))]
pub(crate) async fn confirm_password_reset(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<PasswordResetConfirmRequest>,
) -> Result<StatusCode, ApiError> {
    state.accounts.confirm_password_reset(&request.token, &request.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
