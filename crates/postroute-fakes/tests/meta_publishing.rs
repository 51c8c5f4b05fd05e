//! The fake Meta's publishing endpoints: Page feed, photos and videos, Instagram containers and
//! `media_publish`, the listings reconciliation reads, and the faults a test arms on them
//! (README "Publishing faults"). Held here in Rust so they stay covered where the referee suite
//! (facebook-business) is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

mod common;

use std::time::Duration;

use common::{JPEG, META_APP, MP4, media_host, meta_tokens, multipart};
use postroute_fakes::{FakeMeta, Platform};
use serde_json::{Value, json};

const SCOPES: &str = "pages_show_list,pages_read_engagement,pages_manage_posts,instagram_basic,instagram_content_publish";
const PAGE: &str = "501";
const IG: &str = "17841400000000501";

struct Meta {
    fake: FakeMeta,
    user: String,
    page: String,
    http: reqwest::Client,
}

impl Meta {
    async fn start() -> Self {
        let fake = FakeMeta::start(META_APP.0, META_APP.1).await.unwrap();
        let (user, page) = meta_tokens(&fake, SCOPES).await;
        Self { fake, user, page, http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> url::Url {
        self.fake.graph_url().join(path).unwrap()
    }

    /// A form POST with `token`; returns (status, body).
    async fn post(&self, token: &str, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn upload(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &[u8]),
    ) -> (u16, Value) {
        let (content_type, body) = multipart(fields, Some(file));
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.page)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn get(&self, token: &str, path: &str) -> Value {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap().json().await.unwrap()
    }

    async fn status_code(&self, container: &str) -> String {
        let read = self.get(&self.user, &format!("{container}?fields=status_code,status")).await;
        read["status_code"].as_str().unwrap_or_default().to_owned()
    }
}

fn code(body: &Value) -> (i64, Option<i64>) {
    (body["error"]["code"].as_i64().unwrap(), body["error"]["error_subcode"].as_i64())
}

#[tokio::test]
async fn page_posts_photos_and_albums_are_published_and_listed() {
    let meta = Meta::start().await;
    let (status, post) =
        meta.post(&meta.page, &format!("{PAGE}/feed"), &[("message", "Fresh bread")]).await;
    assert_eq!(status, 200, "{post}");
    assert!(post["id"].as_str().unwrap().starts_with("501_"));
    let (status, duplicate) =
        meta.post(&meta.page, &format!("{PAGE}/feed"), &[("message", "Fresh bread")]).await;
    assert_eq!((status, code(&duplicate)), (400, (506, None)));

    let (status, photo) =
        meta.upload(&format!("{PAGE}/photos"), &[("caption", "Rye")], ("source", JPEG)).await;
    assert_eq!(status, 200, "{photo}");
    assert!(photo["post_id"].as_str().unwrap().starts_with("501_") && photo["id"].is_string());
    let mut attached = Vec::new();
    for _ in 0..2 {
        let (_, unpublished) = meta
            .upload(
                &format!("{PAGE}/photos"),
                &[("published", "false"), ("temporary", "true")],
                ("source", JPEG),
            )
            .await;
        assert!(unpublished.get("post_id").is_none(), "{unpublished}");
        attached.push(unpublished["id"].as_str().unwrap().to_owned());
    }
    let media: Vec<String> =
        attached.iter().map(|id| json!({"media_fbid": id}).to_string()).collect();
    let (status, album) = meta
        .post(
            &meta.page,
            &format!("{PAGE}/feed"),
            &[
                ("message", "Two loaves"),
                ("attached_media[0]", &media[0]),
                ("attached_media[1]", &media[1]),
            ],
        )
        .await;
    assert_eq!(status, 200, "{album}");
    let (status, reused) = meta
        .post(
            &meta.page,
            &format!("{PAGE}/feed"),
            &[("message", "Again"), ("attached_media[0]", &media[0])],
        )
        .await;
    assert_eq!((status, code(&reused).0), (400, 100), "an attached photo is spent");

    let fields = "id,message,created_time,attachments{media_type}";
    let listing =
        meta.get(&meta.page, &format!("{PAGE}/published_posts?fields={fields}&limit=2")).await;
    let data = listing["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{listing}");
    assert_eq!(data[0]["id"], album["id"], "newest first");
    assert_eq!(data[0]["attachments"]["data"][0]["media_type"], "album");
    assert_eq!(data[1]["message"], "Rye");
    assert!(data[1]["created_time"].as_str().unwrap().ends_with("+0000"));
    assert!(
        listing["paging"]["next"].as_str().unwrap().contains("after="),
        "three posts, two a page"
    );

    let published = meta.fake.published();
    assert_eq!(published.len(), 3);
    assert!(
        published.iter().all(|post| post.platform == Platform::Facebook && post.account == PAGE)
    );
    assert_eq!(published[2].media, attached);
}

#[tokio::test]
async fn only_a_page_token_with_pages_manage_posts_publishes() {
    let meta = Meta::start().await;
    let (status, refused) =
        meta.post(&meta.user, &format!("{PAGE}/feed"), &[("message", "as user")]).await;
    assert_eq!((status, code(&refused).0), (403, 200));
    let (_, narrow) = meta_tokens(&meta.fake, "pages_show_list,pages_read_engagement").await;
    let (status, refused) =
        meta.post(&narrow, &format!("{PAGE}/feed"), &[("message", "no permission")]).await;
    assert_eq!((status, code(&refused).0), (403, 200));
    let (status, _) = meta.post(&meta.page, &format!("{PAGE}/feed"), &[]).await;
    assert_eq!(status, 400, "nothing to post");
    assert!(meta.fake.published().is_empty());
}

#[tokio::test]
async fn a_video_uploads_in_phases_and_publishes_at_finish() {
    let meta = Meta::start().await;
    let size = MP4.len().to_string();
    let (_, start) = meta
        .post(
            &meta.page,
            &format!("{PAGE}/videos"),
            &[("upload_phase", "start"), ("file_size", &size)],
        )
        .await;
    let session = start["upload_session_id"].as_str().unwrap().to_owned();
    assert_eq!(start["start_offset"], "0");
    assert_eq!(start["end_offset"], size.as_str());
    let (status, early) = meta
        .post(
            &meta.page,
            &format!("{PAGE}/videos"),
            &[("upload_phase", "finish"), ("upload_session_id", &session)],
        )
        .await;
    assert_eq!(status, 400, "incomplete: {early}");
    let (status, transfer) = meta
        .upload(
            &format!("{PAGE}/videos"),
            &[("upload_phase", "transfer"), ("upload_session_id", &session), ("start_offset", "0")],
            ("video_file_chunk", MP4),
        )
        .await;
    assert_eq!(
        (status, transfer["start_offset"].as_str()),
        (200, Some(size.as_str())),
        "{transfer}"
    );
    let (status, finish) = meta
        .post(
            &meta.page,
            &format!("{PAGE}/videos"),
            &[
                ("upload_phase", "finish"),
                ("upload_session_id", &session),
                ("description", "Kneading"),
            ],
        )
        .await;
    assert_eq!((status, &finish["success"]), (200, &json!(true)));
    let published = meta.fake.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].media, [start["video_id"].as_str().unwrap()]);
    assert_eq!(published[0].text.as_deref(), Some("Kneading"));
}

