//! Meta Graph API: Facebook Login (manual flow), long-lived user tokens, Page tokens and the
//! Instagram professional accounts linked to Pages. Wire formats: platforms.md 2.1, 2.3, 2.4.
//! Publishing to both lives in [`publish`].

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use sha2::Sha256;
use url::Url;

use crate::error::{PlatformError, http_client};

pub mod publish;

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
    /// Graph's support id of the request, which a publishing failure keeps.
    #[serde(default)]
    fbtrace_id: Option<String>,
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

    /// `url` with the `appsecret_proof` of `token`: proof that the call comes from a holder of
    /// the app secret, so a leaked token alone cannot be used (and required by apps that turn
    /// on "Require App Secret"). A proof already in the URL (a `paging.next`) is replaced.
    fn signed(&self, mut url: Url, token: &str) -> Url {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(key, _)| key != "appsecret_proof")
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        url.query_pairs_mut()
            .clear()
            .extend_pairs(kept)
            .append_pair("appsecret_proof", &appsecret_proof(&self.app_secret, token));
        url
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
        let request = match token {
            Some(token) => self.http.get(self.signed(url, token)).bearer_auth(token),
            None => self.http.get(url),
        };
        let response =
            request.send().await.map_err(|error| PlatformError::from_network(error, false))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        if !status.is_success() {
            return Err(classify(status, &headers, &body));
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
            .append_pair(
                "fields",
                "id,name,access_token,picture{url},\
                 instagram_business_account{id,username,profile_picture_url}",
            )
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

/// Hex HMAC-SHA256 of the token keyed with the app secret, as Graph checks it.
fn appsecret_proof(app_secret: &str, token: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The longest `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`,
/// Graph's word on when a throttled caller may come back.
fn regain_access(headers: &HeaderMap) -> Option<Duration> {
    let usage: serde_json::Value =
        serde_json::from_str(headers.get("x-business-use-case-usage")?.to_str().ok()?).ok()?;
    let minutes = usage
        .as_object()?
        .values()
        .filter_map(serde_json::Value::as_array)
        .flatten()
        .filter_map(|entry| entry["estimated_time_to_regain_access"].as_u64())
        .max()?;
    Some(Duration::from_secs(minutes * 60))
}

fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> PlatformError {
    let envelope: ErrorEnvelope = serde_json::from_slice(body).unwrap_or_default();
    let error = envelope.error;
    let described = format!(
        "Graph {status} code {} subcode {:?}: {}",
        error.code, error.error_subcode, error.message
    );
    match error.code {
        // Expired, invalid, password changed, app removed, logged out.
        190 | 102 => PlatformError::AuthDead(described),
        4 | 17 | 32 | 341 | 613 | 80_000..=80_099 => {
            PlatformError::RateLimited { reset: regain_access(headers) }
        }
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
            classify(
                StatusCode::BAD_REQUEST,
                &HeaderMap::new(),
                body(190, "460", "false").as_bytes()
            ),
            PlatformError::AuthDead(_)
        ));
        assert!(matches!(
            classify(
                StatusCode::BAD_REQUEST,
                &HeaderMap::new(),
                body(4, "null", "false").as_bytes()
            ),
            PlatformError::RateLimited { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::BAD_REQUEST,
                &HeaderMap::new(),
                body(80_001, "null", "false").as_bytes()
            ),
            PlatformError::RateLimited { .. }
        ));
        assert!(matches!(
            classify(
                StatusCode::INTERNAL_SERVER_ERROR,
                &HeaderMap::new(),
                body(2, "null", "true").as_bytes()
            ),
            PlatformError::Transient(_)
        ));
        assert!(matches!(
            classify(
                StatusCode::BAD_REQUEST,
                &HeaderMap::new(),
                body(100, "null", "true").as_bytes()
            ),
            PlatformError::Transient(_)
        ));
        assert!(matches!(
            classify(
                StatusCode::FORBIDDEN,
                &HeaderMap::new(),
                body(10, "null", "false").as_bytes()
            ),
            PlatformError::Permanent(_)
        ));
        assert!(matches!(
            classify(StatusCode::BAD_GATEWAY, &HeaderMap::new(), b"<html>"),
            PlatformError::Transient(_)
        ));
    }

    #[test]
    fn a_throttle_waits_as_long_as_graph_says() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-business-use-case-usage",
            r#"{"501":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":3},{"type":"pages","estimated_time_to_regain_access":7}]}"#.parse().unwrap(),
        );
        let body = br#"{"error":{"message":"(#32) Page request limit reached","type":"OAuthException","code":32}}"#;
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, &headers, body),
            PlatformError::RateLimited { reset: Some(Duration::from_secs(420)) }
        );
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, &HeaderMap::new(), body),
            PlatformError::RateLimited { reset: None }
        );
    }

    #[test]
    fn the_proof_is_hmac_sha256_of_the_token() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            appsecret_proof("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
