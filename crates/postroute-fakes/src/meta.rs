//! A fake Meta Graph API: the Facebook Login dialog (approves at once, or denies when told to),
//! code, long-lived and app token exchanges (GET or POST), `/me/accounts` with Page tokens and
//! linked Instagram accounts (paged with opaque cursors and `next`), object reads that honour
//! `fields`, `debug_token`, `appsecret_proof`, and Graph's error bodies with their types
//! (platforms.md 2.1, 2.4). Paths are accepted with any `vNN.N` prefix or none, with or without
//! the trailing slash `facebook-business` sends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use url::Url;

use crate::faults::{Faults, RateLimit, bad_control, unix_now};
use crate::meta_fields::{Fields, select};

/// A Page the fake user manages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakePage {
    /// Page id.
    pub id: String,
    /// Page name.
    pub name: String,
    /// The linked Instagram professional account (id, username), if any.
    pub instagram: Option<(String, String)>,
}

impl FakePage {
    /// A Page without Instagram.
    pub fn new(id: &str, name: &str) -> Self {
        Self { id: id.to_owned(), name: name.to_owned(), instagram: None }
    }

    /// Links an Instagram account.
    pub fn with_instagram(mut self, id: &str, username: &str) -> Self {
        self.instagram = Some((id.to_owned(), username.to_owned()));
        self
    }
}

/// Whose token it is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owner {
    User,
    Page(String),
    App,
}

#[derive(Clone, Debug)]
struct TokenInfo {
    owner: Owner,
    scopes: Vec<String>,
    /// Unix seconds; `None` never expires (Page tokens from a long-lived user token, app tokens).
    expires_at: Option<u64>,
    /// Why the token died: the 190 subcode it now answers with.
    dead: Option<i64>,
}

/// The fake's one user.
const USER_ID: &str = "10001";
const USER_NAME: &str = "PostRoute Fake User";

#[derive(Debug)]
struct MetaState {
    /// `http://host:port/v25.0/`, for `paging.next` URLs.
    graph_base: String,
    app_id: String,
    app_secret: String,
    pages: Vec<FakePage>,
    /// `/me/accounts` page size when the caller sends no `limit`.
    default_page_size: usize,
    deny_next: bool,
    /// Code -> (redirect_uri, scopes asked for).
    codes: HashMap<String, (String, Vec<String>)>,
    tokens: HashMap<String, TokenInfo>,
    /// Refuse calls without `appsecret_proof` (the app setting "Require App Secret").
    require_proof: bool,
    /// While set, every token-bearing call fails with this Graph rate-limit code.
    throttle_code: i64,
    faults: Faults,
    counter: u64,
}

type Shared = Arc<Mutex<MetaState>>;

/// A running fake Meta.
#[derive(Debug)]
pub struct FakeMeta {
    address: SocketAddr,
    state: Shared,
    server: tokio::task::JoinHandle<()>,
}

fn lock(state: &Mutex<MetaState>) -> MutexGuard<'_, MetaState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Graph's error type for a code: object and method errors are `GraphMethodException`, the rest
/// (tokens, parameters, throttling) `OAuthException`.
fn error_type(code: i64, subcode: Option<i64>) -> &'static str {
    match (code, subcode) {
        (100, Some(33)) => "GraphMethodException",
        _ => "OAuthException",
    }
}

/// Graph's error body.
pub fn graph_error(status: StatusCode, code: i64, subcode: Option<i64>, message: &str) -> Response {
    typed_graph_error(status, error_type(code, subcode), code, subcode, message)
}