#[tokio::test]
async fn an_instagram_container_goes_in_progress_finished_published() {
    let meta = Meta::start().await;
    let (host, _server) = media_host().await;
    meta.fake.set_container_timing(Duration::from_millis(300), Duration::from_secs(60));
    let image_url = format!("http://{host}/photo.jpg");
    let (status, container) = meta
        .post(
            &meta.user,
            &format!("{IG}/media"),
            &[("image_url", &image_url), ("caption", "Croissants")],
        )
        .await;
    assert_eq!(status, 200, "{container}");
    let id = container["id"].as_str().unwrap().to_owned();
    assert_eq!(meta.status_code(&id).await, "IN_PROGRESS");
    let (status, early) =
        meta.post(&meta.user, &format!("{IG}/media_publish"), &[("creation_id", &id)]).await;
    assert_eq!((status, code(&early)), (400, (9007, Some(2_207_027))));
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(meta.status_code(&id).await, "FINISHED");
    let limit = meta
        .get(&meta.user, &format!("{IG}/content_publishing_limit?fields=quota_usage,config"))
        .await;
    assert_eq!(
        limit["data"][0],
        json!({"quota_usage": 0, "config": {"quota_total": 100, "quota_duration": 86400}})
    );
    let (status, published) =
        meta.post(&meta.page, &format!("{IG}/media_publish"), &[("creation_id", &id)]).await;
    assert_eq!(status, 200, "a Page token publishes too: {published}");
    assert_eq!(meta.status_code(&id).await, "PUBLISHED");
    let (status, _) =
        meta.post(&meta.user, &format!("{IG}/media_publish"), &[("creation_id", &id)]).await;
    assert_eq!(
        (status, meta.fake.republish_attempts()),
        (400, 1),
        "a published container is never published again"
    );

    let listing = meta
        .get(
            &meta.user,
            &format!("{IG}/media?fields=id,caption,timestamp,media_type,permalink&limit=10"),
        )
        .await;
    assert_eq!(listing["data"][0]["id"], published["id"]);
    assert_eq!(listing["data"][0]["caption"], "Croissants");
    assert_eq!(listing["data"][0]["media_type"], "IMAGE");
    assert!(
        listing["data"][0]["permalink"]
            .as_str()
            .unwrap()
            .starts_with("https://www.instagram.com/p/")
    );
    let record = meta.fake.published();
    assert_eq!(
        (record.len(), record[0].platform, record[0].media.clone()),
        (1, Platform::Instagram, vec![image_url])
    );
    let limit = meta.get(&meta.user, &format!("{IG}/content_publishing_limit")).await;
    assert_eq!(limit["data"][0], json!({"quota_usage": 1}));
}

