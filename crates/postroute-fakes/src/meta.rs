//! A fake Meta Graph API: the Facebook Login dialog (approves at once, or denies when told to),
//! code and long-lived token exchanges, `/me/accounts` with Page tokens and linked Instagram
//! accounts (paged), object reads for token checks and Graph's error bodies (platforms.md 2.1,
//! 2.4). Paths are accepted with any `vNN.0` prefix or none.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::any;
use serde_json::{Value, json};
use url::Url;

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

#[derive(Debug)]
struct MetaState {
    /// `http://host:port/v25.0/`, for `paging.next` URLs.
    graph_base: String,
    app_id: String,
    app_secret: String,
    pages: Vec<FakePage>,
    deny_next: bool,
    codes: HashMap<String, String>,
    /// Every token issued: user tokens map to "user", Page tokens to their Page id.
    tokens: HashMap<String, String>,
    tokens_dead: bool,
    counter: u64,
}

/// A running fake Meta.
#[derive(Debug)]
pub struct FakeMeta {
    address: SocketAddr,
    state: Arc<Mutex<MetaState>>,
    server: tokio::task::JoinHandle<()>,
}

fn lock(state: &Mutex<MetaState>) -> MutexGuard<'_, MetaState> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Graph's error body.
pub fn graph_error(status: StatusCode, code: i64, subcode: Option<i64>, message: &str) -> Response {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AfakeTrace01"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    (status, Json(json!({ "error": error }))).into_response()
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
            deny_next: false,
            codes: HashMap::new(),
            tokens: HashMap::new(),
            tokens_dead: false,
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

    /// The user changed their password: every token answers code 190 from now on.
    pub fn kill_tokens(&self) {
        lock(&self.state).tokens_dead = true;
    }
}

impl Drop for FakeMeta {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn next_token(state: &mut MetaState, prefix: &str) -> String {
    state.counter += 1;
    format!("{prefix}{}{}", state.counter, uuid::Uuid::now_v7().simple())
}

/// The access token of a request: `Authorization: Bearer` or `OAuth`, or `access_token=`.
fn token_of(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("OAuth ")))
        .map(str::to_owned)
        .or_else(|| query.get("access_token").cloned())
}

async fn dispatch(
    State(state): State<Arc<Mutex<MetaState>>>,
    method: Method,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    // Any version prefix, or none.
    let path = match path.split_once('/') {
        Some((version, rest)) if version.starts_with('v') && version.ends_with(".0") => {
            rest.to_owned()
        }
        _ => path,
    };
    let mut state = lock(&state);
    match (method, path.as_str()) {
        (Method::GET, "dialog/oauth") => dialog(&mut state, &query),
        (Method::GET, "oauth/access_token") => access_token(&mut state, &query),
        (method, path) => {
            let Some(token) = token_of(&headers, &query) else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    2500,
                    None,
                    "An active access token must be used to query information about the current user.",
                );
            };
            let Some(owner) = state.tokens.get(&token).cloned() else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    190,
                    None,
                    "Invalid OAuth access token - Cannot parse access token",
                );
            };
            if state.tokens_dead {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    190,
                    Some(460),
                    "Error validating access token: The session has been invalidated because the user changed their password.",
                );
            }
            match (method, path) {
                (Method::GET, "me/accounts") if owner == "user" => accounts(&mut state, &query),
                (Method::DELETE, "me/permissions") if owner == "user" => {
                    Json(json!({"success": true})).into_response()
                }
                (Method::GET, object) => read_object(&state, &owner, object),
                _ => graph_error(StatusCode::BAD_REQUEST, 100, None, "Unsupported request"),
            }
        }
    }
}

fn dialog(state: &mut MetaState, query: &HashMap<String, String>) -> Response {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
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
    let code = next_token(state, "metacode");
    state.codes.insert(code.clone(), param("redirect_uri"));
    redirect.query_pairs_mut().append_pair("code", &code).append_pair("state", &param("state"));
    Redirect::to(redirect.as_str()).into_response()
}

fn access_token(state: &mut MetaState, query: &HashMap<String, String>) -> Response {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    if param("client_id") != state.app_id || param("client_secret") != state.app_secret {
        return graph_error(
            StatusCode::BAD_REQUEST,
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    }
    if param("grant_type") == "fb_exchange_token" {
        if state.tokens.get(&param("fb_exchange_token")).map(String::as_str) != Some("user")
            || state.tokens_dead
        {
            return graph_error(StatusCode::BAD_REQUEST, 190, None, "Invalid OAuth access token.");
        }
        let token = next_token(state, "EAALONG");
        state.tokens.insert(token.clone(), "user".to_owned());
        return Json(
            json!({"access_token": token, "token_type": "bearer", "expires_in": 5_183_944}),
        )
        .into_response();
    }
    match state.codes.remove(&param("code")) {
        Some(redirect_uri) if redirect_uri == param("redirect_uri") => {
            let token = next_token(state, "EAASHORT");
            state.tokens.insert(token.clone(), "user".to_owned());
            Json(json!({"access_token": token, "token_type": "bearer", "expires_in": 5183}))
                .into_response()
        }
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(36009),
            "This authorization code has been used.",
        ),
    }
}

fn accounts(state: &mut MetaState, query: &HashMap<String, String>) -> Response {
    let limit: usize =
        query.get("limit").and_then(|limit| limit.parse().ok()).unwrap_or(25).clamp(1, 100);
    let offset: usize = query.get("after").and_then(|after| after.parse().ok()).unwrap_or(0);
    let pages: Vec<FakePage> = state.pages.iter().skip(offset).take(limit).cloned().collect();
    let mut data = Vec::new();
    for page in &pages {
        let token = next_token(state, "EAAPAGE");
        state.tokens.insert(token.clone(), page.id.clone());
        let mut entry = json!({
            "id": page.id,
            "name": page.name,
            "access_token": token,
            "category": "Bakery",
            "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"],
            "picture": {"data": {"url": format!("https://scontent.example/{}.jpg", page.id)}},
        });
        if let Some((id, username)) = &page.instagram {
            entry["instagram_business_account"] = json!({"id": id, "username": username, "profile_picture_url": format!("https://scontent.example/ig/{id}.jpg")});
        }
        data.push(entry);
    }
    let mut body = json!({"data": data, "paging": {"cursors": {"before": offset.to_string(), "after": (offset + pages.len()).to_string()}}});
    if offset + pages.len() < state.pages.len() {
        // Graph sends the next page as a full URL on its own host.
        let next =
            format!("{}me/accounts?limit={limit}&after={}", state.graph_base, offset + pages.len());
        body["paging"]["next"] = Value::String(next);
    }
    Json(body).into_response()
}

fn read_object(state: &MetaState, owner: &str, object: &str) -> Response {
    // A Page token reads its Page and the Instagram account linked to it.
    let linked = state.pages.iter().any(|page| {
        page.id == owner && page.instagram.as_ref().is_some_and(|(id, _)| id == object)
    });
    if owner == object || linked || owner == "user" {
        Json(json!({"id": object})).into_response()
    } else {
        graph_error(
            StatusCode::BAD_REQUEST,
            100,
            Some(33),
            "Unsupported get request. Object does not exist or cannot be loaded due to missing permissions.",
        )
    }
}
