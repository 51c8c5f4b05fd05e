//! `/v1/workspaces/{workspace_id}/channels/...` and the OAuth callback.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use postroute_app::Refusal;
use postroute_domain::{ChannelId, ChannelStatus, PendingConnectionId, Provider};
use postroute_store::Channel;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::edge::ClientIp;
use crate::extract::PathId;
use crate::extract::guard::{Permit, can};
use crate::extract::json::JsonBody;
use crate::extract::pagination::{ListQuery, Page, PageParams};
use crate::openapi::schemas;
use crate::problem::ApiError;
use crate::state::AppState;
use postroute_app::accounts::AuthSession;
use postroute_app::channels::{CallbackQuery, Candidate, Completion};

/// A connected social account. Never carries token material.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    /// Channel id.
    pub id: String,
    /// Where it publishes.
    #[schema(value_type = schemas::Provider)]
    pub provider: Provider,
    /// The platform's id of the account.
    pub external_id: String,
    /// Name shown.
    pub display_name: String,
    /// Avatar.
    pub avatar_url: Option<String>,
    /// Whether it can publish.
    #[schema(value_type = schemas::ChannelStatus)]
    pub status: ChannelStatus,
    /// First connected.
    pub connected_at: DateTime<Utc>,
    /// When the access token expires (null when it does not).
    pub token_expires_at: Option<DateTime<Utc>>,
}

impl From<Channel> for ChannelView {
    fn from(channel: Channel) -> Self {
        Self {
            id: channel.id.to_string(),
            provider: channel.provider,
            external_id: channel.external_id,
            display_name: channel.display_name,
            avatar_url: channel.avatar_url,
            status: channel.status,
            connected_at: channel.connected_at,
            token_expires_at: channel.token_expires_at,
        }
    }
}

/// Where to send the user's browser.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeUrl {
    /// The platform's authorization page, with our single-use state.
    pub authorize_url: String,
}

/// Accounts a Meta login found, to pick from.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingView {
    /// `facebook` or `instagram`.
    #[schema(value_type = schemas::Provider)]
    pub provider: Provider,
    /// Until when the choice can be made.
    pub expires_at: DateTime<Utc>,
    /// The accounts.
    pub candidates: Vec<Candidate>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectRequest {
    /// The platform to connect.
    #[schema(value_type = schemas::Provider)]
    provider: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChooseRequest {
    /// The accounts to connect.
    external_ids: Vec<String>,
}

/// The callback's JSON answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackResult {
    /// `connected` or `choose`.
    pub status: &'static str,
    /// The workspace.
    pub workspace_id: String,
    /// With `connected`: the channels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channel_ids: Vec<String>,
    /// With `choose`: where to pick.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_id: Option<String>,
    /// With `choose`: what to pick from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
}

/// The workspace's channels.
#[utoipa::path(get, operation_id = "list_channels", path = "/v1/workspaces/{workspace_id}/channels", tag = "channels", security(("bearer" = [])),
    params(("workspace_id" = String, Path), PageParams),
    responses((status = 200, description = "A page", body = Page<ChannelView>)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    permit: Permit<can::ListChannels>,
    query: ListQuery,
) -> Result<Json<Page<ChannelView>>, ApiError> {
    let channels = state
        .channels
        .list(&permit.member.caller)
        .await?
        .into_iter()
        .map(ChannelView::from)
        .collect();
    Ok(Json(Page::of(channels, &query, |channel| channel.id.clone())?))
}

/// Start connecting an account: returns the platform page to send the browser to.
#[utoipa::path(post, path = "/v1/workspaces/{workspace_id}/channels/connect", tag = "channels", security(("bearer" = [])),
    params(("workspace_id" = String, Path)), request_body = ConnectRequest,
    responses((status = 200, description = "Redirect the browser here", body = AuthorizeUrl),
              (status = 402, description = "The plan's channel limit is reached", body = crate::problem::Problem),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = crate::problem::Problem),
              (status = 422, description = "Unknown or unconfigured provider", body = crate::problem::Problem)))]
pub(crate) async fn connect(
    State(state): State<AppState>,
    permit: Permit<can::ConnectChannel>,
    JsonBody(request): JsonBody<ConnectRequest>,
) -> Result<Json<AuthorizeUrl>, ApiError> {
    let authorize_url = state.channels.start(&permit.member.caller, &request.provider).await?;
    Ok(Json(AuthorizeUrl { authorize_url }))
}

/// Disconnect a channel: its tokens are deleted (and revoked at X).
#[utoipa::path(delete, path = "/v1/workspaces/{workspace_id}/channels/{channel_id}", tag = "channels", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("channel_id" = String, Path)),
    responses((status = 204, description = "Disconnected"),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = crate::problem::Problem)))]
pub(crate) async fn disconnect(
    State(state): State<AppState>,
    permit: Permit<can::DisconnectChannel>,
    PathId(id): PathId<ChannelId>,
) -> Result<StatusCode, ApiError> {
    state.channels.disconnect(&permit.member.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The accounts a Meta login found, for the member who logged in.
#[utoipa::path(get, path = "/v1/workspaces/{workspace_id}/channels/pending/{pending_id}", tag = "channels", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("pending_id" = String, Path)),
    responses((status = 200, description = "The choice", body = PendingView),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = crate::problem::Problem),
              (status = 404, description = "No such choice for the caller, or it expired", body = crate::problem::Problem)))]
