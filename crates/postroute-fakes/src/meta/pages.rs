//! Facebook Page publishing (publishing.md B.1): `/feed` (message, link, `attached_media[i]`),
//! `/photos` (published with `post_id`, or `published=false` for a later multi-photo post),
//! `/videos` (the resumable start / transfer / finish phases, or one request), and the Page's
//! `published_posts` that reconciliation reads.

#![expect(
    clippy::result_large_err,
    reason = "the Err is Graph's answer itself, built once and returned at once; boxing buys nothing"
)]

use super::fields::select;
use super::publish::{armed, graph_time, next_id, page_publisher, paged, unix_ms};
use super::uploads::Upload;
use super::*;
use crate::publishing::PublishFault;

/// Graph picks the transfer chunks; the fake asks for 4 MB at a time.
const VIDEO_CHUNK: u64 = 4 * 1024 * 1024;

/// A post on a Page's timeline.
#[derive(Clone, Debug)]
pub(super) struct PagePost {
    pub id: String,
    pub page: String,
    pub message: Option<String>,
    pub link: Option<String>,
    /// Photo ids (one for `/photos`, several for `attached_media`) or the video id.
    pub media: Vec<String>,
    pub kind: PostKind,
    pub created_ms: u64,
}

/// What a Page post carries, for `attachments{media_type}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PostKind {
    Status,
    Photo,
    Album,
    Video,
}

/// A photo uploaded to a Page.
#[derive(Clone, Debug)]
pub(super) struct Photo {
    page: String,
    published: bool,
    /// The multi-photo post it is attached to.
    attached: bool,
}

/// A resumable video upload in progress.
#[derive(Clone, Debug)]
pub(super) struct VideoUpload {
    page: String,
    video_id: String,
    file_size: u64,
    received: u64,
    finished: bool,
}

/// Page publishing routes, or `None` for a path that is not one.
pub(super) fn route(
    state: &mut MetaState,
    method: &Method,
    object: &str,
    edge: Option<&str>,
    info: &TokenInfo,
    params: &HashMap<String, String>,
    upload: &Upload,
) -> Option<(Response, Option<PublishFault>)> {
    if !state.pages.iter().any(|page| page.id == object) {
        return None;
    }
    let outcome = match (method, edge?) {
        (&Method::POST, "feed") => feed(state, method, object, info, params),
        (&Method::POST, "photos") => photo(state, method, object, info, params, upload),
        (&Method::POST, "videos") => video(state, method, object, info, params, upload),
        (&Method::GET, "published_posts" | "feed") => {
            Ok((published_posts(state, object, edge?, params), None))
        }
        _ => return None,
    };
    Some(outcome.unwrap_or_else(|refused| (refused, None)))
}

type Outcome = Result<(Response, Option<PublishFault>), Response>;

fn parameter_error(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, 100, None, message)
}

fn new_post(state: &mut MetaState, page: &str, kind: PostKind, media: Vec<String>) -> PagePost {
    let id = format!("{page}_{}", next_id(state, 122_000_000_000_000));
    PagePost {
        id,
        page: page.to_owned(),
        message: None,
        link: None,
        media,
        kind,
        created_ms: unix_ms(),
    }
}

fn feed(
    state: &mut MetaState,
    method: &Method,
    page: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
) -> Outcome {
    page_publisher(state, info, method, page)?;
    let message = params.get("message").filter(|message| !message.is_empty()).cloned();
    let link = params.get("link").filter(|link| !link.is_empty()).cloned();
    // `attached_media[0]={"media_fbid":"..."}`, indexed form fields (or one JSON array).
    let mut attached: Vec<(usize, String)> = Vec::new();
    for (key, value) in params {
        let index = key.strip_prefix("attached_media[").and_then(|rest| rest.strip_suffix(']'));
        let entries: Vec<Value> = match (key.as_str(), index) {
            ("attached_media", _) => serde_json::from_str(value).unwrap_or_default(),
            (_, Some(_)) => {
                serde_json::from_str(value).map(|entry| vec![entry]).unwrap_or_default()
            }
            _ => continue,
        };
        let position = index.and_then(|index| index.parse().ok()).unwrap_or(0);
        for (offset, entry) in entries.iter().enumerate() {
            let Some(id) = entry.get("media_fbid").and_then(Value::as_str) else {
                return Err(parameter_error(
                    "(#100) attached_media must hold {\"media_fbid\": id}",
                ));
            };
            attached.push((position + offset, id.to_owned()));
        }
    }
    attached.sort();
    let media: Vec<String> = attached.into_iter().map(|(_, id)| id).collect();
    for id in &media {
        match state.photos.get(id) {
            Some(photo) if photo.page == page && !photo.published && !photo.attached => {}
            _ => {
                return Err(parameter_error(&format!(
                    "(#100) attached_media {id} is not an unpublished photo of this Page"
                )));
            }
        }
    }
    if message.is_none() && link.is_none() && media.is_empty() {
        return Err(parameter_error("(#100) Missing message or attachment"));
    }
    let duplicate = media.is_empty()
        && message.is_some()
        && state
            .page_posts
            .iter()
            .any(|post| post.page == page && post.message == message && post.link == link);
    if duplicate {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            506,
            None,
            "(#506) Duplicate status message",
        ));
    }
    let fault = armed(state, "feed", true)?;
    let kind = match media.len() {
        0 => PostKind::Status,
        1 => PostKind::Photo,
        _ => PostKind::Album,
    };
    for id in &media {
        if let Some(photo) = state.photos.get_mut(id) {
            photo.attached = true;
        }
    }
    let mut post = new_post(state, page, kind, media);
    post.message = message;
    post.link = link;
    let answer = Json(json!({"id": post.id})).into_response();
    state.page_posts.push(post);
    Ok((answer, fault))
}

