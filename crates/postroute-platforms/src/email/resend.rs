//! The Resend HTTP API (`POST /emails`), as in shared/specs/platforms.md section 4.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{DeliveryError, OutgoingEmail};

const USER_AGENT: &str = concat!("postroute/", env!("CARGO_PKG_VERSION"));

/// A Resend API client.
#[derive(Clone)]
pub struct ResendClient {
    http: reqwest::Client,
    endpoint: Url,
    api_key: String,
}

impl std::fmt::Debug for ResendClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResendClient")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct SendEmailRequest<'a> {
    from: &'a str,
    to: [&'a str; 1],
    subject: &'a str,
    text: &'a str,
    html: &'a str,
}

#[derive(Deserialize)]
struct SendEmailResponse {
    id: String,
}

/// Resend's error body: `{"statusCode":422,"message":"…","name":"validation_error"}`.
#[derive(Deserialize, Default)]
struct ErrorResponse {
    #[serde(default)]
    name: String,
    #[serde(default)]
    message: String,
}

impl ResendClient {
    /// A client for the API at `base_url` (`https://api.resend.com` in production).
    pub fn new(base_url: &Url, api_key: &str) -> Result<Self, DeliveryError> {
        let endpoint = base_url
            .join("emails")
            .map_err(|error| DeliveryError::Permanent(format!("bad Resend base URL: {error}")))?;
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|error| DeliveryError::Permanent(format!("HTTP client: {error}")))?;
        Ok(Self { http, endpoint, api_key: api_key.to_owned() })
    }

    /// Sends one message; returns Resend's id for it. The idempotency key makes a retry of an
    /// attempt whose answer was lost return the first answer instead of sending twice.
    pub async fn send(&self, email: &OutgoingEmail<'_>) -> Result<String, DeliveryError> {
        let response = self
            .http
            .post(self.endpoint.clone())
            .bearer_auth(&self.api_key)
            .header("Idempotency-Key", email.idempotency_key)
            .json(&SendEmailRequest {
                from: email.from,
                to: [email.to],
                subject: email.subject,
                text: email.text,
                html: email.html,
            })
            .send()
            .await
            .map_err(|error| DeliveryError::Transient(format!("Resend unreachable: {error}")))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            return match serde_json::from_slice::<SendEmailResponse>(&body) {
                Ok(sent) => Ok(sent.id),
                // Accepted is accepted: a body we cannot read must not make us send again.
                Err(_) => Ok(String::new()),
            };
        }
        let error: ErrorResponse = serde_json::from_slice(&body).unwrap_or_default();
        Err(classify(status, &headers, &error))
    }
}

fn classify(status: StatusCode, headers: &HeaderMap, error: &ErrorResponse) -> DeliveryError {
    let described = format!("Resend {status} {}: {}", error.name, error.message);
    match status {
        StatusCode::TOO_MANY_REQUESTS => {
            DeliveryError::RateLimited { retry_after: retry_after(headers) }
        }
        // The same key still in flight: the first attempt may yet succeed; ask again later.
        StatusCode::CONFLICT if error.name == "concurrent_idempotent_requests" => {
            DeliveryError::Transient(described)
        }
        // A key or account problem is fixed by an operator, not by the message: keep it queued.
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => DeliveryError::Transient(described),
        status if status.is_server_error() => DeliveryError::Transient(described),
        _ => DeliveryError::Permanent(described),
    }
}

/// `retry-after` seconds, else `ratelimit-reset` seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    [RETRY_AFTER.as_str(), "ratelimit-reset"]
        .iter()
        .find_map(|name| headers.get(*name)?.to_str().ok()?.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(name: &str) -> ErrorResponse {
        ErrorResponse { name: name.to_owned(), message: String::new() }
    }

    #[test]
    fn failures_are_classified_for_retry() {
        let headers = HeaderMap::new();
        let cases = [
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_server_error", true),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_from_address", false),
            (StatusCode::BAD_REQUEST, "validation_error", false),
            (StatusCode::CONFLICT, "invalid_idempotent_request", false),
            (StatusCode::CONFLICT, "concurrent_idempotent_requests", true),
            (StatusCode::FORBIDDEN, "invalid_api_key", true),
            (StatusCode::UNAUTHORIZED, "validation_error", true),
        ];
        for (status, name, retryable) in cases {
            assert_eq!(
                classify(status, &headers, &error(name)).is_retryable(),
                retryable,
                "{status} {name}"
            );
        }
    }

    #[test]
    fn rate_limits_carry_the_providers_delay() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-reset", "7".parse().unwrap());
        match classify(StatusCode::TOO_MANY_REQUESTS, &headers, &error("rate_limit_exceeded")) {
            DeliveryError::RateLimited { retry_after } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)))
            }
            other => panic!("{other:?}"),
        }
    }
}
