//! Publishing to Facebook Pages and Instagram against the fake Meta: each call, what the fake
//! then holds, and the outcome class of every failure the fake can produce (publishing.md B, C).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::Utc;
use postroute_domain::publish::Outcome;
use postroute_fakes::{FakeMeta, Platform, PublishedPost};
use postroute_platforms::PublishFailure;
use postroute_platforms::meta::publish::{
    ContainerStatus, IgContainer, IgMediaType, PageAttachmentType, facebook_url,
};
use postroute_platforms::meta::{FACEBOOK_SCOPES, INSTAGRAM_SCOPES, MetaClient, MetaEndpoints};
use serde_json::json;

const REDIRECT: &str = "https://postroute.example/v1/oauth/facebook/callback";
const PAGE: &str = "501";
const IG: &str = "17841400000000501";
/// A JPEG's first bytes: enough for Graph's sniffing.
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake-jpeg-bytes";
/// An MP4's first bytes (an `ftyp` box).
const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00fake-mp4-bytes";

/// A fake Meta, a client for it, the Page's token (with the Facebook and Instagram
/// permissions) and the public host the fake fetches media from.
struct Meta {
    fake: FakeMeta,
    client: MetaClient,
    token: String,
    media: SocketAddr,
    _media_server: tokio::task::JoinHandle<()>,
}

impl Meta {
    async fn start() -> Self {
        let fake = FakeMeta::start("app-1", "app-secret").await.unwrap();
        // Every call must carry a valid appsecret_proof, as on an app with "Require App Secret".
        fake.require_appsecret_proof(true);
        let client = MetaClient::new(
            MetaEndpoints { graph_base: fake.graph_url(), dialog_base: fake.dialog_url() },
            "app-1",
            "app-secret",
        )
        .unwrap();
        let mut scopes: Vec<&str> =
            FACEBOOK_SCOPES.iter().chain(INSTAGRAM_SCOPES).copied().collect();
        scopes.sort_unstable();
        scopes.dedup();
        let dialog = client.dialog_url(REDIRECT, "state", &scopes).unwrap();
        let browser =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let redirect = browser.get(dialog).send().await.unwrap();
        let location = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
        let code = location.query_pairs().find(|(key, _)| key == "code").unwrap().1.into_owned();
        let user = client.exchange_code(&code, REDIRECT).await.unwrap();
        let user = client.long_lived(&user.access_token).await.unwrap();
        let pages = client.pages(&user.access_token).await.unwrap();
        let token = pages.into_iter().find(|page| page.id == PAGE).unwrap().access_token;
        let (media, media_server) = media_host().await;
        Self { fake, client, token, media, _media_server: media_server }
    }

    fn media_url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.media)
    }

    fn published(&self, id: &str) -> Option<PublishedPost> {
        self.fake.published().into_iter().find(|post| post.id == id)
    }

    fn arm(&self, fault: serde_json::Value) {
        self.fake.arm_publish_fault(&fault).unwrap();
    }

    /// Polls the container until it is no longer IN_PROGRESS.
    async fn settled(&self, container: &str) -> ContainerStatus {
        for _ in 0..100 {
            let status = self.client.ig_container_status(container, &self.token).await.unwrap();
            if status != ContainerStatus::InProgress {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("container {container} stayed IN_PROGRESS");
    }

    async fn finished_container(&self, container: &IgContainer<'_>) -> String {
        let id = self.client.create_ig_container(IG, &self.token, container).await.unwrap();
        assert_eq!(self.settled(&id).await, ContainerStatus::Finished);
        id
    }
}

/// A public host of media files, as PostRoute's signed links are.
async fn media_host() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let router = Router::new()
        .route("/photo.jpg", get(|| async { JPEG }))
        .route("/other.jpg", get(|| async { JPEG }))
        .route("/clip.mp4", get(|| async { MP4 }))
        .fallback(|| async { StatusCode::NOT_FOUND });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (address, server)
}

fn is_ambiguous(result: &PublishFailure) -> bool {
    matches!(result.outcome, Outcome::Ambiguous { .. })
}

