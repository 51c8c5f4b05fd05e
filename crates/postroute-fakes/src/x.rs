//! A fake X: the OAuth 2.0 authorize page (which approves at once, or denies when told to), the
//! token endpoint with PKCE S256 and rotating refresh tokens, `/2/users/me` and token
//! revocation, in X's wire format (platforms.md 1.1, 1.4).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

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

#[derive(Debug)]
struct Grant {
    account: XFakeAccount,
    redirect_uri: String,
    challenge: String,
}

#[derive(Debug, Clone)]
struct Issued {
    account: XFakeAccount,
    expired: bool,
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
    refresh: HashMap<String, XFakeAccount>,
    token_outage: Option<StatusCode>,
    refreshes: usize,
    revocations: Vec<String>,
    issued: Vec<String>,
    verifiers: Vec<String>,
    counter: u64,
}

/// A running fake X.
#[derive(Debug)]
pub struct FakeX {
    address: SocketAddr,
    state: Arc<Mutex<XState>>,
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
            token_outage: None,
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
    /// dies. Authorizing the app again issues new ones.
    pub fn revoke_account(&self, id: &str) {
        let mut state = lock(&self.state);
        state.access.retain(|_, issued| issued.account.id != id);
        state.refresh.retain(|_, account| account.id != id);
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
}

impl Drop for FakeX {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

fn problem(status: StatusCode, title: &str) -> Response {
    let mut response = (status, Json(json!({"title": title, "type": "about:blank", "status": status.as_u16(), "detail": title}))).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/problem+json".parse().unwrap_or_else(|_| unreachable!()),
    );
    response
}

fn next_token(state: &mut XState, prefix: &str) -> String {
    state.counter += 1;
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&state.counter.to_be_bytes());
    bytes[8..24].copy_from_slice(uuid::Uuid::now_v7().as_bytes());
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

async fn authorize(
    State(state): State<Arc<Mutex<XState>>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut state = lock(&state);
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    if param("response_type") != "code"
        || param("client_id") != state.client_id
        || param("code_challenge_method") != "S256"
    {
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
    };
    state.codes.insert(code.clone(), grant);
    redirect.query_pairs_mut().append_pair("state", &param("state")).append_pair("code", &code);
    Redirect::to(redirect.as_str()).into_response()
}

fn issue(state: &mut XState, account: XFakeAccount) -> Response {
    let access = next_token(state, "xat_");
    let refresh = next_token(state, "xrt_");
    state.access.insert(access.clone(), Issued { account: account.clone(), expired: false });
    state.refresh.insert(refresh.clone(), account);
    state.issued.extend([access.clone(), refresh.clone()]);
    Json(json!({
        "token_type": "bearer",
        "expires_in": 7200,
        "access_token": access,
        "scope": "tweet.write users.read tweet.read media.write offline.access",
        "refresh_token": refresh,
    }))
    .into_response()
}

fn authenticated_client(state: &XState, headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", state.client_id, state.client_secret))
    );
    headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok())
        == Some(expected.as_str())
}

async fn token(
    State(state): State<Arc<Mutex<XState>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = lock(&state);
    if let Some(status) = state.token_outage {
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
            let Some(grant) = state.codes.remove(&field("code")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the authorization code was invalid.",
                );
            };
            state.verifiers.push(field("code_verifier"));
            let challenge =
                URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
            if grant.redirect_uri != field("redirect_uri") || grant.challenge != challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the authorization code was invalid.",
                );
            }
            issue(&mut state, grant.account)
        }
        "refresh_token" => {
            let presented = field("refresh_token");
            let account = state.refresh.remove(&presented);
            match account {
                Some(account) => {
                    state.refreshes += 1;
                    issue(&mut state, account)
                }
                None => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the token was invalid.",
                ),
            }
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type.",
        ),
    }
}

async fn revoke(
    State(state): State<Arc<Mutex<XState>>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = lock(&state);
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

async fn me(State(state): State<Arc<Mutex<XState>>>, headers: HeaderMap) -> Response {
    let state = lock(&state);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match token.and_then(|token| state.access.get(token)) {
        Some(issued) if !issued.expired => Json(json!({
            "data": {
                "id": issued.account.id,
                "name": issued.account.name,
                "username": issued.account.username,
                "profile_image_url": format!("https://pbs.twimg.com/profile_images/{}/avatar_normal.jpg", issued.account.id),
            }
        }))
        .into_response(),
        _ => problem(StatusCode::UNAUTHORIZED, "Unauthorized"),
    }
}
