//! Instagram content publishing (publishing.md B.2, C): containers made from public media URLs
//! (image, carousel children and parent, reels) whose `status_code` moves IN_PROGRESS →
//! FINISHED after the configured time → PUBLISHED after `media_publish`, or EXPIRED once their
//! lifetime passes; `content_publishing_limit` over a rolling day; the account's `/media`
//! listing and media reads that reconciliation uses.

#![expect(
    clippy::result_large_err,
    reason = "the Err is Graph's answer itself, built once and returned at once; boxing buys nothing"
)]

use std::time::Instant;

use super::errors::unsupported;
use super::fields::select;
use super::publish::{
    armed, graph_time, instagram_owner, next_id, paged, require_instagram_publish, unix_ms,
};
use super::uploads::Upload;
use super::*;
use crate::publishing::PublishFault;

/// A carousel holds 2 to 10 children.
const CAROUSEL_CHILDREN: std::ops::RangeInclusive<usize> = 2..=10;
/// The rolling window of `content_publishing_limit`.
const QUOTA_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

/// What a container will publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ContainerKind {
    Image,
    Video,
    Reels,
    Carousel,
}

/// A media container on an Instagram account.
#[derive(Clone, Debug)]
pub(super) struct Container {
    ig_user: String,
    kind: ContainerKind,
    carousel_item: bool,
    url: Option<String>,
    caption: Option<String>,
    children: Vec<String>,
    ready_at: Instant,
    expires_at: Instant,
    /// The fetched file was not something Instagram can publish (a video that is not MP4/MOV).
    error: bool,
    /// The media id it became.
    published: Option<String>,
}

/// A published Instagram post.
#[derive(Clone, Debug)]
pub(super) struct IgMedia {
    pub id: String,
    pub ig_user: String,
    pub caption: Option<String>,
    pub urls: Vec<String>,
    kind: ContainerKind,
    pub created_ms: u64,
}

impl Container {
    fn status_code(&self, now: Instant) -> &'static str {
        if self.published.is_some() {
            "PUBLISHED"
        } else if now >= self.expires_at {
            "EXPIRED"
        } else if self.error {
            "ERROR"
        } else if now >= self.ready_at {
            "FINISHED"
        } else {
            "IN_PROGRESS"
        }
    }
}

/// `children` as Graph takes it: `id1,id2` or the JSON list facebook-business sends.
fn children_of(list: &str) -> Vec<String> {
    if let Ok(ids) = serde_json::from_str::<Vec<Value>>(list) {
        return ids
            .iter()
            .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_owned))
            .collect();
    }
    list.split(',').map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()).collect()
}

fn parameter_error(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, 100, None, message)
}

/// Instagram routes, or `None` for a path that is not one.
#[expect(clippy::too_many_arguments, reason = "one request's parts, passed through once")]
pub(super) fn route(
    state: &mut MetaState,
    method: &Method,
    object: &str,
    edge: Option<&str>,
    info: &TokenInfo,
    params: &HashMap<String, String>,
    upload: &Upload,
    fields: Option<&Fields>,
) -> Option<(Response, Option<PublishFault>)> {
    let is_account =
        state.pages.iter().any(|page| page.instagram.as_ref().is_some_and(|(id, _)| id == object));
    let outcome = match (method, edge) {
        (&Method::POST, Some("media")) if is_account => {
            create(state, method, object, info, params, upload)
        }
        (&Method::POST, Some("media_publish")) if is_account => {
            publish(state, method, object, info, params)
        }
        (&Method::GET, Some("media")) if is_account => {
            listing(state, method, object, info, params, fields).map(|answer| (answer, None))
        }
        (&Method::GET, Some("content_publishing_limit")) if is_account => {
            limit(state, method, object, info, fields).map(|answer| (answer, None))
        }
        (&Method::GET, None) if state.containers.contains_key(object) => {
            read_container(state, method, object, info, fields).map(|answer| (answer, None))
        }
        (&Method::GET, None) if state.ig_media.iter().any(|media| media.id == object) => {
            read_media(state, method, object, info, fields).map(|answer| (answer, None))
        }
        _ => return None,
    };
    Some(outcome.unwrap_or_else(|refused| (refused, None)))
}

/// Instagram answers a URL it cannot fetch, or a file that is not a photo or video, at
/// container creation: 9004 / 2207052, before anything exists (publishing.md B.2).
fn fetch_failed() -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        9004,
        Some(2_207_052),
        "Only photo or video can be accepted as media type.",
    )
}

