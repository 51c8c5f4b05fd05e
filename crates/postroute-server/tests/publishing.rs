//! The publisher end to end (issue 13): a scheduled post goes out to the fake X on time and
//! exactly once, a thread goes out part by part, and an answer that never came is never
//! followed by a second post.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use postroute_test_support::{Backend, TestApp, TestUser, db_test};
use reqwest::Method;
use serde_json::{Value, json};

/// A workspace with an X channel connected through the fake's OAuth flow.
async fn connected(app: &TestApp) -> (TestUser, String, String) {
    let owner = app.signed_in_user("owner@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    let channel = app.connect_x(&owner, &workspace).await;
    (owner, workspace, channel)
}

/// A workspace with a Facebook Page or an Instagram account (`platform`) connected through the
/// fake Meta's login.
async fn meta_connected(app: &TestApp, platform: &str) -> (TestUser, String, String) {
    let owner = app.signed_in_user("owner@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    let channel = app.connect_meta(&owner, &workspace, platform).await;
    (owner, workspace, channel)
}

/// Creates `body` as a post and schedules it two seconds from now.
async fn scheduled(app: &TestApp, owner: &TestUser, workspace: &str, body: Value) -> String {
    let posts = format!("/v1/workspaces/{workspace}/posts");
    let post = app.json_as(owner, Method::POST, &posts, body, 201).await;
    let id = post["id"].as_str().unwrap().to_owned();
    let at =
        (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(SecondsFormat::Millis, true);
    app.json_as(
        owner,
        Method::POST,
        &format!("{posts}/{id}/schedule"),
        json!({ "scheduled_at": at }),
        200,
    )
    .await;
    format!("{posts}/{id}")
}

/// The post once `settled` says so, within 20 s.
async fn until(
    app: &TestApp,
    owner: &TestUser,
    post: &str,
    settled: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..400 {
        let current = app.json_as(owner, Method::GET, post, Value::Null, 200).await;
        if settled(&current) {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{post} did not settle: {}",
        app.json_as(owner, Method::GET, post, Value::Null, 200).await
    );
}

#[db_test]
async fn a_scheduled_post_goes_out_to_x_on_time_and_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Launch day", "channel_ids": [channel] }),
    )
    .await;

    let published = until(&app, &owner, &post, |post| post["status"] == "published").await;
    let target = &published["targets"][0];
    assert_eq!(target["status"], "published", "{published}");
    assert_eq!(target["attempts"], 1);
    let tweets = app.fake_x().published();
    assert_eq!(tweets.len(), 1, "{tweets:?}");
    assert_eq!(tweets[0].text.as_deref(), Some("Launch day"));
    assert_eq!(target["platform_post_id"], tweets[0].id.as_str());
    assert_eq!(target["url"], format!("https://x.com/i/web/status/{}", tweets[0].id));

    // Later passes find nothing more to do.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.fake_x().published().len(), 1);
}

#[db_test]
async fn a_thread_goes_out_part_by_part_each_replying_to_the_one_before(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let body = json!({
        "content": "Thread, 1/3",
        "channel_ids": [channel],
        "variants": { "x": { "thread": ["2/3", "3/3"] } },
    });
    let post = scheduled(&app, &owner, &workspace, body).await;

    let published = until(&app, &owner, &post, |post| post["status"] == "published").await;
    let tweets = app.fake_x().published();
    let texts: Vec<_> = tweets.iter().map(|tweet| tweet.text.clone().unwrap()).collect();
    assert_eq!(texts, ["Thread, 1/3", "2/3", "3/3"]);
    assert_eq!(tweets[0].reply_to, None);
    assert_eq!(tweets[1].reply_to.as_deref(), Some(tweets[0].id.as_str()));
    assert_eq!(tweets[2].reply_to.as_deref(), Some(tweets[1].id.as_str()));
    assert_eq!(published["targets"][0]["platform_post_id"], tweets[0].id.as_str());
}

#[db_test]
async fn a_post_x_created_without_answering_is_unknown_and_never_sent_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    app.fake_x()
        .arm_publish_fault(&json!({ "fault": "created_then_500", "call": "tweet", "times": 1 }))
        .unwrap();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Maybe out", "channel_ids": [channel] }),
    )
    .await;

    let settled =
        until(&app, &owner, &post, |post| post["targets"][0]["status"] == "unknown").await;
    let target = &settled["targets"][0];
    assert_eq!(target["error_class"], "ambiguous", "{settled}");
    assert!(target["error"].as_str().unwrap().contains("did not confirm"), "{target}");
    assert_eq!(settled["status"], "publishing", "an unknown target keeps the post open");

    // The post exists on X; nothing is sent again while nobody knows.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(app.fake_x().published().len(), 1);
    let again = app.json_as(&owner, Method::GET, &post, Value::Null, 200).await;
    assert_eq!(again["targets"][0]["attempts"], 1, "{again}");
}

#[db_test]
async fn publish_now_is_accepted_and_goes_out_on_the_next_pass(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let posts = format!("/v1/workspaces/{workspace}/posts");
    let body = json!({ "content": "Right now", "channel_ids": [channel] });
    let post = app.json_as(&owner, Method::POST, &posts, body, 201).await;
    let path = format!("{posts}/{}", post["id"].as_str().unwrap());
    let accepted =
        app.json_as(&owner, Method::POST, &format!("{path}/publish-now"), Value::Null, 202).await;
    assert_eq!(accepted["status"], "scheduled", "{accepted}");

    until(&app, &owner, &path, |post| post["status"] == "published").await;
    assert_eq!(app.fake_x().published().len(), 1);
}

