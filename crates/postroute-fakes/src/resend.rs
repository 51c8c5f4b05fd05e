//! A fake Resend `POST /emails` (platforms.md section 4): bearer key, required User-Agent,
//! idempotency keys with Resend's 24-hour replay semantics, Resend's error bodies, and a switch
//! that simulates an outage.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use url::Url;

/// A message the fake accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedEmail {
    /// The id the fake answered with.
    pub id: String,
    /// `from` as sent.
    pub from: String,
    /// Recipients.
    pub to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Default)]
struct Inbox {
    accepted: Vec<ReceivedEmail>,
    /// Idempotency key -> (request body, the id answered).
    replies: HashMap<String, (Value, String)>,
    outage: Option<StatusCode>,
    requests: usize,
}

#[derive(Clone, Debug)]
struct FakeState {
    api_key: Arc<str>,
    inbox: Arc<Mutex<Inbox>>,
}

impl FakeState {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        // A panic while holding the lock is a test failure already; keep serving.
        self.inbox.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running fake Resend.
#[derive(Debug)]
pub struct FakeResend {
    address: SocketAddr,
    state: FakeState,
    server: tokio::task::JoinHandle<()>,
}

impl FakeResend {
    /// Starts on a random local port, accepting `api_key`.
    pub async fn start(api_key: &str) -> std::io::Result<Self> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), api_key).await
    }

    /// Starts on `address`.
    pub async fn start_on(address: SocketAddr, api_key: &str) -> std::io::Result<Self> {
        let state = FakeState { api_key: Arc::from(api_key), inbox: Arc::default() };
        let router = Router::new().route("/emails", post(send_email)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self { address, state, server })
    }

    /// The base URL to configure as `email.resend_base_url`.
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("http://{}/", self.address)).unwrap_or_else(|_| unreachable!())
    }

    /// Every message accepted (a replayed idempotent request is not a new message).
    pub fn accepted(&self) -> Vec<ReceivedEmail> {
        self.state.inbox().accepted.clone()
    }

    /// Requests received, failed ones included.
    pub fn request_count(&self) -> usize {
        self.state.inbox().requests
    }

    /// While `Some`, every request fails with that status and Resend's error body.
    pub fn set_outage(&self, status: Option<StatusCode>) {
        self.state.inbox().outage = status;
    }
}

impl Drop for FakeResend {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn resend_error(status: StatusCode, name: &str, message: &str) -> Response {
    (status, axum::Json(json!({"statusCode": status.as_u16(), "message": message, "name": name})))
        .into_response()
}

async fn send_email(
    State(state): State<FakeState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inbox = state.inbox();
    inbox.requests += 1;
    if !headers.contains_key(header::USER_AGENT) {
        // Resend's edge refuses requests without a User-Agent before the API sees them.
        return (StatusCode::FORBIDDEN, "error code: 1010").into_response();
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match bearer {
        None => {
            return resend_error(
                StatusCode::UNAUTHORIZED,
                "missing_api_key",
                "Missing API key in the authorization header.",
            );
        }
        Some(key) if key != &*state.api_key => {
            return resend_error(StatusCode::FORBIDDEN, "invalid_api_key", "API key is invalid.");
        }
        Some(_) => {}
    }
    if let Some(status) = inbox.outage {
        return resend_error(status, "internal_server_error", "An unexpected error occurred.");
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return resend_error(StatusCode::BAD_REQUEST, "validation_error", "Invalid JSON body.");
    };
    for field in ["from", "to", "subject"] {
        if request.get(field).is_none_or(Value::is_null) {
            return resend_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "missing_required_field",
                &format!("Missing `{field}` field."),
            );
        }
    }
    let idempotency_key =
        headers.get("idempotency-key").and_then(|value| value.to_str().ok()).map(str::to_owned);
    if let Some(key) = &idempotency_key {
        if key.is_empty() || key.len() > 256 {
            return resend_error(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                "Idempotency key must be 1-256 characters.",
            );
        }
        if let Some((first_request, id)) = inbox.replies.get(key) {
            return if *first_request == request {
                (StatusCode::OK, axum::Json(json!({"id": id}))).into_response()
            } else {
                resend_error(
                    StatusCode::CONFLICT,
                    "invalid_idempotent_request",
                    "Same idempotency key used with a different request payload.",
                )
            };
        }
    }
    let text =
        |field: &str| request.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    let to = match request.get("to") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => {
            many.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        _ => Vec::new(),
    };
    let id = uuid::Uuid::now_v7().to_string();
    inbox.accepted.push(ReceivedEmail {
        id: id.clone(),
        from: text("from"),
        to,
        subject: text("subject"),
        text: text("text"),
        html: text("html"),
        idempotency_key: idempotency_key.clone(),
    });
    if let Some(key) = idempotency_key {
        inbox.replies.insert(key, (request, id.clone()));
    }
    let mut response = (StatusCode::OK, axum::Json(json!({"id": id}))).into_response();
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", 5.into());
    headers.insert("ratelimit-remaining", 4.into());
    headers.insert("ratelimit-reset", 1.into());
    response
}
