//! X media upload v2 against the fake X: what our client sends is what the fake (and X) takes,
//! the media it returns attaches to a post, and every failure lands in its class.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postroute_domain::media::MediaType;
use postroute_domain::publish::Outcome;
use postroute_fakes::FakeX;
use postroute_platforms::PublishFailure;
use postroute_platforms::x::media::{ChunkedMedia, UploadedMedia};
use postroute_platforms::x::{NewTweet, XClient, XEndpoints};
use sha2::Digest;

const REDIRECT: &str = "https://postroute.example/v1/oauth/x/callback";
const VERIFIER: &str = "a-verifier-of-more-than-forty-three-characters-0123456789";
/// The start of a JPEG, which is all the fake sniffs.
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00";

/// A fake X, a client for it and a user token with every scope PostRoute asks for.
struct X {
    fake: FakeX,
    client: XClient,
    token: String,
}

impl X {
    async fn start() -> Self {
        let fake = FakeX::start("client-1", "secret-1").await.unwrap();
        let client = client_at(fake.base_url());
        let token = sign_in(&client).await;
        Self { fake, client, token }
    }

    async fn image(&self) -> Result<UploadedMedia, PublishFailure> {
        self.client.upload_image(&self.token, JPEG, soon(10)).await
    }

    async fn video(
        &self,
        bytes: &[u8],
        deadline: Instant,
    ) -> Result<UploadedMedia, PublishFailure> {
        let media = ChunkedMedia { media_type: MediaType::Mp4, total_bytes: bytes.len() as u64 };
        self.client.upload_chunked(&self.token, media, bytes, deadline).await
    }

    async fn post_with(&self, media: &UploadedMedia) -> String {
        let media_ids = [media.id.clone()];
        let tweet = NewTweet { text: "", reply_to: None, media_ids: &media_ids };
        self.client.create_tweet(&self.token, &tweet).await.unwrap().id
    }
}

fn client_at(base: url::Url) -> XClient {
    XClient::new(XEndpoints { auth_base: base.clone(), api_base: base }, "client-1", "secret-1")
        .unwrap()
}

/// The browser half of the OAuth dance (the user clicks "Authorize"), then the code exchange.
async fn sign_in(client: &XClient) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let url = client.authorize_url(REDIRECT, "state", &challenge).unwrap();
    let browser =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect = browser.get(url).send().await.unwrap();
    let location = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let code = location.query_pairs().find(|(name, _)| name == "code").unwrap().1.into_owned();
    client.exchange_code(&code, VERIFIER, REDIRECT).await.unwrap().access_token
}

fn soon(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

/// Bytes that need three segments of 4 MiB: 0, 1 and 2.
fn nine_mib_video() -> Vec<u8> {
    (0..9 * 1024 * 1024).map(|index: usize| (index % 251) as u8).collect()
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn an_uploaded_image_is_attached_to_a_post_that_records_its_media_key() {
    let x = X::start().await;
    let image = x.image().await.unwrap();
    assert!(image.media_key.starts_with("3_"), "{image:?}");
    assert!(image.media_key.ends_with(&image.id), "{image:?}");
    let lifetime = image.expires_at.unwrap().timestamp() - unix_now();
    assert!((86_390..=86_400).contains(&lifetime), "a day, as X says: {lifetime}");

    let post = x.post_with(&image).await;
    let published = x.fake.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].id, post);
    assert_eq!(published[0].media, vec![image.media_key]);
}

#[tokio::test]
async fn a_video_goes_up_in_segments_and_is_ready_once_processing_has_succeeded() {
    let x = X::start().await;
    // Longer than one check_after_secs, so the client must poll STATUS more than once.
    x.fake.set_media_processing(Duration::from_millis(1500), false);
    let started = Instant::now();
    let video = x.video(&nine_mib_video(), soon(30)).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1500), "{:?}", started.elapsed());
    assert!(video.media_key.starts_with("7_"), "{video:?}");
    assert!(video.expires_at.is_some());

    // The fake accepts only processed media, whose segments added up to total_bytes.
    x.post_with(&video).await;
    assert_eq!(x.fake.published()[0].media, vec![video.media_key]);
}

#[tokio::test]
async fn a_gif_takes_the_chunked_path_as_tweet_gif() {
    let x = X::start().await;
    x.fake.set_media_processing(Duration::from_millis(200), false);
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    let media = ChunkedMedia { media_type: MediaType::Gif, total_bytes: gif.len() as u64 };
    let uploaded = x.client.upload_chunked(&x.token, media, &gif[..], soon(10)).await.unwrap();
    assert!(uploaded.media_key.starts_with("16_"), "{uploaded:?}");
    x.post_with(&uploaded).await;
}

