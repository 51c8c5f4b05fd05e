//! What every platform's publishing calls share: a failure carries the domain's outcome class
//! (which only the client can decide, since only it knows whether the request left the machine
//! and whether the endpoint creates anything) beside what the platform said.

use postroute_domain::publish::Outcome;

/// A publishing call that did not (knowingly) succeed: what it means for the target, and what
/// the platform said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishFailure {
    /// The outcome class (publishing.md A.2, B.3).
    pub outcome: Outcome,
    /// The HTTP status, when an answer came.
    pub http_status: Option<u16>,
    /// The platform's error code: X's problem `title` (e.g. `CreditsDepleted`), Meta's
    /// `code/error_subcode`.
    pub platform_code: Option<String>,
    /// The platform's id of the request, for its support (X `x-transaction-id`, Meta
    /// `x-fb-trace-id`), when it sent one.
    pub request_id: Option<String>,
}

impl PublishFailure {
    /// A failure that happened before anything was sent: safe to retry.
    pub fn unsent(detail: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Transient { detail: detail.into() },
            http_status: None,
            platform_code: None,
            request_id: None,
        }
    }

    /// A network failure on a call that creates something: only a refused connection proves
    /// nothing reached the platform; anything later may have created the post.
    pub fn network(error: reqwest::Error, irreversible: bool) -> Self {
        let sent = !error.is_connect();
        let detail = format!("network: {}", error.without_url());
        let outcome = if irreversible && sent {
            Outcome::Ambiguous { detail }
        } else {
            Outcome::Transient { detail }
        };
        Self { outcome, http_status: None, platform_code: None, request_id: None }
    }
}
