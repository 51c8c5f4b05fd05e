//! `/v1/admin/...`: staff only. Anyone else, signed in or not, gets the 404 of a route that does
//! not exist, and leaves an `admin_access_denied` system event (at most 20 per address an hour).

use postroute_app::Refusal;
use std::time::Duration;

use axum::Json;
use axum::extract::{FromRequestParts, MatchedPath, State};
use axum::http::Method;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use postroute_domain::{Severity, SystemEventId, UserId};
use postroute_store::{StoredSystemEvent, SystemEventFilter};
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::PathId;
use crate::extract::pagination::{ListQuery, Page, PageParams};
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;
use postroute_app::accounts::{AuthSession, RequestContext};
use postroute_app::admin::staff::AccountSummary;
use postroute_app::rate_limit::{Counting, Quota};

/// At most this many `admin_access_denied` events per client address per hour.
const DENIAL_EVENTS: Quota = Quota {
    name: "admin-denial-events",
    burst: 20,
    period: Duration::from_secs(3600),
    counting: Counting::Window,
};

/// A staff member, proven on this request.
#[derive(Debug)]
pub(crate) struct Staff {
    user: UserId,
    context: RequestContext,
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let context = RequestContext::from_request_parts(parts, state).await?;
        let user = AuthSession::from_request_parts(parts, state).await.ok().map(|auth| auth.user);
        // The route's template, not the raw path: the event's size stays bounded whatever the
        // caller sends.
        let route = parts.extensions.get::<MatchedPath>().map_or("/v1/admin", MatchedPath::as_str);
        let attempted = format!("{} {route}", parts.method);
        match state.staff.admit(user).await {
            Ok(user) => Ok(Self { user, context }),
            Err(Refusal::NotFound) => {
                // Security events are kept forever: a prober gets a bounded number of them, not
                // one per request.
                if state.limiter.check(&DENIAL_EVENTS, context.ip).await.allowed {
                    state.staff.record_denial(user, context.ip, &attempted).await;
                }
                Err(ApiError(Refusal::NotFound))
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// One system event.
#[derive(Debug, Serialize, ToSchema)]
pub struct SystemEventView {
    /// Event id.
    pub id: String,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// What, e.g. `login_failed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// Security events are kept forever; the others for a year.
    pub security: bool,
    /// The account that caused it, while it exists.
    pub actor_id: Option<String>,
    /// The client address.
    pub ip: Option<String>,
    /// Facts of the event's type.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<StoredSystemEvent> for SystemEventView {
    fn from(event: StoredSystemEvent) -> Self {
        Self {
            id: event.id.to_string(),
            occurred_at: event.occurred_at,
            event_type: event.event_type,
            severity: event.severity.as_str().to_owned(),
            security: event.security,
            actor_id: event.actor.map(|actor| actor.to_string()),
            ip: event.ip.map(|ip| ip.to_string()),
            details: event.details,
        }
    }
}

/// An account as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    /// Account id.
    pub id: String,
    /// Address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// When the address was confirmed.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Whether it is staff.
    pub is_staff: bool,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Sessions live now.
    pub live_sessions: usize,
}

impl From<AccountSummary> for AccountView {
    fn from(account: AccountSummary) -> Self {
        Self {
            id: account.id.to_string(),
            email: account.email,
            name: account.name,
            email_verified_at: account.email_verified_at,
            is_staff: account.is_staff,
            created_at: account.created_at,
            live_sessions: account.live_sessions,
        }
    }
}

/// The accounts found.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    /// Zero or one account.
    pub items: Vec<AccountView>,
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedSessions {
    /// Sessions ended; the account's next request with any of them is refused.
    pub revoked: u64,
}

fn filter_of(query: &ListQuery) -> Result<SystemEventFilter, ApiError> {
    let mut problems = Vec::new();
    let since = query.time("since", &mut problems);
    let until = query.time("until", &mut problems);
    let severity = query.parsed(
        "severity",
        "must be info, warning or critical",
        &mut problems,
        Severity::parse,
    );
    let event_type = query.param("type").map(str::to_owned);
    if problems.is_empty() {
        Ok(SystemEventFilter { event_type, severity, since, until })
    } else {
        Err(ApiError(Refusal::Invalid(problems)))
    }
}

/// Any other method or path under `/v1/admin`: not a route, for staff or anyone else; the
/// staff check still runs first, so a stranger's probe is recorded like any other attempt.
pub(crate) async fn unmatched(_staff: Staff) -> ApiError {
    ApiError(Refusal::NotFound)
}

/// Staff routes are routed with `any` and check their one method here: axum's per-method
/// router would add an `Allow` header naming the real methods to the 404 of a wrong one, and
/// so map the staff API for anyone who asks. HEAD goes with GET, as everywhere.
fn only(expected: &Method, method: &Method) -> Result<(), ApiError> {
    let allowed = method == expected || (expected == Method::GET && method == Method::HEAD);
    if allowed { Ok(()) } else { Err(ApiError(Refusal::NotFound)) }
}

/// The system event log, newest first: failed logins, refresh-token reuse, webhook signature
/// failures, refused admin attempts, rate-limit trips, staff actions. Staff only.
#[utoipa::path(get, operation_id = "list_system_events", path = "/v1/admin/events", tag = "staff", security(("bearer" = [])),
    params(("type" = Option<String>, Query), ("severity" = Option<String>, Query), ("since" = Option<String>, Query),
           ("until" = Option<String>, Query), PageParams),
    responses((status = 200, description = "A page", body = Page<SystemEventView>),
              (status = 404, description = "Not staff (and an `admin_access_denied` event)", body = Problem),
              (status = 422, description = "A filter that is not a severity or a time (`validation_failed`)", body = Problem)))]
