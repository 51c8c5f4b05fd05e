//! X media upload v2, scope `media.write` (publishing.md A.4, platforms.md 1.3): the one-shot
//! `POST /2/media/upload` for still images, and `initialize` / `append` / `finalize` for video
//! and GIFs, then `GET /2/media/upload?command=STATUS` until X has processed the media.
//!
//! Every step is safe to repeat from the start. An upload creates nothing anyone sees: a media id
//! that no post attaches simply expires (`expires_after_secs`, a day). So unlike
//! `POST /2/tweets`, where a 5xx or a timeout after sending is ambiguous, a failed upload step is
//! [`Outcome::Transient`]: the caller uploads again, and at worst X holds an orphan for a day.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt};

use postroute_domain::media::MediaType;
use postroute_domain::publish::Outcome;

use super::{XClient, classify_publish_error, request_id};
use crate::PublishFailure;

/// The most bytes one `append` carries. publishing.md A.4 says to keep segments at or under
/// 5 MB (the server takes 8 MB); 4 MiB stays under 5 MB whether X counts MB in powers of ten
/// or of two, and bounds what one upload holds in memory.
const SEGMENT_BYTES: usize = 4 * 1024 * 1024;
/// `segment_index` runs from 0 to 999 (platforms.md 1.3).
const MAX_SEGMENTS: u64 = 1000;
/// The wait between STATUS checks when X names none; never zero, so polling cannot spin.
const DEFAULT_CHECK_AFTER: Duration = Duration::from_secs(1);

/// Media X holds for the caller, ready to attach to a post (`NewTweet::media_ids`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedMedia {
    /// The id a post lists in `media.media_ids`.
    pub id: String,
    /// X's media key (`3_…` image, `7_…` video, `16_…` GIF). A created post lists it under
    /// `attachments.media_keys`, which is how reconciliation recognises the post (A.4).
    pub media_key: String,
    /// When X forgets the id (`expires_after_secs` counted from X's answer), if X said. A retry
    /// after this uploads again instead of attaching the old id.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A video or GIF for [`XClient::upload_chunked`]: its type and its exact size, which
/// `initialize` announces and `finalize` checks against the segments received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkedMedia {
    /// The sniffed type; it also decides X's `media_category`.
    pub media_type: MediaType,
    /// The exact number of bytes the content yields.
    pub total_bytes: u64,
}

/// X's `media_category` for a chunked upload of `media_type`.
fn chunked_category(media_type: MediaType) -> &'static str {
    match media_type {
        MediaType::Mp4 | MediaType::QuickTime => "tweet_video",
        // Animated GIFs are transcoded like video, and `tweet_gif` takes up to 15 MB.
        MediaType::Gif => "tweet_gif",
        MediaType::Jpeg | MediaType::Png | MediaType::Webp => "tweet_image",
    }
}

/// `data` of a one-shot, finalize or STATUS answer (initialize's is a subset).
#[derive(Debug, Deserialize)]
struct MediaAnswer {
    id: String,
    media_key: Option<String>,
    expires_after_secs: Option<u64>,
    processing_info: Option<ProcessingInfo>,
}

#[derive(Debug, Deserialize)]
struct ProcessingInfo {
    state: ProcessingState,
    check_after_secs: Option<u64>,
    error: Option<ProcessingError>,
}

#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum ProcessingState {
    Pending,
    InProgress,
    Succeeded,
    Failed,
    /// A state X adds later: waited on like `in_progress`, within the caller's deadline.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Deserialize)]
