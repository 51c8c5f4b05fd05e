//! The user timeline reconciliation reads (publishing.md A.5, C): `GET /2/users/:id/tweets`
//! newest first, from `since_id` or a time window, with the `tweet.fields` it asks for and
//! X's paging.

#![expect(
    clippy::result_large_err,
    reason = "the Err is X's answer itself, built once and returned at once; boxing buys nothing"
)]

use chrono::{DateTime, SecondsFormat, Utc};

use super::limits::{Endpoint, caller, require_scopes, spend};
use super::users::invalid_parameter;
use super::*;

/// `tweet.fields` values X accepts (OpenAPI `TweetFields`).
const TWEET_FIELDS: &[&str] = &[
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "media_metadata",
    "non_public_metrics",
    "note_tweet",
    "organic_metrics",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "text",
    "withheld",
];

/// Query parameters of `GET /2/users/:id/tweets`.
const TIMELINE_PARAMETERS: &[&str] = &[
    "end_time",
    "exclude",
    "expansions",
    "max_results",
    "media.fields",
    "pagination_token",
    "place.fields",
    "poll.fields",
    "since_id",
    "start_time",
    "tweet.fields",
    "until_id",
    "user.fields",
];

/// What X shows of a long post's `text`; the rest is in `note_tweet`.
const SHORT_TEXT_CHARS: usize = 280;

/// An opaque pagination token for a timeline offset.
fn cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn offset_of(token: &str) -> Option<usize> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    decoded.strip_prefix("offset:")?.parse().ok()
}