fn typed_graph_error(
    status: StatusCode,
    kind: &str,
    code: i64,
    subcode: Option<i64>,
    message: &str,
) -> Response {
    let transient = matches!(code, 1 | 2 | 4 | 17 | 32 | 341 | 613);
    let mut error = json!({"message": message, "type": kind, "code": code, "is_transient": transient, "fbtrace_id": "AfakeTrace01"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

fn unsupported(method: &Method, object: &str) -> Response {
    let verb = if method == Method::POST { "post" } else { "get" };
    graph_error(
        StatusCode::BAD_REQUEST,
        100,
        Some(33),
        &format!(
            "Unsupported {verb} request. Object with ID '{object}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
    )
}

/// The `appsecret_proof` for `token`: hex HMAC-SHA256 of the token keyed with the app secret.
pub fn appsecret_proof(app_secret: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

impl FakeMeta {
    /// Starts on a random local port for an app with these credentials.
    pub async fn start(app_id: &str, app_secret: &str) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), app_id, app_secret).await
    }

    /// Starts on `address`.
    pub async fn start_on(
        address: SocketAddr,
        app_id: &str,
        app_secret: &str,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(MetaState {
            graph_base: format!("http://{address}/v25.0/"),
            app_id: app_id.to_owned(),
            app_secret: app_secret.to_owned(),
            pages: vec![
                FakePage::new("501", "Corner Bakery")
                    .with_instagram("17841400000000501", "cornerbakery"),
            ],
            default_page_size: 25,
            deny_next: false,
            codes: HashMap::new(),
            tokens: HashMap::new(),
            require_proof: false,
            throttle_code: 4,
            faults: Faults::default(),
            counter: 0,
        }));
        let router = Router::new().route("/{*path}", any(dispatch)).with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { address, state, server })
    }

    /// `meta.graph_base_url`.
    pub fn graph_url(&self) -> Url {
        Url::parse(&format!("http://{}/v25.0/", self.address)).unwrap_or_else(|_| unreachable!())
    }

    /// `meta.dialog_base_url`.
    pub fn dialog_url(&self) -> Url {
        self.graph_url()
    }

    /// The Pages the next login sees.
    pub fn set_pages(&self, pages: Vec<FakePage>) {
        lock(&self.state).pages = pages;
    }

    /// The next login is refused by the user.
    pub fn deny_next_login(&self) {
        lock(&self.state).deny_next = true;
    }

    /// The user changed their password: every user and Page token issued so far answers 190/460.
    /// Logging in again issues live ones.
    pub fn kill_tokens(&self) {
        kill_tokens(&mut lock(&self.state), 460);
    }

    /// Every user and Page token issued so far has expired: 190/463.
    pub fn expire_tokens(&self) {
        kill_tokens(&mut lock(&self.state), 463);
    }

    /// Calls without a valid `appsecret_proof` are refused (the app's "Require App Secret").
    pub fn require_appsecret_proof(&self, required: bool) {
        lock(&self.state).require_proof = required;
    }

    /// While `Some`, every Graph request fails with that status and code 2.
    pub fn set_outage(&self, status: Option<StatusCode>) {
        lock(&self.state).faults.outage = status;
    }

    /// Token-bearing calls answer Graph rate-limit `code` (4, 17, 32, 613) until `reset_in` has
    /// passed, with the usage headers that say when access returns; `None` lifts it.
    pub fn set_rate_limit(&self, limit: Option<(i64, Duration)>) {
        let mut state = lock(&self.state);
        if let Some((code, _)) = limit {
            state.throttle_code = code;
        }
        state.faults.rate_limit = limit.map(|(_, reset_in)| RateLimit::spent(100, reset_in));
    }

    /// `/me/accounts` page size when the caller sends no `limit`.
    pub fn set_page_size(&self, size: usize) {
        lock(&self.state).default_page_size = size.max(1);
    }

    /// The control API for this fake (README "Control API").
    pub fn control(&self) -> Router {
        Router::new()
            .route("/faults", post(control_faults))
            .route("/deny-next-login", post(control_deny))
            .route("/pages", post(control_pages))
            .route("/kill-tokens", post(control_kill))
            .route("/settings", post(control_settings))
            .route("/state", get(control_state))
            .with_state(self.state.clone())
    }
}

impl Drop for FakeMeta {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn kill_tokens(state: &mut MetaState, subcode: i64) {
    for info in state.tokens.values_mut() {
        if info.owner != Owner::App {
            info.dead = Some(subcode);
        }
    }
}

fn next_token(state: &mut MetaState, prefix: &str) -> String {
    state.counter += 1;
    format!("{prefix}{}{}", state.counter, uuid::Uuid::now_v7().simple())
}

/// Every parameter of a request: Graph reads the query string, a form body and a JSON body alike.
fn parameters(
    query: HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> HashMap<String, String> {
    let mut params = query;
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(url::form_urlencoded::parse(body).into_owned());
    } else if content_type.starts_with("application/json")
        && let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body)
    {
        for (key, value) in object {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            params.insert(key, text);
        }
    }
    params
}

