//! `/v1/workspaces/{workspace_id}/media/...` and the signed public links.

use postroute_app::Refusal;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use postroute_domain::{MediaId, MediaKind, WorkspaceId};
use postroute_store::Media;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::edge::security_headers::API_CONTENT_SECURITY_POLICY;
use crate::extract::guard::{Permit, can};
use crate::extract::pagination::{ListQuery, Page, PageParams};
use crate::extract::{PathId, PathIds};
use crate::problem::{ApiError, FieldError};
use crate::rate_limit::{RequestLimit, enforce_for_user};
use crate::rate_limit_headers::insert_rate_limit_headers;
use crate::state::AppState;
use postroute_app::media::{ByteRange, Content, MediaService, RangeRequest, UploadSink, etag};
use postroute_app::rate_limit::{Counting, Quota};

pub use postroute_app::media::UPLOAD_BODY_LIMIT;

/// A file of the media library.
#[derive(Debug, Serialize, ToSchema)]
pub struct MediaView {
    /// Media id.
    pub id: String,
    /// `image` or `video`.
    #[schema(value_type = crate::openapi::schemas::MediaKind)]
    pub kind: MediaKind,
    /// The type decided from the bytes.
    pub mime: String,
    /// Stored size (metadata removed).
    pub size_bytes: i64,
    /// Pixels wide.
    pub width: Option<i32>,
    /// Pixels high.
    pub height: Option<i32>,
    /// Videos: length in milliseconds.
    pub duration_ms: Option<i64>,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
    /// Upload time.
    pub created_at: DateTime<Utc>,
}

impl From<Media> for MediaView {
    fn from(media: Media) -> Self {
        Self {
            id: media.id.to_string(),
            kind: media.kind,
            mime: media.mime,
            size_bytes: media.size_bytes,
            width: media.width,
            height: media.height,
            duration_ms: media.duration_ms,
            sha256: media.sha256,
            created_at: media.created_at,
        }
    }
}

/// The multipart form of an upload. Only the one part is accepted, which `deny_unknown_fields`
/// says in the document.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[expect(dead_code, reason = "describes the request body for the OpenAPI document")]
pub(crate) struct UploadForm {
    /// The file: JPEG, PNG, GIF, WebP, MP4 or QuickTime, at most 50 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A signed public link.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicLinkView {
    /// Fetches the file without credentials until `expires_at`.
    pub url: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

#[derive(Deserialize)]
pub(crate) struct LinkQuery {
    expires: Option<i64>,
    signature: Option<String>,
}

/// The workspace's media library, newest first.
#[utoipa::path(get, operation_id = "list_media", path = "/v1/workspaces/{workspace_id}/media", tag = "media", security(("bearer" = [])),
    params(("workspace_id" = String, Path), PageParams),
    responses((status = 200, description = "A page", body = Page<MediaView>)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    permit: Permit<can::ListMedia>,
    query: ListQuery,
) -> Result<Json<Page<MediaView>>, ApiError> {
    let after = query.cursor_as::<MediaId>()?;
    let media = state.media.list(&permit.member.caller, after, query.fetch_limit()).await?;
    Ok(Json(Page::from_fetched(media, &query, |media| media.id.to_string(), MediaView::from)))
}

/// Upload a file. The type is decided from the bytes (JPEG, PNG, GIF, WebP, MP4, QuickTime);
/// the client's file name and Content-Type are ignored. Metadata (EXIF, GPS, XMP) is removed
/// before storage.
#[utoipa::path(post, path = "/v1/workspaces/{workspace_id}/media", tag = "media", security(("bearer" = [])),
    params(("workspace_id" = String, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "One part, named `file`"),
    responses((status = 201, description = "Stored", body = MediaView),
              (status = 400, description = "The multipart body could not be read (`malformed_request`)", body = crate::problem::Problem),
              (status = 403, description = "A reviewer (`forbidden`)", body = crate::problem::Problem),
              (status = 402, description = "The plan's media storage is full (`plan_required`)", body = crate::problem::Problem),
              (status = 413, description = "Over 50 MiB (`payload_too_large`)", body = crate::problem::Problem),
              (status = 415, description = "Not an accepted type, judged by the bytes, or bytes after the end of the image (`unsupported_media_type`)", body = crate::problem::Problem),
              (status = 422, description = "Empty, truncated or damaged, over 16,384 pixels a side or 40 megapixels, another part than `file` (`validation_failed`)", body = crate::problem::Problem),
              (status = 429, description = "More than 30 uploads in 5 minutes by this user (`rate_limited`)", body = crate::problem::Problem)))]
