//! A fake X: the OAuth 2.0 authorize page (which approves at once, or denies when told to), the
//! token endpoint with PKCE S256, the scopes asked for and rotating refresh tokens, `/2/users/me`
//! with `user.fields` and X's rate-limit headers, and token revocation, in X's wire format
//! (platforms.md 1.1, 1.4).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::faults::{Faults, bad_control, unix_now};

/// The X account that signs in at the fake's authorize page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XFakeAccount {
    /// Numeric id.
    pub id: String,
    /// Handle.
    pub username: String,
    /// Display name.
    pub name: String,
}

/// Every OAuth 2.0 scope X documents; the authorize page refuses any other.
const KNOWN_SCOPES: &[&str] = &[
    "tweet.read",
    "tweet.write",
    "tweet.moderate.write",
    "users.email",
    "users.read",
    "follows.read",
    "follows.write",
    "offline.access",
    "space.read",
    "mute.read",
    "mute.write",
    "like.read",
    "like.write",
    "list.read",
    "list.write",
    "block.read",
    "block.write",
    "bookmark.read",
    "bookmark.write",
    "media.write",
    "dm.read",
    "dm.write",
];

/// The `user.fields` values X accepts (OpenAPI `UserFields`).
const USER_FIELDS: &[&str] = &[
    "affiliation",
    "confirmed_email",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "most_recent_tweet_id",
    "name",
    "parody",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
];

/// `GET /2/users/me` allows 75 requests per 15 minutes per user (rate-limits table).
const ME_WINDOW_LIMIT: u32 = 75;
/// X documents the authorization code as living about 30 seconds.
const CODE_LIFETIME: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Grant {
    account: XFakeAccount,
    redirect_uri: String,
    challenge: String,
    scopes: Vec<String>,
    issued_at: Instant,
}

#[derive(Debug, Clone)]
struct Issued {
    account: XFakeAccount,
    scopes: Vec<String>,
    expired: bool,
}

#[derive(Debug, Clone)]
struct RefreshGrant {
    account: XFakeAccount,
    scopes: Vec<String>,
}

#[derive(Debug)]
struct XState {
    client_id: String,
    client_secret: String,
    account: XFakeAccount,
    deny_next: bool,
    codes: HashMap<String, Grant>,
    access: HashMap<String, Issued>,
    /// Live refresh tokens; a rotated one is removed.
    refresh: HashMap<String, RefreshGrant>,
    /// Refresh tokens killed by a revoked authorization: X answers `invalid_grant` for them.
    revoked_refresh: HashSet<String>,
    token_outage: Option<StatusCode>,
    faults: Faults,
    /// Calls to `/2/users/me` in the current 15-minute window, and when it resets.
    me_window: (u32, u64),
    refreshes: usize,
    revocations: Vec<String>,
    issued: Vec<String>,
    verifiers: Vec<String>,
    counter: u64,
}

type Shared = Arc<Mutex<XState>>;

