//! What publishing shares on the fake Meta: who may publish where, the answers for armed
//! faults (publishing.md B.3), and the delivery of an answer after "created, then 500" or
//! "created, then timeout".

#![expect(
    clippy::result_large_err,
    reason = "the Err is Graph's answer itself, built once and returned at once; boxing buys nothing"
)]

use chrono::{DateTime, Utc};

use super::errors::{throttled, typed_graph_error, unsupported};
use super::nodes::{cursor, offset_of};
use super::*;
use crate::publishing::{PublishFault, detail_text, detail_u64};

/// The calls a publish fault may name (README "Publishing faults").
pub(super) const CALLS: &[&str] = &["feed", "photos", "videos", "media", "media_publish"];
/// The refusal classes a publish fault may name.
pub(super) const CLASSES: &[&str] =
    &["server_error", "rate_limited", "auth_dead", "permission", "duplicate", "graph_error"];

/// Graph's answer for an armed refusal of `class`, before anything was created.
pub(super) fn refusal(class: &str, details: &Value) -> Response {
    let code = |default: i64| details.get("code").and_then(Value::as_i64).unwrap_or(default);
    let subcode = details.get("subcode").and_then(Value::as_i64);
    let status = u16::try_from(detail_u64(details, "status", 400))
        .ok()
        .and_then(|status| StatusCode::from_u16(status).ok())
        .unwrap_or(StatusCode::BAD_REQUEST);
    match class {
        "server_error" => {
            let status = if details.get("status").is_some() {
                status
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            };
            graph_error(
                status,
                code(2),
                subcode,
                "An unexpected error has occurred. Please retry your request later.",
            )
        }
        "rate_limited" => throttled(code(4), detail_u64(details, "reset_in_secs", 300).max(1)),
        "auth_dead" => graph_error(
            StatusCode::BAD_REQUEST,
            190,
            Some(subcode.unwrap_or(463)),
            "Error validating access token: Session has expired.",
        ),
        "permission" => {
            graph_error(StatusCode::FORBIDDEN, code(200), subcode, "(#200) Permissions error")
        }
        "duplicate" => {
            graph_error(StatusCode::BAD_REQUEST, 506, None, "(#506) Duplicate status message")
        }
        _ => {
            let code = code(100);
            let message = detail_text(details, "message").map_or_else(
                || format!("(#{code}) An error the control API asked for"),
                str::to_owned,
            );
            typed_graph_error(status, "OAuthException", code, subcode, &message)
        }
    }
}

/// Graph's answer when the post exists but the answer is lost: code 2, `is_transient`, which is
/// what third parties report from media_publish after the post went live (publishing.md B.3).
pub(super) async fn deliver(
    shared: &Shared,
    answer: Response,
    fault: Option<PublishFault>,
) -> Response {
    let lost = || {
        graph_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            2,
            None,
            "An unexpected error has occurred. Please retry your request later.",
        )
    };
    match fault {
        Some(PublishFault::CreatedThen500) => lost(),
        Some(PublishFault::CreatedThenTimeout) => {
            let hang = lock(shared).publish_faults.hang;
            tokio::time::sleep(hang).await;
            let mut late = lost();
            *late.status_mut() = StatusCode::GATEWAY_TIMEOUT;
            late
        }
        _ => answer,
    }
}

/// The fault armed for `call`, if any: a refusal answers at once, the rest ride along.
pub(super) fn armed(
    state: &mut MetaState,
    call: &str,
    irreversible: bool,
) -> Result<Option<PublishFault>, Response> {
    match state.publish_faults.take(call, irreversible) {
        Some(PublishFault::Refuse { class, details }) => Err(refusal(&class, &details)),
        other => Ok(other),
    }
}

fn missing_permissions(info: &TokenInfo, needed: &[&str]) -> bool {
    !needed.iter().all(|needed| info.scopes.iter().any(|scope| scope == needed))
}

/// The Page a token may publish to: only a Page token of that Page with `pages_manage_posts`
/// and `pages_read_engagement` (platforms.md 2.2).
pub(super) fn page_publisher(
    state: &MetaState,
    info: &TokenInfo,
    method: &Method,
    page_id: &str,
) -> Result<FakePage, Response> {
    let Some(page) = state.pages.iter().find(|page| page.id == page_id) else {
        return Err(unsupported(method, page_id));
    };
    match &info.owner {
        Owner::Page(owner) if owner == page_id => {}
        Owner::Page(_) | Owner::App => return Err(unsupported(method, page_id)),
        Owner::User => {
            return Err(graph_error(
                StatusCode::FORBIDDEN,
                200,
                None,
                "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission",
            ));
        }
    }
    if missing_permissions(info, &["pages_manage_posts", "pages_read_engagement"]) {
        return Err(graph_error(
            StatusCode::FORBIDDEN,
            200,
            None,
            "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin with sufficient administrative permission",
        ));
    }
    Ok(page.clone())
}

