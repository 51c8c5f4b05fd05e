//! Every error the API answers, as `application/problem+json` (RFC 9457), mapped in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postroute_app::Refusal;
use postroute_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

pub use postroute_app::FieldError;

/// The body of every error response.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` carries the machine-readable meaning.
    #[serde(rename = "type")]
    pub problem_type: &'static str,
    /// The HTTP reason phrase.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// A human-readable explanation.
    pub detail: String,
    /// A stable snake_case machine code, e.g. `validation_failed`.
    pub code: &'static str,
    /// Present on `validation_failed`: one entry per invalid field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// A problem with the given status, code and explanation.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            problem_type: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            code,
            errors: Vec::new(),
        }
    }

    /// The generic problem for a status produced outside our handlers (router, layers).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::BAD_REQUEST => ("bad_request", "The request could not be understood."),
            StatusCode::UNAUTHORIZED => ("unauthorized", "Authentication is required."),
            StatusCode::FORBIDDEN => ("forbidden", "This action is not allowed."),
            StatusCode::NOT_FOUND => ("not_found", "No such resource."),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("method_not_allowed", "This method is not allowed on this resource.")
            }
            StatusCode::REQUEST_TIMEOUT => {
                ("request_timeout", "The request took too long to arrive or to process.")
            }
            StatusCode::CONFLICT => ("conflict", "The request conflicts with the current state."),
            StatusCode::PAYLOAD_TOO_LARGE => {
                ("payload_too_large", "The request body is larger than this endpoint accepts.")
            }
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "The request body's media type is not accepted here.")
            }
            StatusCode::UNPROCESSABLE_ENTITY => ("validation_failed", "The request is invalid."),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
                "headers_too_large",
                "The request's header fields are larger or more numerous than this server accepts.",
            ),
            StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "Too many requests; retry later."),
            StatusCode::SERVICE_UNAVAILABLE => {
                ("service_unavailable", "The service is temporarily unavailable; retry later.")
            }
            status if status.is_client_error() => ("bad_request", "The request was refused."),
            _ => ("internal_error", "An unexpected error occurred."),
        };
        Self::new(status, code, detail)
    }

    /// Adds per-field validation errors.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| {
            concat!(
                r#"{"type":"about:blank","title":"Internal Server Error","status":500,"#,
                r#""code":"internal_error","detail":"An unexpected error occurred."}"#,
            )
            .as_bytes()
            .to_vec()
        });
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// What a handler or extractor fails with: a service's refusal, or one the HTTP face raises in
/// the same vocabulary (a malformed body, a missing bearer token). The newtype exists because
/// the refusal belongs to the services, which know nothing of HTTP, while its one meaning in
/// HTTP is written here, in the `IntoResponse` below.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(pub Refusal);

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        Self(refusal)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self(error.into())
    }
}

/// Marks a response caused by the database being away (see `http::database`).
#[derive(Clone, Copy, Debug)]
pub struct DatabaseAway;

/// Seconds a client is asked to wait after a 503: about the time a probe takes to notice that
/// the database is back.
const RETRY_AFTER_UNAVAILABLE_SECS: u32 = 2;

/// 503 with `Retry-After`.
fn unavailable() -> Response {
    let mut response = Problem::for_status(StatusCode::SERVICE_UNAVAILABLE).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_UNAVAILABLE_SECS));
    response
}

/// 429 with `Retry-After` and the `RateLimit-*` headers.
fn rate_limited(decision: &postroute_app::rate_limit::Decision) -> Response {
    let retry_after = decision.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("Too many requests; retry in {retry_after} seconds."),
    )
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    crate::rate_limit_headers::insert_rate_limit_headers(headers, decision);
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            Refusal::Malformed(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed_request", detail)
            }
            Refusal::Invalid(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "One or more fields are invalid.",
            )
            .with_errors(errors),
            Refusal::UnsupportedMediaType(detail) => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail)
            }
            Refusal::PayloadTooLarge => Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            Refusal::NotFound => Problem::for_status(StatusCode::NOT_FOUND),
            Refusal::Unauthorized => Problem::for_status(StatusCode::UNAUTHORIZED),
            Refusal::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is wrong.",
            ),
            Refusal::WrongPassword => {
                Problem::new(StatusCode::FORBIDDEN, "invalid_credentials", "The password is wrong.")
            }
            Refusal::EmailNotVerified => Problem::new(
                StatusCode::FORBIDDEN,
                "email_not_verified",
                "Confirm your email address with the link we sent before signing in.",
            ),
            Refusal::InvalidToken => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_token",
                "The link is invalid, already used or expired; ask for a new one.",
            ),
            Refusal::RefreshTokenReused => Problem::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "This refresh token was already used. Every session of the account has been \
                 ended; sign in again.",
            ),
            Refusal::Conflict(detail) => Problem::new(StatusCode::CONFLICT, "conflict", detail),
            Refusal::PreconditionRequired(detail) => {
                Problem::new(StatusCode::PRECONDITION_REQUIRED, "precondition_required", detail)
            }
            Refusal::PreconditionFailed(detail) => {
                Problem::new(StatusCode::PRECONDITION_FAILED, "precondition_failed", detail)
            }
            Refusal::Forbidden(detail) => Problem::new(StatusCode::FORBIDDEN, "forbidden", detail),
            Refusal::PlanRequired(detail) => {
                Problem::new(StatusCode::PAYMENT_REQUIRED, "plan_required", detail)
            }
            Refusal::RangeNotSatisfiable { size } => {
                let mut response = Problem::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range_not_satisfiable",
                    format!("The file has {size} bytes; ask for a range within them."),
                )
                .into_response();
                if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, value);
                }
                return response;
            }
            Refusal::Refused { code, detail } => {
                Problem::new(StatusCode::BAD_REQUEST, code, detail)
            }
            Refusal::Unprocessable { code, detail } => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
            }
            Refusal::RateLimited(decision) => return rate_limited(&decision),
            Refusal::Unavailable(reason) => {
                tracing::warn!(reason = display(&reason), "dependency unavailable");
                return unavailable();
            }
            Refusal::DatabaseUnavailable(reason) => {
                tracing::warn!(reason = display(&reason), "database unavailable");
                let mut response = unavailable();
                // Tells the edge to fail fast until the database answers again.
                response.extensions_mut().insert(DatabaseAway);
                return response;
            }
            Refusal::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
        .into_response()
    }
}