struct ProcessingError {
    name: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

/// What earlier answers of one upload said, for the result.
struct Seen {
    media_key: String,
    expires_after_secs: Option<u64>,
    /// X's id of the latest answer, for a processing failure.
    request_id: Option<String>,
}

/// A 2xx answer: its body and X's id of the request.
struct Answered {
    status: StatusCode,
    request_id: Option<String>,
    body: Vec<u8>,
}

impl Answered {
    /// The answer's `data`. A 2xx we cannot read published nothing, so it is transient too.
    fn data<T: DeserializeOwned>(&self) -> Result<T, PublishFailure> {
        serde_json::from_slice::<Envelope<T>>(&self.body).map(|envelope| envelope.data).map_err(
            |error| PublishFailure {
                http_status: Some(self.status.as_u16()),
                request_id: self.request_id.clone(),
                ..transient(format!("unreadable X media answer: {error}"))
            },
        )
    }
}

impl XClient {
    /// Uploads a still image (JPEG, PNG, WebP; X takes up to 5 MB) in one multipart request,
    /// `media_category=tweet_image`. GIFs go through [`XClient::upload_chunked`]: see there.
    /// Should X answer with `processing_info`, the image is polled like a video, and `deadline`
    /// bounds the whole call either way. Failures are classified as the module says.
    pub async fn upload_image(
        &self,
        access_token: &str,
        image: &[u8],
        deadline: Instant,
    ) -> Result<UploadedMedia, PublishFailure> {
        within(deadline, async {
            let url = self.media_url("/2/media/upload")?;
            let (content_type, body) = form(&[("media_category", "tweet_image")], image);
            let request =
                self.http.post(url).bearer_auth(access_token).header(CONTENT_TYPE, content_type);
            let answered = send(request.body(body)).await?;
            let answer: MediaAnswer = answered.data()?;
            let Some(media_key) = answer.media_key.clone() else {
                return Err(missing_media_key(&answered));
            };
            let seen =
                Seen { media_key, expires_after_secs: None, request_id: answered.request_id };
            self.processed(access_token, answer, seen, deadline).await
        })
        .await
    }

    /// Uploads a video or an animated GIF in segments: `initialize` (JSON), `append` of at most
    /// 4 MiB per segment with `segment_index` from 0, `finalize`, then STATUS at X's
    /// `check_after_secs` until processing `succeeded` (ready) or `failed` (permanent, with X's
    /// message). `deadline` bounds the whole upload: when it passes first, the call ends as
    /// transient, without sleeping past it.
    ///
    /// GIFs take this path with `tweet_gif` although publishing.md A.4 lets the one-shot upload
    /// take them: X's 2025 announcement limits the one-shot endpoint to images and subtitles
    /// (platforms.md 1.3), the chunked endpoints take GIFs under either reading, and GIFs are
    /// transcoded, which needs the STATUS polling this path does anyway.
    ///
    /// `content` is read one segment at a time, so a video never sits in memory whole: an object
    /// store's byte stream (through `tokio_util::io::StreamReader`) or a file reads as it is
    /// sent, and a byte slice, being `AsyncRead` too, passes as it is. A failed upload starts
    /// again from `initialize` with fresh content; nothing is resumed.
    pub async fn upload_chunked<R: AsyncRead + Unpin>(
        &self,
        access_token: &str,
        media: ChunkedMedia,
        content: R,
        deadline: Instant,
    ) -> Result<UploadedMedia, PublishFailure> {
        within(deadline, self.chunked(access_token, media, content, deadline)).await
    }

    async fn chunked<R: AsyncRead + Unpin>(
        &self,
        access_token: &str,
        media: ChunkedMedia,
        mut content: R,
        deadline: Instant,
    ) -> Result<UploadedMedia, PublishFailure> {
        let segments = media.total_bytes.div_ceil(SEGMENT_BYTES as u64);
        if segments > MAX_SEGMENTS {
            return Err(permanent(format!(
                "{} bytes need more than {MAX_SEGMENTS} segments of {SEGMENT_BYTES} bytes",
                media.total_bytes
            )));
        }
        let initialized = self.initialize(access_token, media).await?;
        let mut segment = Vec::with_capacity(
            SEGMENT_BYTES.min(usize::try_from(media.total_bytes).unwrap_or(SEGMENT_BYTES)),
        );
        let mut sent: u64 = 0;
        for segment_index in 0.. {
            read_segment(&mut content, &mut segment).await?;
            if segment.is_empty() {
                break;
            }
            sent += segment.len() as u64;
            if sent > media.total_bytes {
                break;
            }
            self.append(access_token, &initialized.id, segment_index, &segment).await?;
        }
        // X would refuse the finalize anyway; saying why here names the real fault (the stored
        // file is not the size recorded for it), which no retry will change.
        if sent != media.total_bytes {
            return Err(permanent(format!(
                "the media yielded {}{sent} bytes, not the {} announced",
                if sent > media.total_bytes { "over " } else { "" },
                media.total_bytes
            )));
        }
        let url = self.media_url(&format!("/2/media/upload/{}/finalize", initialized.id))?;
        let answered = send(self.http.post(url).bearer_auth(access_token)).await?;
        let finalized: MediaAnswer = answered.data()?;
        let media_key = finalized.media_key.clone().or(initialized.media_key);
        let Some(media_key) = media_key else {
            return Err(missing_media_key(&answered));
        };
        let seen = Seen {
            media_key,
            expires_after_secs: initialized.expires_after_secs,
            request_id: answered.request_id,
        };
        self.processed(access_token, finalized, seen, deadline).await
    }