/// The Page whose linked Instagram account `ig_id` is, if the token may act for it: a user
/// token of the Page's manager or the Page's own token (platforms.md 2.3).
pub(super) fn instagram_owner(
    state: &MetaState,
    info: &TokenInfo,
    method: &Method,
    ig_id: &str,
) -> Result<FakePage, Response> {
    let page = state
        .pages
        .iter()
        .find(|page| page.instagram.as_ref().is_some_and(|(id, _)| id == ig_id))
        .filter(|page| match &info.owner {
            Owner::User => true,
            Owner::Page(owner) => *owner == page.id,
            Owner::App => false,
        });
    page.cloned().ok_or_else(|| unsupported(method, ig_id))
}

/// `instagram_content_publish` (and `instagram_basic`) for creating and publishing containers.
pub(super) fn require_instagram_publish(info: &TokenInfo) -> Result<(), Response> {
    if missing_permissions(info, &["instagram_basic", "instagram_content_publish"]) {
        return Err(graph_error(
            StatusCode::FORBIDDEN,
            10,
            None,
            "(#10) Application does not have permission for this action",
        ));
    }
    Ok(())
}

/// Graph's time format: `2026-12-01T15:49:01+0000`.
pub(super) fn graph_time(unix_ms: u64) -> String {
    DateTime::<Utc>::from_timestamp_millis(i64::try_from(unix_ms).unwrap_or_default())
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%z")
        .to_string()
}

/// Milliseconds since the epoch.
pub(super) fn unix_ms() -> u64 {
    u64::try_from(Utc::now().timestamp_millis()).unwrap_or_default()
}

/// A fresh numeric object id.
pub(super) fn next_id(state: &mut MetaState, base: u64) -> String {
    state.counter += 1;
    (base + state.counter).to_string()
}

/// A page of `items` after the `after` cursor, with Graph's `paging` (cursors, `next` as a full
/// URL on the fake's host).
pub(super) fn paged(
    state: &MetaState,
    path: &str,
    params: &HashMap<String, String>,
    items: Vec<Value>,
) -> Response {
    let limit: usize =
        params.get("limit").and_then(|limit| limit.parse().ok()).unwrap_or(25).clamp(1, 100);
    let offset = match params.get("after").map(|after| offset_of(after)) {
        None => 0,
        Some(Some(offset)) => offset,
        Some(None) => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                100,
                None,
                "(#100) The after cursor is invalid",
            );
        }
    };
    let total = items.len();
    let data: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    let end = offset + data.len();
    let mut body = json!({"data": data});
    if end > offset {
        body["paging"] = json!({"cursors": {"before": cursor(offset), "after": cursor(end)}});
    }
    if end < total {
        let mut next = Url::parse(&format!("{}{path}", state.graph_base))
            .unwrap_or_else(|_| unreachable!("the base is a URL"));
        {
            let mut query = next.query_pairs_mut();
            for (key, value) in params {
                if !["after", "access_token", "appsecret_proof", "limit"].contains(&key.as_str()) {
                    query.append_pair(key, value);
                }
            }
            query.append_pair("limit", &limit.to_string()).append_pair("after", &cursor(end));
        }
        body["paging"]["next"] = Value::String(next.into());
    }
    Json(body).into_response()
}

/// Every post on the fake, oldest first.
pub(super) fn published(state: &MetaState) -> Vec<PublishedPost> {
    let pages = state.page_posts.iter().map(|post| PublishedPost {
        platform: Platform::Facebook,
        account: post.page.clone(),
        id: post.id.clone(),
        text: post.message.clone().or_else(|| post.link.clone()),
        media: post.media.clone(),
        reply_to: None,
        published_at_ms: post.created_ms,
        deleted: false,
    });
    let instagram = state.ig_media.iter().map(|media| PublishedPost {
        platform: Platform::Instagram,
        account: media.ig_user.clone(),
        id: media.id.clone(),
        text: media.caption.clone(),
        media: media.urls.clone(),
        reply_to: None,
        published_at_ms: media.created_ms,
        deleted: false,
    });
    let mut all: Vec<PublishedPost> = pages.chain(instagram).collect();
    all.sort_by_key(|post| post.published_at_ms);
    all
}