#[db_test]
async fn a_person_settles_what_the_publisher_could_not(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let target = |post: &str, action: &str| format!("{post}/targets/{channel}/{action}");

    // A refusal fails the target with X's words; a person retries once the cause is gone.
    app.fake_x().arm_publish_fault(&json!({ "fault": "duplicate", "times": 1 })).unwrap();
    let refused = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Once more", "channel_ids": [channel] }),
    )
    .await;
    let failed = until(&app, &owner, &refused, |post| post["status"] == "failed").await;
    assert_eq!(failed["targets"][0]["error_class"], "permanent", "{failed}");
    assert!(failed["targets"][0]["error"].as_str().unwrap().starts_with("X refused the post"));
    let wrong = app
        .json_as(
            &owner,
            Method::POST,
            &target(&refused, "mark-published"),
            json!({ "url": "https://x.com/i/web/status/1" }),
            409,
        )
        .await;
    assert_eq!(wrong["code"], "conflict");
    app.json_as(&owner, Method::POST, &target(&refused, "retry"), Value::Null, 202).await;
    until(&app, &owner, &refused, |post| post["status"] == "published").await;
    assert_eq!(app.fake_x().published().len(), 1, "the refused attempt created nothing");

    // An unknown target is settled by a person who looked: marked published with its URL.
    app.fake_x()
        .arm_publish_fault(&json!({ "fault": "created_then_500", "call": "tweet", "times": 1 }))
        .unwrap();
    let unsure = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Did it?", "channel_ids": [channel] }),
    )
    .await;
    until(&app, &owner, &unsure, |post| post["targets"][0]["status"] == "unknown").await;
    app.json_as(&owner, Method::POST, &target(&unsure, "retry"), Value::Null, 409).await;
    app.json_as(
        &owner,
        Method::POST,
        &target(&unsure, "mark-published"),
        json!({ "url": "http://x.com/plain" }),
        422,
    )
    .await;
    let tweet = app.fake_x().published().last().unwrap().id.clone();
    let url = format!("https://x.com/one/status/{tweet}");
    let marked = app
        .json_as(
            &owner,
            Method::POST,
            &target(&unsure, "mark-published"),
            json!({ "url": url }),
            200,
        )
        .await;
    assert_eq!(marked["status"], "published", "{marked}");
    assert_eq!(marked["targets"][0]["url"], url);
    assert_eq!(app.fake_x().published().len(), 2, "nothing was sent again");

    // The audit log comes with a paid plan.
    app.set_plan(&workspace, "studio").await;
    let audit = app
        .json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces/{workspace}/audit-log?action=post.marked_published"),
            Value::Null,
            200,
        )
        .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");
}

#[db_test]
async fn a_post_still_in_review_when_its_time_comes_returns_to_draft_and_its_author_is_told(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    app.set_plan(&workspace, "studio").await;
    let member = app.signed_in_user("member@example.com").await;
    app.add_member(&workspace, &member.id, "member").await;
    let settings = json!({ "approval_required": true });
    app.json_as(&owner, Method::PATCH, &format!("/v1/workspaces/{workspace}"), settings, 200).await;

    let posts = format!("/v1/workspaces/{workspace}/posts");
    let at =
        (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let body = json!({ "content": "Needs a yes", "channel_ids": [channel], "scheduled_at": at });
    let post = app.json_as(&member, Method::POST, &posts, body, 201).await;
    let path = format!("{posts}/{}", post["id"].as_str().unwrap());
    let submitted =
        app.json_as(&member, Method::POST, &format!("{path}/submit"), Value::Null, 200).await;
    assert_eq!(submitted["status"], "in_review");

    let lapsed = until(&app, &member, &path, |post| post["status"] == "draft").await;
    assert_eq!(lapsed["status_reason"], "approval_expired", "{lapsed}");
    assert!(app.fake_x().published().is_empty(), "nothing unapproved goes out");
    let mut told = Vec::new();
    for _ in 0..100 {
        told = app
            .resend()
            .accepted()
            .into_iter()
            .filter(|email| email.subject.contains("was not published"))
            .collect();
        if !told.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(told.len(), 1, "one email");
    assert_eq!(told[0].to, ["member@example.com"]);
}

#[db_test]
async fn two_instances_publishing_at_once_post_each_target_exactly_once(backend: Backend) {
    let first = TestApp::spawn(backend.clone()).await;
    // Signed up before the second instance starts, whose worker would deliver the
    // confirmation to its own fake Resend.
    let (owner, workspace, channel) = connected(&first).await;
    let second = TestApp::builder(backend).x_of(first.fake_x()).spawn_beside(&first).await;
    let posts: Vec<String> = {
        let mut posts = Vec::new();
        for n in 0..12 {
            let body = json!({ "content": format!("Post {n}"), "channel_ids": [channel] });
            posts.push(scheduled(&first, &owner, &workspace, body).await);
        }
        posts
    };
    for post in &posts {
        until(&second, &owner, post, |post| post["status"] == "published").await;
    }
    // Later passes of either instance find nothing more to send.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut texts: Vec<String> =
        first.fake_x().published().into_iter().map(|tweet| tweet.text.unwrap()).collect();
    assert_eq!(texts.len(), 12, "{texts:?}");
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), 12, "no post went out twice");
}

/// An app whose reconciliation looks twice, a second apart, instead of over twelve minutes.
async fn quick_to_reconcile(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .configure(|config| config.worker.reconcile_looks_secs = vec![1, 1])
        .spawn()
        .await
}

