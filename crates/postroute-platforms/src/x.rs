//! X (Twitter) API v2: OAuth 2.0 Authorization Code with PKCE, token refresh with rotation,
//! the signed-in account, token revocation. Wire formats: shared/specs/platforms.md 1.1, 1.4.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use url::Url;

use postroute_domain::publish::Outcome;

use crate::PublishFailure;
use crate::error::{PlatformError, http_client};

pub mod media;

/// Scopes PostRoute asks for: read the account, post, upload media, stay connected.
pub const SCOPES: &str = "tweet.read tweet.write users.read media.write offline.access";

/// Where X lives (configurable so tests can point at a fake).
#[derive(Clone, Debug)]
pub struct XEndpoints {
    /// `https://x.com` — the authorize page is `{auth}/i/oauth2/authorize`.
    pub auth_base: Url,
    /// `https://api.x.com` — token, users and tweets endpoints.
    pub api_base: Url,
}

/// Tokens from the token endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct XTokens {
    /// Bearer token for API calls (2 hours).
    pub access_token: String,
    /// Rotating refresh token (present with `offline.access`).
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires.
    pub expires_in: Option<u64>,
    /// Granted scopes.
    pub scope: Option<String>,
}

impl std::fmt::Debug for XTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XTokens")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    scope: Option<String>,
}

#[derive(Deserialize, Default)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// The signed-in X account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XAccount {
    /// Numeric user id.
    pub id: String,
    /// @handle without the @.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Avatar.
    pub profile_image_url: Option<String>,
}

#[derive(Deserialize)]
struct UserEnvelope {
    data: UserData,
}

#[derive(Deserialize)]
struct UserData {
    id: String,
    username: String,
    name: String,
    profile_image_url: Option<String>,
}

/// An X API client for one app (client id and secret).
#[derive(Clone)]
pub struct XClient {
    http: reqwest::Client,
    endpoints: XEndpoints,
    client_id: String,
    client_secret: String,
}

impl std::fmt::Debug for XClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XClient").field("endpoints", &self.endpoints).finish_non_exhaustive()
    }
}

impl XClient {
    /// A client for a confidential app (Web App type: client id and secret).
    pub fn new(
        endpoints: XEndpoints,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Self, PlatformError> {
        Ok(Self {
            http: http_client()?,
            endpoints,
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
        })
    }

    fn url(&self, base: &Url, path: &str) -> Result<Url, PlatformError> {
        base.join(path).map_err(|error| PlatformError::Permanent(format!("bad X URL: {error}")))
    }

    /// The page the user is sent to. `code_challenge` is the S256 challenge of the verifier,
    /// which never leaves the server.
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
    ) -> Result<Url, PlatformError> {
        let mut url = self.url(&self.endpoints.auth_base, "/i/oauth2/authorize")?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    fn basic_auth(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", self.client_id, self.client_secret)))
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<XTokens, PlatformError> {
        let response = self
            .http
            .post(self.url(&self.endpoints.api_base, "/2/oauth2/token")?)
            .header("authorization", self.basic_auth())
            .form(form)
            .send()
            .await
            .map_err(|error| PlatformError::from_network(error, true))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            let tokens: TokenResponse = serde_json::from_slice(&body).map_err(|error| {
                PlatformError::Ambiguous(format!("unreadable token response: {error}"))
            })?;
            return Ok(XTokens {
                access_token: tokens.access_token,
                refresh_token: tokens.refresh_token,
                expires_in: tokens.expires_in,
                scope: tokens.scope,
            });
        }
        let error: OAuthError = serde_json::from_slice(&body).unwrap_or_default();
        Err(classify_token_error(status, &headers, &error))
    }

    /// Exchanges an authorization code (with the PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<XTokens, PlatformError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
            ("client_id", &self.client_id),
        ])
        .await
    }

    /// Trades a refresh token for new tokens. X rotates refresh tokens: the one returned replaces
    /// the one sent, which is dead from now on.
    pub async fn refresh(&self, refresh_token: &str) -> Result<XTokens, PlatformError> {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", &self.client_id),
        ])
        .await
    }

    /// A `GET` of the v2 API as the user of `access_token`, its JSON read as `T`; `what` names
    /// it in the error when the body cannot be read.
    async fn get_api<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
        access_token: &str,
        what: &str,
    ) -> Result<T, PlatformError> {
        let response = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|error| PlatformError::from_network(error, false))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body =
            response.bytes().await.map_err(|error| PlatformError::from_network(error, false))?;
        if !status.is_success() {
            return Err(classify_api_error(status, &headers, &body));
        }
        serde_json::from_slice(&body)
            .map_err(|error| PlatformError::Transient(format!("unreadable {what}: {error}")))
    }

    /// The account the token belongs to.
    pub async fn me(&self, access_token: &str) -> Result<XAccount, PlatformError> {
        let mut url = self.url(&self.endpoints.api_base, "/2/users/me")?;
        url.query_pairs_mut().append_pair("user.fields", "profile_image_url");
        let user: UserEnvelope = self.get_api(url, access_token, "/2/users/me").await?;
        Ok(XAccount {
            id: user.data.id,
            username: user.data.username,
            name: user.data.name,
            profile_image_url: user.data.profile_image_url,
        })
    }

    /// Revokes a token at X (disconnect).
    pub async fn revoke(&self, token: &str) -> Result<(), PlatformError> {
        let response = self
            .http
            .post(self.url(&self.endpoints.api_base, "/2/oauth2/revoke")?)
            .header("authorization", self.basic_auth())
            .form(&[("token", token), ("client_id", &self.client_id)])
            .send()
            .await
            .map_err(|error| PlatformError::from_network(error, true))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        if status.is_success() {
            Ok(())
        } else {
            let error: OAuthError = serde_json::from_slice(&body).unwrap_or_default();
            Err(classify_token_error(status, &headers, &error))
        }
    }
}

