//! Meta: the manual Facebook Login flow for Facebook Pages and Instagram professional accounts.
//! The long-lived user token yields a Page token per Page (an Instagram account publishes with
//! its Page's); Page tokens do not expire, so they are checked daily rather than refreshed.

use postroute_platforms::PlatformError;
use postroute_platforms::meta::{FACEBOOK_SCOPES, INSTAGRAM_SCOPES, MetaClient, MetaPage};
use postroute_store::DueChannel;

use super::{Authorization, Check, Checked, Connect, ExchangeFailed, GrantedAccount, unusable_url};
use crate::Refusal;
use crate::channels::check::FirstCheck;
use crate::channels::tokens::{PlainToken, PlainTokens};

/// Which accounts a Meta login connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Product {
    Facebook,
    Instagram,
}

/// Meta, through its client, for Facebook Pages or Instagram accounts.
#[derive(Clone, Copy, Debug)]
pub(in crate::channels) struct Meta<'a> {
    client: &'a MetaClient,
    product: Product,
}

impl<'a> Meta<'a> {
    /// Facebook Pages through `client`.
    pub(super) fn facebook(client: &'a MetaClient) -> Self {
        Self { client, product: Product::Facebook }
    }

    /// Instagram professional accounts through `client`.
    pub(super) fn instagram(client: &'a MetaClient) -> Self {
        Self { client, product: Product::Instagram }
    }

    /// The account `page` offers for this product, with the Page's token.
    fn account(&self, page: MetaPage) -> Option<GrantedAccount> {
        let (external_id, display_name, avatar_url) = match self.product {
            Product::Facebook => (page.id, page.name, page.picture_url),
            Product::Instagram => {
                let instagram = page.instagram?;
                let display_name =
                    instagram.username.map(|name| format!("@{name}")).unwrap_or(page.name);
                (instagram.id, display_name, instagram.profile_picture_url)
            }
        };
        Some(GrantedAccount {
            external_id,
            display_name,
            avatar_url,
            // Page tokens obtained with a long-lived user token do not expire; the token job
            // checks them daily so a revoked one is noticed before a scheduled post is.
            tokens: PlainTokens {
                access_token: PlainToken::new(page.access_token),
                refresh_token: None,
                expires_at: None,
            },
            first_check: FirstCheck::AfterInterval,
        })
    }
}

impl Connect for Meta<'_> {
    fn authorize(&self, redirect_uri: &str, state: &str) -> Result<Authorization, Refusal> {
        let scopes = match self.product {
            Product::Facebook => FACEBOOK_SCOPES,
            Product::Instagram => INSTAGRAM_SCOPES,
        };
        let url = self.client.dialog_url(redirect_uri, state, scopes).map_err(unusable_url)?;
        Ok(Authorization { url, pkce_verifier: None })
    }

    async fn exchange(
        &self,
        code: &str,
        _pkce_verifier: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Vec<GrantedAccount>, ExchangeFailed> {
        let short = self.client.exchange_code(code, redirect_uri).await?;
        let long = self.client.long_lived(&short.access_token).await?;
        let pages = self.client.pages(&long.access_token).await?;
        Ok(pages.into_iter().filter_map(|page| self.account(page)).collect())
    }

    fn no_accounts(&self) -> &'static str {
        match self.product {
            Product::Facebook => "The Meta login granted no Facebook Page.",
            Product::Instagram => {
                "The Meta login granted no Page with a linked Instagram professional account."
            }
        }
    }

    fn revokes(&self) -> bool {
        // Meta offers no per-Page revocation; a Page token without its channel row is simply
        // forgotten.
        false
    }

    async fn revoke(&self, _token: &PlainToken) -> Result<(), PlatformError> {
        Ok(())
    }
}

impl Check for Meta<'_> {
    async fn check(
        &self,
        due: &DueChannel,
        tokens: &PlainTokens,
    ) -> Result<Checked, PlatformError> {
        self.client.check_token(&due.external_id, tokens.access_token.expose()).await?;
        Ok(Checked::Valid)
    }
}