/// The emails the fake Resend accepted whose subject contains `subject`, once at least
/// `expected` arrived (or after 5 s).
async fn emails_about(
    app: &TestApp,
    subject: &str,
    expected: usize,
) -> Vec<postroute_fakes::ReceivedEmail> {
    let mut found = Vec::new();
    for _ in 0..100 {
        found = app
            .resend()
            .accepted()
            .into_iter()
            .filter(|email| email.subject.contains(subject))
            .collect();
        if found.len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    found
}

/// How many audit entries of `action` the workspace has (read as its owner, on a paid plan).
async fn audited(app: &TestApp, owner: &TestUser, workspace: &str, action: &str) -> usize {
    app.set_plan(workspace, "studio").await;
    let path = format!("/v1/workspaces/{workspace}/audit-log?action={action}");
    let audit = app.json_as(owner, Method::GET, &path, Value::Null, 200).await;
    audit["items"].as_array().map_or(0, Vec::len)
}

#[db_test]
async fn an_unanswered_post_is_found_on_x_and_recorded_without_a_second_post(backend: Backend) {
    let app = quick_to_reconcile(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    app.fake_x()
        .arm_publish_fault(&json!({ "fault": "created_then_500", "call": "tweet", "times": 1 }))
        .unwrap();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Out, but unconfirmed https://example.com/launch", "channel_ids": [channel] }),
    )
    .await;

    let published = until(&app, &owner, &post, |post| post["status"] == "published").await;
    let tweets = app.fake_x().published();
    assert_eq!(tweets.len(), 1, "reconciled, never sent again: {tweets:?}");
    let target = &published["targets"][0];
    assert_eq!(target["platform_post_id"], tweets[0].id.as_str(), "{published}");
    assert_eq!(target["url"], format!("https://x.com/i/web/status/{}", tweets[0].id));
    assert_eq!(target["attempts"], 1);
    let looked = app
        .count("SELECT COUNT(*) FROM publish_attempts WHERE phase = 'reconciled' AND outcome_class = 'published'")
        .await;
    assert_eq!(looked, 1);
    assert_eq!(audited(&app, &owner, &workspace, "post.published").await, 1);
    assert!(emails_about(&app, "was not published", 1).await.is_empty(), "no incident");
}

#[db_test]
async fn an_unanswered_post_under_a_busier_timeline_is_found_pages_down_not_sent_again(
    backend: Backend,
) {
    let app = TestApp::builder(backend)
        // The first look waits long enough for the account's other posts below to be made.
        .configure(|config| config.worker.reconcile_looks_secs = vec![6, 1])
        .spawn()
        .await;
    let (owner, workspace, channel) = connected(&app).await;
    let fake = app.fake_x();
    fake.set_post_window_limit(500);
    fake.arm_publish_fault(&json!({ "fault": "created_then_500", "call": "tweet", "times": 1 }))
        .unwrap();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Lost under a busy timeline", "channel_ids": [channel] }),
    )
    .await;
    until(&app, &owner, &post, |post| post["targets"][0]["status"] == "unknown").await;

    // Before reconciliation looks, the account posts 150 more from elsewhere: ours is on the
    // timeline's second page of 100.
    let token = fake.issued_tokens().into_iter().rfind(|token| token.starts_with("xat_")).unwrap();
    let tweets = fake.base_url().join("2/tweets").unwrap();
    let client = reqwest::Client::new();
    for n in 0..150 {
        let sent = client
            .post(tweets.clone())
            .bearer_auth(&token)
            .json(&json!({ "text": format!("Meanwhile, number {n}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 201, "{:?}", sent.text().await);
    }

    let published = until(&app, &owner, &post, |post| post["status"] != "publishing").await;
    let ours: Vec<_> = fake
        .published()
        .into_iter()
        .filter(|tweet| tweet.text.as_deref() == Some("Lost under a busy timeline"))
        .collect();
    assert_eq!(ours.len(), 1, "never sent again: {ours:?}");
    assert_eq!(published["status"], "published", "{published}");
    assert_eq!(published["targets"][0]["platform_post_id"], ours[0].id.as_str());
    assert_eq!(published["targets"][0]["attempts"], 1);
}

#[db_test]
async fn proof_that_nothing_was_created_allows_one_retry_and_the_post_goes_out_once(
    backend: Backend,
) {
    let app = quick_to_reconcile(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    // A 500 that created nothing: the publisher cannot know that, and looks before resending.
    app.fake_x()
        .arm_publish_fault(&json!({ "fault": "server_error", "call": "tweet", "times": 1 }))
        .unwrap();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Second time lucky", "channel_ids": [channel] }),
    )
    .await;

    let published = until(&app, &owner, &post, |post| post["status"] == "published").await;
    assert_eq!(app.fake_x().published().len(), 1);
    assert_eq!(published["targets"][0]["attempts"], 2, "{published}");
    let absent = app
        .count("SELECT COUNT(*) FROM publish_attempts WHERE phase = 'reconciled' AND outcome_class = 'absent'")
        .await;
    assert_eq!(absent, 1, "one retry, after the looks found nothing");
}

#[db_test]
async fn a_second_unanswered_call_asks_a_person_once_and_sends_nothing_more(backend: Backend) {
    let app = quick_to_reconcile(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    app.fake_x()
        .arm_publish_fault(&json!({ "fault": "server_error", "call": "tweet", "times": 2 }))
        .unwrap();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Nobody can tell", "channel_ids": [channel] }),
    )
    .await;

    let asked = until(&app, &owner, &post, |post| {
        post["targets"][0]["status"] == "unknown"
            && post["targets"][0]["error"].as_str().is_some_and(|error| error.contains("twice"))
    })
    .await;
    assert_eq!(asked["targets"][0]["attempts"], 2, "{asked}");
    let told = emails_about(&app, "was not published", 1).await;
    assert_eq!(told.len(), 1, "one email for the incident, not one per attempt");
    assert_eq!(told[0].to, ["owner@example.com"]);
    assert!(told[0].text.as_str().contains("may or may not"));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(app.fake_x().published().is_empty());
    assert_eq!(emails_about(&app, "was not published", 2).await.len(), 1);
}

#[db_test]
async fn a_refused_post_fails_with_one_email_and_an_audit_entry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    app.fake_x().arm_publish_fault(&json!({ "fault": "duplicate", "times": 1 })).unwrap();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Said before", "channel_ids": [channel] }),
    )
    .await;

    let failed = until(&app, &owner, &post, |post| post["status"] == "failed").await;
    assert_eq!(failed["targets"][0]["error_class"], "permanent");
    let told = emails_about(&app, "was not published", 1).await;
    assert_eq!(told.len(), 1);
    let text = told[0].text.clone();
    assert!(text.contains("“Said before”") && text.contains("X refused the post"), "{text}");
    assert_eq!(audited(&app, &owner, &workspace, "post.failed").await, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(emails_about(&app, "was not published", 2).await.len(), 1, "reported once");
}

#[db_test]
async fn an_expired_access_token_is_refreshed_once_and_the_post_goes_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let refreshes = app.fake_x().refresh_count();
    app.fake_x().expire_access_tokens();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Fresh token", "channel_ids": [channel] }),
    )
    .await;

    let published = until(&app, &owner, &post, |post| post["status"] == "published").await;
    assert_eq!(app.fake_x().published().len(), 1);
    assert_eq!(app.fake_x().refresh_count(), refreshes + 1, "one forced refresh");
    assert_eq!(published["targets"][0]["attempts"], 2, "the 401, then the post: {published}");
}

#[db_test]
async fn a_dead_grant_marks_the_channel_and_fails_its_waiting_posts_in_one_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let channels = app
        .json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces/{workspace}/channels"),
            Value::Null,
            200,
        )
        .await;
    let account = channels["items"][0]["external_id"].as_str().unwrap().to_owned();
    let posts = format!("/v1/workspaces/{workspace}/posts");
    let later_at =
        (Utc::now() + chrono::Duration::hours(3)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let body = json!({ "content": "Next week's news", "channel_ids": [channel] });
    let later = app.json_as(&owner, Method::POST, &posts, body, 201).await;
    let later = format!("{posts}/{}", later["id"].as_str().unwrap());
    app.json_as(
        &owner,
        Method::POST,
        &format!("{later}/schedule"),
        json!({ "scheduled_at": later_at }),
        200,
    )
    .await;
    app.fake_x().revoke_account(&account);
    let now = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Today's news", "channel_ids": [channel] }),
    )
    .await;

    let failed = until(&app, &owner, &now, |post| post["status"] == "failed").await;
    assert_eq!(failed["targets"][0]["error_class"], "auth_dead", "{failed}");
    // The post due in three hours fails now, visibly, not at its time.
    let waiting = until(&app, &owner, &later, |post| post["status"] == "failed").await;
    assert!(waiting["targets"][0]["error"].as_str().unwrap().contains("Reconnect"), "{waiting}");
    let channels = app
        .json_as(
            &owner,
            Method::GET,
            &format!("/v1/workspaces/{workspace}/channels"),
            Value::Null,
            200,
        )
        .await;
    assert_eq!(channels["items"][0]["status"], "needs_reconnect");

    let told = emails_about(&app, "Reconnect", 1).await;
    assert_eq!(told.len(), 1, "one incident, one email: {told:?}");
    let text = told[0].text.clone();
    assert!(text.contains("Today's news") && text.contains("Next week's news"), "{text}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(emails_about(&app, "was not published", 1).await.is_empty(), "no second email");
    assert!(app.fake_x().published().is_empty());
    // Retrying onto a channel that cannot publish is refused with the reason.
    let retry = format!("{later}/targets/{channel}/retry");
    let refused = app.json_as(&owner, Method::POST, &retry, Value::Null, 409).await;
    assert!(refused["detail"].as_str().unwrap().contains("needs reconnect"), "{refused}");
}