/// The access token of a request: `Authorization: Bearer` or `OAuth`, or `access_token=`.
fn token_of(headers: &HeaderMap, params: &HashMap<String, String>) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("OAuth ")))
        .map(str::to_owned)
        .or_else(|| params.get("access_token").cloned())
        .filter(|token| !token.is_empty())
}

/// `vNN.N/` or nothing in front, and the trailing slash `facebook-business` adds, are the same
/// path to Graph.
fn normalised(path: &str) -> String {
    let path = match path.split_once('/') {
        Some((version, rest))
            if version.len() > 1
                && version.starts_with('v')
                && version[1..].chars().all(|c| c.is_ascii_digit() || c == '.') =>
        {
            rest
        }
        _ => path,
    };
    path.trim_end_matches('/').to_owned()
}

async fn dispatch(
    State(shared): State<Shared>,
    method: Method,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = lock(&shared).faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let path = normalised(&path);
    let params = parameters(query, &headers, &body);
    let mut state = lock(&shared);
    if let Some(status) = state.faults.outage {
        return graph_error(status, 2, None, "Service temporarily unavailable");
    }
    match (&method, path.as_str()) {
        (&Method::GET, "dialog/oauth") => return dialog(&mut state, &params),
        (&Method::GET | &Method::POST, "oauth/access_token") => {
            return access_token(&mut state, &headers, &params);
        }
        _ => {}
    }
    let Some(token) = token_of(&headers, &params) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            2500,
            None,
            "An active access token must be used to query information about the current user.",
        );
    };
    let Some(info) = token_info(&state, &token) else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        );
    };
    if let Some(refused) = check_proof(&state, &token, &info, &params) {
        return refused;
    }
    if let Some(refused) = dead_token(&info) {
        return refused;
    }
    if let Some(limit) = state.faults.active_rate_limit() {
        return throttled(state.throttle_code, limit.seconds_left());
    }
    let fields = match params.get("fields").map(|text| Fields::parse(text)).transpose() {
        Ok(fields) => fields,
        Err(message) => return graph_error(StatusCode::BAD_REQUEST, 100, None, &message),
    };
    let response = route(&mut state, &method, &path, &info, &params, fields.as_ref());
    with_usage(response)
}

/// The app token `{app-id}|{app-secret}` needs no exchange; issued tokens are looked up.
fn token_info(state: &MetaState, token: &str) -> Option<TokenInfo> {
    if token == format!("{}|{}", state.app_id, state.app_secret) {
        return Some(TokenInfo {
            owner: Owner::App,
            scopes: Vec::new(),
            expires_at: None,
            dead: None,
        });
    }
    state.tokens.get(token).cloned()
}

fn check_proof(
    state: &MetaState,
    token: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
) -> Option<Response> {
    match params.get("appsecret_proof") {
        Some(proof) if *proof != appsecret_proof(&state.app_secret, token) => {
            Some(typed_graph_error(
                StatusCode::BAD_REQUEST,
                "GraphMethodException",
                100,
                None,
                "Invalid appsecret_proof provided in the API argument",
            ))
        }
        None if state.require_proof && info.owner != Owner::App => Some(typed_graph_error(
            StatusCode::BAD_REQUEST,
            "GraphMethodException",
            100,
            None,
            "API calls from the server require an appsecret_proof argument",
        )),
        _ => None,
    }
}

fn dead_token(info: &TokenInfo) -> Option<Response> {
    let expired = info.expires_at.is_some_and(|at| at <= unix_now());
    let message = match (info.dead, expired) {
        (Some(460), _) => {
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."
        }
        (Some(458), _) => "Error validating access token: The user has not authorized application.",
        (Some(463), _) | (None, true) => {
            "Error validating access token: Session has expired on Tuesday, 01-Dec-26 12:00:00 PST. The current time is Tuesday, 01-Dec-26 13:00:00 PST."
        }
        (Some(_), _) => "Error validating access token.",
        (None, false) => return None,
    };
    let subcode = info.dead.unwrap_or(463);
    Some(graph_error(StatusCode::BAD_REQUEST, 190, Some(subcode), message))
}

