//! The fake X's part of the control API (README "Control API").

use super::*;

pub(super) async fn control_faults(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    match lock(&shared).faults.apply(&body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => bad_control(&message).into_response(),
    }
}

pub(super) async fn control_deny(State(shared): State<Shared>) -> StatusCode {
    lock(&shared).deny_next = true;
    StatusCode::NO_CONTENT
}

pub(super) async fn control_account(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(id), Some(username)) = (text("id"), text("username")) else {
        return bad_control("id and username are required").into_response();
    };
    let name = text("name").unwrap_or_else(|| username.clone());
    lock(&shared).account = XFakeAccount { id, username, name };
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn control_revoke(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    let Some(id) = body.get("account_id").and_then(Value::as_str) else {
        return bad_control("account_id is required").into_response();
    };
    revoke_account(&mut lock(&shared), id);
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn control_expire(State(shared): State<Shared>) -> StatusCode {
    for issued in lock(&shared).access.values_mut() {
        issued.expired = true;
    }
    StatusCode::NO_CONTENT
}

pub(super) async fn control_state(State(shared): State<Shared>) -> Json<Value> {
    let state = lock(&shared);
    Json(json!({
        "refreshes": state.refreshes,
        "revoked_tokens": state.revocations,
        "verifiers_seen": state.verifiers,
        "live_refresh_tokens": state.refresh.len(),
        "publish_faults_armed": state.publish_faults.pending(),
        "media": state.media.len(),
    }))
}

/// Arms or clears faults for the next irreversible calls (README "Publishing faults").
pub(super) async fn control_publish_faults(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    match lock(&shared).publish_faults.apply(&body, super::tweets::CLASSES, super::tweets::CALLS) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => bad_control(&message).into_response(),
    }
}

/// `{"media_processing_ms": 1500, "media_processing_fails": false}`
pub(super) async fn control_settings(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = lock(&shared);
    if let Some(after) = body.get("media_processing_ms") {
        let Some(after) = after.as_u64() else {
            return bad_control("media_processing_ms must be a number").into_response();
        };
        state.media_processing = Duration::from_millis(after);
    }
    if let Some(fails) = body.get("media_processing_fails") {
        let Some(fails) = fails.as_bool() else {
            return bad_control("media_processing_fails must be a boolean").into_response();
        };
        state.media_processing_fails = fails;
    }
    StatusCode::NO_CONTENT.into_response()
}

/// Every tweet created on the fake, oldest first.
pub(super) async fn control_published(State(shared): State<Shared>) -> Json<Value> {
    let state = lock(&shared);
    Json(Value::Array(state.tweets.iter().map(|tweet| tweet.record().to_json()).collect()))
}