#[db_test]
async fn spent_x_credits_pause_x_publishing_until_an_operator_resumes_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    app.fake_x().arm_publish_fault(&json!({ "fault": "credits_depleted", "times": 1 })).unwrap();
    let first = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "No credits", "channel_ids": [channel] }),
    )
    .await;
    let failed = until(&app, &owner, &first, |post| post["status"] == "failed").await;
    assert!(failed["targets"][0]["error"].as_str().unwrap().contains("paused"), "{failed}");
    let alarms = app
        .count("SELECT COUNT(*) FROM system_events WHERE event_type = 'x_credits_depleted'")
        .await;
    assert_eq!(alarms, 1);

    // Nothing else goes to X while paused, though X would take it now.
    let second = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "After the top-up", "channel_ids": [channel] }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let held = app.json_as(&owner, Method::GET, &second, Value::Null, 200).await;
    assert_eq!(held["targets"][0]["status"], "pending", "{held}");
    assert!(app.fake_x().published().is_empty());

    assert!(postroute_app::admin::publishing::resume_publishing(app.store(), "x").await.unwrap());
    until(&app, &owner, &second, |post| post["status"] == "published").await;
    assert_eq!(app.fake_x().published().len(), 1);
    let resumed = app
        .count("SELECT COUNT(*) FROM system_events WHERE event_type = 'publishing_resumed'")
        .await;
    assert_eq!(resumed, 1);
}

