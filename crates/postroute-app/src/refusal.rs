//! Why a service did not do what it was asked: the one vocabulary every service refuses in.
//!
//! Each variant has exactly one meaning for a client, so a face (the JSON API, the coming web
//! app, the CLI) maps it once and never needs to know which service refused. The explanation a
//! person reads is written here or by the service that refuses, never by the face.

use postroute_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::password_hasher::HashError;
use crate::crypto::{OpenError, RandomnessUnavailable};
use crate::media::storage::StorageError;
use crate::rate_limit::Decision;
use postroute_inspect::InspectError;

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

/// What a service (or the face in front of it) refuses with.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The input is not well-formed (malformed JSON, bad encoding, an event without its fields).
    #[error("malformed request: {0}")]
    Malformed(String),
    /// The input is well-formed but some of its fields are wrong.
    #[error("invalid input: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// The content's type is not accepted here, whatever the client said it was.
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The content is larger than is accepted here.
    #[error("payload too large")]
    PayloadTooLarge,
    /// No such resource, or one the caller may not know exists.
    #[error("not found")]
    NotFound,
    /// Missing, invalid, expired or revoked credentials.
    #[error("unauthorized")]
    Unauthorized,
    /// Wrong email or password at sign-in (indistinguishable on purpose).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// An authenticated caller confirmed an action with the wrong password.
    #[error("wrong password")]
    WrongPassword,
    /// The password was right but the address is not confirmed yet.
    #[error("email not verified")]
    EmailNotVerified,
    /// A verification, reset or invitation token that is unknown, used or expired.
    #[error("invalid or expired token")]
    InvalidToken,
    /// A rotated refresh token came back: every session of its account was revoked.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// The caller is known, but their role (or the link they hold) does not allow this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The action conflicts with the current state.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The action must name the version it is based on (`If-Match`), and did not.
    #[error("precondition required: {0}")]
    PreconditionRequired(String),
    /// The action names a version that is no longer current.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// The workspace's plan does not include this.
    #[error("plan required: {0}")]
    PlanRequired(String),
    /// A byte range outside a file of `size` bytes.
    #[error("range not satisfiable: the file has {size} bytes")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// Well-formed and valid field by field, but not something that can be done, for a reason
    /// its stable snake_case `code` names (a post to queue whose channels have no slots).
    #[error("{code}: {detail}")]
    Unprocessable {
        /// Stable snake_case code.
        code: &'static str,
        /// Human explanation.
        detail: String,
    },
    /// Understood and refused for a reason its stable snake_case `code` names.
    #[error("{code}: {detail}")]
    Refused {
        /// Stable snake_case code.
        code: &'static str,
        /// Human explanation.
        detail: String,
    },
    /// Too many requests of this kind; the decision says when to retry.
    #[error("rate limited")]
    RateLimited(Decision),
    /// A dependency (media storage, the rate-limit store) is unavailable; the caller may retry.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The database is unavailable; the caller may retry.
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    /// A bug or an unexpected failure: logged with its context, answered opaquely.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

fn describe(fields: &[FieldError]) -> String {
    let fields: Vec<String> =
        fields.iter().map(|error| format!("{}: {}", error.field, error.message)).collect();
    fields.join("; ")
}

impl Refusal {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldError::new(field, message)])
    }

    /// Several invalid fields, as `(field, message)` pairs.
    pub fn invalid_fields<F: Into<String>, M: Into<String>>(
        fields: impl IntoIterator<Item = (F, M)>,
    ) -> Self {
        Self::Invalid(
            fields.into_iter().map(|(field, message)| FieldError::new(field, message)).collect(),
        )
    }

    /// A failure that is a bug or a fault of ours, with what was being done.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(anyhow::anyhow!("{detail}"))
    }
}

impl From<StoreError> for Refusal {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            Self::DatabaseUnavailable(error.to_string())
        } else {
            Self::Internal(error.into())
        }
    }
}

impl From<HashError> for Refusal {
    fn from(error: HashError) -> Self {
        Self::Internal(error.into())
    }
}

impl From<RandomnessUnavailable> for Refusal {
    fn from(error: RandomnessUnavailable) -> Self {
        Self::Internal(error.into())
    }
}

/// Stored secrets that do not open mean a wrong key is configured, or tampering: not the
/// caller's doing.
impl From<OpenError> for Refusal {
    fn from(error: OpenError) -> Self {
        Self::Internal(anyhow::Error::new(error).context("stored secrets cannot be opened"))
    }
}

impl From<StorageError> for Refusal {
    fn from(error: StorageError) -> Self {
        match error.missing_object() {
            // A record whose object is gone is a fault of ours, not an outage to wait out.
            Some(path) => Self::Internal(anyhow::anyhow!("media object {path} is missing")),
            None => {
                tracing::error!(error = display(&error), "media storage failed");
                Self::Unavailable("media storage".to_owned())
            }
        }
    }
}

impl From<InspectError> for Refusal {
    fn from(error: InspectError) -> Self {
        match error {
            InspectError::Unsupported(detail) => Self::UnsupportedMediaType(detail),
            InspectError::Invalid(detail) => Self::invalid("file", detail),
            InspectError::Io(error) => error.into(),
        }
    }
}

/// Local files are the scratch copies of uploads: failing to write them is ours, not the caller's.
impl From<std::io::Error> for Refusal {
    fn from(error: std::io::Error) -> Self {
        Self::Internal(anyhow::Error::new(error).context("scratch file"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_fields_keep_their_order_and_say_what_is_wrong() {
        let refusal = Refusal::invalid_fields([("email", "is required"), ("name", "is too long")]);
        assert_eq!(refusal.to_string(), "invalid input: email: is required; name: is too long");
        let Refusal::Invalid(fields) = refusal else { panic!("not Invalid") };
        assert_eq!(fields[1], FieldError::new("name", "is too long"));
    }
}