/// A post to create: `POST /2/tweets`.
#[derive(Clone, Debug, Default)]
pub struct NewTweet<'a> {
    /// The text; left out of the body when empty (X refuses an empty `text`).
    pub text: &'a str,
    /// The post this one replies to (the previous part of a thread).
    pub reply_to: Option<&'a str>,
    /// Uploaded media, 1 to 4.
    pub media_ids: &'a [String],
}

/// What X answered to a create, when it created something.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedTweet {
    /// The new post's id.
    pub id: String,
}

impl XClient {
    /// Creates a post. Irreversible: X has no idempotency key, so anything after the request
    /// left (a 5xx, a timeout, a dropped connection) is [`Outcome::Ambiguous`], never retried
    /// blindly; only a failure to connect is [`Outcome::Transient`].
    pub async fn create_tweet(
        &self,
        access_token: &str,
        tweet: &NewTweet<'_>,
    ) -> Result<CreatedTweet, PublishFailure> {
        let url = self
            .url(&self.endpoints.api_base, "/2/tweets")
            .map_err(|error| PublishFailure::unsent(error.to_string()))?;
        let mut body = serde_json::Map::new();
        if !tweet.text.is_empty() {
            body.insert("text".to_owned(), tweet.text.into());
        }
        if let Some(parent) = tweet.reply_to {
            body.insert("reply".to_owned(), serde_json::json!({ "in_reply_to_tweet_id": parent }));
        }
        if !tweet.media_ids.is_empty() {
            body.insert("media".to_owned(), serde_json::json!({ "media_ids": tweet.media_ids }));
        }
        let response = self
            .http
            .post(url)
            .bearer_auth(access_token)
            .json(&body)
            .send()
            .await
            .map_err(|error| PublishFailure::network(error, true))?;
        let status = response.status();
        let headers = response.headers().clone();
        let answer = match response.bytes().await {
            Ok(body) => body,
            // The answer was cut off: X may have created the post.
            Err(error) => return Err(PublishFailure::network(error, true)),
        };
        if status.is_success() {
            let created: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
            return match created["data"]["id"].as_str() {
                Some(id) => Ok(CreatedTweet { id: id.to_owned() }),
                None => Err(PublishFailure {
                    outcome: Outcome::Ambiguous {
                        detail: format!("X answered {status} without a post id"),
                    },
                    http_status: Some(status.as_u16()),
                    platform_code: None,
                    request_id: request_id(&headers),
                }),
            };
        }
        Err(classify_publish_error(status, &headers, &answer))
    }
}

/// X's id of the request, which its support asks for.
fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get("x-transaction-id")?.to_str().ok().map(str::to_owned)
}