/// Graph's throttling answer, with the usage header that says when access comes back.
fn throttled(code: i64, seconds_left: u64) -> Response {
    let message = match code {
        17 => "(#17) User request limit reached",
        32 => "(#32) Page request limit reached",
        613 => "(#613) Calls to this api have exceeded the rate limit.",
        _ => "(#4) Application request limit reached",
    };
    let mut response = graph_error(StatusCode::BAD_REQUEST, code, None, message);
    let minutes = seconds_left.div_ceil(60);
    let headers = response.headers_mut();
    let usage = json!({"call_count": 100, "total_cputime": 100, "total_time": 100}).to_string();
    let business = json!({"501": [{"type": "pages", "call_count": 100, "total_cputime": 100, "total_time": 100, "estimated_time_to_regain_access": minutes}]}).to_string();
    if let Ok(value) = usage.parse() {
        headers.insert("x-app-usage", value);
    }
    if let Ok(value) = business.parse() {
        headers.insert("x-business-use-case-usage", value);
    }
    response
}

/// Graph reports the app's usage on every answer.
fn with_usage(mut response: Response) -> Response {
    if let Ok(value) = r#"{"call_count":1,"total_cputime":1,"total_time":1}"#.parse() {
        response.headers_mut().insert("x-app-usage", value);
    }
    response
}

fn route(
    state: &mut MetaState,
    method: &Method,
    path: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
    fields: Option<&Fields>,
) -> Response {
    let (object, edge) = match path.split_once('/') {
        Some((object, edge)) => (object, Some(edge)),
        None => (path, None),
    };
    let object = if object == "me" {
        match &info.owner {
            Owner::User => USER_ID.to_owned(),
            Owner::Page(id) => id.clone(),
            Owner::App => state.app_id.clone(),
        }
    } else {
        object.to_owned()
    };
    match (method, object.as_str(), edge) {
        (&Method::GET, "debug_token", None) => debug_token(state, params),
        (&Method::GET, USER_ID, Some("accounts")) if info.owner == Owner::User => {
            accounts(state, params, fields)
        }
        (&Method::GET, USER_ID, Some("permissions")) if info.owner == Owner::User => {
            let data: Vec<Value> = info
                .scopes
                .iter()
                .map(|scope| json!({"permission": scope, "status": "granted"}))
                .collect();
            Json(json!({ "data": data })).into_response()
        }
        (&Method::DELETE, USER_ID, Some("permissions")) if info.owner == Owner::User => {
            // The app is removed: the user's tokens stop working.
            kill_tokens(state, 458);
            Json(json!({"success": true})).into_response()
        }
        (&Method::GET, id, None) => match readable(state, info, id) {
            Some(node) => read_node(state, &node, fields),
            None => unsupported(method, id),
        },
        (&Method::GET, id, Some(edge)) if readable(state, info, id).is_some() => graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            &format!("(#100) Unknown path components: /{edge}"),
        ),
        (method, id, _) => unsupported(method, id),
    }
}

/// A node the token may read.
#[derive(Debug)]
enum Node {
    User,
    Page(FakePage),
    Instagram(FakePage),
}

fn readable(state: &MetaState, info: &TokenInfo, id: &str) -> Option<Node> {
    if id == USER_ID && info.owner == Owner::User {
        return Some(Node::User);
    }
    let may_read = |page: &FakePage| match &info.owner {
        Owner::User => true,
        Owner::Page(owner) => *owner == page.id,
        Owner::App => false,
    };
    state.pages.iter().filter(|page| may_read(page)).find_map(|page| {
        if page.id == id {
            Some(Node::Page(page.clone()))
        } else if page.instagram.as_ref().is_some_and(|(ig, _)| ig == id) {
            Some(Node::Instagram(page.clone()))
        } else {
            None
        }
    })
}

