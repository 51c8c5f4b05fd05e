//! Media upload v2 (publishing.md A.4): the one-shot `POST /2/media/upload` for images and GIFs,
//! the chunked `initialize` (JSON) / `append` (multipart, `segment_index`) / `finalize` flow,
//! and `GET /2/media/upload?command=STATUS`, whose `processing_info.state` goes pending →
//! in_progress → succeeded (or failed) over a time the control API sets. A tweet may attach a
//! media id only once it is ready.

#![expect(
    clippy::result_large_err,
    reason = "the Err is X's answer itself, built once and returned at once; boxing buys nothing"
)]

use std::collections::BTreeMap;

use axum::extract::{FromRequest, Multipart};
use axum::http::Extensions;

use super::limits::{Endpoint, Window, caller, require_scopes, spend};
use super::*;

/// Finalize says the id is good for a day (`expires_after_secs` in the reference example).
const MEDIA_LIFETIME_SECS: u64 = 86_400;
/// The largest `append` segment the server takes (clients should keep to 5 MB).
const MAX_SEGMENT_BYTES: usize = 8 * 1024 * 1024;
/// The fields of the initialize schema, which allows no others.
const INITIALIZE_FIELDS: &[&str] =
    &["media_type", "total_bytes", "media_category", "additional_owners", "shared"];

/// An uploaded (or uploading) media object.
#[derive(Clone, Debug)]
pub(super) struct Media {
    pub id: String,
    pub key: String,
    pub owner: String,
    category: String,
    total_bytes: u64,
    segments: BTreeMap<u64, usize>,
    finalized: bool,
    /// When processing ends, and whether it fails; `None` needs none (images).
    processing: Option<(Instant, bool)>,
    expires_at: u64,
}

impl Media {
    /// Whether a tweet may attach it: finalized, processed, not expired.
    pub fn ready(&self) -> bool {
        self.finalized
            && self.expires_at > unix_now()
            && self.processing.is_none_or(|(done_at, fails)| Instant::now() >= done_at && !fails)
    }

    fn processing_info(&self) -> Option<Value> {
        let (done_at, fails) = self.processing?;
        let left = done_at.saturating_duration_since(Instant::now());
        Some(if !left.is_zero() {
            json!({
                "state": "in_progress",
                "check_after_secs": left.as_secs().max(1),
                "progress_percent": 50,
            })
        } else if fails {
            json!({
                "state": "failed",
                "progress_percent": 100,
                "error": {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"},
            })
        } else {
            json!({"state": "succeeded", "progress_percent": 100})
        })
    }

    fn answer(&self) -> Value {
        let mut data = json!({
            "id": self.id,
            "media_key": self.key,
            "size": self.total_bytes,
            "expires_after_secs": self.expires_at.saturating_sub(unix_now()),
        });
        if let Some(info) = self.processing_info() {
            data["processing_info"] = info;
        }
        json!({ "data": data })
    }
}

/// Media categories and the most bytes each takes (initialize reference: 8 GB video for
/// default accounts, 5 MB images, 15 MB GIFs).
fn category_limit(category: &str) -> Option<u64> {
    match category {
        "tweet_image" | "dm_image" => Some(5 * 1024 * 1024),
        "tweet_gif" | "dm_gif" => Some(15 * 1024 * 1024),
        "tweet_video" | "amplify_video" | "dm_video" => Some(8 * 1024 * 1024 * 1024),
        "subtitles" => Some(1024 * 1024),
        _ => None,
    }
}

/// The media key's type prefix: 3 photo, 7 video, 13 amplify video, 16 GIF.
fn key_prefix(category: &str) -> u8 {
    match category {
        "tweet_video" | "dm_video" => 7,
        "amplify_video" => 13,
        "tweet_gif" | "dm_gif" => 16,
        _ => 3,
    }
}

/// The image type `bytes` start like, if X takes it: PNG, JPEG, GIF or WebP.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG") {
        Some("image/png")
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF8") {
        Some("image/gif")
    } else if bytes.len() > 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