fn create(
    state: &mut MetaState,
    method: &Method,
    ig_user: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
    upload: &Upload,
) -> Result<(Response, Option<PublishFault>), Response> {
    instagram_owner(state, info, method, ig_user)?;
    require_instagram_publish(info)?;
    let media_type = params.get("media_type").map(String::as_str).unwrap_or_default();
    let carousel_item = params.get("is_carousel_item").is_some_and(|value| value == "true");
    let caption = params.get("caption").cloned();
    let now = Instant::now();
    let (kind, url, children) = match media_type {
        "CAROUSEL" => {
            let children =
                children_of(params.get("children").map(String::as_str).unwrap_or_default());
            if !CAROUSEL_CHILDREN.contains(&children.len()) {
                return Err(parameter_error("(#100) A carousel needs between 2 and 10 children"));
            }
            for child in &children {
                match state.containers.get(child) {
                    Some(container)
                        if container.ig_user == ig_user
                            && container.carousel_item
                            && container.published.is_none()
                            && container.status_code(now) != "EXPIRED" => {}
                    _ => {
                        return Err(parameter_error(&format!(
                            "(#100) The carousel child {child} is not a carousel item container of this account"
                        )));
                    }
                }
            }
            (ContainerKind::Carousel, None, children)
        }
        "REELS" | "VIDEO" => {
            let Some(url) = params.get("video_url") else {
                return Err(parameter_error("(#100) The parameter video_url is required"));
            };
            let kind =
                if media_type == "REELS" { ContainerKind::Reels } else { ContainerKind::Video };
            (kind, Some(url.clone()), Vec::new())
        }
        "" | "IMAGE" => {
            let Some(url) = params.get("image_url") else {
                return Err(parameter_error("(#100) The parameter image_url is required"));
            };
            (ContainerKind::Image, Some(url.clone()), Vec::new())
        }
        other => {
            return Err(parameter_error(&format!("(#100) media_type {other} is not supported")));
        }
    };
    let mut error = false;
    if url.is_some() {
        let Some(Ok(bytes)) = &upload.fetched else {
            return Err(fetch_failed());
        };
        match kind {
            // Instagram takes JPEG only for feed images.
            ContainerKind::Image if !bytes.starts_with(b"\xff\xd8\xff") => {
                return Err(fetch_failed());
            }
            // A video that is not MP4 or MOV is accepted, then fails processing.
            ContainerKind::Video | ContainerKind::Reels => {
                error = bytes.len() < 12 || &bytes[4..8] != b"ftyp";
            }
            _ => {}
        }
    }
    let fault = armed(state, "media", false)?;
    let ready_at = match kind {
        ContainerKind::Carousel => children
            .iter()
            .filter_map(|child| state.containers.get(child).map(|container| container.ready_at))
            .max()
            .unwrap_or(now)
            .max(now + state.container_ready / 2),
        _ => now + state.container_ready,
    };
    let id = next_id(state, 17_890_000_000_000_000);
    state.containers.insert(
        id.clone(),
        Container {
            ig_user: ig_user.to_owned(),
            kind,
            carousel_item,
            url,
            caption,
            children,
            ready_at,
            expires_at: now + state.container_lifetime,
            error,
            published: None,
        },
    );
    Ok((Json(json!({"id": id})).into_response(), fault))
}

fn publish(
    state: &mut MetaState,
    method: &Method,
    ig_user: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
) -> Result<(Response, Option<PublishFault>), Response> {
    instagram_owner(state, info, method, ig_user)?;
    require_instagram_publish(info)?;
    let Some(creation_id) = params.get("creation_id") else {
        return Err(parameter_error("(#100) The parameter creation_id is required."));
    };
    let Some(container) =
        state.containers.get(creation_id).filter(|container| container.ig_user == ig_user).cloned()
    else {
        return Err(unsupported(method, creation_id));
    };
    if container.carousel_item {
        return Err(parameter_error("(#100) A carousel item is published through its carousel"));
    }
    match container.status_code(Instant::now()) {
        "FINISHED" => {}
        "PUBLISHED" => {
            // What Instagram does with a second media_publish is not documented; the fake
            // refuses it and counts it, so a test can assert it never happens.
            state.republish_attempts += 1;
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                9007,
                Some(2_207_027),
                "Media ID is not available: the container was already published",
            ));
        }
        _ => {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                9007,
                Some(2_207_027),
                "Media ID is not available",
            ));
        }
    }
    let since = unix_ms().saturating_sub(QUOTA_WINDOW_MS);
    let used = state
        .ig_media
        .iter()
        .filter(|media| media.ig_user == ig_user && media.created_ms > since)
        .count();
    if used >= state.publishing_limit as usize {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            9,
            Some(2_207_042),
            "You have reached the maximum number of posts that is allowed for this account in a 24 hour period.",
        ));
    }
    let fault = armed(state, "media_publish", true)?;
    let urls = if container.kind == ContainerKind::Carousel {
        container
            .children
            .iter()
            .filter_map(|child| state.containers.get(child).and_then(|child| child.url.clone()))
            .collect()
    } else {
        container.url.iter().cloned().collect()
    };
    let id = next_id(state, 17_910_000_000_000_000);
    if let Some(published) = state.containers.get_mut(creation_id) {
        published.published = Some(id.clone());
    }
    state.ig_media.push(IgMedia {
        id: id.clone(),
        ig_user: ig_user.to_owned(),
        caption: container.caption,
        urls,
        kind: container.kind,
        created_ms: unix_ms(),
    });
    Ok((Json(json!({"id": id})).into_response(), fault))
}

