//! How a platform call failed, classified for what the caller should do next.

use std::time::Duration;

/// A failed call to X or Meta.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PlatformError {
    /// The grant is gone for good (revoked, password changed, app removed): the account must be
    /// connected again. X `invalid_grant`/`invalid_request` on a token, Meta code 190.
    #[error("authorization dead: {0}")]
    AuthDead(String),
    /// Slow down; try again after `reset` when the platform said when.
    #[error("rate limited by the platform")]
    RateLimited {
        /// How long until the window resets, if known.
        reset: Option<Duration>,
    },
    /// The request itself is wrong; repeating it cannot succeed.
    #[error("refused by the platform: {0}")]
    Permanent(String),
    /// The platform or the network failed before anything happened; retrying is safe.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// We cannot tell whether the platform acted (a timeout after a state-changing request was
    /// sent); retrying blindly could act twice.
    #[error("outcome unknown: {0}")]
    Ambiguous(String),
}

impl PlatformError {
    /// The snake_case class name, for logs and stored errors.
    pub fn class(&self) -> &'static str {
        match self {
            Self::AuthDead(_) => "auth_dead",
            Self::RateLimited { .. } => "rate_limited",
            Self::Permanent(_) => "permanent",
            Self::Transient(_) => "transient",
            Self::Ambiguous(_) => "ambiguous",
        }
    }

    /// A network error: before the request was sent it is transient; after, for a request that
    /// changes state, ambiguous.
    pub(crate) fn from_network(error: reqwest::Error, changes_state: bool) -> Self {
        // Meta's token exchanges carry the app secret and tokens in the query string, and
        // `paging.next` URLs carry the access token: a URL never goes into an error message.
        let error = error.without_url();
        let described = format!("network: {error}");
        if error.is_connect() || !changes_state {
            Self::Transient(described)
        } else {
            Self::Ambiguous(described)
        }
    }
}

/// The HTTP client every platform client uses: rustls, timeouts, our User-Agent (S-TLS-4).
pub(crate) fn http_client() -> Result<reqwest::Client, PlatformError> {
    reqwest::Client::builder()
        .use_rustls_tls()
        .user_agent(concat!("postroute/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|error| PlatformError::Permanent(format!("HTTP client: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    // proves S-ENC-4
    #[tokio::test]
    async fn network_errors_never_carry_the_request_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!(
            "http://127.0.0.1:{port}/oauth/access_token?client_secret=app-secret-value&code=the-code"
        );
        let error = http_client().unwrap().get(&url).send().await.unwrap_err();
        let classified = PlatformError::from_network(error, false);
        let message = classified.to_string();
        assert!(
            !message.contains("app-secret-value") && !message.contains("the-code"),
            "{message}"
        );
        assert!(matches!(classified, PlatformError::Transient(_)));
    }
}