fn is_transient(result: &PublishFailure) -> bool {
    matches!(result.outcome, Outcome::Transient { .. })
}

#[tokio::test]
async fn page_posts_photos_albums_and_videos_are_published_and_listed() {
    let meta = Meta::start().await;
    let (client, token) = (&meta.client, meta.token.as_str());

    let text = client
        .publish_page_post(PAGE, token, "Fresh bread today", Some("https://bakery.example/"))
        .await
        .unwrap();
    assert!(text.post_id.starts_with("501_"), "{text:?}");
    let recorded = meta.published(&text.post_id).unwrap();
    assert_eq!(
        (recorded.platform, recorded.text.as_deref()),
        (Platform::Facebook, Some("Fresh bread today"))
    );
    assert_eq!(facebook_url(&text.post_id), format!("https://www.facebook.com/{}", text.post_id));

    let photo =
        client.publish_page_photo(PAGE, token, &meta.media_url("photo.jpg"), "Rye").await.unwrap();
    assert!(photo.post_id.starts_with("501_") && photo.post_id != photo.photo_id, "{photo:?}");
    assert_eq!(meta.published(&photo.post_id).unwrap().media, [photo.photo_id]);

    let before = meta.fake.published().len();
    let mut photos = Vec::new();
    for name in ["photo.jpg", "other.jpg"] {
        photos.push(
            client.upload_unpublished_photo(PAGE, token, &meta.media_url(name)).await.unwrap(),
        );
    }
    assert_eq!(meta.fake.published().len(), before, "unpublished photos are no posts");
    let album = client.publish_page_album(PAGE, token, "Two loaves", &photos).await.unwrap();
    let recorded = meta.published(&album.post_id).unwrap();
    assert_eq!((recorded.text.as_deref(), recorded.media), (Some("Two loaves"), photos));

    let video = client
        .publish_page_video(PAGE, token, &meta.media_url("clip.mp4"), "Kneading")
        .await
        .unwrap();
    let recorded = meta.fake.published();
    let video_post = recorded.iter().find(|post| post.media == [video.video_id.clone()]).unwrap();
    assert_eq!(video_post.text.as_deref(), Some("Kneading"));

    let listed = client.page_published_posts(PAGE, token, an_hour_ago()).await.unwrap().posts;
    let kinds: Vec<(Option<&str>, &[PageAttachmentType])> = listed
        .iter()
        .map(|post| (post.message.as_deref(), post.attachment_types.as_slice()))
        .collect();
    assert_eq!(
        kinds,
        [
            (Some("Kneading"), &[PageAttachmentType::Video][..]),
            (Some("Two loaves"), &[PageAttachmentType::Album][..]),
            (Some("Rye"), &[PageAttachmentType::Photo][..]),
            (Some("Fresh bread today"), &[PageAttachmentType::Link][..]),
        ],
        "newest first"
    );
    assert_eq!(listed[1].id, album.post_id);
    assert!(listed.iter().all(|post| (Utc::now() - post.created_time).num_seconds() < 60));
}