pub(crate) async fn upload(
    State(state): State<AppState>,
    permit: Permit<can::UploadMedia>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let caller = &permit.member.caller;
    let limits = &state.config.rate_limits;
    let decision = if limits.enabled {
        let limit = RequestLimit {
            limiter: state.limiter.clone(),
            quota: Quota {
                name: "uploads",
                burst: limits.uploads_per_window,
                period: Duration::from_secs(limits.upload_window_secs),
                counting: Counting::Window,
            },
            store: state.store.clone(),
        };
        let path = format!("/v1/workspaces/{}/media", caller.workspace.id);
        Some(enforce_for_user(&limit, caller.user, caller.ip, &path).await?)
    } else {
        None
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    state.media.admit(caller, declared).await?;
    let mut multipart = multipart.map_err(|_| {
        ApiError(Refusal::UnsupportedMediaType(
            "Send the file as multipart/form-data, in one part named `file`.".to_owned(),
        ))
    })?;
    let sink = receive(&state.media, &mut multipart).await?;
    let media = state.media.finish_upload(caller, sink).await?;
    let mut response = (StatusCode::CREATED, Json(MediaView::from(media))).into_response();
    if let Some(decision) = decision {
        insert_rate_limit_headers(response.headers_mut(), &decision);
    }
    Ok(response)
}

/// Streams the one `file` part into a scratch file; any other part is refused.
async fn receive(media: &MediaService, multipart: &mut Multipart) -> Result<UploadSink, ApiError> {
    let only_file = || {
        ApiError(Refusal::Invalid(vec![FieldError::new(
            "file",
            "send one part, named `file`, and nothing else",
        )]))
    };
    let mut received = None;
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        if field.name() != Some("file") || received.is_some() {
            return Err(only_file());
        }
        let mut sink = media.start_upload().await?;
        while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
            sink.write(&chunk).await?;
        }
        received = Some(sink);
    }
    received.ok_or_else(|| {
        ApiError(Refusal::Invalid(vec![FieldError::new(
            "file",
            "the part named `file` is missing",
        )]))
    })
}

fn unreadable(error: MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError(Refusal::PayloadTooLarge)
    } else {
        ApiError(Refusal::Malformed(format!(
            "The multipart body could not be read: {}",
            error.body_text()
        )))
    }
}

/// One file's record.
#[utoipa::path(get, operation_id = "get_media", path = "/v1/workspaces/{workspace_id}/media/{media_id}", tag = "media", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("media_id" = String, Path)),
    responses((status = 200, description = "The file's record", body = MediaView)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    permit: Permit<can::ListMedia>,
    PathId(media): PathId<MediaId>,
) -> Result<Json<MediaView>, ApiError> {
    let media = state.media.get(permit.member.caller.workspace.id, media).await?;
    Ok(Json(media.into()))
}

/// The file's bytes, as a download: `Content-Type` from sniffing, `Content-Disposition:
/// attachment`, and a sandboxing CSP, so a browser never runs or renders it as a page.
#[utoipa::path(get, path = "/v1/workspaces/{workspace_id}/media/{media_id}/content", tag = "media", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("media_id" = String, Path)),
    responses((status = 200, response = crate::openapi::schemas::MediaFile),
              (status = 206, response = crate::openapi::schemas::MediaRange),
              (status = 416, description = "A range outside the file (`range_not_satisfiable`)", body = crate::problem::Problem)))]
pub(crate) async fn content(
    State(state): State<AppState>,
    permit: Permit<can::ListMedia>,
    PathId(media): PathId<MediaId>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let workspace = permit.member.caller.workspace.id;
    let content = state.media.content(workspace, media, requested_range(&headers)).await?;
    Ok(download(content))
}

/// The one byte range a request asks for, if it asks for exactly one in a form we read. Several
/// ranges, other units or malformed values are ignored: the whole file is sent (RFC 9110 14.2).
fn requested_range(headers: &HeaderMap) -> Option<RangeRequest> {
    let range = byte_range(headers)?;
    let if_range = headers
        .get(header::IF_RANGE)
        .map(|value| value.to_str().map(str::to_owned).unwrap_or_default());
    Some(RangeRequest { range, if_range })
}

fn byte_range(headers: &HeaderMap) -> Option<ByteRange> {
    let value = headers.get(header::RANGE)?.to_str().ok()?.trim();
    let spec = value.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    match (first.trim(), last.trim()) {
        ("", count) => count.parse().ok().map(ByteRange::Last),
        (first, "") => first.parse().ok().map(ByteRange::From),
        (first, last) => {
            let (first, last) = (first.parse().ok()?, last.parse().ok()?);
            (first <= last).then_some(ByteRange::FromTo(first, last))
        }
    }
}