fn instagram_object(page: &FakePage) -> Option<Value> {
    page.instagram.as_ref().map(|(id, username)| {
        json!({
            "id": id,
            "username": username,
            "name": page.name,
            "profile_picture_url": format!("https://scontent.example/ig/{id}.jpg"),
            "followers_count": 120,
            "media_count": 8,
            "biography": "",
        })
    })
}

fn page_object(state: &mut MetaState, page: &FakePage, with_token: bool) -> Value {
    let mut object = json!({
        "id": page.id,
        "name": page.name,
        "category": "Bakery",
        "category_list": [{"id": "2200", "name": "Bakery"}],
        "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"],
        "link": format!("https://www.facebook.com/{}", page.id),
        "fan_count": 42,
        "picture": {"data": {"url": format!("https://scontent.example/{}.jpg", page.id), "height": 50, "width": 50, "is_silhouette": false}},
    });
    if with_token {
        let token = next_token(state, "EAAPAGE");
        state.tokens.insert(
            token.clone(),
            TokenInfo {
                owner: Owner::Page(page.id.clone()),
                scopes: Vec::new(),
                expires_at: None,
                dead: None,
            },
        );
        object["access_token"] = Value::String(token);
    }
    if let Some(instagram) = instagram_object(page) {
        object["instagram_business_account"] = instagram;
    }
    object
}

fn read_node(state: &mut MetaState, node: &Node, fields: Option<&Fields>) -> Response {
    let default = Fields::parse("id,name").unwrap_or_default();
    let (full, kind) = match node {
        Node::User => (json!({"id": USER_ID, "name": USER_NAME}), "User"),
        Node::Page(page) => {
            // Minting a Page token only when it is asked for keeps the token list honest.
            let with_token = fields.is_some_and(|fields| fields.contains("access_token"));
            (page_object(state, page, with_token), "Page")
        }
        Node::Instagram(page) => (instagram_object(page).unwrap_or_default(), "ShadowIGUser"),
    };
    let default = if matches!(node, Node::Instagram(_)) {
        Fields::parse("id").unwrap_or_default()
    } else {
        default
    };
    match select(&full, fields.unwrap_or(&default), kind) {
        Ok(selected) => Json(selected).into_response(),
        Err(message) => graph_error(StatusCode::BAD_REQUEST, 100, None, &message),
    }
}

fn debug_token(state: &MetaState, params: &HashMap<String, String>) -> Response {
    let Some(input) = params.get("input_token") else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "The parameter input_token is required",
        );
    };
    let Some(info) = token_info(state, input) else {
        return Json(json!({"data": {"error": {"code": 190, "message": "Invalid OAuth access token."}, "is_valid": false, "scopes": []}})).into_response();
    };
    let kind = match info.owner {
        Owner::User => "USER",
        Owner::Page(_) => "PAGE",
        Owner::App => "APP",
    };
    let mut data = json!({
        "app_id": state.app_id,
        "type": kind,
        "application": "PostRoute (fake)",
        "expires_at": info.expires_at.unwrap_or(0),
        "is_valid": info.dead.is_none() && info.expires_at.is_none_or(|at| at > unix_now()),
        "scopes": info.scopes,
    });
    match &info.owner {
        Owner::User => data["user_id"] = json!(USER_ID),
        Owner::Page(id) => {
            data["profile_id"] = json!(id);
            data["user_id"] = json!(USER_ID);
        }
        Owner::App => {}
    }
    if let Some(subcode) = info.dead {
        data["error"] =
            json!({"code": 190, "subcode": subcode, "message": "Error validating access token."});
    }
    Json(json!({ "data": data })).into_response()
}