#[tokio::test]
async fn an_instagram_container_goes_in_progress_finished_published() {
    let meta = Meta::start().await;
    let (client, token) = (&meta.client, meta.token.as_str());
    meta.fake.set_container_timing(Duration::from_secs(1), Duration::from_secs(3600));
    let image = meta.media_url("photo.jpg");
    let container = client
        .create_ig_container(
            IG,
            token,
            &IgContainer::Image { image_url: &image, caption: "Croissants" },
        )
        .await
        .unwrap();
    assert_eq!(
        client.ig_container_status(&container, token).await.unwrap(),
        ContainerStatus::InProgress
    );
    let early = client.publish_ig_container(IG, token, &container).await.unwrap_err();
    assert!(is_transient(&early), "publishing before FINISHED published nothing: {early:?}");
    assert_eq!(early.platform_code.as_deref(), Some("9007/2207027"));
    assert_eq!(meta.settled(&container).await, ContainerStatus::Finished);

    let limit = client.ig_publishing_limit(IG, token).await.unwrap();
    assert_eq!(
        (limit.usage, limit.total, limit.window),
        (0, 50, Some(Duration::from_secs(86_400)))
    );
    assert!(!limit.exhausted());
    let media_id = client.publish_ig_container(IG, token, &container).await.unwrap();
    assert_eq!(
        client.ig_container_status(&container, token).await.unwrap(),
        ContainerStatus::Published
    );
    let recorded = meta.published(&media_id).unwrap();
    assert_eq!(
        (recorded.platform, recorded.text.as_deref()),
        (Platform::Instagram, Some("Croissants"))
    );
    assert_eq!(recorded.media, [image]);
    assert_eq!(client.ig_publishing_limit(IG, token).await.unwrap().usage, 1);

    let permalink = client.ig_permalink(&media_id, token).await.unwrap();
    assert!(permalink.starts_with("https://www.instagram.com/p/"), "{permalink}");
    let listed = client.ig_recent_media(IG, token).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].id.as_str(), listed[0].caption.as_deref(), listed[0].media_type),
        (media_id.as_str(), Some("Croissants"), IgMediaType::Image)
    );
    assert_eq!(listed[0].permalink.as_deref(), Some(permalink.as_str()));
    assert!((Utc::now() - listed[0].timestamp).num_seconds() < 60);
    assert_eq!(meta.fake.republish_attempts(), 0);
}

#[tokio::test]
async fn carousels_and_reels_are_published_and_listed_by_kind() {
    let meta = Meta::start().await;
    let (client, token) = (&meta.client, meta.token.as_str());
    meta.fake.set_container_timing(Duration::from_millis(100), Duration::from_secs(3600));
    let (photo, clip) = (meta.media_url("photo.jpg"), meta.media_url("clip.mp4"));
    let children = vec![
        client
            .create_ig_container(IG, token, &IgContainer::CarouselImage { image_url: &photo })
            .await
            .unwrap(),
        client
            .create_ig_container(IG, token, &IgContainer::CarouselVideo { video_url: &clip })
            .await
            .unwrap(),
    ];
    let carousel = meta
        .finished_container(&IgContainer::Carousel { children: &children, caption: "Both" })
        .await;
    let album = client.publish_ig_container(IG, token, &carousel).await.unwrap();
    assert_eq!(meta.published(&album).unwrap().media, [photo, clip.clone()]);

    let reel = meta.finished_container(&IgContainer::Reel { video_url: &clip, caption: "" }).await;
    let reel = client.publish_ig_container(IG, token, &reel).await.unwrap();
    assert_eq!(meta.published(&reel).unwrap().text, None, "an empty caption is left out");

    let kinds: Vec<(String, IgMediaType)> = client
        .ig_recent_media(IG, token)
        .await
        .unwrap()
        .into_iter()
        .map(|media| (media.id, media.media_type))
        .collect();
    assert_eq!(kinds, [(reel, IgMediaType::Video), (album, IgMediaType::CarouselAlbum)]);

    // A "video" that is no MP4 is taken, then fails processing.
    let broken = client
        .create_ig_container(
            IG,
            token,
            &IgContainer::Reel { video_url: &meta.media_url("photo.jpg"), caption: "x" },
        )
        .await
        .unwrap();
    let ContainerStatus::Error { status } = meta.settled(&broken).await else {
        panic!("not ERROR")
    };
    assert!(status.unwrap().contains("2207026"));
}