/// publishing.md A.2, for `POST /2/tweets`.
fn classify_publish_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> PublishFailure {
    let problem: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let title = problem["title"].as_str().unwrap_or_default();
    let detail = problem["detail"].as_str().unwrap_or_default();
    let kind = problem["type"].as_str().unwrap_or_default();
    let message =
        if detail.is_empty() { format!("X answered {status}") } else { detail.to_owned() };
    let outcome = match status {
        StatusCode::UNAUTHORIZED => Outcome::Unauthorized,
        StatusCode::PAYMENT_REQUIRED => Outcome::CreditsDepleted { message },
        StatusCode::TOO_MANY_REQUESTS if kind.ends_with("/usage-capped") => {
            Outcome::Permanent { message }
        }
        StatusCode::TOO_MANY_REQUESTS => {
            Outcome::RateLimited { reset_at: rate_limit_reset_at(headers) }
        }
        status if status.is_server_error() => {
            Outcome::Ambiguous { detail: format!("X answered {status} after the post was sent") }
        }
        // Duplicate content, reply restrictions, video length, an app not enrolled, a body X
        // refuses: repeating the same request cannot succeed.
        _ => Outcome::Permanent { message },
    };
    PublishFailure {
        outcome,
        http_status: Some(status.as_u16()),
        platform_code: Some(title.to_owned()).filter(|title| !title.is_empty()),
        request_id: request_id(headers),
    }
}

/// `x-rate-limit-reset` (Unix seconds) as an instant.
fn rate_limit_reset_at(headers: &HeaderMap) -> Option<chrono::DateTime<chrono::Utc>> {
    let reset: i64 = headers.get("x-rate-limit-reset")?.to_str().ok()?.parse().ok()?;
    chrono::DateTime::from_timestamp(reset, 0)
}

/// `x-rate-limit-reset` is a Unix time; the wait is until then.
fn rate_limit_reset(headers: &HeaderMap) -> Option<Duration> {
    let reset: u64 = headers.get("x-rate-limit-reset")?.to_str().ok()?.parse().ok()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(reset.saturating_sub(now)))
}

fn classify_token_error(
    status: StatusCode,
    headers: &HeaderMap,
    error: &OAuthError,
) -> PlatformError {
    let described =
        format!("X token endpoint {status} {}: {}", error.error, error.error_description);
    match (status, error.error.as_str()) {
        (StatusCode::TOO_MANY_REQUESTS, _) => {
            PlatformError::RateLimited { reset: rate_limit_reset(headers) }
        }
        // A spent, revoked or expired grant: X answers invalid_request or invalid_grant.
        (_, "invalid_grant" | "invalid_request") => PlatformError::AuthDead(described),
        (StatusCode::UNAUTHORIZED, _) => PlatformError::AuthDead(described),
        (status, _) if status.is_server_error() => PlatformError::Transient(described),
        _ => PlatformError::Permanent(described),
    }
}