fn dialog(state: &mut MetaState, params: &HashMap<String, String>) -> Response {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    if param("client_id") != state.app_id {
        return (StatusCode::BAD_REQUEST, "Invalid App ID").into_response();
    }
    let Ok(mut redirect) = Url::parse(&param("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "Invalid redirect_uri").into_response();
    };
    if std::mem::take(&mut state.deny_next) {
        redirect
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_code", "200")
            .append_pair("error_reason", "user_denied")
            .append_pair("error_description", "Permissions error")
            .append_pair("state", &param("state"));
        return Redirect::to(redirect.as_str()).into_response();
    }
    // Meta documents commas; clients built on OAuth 2.0 libraries send spaces.
    let scopes = param("scope")
        .split([',', ' '])
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect();
    let code = next_token(state, "metacode");
    state.codes.insert(code.clone(), (param("redirect_uri"), scopes));
    redirect.query_pairs_mut().append_pair("code", &code).append_pair("state", &param("state"));
    Redirect::to(redirect.as_str()).into_response()
}

/// The app's credentials: `client_id`/`client_secret` parameters, or HTTP Basic as OAuth 2.0
/// libraries send by default.
fn client_credentials(headers: &HeaderMap, params: &HashMap<String, String>) -> (String, String) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    let param = |name: &str| params.get(name).cloned();
    match (param("client_id"), param("client_secret"), basic) {
        (Some(id), Some(secret), _) => (id, secret),
        (_, _, Some(pair)) => pair,
        (id, secret, None) => (id.unwrap_or_default(), secret.unwrap_or_default()),
    }
}

fn access_token(
    state: &mut MetaState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Response {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let (client_id, client_secret) = client_credentials(headers, params);
    if client_id != state.app_id || client_secret != state.app_secret {
        return graph_error(
            StatusCode::BAD_REQUEST,
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    }
    let user_token = |state: &mut MetaState, prefix: &str, lifetime: u64, scopes: Vec<String>| {
        let token = next_token(state, prefix);
        state.tokens.insert(
            token.clone(),
            TokenInfo {
                owner: Owner::User,
                scopes,
                expires_at: Some(unix_now() + lifetime),
                dead: None,
            },
        );
        Json(json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime}))
            .into_response()
    };
    match param("grant_type").as_str() {
        "client_credentials" => {
            let token = format!(
                "{}|{}",
                state.app_id,
                URL_SAFE_NO_PAD.encode(uuid::Uuid::now_v7().as_bytes())
            );
            state.tokens.insert(
                token.clone(),
                TokenInfo { owner: Owner::App, scopes: Vec::new(), expires_at: None, dead: None },
            );
            Json(json!({"access_token": token, "token_type": "bearer"})).into_response()
        }
        "fb_exchange_token" => {
            let Some(short) = state.tokens.get(&param("fb_exchange_token")).cloned() else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    190,
                    None,
                    "Invalid OAuth access token.",
                );
            };
            if short.owner != Owner::User {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    190,
                    None,
                    "Invalid OAuth access token.",
                );
            }
            if let Some(refused) = dead_token(&short) {
                return refused;
            }
            user_token(state, "EAALONG", 5_183_944, short.scopes)
        }
        "" | "authorization_code" => match state.codes.remove(&param("code")) {
            Some((redirect_uri, scopes)) if redirect_uri == param("redirect_uri") => {
                user_token(state, "EAASHORT", 5183, scopes)
            }
            Some(_) => graph_error(
                StatusCode::BAD_REQUEST,
                100,
                Some(36008),
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            ),
            None => graph_error(
                StatusCode::BAD_REQUEST,
                100,
                Some(36009),
                "This authorization code has been used.",
            ),
        },
        other => graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            &format!("Unsupported grant_type: {other}"),
        ),
    }
}

fn cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn offset_of(cursor: &str) -> Option<usize> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    decoded.strip_prefix("offset:")?.parse().ok()
}

