//! X: OAuth 2.0 with PKCE; access tokens live two hours and are refreshed ahead of expiry, and X
//! rotates the refresh token on every refresh.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postroute_platforms::PlatformError;
use postroute_platforms::x::XClient;
use postroute_store::DueChannel;

use super::{
    Authorization, Check, Checked, Connect, ExchangeFailed, GrantedAccount, expiry, unusable_url,
};
use crate::Refusal;
use crate::channels::check::FirstCheck;
use crate::channels::tokens::{PlainToken, PlainTokens};
use crate::{clock, crypto};

/// X, through its client.
#[derive(Clone, Copy, Debug)]
pub(in crate::channels) struct X<'a> {
    client: &'a XClient,
}

impl<'a> X<'a> {
    /// X through `client`.
    pub(super) fn new(client: &'a XClient) -> Self {
        Self { client }
    }
}

impl Connect for X<'_> {
    fn authorize(&self, redirect_uri: &str, state: &str) -> Result<Authorization, Refusal> {
        let (verifier, _) = crypto::random_token()?;
        let challenge = URL_SAFE_NO_PAD.encode(crypto::sha256(verifier.as_bytes()));
        let url =
            self.client.authorize_url(redirect_uri, state, &challenge).map_err(unusable_url)?;
        Ok(Authorization { url, pkce_verifier: Some(verifier) })
    }

    async fn exchange(
        &self,
        code: &str,
        pkce_verifier: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Vec<GrantedAccount>, ExchangeFailed> {
        let verifier = pkce_verifier.ok_or(ExchangeFailed::NoVerifier)?;
        let tokens = self.client.exchange_code(code, verifier, redirect_uri).await?;
        let account = self.client.me(&tokens.access_token).await?;
        let expires_at = expiry(clock::now(), tokens.expires_in);
        Ok(vec![GrantedAccount {
            external_id: account.id,
            display_name: format!("@{}", account.username),
            avatar_url: account.profile_image_url,
            tokens: PlainTokens {
                access_token: PlainToken::new(tokens.access_token),
                refresh_token: tokens.refresh_token.map(PlainToken::new),
                expires_at,
            },
            first_check: FirstCheck::BeforeExpiry,
        }])
    }

    fn no_accounts(&self) -> &'static str {
        // Unreachable in practice: an X login grants exactly the account that logged in.
        "The X login granted no account."
    }

    fn revokes(&self) -> bool {
        true
    }

    async fn revoke(&self, token: &PlainToken) -> Result<(), PlatformError> {
        self.client.revoke(token.expose()).await
    }
}

impl Check for X<'_> {
    async fn check(
        &self,
        due: &DueChannel,
        tokens: &PlainTokens,
    ) -> Result<Checked, PlatformError> {
        let Some(refresh_token) = &tokens.refresh_token else {
            // Connected without offline.access: nothing to renew with once the token lapses.
            return match tokens.expires_at {
                Some(expires) if expires <= clock::now() => Err(PlatformError::AuthDead(
                    "no refresh token and the access token expired".to_owned(),
                )),
                _ => Ok(Checked::Valid),
            };
        };
        let fresh = self.client.refresh(refresh_token.expose()).await?;
        let now = clock::now();
        tracing::info!(channel.id = display(&due.id), "X tokens refreshed");
        Ok(Checked::Refreshed(PlainTokens {
            access_token: PlainToken::new(fresh.access_token),
            // X rotates refresh tokens; if one did not come back, the old one stays valid.
            refresh_token: fresh
                .refresh_token
                .map(PlainToken::new)
                .or_else(|| tokens.refresh_token.clone()),
            expires_at: expiry(now, fresh.expires_in),
        }))
    }
}