pub(crate) async fn pending(
    State(state): State<AppState>,
    permit: Permit<can::ConnectChannel>,
    PathId(id): PathId<PendingConnectionId>,
) -> Result<Json<PendingView>, ApiError> {
    let choice = state.channels.pending(&permit.member.caller, id).await?;
    Ok(Json(PendingView {
        provider: choice.provider,
        expires_at: choice.expires_at,
        candidates: choice.candidates,
    }))
}

/// Connect the chosen accounts of a Meta login (once).
#[utoipa::path(post, path = "/v1/workspaces/{workspace_id}/channels/pending/{pending_id}", tag = "channels", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("pending_id" = String, Path)), request_body = ChooseRequest,
    responses((status = 201, description = "Connected", body = Page<ChannelView>),
              (status = 402, description = "The plan's channel limit is reached", body = crate::problem::Problem),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = crate::problem::Problem),
              (status = 404, description = "No such choice for the caller: expired, or already made", body = crate::problem::Problem),
              (status = 422, description = "No account chosen, or one the login did not find (`validation_failed`)", body = crate::problem::Problem)))]
pub(crate) async fn choose(
    State(state): State<AppState>,
    permit: Permit<can::ConnectChannel>,
    PathId(id): PathId<PendingConnectionId>,
    JsonBody(request): JsonBody<ChooseRequest>,
) -> Result<(StatusCode, Json<Page<ChannelView>>), ApiError> {
    let caller = &permit.member.caller;
    let connected = state.channels.choose(caller, id, &request.external_ids).await?;
    let channels = state.channels.list(caller).await?;
    let items = channels
        .into_iter()
        .filter(|channel| connected.contains(&channel.id))
        .map(ChannelView::from)
        .collect();
    Ok((StatusCode::CREATED, Json(Page { items, next_cursor: None })))
}

/// The JSON answer of a completion.
fn completion_json(outcome: Result<Completion, Refusal>) -> Response {
    match outcome {
        Ok(Completion::Connected { workspace, channels }) => Json(CallbackResult {
            status: "connected",
            workspace_id: workspace.to_string(),
            channel_ids: channels.iter().map(ToString::to_string).collect(),
            pending_id: None,
            candidates: Vec::new(),
        })
        .into_response(),
        Ok(Completion::Choose { workspace, pending, candidates }) => Json(CallbackResult {
            status: "choose",
            workspace_id: workspace.to_string(),
            channel_ids: Vec::new(),
            pending_id: Some(pending.to_string()),
            candidates,
        })
        .into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// Where the platform sends the browser back. The browser carries no credentials, so nothing is
/// completed here: the answer is a redirect (302, as the API contract says) to the web UI at
/// `{public_url}/oauth/{provider}/complete`, with `state`, `code` (or `error`) in the URL
/// fragment, which browsers never send to a server. The signed-in UI then posts them to
/// `POST /v1/oauth/{provider}/complete`. An API client that calls this URL with its bearer token
/// gets the completion as JSON instead.
#[utoipa::path(get, path = "/v1/oauth/{provider}/callback", tag = "channels", security((), ("bearer" = [])),
    params(("provider" = schemas::Provider, Path), ("code" = Option<String>, Query), ("state" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses((status = 302, description = "To the web UI, which completes the connection"),
              (status = 200, description = "With a bearer token: connected, or a choice to make", body = CallbackResult),
              (status = 400, description = "With a bearer token: why it failed (`invalid_state`, `access_denied`, `missing_code`, `no_accounts`, `provider_error`)", body = crate::problem::Problem),
              (status = 402, description = "With a bearer token: the plan's channel limit is reached", body = crate::problem::Problem),
              (status = 403, description = "With a bearer token: the member may no longer connect channels", body = crate::problem::Problem)))]
pub(crate) async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
    ClientIp(ip): ClientIp,
    auth: Option<AuthSession>,
) -> Response {
    if let Some(auth) = auth {
        return completion_json(state.channels.complete(&provider, &query, auth.user, ip).await);
    }
    let mut url = state.config.http.public_url.clone();
    url.set_path(&format!(
        "/oauth/{}/complete",
        if provider.parse::<Provider>().is_ok() { provider.as_str() } else { "unknown" }
    ));
    let fragment: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            [("state", &query.state), ("code", &query.code), ("error", &query.error)]
                .into_iter()
                .filter_map(|(key, value)| Some((key, value.as_deref()?))),
        )
        .finish();
    url.set_fragment(Some(&fragment));
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// Completes a connection: the web UI posts what the platform sent back. Only the member who
/// started the connection can complete it.
#[utoipa::path(post, path = "/v1/oauth/{provider}/complete", tag = "channels", security(("bearer" = [])),
    params(("provider" = schemas::Provider, Path)), request_body = CallbackQuery,
    responses((status = 200, description = "Connected, or a choice to make", body = CallbackResult),
              (status = 400, description = "`invalid_state` (unknown, used, expired, another provider's, or someone else's), `access_denied`, `missing_code`, `no_accounts`, `provider_error`", body = crate::problem::Problem),
              (status = 402, description = "The plan's channel limit is reached", body = crate::problem::Problem),
              (status = 403, description = "The member may no longer connect channels", body = crate::problem::Problem)))]
pub(crate) async fn complete(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    ClientIp(ip): ClientIp,
    auth: AuthSession,
    JsonBody(body): JsonBody<CallbackQuery>,
) -> Response {
    completion_json(state.channels.complete(&provider, &body, auth.user, ip).await)
}