#[db_test]
async fn a_rate_limit_holds_the_channel_until_x_resets_it_then_both_posts_go_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    app.fake_x()
        .arm_publish_fault(&json!({ "fault": "rate_limited", "call": "tweet", "reset_in_secs": 3 }))
        .unwrap();
    let limited_at = Utc::now();
    let first = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Over the limit", "channel_ids": [channel] }),
    )
    .await;
    let waiting =
        until(&app, &owner, &first, |post| post["targets"][0]["error_class"] == "rate_limited")
            .await;
    assert_eq!(waiting["targets"][0]["status"], "pending", "{waiting}");
    // Another post on the channel, due now, waits for the same reset instead of spending the
    // channel's calls on refusals.
    let second = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Behind it", "channel_ids": [channel] }),
    )
    .await;
    for post in [&first, &second] {
        until(&app, &owner, post, |post| post["status"] == "published").await;
    }
    let tweets = app.fake_x().published();
    assert_eq!(tweets.len(), 2, "{tweets:?}");
    // The reset is a whole second, at least two seconds after the refusal.
    let reset_ms =
        u64::try_from((limited_at + chrono::Duration::seconds(2)).timestamp_millis()).unwrap();
    for tweet in &tweets {
        assert!(tweet.published_at_ms >= reset_ms, "published before X's reset: {tweet:?}");
    }
}

#[db_test]
async fn a_post_that_came_due_during_an_outage_is_missed_not_published_and_a_person_is_told(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let posts = format!("/v1/workspaces/{workspace}/posts");
    let body = json!({ "content": "Old news", "channel_ids": [channel] });
    let post = app.json_as(&owner, Method::POST, &posts, body, 201).await;
    let id = post["id"].as_str().unwrap().to_owned();
    let path = format!("{posts}/{id}");
    let at = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Millis, true);
    app.json_as(
        &owner,
        Method::POST,
        &format!("{path}/schedule"),
        json!({ "scheduled_at": at }),
        200,
    )
    .await;
    // As after three hours with no worker running: the post's time is long past.
    let three_hours_ago =
        (Utc::now() - chrono::Duration::hours(3)).to_rfc3339_opts(SecondsFormat::Secs, false);
    // Its target's due time, which the store wrote when the post was scheduled, moves first:
    // neither is due before the post's time is.
    let moved = app
        .execute_sql(&format!(
            "UPDATE post_targets SET next_attempt_at = '{three_hours_ago}' WHERE post_id = {}",
            app.uuid_literal(&id)
        ))
        .await;
    assert_eq!(moved, 1);
    let moved = app
        .execute_sql(&format!(
            "UPDATE posts SET scheduled_at = '{three_hours_ago}' WHERE id = {}",
            app.uuid_literal(&id)
        ))
        .await;
    assert_eq!(moved, 1);

    let missed = until(&app, &owner, &path, |post| post["status"] == "failed").await;
    assert_eq!(missed["targets"][0]["status"], "missed", "{missed}");
    let told = emails_about(&app, "was not published", 1).await;
    assert_eq!(told.len(), 1);
    assert!(told[0].text.contains("missed its time"), "{}", told[0].text);
    assert_eq!(audited(&app, &owner, &workspace, "post.missed").await, 1);
    assert!(app.fake_x().published().is_empty(), "stale content never goes out by itself");
}

/// An app whose signed media links the fake platforms can fetch.
async fn with_reachable_links(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .reachable_public_url()
        .configure(|config| config.worker.reconcile_looks_secs = vec![1, 1])
        .spawn()
        .await
}

/// Uploads a small JPEG to `workspace`'s library; returns its id.
async fn photo(app: &TestApp, owner: &TestUser, workspace: &str) -> String {
    let uploaded =
        app.upload(owner, workspace, &postroute_test_support::corpus::jpeg(64, 48), 201).await;
    uploaded.json()["id"].as_str().unwrap().to_owned()
}

#[db_test]
async fn a_post_with_a_photo_goes_to_x_with_the_photo_uploaded_at_publish_time(backend: Backend) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let file = photo(&app, &owner, &workspace).await;
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "With a picture", "channel_ids": [channel], "media_ids": [file] }),
    )
    .await;

    until(&app, &owner, &post, |post| post["status"] == "published").await;
    let tweets = app.fake_x().published();
    assert_eq!(tweets.len(), 1, "{tweets:?}");
    assert_eq!(tweets[0].media.len(), 1, "the photo is attached: {tweets:?}");
    assert!(tweets[0].media[0].starts_with("3_"), "an image's media key: {tweets:?}");
}

#[db_test]
async fn facebook_pages_get_a_text_post_and_a_photo_post_once_each(backend: Backend) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, page) = meta_connected(&app, "facebook").await;
    let text = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Fresh bread at eight", "channel_ids": [page] }),
    )
    .await;
    let file = photo(&app, &owner, &workspace).await;
    let pictured = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Rye, today", "channel_ids": [page], "media_ids": [file] }),
    )
    .await;

    let first = until(&app, &owner, &text, |post| post["status"] == "published").await;
    let second = until(&app, &owner, &pictured, |post| post["status"] == "published").await;
    let posts = app.fake_meta().published();
    assert_eq!(posts.len(), 2, "{posts:?}");
    for (settled, text) in [(&first, "Fresh bread at eight"), (&second, "Rye, today")] {
        let record = posts.iter().find(|post| post.text.as_deref() == Some(text)).unwrap();
        let target = &settled["targets"][0];
        assert_eq!(target["platform_post_id"], record.id.as_str(), "{settled}");
        assert_eq!(target["url"], format!("https://www.facebook.com/{}", record.id));
    }
}