/// A running fake X.
#[derive(Debug)]
pub struct FakeX {
    address: SocketAddr,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

fn lock(state: &Mutex<XState>) -> MutexGuard<'_, XState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeX {
    /// Starts on a random local port for an app with these credentials.
    pub async fn start(client_id: &str, client_secret: &str) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), client_id, client_secret).await
    }

    /// Starts on `address`.
    pub async fn start_on(
        address: SocketAddr,
        client_id: &str,
        client_secret: &str,
    ) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(XState {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            account: XFakeAccount {
                id: "1001".to_owned(),
                username: "postroute_fan".to_owned(),
                name: "PostRoute Fan".to_owned(),
            },
            deny_next: false,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            revoked_refresh: HashSet::new(),
            token_outage: None,
            faults: Faults::default(),
            me_window: (0, 0),
            refreshes: 0,
            revocations: Vec::new(),
            issued: Vec::new(),
            verifiers: Vec::new(),
            counter: 0,
        }));
        let router = Router::new()
            .route("/i/oauth2/authorize", get(authorize))
            .route("/2/oauth2/token", post(token))
            .route("/2/oauth2/revoke", post(revoke))
            .route("/2/users/me", get(me))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { address, state, server })
    }

    /// Base URL for both `x.auth_base_url` and `x.api_base_url`.
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("http://{}/", self.address)).unwrap_or_else(|_| unreachable!())
    }

    /// The account that signs in next.
    pub fn set_account(&self, id: &str, username: &str, name: &str) {
        lock(&self.state).account = XFakeAccount {
            id: id.to_owned(),
            username: username.to_owned(),
            name: name.to_owned(),
        };
    }

    /// The next visitor of the authorize page refuses access.
    pub fn deny_next_authorization(&self) {
        lock(&self.state).deny_next = true;
    }

    /// The user revokes the app (or changes password): every token issued to the account so far
    /// dies, and its refresh tokens answer `invalid_grant`. Authorizing again issues new ones.
    pub fn revoke_account(&self, id: &str) {
        revoke_account(&mut lock(&self.state), id);
    }

    /// Every access token issued so far is past its two hours.
    pub fn expire_access_tokens(&self) {
        for issued in lock(&self.state).access.values_mut() {
            issued.expired = true;
        }
    }

    /// While `Some`, the token endpoint fails with that status.
    pub fn set_token_outage(&self, status: Option<StatusCode>) {
        lock(&self.state).token_outage = status;
    }

    /// While `Some`, every endpoint (authorize page aside) fails with that status.
    pub fn set_outage(&self, status: Option<StatusCode>) {
        lock(&self.state).faults.outage = status;
    }

    /// `/2/users/me` answers 429 until `reset_in` has passed, with X's reset headers.
    pub fn exhaust_rate_limit(&self, reset_in: Duration) {
        let mut state = lock(&self.state);
        state.me_window = (ME_WINDOW_LIMIT, unix_now() + reset_in.as_secs().max(1));
    }

    /// Successful refreshes so far.
    pub fn refresh_count(&self) -> usize {
        lock(&self.state).refreshes
    }

    /// Every PKCE code verifier presented at the token endpoint.
    pub fn verifiers_seen(&self) -> Vec<String> {
        lock(&self.state).verifiers.clone()
    }

    /// Every access and refresh token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state).issued.clone()
    }

    /// Tokens revoked through `/2/oauth2/revoke`.
    pub fn revoked_tokens(&self) -> Vec<String> {
        lock(&self.state).revocations.clone()
    }

    /// The control API for this fake (README "Control API").
    pub fn control(&self) -> Router {
        Router::new()
            .route("/faults", post(control_faults))
            .route("/deny-next-login", post(control_deny))
            .route("/account", post(control_account))
            .route("/revoke", post(control_revoke))
            .route("/expire-access-tokens", post(control_expire))
            .route("/state", get(control_state))
            .with_state(self.state.clone())
    }
}

