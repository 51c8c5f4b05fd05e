//! Every error the API answers, as `application/problem+json` (RFC 9457), mapped in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postroute_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field, e.g. `email`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

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

/// What a handler or extractor can fail with; each variant has exactly one HTTP meaning.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not well-formed (malformed JSON, bad encoding).
    #[error("malformed request: {0}")]
    MalformedBody(String),
    /// The body is well-formed but its fields are wrong.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// The body's media type is not accepted here.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The body is larger than this endpoint accepts.
    #[error("payload too large")]
    PayloadTooLarge,
    /// No such resource, or one the caller may not know exists.
    #[error("not found")]
    NotFound,
    /// Missing, invalid or expired credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// Wrong email or password at login.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// An authenticated caller confirmed an action with the wrong password.
    #[error("wrong password")]
    WrongPassword,
    /// Correct password, unconfirmed address.
    #[error("email not verified")]
    EmailNotVerified,
    /// A verification or reset token is unknown, used or expired.
    #[error("invalid token")]
    InvalidToken,
    /// A rotated refresh token was presented again.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// The action conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The action must be conditional (`If-Match`) and was not.
    #[error("precondition required: {0}")]
    PreconditionRequired(String),
    /// The request's `If-Match` names a version that is no longer current.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// The caller is authenticated but their role does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The workspace's plan does not include this.
    #[error("plan required: {0}")]
    PlanRequired(String),
    /// A byte range outside a file of `size` bytes.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// The request was understood and refused for a reason its `code` names.
    #[error("{code}: {detail}")]
    Refused {
        /// Stable snake_case code.
        code: &'static str,
        /// Human explanation.
        detail: String,
    },
    /// Too many requests from this client.
    #[error("rate limited")]
    RateLimited(postroute_app::rate_limit::Decision),
    /// A dependency (media storage, the rate-limit store) is unavailable; the client may retry.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database is unavailable; the client may retry, and until the database answers
    /// again later requests are answered at once.
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// A bug or an unexpected failure: logged with context, answered opaquely.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
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

impl From<postroute_app::accounts::AccountError> for ApiError {
    fn from(error: postroute_app::accounts::AccountError) -> Self {
        use postroute_app::accounts::AccountError as E;
        match error {
            E::Invalid(fields) => Self::Validation(
                fields
                    .into_iter()
                    .map(|(field, message)| FieldError::new(field, message))
                    .collect(),
            ),
            E::InvalidCredentials => Self::InvalidCredentials,
            E::WrongPassword => Self::WrongPassword,
            E::EmailNotVerified => Self::EmailNotVerified,
            E::InvalidToken => Self::InvalidToken,
            E::RefreshTokenReused => Self::RefreshTokenReused,
            E::Unauthorized => Self::Unauthorized,
            E::NotFound => Self::NotFound,
            E::Conflict(detail) => Self::Conflict(detail),
            E::Store(error) => error.into(),
            error @ (E::Hash(_) | E::Randomness(_) | E::Internal(_)) => {
                Self::Internal(error.into())
            }
        }
    }
}

impl From<postroute_app::workspaces::WorkspaceError> for ApiError {
    fn from(error: postroute_app::workspaces::WorkspaceError) -> Self {
        use postroute_app::workspaces::WorkspaceError as E;
        match error {
            E::Invalid(fields) => Self::Validation(
                fields
                    .into_iter()
                    .map(|(field, message)| FieldError::new(field, message))
                    .collect(),
            ),
            E::NotFound => Self::NotFound,
            E::Forbidden(detail) => Self::Forbidden(detail),
            E::Conflict(detail) => Self::Conflict(detail),
            E::PlanRequired(detail) => Self::PlanRequired(detail),
            E::InvalidToken => Self::InvalidToken,
            E::EmailNotVerified => Self::EmailNotVerified,
            E::Store(error) => error.into(),
            E::RateLimited(decision) => Self::RateLimited(decision),
            error @ E::Randomness(_) => Self::Internal(error.into()),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            Self::DatabaseUnavailable(error.to_string())
        } else {
            Self::Internal(error.into())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::MalformedBody(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "malformed_request", detail)
            }
            Self::Validation(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "One or more fields are invalid.",
            )
            .with_errors(errors),
            Self::UnsupportedMediaType(detail) => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail)
            }
            Self::PayloadTooLarge => Problem::for_status(StatusCode::PAYLOAD_TOO_LARGE),
            Self::NotFound => Problem::for_status(StatusCode::NOT_FOUND),
            Self::Unauthorized => Problem::for_status(StatusCode::UNAUTHORIZED),
            Self::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is wrong.",
            ),
            Self::WrongPassword => {
                Problem::new(StatusCode::FORBIDDEN, "invalid_credentials", "The password is wrong.")
            }
            Self::EmailNotVerified => Problem::new(
                StatusCode::FORBIDDEN,
                "email_not_verified",
                "Confirm your email address with the link we sent before signing in.",
            ),
            Self::InvalidToken => Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid_token",
                "The link is invalid, already used or expired; ask for a new one.",
            ),
            Self::RefreshTokenReused => Problem::new(
                StatusCode::UNAUTHORIZED,
                "refresh_token_reused",
                "This refresh token was already used. Every session of the account has been \
                 ended; sign in again.",
            ),
            Self::Conflict(detail) => Problem::new(StatusCode::CONFLICT, "conflict", detail),
            Self::PreconditionRequired(detail) => {
                Problem::new(StatusCode::PRECONDITION_REQUIRED, "precondition_required", detail)
            }
            Self::PreconditionFailed(detail) => {
                Problem::new(StatusCode::PRECONDITION_FAILED, "precondition_failed", detail)
            }
            Self::Forbidden(detail) => Problem::new(StatusCode::FORBIDDEN, "forbidden", detail),
            Self::PlanRequired(detail) => {
                Problem::new(StatusCode::PAYMENT_REQUIRED, "plan_required", detail)
            }
            Self::RangeNotSatisfiable { size } => {
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
            Self::Refused { code, detail } => Problem::new(StatusCode::BAD_REQUEST, code, detail),
            Self::RateLimited(decision) => return rate_limited(&decision),
            Self::Unavailable(reason) => {
                tracing::warn!(%reason, "dependency unavailable");
                return unavailable();
            }
            Self::DatabaseUnavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                let mut response = unavailable();
                // Tells the edge to fail fast until the database answers again.
                response.extensions_mut().insert(DatabaseAway);
                return response;
            }
            Self::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "internal error");
                Problem::for_status(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
        .into_response()
    }
}