#[db_test]
async fn a_page_post_meta_created_without_answering_is_found_not_sent_again(backend: Backend) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, page) = meta_connected(&app, "facebook").await;
    app.fake_meta()
        .arm_publish_fault(&json!({ "fault": "created_then_500", "call": "feed", "times": 1 }))
        .unwrap();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Did Meta take it?", "channel_ids": [page] }),
    )
    .await;

    let published = until(&app, &owner, &post, |post| post["status"] == "published").await;
    let posts = app.fake_meta().published();
    assert_eq!(posts.len(), 1, "reconciled from the Page's posts, not sent again: {posts:?}");
    assert_eq!(published["targets"][0]["platform_post_id"], posts[0].id.as_str(), "{published}");
}

#[db_test]
async fn an_instagram_photo_goes_out_through_one_container(backend: Backend) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, account) = meta_connected(&app, "instagram").await;
    let file = photo(&app, &owner, &workspace).await;
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Morning light", "channel_ids": [account], "media_ids": [file] }),
    )
    .await;

    let published = until(&app, &owner, &post, |post| post["status"] == "published").await;
    let posts = app.fake_meta().published();
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].platform, postroute_fakes::Platform::Instagram);
    assert_eq!(published["targets"][0]["platform_post_id"], posts[0].id.as_str(), "{published}");
    let containers =
        app.count("SELECT COUNT(*) FROM post_targets WHERE media_state LIKE '%container%'").await;
    assert_eq!(containers, 1, "the container was saved before it was published");
}

#[db_test]
async fn an_upload_refused_for_an_expired_token_is_refreshed_once_then_the_post_goes_out(
    backend: Backend,
) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let file = photo(&app, &owner, &workspace).await;
    let refreshes = app.fake_x().refresh_count();
    app.fake_x().expire_access_tokens();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Upload first", "channel_ids": [channel], "media_ids": [file] }),
    )
    .await;

    until(&app, &owner, &post, |post| post["status"] == "published").await;
    assert_eq!(app.fake_x().refresh_count(), refreshes + 1, "one forced refresh");
    let tweets = app.fake_x().published();
    assert_eq!((tweets.len(), tweets[0].media.len()), (1, 1), "{tweets:?}");
}

/// Uploads `bytes` to `workspace`'s library; returns its id.
async fn file(app: &TestApp, owner: &TestUser, workspace: &str, bytes: &[u8]) -> String {
    let uploaded = app.upload(owner, workspace, bytes, 201).await;
    uploaded.json()["id"].as_str().unwrap().to_owned()
}

#[db_test]
async fn a_video_and_a_gif_go_to_x_through_chunked_uploads_processed_before_the_post(
    backend: Backend,
) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    // X processes the video for a moment: the post waits for STATUS to say it succeeded.
    app.fake_x().set_media_processing(Duration::from_millis(300), false);
    let video =
        file(&app, &owner, &workspace, &postroute_test_support::corpus::video("isom")).await;
    let gif = file(&app, &owner, &workspace, &postroute_test_support::corpus::gif(32, 32)).await;
    let moving = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Moving pictures", "channel_ids": [channel], "media_ids": [video] }),
    )
    .await;
    let looping = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "On a loop", "channel_ids": [channel], "media_ids": [gif] }),
    )
    .await;

    until(&app, &owner, &moving, |post| post["status"] == "published").await;
    until(&app, &owner, &looping, |post| post["status"] == "published").await;
    let tweets = app.fake_x().published();
    assert_eq!(tweets.len(), 2, "{tweets:?}");
    let media_of = |text: &str| {
        tweets.iter().find(|tweet| tweet.text.as_deref() == Some(text)).unwrap().media.clone()
    };
    // Media keys say what X made of each file: 7_ a video, 16_ an animated GIF.
    let video_keys = media_of("Moving pictures");
    assert!(video_keys.len() == 1 && video_keys[0].starts_with("7_"), "{tweets:?}");
    let gif_keys = media_of("On a loop");
    assert!(gif_keys.len() == 1 && gif_keys[0].starts_with("16_"), "{tweets:?}");
}

#[db_test]
async fn a_video_x_fails_to_process_fails_the_post_with_x_s_reason_and_no_post(backend: Backend) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    app.fake_x().set_media_processing(Duration::from_millis(100), true);
    let video =
        file(&app, &owner, &workspace, &postroute_test_support::corpus::video("isom")).await;
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Unplayable", "channel_ids": [channel], "media_ids": [video] }),
    )
    .await;

    let failed = until(&app, &owner, &post, |post| post["status"] == "failed").await;
    let target = &failed["targets"][0];
    assert_eq!(target["status"], "failed", "{failed}");
    assert_eq!(target["error_class"], "permanent", "the same bytes would fail again: {failed}");
    // X's own reason, from the STATUS answer, in the words a person reads.
    assert!(target["error"].as_str().unwrap().contains("Unsupported video format"), "{failed}");
    assert!(app.fake_x().published().is_empty(), "nothing is posted without its video");
}

#[db_test]
async fn facebook_pages_get_several_photos_as_one_post_and_a_video(backend: Backend) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, page) = meta_connected(&app, "facebook").await;
    let first = photo(&app, &owner, &workspace).await;
    let second =
        file(&app, &owner, &workspace, &postroute_test_support::corpus::jpeg(80, 60)).await;
    let album = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Two loaves", "channel_ids": [page], "media_ids": [first, second] }),
    )
    .await;
    let video =
        file(&app, &owner, &workspace, &postroute_test_support::corpus::video("isom")).await;
    let film = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "How we knead", "channel_ids": [page], "media_ids": [video] }),
    )
    .await;

    let album = until(&app, &owner, &album, |post| post["status"] == "published").await;
    let film = until(&app, &owner, &film, |post| post["status"] == "published").await;
    let posts = app.fake_meta().published();
    assert_eq!(posts.len(), 2, "one post per target, the photos in one: {posts:?}");
    let record = |text: &str| posts.iter().find(|post| post.text.as_deref() == Some(text)).unwrap();
    assert_eq!(record("Two loaves").media.len(), 2, "{posts:?}");
    assert_eq!(album["targets"][0]["platform_post_id"], record("Two loaves").id.as_str());
    // A video's id is what Graph answers to `/videos`; the Page's post that shows it is another.
    assert_eq!(record("How we knead").media.len(), 1, "{posts:?}");
    assert_eq!(film["targets"][0]["platform_post_id"], record("How we knead").media[0].as_str());
}

