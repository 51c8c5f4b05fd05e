//! Extractors that put policy in handler signatures: `AuthSession` authenticates (401 before
//! the body runs), `RequestContext` names the client.

pub mod guard;
pub mod json;
pub mod pagination;

use postroute_app::Refusal;
use std::str::FromStr;

use axum::extract::{FromRequestParts, OptionalFromRequestParts, RawPathParams};
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
        return Err(ApiError(Refusal::Unauthorized));
    };
    let value = value.to_str().map_err(|_| ApiError(Refusal::Unauthorized))?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError(Refusal::Unauthorized))?;
    if !scheme.eq_ignore_ascii_case("bearer")
        || token.is_empty()
        || token.contains(char::is_whitespace)
    {
        return Err(ApiError(Refusal::Unauthorized));
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

/// The id that ends the route's path (`…/posts/{post_id}`), typed. One that does not parse is
/// 404, as for a resource that does not exist: the path names nothing. The workspace in the
/// path is `Member`'s to check.
#[derive(Debug)]
pub struct PathId<I>(pub I);

impl<S: Send + Sync, I: FromStr + Send> FromRequestParts<S> for PathId<I> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError(Refusal::NotFound))?;
        let (_, last) = params.iter().last().ok_or(ApiError(Refusal::NotFound))?;
        last.parse().map(Self).map_err(|_| ApiError(Refusal::NotFound))
    }
}

/// The two ids that end the route's path (`…/{workspace_id}/media/{media_id}`), typed, for the
/// routes no `Member` guards (a signed public link); 404 when either does not parse.
#[derive(Debug)]
pub struct PathIds<A, B>(pub A, pub B);

impl<S: Send + Sync, A: FromStr + Send, B: FromStr + Send> FromRequestParts<S> for PathIds<A, B> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError(Refusal::NotFound))?;
        let values: Vec<&str> = params.iter().map(|(_, value)| value).collect();
        let [.., first, second] = values.as_slice() else {
            return Err(ApiError(Refusal::NotFound));
        };
        match (first.parse(), second.parse()) {
            (Ok(first), Ok(second)) => Ok(Self(first, second)),
            _ => Err(ApiError(Refusal::NotFound)),
        }
    }
}