fn classify_api_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> PlatformError {
    let problem: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let kind = problem["type"].as_str().unwrap_or_default();
    let described = format!(
        "X {status}: {} {}",
        problem["title"].as_str().unwrap_or_default(),
        problem["detail"].as_str().unwrap_or_default()
    );
    match status {
        StatusCode::UNAUTHORIZED => PlatformError::AuthDead(described),
        // A usage cap arrives as 429 too but lasts until its period ends.
        StatusCode::TOO_MANY_REQUESTS if kind.ends_with("/usage-capped") => {
            PlatformError::Permanent(described)
        }
        StatusCode::TOO_MANY_REQUESTS => {
            PlatformError::RateLimited { reset: rate_limit_reset(headers) }
        }
        status if status.is_server_error() => PlatformError::Transient(described),
        _ => PlatformError::Permanent(described),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_are_classified() {
        let headers = HeaderMap::new();
        let error =
            |name: &str| OAuthError { error: name.to_owned(), error_description: String::new() };
        assert!(matches!(
            classify_token_error(StatusCode::BAD_REQUEST, &headers, &error("invalid_request")),
            PlatformError::AuthDead(_)
        ));
        assert!(matches!(
            classify_token_error(StatusCode::BAD_REQUEST, &headers, &error("invalid_grant")),
            PlatformError::AuthDead(_)
        ));
        assert!(matches!(
            classify_token_error(StatusCode::BAD_GATEWAY, &headers, &error("")),
            PlatformError::Transient(_)
        ));
        assert!(matches!(
            classify_token_error(StatusCode::TOO_MANY_REQUESTS, &headers, &error("")),
            PlatformError::RateLimited { .. }
        ));
        assert!(matches!(
            classify_token_error(
                StatusCode::BAD_REQUEST,
                &headers,
                &error("unsupported_grant_type")
            ),
            PlatformError::Permanent(_)
        ));
    }

    #[test]
    fn a_usage_cap_is_not_a_short_rate_limit() {
        let capped =
            br#"{"title":"UsageCapExceeded","type":"https://api.x.com/2/problems/usage-capped"}"#;
        assert!(matches!(
            classify_api_error(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), capped),
            PlatformError::Permanent(_)
        ));
        let mut headers = HeaderMap::new();
        let soon =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
                + 60;
        headers.insert("x-rate-limit-reset", soon.to_string().parse().unwrap());
        match classify_api_error(StatusCode::TOO_MANY_REQUESTS, &headers, b"{}") {
            PlatformError::RateLimited { reset: Some(reset) } => {
                assert!(reset <= Duration::from_secs(60))
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Twitter's snowflake epoch, in Unix milliseconds: a post id is its creation time since then,
/// shifted left by 22 bits (publishing.md A.5).
const SNOWFLAKE_EPOCH_MS: i64 = 1_288_834_974_657;

/// The smallest post id X could give a post created at `at`: `since_id` for "created after".
pub fn snowflake_at(at: chrono::DateTime<chrono::Utc>) -> u64 {
    let millis = (at.timestamp_millis() - SNOWFLAKE_EPOCH_MS).max(0);
    u64::try_from(millis).unwrap_or(0) << 22
}

/// How many posts one page of the timeline holds: X's maximum.
const TIMELINE_PAGE: u32 = 100;

/// How many pages one look reads at most. A look comes minutes after its call, so a thousand
/// posts since then is an account busier than any PostRoute publishes for; past that the
/// listing is incomplete and proves nothing.
const TIMELINE_PAGES: usize = 10;

impl XClient {
    /// The posts of `user_id` created after `since`, newest first, as reconciliation reads
    /// them: `GET /2/users/:id/tweets` from the snowflake of `since`, replies kept (a thread's
    /// parts are replies), reposts left out, with the fields that identify a post of ours,
    /// page after page (`pagination_token`) until X has no more, or [`TIMELINE_PAGES`] were
    /// read and the listing says it is incomplete.
    pub async fn recent_posts(
        &self,
        access_token: &str,
        user_id: &str,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<postroute_domain::publish::Listing, PlatformError> {
        let mut listing = postroute_domain::publish::Listing::default();
        let mut next: Option<String> = None;
        for _ in 0..TIMELINE_PAGES {
            let mut url =
                self.url(&self.endpoints.api_base, &format!("/2/users/{user_id}/tweets"))?;
            url.query_pairs_mut()
                .append_pair("since_id", &snowflake_at(since).to_string())
                .append_pair("max_results", &TIMELINE_PAGE.to_string())
                .append_pair("exclude", "retweets")
                .append_pair(
                    "tweet.fields",
                    "created_at,text,note_tweet,referenced_tweets,attachments",
                );
            if let Some(token) = &next {
                url.query_pairs_mut().append_pair("pagination_token", token);
            }
            let page: TimelinePage = self.get_api(url, access_token, "X timeline").await?;
            listing.posts.extend(page.data.into_iter().map(TimelinePost::listed));
            next = page.meta.and_then(|meta| meta.next_token);
            if next.is_none() {
                listing.complete = true;
                break;
            }
        }
        Ok(listing)
    }
}

#[derive(Deserialize)]
struct TimelinePage {
    #[serde(default)]
    data: Vec<TimelinePost>,
    meta: Option<TimelineMeta>,
}

#[derive(Deserialize)]
struct TimelineMeta {
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct TimelinePost {
    id: String,
    #[serde(default)]
    text: String,
    note_tweet: Option<NoteTweet>,
    #[serde(default)]
    referenced_tweets: Vec<ReferencedTweet>,
    attachments: Option<Attachments>,
    created_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
struct NoteTweet {
    text: String,
}

#[derive(Deserialize)]
struct ReferencedTweet {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Deserialize)]
struct Attachments {
    #[serde(default)]
    media_keys: Vec<String>,
}

impl TimelinePost {
    fn listed(self) -> postroute_domain::publish::ListedPost {
        postroute_domain::publish::ListedPost {
            // A long post's `text` is cut short; its whole text is the note's.
            text: self.note_tweet.map_or(self.text, |note| note.text),
            replied_to: self
                .referenced_tweets
                .into_iter()
                .find(|referenced| referenced.kind == "replied_to")
                .map(|referenced| referenced.id),
            media_keys: self
                .attachments
                .map(|attachments| attachments.media_keys)
                .unwrap_or_default(),
            created_at: self.created_at,
            id: self.id,
        }
    }
}