#[tokio::test]
async fn failed_processing_is_permanent_with_xs_message() {
    let x = X::start().await;
    x.fake.set_media_processing(Duration::from_millis(300), true);
    let failure = x.video(&nine_mib_video(), soon(30)).await.unwrap_err();
    assert_eq!(failure.outcome, Outcome::Permanent { message: "Unsupported video format".into() });
    assert_eq!(failure.platform_code.as_deref(), Some("InvalidMedia"));
}

#[tokio::test]
async fn processing_that_outlasts_the_deadline_is_transient_and_never_waited_out() {
    let x = X::start().await;
    x.fake.set_media_processing(Duration::from_secs(60), false);
    let started = Instant::now();
    let failure = x.video(b"a short clip", soon(3)).await.unwrap_err();
    let Outcome::Transient { detail } = &failure.outcome else { panic!("{failure:?}") };
    assert!(detail.contains("still processing"), "{detail}");
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_503_on_upload_is_transient_because_nothing_visible_was_created() {
    let x = X::start().await;
    x.fake.set_outage(Some(reqwest::StatusCode::SERVICE_UNAVAILABLE));
    let image = x.image().await.unwrap_err();
    assert!(matches!(image.outcome, Outcome::Transient { .. }), "{image:?}");
    assert_eq!(image.http_status, Some(503));
    let video = x.video(b"clip", soon(10)).await.unwrap_err();
    assert!(matches!(video.outcome, Outcome::Transient { .. }), "{video:?}");

    x.fake.set_outage(None);
    x.image().await.expect("uploading again after the outage works");
}

#[tokio::test]
async fn a_rate_limit_says_when_the_window_resets() {
    let x = X::start().await;
    x.fake.exhaust_rate_limit(Duration::from_secs(60));
    for failure in [x.image().await.unwrap_err(), x.video(b"clip", soon(10)).await.unwrap_err()] {
        let Outcome::RateLimited { reset_at: Some(reset_at) } = failure.outcome else {
            panic!("{failure:?}")
        };
        let wait = reset_at.timestamp() - unix_now();
        assert!((55..=61).contains(&wait), "{wait}");
        assert_eq!(failure.http_status, Some(429));
    }
}

#[tokio::test]
async fn an_expired_token_is_unauthorized_and_a_refused_file_is_permanent() {
    let x = X::start().await;
    let refused = x.client.upload_image(&x.token, b"plain text", soon(10)).await.unwrap_err();
    let Outcome::Permanent { message } = &refused.outcome else { panic!("{refused:?}") };
    assert!(message.contains("media type unrecognized"), "{message}");
    assert_eq!(refused.http_status, Some(400));

    x.fake.expire_access_tokens();
    assert_eq!(x.image().await.unwrap_err().outcome, Outcome::Unauthorized);
}

#[tokio::test]
async fn content_shorter_than_announced_is_permanent_before_finalize() {
    let x = X::start().await;
    let media = ChunkedMedia { media_type: MediaType::Mp4, total_bytes: 100 };
    let failure =
        x.client.upload_chunked(&x.token, media, &b"only ten b"[..], soon(10)).await.unwrap_err();
    let Outcome::Permanent { message } = &failure.outcome else { panic!("{failure:?}") };
    assert!(message.contains("10 bytes, not the 100"), "{message}");
}

#[tokio::test]
async fn no_connection_is_transient() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let client = client_at(url::Url::parse(&format!("http://{closed}/")).unwrap());
    let failure = client.upload_image("token", JPEG, soon(10)).await.unwrap_err();
    assert!(matches!(failure.outcome, Outcome::Transient { .. }), "{failure:?}");
    assert_eq!(failure.http_status, None);
}

/// What X refuses and the fake must refuse too, so a client that sent it would fail here.
#[tokio::test]
async fn the_fake_refuses_what_x_refuses_on_upload() {
    let x = X::start().await;
    let http = reqwest::Client::new();
    let extra_field = http
        .post(x.fake.base_url().join("2/media/upload/initialize").unwrap())
        .bearer_auth(&x.token)
        .json(&serde_json::json!({
            "command": "INIT",
            "media_type": "video/mp4",
            "total_bytes": 10,
            "media_category": "tweet_video",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(extra_field.status(), 400, "initialize allows no unknown fields");

    let boundary = "test-boundary";
    let mut no_category = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.jpg\"\r\n\r\n"
    )
    .into_bytes();
    no_category.extend_from_slice(JPEG);
    no_category.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let no_category = http
        .post(x.fake.base_url().join("2/media/upload").unwrap())
        .bearer_auth(&x.token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(no_category)
        .send()
        .await
        .unwrap();
    assert_eq!(no_category.status(), 400, "media_category is required");
}
