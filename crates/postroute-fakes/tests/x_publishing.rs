//! The fake X's publishing endpoints: what they create, refuse and record, and the faults a
//! test arms on them (README "Publishing faults"). Held here in Rust so they stay covered where
//! the referee suite (tweepy) is skipped.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

mod common;

use std::time::Duration;

use common::{JPEG, MP4, X_CLIENT, multipart, x_token};
use postroute_fakes::{FakeX, Platform};
use serde_json::{Value, json};

const SCOPES: &str = "tweet.read tweet.write users.read media.write offline.access";

struct X {
    fake: FakeX,
    token: String,
    http: reqwest::Client,
}

impl X {
    async fn start() -> Self {
        let fake = FakeX::start(X_CLIENT.0, X_CLIENT.1).await.unwrap();
        let token = x_token(&fake, SCOPES).await;
        Self { fake, token, http: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> url::Url {
        self.fake.base_url().join(path).unwrap()
    }

    async fn tweet(&self, body: Value) -> reqwest::Response {
        self.http
            .post(self.url("2/tweets"))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(self.url(path)).bearer_auth(&self.token).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn upload(&self, path: &str, fields: &[(&str, &str)], file: &[u8]) -> (u16, Value) {
        let (content_type, body) = multipart(fields, Some(("media", file)));
        let response = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

#[tokio::test]
async fn a_thread_is_created_listed_from_since_id_and_a_part_deleted() {
    let x = X::start().await;
    let first = x.tweet(json!({"text": "Part one https://postroute.example/launch"})).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().contains_key("x-rate-limit-reset"));
    let first: Value = first.json().await.unwrap();
    let first_id = first["data"]["id"].as_str().unwrap().to_owned();
    assert!(
        first["data"]["text"].as_str().unwrap().contains("https://t.co/"),
        "links are shortened"
    );
    let reply =
        x.tweet(json!({"text": "Part two", "reply": {"in_reply_to_tweet_id": first_id}})).await;
    assert_eq!(reply.status(), 201);
    let second_id = reply.json::<Value>().await.unwrap()["data"]["id"].as_str().unwrap().to_owned();
    assert!(second_id.parse::<u64>().unwrap() > first_id.parse::<u64>().unwrap());

    let (status, timeline) = x
        .get(&format!(
            "2/users/1001/tweets?since_id={first_id}&max_results=5&exclude=retweets&tweet.fields=created_at,referenced_tweets,attachments,note_tweet"
        ))
        .await;
    assert_eq!(status, 200, "{timeline}");
    assert_eq!(timeline["meta"]["result_count"], 1, "since_id is exclusive: {timeline}");
    let listed = &timeline["data"][0];
    assert_eq!(listed["id"], second_id.as_str());
    assert_eq!(listed["referenced_tweets"], json!([{"type": "replied_to", "id": first_id}]));
    assert!(listed["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(listed.get("attachments").is_none(), "no media, no attachments");

    // A snowflake id made from a time before both posts lists both, newest first.
    let before = (1_000_u64 << 22).to_string();
    let (_, both) = x.get(&format!("2/users/1001/tweets?since_id={before}")).await;
    assert_eq!(both["data"][0]["id"], second_id.as_str());
    assert_eq!(both["data"][1]["id"], first_id.as_str());
    assert!(both["data"][0].get("created_at").is_none(), "only the fields asked for");
    let (status, _) = x.get("2/users/1001/tweets?max_results=2").await;
    assert_eq!(status, 400, "max_results is 5 to 100");

    let deleted = x
        .http
        .delete(x.url(&format!("2/tweets/{second_id}")))
        .bearer_auth(&x.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.json::<Value>().await.unwrap(), json!({"data": {"deleted": true}}));
    let (_, after) = x.get(&format!("2/users/1001/tweets?since_id={before}")).await;
    assert_eq!(after["meta"]["result_count"], 1);
    let published = x.fake.published();
    assert_eq!(published.len(), 2, "the record keeps deleted posts");
    assert_eq!(published[1].reply_to.as_deref(), Some(first_id.as_str()));
    assert!(published[1].deleted && !published[0].deleted);
    assert_eq!((published[0].platform, published[0].account.as_str()), (Platform::X, "1001"));
}

#[tokio::test]
async fn x_refuses_what_the_schema_and_its_rules_refuse() {
    let x = X::start().await;
    assert_eq!(x.tweet(json!({"text": "Once"})).await.status(), 201);
    let duplicate = x.tweet(json!({"text": "Once"})).await;
    assert_eq!(duplicate.status(), 403);
    let body: Value = duplicate.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("duplicate content"), "{body}");
    assert!(body.to_string().find("\"id\"").is_none(), "the duplicate answer names no tweet");
    for (body, status) in [
        (json!({"text": "x", "nonsense": true}), 400),
        (json!({"text": ""}), 400),
        (json!({}), 400),
        (json!({"text": "q", "quote_tweet_id": "1"}), 403),
        (json!({"text": "r", "reply": {"in_reply_to_tweet_id": "42"}}), 403),
        (json!({"text": "m", "media": {"media_ids": ["999"]}}), 400),
    ] {
        assert_eq!(x.tweet(body.clone()).await.status(), status, "{body}");
    }
    let narrow = x_token(&x.fake, "tweet.read users.read").await;
    let refused = x
        .http
        .post(x.url("2/tweets"))
        .bearer_auth(narrow)
        .json(&json!({"text": "w"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "tweet.write is needed");
    assert_eq!(x.fake.published().len(), 1);
}

#[tokio::test]
async fn armed_refusals_create_nothing_and_answer_in_their_class() {
    let x = X::start().await;
    for (fault, status) in [
        (json!({"fault": "server_error"}), 503),
        (json!({"fault": "rate_limited", "reset_in_secs": 120}), 429),
        (json!({"fault": "unauthorized"}), 401),
        (json!({"fault": "duplicate"}), 403),
        (json!({"fault": "credits_depleted"}), 402),
        (json!({"fault": "usage_capped"}), 429),
        (json!({"fault": "reply_restricted"}), 403),
    ] {
        x.fake.arm_publish_fault(&fault).unwrap();
        let refused = x.tweet(json!({"text": format!("{fault}")})).await;
        assert_eq!(refused.status(), status, "{fault}");
        let headers = refused.headers().clone();
        let body: Value = refused.json().await.unwrap();
        match fault["fault"].as_str().unwrap() {
            "rate_limited" => {
                assert_eq!(headers["x-rate-limit-remaining"], "0");
                let reset: u64 = headers["x-rate-limit-reset"].to_str().unwrap().parse().unwrap();
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                assert!((now + 100..=now + 121).contains(&reset), "{reset}");
            }
            "credits_depleted" => assert_eq!(body["title"], "CreditsDepleted"),
            "usage_capped" => {
                assert!(body["type"].as_str().unwrap().ends_with("/problems/usage-capped"));
                assert_ne!(headers["x-rate-limit-remaining"], "0", "a cap is not the window");
            }
            _ => {}
        }
    }
    assert!(x.fake.published().is_empty(), "a refusal creates nothing");
    assert_eq!(
        x.tweet(json!({"text": "through"})).await.status(),
        201,
        "each fault caught one call"
    );
}

#[tokio::test]
async fn created_then_500_and_created_then_timeout_leave_the_post_on_the_platform() {
    let x = X::start().await;
    x.fake.arm_publish_fault(&json!({"fault": "created_then_500"})).unwrap();
    assert_eq!(x.tweet(json!({"text": "Lost answer"})).await.status(), 500);
    assert_eq!(x.fake.published().len(), 1, "the post exists although the answer was a 500");
    // Posting it again is what a blind retry does: X refuses the duplicate.
    assert_eq!(x.tweet(json!({"text": "Lost answer"})).await.status(), 403);

    x.fake.arm_publish_fault(&json!({"fault": "created_then_timeout", "hang_secs": 5})).unwrap();
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(500)).build().unwrap();
    let timed_out = impatient
        .post(x.url("2/tweets"))
        .bearer_auth(&x.token)
        .json(&json!({"text": "No answer"}))
        .send()
        .await
        .unwrap_err();
    assert!(timed_out.is_timeout(), "{timed_out}");
    let texts: Vec<Option<String>> = x.fake.published().into_iter().map(|post| post.text).collect();
    assert_eq!(texts, [Some("Lost answer".to_owned()), Some("No answer".to_owned())]);
    // The timeline shows it, which is how reconciliation finds it.
    let (_, timeline) = x.get("2/users/1001/tweets").await;
    assert_eq!(timeline["meta"]["result_count"], 2);
}

#[tokio::test]
async fn an_injected_rate_limit_covers_posting_with_the_reset() {
    let x = X::start().await;
    x.fake.exhaust_rate_limit(Duration::from_secs(60));
    let limited = x.tweet(json!({"text": "later"})).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["x-rate-limit-limit"], "100");
    assert!(x.fake.published().is_empty());
}

#[tokio::test]
async fn images_upload_at_once_and_video_after_processing() {
    let x = X::start().await;
    let (status, image) =
        x.upload("2/media/upload", &[("media_category", "tweet_image")], JPEG).await;
    assert_eq!(status, 200, "{image}");
    assert!(image["data"].get("processing_info").is_none());
    let image_id = image["data"]["id"].as_str().unwrap().to_owned();
    let (status, _) =
        x.upload("2/media/upload", &[("media_category", "tweet_image")], b"text").await;
    assert_eq!(status, 400, "not an image");
    let (status, _) = x.upload("2/media/upload", &[("command", "INIT")], JPEG).await;
    assert_eq!(status, 400, "the v1.1 command form is refused");

    x.fake.set_media_processing(Duration::from_millis(400), false);
    let init = x
        .http
        .post(x.url("2/media/upload/initialize"))
        .bearer_auth(&x.token)
        .json(&json!({
            "media_type": "video/mp4",
            "total_bytes": MP4.len() * 2,
            "media_category": "tweet_video",
        }))
        .send()
        .await
        .unwrap();
    let init: Value = init.json().await.unwrap();
    let video_id = init["data"]["id"].as_str().unwrap().to_owned();
    let media_key = init["data"]["media_key"].as_str().unwrap().to_owned();
    assert!(media_key.starts_with("7_"), "{media_key}");
    for index in ["0", "1"] {
        let (status, _) = x
            .upload(&format!("2/media/upload/{video_id}/append"), &[("segment_index", index)], MP4)
            .await;
        assert_eq!(status, 200);
    }
    let finalize = x
        .http
        .post(x.url(&format!("2/media/upload/{video_id}/finalize")))
        .bearer_auth(&x.token)
        .send()
        .await
        .unwrap();
    let finalize: Value = finalize.json().await.unwrap();
    assert_eq!(finalize["data"]["processing_info"]["state"], "in_progress", "{finalize}");
    assert_eq!(finalize["data"]["expires_after_secs"], 86_400);
    let early = x.tweet(json!({"text": "video", "media": {"media_ids": [video_id]}})).await;
    assert_eq!(early.status(), 400, "not processed yet");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, status) = x.get(&format!("2/media/upload?command=STATUS&media_id={video_id}")).await;
    assert_eq!(status["data"]["processing_info"]["state"], "succeeded", "{status}");

    assert_eq!(
        x.tweet(json!({"media": {"media_ids": [image_id]}})).await.status(),
        201,
        "media-only"
    );
    assert_eq!(
        x.tweet(json!({"text": "video", "media": {"media_ids": [video_id]}})).await.status(),
        201
    );
    let (_, timeline) = x.get("2/users/1001/tweets?tweet.fields=attachments").await;
    assert_eq!(timeline["data"][0]["attachments"]["media_keys"], json!([media_key]));

    // Segments that do not add up to total_bytes are refused at finalize.
    let init: Value = x
        .http
        .post(x.url("2/media/upload/initialize"))
        .bearer_auth(&x.token)
        .json(&json!({
            "media_type": "video/mp4",
            "total_bytes": 1000,
            "media_category": "tweet_video",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let short_id = init["data"]["id"].as_str().unwrap();
    x.upload(&format!("2/media/upload/{short_id}/append"), &[("segment_index", "0")], MP4).await;
    let finalize = x
        .http
        .post(x.url(&format!("2/media/upload/{short_id}/finalize")))
        .bearer_auth(&x.token)
        .send()
        .await
        .unwrap();
    assert_eq!(finalize.status(), 400);
}

#[tokio::test]
async fn failed_processing_keeps_the_media_off_posts() {
    let x = X::start().await;
    x.fake.set_media_processing(Duration::ZERO, true);
    let (_, gif) =
        x.upload("2/media/upload", &[("media_category", "tweet_gif")], b"GIF89a-fake").await;
    let id = gif["data"]["id"].as_str().unwrap().to_owned();
    let (_, status) = x.get(&format!("2/media/upload?command=STATUS&media_id={id}")).await;
    assert_eq!(status["data"]["processing_info"]["state"], "failed", "{status}");
    assert_eq!(x.tweet(json!({"text": "gif", "media": {"media_ids": [id]}})).await.status(), 400);
}

#[tokio::test]
async fn injected_latency_slows_posting() {
    let x = X::start().await;
    x.fake.set_latency(Duration::from_millis(300));
    let started = std::time::Instant::now();
    assert_eq!(x.tweet(json!({"text": "slow"})).await.status(), 201);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
}