#[tokio::test]
async fn created_then_500_is_ambiguous_and_the_post_exists() {
    let meta = Meta::start().await;
    let (client, token) = (&meta.client, meta.token.as_str());
    let photo = meta.media_url("photo.jpg");

    meta.arm(json!({"fault": "created_then_500", "call": "feed"}));
    let failure = client.publish_page_post(PAGE, token, "Lost answer", None).await.unwrap_err();
    assert!(is_ambiguous(&failure), "{failure:?}");
    assert_eq!((failure.http_status, failure.platform_code.as_deref()), (Some(500), Some("2")));
    assert_eq!(failure.request_id.as_deref(), Some("AfakeTrace01"));

    meta.arm(json!({"fault": "created_then_500", "call": "photos"}));
    let failure = client.publish_page_photo(PAGE, token, &photo, "Lost photo").await.unwrap_err();
    assert!(is_ambiguous(&failure), "{failure:?}");

    meta.arm(json!({"fault": "created_then_500", "call": "videos"}));
    let failure = client
        .publish_page_video(PAGE, token, &meta.media_url("clip.mp4"), "Lost video")
        .await
        .unwrap_err();
    assert!(is_ambiguous(&failure), "{failure:?}");

    meta.fake.set_container_timing(Duration::ZERO, Duration::from_secs(3600));
    let container = meta
        .finished_container(&IgContainer::Image { image_url: &photo, caption: "Lost media" })
        .await;
    meta.arm(json!({"fault": "created_then_500", "call": "media_publish"}));
    let failure = client.publish_ig_container(IG, token, &container).await.unwrap_err();
    assert!(is_ambiguous(&failure), "{failure:?}");
    // Meta's recovery recipe: the container's status tells that the post went live.
    assert_eq!(
        client.ig_container_status(&container, token).await.unwrap(),
        ContainerStatus::Published
    );

    // "Created, then timeout": the answer comes too late, as a 504.
    meta.arm(json!({"fault": "created_then_timeout", "call": "feed", "hang_secs": 1}));
    let failure = client.publish_page_post(PAGE, token, "Late answer", None).await.unwrap_err();
    assert!(is_ambiguous(&failure), "{failure:?}");

    let texts: Vec<Option<String>> =
        meta.fake.published().into_iter().map(|post| post.text).collect();
    for text in ["Lost answer", "Lost photo", "Lost video", "Lost media", "Late answer"] {
        assert!(texts.contains(&Some(text.to_owned())), "{text} is on the platform: {texts:?}");
    }
    // Reconciliation finds them.
    let listed = client.page_published_posts(PAGE, token, an_hour_ago()).await.unwrap().posts;
    assert!(listed.iter().any(|post| post.message.as_deref() == Some("Lost answer")));
    let media = client.ig_recent_media(IG, token).await.unwrap();
    assert_eq!(media[0].caption.as_deref(), Some("Lost media"));
    // And a second try of the same text is Graph's duplicate, which is permanent.
    let again = client.publish_page_post(PAGE, token, "Lost answer", None).await.unwrap_err();
    assert!(matches!(again.outcome, Outcome::Permanent { .. }), "{again:?}");
    assert_eq!(again.platform_code.as_deref(), Some("506"));
}

#[tokio::test]
async fn failures_of_steps_that_publish_nothing_are_transient() {
    let meta = Meta::start().await;
    let (client, token) = (&meta.client, meta.token.as_str());
    let photo = meta.media_url("photo.jpg");

    meta.arm(json!({"fault": "server_error", "call": "media"}));
    let failure = client
        .create_ig_container(IG, token, &IgContainer::Image { image_url: &photo, caption: "c" })
        .await
        .unwrap_err();
    assert!(is_transient(&failure), "{failure:?}");
    assert_eq!(failure.http_status, Some(500));

    meta.arm(json!({"fault": "server_error", "call": "photos"}));
    let failure = client.upload_unpublished_photo(PAGE, token, &photo).await.unwrap_err();
    assert!(is_transient(&failure), "{failure:?}");

    // Instagram could not fetch the media: 9004/2207052 at creation, nothing exists.
    let failure = client
        .create_ig_container(
            IG,
            token,
            &IgContainer::Image { image_url: &meta.media_url("missing.jpg"), caption: "c" },
        )
        .await
        .unwrap_err();
    assert!(is_transient(&failure), "{failure:?}");
    assert_eq!(failure.platform_code.as_deref(), Some("9004/2207052"));

    meta.fake.set_outage(Some(StatusCode::SERVICE_UNAVAILABLE));
    let failure = client.ig_publishing_limit(IG, token).await.unwrap_err();
    assert!(is_transient(&failure), "{failure:?}");
    let failure = client.ig_container_status("17890000000000001", token).await.unwrap_err();
    assert!(is_transient(&failure), "{failure:?}");
    // The same outage on a call that publishes leaves it open.
    let failure =
        client.publish_page_post(PAGE, token, "During the outage", None).await.unwrap_err();
    assert!(is_ambiguous(&failure), "{failure:?}");
    meta.fake.set_outage(None);

    assert!(meta.fake.published().is_empty());
}

