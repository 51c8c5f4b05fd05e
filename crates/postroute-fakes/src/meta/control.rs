//! The fake Meta's part of the control API (README "Control API").

use super::*;

pub(super) async fn control_faults(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = lock(&shared);
    if let Some(code) =
        body.get("rate_limit").and_then(|limit| limit.get("code")).and_then(Value::as_i64)
    {
        state.throttle_code = code;
    }
    match state.faults.apply(&body) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => bad_control(&message).into_response(),
    }
}

pub(super) async fn control_deny(State(shared): State<Shared>) -> StatusCode {
    lock(&shared).deny_next = true;
    StatusCode::NO_CONTENT
}

/// `[{"id": "502", "name": "Harbour Cafe", "instagram": {"id": "1784", "username": "harbour"}}]`
pub(super) async fn control_pages(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    let Some(list) = body.as_array() else {
        return bad_control("a JSON array of Pages is expected").into_response();
    };
    let mut pages = Vec::new();
    for entry in list {
        let text =
            |value: &Value, name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(id), Some(name)) = (text(entry, "id"), text(entry, "name")) else {
            return bad_control("every Page needs an id and a name").into_response();
        };
        let mut page = FakePage::new(&id, &name);
        if let Some(instagram) = entry.get("instagram").filter(|value| !value.is_null()) {
            let (Some(ig), Some(username)) = (text(instagram, "id"), text(instagram, "username"))
            else {
                return bad_control("instagram needs an id and a username").into_response();
            };
            page = page.with_instagram(&ig, &username);
        }
        pages.push(page);
    }
    lock(&shared).pages = pages;
    StatusCode::NO_CONTENT.into_response()
}

/// `{"subcode": 460}` (password changed) or `463` (expired) or `458` (app removed).
pub(super) async fn control_kill(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    match body.get("subcode").and_then(Value::as_i64) {
        Some(subcode @ (458 | 460 | 463)) => {
            kill_tokens(&mut lock(&shared), subcode);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => bad_control("subcode must be 458, 460 or 463").into_response(),
    }
}

/// `{"require_appsecret_proof": true, "page_size": 1, "container_ready_ms": 1500,
/// "container_lifetime_secs": 86400, "publishing_limit": 100}`
pub(super) async fn control_settings(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    let mut state = lock(&shared);
    if let Some(required) = body.get("require_appsecret_proof") {
        let Some(required) = required.as_bool() else {
            return bad_control("require_appsecret_proof must be a boolean").into_response();
        };
        state.require_proof = required;
    }
    if let Some(size) = body.get("page_size") {
        let Some(size) = size.as_u64().and_then(|size| usize::try_from(size).ok()) else {
            return bad_control("page_size must be a number").into_response();
        };
        state.max_page_size = size.max(1);
    }
    let number = |name: &'static str| body.get(name).map(|value| value.as_u64().ok_or(name));
    match number("container_ready_ms") {
        Some(Ok(ms)) => state.container_ready = Duration::from_millis(ms),
        Some(Err(name)) => return bad_control(&format!("{name} must be a number")).into_response(),
        None => {}
    }
    match number("container_lifetime_secs") {
        Some(Ok(secs)) => state.container_lifetime = Duration::from_secs(secs),
        Some(Err(name)) => return bad_control(&format!("{name} must be a number")).into_response(),
        None => {}
    }
    match number("publishing_limit").map(|limit| limit.map(u32::try_from)) {
        Some(Ok(Ok(limit))) => state.publishing_limit = limit,
        Some(_) => return bad_control("publishing_limit must be a number").into_response(),
        None => {}
    }
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn control_state(State(shared): State<Shared>) -> Json<Value> {
    let state = lock(&shared);
    let count =
        |owner: fn(&Owner) -> bool| state.tokens.values().filter(|info| owner(&info.owner)).count();
    Json(json!({
        "user_tokens": count(|owner| *owner == Owner::User),
        "page_tokens": count(|owner| matches!(owner, Owner::Page(_))),
        "pages": state.pages.iter().map(|page| page.id.clone()).collect::<Vec<_>>(),
        "containers": state.containers.len(),
        "republish_attempts": state.republish_attempts,
        "publish_faults_armed": state.publish_faults.pending(),
    }))
}

/// Arms or clears faults for the next publishing calls (README "Publishing faults").
pub(super) async fn control_publish_faults(
    State(shared): State<Shared>,
    Json(body): Json<Value>,
) -> Response {
    match lock(&shared).publish_faults.apply(&body, super::publish::CLASSES, super::publish::CALLS)
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => bad_control(&message).into_response(),
    }
}

/// Everything published on the fake, oldest first.
pub(super) async fn control_published(State(shared): State<Shared>) -> Json<Value> {
    let state = lock(&shared);
    Json(Value::Array(published(&state).iter().map(PublishedPost::to_json).collect()))
}
