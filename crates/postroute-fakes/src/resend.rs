//! A fake Resend `POST /emails` (platforms.md section 4): bearer key, required User-Agent,
//! idempotency keys with Resend's 24-hour replay semantics, `from`/`to` checked as Resend checks
//! them (address syntax, at most 50 recipients), Resend's error bodies, and switches for an
//! outage, latency and a rate limit with Resend's `ratelimit-*` headers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use url::Url;

use crate::faults::{Faults, bad_control};

/// Resend takes at most 50 addresses in `to`.
const MAX_RECIPIENTS: usize = 50;

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
    faults: Faults,
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
        self.state.inbox().faults.outage = status;
    }

    /// Every request answers 429 with Resend's `ratelimit-*` and `retry-after` headers until
    /// `reset_in` has passed; `None` lifts it.
    pub fn set_rate_limit(&self, reset_in: Option<std::time::Duration>) {
        self.state.inbox().faults.rate_limit =
            reset_in.map(|reset_in| crate::faults::RateLimit::spent(2, reset_in));
    }

    /// The control API for this fake (README "Control API").
    pub fn control(&self) -> Router {
        Router::new()
            .route("/faults", post(control_faults))
            .route("/emails", get(control_emails))
            .with_state(self.state.clone())
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
    let latency = state.inbox().faults.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
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
    if let Some(status) = inbox.faults.outage {
        return resend_error(status, "internal_server_error", "An unexpected error occurred.");
    }
    if let Some(limit) = inbox.faults.active_rate_limit() {
        let mut response = resend_error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "Too many requests. You can only make 2 requests per second. See rate limit response headers for more information. Or contact support to increase rate limit.",
        );
        let seconds = limit.seconds_left();
        let headers = response.headers_mut();
        headers.insert("ratelimit-limit", limit.limit.into());
        headers.insert("ratelimit-remaining", 0.into());
        headers.insert("ratelimit-reset", seconds.into());
        headers.insert(header::RETRY_AFTER, seconds.into());
        return response;
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
    let to = match recipients(&request) {
        Ok(to) => to,
        Err(message) => {
            return resend_error(StatusCode::UNPROCESSABLE_ENTITY, "validation_error", message);
        }
    };
    if !request.get("from").and_then(Value::as_str).is_some_and(is_mailbox) {
        return resend_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_from_address",
            "Invalid `from` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
        );
    }
    if !request.get("subject").is_some_and(Value::is_string) {
        return resend_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "Invalid `subject` field. It must be a string.",
        );
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

/// `to` as a list, refused as Resend refuses it: not a string or list of strings, empty, more than
/// 50, or an address that is not `email@example.com` or `Name <email@example.com>`.
fn recipients(request: &Value) -> Result<Vec<String>, &'static str> {
    let to: Vec<String> = match request.get("to") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => {
            let texts: Vec<String> =
                many.iter().filter_map(Value::as_str).map(str::to_owned).collect();
            if texts.len() != many.len() {
                return Err("Invalid `to` field. It must be a string or an array of strings.");
            }
            texts
        }
        _ => {
            return Err("Invalid `to` field. It must be a string or an array of strings.");
        }
    };
    if to.is_empty() {
        return Err("Invalid `to` field. At least one recipient is required.");
    }
    if to.len() > MAX_RECIPIENTS {
        return Err("Invalid `to` field. The maximum number of recipients is 50.");
    }
    if !to.iter().all(|address| is_mailbox(address)) {
        return Err(
            "Invalid `to` field. The email address needs to follow the `email@example.com` or `Name <email@example.com>` format.",
        );
    }
    Ok(to)
}

/// `email@example.com` or `Name <email@example.com>`.
fn is_mailbox(text: &str) -> bool {
    let text = text.trim();
    match text.strip_suffix('>').and_then(|rest| rest.rsplit_once('<')) {
        Some((name, address)) => !name.contains(['<', '>']) && is_address(address),
        None => is_address(text),
    }
}

/// A local part and a domain of letters, digits and hyphens in dot-separated labels. A single
/// label (`localhost`) passes: Resend refuses unverified domains later, not at this check.
fn is_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let domain_ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    local_ok && domain_ok
}

async fn control_faults(
    State(state): State<FakeState>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    match state.inbox().faults.apply(&body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => bad_control(&message).into_response(),
    }
}

async fn control_emails(State(state): State<FakeState>) -> axum::Json<Value> {
    let emails: Vec<Value> = state
        .inbox()
        .accepted
        .iter()
        .map(|email| {
            json!({
                "id": email.id,
                "from": email.from,
                "to": email.to,
                "subject": email.subject,
                "idempotency_key": email.idempotency_key,
            })
        })
        .collect();
    axum::Json(Value::Array(emails))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_as_resend_checks_them() {
        for good in [
            "a@b.example",
            "PostRoute <no-reply@postroute.example>",
            "x.y+z@sub.b.io",
            "no-reply@localhost",
        ] {
            assert!(is_mailbox(good), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@b.example",
            "a@",
            "a@b..example",
            "a b@c.example",
            "Name <a@b.example",
            "<>",
            "a@-b.example",
            "Name <a@b.example> trailing",
        ] {
            assert!(!is_mailbox(bad), "{bad}");
        }
    }
}