fn photo(
    state: &mut MetaState,
    method: &Method,
    page: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
    upload: &Upload,
) -> Outcome {
    page_publisher(state, info, method, page)?;
    let bytes = match (upload.files.get("source"), &upload.fetched) {
        (Some(source), _) => source.clone(),
        (None, Some(Ok(fetched))) => fetched.clone(),
        (None, Some(Err(why))) => {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                324,
                None,
                &format!("(#324) Missing or invalid image file: {why}"),
            ));
        }
        (None, None) => return Err(parameter_error("(#324) Requires upload file")),
    };
    if !(bytes.starts_with(b"\xff\xd8\xff")
        || bytes.starts_with(b"\x89PNG")
        || bytes.starts_with(b"GIF8"))
    {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            324,
            None,
            "(#324) Missing or invalid image file",
        ));
    }
    let published = params.get("published").is_none_or(|value| value != "false");
    let fault = armed(state, "photos", published)?;
    let id = next_id(state, 123_000_000_000_000);
    state.photos.insert(id.clone(), Photo { page: page.to_owned(), published, attached: false });
    if !published {
        return Ok((Json(json!({"id": id})).into_response(), fault));
    }
    let mut post = new_post(state, page, PostKind::Photo, vec![id.clone()]);
    post.message = params.get("caption").or_else(|| params.get("message")).cloned();
    let answer = Json(json!({"id": id, "post_id": post.id})).into_response();
    state.page_posts.push(post);
    Ok((answer, fault))
}