impl Drop for FakeX {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn revoke_account(state: &mut XState, id: &str) {
    state.access.retain(|_, issued| issued.account.id != id);
    let revoked: Vec<String> = state
        .refresh
        .iter()
        .filter(|(_, grant)| grant.account.id == id)
        .map(|(token, _)| token.clone())
        .collect();
    for token in revoked {
        state.refresh.remove(&token);
        state.revoked_refresh.insert(token);
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

fn problem(status: StatusCode, title: &str) -> Response {
    problem_body(
        status,
        json!({"title": title, "type": "about:blank", "status": status.as_u16(), "detail": title}),
    )
}

fn problem_body(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

/// X's invalid-request problem for a query parameter it does not accept.
fn invalid_parameter(parameter: &str, message: String) -> Response {
    problem_body(
        StatusCode::BAD_REQUEST,
        json!({
            "errors": [{"parameters": {parameter: []}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }),
    )
}

fn next_token(state: &mut XState, prefix: &str) -> String {
    state.counter += 1;
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&state.counter.to_be_bytes());
    bytes[8..24].copy_from_slice(uuid::Uuid::now_v7().as_bytes());
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Waits out the injected latency without holding the lock.
async fn delay(state: &Shared) {
    let latency = lock(state).faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

fn scopes_of(text: &str) -> Vec<String> {
    text.split(' ').filter(|scope| !scope.is_empty()).map(str::to_owned).collect()
}

async fn authorize(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    let scopes = scopes_of(&param("scope"));
    if param("response_type") != "code"
        || param("client_id") != state.client_id
        || param("code_challenge_method") != "S256"
        || param("code_challenge").is_empty()
        || scopes.is_empty()
        || scopes.iter().any(|scope| !KNOWN_SCOPES.contains(&scope.as_str()))
    {
        // X shows an error page and never redirects a malformed request back.
        return (StatusCode::BAD_REQUEST, "Something went wrong: invalid authorization request")
            .into_response();
    }
    let Ok(mut redirect) = Url::parse(&param("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "invalid redirect_uri").into_response();
    };
    if std::mem::take(&mut state.deny_next) {
        redirect
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &param("state"));
        return Redirect::to(redirect.as_str()).into_response();
    }
    let code = next_token(&mut state, "code_");
    let grant = Grant {
        account: state.account.clone(),
        redirect_uri: param("redirect_uri"),
        challenge: param("code_challenge"),
        scopes,
        issued_at: Instant::now(),
    };
    state.codes.insert(code.clone(), grant);
    redirect.query_pairs_mut().append_pair("state", &param("state")).append_pair("code", &code);
    Redirect::to(redirect.as_str()).into_response()
}

/// Issues tokens for exactly the scopes granted: a refresh token only with `offline.access`.
fn issue(state: &mut XState, account: XFakeAccount, scopes: Vec<String>) -> Response {
    let access = next_token(state, "xat_");
    state.access.insert(
        access.clone(),
        Issued { account: account.clone(), scopes: scopes.clone(), expired: false },
    );
    state.issued.push(access.clone());
    let mut body = json!({
        "token_type": "bearer",
        "expires_in": 7200,
        "access_token": access,
        "scope": scopes.join(" "),
    });
    if scopes.iter().any(|scope| scope == "offline.access") {
        let refresh = next_token(state, "xrt_");
        state.refresh.insert(refresh.clone(), RefreshGrant { account, scopes });
        state.issued.push(refresh.clone());
        body["refresh_token"] = Value::String(refresh);
    }
    Json(body).into_response()
}

fn authenticated_client(state: &XState, headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", state.client_id, state.client_secret))
    );
    headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok())
        == Some(expected.as_str())
}

/// Narrows a grant to the scopes a refresh asks for; `None` when it asks for one not granted.
fn narrowed(granted: &[String], asked: &str) -> Option<Vec<String>> {
    let asked = scopes_of(asked);
    if asked.is_empty() {
        return Some(granted.to_vec());
    }
    asked.iter().all(|scope| granted.contains(scope)).then_some(asked)
}

async fn token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    if let Some(status) = state.token_outage.or(state.faults.outage) {
        return problem(status, "Service Unavailable");
    }
    if !authenticated_client(&state, &headers) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    match field("grant_type").as_str() {
        "authorization_code" => {
            let invalid_code = || {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the authorization code was invalid.",
                )
            };
            let Some(grant) = state.codes.remove(&field("code")) else {
                return invalid_code();
            };
            state.verifiers.push(field("code_verifier"));
            let challenge =
                URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
            if grant.redirect_uri != field("redirect_uri")
                || grant.challenge != challenge
                || grant.issued_at.elapsed() > CODE_LIFETIME
            {
                return invalid_code();
            }
            issue(&mut state, grant.account, grant.scopes)
        }
        "refresh_token" => {
            let presented = field("refresh_token");
            if state.revoked_refresh.contains(&presented) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Refresh token has been revoked.",
                );
            }
            let Some(grant) = state.refresh.get(&presented).cloned() else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the token was invalid.",
                );
            };
            // RFC 6749 6: a refresh may narrow the scopes, never widen them. The token
            // survives a refused request, as nothing was issued for it.
            let Some(scopes) = narrowed(&grant.scopes, &field("scope")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "The requested scope is invalid, unknown, or exceeds the scope granted.",
                );
            };
            state.refresh.remove(&presented);
            state.refreshes += 1;
            issue(&mut state, grant.account, scopes)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type.",
        ),
    }
}

async fn revoke(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    if let Some(status) = state.faults.outage {
        return problem(status, "Service Unavailable");
    }
    if !authenticated_client(&state, &headers) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let token = form.get("token").cloned().unwrap_or_default();
    state.access.remove(&token);
    state.refresh.remove(&token);
    state.revocations.push(token);
    Json(json!({"revoked": true})).into_response()
}

/// The user object with every field the fake knows; `user.fields` picks from it.
fn user_object(account: &XFakeAccount) -> Value {
    json!({
        "id": account.id,
        "name": account.name,
        "username": account.username,
        "profile_image_url": format!("https://pbs.twimg.com/profile_images/{}/avatar_normal.jpg", account.id),
        "created_at": "2020-01-01T00:00:00.000Z",
        "description": "",
        "protected": false,
        "verified": false,
        "verified_type": "none",
        "url": "",
        "public_metrics": {"followers_count": 10, "following_count": 5, "tweet_count": 20, "listed_count": 0, "like_count": 3},
    })
}