#[db_test]
async fn a_page_post_meta_refuses_as_a_duplicate_fails_with_meta_s_words_and_one_email(
    backend: Backend,
) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, page) = meta_connected(&app, "facebook").await;
    app.fake_meta().arm_publish_fault(&json!({ "fault": "duplicate", "call": "feed" })).unwrap();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Said before", "channel_ids": [page] }),
    )
    .await;

    let failed = until(&app, &owner, &post, |post| post["status"] == "failed").await;
    let target = &failed["targets"][0];
    assert_eq!(target["error_class"], "permanent", "{failed}");
    assert!(target["error"].as_str().unwrap().contains("Duplicate status message"), "{failed}");
    assert_eq!(target["attempts"], 1, "a duplicate is not sent again: {failed}");
    assert!(app.fake_meta().published().is_empty());
    let emails = emails_about(&app, "was not published", 1).await;
    assert_eq!(emails.len(), 1, "{emails:?}");
}

#[db_test]
async fn instagram_gets_a_reel_and_a_carousel_each_through_its_own_containers(backend: Backend) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, account) = meta_connected(&app, "instagram").await;
    let reel_video = postroute_test_support::corpus::video_lasting("isom", 4);
    let video = file(&app, &owner, &workspace, &reel_video).await;
    let reel = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Behind the counter", "channel_ids": [account], "media_ids": [video] }),
    )
    .await;
    let first = photo(&app, &owner, &workspace).await;
    let second =
        file(&app, &owner, &workspace, &postroute_test_support::corpus::jpeg(80, 60)).await;
    let carousel = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "The week's bakes", "channel_ids": [account],
                "media_ids": [first, second] }),
    )
    .await;

    let reel = until(&app, &owner, &reel, |post| post["status"] == "published").await;
    let carousel = until(&app, &owner, &carousel, |post| post["status"] == "published").await;
    let posts = app.fake_meta().published();
    assert_eq!(posts.len(), 2, "one media per post, the carousel as one: {posts:?}");
    let record = |text: &str| posts.iter().find(|post| post.text.as_deref() == Some(text)).unwrap();
    assert_eq!(record("Behind the counter").media.len(), 1, "{posts:?}");
    assert_eq!(reel["targets"][0]["platform_post_id"], record("Behind the counter").id.as_str());
    assert_eq!(record("The week's bakes").media.len(), 2, "{posts:?}");
    assert_eq!(carousel["targets"][0]["platform_post_id"], record("The week's bakes").id.as_str());
    assert_eq!(app.fake_meta().republish_attempts(), 0);
}

#[db_test]
async fn an_instagram_account_whose_day_is_spent_waits_for_a_recheck_and_nothing_fails(
    backend: Backend,
) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, account) = meta_connected(&app, "instagram").await;
    app.fake_meta().set_publishing_limit(0);
    let image = photo(&app, &owner, &workspace).await;
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Tomorrow, then", "channel_ids": [account], "media_ids": [image] }),
    )
    .await;

    let waiting =
        until(&app, &owner, &post, |post| post["targets"][0]["error_class"] == "rate_limited")
            .await;
    let target = &waiting["targets"][0];
    assert_eq!(target["status"], "pending", "held, not failed: {waiting}");
    assert!(app.fake_meta().published().is_empty(), "media_publish is never called over quota");
    // The window rolls and Meta does not say when a place frees up: the target waits for a
    // recheck within the half hour, not for a whole day.
    let error = target["error"].as_str().unwrap();
    let until_text = error.split("until ").nth(1).and_then(|rest| rest.split(';').next());
    let until_at = chrono::DateTime::parse_from_rfc3339(until_text.unwrap()).unwrap();
    let wait = until_at.with_timezone(&Utc) - Utc::now();
    assert!(
        wait > chrono::Duration::minutes(25) && wait <= chrono::Duration::minutes(30),
        "{error}"
    );
    let held = app
        .count(&format!(
            "SELECT COUNT(*) FROM channels WHERE id = {} AND publish_blocked_until IS NOT NULL",
            app.uuid_literal(&account)
        ))
        .await;
    assert_eq!(held, 1, "the account is held back, its other posts too");
    let containers =
        app.count("SELECT COUNT(*) FROM post_targets WHERE media_state LIKE '%container%'").await;
    assert_eq!(containers, 1, "the container is kept for the recheck");
}

#[db_test]
async fn a_target_sent_again_whose_container_is_already_live_is_recorded_not_published_twice(
    backend: Backend,
) {
    let app = with_reachable_links(backend).await;
    let (owner, workspace, account) = meta_connected(&app, "instagram").await;
    let image = photo(&app, &owner, &workspace).await;
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Only once", "channel_ids": [account], "media_ids": [image] }),
    )
    .await;
    let published = until(&app, &owner, &post, |post| post["status"] == "published").await;
    let media_id = published["targets"][0]["platform_post_id"].as_str().unwrap().to_owned();

    // The target is due again with its container saved, as after an answer that was lost with
    // the commit that would have recorded it.
    app.execute_sql(
        "UPDATE post_targets SET status = 'pending', platform_post_id = NULL, url = NULL, \
         next_attempt_at = published_at, published_at = NULL",
    )
    .await;
    app.execute_sql("UPDATE posts SET status = 'scheduled'").await;

    let again = until(&app, &owner, &post, |post| post["status"] == "published").await;
    let target = &again["targets"][0];
    assert_eq!(
        target["platform_post_id"],
        media_id.as_str(),
        "the media's id, not the container's"
    );
    assert!(target["url"].as_str().is_some_and(|url| url.contains("instagram.com")), "{again}");
    assert_eq!(app.fake_meta().published().len(), 1, "never a second post");
    assert_eq!(
        app.fake_meta().republish_attempts(),
        0,
        "a live container is never published again"
    );
}

