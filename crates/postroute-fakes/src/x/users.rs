//! `GET /2/users/me`: the default fields or those `user.fields` asks for, the scopes it needs,
//! and X's rate-limit headers on every answer (platforms.md 1.4).

use super::limits::{Endpoint, caller, require_scopes, spend};
use super::*;

/// The `user.fields` values X accepts (OpenAPI `UserFields`).
pub(super) const USER_FIELDS: &[&str] = &[
    "affiliation",
    "confirmed_email",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "most_recent_tweet_id",
    "name",
    "parody",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
];

/// X's invalid-request problem for a query parameter it does not accept.
pub(super) fn invalid_parameter(parameter: &str, message: String) -> Response {
    problem_body(
        StatusCode::BAD_REQUEST,
        json!({
            "errors": [{"parameters": {parameter: []}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }),
    )
}

/// The user object with every field the fake knows; `user.fields` picks from it.
pub(super) fn user_object(account: &XFakeAccount) -> Value {
    json!({
        "id": account.id,
        "name": account.name,
        "username": account.username,
        "profile_image_url":
            format!("https://pbs.twimg.com/profile_images/{}/avatar_normal.jpg", account.id),
        "created_at": "2020-01-01T00:00:00.000Z",
        "description": "",
        "protected": false,
        "verified": false,
        "verified_type": "none",
        "url": "",
        "public_metrics": {
            "followers_count": 10,
            "following_count": 5,
            "tweet_count": 20,
            "listed_count": 0,
            "like_count": 3,
        },
    })
}

pub(super) async fn me(
    State(shared): State<Shared>,
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
    let window = match spend(&mut state, Endpoint::Me) {
        Ok(window) => window,
        Err(refused) => return refused,
    };
    let respond = |response: Response| window.stamp(response);
    if let Err(refused) = require_scopes(&issued, &["tweet.read", "users.read"]) {
        return respond(refused);
    }
    for name in query.keys() {
        if !["user.fields", "expansions", "tweet.fields"].contains(&name.as_str()) {
            return respond(invalid_parameter(
                name,
                format!(
                    "The query parameter [{name}] is not one of [expansions,tweet.fields,user.fields]"
                ),
            ));
        }
    }
    // Without `user.fields` X sends the default fields only.
    let mut wanted = vec!["id", "name", "username"];
    for field in query.get("user.fields").map(String::as_str).unwrap_or_default().split(',') {
        if field.is_empty() {
            continue;
        }
        if !USER_FIELDS.contains(&field) {
            return respond(invalid_parameter(
                "user.fields",
                format!(
                    "The `user.fields` query parameter value [{field}] is not one of [{}]",
                    USER_FIELDS.join(",")
                ),
            ));
        }
        wanted.push(field);
    }
    let full = user_object(&issued.account);
    let data: serde_json::Map<String, Value> = wanted
        .iter()
        .filter_map(|field| full.get(*field).map(|value| ((*field).to_owned(), value.clone())))
        .collect();
    respond(Json(json!({ "data": data })).into_response())
}
