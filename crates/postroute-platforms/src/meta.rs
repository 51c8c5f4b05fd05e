//! Meta Graph API: Facebook Login (manual flow), long-lived user tokens, Page tokens and the
//! Instagram professional accounts linked to Pages. Wire formats: platforms.md 2.1, 2.3, 2.4.

use reqwest::StatusCode;
use serde::Deserialize;
use url::Url;

use crate::error::{PlatformError, http_client};

/// Permissions for publishing to Facebook Pages.
pub const FACEBOOK_SCOPES: &[&str] =
    &["pages_show_list", "pages_manage_posts", "pages_read_engagement"];
/// Permissions for publishing to Instagram professional accounts.
pub const INSTAGRAM_SCOPES: &[&str] = &[
    "instagram_basic",
    "instagram_content_publish",
    "pages_show_list",
    "pages_read_engagement",
    "business_management",
];

/// Where Meta lives (configurable so tests can point at a fake).
#[derive(Clone, Debug)]
pub struct MetaEndpoints {
    /// `https://graph.facebook.com/v25.0/`.
    pub graph_base: Url,
    /// `https://www.facebook.com/v25.0/` — the login dialog is `{dialog}dialog/oauth`.
    pub dialog_base: Url,
}

/// A user access token.
#[derive(Clone, PartialEq, Eq)]
pub struct MetaToken {
    /// The token.
    pub access_token: String,
    /// Seconds until it expires, when Meta says.
    pub expires_in: Option<u64>,
}

impl std::fmt::Debug for MetaToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaToken").field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// A Facebook Page the user manages, with its Page token and linked Instagram account.
#[derive(Clone, PartialEq, Eq)]
pub struct MetaPage {
    /// Page id.
    pub id: String,
    /// Page name.
    pub name: String,
    /// Page access token (no expiry when obtained with a long-lived user token).
    pub access_token: String,
    /// Page picture.
    pub picture_url: Option<String>,
    /// The Instagram professional account linked to the Page, if any.
    pub instagram: Option<InstagramAccount>,
}

impl std::fmt::Debug for MetaPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaPage")
            .field("id", &self.id)
            .field("instagram", &self.instagram)
            .finish_non_exhaustive()
    }
}

/// An Instagram professional account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstagramAccount {
    /// The ig-user-id.
    pub id: String,
    /// @username without the @.
    pub username: Option<String>,
    /// Avatar.
    pub profile_picture_url: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct AccountsPage {
    #[serde(default)]
    data: Vec<PageData>,
    paging: Option<Paging>,
}

#[derive(Deserialize)]
struct Paging {
    next: Option<String>,
}

#[derive(Deserialize)]
struct PageData {
    id: String,
    name: String,
    access_token: Option<String>,
    picture: Option<Picture>,
    instagram_business_account: Option<InstagramData>,
}

#[derive(Deserialize)]
struct Picture {
    data: Option<PictureData>,
}

#[derive(Deserialize)]
struct PictureData {
    url: Option<String>,
}

#[derive(Deserialize)]
struct InstagramData {
    id: String,
    username: Option<String>,
    profile_picture_url: Option<String>,
}

#[derive(Deserialize, Default)]
struct ErrorEnvelope {
    #[serde(default)]
    error: GraphError,
}

#[derive(Deserialize, Default)]
struct GraphError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    code: i64,
    #[serde(default)]
    error_subcode: Option<i64>,
    #[serde(default)]
    is_transient: Option<bool>,
}

/// A Graph API client for one app (app id and secret).
#[derive(Clone)]
pub struct MetaClient {
    http: reqwest::Client,
    endpoints: MetaEndpoints,
    app_id: String,
    app_secret: String,
}

impl std::fmt::Debug for MetaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetaClient").field("endpoints", &self.endpoints).finish_non_exhaustive()
    }
}

/// Pages a login may list before we stop following `paging.next`.
const MAX_PAGES: usize = 20;

impl MetaClient {
    /// A client for the app.
    pub fn new(
        endpoints: MetaEndpoints,
        app_id: &str,
        app_secret: &str,
    ) -> Result<Self, PlatformError> {
        Ok(Self {
            http: http_client()?,
            endpoints,
            app_id: app_id.to_owned(),
            app_secret: app_secret.to_owned(),
        })
    }

    fn graph(&self, path: &str) -> Result<Url, PlatformError> {
        self.endpoints
            .graph_base
            .join(path)
            .map_err(|error| PlatformError::Permanent(format!("bad Graph URL: {error}")))
    }

