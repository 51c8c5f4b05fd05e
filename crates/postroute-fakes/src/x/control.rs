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
    }))
}
