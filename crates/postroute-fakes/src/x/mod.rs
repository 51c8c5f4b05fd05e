//! A fake X: the OAuth 2.0 authorize page (which approves at once, or denies when told to), the
//! token endpoint with PKCE (S256 or plain), the scopes asked for and rotating refresh tokens,
//! `/2/users/me` with `user.fields`, token revocation, and publishing: `POST /2/tweets`, `DELETE
//! /2/tweets/:id`, the user timeline and media upload v2, with X's rate-limit headers on every
//! API answer and the faults a test arms (platforms.md 1.1-1.4, publishing.md A).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::faults::{Faults, RateLimit, bad_control, unix_now};
use crate::publishing::{Platform, PublishFaults, PublishedPost};
use control::{
    control_account, control_deny, control_expire, control_faults, control_publish_faults,
    control_published, control_revoke, control_settings, control_state,
};
use limits::Endpoint;
use media::Media;
use oauth::{authorize, revoke, token};
use users::me;

mod control;
mod limits;
mod media;
mod oauth;
mod timeline;
mod tweets;
mod users;

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

/// `GET /2/users/me` allows 75 requests per 15 minutes per user (rate-limits table).
const ME_WINDOW_LIMIT: u32 = 75;
/// X documents the authorization code as living about 30 seconds.
const CODE_LIFETIME: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Grant {
    account: XFakeAccount,
    redirect_uri: String,
    challenge: String,
    /// `code_challenge_method=plain`: the challenge is the verifier itself.
    plain: bool,
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

/// A tweet on the fake, deleted ones included: the record of what was published.
#[derive(Debug, Clone)]
struct Tweet {
    id: String,
    author: String,
    /// The text as posted, for duplicate detection.
    text: Option<String>,
    /// The text as X shows it: links shortened to t.co, a link in place of no text.
    shown_text: String,
    media_keys: Vec<String>,
    reply_to: Option<String>,
    created_at_ms: u64,
    deleted: bool,
}

impl Tweet {
    fn record(&self) -> PublishedPost {
        PublishedPost {
            platform: Platform::X,
            account: self.author.clone(),
            id: self.id.clone(),
            text: self.text.clone(),
            media: self.media_keys.clone(),
            reply_to: self.reply_to.clone(),
            published_at_ms: self.created_at_ms,
            deleted: self.deleted,
        }
    }
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
    /// Calls in each endpoint's current 15-minute window, and when it resets.
    windows: HashMap<Endpoint, (u32, u64)>,
    /// Faults armed for the next `POST /2/tweets` or `DELETE /2/tweets/:id`.
    publish_faults: PublishFaults,
    tweets: Vec<Tweet>,
    last_tweet_id: u64,
    media: HashMap<String, Media>,
    /// How long video and GIFs process after finalize, and whether processing fails.
    media_processing: Duration,
    media_processing_fails: bool,
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
            windows: HashMap::new(),
            publish_faults: PublishFaults::default(),
            tweets: Vec::new(),
            last_tweet_id: 0,
            media: HashMap::new(),
            media_processing: Duration::from_millis(1500),
            media_processing_fails: false,
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
            .route("/2/users/{id}/tweets", get(timeline::timeline))
            .route("/2/tweets", post(tweets::create))
            .route("/2/tweets/{id}", axum::routing::delete(tweets::delete))
            .route("/2/media/upload", post(media::upload).get(media::status))
            .route("/2/media/upload/initialize", post(media::initialize))
            .route("/2/media/upload/{id}/append", post(media::append))
            .route("/2/media/upload/{id}/finalize", post(media::finalize))
            // GIFs are up to 15 MB in one request, append segments up to 8 MB.
            .layer(DefaultBodyLimit::max(16 * 1024 * 1024))
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

    /// Every API endpoint answers 429 until `reset_in` has passed, with X's reset headers.
    pub fn exhaust_rate_limit(&self, reset_in: Duration) {
        lock(&self.state).faults.rate_limit = Some(RateLimit::spent(ME_WINDOW_LIMIT, reset_in));
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

    /// Every tweet created on the fake, oldest first, deleted ones marked: tests count posts
    /// on the "platform" with it.
    pub fn published(&self) -> Vec<PublishedPost> {
        lock(&self.state).tweets.iter().map(Tweet::record).collect()
    }

    /// Arms a fault for the next irreversible calls, with the control API's body (README
    /// "Publishing faults"): `{"fault": "created_then_timeout", "call": "tweet", "times": 1}`.
    pub fn arm_publish_fault(&self, body: &Value) -> Result<(), String> {
        lock(&self.state).publish_faults.apply(body, tweets::CLASSES, tweets::CALLS)
    }

    /// Video and GIFs finish processing `after` finalize, successfully unless `fails`.
    pub fn set_media_processing(&self, after: Duration, fails: bool) {
        let mut state = lock(&self.state);
        state.media_processing = after;
        state.media_processing_fails = fails;
    }

    /// Every answer waits `latency` first, publishing included.
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.state).faults.latency = latency;
    }

    /// The control API for this fake (README "Control API").
    pub fn control(&self) -> Router {
        Router::new()
            .route("/faults", post(control_faults))
            .route("/publish-faults", post(control_publish_faults))
            .route("/settings", post(control_settings))
            .route("/published", get(control_published))
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