    /// The Facebook Login dialog asking for `scopes`.
    pub fn dialog_url(
        &self,
        redirect_uri: &str,
        state: &str,
        scopes: &[&str],
    ) -> Result<Url, PlatformError> {
        let mut url = self
            .endpoints
            .dialog_base
            .join("dialog/oauth")
            .map_err(|error| PlatformError::Permanent(format!("bad dialog URL: {error}")))?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.app_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("response_type", "code")
            .append_pair("scope", &scopes.join(","));
        Ok(url)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        token: Option<&str>,
    ) -> Result<T, PlatformError> {
        let mut request = self.http.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response =
            request.send().await.map_err(|error| PlatformError::from_network(error, false))?;
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(classify(status, &body));
        }
        serde_json::from_slice(&body).map_err(|error| {
            PlatformError::Transient(format!("unreadable Graph response: {error}"))
        })
    }

    /// Exchanges the login code for a short-lived user token.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<MetaToken, PlatformError> {
        let mut url = self.graph("oauth/access_token")?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.app_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("client_secret", &self.app_secret)
            .append_pair("code", code);
        let token: TokenResponse = self.get(url, None).await?;
        Ok(MetaToken { access_token: token.access_token, expires_in: token.expires_in })
    }

    /// Trades a short-lived user token for a long-lived one (about 60 days; Meta has no refresh
    /// token: after that the user logs in again).
    pub async fn long_lived(&self, short_lived: &str) -> Result<MetaToken, PlatformError> {
        let mut url = self.graph("oauth/access_token")?;
        url.query_pairs_mut()
            .append_pair("grant_type", "fb_exchange_token")
            .append_pair("client_id", &self.app_id)
            .append_pair("client_secret", &self.app_secret)
            .append_pair("fb_exchange_token", short_lived);
        let token: TokenResponse = self.get(url, None).await?;
        Ok(MetaToken { access_token: token.access_token, expires_in: token.expires_in })
    }

    /// Every Page the user manages, with Page tokens and linked Instagram accounts.
    pub async fn pages(&self, user_token: &str) -> Result<Vec<MetaPage>, PlatformError> {
        let mut url = self.graph("me/accounts")?;
        url.query_pairs_mut()
            .append_pair("fields", "id,name,access_token,picture{url},instagram_business_account{id,username,profile_picture_url}")
            .append_pair("limit", "100");
        let mut pages = Vec::new();
        for _ in 0..MAX_PAGES {
            let page: AccountsPage = self.get(url.clone(), Some(user_token)).await?;
            pages.extend(page.data.into_iter().filter_map(|data| {
                Some(MetaPage {
                    access_token: data.access_token?,
                    picture_url: data.picture.and_then(|picture| picture.data?.url),
                    instagram: data.instagram_business_account.map(|account| InstagramAccount {
                        id: account.id,
                        username: account.username,
                        profile_picture_url: account.profile_picture_url,
                    }),
                    id: data.id,
                    name: data.name,
                })
            }));
            // Follow `next` only on the Graph host we were configured with: a response must not
            // be able to send our token elsewhere.
            match page.paging.and_then(|paging| paging.next).and_then(|next| Url::parse(&next).ok())
            {
                Some(next) if next.origin() == self.endpoints.graph_base.origin() => url = next,
                _ => break,
            }
        }
        Ok(pages)
    }

    /// Succeeds while `token` can still read `object_id` (a Page or Instagram account): the
    /// health check that finds dead tokens before a scheduled post does.
    pub async fn check_token(&self, object_id: &str, token: &str) -> Result<(), PlatformError> {
        let mut url = self.graph(object_id)?;
        url.query_pairs_mut().append_pair("fields", "id");
        let _: serde_json::Value = self.get(url, Some(token)).await?;
        Ok(())
    }
}

fn classify(status: StatusCode, body: &[u8]) -> PlatformError {
    let envelope: ErrorEnvelope = serde_json::from_slice(body).unwrap_or_default();
    let error = envelope.error;
    let described = format!(
        "Graph {status} code {} subcode {:?}: {}",
        error.code, error.error_subcode, error.message
    );
    match error.code {
        // Expired, invalid, password changed, app removed, logged out.
        190 | 102 => PlatformError::AuthDead(described),
        4 | 17 | 32 | 341 | 613 | 80_000..=80_099 => PlatformError::RateLimited { reset: None },
        1 | 2 => PlatformError::Transient(described),
        _ if error.is_transient == Some(true) || status.is_server_error() => {
            PlatformError::Transient(described)
        }
        _ => PlatformError::Permanent(described),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_errors_are_classified() {
        let body = |code: i64, subcode: &str, transient: &str| {
            format!(
                r#"{{"error":{{"message":"m","type":"OAuthException","code":{code},"error_subcode":{subcode},"is_transient":{transient},"fbtrace_id":"x"}}}}"#
            )
        };
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, body(190, "460", "false").as_bytes()),
            PlatformError::AuthDead(_)
        ));
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, body(4, "null", "false").as_bytes()),
            PlatformError::RateLimited { .. }
        ));
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, body(80_001, "null", "false").as_bytes()),
            PlatformError::RateLimited { .. }
        ));
        assert!(matches!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, body(2, "null", "true").as_bytes()),
            PlatformError::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, body(100, "null", "true").as_bytes()),
            PlatformError::Transient(_)
        ));
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, body(10, "null", "false").as_bytes()),
            PlatformError::Permanent(_)
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, b"<html>"),
            PlatformError::Transient(_)
        ));
    }
}