pub(crate) async fn events(
    State(state): State<AppState>,
    _staff: Staff,
    method: Method,
    query: ListQuery,
) -> Result<Json<Page<SystemEventView>>, ApiError> {
    only(&Method::GET, &method)?;
    let filter = filter_of(&query)?;
    let after = query.cursor_as::<SystemEventId>()?;
    let events = state.staff.events(&filter, after, query.fetch_limit()).await?;
    Ok(Json(Page::from_fetched(
        events,
        &query,
        |event| event.id.to_string(),
        SystemEventView::from,
    )))
}

/// Find the account registered with an address. Staff only.
#[utoipa::path(get, operation_id = "find_accounts", path = "/v1/admin/users", tag = "staff", security(("bearer" = [])),
    params(("email" = String, Query)),
    responses((status = 200, description = "Zero or one account", body = AccountList),
              (status = 404, description = "Not staff (and an `admin_access_denied` event)", body = Problem),
              (status = 422, description = "Not an email address (`validation_failed`)", body = Problem)))]
pub(crate) async fn users(
    State(state): State<AppState>,
    _staff: Staff,
    method: Method,
    query: ListQuery,
) -> Result<Json<AccountList>, ApiError> {
    only(&Method::GET, &method)?;
    let email = query
        .param("email")
        .ok_or_else(|| ApiError(Refusal::Invalid(vec![FieldError::new("email", "is required")])))?;
    let accounts = state.staff.accounts_by_email(email).await?;
    Ok(Json(AccountList { items: accounts.into_iter().map(AccountView::from).collect() }))
}

/// End every session of an account at once; recorded as a security event. Staff only.
#[utoipa::path(post, operation_id = "revoke_account_sessions", path = "/v1/admin/users/{user_id}/revoke-sessions", tag = "staff", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses((status = 200, description = "Sessions ended", body = RevokedSessions),
              (status = 404, description = "Not staff, or no such account", body = Problem)))]
pub(crate) async fn revoke_sessions(
    State(state): State<AppState>,
    staff: Staff,
    method: Method,
    PathId(user): PathId<UserId>,
) -> Result<Json<RevokedSessions>, ApiError> {
    only(&Method::POST, &method)?;
    let revoked = state.staff.revoke_sessions(staff.user, staff.context.ip, user).await?;
    Ok(Json(RevokedSessions { revoked }))
}