fn video(
    state: &mut MetaState,
    method: &Method,
    page: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
    upload: &Upload,
) -> Outcome {
    page_publisher(state, info, method, page)?;
    let session = |state: &mut MetaState| -> Result<String, Response> {
        let id = params.get("upload_session_id").cloned().unwrap_or_default();
        match state.video_uploads.get(&id) {
            Some(upload) if upload.page == page && !upload.finished => Ok(id),
            _ => Err(parameter_error("(#100) Invalid upload_session_id")),
        }
    };
    let publish =
        |state: &mut MetaState, video_id: String, description: Option<String>| -> Outcome {
            let fault = armed(state, "videos", true)?;
            let mut post = new_post(state, page, PostKind::Video, vec![video_id.clone()]);
            post.message = description;
            state.page_posts.push(post);
            Ok((Json(json!({"success": true, "id": video_id})).into_response(), fault))
        };
    match params.get("upload_phase").map(String::as_str) {
        Some("start") => {
            let Some(size) = params
                .get("file_size")
                .and_then(|size| size.parse::<u64>().ok())
                .filter(|size| *size > 0)
            else {
                return Err(parameter_error("(#100) file_size is required to start an upload"));
            };
            let session_id = next_id(state, 124_000_000_000_000);
            let video_id = next_id(state, 125_000_000_000_000);
            state.video_uploads.insert(
                session_id.clone(),
                VideoUpload {
                    page: page.to_owned(),
                    video_id: video_id.clone(),
                    file_size: size,
                    received: 0,
                    finished: false,
                },
            );
            let answer = json!({
                "upload_session_id": session_id,
                "video_id": video_id,
                "start_offset": "0",
                "end_offset": size.min(VIDEO_CHUNK).to_string(),
            });
            Ok((Json(answer).into_response(), None))
        }
        Some("transfer") => {
            let id = session(state)?;
            let chunk = upload.files.get("video_file_chunk").cloned().unwrap_or_default();
            let Some(upload) = state.video_uploads.get_mut(&id) else {
                return Err(parameter_error("(#100) Invalid upload_session_id"));
            };
            let start = params.get("start_offset").and_then(|offset| offset.parse::<u64>().ok());
            if start != Some(upload.received)
                || chunk.is_empty()
                || upload.received + chunk.len() as u64 > upload.file_size
            {
                return Err(graph_error(
                    StatusCode::BAD_REQUEST,
                    6001,
                    None,
                    "There was a problem uploading your video file. Please try again with another file.",
                ));
            }
            upload.received += chunk.len() as u64;
            let end = (upload.received + VIDEO_CHUNK).min(upload.file_size);
            let answer =
                json!({"start_offset": upload.received.to_string(), "end_offset": end.to_string()});
            Ok((Json(answer).into_response(), None))
        }
        Some("finish") => {
            let id = session(state)?;
            let Some(upload) = state.video_uploads.get(&id).cloned() else {
                return Err(parameter_error("(#100) Invalid upload_session_id"));
            };
            if upload.received != upload.file_size {
                return Err(graph_error(
                    StatusCode::BAD_REQUEST,
                    6001,
                    None,
                    "There was a problem uploading your video file: the upload is incomplete.",
                ));
            }
            let outcome =
                publish(state, upload.video_id.clone(), params.get("description").cloned())?;
            if let Some(upload) = state.video_uploads.get_mut(&id) {
                upload.finished = true;
            }
            Ok(outcome)
        }
        Some(other) => Err(parameter_error(&format!(
            "(#100) upload_phase {other} is not start, transfer or finish"
        ))),
        None => {
            // One request: the file as `source`, or `file_url` that Graph fetches.
            let bytes = match (upload.files.get("source"), &upload.fetched) {
                (Some(source), _) => source.clone(),
                (None, Some(Ok(fetched))) => fetched.clone(),
                _ => {
                    return Err(graph_error(
                        StatusCode::BAD_REQUEST,
                        6000,
                        None,
                        "There was a problem uploading your video file.",
                    ));
                }
            };
            if bytes.is_empty() {
                return Err(graph_error(
                    StatusCode::BAD_REQUEST,
                    6000,
                    None,
                    "There was a problem uploading your video file.",
                ));
            }
            let video_id = next_id(state, 125_000_000_000_000);
            publish(state, video_id, params.get("description").cloned())
        }
    }
}

/// `GET /{page-id}/published_posts` (and `/feed`, which would add visitors' posts; the fake has
/// none): newest first, `fields` honoured, paged.
fn published_posts(
    state: &mut MetaState,
    page: &str,
    edge: &str,
    params: &HashMap<String, String>,
) -> Response {
    let fields = match params.get("fields") {
        Some(text) => Fields::parse(text),
        None => Fields::parse("created_time,message,id"),
    };
    let fields = match fields {
        Ok(fields) => fields,
        Err(message) => return parameter_error(&message),
    };
    let mut items = Vec::new();
    for post in state.page_posts.iter().rev().filter(|post| post.page == page) {
        let media_type = match post.kind {
            PostKind::Status if post.link.is_some() => Some("link"),
            PostKind::Status => None,
            PostKind::Photo => Some("photo"),
            PostKind::Album => Some("album"),
            PostKind::Video => Some("video"),
        };
        let permalink = format!("https://www.facebook.com/{}", post.id.replace('_', "/posts/"));
        let mut full = json!({
            "id": post.id,
            "created_time": graph_time(post.created_ms),
            "permalink_url": permalink,
            "is_published": true,
            "status_type": match post.kind {
                PostKind::Video => "added_video",
                PostKind::Photo | PostKind::Album => "added_photos",
                PostKind::Status => "mobile_status_update",
            },
        });
        if let Some(message) = &post.message {
            full["message"] = json!(message);
        }
        if let Some(media_type) = media_type {
            let sub: Vec<Value> = post
                .media
                .iter()
                .map(|id| json!({"media_type": "photo", "target": {"id": id}}))
                .collect();
            let mut attachment =
                json!({"media_type": media_type, "target": {"id": post.media.first()}});
            if post.kind == PostKind::Album {
                attachment["subattachments"] = json!({"data": sub});
            }
            full["attachments"] = json!({"data": [attachment]});
        }
        match select(&full, &fields, "Post") {
            Ok(selected) => items.push(selected),
            Err(message) => return parameter_error(&message),
        }
    }
    paged(state, &format!("{page}/{edge}"), params, items)
}
