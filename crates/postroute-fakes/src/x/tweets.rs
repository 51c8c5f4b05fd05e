//! Posting and deleting: `POST /2/tweets` with the refusals X makes (fields the schema does not
//! allow, duplicate text, media that is not ready, replies X restricts, Enterprise-only quotes)
//! and the faults a test arms, and `DELETE /2/tweets/:id` (publishing.md A.1, A.2).

#![expect(
    clippy::result_large_err,
    reason = "the Err is X's answer itself, built once and returned at once; boxing buys nothing"
)]

use chrono::Utc;

use super::limits::{Endpoint, Window, caller, require_scopes, spend};
use super::*;
use crate::publishing::{PublishFault, detail_text, detail_u64};

/// The calls a publish fault may name (README "Publishing faults").
pub(super) const CALLS: &[&str] = &["tweet", "delete"];
/// The refusal classes a publish fault may name.
pub(super) const CLASSES: &[&str] = &[
    "server_error",
    "rate_limited",
    "unauthorized",
    "duplicate",
    "credits_depleted",
    "usage_capped",
    "reply_restricted",
];

/// Top-level fields of the `POST /2/tweets` schema, which allows no others.
const BODY_FIELDS: &[&str] = &[
    "card_uri",
    "community_id",
    "direct_message_deep_link",
    "edit_options",
    "for_super_followers_only",
    "geo",
    "made_with_ai",
    "media",
    "nullcast",
    "paid_partnership",
    "poll",
    "quote_tweet_id",
    "reply",
    "reply_settings",
    "share_with_followers",
    "text",
];

/// Twitter's snowflake epoch: ids made from a time are how `since_id` is derived from one.
const SNOWFLAKE_EPOCH_MS: u64 = 1_288_834_974_657;
/// Milliseconds since the epoch.
pub(super) fn unix_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default()
}

/// The next tweet id: a snowflake of the current time, always above the previous one.
fn next_tweet_id(state: &mut XState) -> u64 {
    let from_clock = unix_ms().saturating_sub(SNOWFLAKE_EPOCH_MS) << 22;
    state.last_tweet_id = from_clock.max(state.last_tweet_id + 1);
    state.last_tweet_id
}