fn accounts(
    state: &mut MetaState,
    params: &HashMap<String, String>,
    fields: Option<&Fields>,
) -> Response {
    let limit: usize = params
        .get("limit")
        .and_then(|limit| limit.parse().ok())
        .unwrap_or(state.default_page_size)
        .clamp(1, 100);
    let offset = match params.get("after") {
        Some(after) => match offset_of(after) {
            Some(offset) => offset,
            None => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    100,
                    None,
                    "(#100) The after cursor is invalid",
                );
            }
        },
        None => 0,
    };
    // Without `fields` the edge sends these (platforms.md 2.1).
    let default =
        Fields::parse("access_token,category,category_list,name,id,tasks").unwrap_or_default();
    let fields = fields.unwrap_or(&default);
    let pages: Vec<FakePage> = state.pages.iter().skip(offset).take(limit).cloned().collect();
    let mut data = Vec::new();
    for page in &pages {
        let full = page_object(state, page, fields.contains("access_token"));
        match select(&full, fields, "Page") {
            Ok(selected) => data.push(selected),
            Err(message) => return graph_error(StatusCode::BAD_REQUEST, 100, None, &message),
        }
    }
    let end = offset + pages.len();
    let mut body = json!({"data": data, "paging": {"cursors": {"before": cursor(offset), "after": cursor(end)}}});
    if end < state.pages.len() {
        // Graph sends the next page as a full URL on its own host, the query kept.
        let mut next = Url::parse(&format!("{}me/accounts", state.graph_base))
            .unwrap_or_else(|_| unreachable!("the base is a URL"));
        {
            let mut query = next.query_pairs_mut();
            for (key, value) in params {
                if !["after", "access_token", "appsecret_proof", "limit"].contains(&key.as_str()) {
                    query.append_pair(key, value);
                }
            }
            query.append_pair("limit", &limit.to_string()).append_pair("after", &cursor(end));
        }
        body["paging"]["next"] = Value::String(next.into());
    }
    Json(body).into_response()
}

async fn control_faults(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut state = lock(&shared);
    if let Some(code) =
        body.get("rate_limit").and_then(|limit| limit.get("code")).and_then(Value::as_i64)
    {
        state.throttle_code = code;
    }
    match state.faults.apply(&body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => bad_control(&message).into_response(),
    }
}

async fn control_deny(State(shared): State<Shared>) -> StatusCode {
    lock(&shared).deny_next = true;
    StatusCode::NO_CONTENT
}

/// `[{"id": "502", "name": "Harbour Cafe", "instagram": {"id": "1784", "username": "harbour"}}]`
async fn control_pages(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    let Some(list) = body.as_array() else {
        return bad_control("a JSON array of Pages is expected").into_response();
    };
    let mut pages = Vec::new();
    for entry in list {
        let text =
            |value: &Value, name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(id), Some(name)) = (text(entry, "id"), text(entry, "name")) else {
            return bad_control("every Page needs an id and a name").into_response();
        };
        let mut page = FakePage::new(&id, &name);
        if let Some(instagram) = entry.get("instagram").filter(|value| !value.is_null()) {
            let (Some(ig), Some(username)) = (text(instagram, "id"), text(instagram, "username"))
            else {
                return bad_control("instagram needs an id and a username").into_response();
            };
            page = page.with_instagram(&ig, &username);
        }
        pages.push(page);
    }
    lock(&shared).pages = pages;
    StatusCode::NO_CONTENT.into_response()
}

/// `{"subcode": 460}` (password changed) or `463` (expired) or `458` (app removed).
async fn control_kill(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    match body.get("subcode").and_then(Value::as_i64) {
        Some(subcode @ (458 | 460 | 463)) => {
            kill_tokens(&mut lock(&shared), subcode);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => bad_control("subcode must be 458, 460 or 463").into_response(),
    }
}

/// `{"require_appsecret_proof": true, "page_size": 1}`
async fn control_settings(State(shared): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut state = lock(&shared);
    if let Some(required) = body.get("require_appsecret_proof") {
        let Some(required) = required.as_bool() else {
            return bad_control("require_appsecret_proof must be a boolean").into_response();
        };
        state.require_proof = required;
    }
    if let Some(size) = body.get("page_size") {
        let Some(size) = size.as_u64().and_then(|size| usize::try_from(size).ok()) else {
            return bad_control("page_size must be a number").into_response();
        };
        state.default_page_size = size.max(1);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn control_state(State(shared): State<Shared>) -> Json<Value> {
    let state = lock(&shared);
    let count =
        |owner: fn(&Owner) -> bool| state.tokens.values().filter(|info| owner(&info.owner)).count();
    Json(json!({
        "user_tokens": count(|owner| *owner == Owner::User),
        "page_tokens": count(|owner| matches!(owner, Owner::Page(_))),
        "pages": state.pages.iter().map(|page| page.id.clone()).collect::<Vec<_>>(),
    }))
}