#[tokio::test]
async fn carousels_reels_errors_and_expiry() {
    let meta = Meta::start().await;
    let (host, _server) = media_host().await;
    meta.fake.set_container_timing(Duration::ZERO, Duration::from_secs(60));
    let photo = format!("http://{host}/photo.jpg");
    let mut children = Vec::new();
    for _ in 0..2 {
        let (_, child) = meta
            .post(
                &meta.user,
                &format!("{IG}/media"),
                &[("image_url", &photo), ("is_carousel_item", "true")],
            )
            .await;
        children.push(child["id"].as_str().unwrap().to_owned());
    }
    let (status, _) = meta
        .post(
            &meta.user,
            &format!("{IG}/media"),
            &[("media_type", "CAROUSEL"), ("children", &children[0])],
        )
        .await;
    assert_eq!(status, 400, "a carousel needs two children");
    let (status, child_publish) = meta
        .post(&meta.user, &format!("{IG}/media_publish"), &[("creation_id", &children[0])])
        .await;
    assert_eq!(status, 400, "a child is published through its carousel: {child_publish}");
    let list = children.join(",");
    let (_, parent) = meta
        .post(
            &meta.user,
            &format!("{IG}/media"),
            &[("media_type", "CAROUSEL"), ("children", &list), ("caption", "Box")],
        )
        .await;
    let parent = parent["id"].as_str().unwrap().to_owned();
    let (status, _) =
        meta.post(&meta.user, &format!("{IG}/media_publish"), &[("creation_id", &parent)]).await;
    assert_eq!(status, 200);
    let (_, reel) = meta
        .post(
            &meta.user,
            &format!("{IG}/media"),
            &[("media_type", "REELS"), ("video_url", &format!("http://{host}/clip.mp4"))],
        )
        .await;
    let reel = reel["id"].as_str().unwrap().to_owned();
    assert_eq!(meta.status_code(&reel).await, "FINISHED");
    let (status, _) =
        meta.post(&meta.user, &format!("{IG}/media_publish"), &[("creation_id", &reel)]).await;
    assert_eq!(status, 200);
    let listing =
        meta.get(&meta.user, &format!("{IG}/media?fields=media_type,media_product_type")).await;
    assert_eq!(listing["data"][0]["media_product_type"], "REELS");
    assert_eq!(listing["data"][1]["media_type"], "CAROUSEL_ALBUM");
    assert_eq!(meta.fake.published()[0].media.len(), 2, "a carousel records its children's media");

    // A file that is not a video fails processing; a URL that cannot be fetched, or is not a
    // photo, is refused at creation with 9004/2207052.
    let (_, broken) = meta
        .post(
            &meta.user,
            &format!("{IG}/media"),
            &[("media_type", "REELS"), ("video_url", &format!("http://{host}/photo.jpg"))],
        )
        .await;
    assert_eq!(meta.status_code(broken["id"].as_str().unwrap()).await, "ERROR");
    for url in [format!("http://{host}/missing.jpg"), format!("http://{host}/notes.txt")] {
        let (status, refused) =
            meta.post(&meta.user, &format!("{IG}/media"), &[("image_url", &url)]).await;
        assert_eq!((status, code(&refused)), (400, (9004, Some(2_207_052))), "{url}");
    }

    meta.fake.set_container_timing(Duration::ZERO, Duration::from_millis(100));
    let (_, stale) = meta.post(&meta.user, &format!("{IG}/media"), &[("image_url", &photo)]).await;
    let stale = stale["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(meta.status_code(&stale).await, "EXPIRED");
    let (status, _) =
        meta.post(&meta.user, &format!("{IG}/media_publish"), &[("creation_id", &stale)]).await;
    assert_eq!(status, 400);
    assert_eq!(meta.fake.published().len(), 2);
}

#[tokio::test]
async fn the_publishing_limit_is_enforced_at_media_publish() {
    let meta = Meta::start().await;
    let (host, _server) = media_host().await;
    meta.fake.set_container_timing(Duration::ZERO, Duration::from_secs(60));
    let photo = format!("http://{host}/photo.jpg");
    let (_, first) = meta.post(&meta.user, &format!("{IG}/media"), &[("image_url", &photo)]).await;
    let (_, second) = meta.post(&meta.user, &format!("{IG}/media"), &[("image_url", &photo)]).await;
    meta.fake.set_publishing_limit(1);
    let first = first["id"].as_str().unwrap();
    assert_eq!(
        meta.post(&meta.user, &format!("{IG}/media_publish"), &[("creation_id", first)]).await.0,
        200
    );
    let (status, refused) = meta
        .post(
            &meta.user,
            &format!("{IG}/media_publish"),
            &[("creation_id", second["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!((status, code(&refused)), (400, (9, Some(2_207_042))));
}

#[tokio::test]
async fn lost_answers_leave_the_post_and_refusals_leave_nothing() {
    let meta = Meta::start().await;
    let (host, _server) = media_host().await;
    meta.fake.set_container_timing(Duration::ZERO, Duration::from_secs(60));
    let photo = format!("http://{host}/photo.jpg");

    meta.fake
        .arm_publish_fault(&json!({"fault": "created_then_500", "call": "media_publish"}))
        .unwrap();
    let (_, container) =
        meta.post(&meta.user, &format!("{IG}/media"), &[("image_url", &photo)]).await;
    let container = container["id"].as_str().unwrap().to_owned();
    let (status, lost) =
        meta.post(&meta.user, &format!("{IG}/media_publish"), &[("creation_id", &container)]).await;
    assert_eq!(
        (status, code(&lost), &lost["error"]["is_transient"]),
        (500, (2, None), &json!(true))
    );
    assert_eq!(
        meta.status_code(&container).await,
        "PUBLISHED",
        "Meta's recovery recipe reads the container"
    );
    assert_eq!(meta.fake.published().len(), 1);

    meta.fake.arm_publish_fault(&json!({"fault": "created_then_timeout", "hang_secs": 5})).unwrap();
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(500)).build().unwrap();
    let timed_out = impatient
        .post(meta.url(&format!("{PAGE}/feed")))
        .bearer_auth(&meta.page)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("message=Hello")
        .send()
        .await
        .unwrap_err();
    assert!(timed_out.is_timeout());
    assert_eq!(meta.fake.published().len(), 2, "the Page post exists");
    let listing = meta.get(&meta.page, &format!("{PAGE}/published_posts")).await;
    assert_eq!(listing["data"][0]["message"], "Hello");

    for (fault, expected) in [
        (json!({"fault": "server_error"}), (500, 2)),
        (json!({"fault": "rate_limited", "code": 32, "reset_in_secs": 600}), (400, 32)),
        (json!({"fault": "auth_dead", "subcode": 460}), (400, 190)),
        (json!({"fault": "permission"}), (403, 200)),
        (json!({"fault": "duplicate"}), (400, 506)),
        (
            json!({"fault": "graph_error", "code": 368, "message": "(#368) deemed abusive"}),
            (400, 368),
        ),
    ] {
        meta.fake.arm_publish_fault(&fault).unwrap();
        let (status, refused) = meta
            .post(&meta.page, &format!("{PAGE}/feed"), &[("message", &fault.to_string())])
            .await;
        assert_eq!((status, code(&refused).0), expected, "{fault}");
    }
    assert_eq!(meta.fake.published().len(), 2, "a refusal creates nothing");

    // Container creation is caught only when a fault names it: 9004 is safe to retry.
    meta.fake
        .arm_publish_fault(
            &json!({"fault": "graph_error", "call": "media", "code": 9004, "subcode": 2207052}),
        )
        .unwrap();
    let (status, refused) =
        meta.post(&meta.user, &format!("{IG}/media"), &[("image_url", &photo)]).await;
    assert_eq!((status, code(&refused)), (400, (9004, Some(2_207_052))));
    let (status, _) = meta.post(&meta.user, &format!("{IG}/media"), &[("image_url", &photo)]).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn injected_latency_slows_publishing() {
    let meta = Meta::start().await;
    meta.fake.set_latency(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let (status, _) = meta.post(&meta.page, &format!("{PAGE}/feed"), &[("message", "slow")]).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
}

#[tokio::test]
async fn page_and_instagram_answers_report_business_use_case_usage() {
    let meta = Meta::start().await;
    let answer = meta
        .http
        .post(meta.url(&format!("{PAGE}/feed")))
        .bearer_auth(&meta.page)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("message=Counted")
        .send()
        .await
        .unwrap();
    let usage: Value =
        serde_json::from_str(answer.headers()["x-business-use-case-usage"].to_str().unwrap())
            .unwrap();
    assert_eq!(usage[PAGE][0]["type"], "pages");
    assert_eq!(usage[PAGE][0]["estimated_time_to_regain_access"], 0);
    let limit = meta
        .http
        .get(meta.url(&format!("{IG}/content_publishing_limit")))
        .bearer_auth(&meta.user)
        .send()
        .await
        .unwrap();
    let usage: Value =
        serde_json::from_str(limit.headers()["x-business-use-case-usage"].to_str().unwrap())
            .unwrap();
    assert_eq!(usage[IG][0]["type"], "instagram");
}