/// X shortens every link in a post to t.co, which is why reconciliation compares text with the
/// links taken out (publishing.md C, X step 3).
fn shorten_links(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.starts_with("http://") || word.starts_with("https://") {
                let digest = Sha256::digest(word.as_bytes());
                format!("https://t.co/{}", &URL_SAFE_NO_PAD.encode(digest)[..10])
            } else {
                word.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn invalid_body(message: &str) -> Response {
    problem_body(
        StatusCode::BAD_REQUEST,
        json!({
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }),
    )
}

fn forbidden(detail: &str) -> Response {
    problem_body(
        StatusCode::FORBIDDEN,
        json!({"title": "Forbidden", "type": "about:blank", "status": 403, "detail": detail}),
    )
}

const CREDITS_DEPLETED: &str =
    "Your enrolled account does not have any credits to fulfill this request.";

/// X's answer for an armed refusal of `class` (publishing.md A.2), with the window's headers.
fn refusal(class: &str, details: &Value, window: Window) -> Response {
    if class == "rate_limited" {
        let reset_at = unix_now() + detail_u64(details, "reset_in_secs", 900).max(1);
        return Window::spent(window.limit(), reset_at)
            .stamp(problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests"));
    }
    window.stamp(refusal_body(class, details))
}

fn refusal_body(class: &str, details: &Value) -> Response {
    let status = |default: u16| {
        u16::try_from(detail_u64(details, "status", u64::from(default)))
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    };
    match class {
        "unauthorized" => problem(StatusCode::UNAUTHORIZED, "Unauthorized"),
        "duplicate" => forbidden("You are not allowed to create a Tweet with duplicate content."),
        "reply_restricted" => forbidden(
            "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged by the author of the post you are replying to. You may only reply to or quote posts where you are mentioned or are the author.",
        ),
        "credits_depleted" => problem_body(
            StatusCode::PAYMENT_REQUIRED,
            json!({
                "title": "CreditsDepleted",
                "detail": CREDITS_DEPLETED,
                "type": "https://api.twitter.com/2/problems/credits",
                "status": 402,
            }),
        ),
        // A usage cap is a 429 whose window headers still show calls left (xdevplatform/xdk#25).
        "usage_capped" => problem_body(
            StatusCode::TOO_MANY_REQUESTS,
            json!({
                "title": "UsageCapExceeded",
                "detail": "Usage cap exceeded: Monthly product cap",
                "type": "https://api.twitter.com/2/problems/usage-capped",
                "period": "Monthly",
                "scope": "Product",
                "status": 429,
            }),
        ),
        _ => {
            let status = status(503);
            problem(status, detail_text(details, "message").unwrap_or("Service Unavailable"))
        }
    }
}

/// The answer of a call that created something, after the armed fault (if any) had its say:
/// "created, then 500" loses the answer, "created, then timeout" keeps the caller waiting.
async fn deliver(shared: &Shared, answer: Response, fault: Option<PublishFault>) -> Response {
    match fault {
        Some(PublishFault::CreatedThen500) => {
            problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        Some(PublishFault::CreatedThenTimeout) => {
            let hang = lock(shared).publish_faults.hang;
            tokio::time::sleep(hang).await;
            problem(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout")
        }
        _ => answer,
    }
}

pub(super) async fn create(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    delay(&shared).await;
    let (answer, fault) = {
        let mut state = lock(&shared);
        create_locked(&mut state, &headers, &body)
    };
    deliver(&shared, answer, fault).await
}

fn create_locked(
    state: &mut XState,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, Option<PublishFault>) {
    let answer = |response: Response| (response, None);
    if let Some(status) = state.faults.outage {
        return answer(problem(status, "Service Unavailable"));
    }
    let issued = match caller(state, headers) {
        Ok(issued) => issued,
        Err(refused) => return answer(refused),
    };
    let window = match spend(state, Endpoint::CreateTweet) {
        Ok(window) => window,
        Err(refused) => return answer(refused),
    };
    let respond = |response: Response| (window.stamp(response), None);
    if let Err(refused) = require_scopes(&issued, &["tweet.read", "tweet.write", "users.read"]) {
        return respond(refused);
    }
    let post = match parse_post(state, &issued.account, body) {
        Ok(post) => post,
        Err(refused) => return respond(refused),
    };
    let fault = match state.publish_faults.take("tweet", true) {
        Some(PublishFault::Refuse { class, details }) => {
            // The refusal carries its own window headers: a rate limit's say nothing is left.
            return (refusal(&class, &details, window), None);
        }
        other => other,
    };
    let id = next_tweet_id(state).to_string();
    let text =
        post.text.as_deref().map(shorten_links).unwrap_or_else(|| format!("https://t.co/m{id}"));
    state.tweets.push(Tweet {
        id: id.clone(),
        author: issued.account.id.clone(),
        text: post.text,
        shown_text: text.clone(),
        media_keys: post.media_keys,
        reply_to: post.reply_to,
        created_at_ms: unix_ms(),
        deleted: false,
    });
    let created = json!({"data": {"id": id, "text": text, "edit_history_tweet_ids": [id]}});
    (window.stamp((StatusCode::CREATED, Json(created)).into_response()), fault)
}

/// A valid `POST /2/tweets` body.
struct NewPost {
    text: Option<String>,
    media_keys: Vec<String>,
    reply_to: Option<String>,
}

fn parse_post(state: &XState, author: &XFakeAccount, body: &[u8]) -> Result<NewPost, Response> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Err(invalid_body("The request body is not a JSON object"));
    };
    if let Some(extra) = body.keys().find(|key| !BODY_FIELDS.contains(&key.as_str())) {
        return Err(invalid_body(&format!(
            "$.{extra}: is not defined in the schema and the schema does not allow additional properties"
        )));
    }
    if body.contains_key("quote_tweet_id") {
        return Err(forbidden("Quoting posts through the API requires an Enterprise plan."));
    }
    let text = match body.get("text") {
        None => None,
        Some(Value::String(text)) if text.is_empty() => {
            return Err(invalid_body(
                "$.text: must not be empty; leave it out for a media-only post",
            ));
        }
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(invalid_body("$.text: string found where one was expected")),
    };
    let media_ids: Vec<String> = match body.get("media").map(|media| media.get("media_ids")) {
        None => Vec::new(),
        Some(Some(Value::Array(ids))) if (1..=4).contains(&ids.len()) => ids
            .iter()
            .map(|id| id.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid_body("$.media.media_ids: the ids must be strings"))?,
        Some(_) => return Err(invalid_body("$.media.media_ids: between 1 and 4 media ids")),
    };
    if text.is_none() && media_ids.is_empty() {
        return Err(invalid_body("$.text: required unless media.media_ids is present"));
    }
    let mut media_keys = Vec::new();
    for id in &media_ids {
        match state.media.get(id) {
            Some(media) if media.owner == author.id && media.ready() => {
                media_keys.push(media.key.clone());
            }
            _ => return Err(invalid_body("Your media IDs are invalid.")),
        }
    }
    let reply_to = match body.get("reply").map(|reply| reply.get("in_reply_to_tweet_id")) {
        None => None,
        Some(Some(Value::String(parent))) => {
            let Some(parent_tweet) =
                state.tweets.iter().find(|tweet| tweet.id == *parent && !tweet.deleted)
            else {
                return Err(forbidden(
                    "You attempted to reply to a Tweet that is deleted or not visible to you.",
                ));
            };
            // Self-serve apps may reply only to their own posts or to posts that mention them
            // (publishing.md A.1).
            let mentioned = parent_tweet.shown_text.contains(&format!("@{}", author.username));
            if parent_tweet.author != author.id && !mentioned {
                return Err(refusal_body("reply_restricted", &Value::Null));
            }
            Some(parent.clone())
        }
        Some(_) => {
            return Err(invalid_body("$.reply.in_reply_to_tweet_id: a tweet id is required"));
        }
    };
    let duplicate = text.is_some()
        && state
            .tweets
            .iter()
            .any(|tweet| tweet.author == author.id && !tweet.deleted && tweet.text == text);
    if duplicate {
        return Err(refusal_body("duplicate", &Value::Null));
    }
    Ok(NewPost { text, media_keys, reply_to })
}

pub(super) async fn delete(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    delay(&shared).await;
    let (answer, fault) = {
        let mut state = lock(&shared);
        delete_locked(&mut state, &headers, &id)
    };
    deliver(&shared, answer, fault).await
}

fn delete_locked(
    state: &mut XState,
    headers: &HeaderMap,
    id: &str,
) -> (Response, Option<PublishFault>) {
    let answer = |response: Response| (response, None);
    if let Some(status) = state.faults.outage {
        return answer(problem(status, "Service Unavailable"));
    }
    let issued = match caller(state, headers) {
        Ok(issued) => issued,
        Err(refused) => return answer(refused),
    };
    let window = match spend(state, Endpoint::DeleteTweet) {
        Ok(window) => window,
        Err(refused) => return answer(refused),
    };
    let respond = |response: Response| (window.stamp(response), None);
    if let Err(refused) = require_scopes(&issued, &["tweet.read", "tweet.write", "users.read"]) {
        return respond(refused);
    }
    let Some(index) = state.tweets.iter().position(|tweet| tweet.id == id && !tweet.deleted) else {
        return respond(problem(StatusCode::NOT_FOUND, "Not Found Error"));
    };
    if state.tweets[index].author != issued.account.id {
        return respond(forbidden("You are not allowed to delete this Tweet."));
    }
    let fault = match state.publish_faults.take("delete", true) {
        Some(PublishFault::Refuse { class, details }) => {
            // The refusal carries its own window headers: a rate limit's say nothing is left.
            return (refusal(&class, &details, window), None);
        }
        other => other,
    };
    state.tweets[index].deleted = true;
    (window.stamp(Json(json!({"data": {"deleted": true}})).into_response()), fault)
}