    /// `POST /2/media/upload/initialize` with exactly the three fields the schema needs (it
    /// allows no unknown ones).
    async fn initialize(
        &self,
        access_token: &str,
        media: ChunkedMedia,
    ) -> Result<MediaAnswer, PublishFailure> {
        let url = self.media_url("/2/media/upload/initialize")?;
        let body = serde_json::json!({
            "media_type": media.media_type.mime(),
            "total_bytes": media.total_bytes,
            "media_category": chunked_category(media.media_type),
        });
        send(self.http.post(url).bearer_auth(access_token).json(&body)).await?.data()
    }

    /// `POST /2/media/upload/{id}/append`: one segment as multipart `media` and `segment_index`.
    async fn append(
        &self,
        access_token: &str,
        media_id: &str,
        segment_index: u64,
        segment: &[u8],
    ) -> Result<(), PublishFailure> {
        let url = self.media_url(&format!("/2/media/upload/{media_id}/append"))?;
        let index = segment_index.to_string();
        let (content_type, body) = form(&[("segment_index", &index)], segment);
        let request =
            self.http.post(url).bearer_auth(access_token).header(CONTENT_TYPE, content_type);
        send(request.body(body)).await.map(drop)
    }

    /// Waits until X has processed `answer`'s media: STATUS at X's `check_after_secs`, giving up
    /// (transient) when the next check would come after `deadline`.
    async fn processed(
        &self,
        access_token: &str,
        mut answer: MediaAnswer,
        mut seen: Seen,
        deadline: Instant,
    ) -> Result<UploadedMedia, PublishFailure> {
        loop {
            // The latest answer knows the id's lifetime best (finalize's day, not initialize's).
            seen.expires_after_secs = answer.expires_after_secs.or(seen.expires_after_secs);
            let wait = match &answer.processing_info {
                // No processing_info means nothing to process: ready (A.4).
                None => None,
                Some(info) => match info.state {
                    ProcessingState::Succeeded => None,
                    ProcessingState::Failed => {
                        return Err(processing_failed(info.error.as_ref(), seen.request_id));
                    }
                    ProcessingState::Pending
                    | ProcessingState::InProgress
                    | ProcessingState::Unknown => Some(
                        info.check_after_secs
                            .map(Duration::from_secs)
                            .filter(|wait| !wait.is_zero())
                            .unwrap_or(DEFAULT_CHECK_AFTER),
                    ),
                },
            };
            let Some(wait) = wait else {
                return Ok(UploadedMedia {
                    id: answer.id,
                    media_key: seen.media_key,
                    expires_at: seen.expires_after_secs.and_then(expiry),
                });
            };
            if Instant::now() + wait > deadline {
                return Err(transient(format!(
                    "X was still processing media {} when the upload's deadline came",
                    answer.id
                )));
            }
            tokio::time::sleep(wait).await;
            let mut url = self.media_url("/2/media/upload")?;
            url.query_pairs_mut()
                .append_pair("command", "STATUS")
                .append_pair("media_id", &answer.id);
            let answered = send(self.http.get(url).bearer_auth(access_token)).await?;
            answer = answered.data()?;
            seen.request_id = answered.request_id;
        }
    }

    fn media_url(&self, path: &str) -> Result<reqwest::Url, PublishFailure> {
        self.url(&self.endpoints.api_base, path)
            .map_err(|error| PublishFailure::unsent(error.to_string()))
    }
}

/// Runs `upload` until `deadline`; an upload still running then is abandoned as transient,
/// which is safe because an unattached media id only expires.
async fn within<T>(
    deadline: Instant,
    upload: impl Future<Output = Result<T, PublishFailure>>,
) -> Result<T, PublishFailure> {
    tokio::time::timeout_at(deadline.into(), upload)
        .await
        .unwrap_or_else(|_| Err(transient("the media upload did not finish by its deadline")))
}

/// Sends one upload step; a 2xx comes back, anything else is classified.
async fn send(request: RequestBuilder) -> Result<Answered, PublishFailure> {
    // Not irreversible: a failure after sending leaves at most an orphan media id.
    let response = request.send().await.map_err(|error| PublishFailure::network(error, false))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|error| PublishFailure::network(error, false))?;
    if !status.is_success() {
        return Err(classify_upload_error(status, &headers, &body));
    }
    Ok(Answered { status, request_id: request_id(&headers), body: body.to_vec() })
}