#[tokio::test]
async fn a_dead_token_is_auth_dead_on_every_call() {
    let meta = Meta::start().await;
    let (client, token) = (&meta.client, meta.token.as_str());
    let photo = meta.media_url("photo.jpg");
    meta.fake.set_container_timing(Duration::ZERO, Duration::from_secs(3600));
    let container =
        meta.finished_container(&IgContainer::Image { image_url: &photo, caption: "c" }).await;

    meta.fake.kill_tokens();
    let failures = [
        client.publish_page_post(PAGE, token, "Dead", None).await.unwrap_err(),
        client.publish_page_photo(PAGE, token, &photo, "Dead").await.unwrap_err(),
        client
            .create_ig_container(IG, token, &IgContainer::Image { image_url: &photo, caption: "c" })
            .await
            .unwrap_err(),
        client.ig_container_status(&container, token).await.unwrap_err(),
        client.publish_ig_container(IG, token, &container).await.unwrap_err(),
    ];
    for failure in failures {
        assert!(matches!(failure.outcome, Outcome::AuthDead { .. }), "{failure:?}");
        assert_eq!(failure.platform_code.as_deref(), Some("190/460"));
    }
    assert!(matches!(
        client.page_published_posts(PAGE, token, an_hour_ago()).await,
        Err(postroute_platforms::PlatformError::AuthDead(_))
    ));
    assert!(meta.fake.published().is_empty());
}

#[tokio::test]
async fn throttling_waits_until_graph_says_access_returns() {
    let meta = Meta::start().await;
    let (client, token) = (&meta.client, meta.token.as_str());
    let photo = meta.media_url("photo.jpg");

    meta.arm(json!({"fault": "rate_limited", "call": "feed", "code": 32, "reset_in_secs": 600}));
    let before = Utc::now();
    let failure = client.publish_page_post(PAGE, token, "Too fast", None).await.unwrap_err();
    let Outcome::RateLimited { reset_at: Some(reset_at) } = failure.outcome else {
        panic!("{failure:?}")
    };
    let wait = (reset_at - before).num_seconds();
    assert!((600..610).contains(&wait), "estimated_time_to_regain_access is 10 minutes: {wait}");
    assert_eq!(failure.platform_code.as_deref(), Some("32"));

    // Instagram's BUC throttle arrives as HTTP 400 (publishing.md B.2).
    meta.fake.set_container_timing(Duration::ZERO, Duration::from_secs(3600));
    let container =
        meta.finished_container(&IgContainer::Image { image_url: &photo, caption: "c" }).await;
    meta.arm(json!({"fault": "rate_limited", "call": "media_publish", "code": 80_002, "reset_in_secs": 120}));
    let failure = client.publish_ig_container(IG, token, &container).await.unwrap_err();
    assert!(matches!(failure.outcome, Outcome::RateLimited { reset_at: Some(_) }), "{failure:?}");

    // The day's quota is spent: the channel waits, the post is not failed.
    meta.fake.set_publishing_limit(0);
    assert!(client.ig_publishing_limit(IG, token).await.unwrap().exhausted());
    let failure = client.publish_ig_container(IG, token, &container).await.unwrap_err();
    assert_eq!(failure.outcome, Outcome::RateLimited { reset_at: None });
    assert_eq!(failure.platform_code.as_deref(), Some("9/2207042"));

    // An app-wide throttle on a read.
    meta.fake.set_rate_limit(Some((17, Duration::from_secs(300))));
    let failure = client.ig_container_status(&container, token).await.unwrap_err();
    assert!(matches!(failure.outcome, Outcome::RateLimited { reset_at: Some(_) }), "{failure:?}");
    meta.fake.set_rate_limit(None);
    assert!(meta.fake.published().is_empty());
}