fn read_container(
    state: &MetaState,
    method: &Method,
    id: &str,
    info: &TokenInfo,
    fields: Option<&Fields>,
) -> Result<Response, Response> {
    let Some(container) = state.containers.get(id) else {
        return Err(unsupported(method, id));
    };
    instagram_owner(state, info, method, &container.ig_user)
        .map_err(|_| unsupported(method, id))?;
    let status_code = container.status_code(Instant::now());
    let status = match status_code {
        "FINISHED" => {
            "Finished: Media has been uploaded and it is ready to be published.".to_owned()
        }
        "IN_PROGRESS" => "In Progress: Media is still being processed.".to_owned(),
        "PUBLISHED" => "Published: Media has been published.".to_owned(),
        "EXPIRED" => "Expired: The container was not published within 24 hours.".to_owned(),
        _ => "Error: Media upload has failed with error code 2207026".to_owned(),
    };
    let full = json!({"id": id, "status_code": status_code, "status": status});
    let default = Fields::parse("id").unwrap_or_default();
    select(&full, fields.unwrap_or(&default), "ShadowIGMediaBuilder")
        .map(|selected| Json(selected).into_response())
        .map_err(|message| parameter_error(&message))
}

fn media_object(media: &IgMedia, username: &str) -> Value {
    let (media_type, product) = match media.kind {
        ContainerKind::Image => ("IMAGE", "FEED"),
        ContainerKind::Carousel => ("CAROUSEL_ALBUM", "FEED"),
        ContainerKind::Video | ContainerKind::Reels => ("VIDEO", "REELS"),
    };
    let shortcode = URL_SAFE_NO_PAD.encode(media.id.as_bytes());
    let permalink = format!("https://www.instagram.com/p/{shortcode}/");
    let mut object = json!({
        "id": media.id,
        "media_type": media_type,
        "media_product_type": product,
        "timestamp": graph_time(media.created_ms),
        "permalink": permalink,
        "username": username,
        "media_url": media.urls.first(),
    });
    if let Some(caption) = &media.caption {
        object["caption"] = json!(caption);
    }
    object
}

fn listing(
    state: &MetaState,
    method: &Method,
    ig_user: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
    fields: Option<&Fields>,
) -> Result<Response, Response> {
    let page = instagram_owner(state, info, method, ig_user)?;
    let username = page.instagram.map(|(_, username)| username).unwrap_or_default();
    let default = Fields::parse("id").unwrap_or_default();
    let mut items = Vec::new();
    for media in state.ig_media.iter().rev().filter(|media| media.ig_user == ig_user) {
        let selected =
            select(&media_object(media, &username), fields.unwrap_or(&default), "IGMedia")
                .map_err(|message| parameter_error(&message))?;
        items.push(selected);
    }
    Ok(paged(state, &format!("{ig_user}/media"), params, items))
}

fn read_media(
    state: &MetaState,
    method: &Method,
    id: &str,
    info: &TokenInfo,
    fields: Option<&Fields>,
) -> Result<Response, Response> {
    let Some(media) = state.ig_media.iter().find(|media| media.id == id) else {
        return Err(unsupported(method, id));
    };
    let page = instagram_owner(state, info, method, &media.ig_user)
        .map_err(|_| unsupported(method, id))?;
    let username = page.instagram.map(|(_, username)| username).unwrap_or_default();
    let default = Fields::parse("id").unwrap_or_default();
    select(&media_object(media, &username), fields.unwrap_or(&default), "IGMedia")
        .map(|selected| Json(selected).into_response())
        .map_err(|message| parameter_error(&message))
}

fn limit(
    state: &MetaState,
    method: &Method,
    ig_user: &str,
    info: &TokenInfo,
    fields: Option<&Fields>,
) -> Result<Response, Response> {
    instagram_owner(state, info, method, ig_user)?;
    let since = unix_ms().saturating_sub(QUOTA_WINDOW_MS);
    let used = state
        .ig_media
        .iter()
        .filter(|media| media.ig_user == ig_user && media.created_ms > since)
        .count();
    let full = json!({
        "quota_usage": used,
        "config": {"quota_total": state.publishing_limit, "quota_duration": QUOTA_WINDOW_MS / 1000},
    });
    let default = Fields::parse("quota_usage").unwrap_or_default();
    let selected = select(&full, fields.unwrap_or(&default), "ContentPublishingLimit")
        .map_err(|message| parameter_error(&message))?;
    Ok(Json(json!({"data": [selected]})).into_response())
}