/// Delete a file: its record and its bytes.
#[utoipa::path(delete, operation_id = "delete_media", path = "/v1/workspaces/{workspace_id}/media/{media_id}", tag = "media", security(("bearer" = [])),
        params(("workspace_id" = String, Path), ("media_id" = String, Path)),
    responses((status = 204, description = "Deleted, with its stored object"),
              (status = 403, description = "A reviewer (`forbidden`)", body = crate::problem::Problem),
              (status = 409, description = "A post that has not finished publishing holds the file (`conflict`)", body = crate::problem::Problem)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    permit: Permit<can::DeleteMedia>,
    PathId(media): PathId<MediaId>,
) -> Result<StatusCode, ApiError> {
    state.media.delete(&permit.member.caller, media).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A signed link that fetches the file without credentials until it expires (for platforms
/// that fetch media by URL).
#[utoipa::path(post, path = "/v1/workspaces/{workspace_id}/media/{media_id}/public-link", tag = "media", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("media_id" = String, Path)),
    responses((status = 200, description = "The link", body = PublicLinkView),
              (status = 403, description = "A reviewer (`forbidden`)", body = crate::problem::Problem)))]
pub(crate) async fn public_link(
    State(state): State<AppState>,
    permit: Permit<can::UploadMedia>,
    PathId(media): PathId<MediaId>,
) -> Result<Json<PublicLinkView>, ApiError> {
    let link = state.media.public_link(&permit.member.caller, media).await?;
    Ok(Json(PublicLinkView { url: link.url.to_string(), expires_at: link.expires_at }))
}

/// A file, through a signed public link. An unknown or altered link is 404; a genuine one past
/// its expiry is 403.
#[utoipa::path(get, path = "/v1/public/media/{workspace_id}/{media_id}", tag = "media",
    params(("workspace_id" = String, Path), ("media_id" = String, Path), ("expires" = i64, Query), ("signature" = String, Query)),
    responses((status = 200, response = crate::openapi::schemas::MediaFile),
              (status = 206, response = crate::openapi::schemas::MediaRange),
              (status = 400, description = "`expires` is not a whole number of seconds (`bad_request`)", body = crate::problem::Problem),
              (status = 416, description = "A range outside the file (`range_not_satisfiable`)", body = crate::problem::Problem),
              (status = 403, description = "The link has expired", body = crate::problem::Problem),
              (status = 404, description = "Not a link of ours", body = crate::problem::Problem)))]
pub(crate) async fn public_content(
    State(state): State<AppState>,
    PathIds(workspace, media): PathIds<WorkspaceId, MediaId>,
    Query(link): Query<LinkQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (Some(expires), Some(signature)) = (link.expires, link.signature) else {
        return Err(ApiError(Refusal::NotFound));
    };
    let content = state
        .media
        .public_content(workspace, media, expires, &signature, requested_range(&headers))
        .await?;
    Ok(download(content))
}

/// The bytes as an attachment that no browser will render as a page.
/// The whole file or, when one range was granted, that range as 206 Partial Content.
fn download(content: Content) -> Response {
    let Content { media, range, bytes } = content;
    let etag = etag(&media);
    let media = &media;
    let mut response = Body::from_stream(bytes.map(|chunk| {
        chunk.inspect_err(|error| {
            tracing::error!(error = display(&error), "media stream failed midway")
        })
    }))
    .into_response();
    let size = media.size_bytes;
    let headers = response.headers_mut();
    let extension = media.object_key.rsplit('.').next().unwrap_or("bin");
    let mut put = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put(header::CONTENT_TYPE, media.mime.clone());
    put(header::ACCEPT_RANGES, "bytes".to_owned());
    match &range {
        Some(range) => {
            put(header::CONTENT_LENGTH, (range.end - range.start).to_string());
            put(header::CONTENT_RANGE, format!("bytes {}-{}/{size}", range.start, range.end - 1));
        }
        None => put(header::CONTENT_LENGTH, size.to_string()),
    }
    put(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}.{extension}\"", media.id));
    put(header::CONTENT_SECURITY_POLICY, format!("sandbox; {API_CONTENT_SECURITY_POLICY}"));
    put(header::ETAG, etag);
    put(header::CACHE_CONTROL, "private, no-store".to_owned());
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    response
}
