//! Sending transactional email.

mod resend;
mod smtp;

use std::time::Duration;

pub use resend::ResendClient;
pub use smtp::SmtpClient;

/// One message to deliver.
#[derive(Clone)]
pub struct OutgoingEmail<'a> {
    /// Sender, `Name <address>` or a bare address.
    pub from: &'a str,
    /// Recipient address.
    pub to: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// Plain-text body.
    pub text: &'a str,
    /// HTML body.
    pub html: &'a str,
    /// Stable across retries of the same message, so the provider can drop duplicates.
    pub idempotency_key: &'a str,
}

impl std::fmt::Debug for OutgoingEmail<'_> {
    // Bodies carry single-use links and recipients are personal data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

/// Why a message was not delivered, classified for the retry decision.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The provider or the network failed; the same message may succeed later.
    #[error("transient delivery failure: {0}")]
    Transient(String),
    /// The provider asks us to slow down.
    #[error("rate limited by the email provider")]
    RateLimited {
        /// When to try again, if the provider said.
        retry_after: Option<Duration>,
    },
    /// The message or our account is wrong; retrying the same request cannot help.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

impl DeliveryError {
    /// Whether a later attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Permanent(_))
    }
}