pub(super) async fn timeline(
    State(shared): State<Shared>,
    Path(user_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    if let Some(status) = state.faults.outage {
        return problem(status, "Service Unavailable");
    }
    let issued = match caller(&state, &headers) {
        Ok(issued) => issued,
        Err(refused) => return refused,
    };
    let window = match spend(&mut state, Endpoint::UserTimeline) {
        Ok(window) => window,
        Err(refused) => return refused,
    };
    if let Err(refused) = require_scopes(&issued, &["tweet.read", "users.read"]) {
        return window.stamp(refused);
    }
    window.stamp(match read_timeline(&state, &user_id, &query) {
        Ok(body) => Json(body).into_response(),
        Err(refused) => refused,
    })
}

fn read_timeline(
    state: &XState,
    user_id: &str,
    query: &HashMap<String, String>,
) -> Result<Value, Response> {
    if let Some(name) = query.keys().find(|name| !TIMELINE_PARAMETERS.contains(&name.as_str())) {
        return Err(invalid_parameter(
            name,
            format!(
                "The query parameter [{name}] is not one of [{}]",
                TIMELINE_PARAMETERS.join(",")
            ),
        ));
    }
    let id_param = |name: &str| -> Result<Option<u64>, Response> {
        query
            .get(name)
            .map(|value| {
                value.parse::<u64>().map_err(|_| {
                    invalid_parameter(
                        name,
                        format!("The `{name}` query parameter value [{value}] is not valid"),
                    )
                })
            })
            .transpose()
    };
    let time_param = |name: &str| -> Result<Option<u64>, Response> {
        query
            .get(name)
            .map(|value| {
                DateTime::parse_from_rfc3339(value)
                    .map(|time| u64::try_from(time.timestamp_millis()).unwrap_or_default())
                    .map_err(|_| {
                        invalid_parameter(
                            name,
                            format!(
                                "Invalid '{name}':'{value}'. '{name}' must be a valid RFC3339 time"
                            ),
                        )
                    })
            })
            .transpose()
    };
    let (since_id, until_id) = (id_param("since_id")?, id_param("until_id")?);
    let (start, end) = (time_param("start_time")?, time_param("end_time")?);
    let max_results = match query.get("max_results").map(|value| value.parse::<usize>()) {
        None => 10,
        Some(Ok(count)) if (5..=100).contains(&count) => count,
        Some(_) => {
            return Err(invalid_parameter(
                "max_results",
                "The `max_results` query parameter value is not between 5 and 100".to_owned(),
            ));
        }
    };
    let exclude: Vec<&str> =
        query.get("exclude").map(|value| value.split(',').collect()).unwrap_or_default();
    if let Some(bad) = exclude.iter().find(|value| !["replies", "retweets"].contains(value)) {
        return Err(invalid_parameter(
            "exclude",
            format!("The `exclude` query parameter value [{bad}] is not one of [replies,retweets]"),
        ));
    }
    let mut fields = vec!["id", "text", "edit_history_tweet_ids"];
    for field in query.get("tweet.fields").map(String::as_str).unwrap_or_default().split(',') {
        if field.is_empty() {
            continue;
        }
        if !TWEET_FIELDS.contains(&field) {
            return Err(invalid_parameter(
                "tweet.fields",
                format!(
                    "The `tweet.fields` query parameter value [{field}] is not one of [{}]",
                    TWEET_FIELDS.join(",")
                ),
            ));
        }
        fields.push(field);
    }
    let offset = match query.get("pagination_token") {
        None => 0,
        Some(token) => offset_of(token).ok_or_else(|| {
            invalid_parameter("pagination_token", "The `pagination_token` is not valid".to_owned())
        })?,
    };
    let matching: Vec<&Tweet> = state
        .tweets
        .iter()
        .rev()
        .filter(|tweet| tweet.author == user_id && !tweet.deleted)
        .filter(|tweet| {
            let id: u64 = tweet.id.parse().unwrap_or_default();
            since_id.is_none_or(|since| id > since) && until_id.is_none_or(|until| id < until)
        })
        .filter(|tweet| {
            start.is_none_or(|start| tweet.created_at_ms >= start)
                && end.is_none_or(|end| tweet.created_at_ms <= end)
        })
        .filter(|tweet| !(exclude.contains(&"replies") && tweet.reply_to.is_some()))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(max_results)
        .map(|tweet| tweet_object(state, tweet, &fields))
        .collect();
    if page.is_empty() {
        return Ok(json!({"meta": {"result_count": 0}}));
    }
    let mut meta = json!({
        "result_count": page.len(),
        "newest_id": page[0]["id"],
        "oldest_id": page[page.len() - 1]["id"],
    });
    if offset + page.len() < matching.len() {
        meta["next_token"] = json!(cursor(offset + page.len()));
    }
    Ok(json!({"data": page, "meta": meta}))
}

/// A tweet as the timeline shows it, with the fields asked for.
fn tweet_object(state: &XState, tweet: &Tweet, fields: &[&str]) -> Value {
    let long = tweet.shown_text.chars().count() > SHORT_TEXT_CHARS;
    let created_at = DateTime::<Utc>::from_timestamp_millis(
        i64::try_from(tweet.created_at_ms).unwrap_or_default(),
    )
    .unwrap_or_default()
    .to_rfc3339_opts(SecondsFormat::Millis, true);
    let parent = tweet
        .reply_to
        .as_ref()
        .and_then(|parent| state.tweets.iter().find(|candidate| candidate.id == *parent));
    let mut root = tweet;
    while let Some(up) = root
        .reply_to
        .as_ref()
        .and_then(|parent| state.tweets.iter().find(|candidate| candidate.id == *parent))
    {
        root = up;
    }
    let mut object = serde_json::Map::new();
    for field in fields {
        let value = match *field {
            "id" => json!(tweet.id),
            "text" if long => {
                json!(tweet.shown_text.chars().take(SHORT_TEXT_CHARS).collect::<String>())
            }
            "text" => json!(tweet.shown_text),
            "edit_history_tweet_ids" => json!([tweet.id]),
            "created_at" => json!(created_at),
            "author_id" => json!(tweet.author),
            "conversation_id" => json!(root.id),
            "note_tweet" if long => json!({"text": tweet.shown_text}),
            "attachments" if !tweet.media_keys.is_empty() => {
                json!({"media_keys": tweet.media_keys})
            }
            "referenced_tweets" if tweet.reply_to.is_some() => {
                json!([{"type": "replied_to", "id": tweet.reply_to}])
            }
            "in_reply_to_user_id" if parent.is_some() => {
                json!(parent.map(|parent| parent.author.clone()))
            }
            // Fields the fake has no data for are left out, as X leaves out empty ones.
            _ => continue,
        };
        object.insert((*field).to_owned(), value);
    }
    Value::Object(object)
}