/// X's rate-limit headers for the `/2/users/me` window: the limit, what is left, the reset time.
fn with_rate_headers(mut response: Response, remaining: u32, reset_at: u64) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-rate-limit-limit", ME_WINDOW_LIMIT.into());
    headers.insert("x-rate-limit-remaining", remaining.into());
    headers.insert("x-rate-limit-reset", reset_at.into());
    response
}

async fn me(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    if let Some(status) = state.faults.outage {
        return problem(status, "Service Unavailable");
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(issued) = token.and_then(|token| state.access.get(token)).cloned() else {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    if issued.expired {
        return problem(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    // One 15-minute window per fake (X keeps one per user and endpoint).
    let now = unix_now();
    if state.me_window.1 <= now {
        state.me_window = (0, now + 900);
    }
    if let Some(limit) = state.faults.active_rate_limit() {
        state.me_window = (ME_WINDOW_LIMIT, limit.reset_at);
    }
    let (used, reset_at) = state.me_window;
    if used >= ME_WINDOW_LIMIT {
        return with_rate_headers(
            problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"),
            0,
            reset_at,
        );
    }
    state.me_window.0 += 1;
    let remaining = ME_WINDOW_LIMIT - state.me_window.0;
    let respond = |response: Response| with_rate_headers(response, remaining, reset_at);
    if !["tweet.read", "users.read"]
        .iter()
        .all(|needed| issued.scopes.iter().any(|scope| scope == needed))
    {
        return respond(problem(StatusCode::FORBIDDEN, "Forbidden"));
    }
    for name in query.keys() {
        if !["user.fields", "expansions", "tweet.fields"].contains(&name.as_str()) {
            return respond(invalid_parameter(
                name,
                format!(
                    "The query parameter [{name}] is not one of [expansions,tweet.fields,user.fields]"
                ),
            ));
        }
    }
    // Without `user.fields` X sends the default fields only.
    let mut wanted = vec!["id", "name", "username"];
    for field in query.get("user.fields").map(String::as_str).unwrap_or_default().split(',') {
        if field.is_empty() {
            continue;
        }
        if !USER_FIELDS.contains(&field) {
            return respond(invalid_parameter(
                "user.fields",
                format!(
                    "The `user.fields` query parameter value [{field}] is not one of [{}]",
                    USER_FIELDS.join(",")
                ),
            ));
        }
        wanted.push(field);
    }
    let full = user_object(&issued.account);
    let data: serde_json::Map<String, Value> = wanted
        .iter()
        .filter_map(|field| full.get(*field).map(|value| ((*field).to_owned(), value.clone())))
        .collect();
    respond(Json(json!({ "data": data })).into_response())
}

async fn control_faults(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    match lock(&shared).faults.apply(&body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => bad_control(&message).into_response(),
    }
}

async fn control_deny(State(shared): State<Shared>) -> StatusCode {
    lock(&shared).deny_next = true;
    StatusCode::NO_CONTENT
}

async fn control_account(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(id), Some(username)) = (text("id"), text("username")) else {
        return bad_control("id and username are required").into_response();
    };
    let name = text("name").unwrap_or_else(|| username.clone());
    lock(&shared).account = XFakeAccount { id, username, name };
    StatusCode::NO_CONTENT.into_response()
}

async fn control_revoke(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    let Some(id) = body.get("account_id").and_then(Value::as_str) else {
        return bad_control("account_id is required").into_response();
    };
    revoke_account(&mut lock(&shared), id);
    StatusCode::NO_CONTENT.into_response()
}

async fn control_expire(State(shared): State<Shared>) -> StatusCode {
    for issued in lock(&shared).access.values_mut() {
        issued.expired = true;
    }
    StatusCode::NO_CONTENT
}

async fn control_state(State(shared): State<Shared>) -> Json<Value> {
    let state = lock(&shared);
    Json(json!({
        "refreshes": state.refreshes,
        "revoked_tokens": state.revocations,
        "verifiers_seen": state.verifiers,
        "live_refresh_tokens": state.refresh.len(),
    }))
}