#[db_test]
async fn a_post_found_twice_on_x_is_recorded_once_and_raises_published_twice(backend: Backend) {
    let app = quick_to_reconcile(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    // The same words are already on the account (someone posted them by hand, spaced
    // differently, which X does not count as a duplicate but matching does).
    let by_hand = reqwest::Client::new();
    let tweets = app.fake_x().base_url().join("2/tweets").unwrap();
    let mut posted = false;
    for token in app.fake_x().issued_tokens() {
        let answer = by_hand
            .post(tweets.clone())
            .bearer_auth(&token)
            .json(&json!({ "text": "Said  twice" }))
            .send()
            .await
            .unwrap();
        if answer.status() == reqwest::StatusCode::CREATED {
            posted = true;
            break;
        }
    }
    assert!(posted, "one of the issued tokens is the channel's access token");
    app.fake_x()
        .arm_publish_fault(&json!({ "fault": "created_then_500", "call": "tweet", "times": 1 }))
        .unwrap();
    let post = scheduled(
        &app,
        &owner,
        &workspace,
        json!({ "content": "Said twice", "channel_ids": [channel] }),
    )
    .await;

    let published = until(&app, &owner, &post, |post| post["status"] == "published").await;
    let on_x = app.fake_x().published();
    assert_eq!(on_x.len(), 2, "nothing more was sent, nothing deleted: {on_x:?}");
    let earliest = on_x.iter().min_by_key(|tweet| tweet.id.parse::<u64>().unwrap()).unwrap();
    assert_eq!(published["targets"][0]["platform_post_id"], earliest.id.as_str(), "{published}");
    let raised =
        app.count("SELECT COUNT(*) FROM system_events WHERE event_type = 'published_twice'").await;
    assert_eq!(raised, 1, "staff are told the post is out twice");
}

#[db_test]
async fn a_burst_larger_than_the_concurrency_drains_while_calls_hold_the_database(
    backend: Backend,
) {
    // Two calls at a time and a pool that waits (nearly) forever: a claim that waited for a
    // connection held by a call nobody polled would never finish, so the drain would stall.
    let app = TestApp::builder(backend)
        .configure(|config| {
            config.worker.publish_concurrency = 2;
            config.database.acquire_timeout_secs = 600;
        })
        .spawn()
        .await;
    let (owner, workspace, channel) = connected(&app).await;
    let mut posts = Vec::new();
    for n in 0..8 {
        let body = json!({ "content": format!("Burst {n}"), "channel_ids": [channel] });
        posts.push(scheduled(&app, &owner, &workspace, body).await);
    }

    for post in &posts {
        until(&app, &owner, post, |post| post["status"] == "published").await;
    }
    assert_eq!(app.fake_x().published().len(), 8, "each once");
}

#[db_test]
async fn a_post_moved_to_an_earlier_time_goes_out_then_and_a_cancelled_one_never(backend: Backend) {
    // The claim reads each target's due time from the target itself: every way a post's time
    // changes must move it there too.
    let app = TestApp::spawn(backend).await;
    let (owner, workspace, channel) = connected(&app).await;
    let posts = format!("/v1/workspaces/{workspace}/posts");
    let in_an_hour =
        (Utc::now() + chrono::Duration::hours(1)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut paths = Vec::new();
    for text in ["Moved earlier", "Called off"] {
        let body = json!({ "content": text, "channel_ids": [channel] });
        let post = app.json_as(&owner, Method::POST, &posts, body, 201).await;
        let path = format!("{posts}/{}", post["id"].as_str().unwrap());
        let schedule = json!({ "scheduled_at": in_an_hour });
        app.json_as(&owner, Method::POST, &format!("{path}/schedule"), schedule, 200).await;
        paths.push(path);
    }
    // Called off, then both scheduled again two seconds from now; the second cancelled again.
    app.json_as(&owner, Method::POST, &format!("{}/cancel", paths[1]), Value::Null, 200).await;
    let soon =
        (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(SecondsFormat::Millis, true);
    for path in &paths {
        let schedule = json!({ "scheduled_at": soon });
        app.json_as(&owner, Method::POST, &format!("{path}/schedule"), schedule, 200).await;
    }
    app.json_as(&owner, Method::POST, &format!("{}/cancel", paths[1]), Value::Null, 200).await;

    let moved = until(&app, &owner, &paths[0], |post| post["status"] == "published").await;
    assert_eq!(moved["targets"][0]["status"], "published", "{moved}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cancelled = app.json_as(&owner, Method::GET, &paths[1], Value::Null, 200).await;
    assert_eq!(cancelled["status"], "draft", "{cancelled}");
    assert_eq!(cancelled["targets"][0]["status"], "pending", "{cancelled}");
    let texts: Vec<_> =
        app.fake_x().published().into_iter().map(|tweet| tweet.text.unwrap()).collect();
    assert_eq!(texts, ["Moved earlier"], "a draft never goes out");
    let due_left =
        app.count("SELECT COUNT(*) FROM post_targets WHERE next_attempt_at IS NOT NULL").await;
    assert_eq!(due_left, 0, "the draft's target carries no due time");
}