#[tokio::test]
async fn refusals_are_permanent() {
    let meta = Meta::start().await;
    let (client, token) = (&meta.client, meta.token.as_str());
    meta.arm(json!({"fault": "permission", "call": "feed"}));
    let failure = client.publish_page_post(PAGE, token, "No right", None).await.unwrap_err();
    assert!(matches!(failure.outcome, Outcome::Permanent { .. }), "{failure:?}");
    assert_eq!((failure.http_status, failure.platform_code.as_deref()), (Some(403), Some("200")));
    // Graph refuses an album of photos that are not this Page's unpublished uploads.
    let failure =
        client.publish_page_album(PAGE, token, "Nothing", &["1".to_owned()]).await.unwrap_err();
    assert!(matches!(failure.outcome, Outcome::Permanent { .. }), "{failure:?}");
    assert!(meta.fake.published().is_empty());
}

#[tokio::test]
async fn only_a_failure_to_connect_proves_nothing_was_sent() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dropping = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dropping_address = dropping.local_addr().unwrap();
    // Takes the request, then hangs up without an answer.
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = dropping.accept().await else { return };
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(stream);
        }
    });
    let client_for = |address: SocketAddr| {
        let base = url::Url::parse(&format!("http://{address}/v25.0/")).unwrap();
        MetaClient::new(MetaEndpoints { graph_base: base.clone(), dialog_base: base }, "app-1", "s")
            .unwrap()
    };

    let refused =
        client_for(unused).publish_page_post(PAGE, "token", "Hello", None).await.unwrap_err();
    assert!(is_transient(&refused), "{refused:?}");
    let dropped = client_for(dropping_address);
    let failure = dropped.publish_page_post(PAGE, "token", "Hello", None).await.unwrap_err();
    assert!(is_ambiguous(&failure), "{failure:?}");
    let failure = dropped.publish_ig_container(IG, "token", "1789").await.unwrap_err();
    assert!(is_ambiguous(&failure), "{failure:?}");
    let failure = dropped
        .create_ig_container(
            IG,
            "token",
            &IgContainer::Image { image_url: "http://x/", caption: "" },
        )
        .await
        .unwrap_err();
    assert!(is_transient(&failure), "a container publishes nothing: {failure:?}");
    server.abort();
}

/// A moment before anything in these tests was posted.
fn an_hour_ago() -> chrono::DateTime<Utc> {
    Utc::now() - chrono::TimeDelta::hours(1)
}

#[tokio::test]
async fn a_page_listing_reads_back_to_its_moment_and_says_when_it_could_not() {
    let meta = Meta::start().await;
    let (client, token) = (&meta.client, meta.token.as_str());
    let post = |text: String| async move {
        client.publish_page_post(PAGE, token, &text, None).await.unwrap();
    };
    for n in 0..30 {
        post(format!("Earlier {n}")).await;
    }
    // Graph's times are whole seconds: the moment falls on a second after the earlier posts.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let since = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    for n in 0..5 {
        post(format!("Since {n}")).await;
    }

    // The first page of 25 reaches past the moment: that is the whole window.
    let listing = client.page_published_posts(PAGE, token, since).await.unwrap();
    let texts: Vec<&str> =
        listing.posts.iter().filter_map(|post| post.message.as_deref()).collect();
    assert_eq!(texts, ["Since 4", "Since 3", "Since 2", "Since 1", "Since 0"]);
    assert!(listing.complete);

    // Busier than ten pages since the moment: what was read is kept, and it says it is not all.
    for n in 5..260 {
        post(format!("Since {n}")).await;
    }
    let listing = client.page_published_posts(PAGE, token, since).await.unwrap();
    assert_eq!(listing.posts.len(), 250);
    assert_eq!(listing.posts[0].message.as_deref(), Some("Since 259"));
    assert!(!listing.complete, "Since 0 to 9 are further down");
}
