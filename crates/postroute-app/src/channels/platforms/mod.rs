//! The platforms a channel lives on, one file each, behind one trait per concern: [`Connect`]
//! (authorize, exchange the code, revoke) and [`Check`] (keep the tokens alive).
//!
//! The traits use native `async fn`, and [`Platform`] dispatches over an enum rather than
//! `dyn`: an `async fn` trait is not dyn-compatible without boxing every future (the async-trait
//! crate or hand-written `Pin<Box<dyn Future>>`), and code generic over `P: Connect` could not
//! promise axum that its futures are `Send`. The platforms are known when compiling, so the
//! service always holds the concrete [`Platform`], whose futures are `Send`, and the compiler
//! insists that every platform answers every concern. A new platform is a new file, a variant
//! and a line in [`on_platform!`], and an arm in [`ChannelService::platform`].

mod meta;
mod x;

use chrono::{DateTime, Utc};
use postroute_domain::Provider;
use postroute_platforms::PlatformError;
use postroute_store::DueChannel;
use url::Url;

use super::ChannelService;
use super::check::FirstCheck;
use super::tokens::{PlainToken, PlainTokens};
use crate::Refusal;

use meta::Meta;
use x::X;

/// Connecting an account and letting it go.
pub(super) trait Connect {
    /// Where to send the user's browser to grant access under `state`.
    fn authorize(&self, redirect_uri: &str, state: &str) -> Result<Authorization, Refusal>;

    /// Trades the code the platform sent back for the accounts the user granted.
    async fn exchange(
        &self,
        code: &str,
        pkce_verifier: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Vec<GrantedAccount>, ExchangeFailed>;

    /// What to tell the user when a login granted nothing this platform can publish to.
    fn no_accounts(&self) -> &'static str;

    /// Whether [`Connect::revoke`] reaches the platform: a disconnect opens the tokens only to
    /// revoke them, so a platform without revocation never needs them opened.
    fn revokes(&self) -> bool;

    /// Revokes one token at the platform.
    async fn revoke(&self, token: &PlainToken) -> Result<(), PlatformError>;
}

/// Keeping a connection's tokens alive.
pub(super) trait Check {
    /// Refreshes or checks the tokens of a claimed channel.
    async fn check(&self, due: &DueChannel, tokens: &PlainTokens)
    -> Result<Checked, PlatformError>;
}

/// The authorize redirect.
#[derive(Debug)]
pub(super) struct Authorization {
    /// Where the browser goes.
    pub url: Url,
    /// The PKCE verifier the code exchange needs, kept sealed with the state.
    pub pkce_verifier: Option<String>,
}

/// An account a login granted, with the tokens to act as it.
#[derive(Debug)]
pub(super) struct GrantedAccount {
    /// The platform's id of the account.
    pub external_id: String,
    /// Its name as shown.
    pub display_name: String,
    /// Its picture.
    pub avatar_url: Option<String>,
    /// The tokens.
    pub tokens: PlainTokens,
    /// When the token job first looks at it.
    pub first_check: FirstCheck,
}

/// Why a code exchange connected nothing.
#[derive(Debug)]
pub(super) enum ExchangeFailed {
    /// The state carries no PKCE verifier, though the platform needs one.
    NoVerifier,
    /// The platform refused or failed.
    Platform(PlatformError),
}

impl From<PlatformError> for ExchangeFailed {
    fn from(error: PlatformError) -> Self {
        Self::Platform(error)
    }
}

/// What a check found.
#[derive(Debug)]
pub(super) enum Checked {
    /// New tokens replace the stored ones.
    Refreshed(PlainTokens),
    /// The stored tokens still work.
    Valid,
}

/// A platform whose client has no credentials on this server; names the client ("X", "Meta").
#[derive(Clone, Copy, Debug)]
pub(super) struct NotConfigured(pub &'static str);

/// One of the platforms, with its client.
#[derive(Clone, Copy, Debug)]
pub(super) enum Platform<'a> {
    /// X.
    X(X<'a>),
    /// Facebook Pages or Instagram professional accounts, both through Meta.
    Meta(Meta<'a>),
}

/// Runs `$call` with `$inner` bound to the platform `$platform` holds (written like a closure so
/// that rustfmt formats it; each arm compiles the call for its own type).
macro_rules! on_platform {
    ($platform:expr, |$inner:ident| $call:expr) => {
        match $platform {
            Platform::X($inner) => $call,
            Platform::Meta($inner) => $call,
        }
    };
}

impl Connect for Platform<'_> {
    fn authorize(&self, redirect_uri: &str, state: &str) -> Result<Authorization, Refusal> {
        on_platform!(self, |platform| platform.authorize(redirect_uri, state))
    }

    async fn exchange(
        &self,
        code: &str,
        pkce_verifier: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Vec<GrantedAccount>, ExchangeFailed> {
        on_platform!(self, |platform| platform.exchange(code, pkce_verifier, redirect_uri).await)
    }

    fn no_accounts(&self) -> &'static str {
        on_platform!(self, |platform| platform.no_accounts())
    }

    fn revokes(&self) -> bool {
        on_platform!(self, |platform| platform.revokes())
    }

    async fn revoke(&self, token: &PlainToken) -> Result<(), PlatformError> {
        on_platform!(self, |platform| platform.revoke(token).await)
    }
}

impl Check for Platform<'_> {
    async fn check(
        &self,
        due: &DueChannel,
        tokens: &PlainTokens,
    ) -> Result<Checked, PlatformError> {
        on_platform!(self, |platform| platform.check(due, tokens).await)
    }
}

impl ChannelService {
    /// The platform `provider` lives on, when this server has its client.
    pub(super) fn platform(&self, provider: Provider) -> Result<Platform<'_>, NotConfigured> {
        let (platform, client) = match provider {
            Provider::X => (self.x.as_ref().map(|client| Platform::X(X::new(client))), "X"),
            Provider::Facebook => {
                (self.meta.as_ref().map(|client| Platform::Meta(Meta::facebook(client))), "Meta")
            }
            Provider::Instagram => {
                (self.meta.as_ref().map(|client| Platform::Meta(Meta::instagram(client))), "Meta")
            }
        };
        platform.ok_or(NotConfigured(client))
    }
}

/// A platform's authorize URL that cannot be built, blamed on the provider asked for.
fn unusable_url(error: PlatformError) -> Refusal {
    Refusal::invalid("provider", error.to_string())
}

/// When a token that lives `seconds` from `now` expires.
fn expiry(now: DateTime<Utc>, seconds: Option<u64>) -> Option<DateTime<Utc>> {
    seconds.map(|seconds| crate::clock::after(now, std::time::Duration::from_secs(seconds)))
}