fn invalid(message: &str) -> Response {
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

/// The parts of an upload body by name: multipart (`media` as raw bytes), or JSON with `media`
/// in base64, both of which the v2 reference takes. `extensions` are the request's: they carry
/// the router's body limit, without which multipart stops at axum's default 2 MB, well under
/// the 8 MB segments X takes.
async fn parts(
    headers: &HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Result<HashMap<String, Bytes>, Response> {
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or_default();
    if content_type.starts_with("application/json") {
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
            return Err(invalid("The request body is not a JSON object"));
        };
        let mut parts = HashMap::new();
        for (name, value) in fields {
            let bytes = match (name.as_str(), value) {
                ("media", Value::String(encoded)) => STANDARD
                    .decode(encoded)
                    .map_err(|_| invalid("media must be base64 in a JSON body"))?,
                (_, Value::String(text)) => text.into_bytes(),
                (_, other) => other.to_string().into_bytes(),
            };
            parts.insert(name, Bytes::from(bytes));
        }
        return Ok(parts);
    }
    let mut request = axum::http::Request::new(axum::body::Body::from(body));
    *request.extensions_mut() = extensions;
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        request.headers_mut().insert(header::CONTENT_TYPE, value.clone());
    }
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|_| invalid("A multipart/form-data or JSON body is required"))?;
    let mut parts = HashMap::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_owned();
                let bytes =
                    field.bytes().await.map_err(|_| invalid("The multipart body is malformed"))?;
                parts.insert(name, bytes);
            }
            Ok(None) => return Ok(parts),
            Err(_) => return Err(invalid("The multipart body is malformed")),
        }
    }
}

/// Outage, token, window and `media.write`, in X's order; the window for the answer's headers.
fn admit(
    state: &mut XState,
    headers: &HeaderMap,
    endpoint: Endpoint,
) -> Result<(Issued, Window), Response> {
    if let Some(status) = state.faults.outage {
        return Err(problem(status, "Service Unavailable"));
    }
    let issued = caller(state, headers)?;
    let window = spend(state, &issued.account.id, endpoint)?;
    require_scopes(&issued, &["media.write"]).map_err(|refused| window.stamp(refused))?;
    Ok((issued, window))
}

fn new_media(state: &mut XState, owner: &str, category: &str, total_bytes: u64) -> Media {
    state.counter += 1;
    let id = (1_880_000_000_000_000_000_u64 + state.counter).to_string();
    Media {
        key: format!("{}_{id}", key_prefix(category)),
        id,
        owner: owner.to_owned(),
        category: category.to_owned(),
        total_bytes,
        segments: BTreeMap::new(),
        finalized: false,
        processing: None,
        expires_at: unix_now() + MEDIA_LIFETIME_SECS,
    }
}

/// `POST /2/media/upload`: an image or GIF in one multipart request.
pub(super) async fn upload(
    State(shared): State<Shared>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    delay(&shared).await;
    let parts = parts(&headers, extensions, body).await;
    let mut state = lock(&shared);
    let (issued, window) = match admit(&mut state, &headers, Endpoint::MediaUpload) {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let parts = match parts {
        Ok(parts) => parts,
        Err(refused) => return window.stamp(refused),
    };
    // The v1.1 `command=INIT` form: the v2 reference says not to send it here.
    if parts.contains_key("command") {
        return window
            .stamp(invalid("command is not accepted here; use /2/media/upload/initialize"));
    }
    // The reference marks `media_category` required on the one-shot upload (platforms.md 1.3).
    let Some(category) =
        parts.get("media_category").map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    else {
        return window.stamp(invalid("media_category is required"));
    };
    let Some(media) = parts.get("media").filter(|media| !media.is_empty()) else {
        return window.stamp(invalid("media is required"));
    };
    let Some(limit) = category_limit(&category) else {
        return window.stamp(invalid(&format!("media_category [{category}] is not valid")));
    };
    if !["tweet_image", "tweet_gif", "dm_image", "dm_gif"].contains(&category.as_str()) {
        return window
            .stamp(invalid("video must be uploaded with initialize, append and finalize"));
    }
    let Some(kind) = image_type(media) else {
        return window.stamp(invalid("media type unrecognized"));
    };
    if media.len() as u64 > limit {
        return window.stamp(invalid(&format!("media is larger than {limit} bytes")));
    }
    let mut uploaded = new_media(&mut state, &issued.account.id, &category, media.len() as u64);
    uploaded.segments.insert(0, media.len());
    uploaded.finalized = true;
    // GIFs are transcoded, images are not.
    if category.ends_with("gif") {
        uploaded.processing =
            Some((Instant::now() + state.media_processing, state.media_processing_fails));
    }
    let mut answer = uploaded.answer();
    // The reference's answer describes the image; the fake knows its type, not its size.
    answer["data"]["image"] = json!({"image_type": kind});
    state.media.insert(uploaded.id.clone(), uploaded);
    window.stamp(Json(answer).into_response())
}

/// `POST /2/media/upload/initialize` with a JSON body.
pub(super) async fn initialize(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    let (issued, window) = match admit(&mut state, &headers, Endpoint::MediaChunked) {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return window.stamp(invalid("The request body must be a JSON object"));
    };
    // The initialize schema allows no other fields (platforms.md 1.3): a `command` or a v1.1
    // field here is a 400, not ignored.
    if let Some(extra) = body.keys().find(|key| !INITIALIZE_FIELDS.contains(&key.as_str())) {
        return window.stamp(invalid(&format!(
            "$.{extra}: is not defined in the schema and the schema does not allow additional properties"
        )));
    }
    let (Some(media_type), Some(total_bytes)) = (
        body.get("media_type").and_then(Value::as_str),
        body.get("total_bytes").and_then(Value::as_u64),
    ) else {
        return window.stamp(invalid("media_type and total_bytes are required"));
    };
    let category = body.get("media_category").and_then(Value::as_str).unwrap_or("tweet_image");
    let Some(limit) = category_limit(category) else {
        return window.stamp(invalid(&format!("media_category [{category}] is not valid")));
    };
    if !media_type.contains('/') {
        return window.stamp(invalid(&format!("media_type [{media_type}] is not valid")));
    }
    if total_bytes == 0 || total_bytes > limit {
        return window.stamp(invalid(&format!("total_bytes must be between 1 and {limit}")));
    }
    let media = new_media(&mut state, &issued.account.id, category, total_bytes);
    let answer = json!({
        "data": {
            "id": media.id,
            "media_key": media.key,
            "expires_after_secs": MEDIA_LIFETIME_SECS,
        },
    });
    state.media.insert(media.id.clone(), media);
    window.stamp(Json(answer).into_response())
}

/// The caller's media that is still being uploaded, or X's answer for any other id.
fn uploading<'a>(state: &'a mut XState, owner: &str, id: &str) -> Result<&'a mut Media, Response> {
    match state.media.get_mut(id) {
        Some(media) if media.owner == owner && !media.finalized => Ok(media),
        Some(media) if media.owner == owner => Err(invalid("The media was already finalized")),
        _ => Err(invalid(&format!("media_id [{id}] is not valid"))),
    }
}

