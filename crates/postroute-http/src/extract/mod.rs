//! Extractors that put policy in handler signatures: `AuthSession` authenticates (401 before
//! the body runs), `RequestContext` names the client.

pub mod guard;
pub mod json;
pub mod pagination;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use crate::edge::ClientIp;
use crate::problem::ApiError;
use crate::state::AppState;
use postroute_app::accounts::{AuthSession, RequestContext};
use postroute_store::User;

/// User agents are stored with sessions; longer ones are cut.
const MAX_USER_AGENT_CHARS: usize = 256;

impl FromRequestParts<AppState> for AuthSession {
    type Rejection = ApiError;

    /// `Authorization: Bearer <access token>` of a live session (S-AUTH-1, S-AUTH-4).
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        state.accounts.authenticate(token).await.map_err(ApiError::from)
    }
}

/// An authenticated caller with their account, for the routes that answer with it: the live
/// session and the account come from the database in one statement.
#[derive(Debug)]
pub struct AuthAccount {
    /// The session.
    pub auth: AuthSession,
    /// The caller's account as it is now.
    pub user: User,
}

impl FromRequestParts<AppState> for AuthAccount {
    type Rejection = ApiError;

    /// The same refusals as [`AuthSession`]'s.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts)?;
        let (auth, user) = state.accounts.authenticate_account(token).await?;
        Ok(Self { auth, user })
    }
}

/// The token of the one `Authorization: Bearer` header. Anything else (no header, two
/// headers, another scheme, an empty or spaced token) is 401.
fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(ApiError::Unauthorized);
    };
    let value = value.to_str().map_err(|_| ApiError::Unauthorized)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.contains(char::is_whitespace)
    {
        return Err(ApiError::Unauthorized);
    }
    Ok(token)
}

impl OptionalFromRequestParts<AppState> for AuthSession {
    type Rejection = ApiError;

    /// No `Authorization` header: `None`. A header that does not authenticate is still a 401.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            <Self as FromRequestParts<AppState>>::from_request_parts(parts, state).await.map(Some)
        } else {
            Ok(None)
        }
    }
}

impl FromRequestParts<AppState> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ClientIp(ip) = ClientIp::from_request_parts(parts, state).await?;
        let user_agent =
            parts.headers.get(header::USER_AGENT).and_then(|value| value.to_str().ok()).map(
                |agent| {
                    agent.chars().filter(|c| !c.is_control()).take(MAX_USER_AGENT_CHARS).collect()
                },
            );
        Ok(Self { ip, user_agent })
    }
}