/// Fills `segment` with the next (up to) [`SEGMENT_BYTES`] of `content`; empty at the end.
async fn read_segment<R: AsyncRead + Unpin>(
    content: &mut R,
    segment: &mut Vec<u8>,
) -> Result<(), PublishFailure> {
    segment.clear();
    // Our own storage failed, not X: nothing was published, so another attempt may succeed.
    (&mut *content)
        .take(SEGMENT_BYTES as u64)
        .read_to_end(segment)
        .await
        .map(drop)
        .map_err(|error| transient(format!("reading the media to upload failed: {error}")))
}

/// A `multipart/form-data` body: the text `fields`, then `media` as a file part, the way
/// `curl -F media=@file` sends it. Hand-written because reqwest's `multipart` feature would
/// add crates to the lock file for a format this small.
fn form(fields: &[(&str, &str)], media: &[u8]) -> (String, Vec<u8>) {
    // A boundary must not occur in the media; 74 random bits of a v7 UUID make that a chance
    // no file meets, and no uploader can know the boundary in advance to plant it.
    let boundary = format!("postroute-{}", uuid::Uuid::now_v7().simple());
    let mut body = Vec::with_capacity(media.len() + 512);
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"media\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(media);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// publishing.md A.4 with A.2's refusals, for every upload step. The difference from
/// `POST /2/tweets` is the 5xx: an upload creates nothing visible (an orphan media id expires
/// after a day), so a 5xx is [`Outcome::Transient`] and the caller uploads again, where a post
/// would be ambiguous. The rest is A.2's: 429 waits for `x-rate-limit-reset` (a usage cap is
/// permanent), 401 earns one token refresh, 402 pauses X, and a 400 or 403 (bad media, too
/// large, unsupported, no `media.write`) is permanent with X's words.
fn classify_upload_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> PublishFailure {
    let mut failure = classify_publish_error(status, headers, body);
    if status.is_server_error() {
        failure.outcome =
            Outcome::Transient { detail: format!("X answered {status} to a media upload step") };
    } else if let Outcome::Permanent { message } = &mut failure.outcome {
        // X's invalid-request `detail` is generic; the reason is in `errors[].message`.
        let reasons = error_messages(body);
        if !reasons.is_empty() {
            *message = format!("{message} ({reasons})");
        }
    }
    failure
}

/// The `errors[].message` of an X problem body, joined.
fn error_messages(body: &[u8]) -> String {
    let problem: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let Some(errors) = problem["errors"].as_array() else {
        return String::new();
    };
    errors.iter().filter_map(|error| error["message"].as_str()).collect::<Vec<_>>().join("; ")
}

/// Processing `failed`: X refused the media itself (format, length, corruption); uploading the
/// same bytes again fails the same way.
fn processing_failed(
    error: Option<&ProcessingError>,
    request_id: Option<String>,
) -> PublishFailure {
    let message = error
        .and_then(|error| error.message.clone())
        .unwrap_or_else(|| "X could not process the media".to_owned());
    PublishFailure {
        outcome: Outcome::Permanent { message },
        http_status: Some(StatusCode::OK.as_u16()),
        platform_code: error.and_then(|error| error.name.clone()),
        request_id,
    }
}

/// A 2xx without the media key the documented answers carry: treated like an unreadable
/// answer, since the key is what reconciliation matches posts by.
fn missing_media_key(answered: &Answered) -> PublishFailure {
    PublishFailure {
        http_status: Some(answered.status.as_u16()),
        request_id: answered.request_id.clone(),
        ..transient("X answered a media upload without a media_key")
    }
}

fn transient(detail: impl Into<String>) -> PublishFailure {
    PublishFailure {
        outcome: Outcome::Transient { detail: detail.into() },
        http_status: None,
        platform_code: None,
        request_id: None,
    }
}

fn permanent(message: String) -> PublishFailure {
    PublishFailure {
        outcome: Outcome::Permanent { message },
        http_status: None,
        platform_code: None,
        request_id: None,
    }
}

/// `expires_after_secs` from now, if it fits a date.
fn expiry(expires_after_secs: u64) -> Option<DateTime<Utc>> {
    let lifetime = TimeDelta::try_seconds(i64::try_from(expires_after_secs).ok()?)?;
    Utc::now().checked_add_signed(lifetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn a_5xx_on_an_upload_step_is_transient_with_xs_request_id() {
        let failure = classify_upload_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &headers(&[("x-transaction-id", "abc123")]),
            br#"{"title":"Service Unavailable","detail":"Service Unavailable","status":503}"#,
        );
        assert!(matches!(failure.outcome, Outcome::Transient { .. }), "{failure:?}");
        assert_eq!(failure.http_status, Some(503));
        assert_eq!(failure.request_id.as_deref(), Some("abc123"));
    }

    #[test]
    fn refusals_are_classified_as_for_a_post() {
        let reset = headers(&[("x-rate-limit-reset", "1900000000")]);
        let limited = classify_upload_error(StatusCode::TOO_MANY_REQUESTS, &reset, b"{}");
        assert_eq!(
            limited.outcome,
            Outcome::RateLimited { reset_at: DateTime::from_timestamp(1_900_000_000, 0) }
        );
        let capped =
            br#"{"title":"UsageCapExceeded","type":"https://api.x.com/2/problems/usage-capped"}"#;
        let capped = classify_upload_error(StatusCode::TOO_MANY_REQUESTS, &reset, capped);
        assert!(matches!(capped.outcome, Outcome::Permanent { .. }));
        let unauthorized = classify_upload_error(StatusCode::UNAUTHORIZED, &reset, b"{}");
        assert_eq!(unauthorized.outcome, Outcome::Unauthorized);
        let depleted = br#"{"title":"CreditsDepleted","detail":"no credits"}"#;
        let depleted = classify_upload_error(StatusCode::PAYMENT_REQUIRED, &reset, depleted);
        assert!(matches!(depleted.outcome, Outcome::CreditsDepleted { .. }));
    }

    #[test]
    fn a_refused_upload_is_permanent_with_xs_reason() {
        let body = br#"{"errors":[{"message":"media type unrecognized"}],"title":"Invalid Request","detail":"One or more parameters to your request was invalid.","type":"https://api.twitter.com/2/problems/invalid-request"}"#;
        let failure = classify_upload_error(StatusCode::BAD_REQUEST, &HeaderMap::new(), body);
        let Outcome::Permanent { message } = failure.outcome else { panic!("{failure:?}") };
        assert_eq!(
            message,
            "One or more parameters to your request was invalid. (media type unrecognized)"
        );
        assert_eq!(failure.platform_code.as_deref(), Some("Invalid Request"));
        let forbidden = br#"{"title":"Forbidden","detail":"Forbidden","status":403}"#;
        let failure = classify_upload_error(StatusCode::FORBIDDEN, &HeaderMap::new(), forbidden);
        assert_eq!(failure.outcome, Outcome::Permanent { message: "Forbidden".to_owned() });
    }

    #[test]
    fn failed_processing_keeps_xs_message_and_error_name() {
        let error = ProcessingError {
            name: Some("InvalidMedia".to_owned()),
            message: Some("Unsupported video format".to_owned()),
        };
        let failure = processing_failed(Some(&error), Some("tx".to_owned()));
        assert_eq!(
            failure.outcome,
            Outcome::Permanent { message: "Unsupported video format".to_owned() }
        );
        assert_eq!(failure.platform_code.as_deref(), Some("InvalidMedia"));
        assert_eq!(failure.request_id.as_deref(), Some("tx"));
    }

    #[test]
    fn processing_states_x_has_not_documented_yet_are_waited_on() {
        let info: ProcessingInfo =
            serde_json::from_str(r#"{"state":"queued","check_after_secs":2}"#).unwrap();
        assert_eq!(info.state, ProcessingState::Unknown);
        let info: ProcessingInfo = serde_json::from_str(r#"{"state":"in_progress"}"#).unwrap();
        assert_eq!(info.state, ProcessingState::InProgress);
    }

    #[test]
    fn the_multipart_body_names_each_field_and_carries_the_bytes_untouched() {
        let media = b"\x00\x01binary\r\n--not-a-boundary";
        let (content_type, body) = form(&[("segment_index", "3")], media);
        let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"segment_index\"\r\n\r\n3\r\n"));
        assert!(text.ends_with(&format!("\r\n--{boundary}--\r\n")));
        assert!(body.windows(media.len()).any(|window| window == media));
    }

    #[test]
    fn categories_follow_the_media_type() {
        assert_eq!(chunked_category(MediaType::Mp4), "tweet_video");
        assert_eq!(chunked_category(MediaType::QuickTime), "tweet_video");
        assert_eq!(chunked_category(MediaType::Gif), "tweet_gif");
        assert_eq!(chunked_category(MediaType::Png), "tweet_image");
    }
}