/// `POST /2/media/upload/{id}/append`: one segment, multipart `media` and `segment_index`.
pub(super) async fn append(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    extensions: Extensions,
    body: Bytes,
) -> Response {
    delay(&shared).await;
    let parts = parts(&headers, extensions, body).await;
    let mut state = lock(&shared);
    let (issued, window) = match admit(&mut state, &headers, Endpoint::MediaChunked) {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let parts = match parts {
        Ok(parts) => parts,
        Err(refused) => return window.stamp(refused),
    };
    let media = match uploading(&mut state, &issued.account.id, &id) {
        Ok(media) => media,
        Err(refused) => return window.stamp(refused),
    };
    let index = parts
        .get("segment_index")
        .and_then(|bytes| String::from_utf8_lossy(bytes).parse::<u64>().ok());
    let (Some(index @ 0..=999), Some(segment)) = (index, parts.get("media")) else {
        return window.stamp(invalid("media and a segment_index from 0 to 999 are required"));
    };
    if segment.is_empty() || segment.len() > MAX_SEGMENT_BYTES {
        return window.stamp(invalid("a segment holds between 1 byte and 8 MB"));
    }
    media.segments.insert(index, segment.len());
    window.stamp(Json(json!({"data": {"expires_at": media.expires_at}})).into_response())
}

/// `POST /2/media/upload/{id}/finalize`: the segments must add up to `total_bytes`; video and
/// GIFs then process for the configured time.
pub(super) async fn finalize(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    delay(&shared).await;
    let mut guard = lock(&shared);
    let state = &mut *guard;
    let (issued, window) = match admit(state, &headers, Endpoint::MediaChunked) {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let (processing_time, fails) = (state.media_processing, state.media_processing_fails);
    let media = match uploading(state, &issued.account.id, &id) {
        Ok(media) => media,
        Err(refused) => return window.stamp(refused),
    };
    let contiguous = media.segments.keys().copied().eq(0..media.segments.len() as u64);
    let received: u64 = media.segments.values().map(|len| *len as u64).sum();
    if !contiguous || received != media.total_bytes {
        return window.stamp(invalid(&format!(
            "The segments hold {received} bytes, not the {} initialize announced",
            media.total_bytes
        )));
    }
    media.finalized = true;
    if !media.category.ends_with("image") {
        media.processing = Some((Instant::now() + processing_time, fails));
    }
    window.stamp(Json(media.answer()).into_response())
}

/// `GET /2/media/upload?command=STATUS&media_id=...`, the one remaining use of `command`.
pub(super) async fn status(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    let (issued, window) = match admit(&mut state, &headers, Endpoint::MediaStatus) {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    if query.get("command").map(String::as_str) != Some("STATUS") {
        return window.stamp(invalid("command must be STATUS"));
    }
    let id = query.get("media_id").cloned().unwrap_or_default();
    match state.media.get(&id) {
        Some(media) if media.owner == issued.account.id && media.finalized => {
            window.stamp(Json(media.answer()).into_response())
        }
        _ => window.stamp(invalid(&format!("media_id [{id}] is not valid"))),
    }
}
