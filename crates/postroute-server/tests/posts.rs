//! Posts through the API: drafts, the approval flow, the schedule, each platform's rules, who may
//! change what, and the list's filters.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use chrono::{Duration, SecondsFormat, Utc};
use postroute_test_support::{Backend, TestApp, TestResponse, TestUser, corpus, db_test};
use reqwest::Method;
use serde_json::{Value, json};

/// A studio workspace (the approval workflow is on that plan) with an owner, a member and a
/// reviewer.
struct Team {
    owner: TestUser,
    member: TestUser,
    reviewer: TestUser,
    workspace: String,
}

impl Team {
    async fn new(app: &TestApp, approval_required: bool) -> Self {
        let owner = app.signed_in_user("owner@example.com").await;
        let member = app.signed_in_user("member@example.com").await;
        let reviewer = app.signed_in_user("reviewer@example.com").await;
        let workspace = app.workspace(&owner, "Team").await;
        app.set_plan(&workspace, "studio").await;
        app.add_member(&workspace, &member.id, "member").await;
        app.add_member(&workspace, &reviewer.id, "reviewer").await;
        if approval_required {
            app.send_json_as(
                &owner.access_token,
                Method::PATCH,
                &format!("/v1/workspaces/{workspace}"),
                &json!({"approval_required": true}),
                200,
            )
            .await;
        }
        Self { owner, member, reviewer, workspace }
    }

    fn posts(&self) -> String {
        format!("/v1/workspaces/{}/posts", self.workspace)
    }

    fn post(&self, id: &str) -> String {
        format!("{}/{id}", self.posts())
    }
}

/// Sends `body` to `url` as `user`, conditional on the post at `post` as `user` loads it now,
/// as a client that shows the post before acting on it does (approve, reject and edit need it).
async fn as_seen(
    app: &TestApp,
    user: &TestUser,
    method: Method,
    url: &str,
    post: &str,
    body: Value,
    status: u16,
) -> Value {
    let etag = app.get_as(&user.access_token, post, 200).await.header("etag").unwrap().to_owned();
    let request = app
        .request(method, url)
        .bearer_auth(&user.access_token)
        .header("if-match", etag)
        .json(&body);
    app.send(request, status).await.json()
}

async fn create(app: &TestApp, team: &Team, user: &TestUser, body: Value) -> Value {
    app.json_as(user, Method::POST, &team.posts(), body, 201).await
}

/// A time `hours` from now, to the second, as clients send it.
fn in_hours(hours: i64) -> String {
    (Utc::now() + Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn id_of(post: &Value) -> String {
    post["id"].as_str().unwrap().to_owned()
}

/// The fields of a 422, by name.
fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let rows = app.count("SELECT count(*) FROM audit_log WHERE action LIKE 'post.%'").await;
    let mut actions = Vec::new();
    for action in ["post.approved", "post.rejected"] {
        let found =
            app.count(&format!("SELECT count(*) FROM audit_log WHERE action = '{action}'")).await;
        actions.extend(std::iter::repeat_n(action.to_owned(), found as usize));
    }
    assert_eq!(actions.len() as i64, rows);
    actions
}

#[db_test]
async fn a_post_goes_from_draft_through_review_to_the_schedule(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, true).await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    let at = in_hours(3);
    let draft = create(
        &app,
        &team,
        &team.member,
        json!({"content": "Launch day", "channel_ids": [channel], "scheduled_at": at}),
    )
    .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["author_id"], team.member.id.as_str());
    assert_eq!(draft["channel_ids"], json!([channel]));
    assert_eq!(
        draft["targets"],
        json!([{
            "channel_id": channel,
            "status": "pending",
            "platform_post_id": null,
            "url": null,
            "error": null,
            "attempts": 0,
            "published_at": null,
            "error_class": null,
            "last_attempt_at": null,
        }])
    );
    let path = team.post(&id_of(&draft));

    // Approval is required: the author cannot schedule around it.
    let refused = app
        .json_as(
            &team.member,
            Method::POST,
            &format!("{path}/schedule"),
            json!({"scheduled_at": at}),
            409,
        )
        .await;
    assert_eq!(refused["code"], "conflict");
    // Nobody approves a draft, and reviewers write nothing.
    as_seen(&app, &team.reviewer, Method::POST, &format!("{path}/approve"), &path, json!({}), 409)
        .await;
    as_seen(&app, &team.reviewer, Method::PATCH, &path, &path, json!({"content": "Mine now"}), 403)
        .await;

    let submitted =
        app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    assert_eq!(submitted["status"], "in_review");
    as_seen(&app, &team.member, Method::POST, &format!("{path}/approve"), &path, json!({}), 403)
        .await;
    let approved = as_seen(
        &app,
        &team.reviewer,
        Method::POST,
        &format!("{path}/approve"),
        &path,
        json!({}),
        200,
    )
    .await;
    assert_eq!(approved["status"], "scheduled", "its time is ahead, so approval schedules it");
    assert_eq!(approved["reviewed_by"], team.reviewer.id.as_str());
    assert_eq!(app.get_as(&team.reviewer.access_token, &path, 200).await.json(), approved);
    assert_eq!(audit_actions(&app).await, ["post.approved"]);

    // Taken off the schedule, it is a draft again and needs approval again.
    let cancelled =
        app.json_as(&team.member, Method::POST, &format!("{path}/cancel"), json!({}), 200).await;
    assert_eq!(cancelled["status"], "draft");
    app.json_as(&team.member, Method::POST, &format!("{path}/cancel"), json!({}), 409).await;
    app.json_as(
        &team.member,
        Method::POST,
        &format!("{path}/schedule"),
        json!({"scheduled_at": at}),
        409,
    )
    .await;
}

#[db_test]
async fn an_approved_post_without_a_time_waits_to_be_scheduled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, true).await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    let path = team.post(&id_of(
        &create(&app, &team, &team.member, json!({"content": "Soon", "channel_ids": [channel]}))
            .await,
    ));
    app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    let approved =
        as_seen(&app, &team.owner, Method::POST, &format!("{path}/approve"), &path, json!({}), 200)
            .await;
    assert_eq!(approved["status"], "approved");

    let past = (Utc::now() - Duration::minutes(1)).to_rfc3339();
    let problem = app
        .json_as(
            &team.member,
            Method::POST,
            &format!("{path}/schedule"),
            json!({"scheduled_at": past}),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["scheduled_at"]);
    let far = (Utc::now() + Duration::days(400)).to_rfc3339();
    app.json_as(
        &team.member,
        Method::POST,
        &format!("{path}/schedule"),
        json!({"scheduled_at": far}),
        422,
    )
    .await;
    let at = in_hours(1);
    let scheduled = app
        .json_as(
            &team.member,
            Method::POST,
            &format!("{path}/schedule"),
            json!({"scheduled_at": at}),
            200,
        )
        .await;
    assert_eq!(scheduled["status"], "scheduled");
    assert_eq!(
        scheduled["scheduled_at"].as_str().unwrap().parse::<chrono::DateTime<Utc>>().unwrap(),
        at.parse::<chrono::DateTime<Utc>>().unwrap()
    );
    // Moving the time keeps it scheduled.
    let moved = app
        .json_as(
            &team.member,
            Method::POST,
            &format!("{path}/schedule"),
            json!({"scheduled_at": in_hours(5)}),
            200,
        )
        .await;
    assert_eq!(moved["status"], "scheduled");
}

#[db_test]
async fn a_rejected_post_returns_to_its_author_with_the_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, true).await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    let path = team.post(&id_of(
        &create(
            &app,
            &team,
            &team.member,
            json!({"content": "Draft one", "channel_ids": [channel]}),
        )
        .await,
    ));
    app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    let problem = as_seen(
        &app,
        &team.reviewer,
        Method::POST,
        &format!("{path}/reject"),
        &path,
        json!({"reason": "  "}),
        422,
    )
    .await;
    assert_eq!(fields(&problem), ["reason"]);
    let rejected = as_seen(
        &app,
        &team.reviewer,
        Method::POST,
        &format!("{path}/reject"),
        &path,
        json!({"reason": "Add the link"}),
        200,
    )
    .await;
    assert_eq!(rejected["status"], "draft");
    assert_eq!(rejected["rejection_reason"], "Add the link");
    assert_eq!(audit_actions(&app).await, ["post.rejected"]);
    as_seen(
        &app,
        &team.reviewer,
        Method::POST,
        &format!("{path}/reject"),
        &path,
        json!({"reason": "Again"}),
        409,
    )
    .await;
}

#[db_test]
async fn an_edit_voids_a_review_but_not_a_schedule_nobody_had_to_approve(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let team = Team::new(&app, true).await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    let path = team.post(&id_of(
        &create(
            &app,
            &team,
            &team.member,
            json!({"content": "v1", "channel_ids": [channel], "scheduled_at": in_hours(2)}),
        )
        .await,
    ));
    app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    as_seen(&app, &team.reviewer, Method::POST, &format!("{path}/approve"), &path, json!({}), 200)
        .await;
    let edited = as_seen(
        &app,
        &team.member,
        Method::PATCH,
        &path,
        &path,
        json!({"content": "v2, unreviewed"}),
        200,
    )
    .await;
    assert_eq!(edited["status"], "draft", "what was approved is not what would be published");
    assert_eq!(edited["content"], "v2, unreviewed");
    // Its approval is gone: it cannot be scheduled until it is reviewed again.
    app.json_as(
        &team.member,
        Method::POST,
        &format!("{path}/schedule"),
        json!({"scheduled_at": in_hours(3)}),
        409,
    )
    .await;
    as_seen(&app, &team.reviewer, Method::POST, &format!("{path}/approve"), &path, json!({}), 409)
        .await;

    // Without required approval, a scheduled post stays scheduled through an edit, unless the
    // edit makes it unpublishable, which is refused and changes nothing.
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, false).await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    let path = team.post(&id_of(
        &create(&app, &team, &team.member, json!({"content": "v1", "channel_ids": [channel]}))
            .await,
    ));
    app.json_as(
        &team.member,
        Method::POST,
        &format!("{path}/schedule"),
        json!({"scheduled_at": in_hours(2)}),
        200,
    )
    .await;
    let edited =
        as_seen(&app, &team.member, Method::PATCH, &path, &path, json!({"content": "v2"}), 200)
            .await;
    assert_eq!(edited["status"], "scheduled");
    let problem = as_seen(
        &app,
        &team.member,
        Method::PATCH,
        &path,
        &path,
        json!({"content": "x".repeat(281)}),
        422,
    )
    .await;
    assert_eq!(fields(&problem), [format!("targets.{channel}")]);
    as_seen(&app, &team.member, Method::PATCH, &path, &path, json!({"scheduled_at": null}), 422)
        .await;
    assert_eq!(app.get_as(&team.member.access_token, &path, 200).await.json()["content"], "v2");
}

#[db_test]
async fn each_channel_is_held_to_its_platforms_rules_with_one_error_per_target(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, false).await;
    let x = app.add_channel(&team.workspace, "brand").await;
    let instagram = app.add_channel_of(&team.workspace, "instagram", "1789").await;
    let facebook = app.add_channel_of(&team.workspace, "facebook", "501").await;
    let png =
        app.upload(&team.member, &team.workspace, &corpus::png(100, 100), 201).await.json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let jpeg = app.upload(&team.member, &team.workspace, &corpus::jpeg(100, 100), 201).await.json()
        ["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // 281 characters for X, a PNG for Instagram; Facebook takes both.
    let long = "a".repeat(281);
    let post = create(
        &app,
        &team,
        &team.member,
        json!({"content": long, "channel_ids": [x, instagram, facebook], "media_ids": [png]}),
    )
    .await;
    let path = team.post(&id_of(&post));
    let problem =
        app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 422).await;
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(fields(&problem), [format!("targets.{x}"), format!("targets.{instagram}")]);
    let messages: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| error["message"].as_str().unwrap())
        .collect();
    assert!(messages[0].contains("281"), "{messages:?}");
    assert!(messages[1].contains("JPEG"), "{messages:?}");
    assert_eq!(
        app.get_as(&team.member.access_token, &path, 200).await.json()["status"],
        "draft",
        "nothing changed"
    );

    // A variant fixes X, a JPEG fixes Instagram; an X thread counts each of its posts.
    let fix = json!({
        "media_ids": [jpeg],
        "variants": { "x": { "content": "Short for X", "thread": ["and more"] } },
    });
    let fixed = as_seen(&app, &team.member, Method::PATCH, &path, &path, fix, 200).await;
    assert_eq!(fixed["variants"], json!({"x": {"content": "Short for X", "thread": ["and more"]}}));
    let scheduled = app
        .json_as(
            &team.member,
            Method::POST,
            &format!("{path}/schedule"),
            json!({"scheduled_at": in_hours(1)}),
            200,
        )
        .await;
    assert_eq!(scheduled["status"], "scheduled");

    // A channel that must be connected again cannot take a post.
    let post =
        create(&app, &team, &team.member, json!({"content": "hello", "channel_ids": [x]})).await;
    app.execute_sql("UPDATE channels SET status = 'needs_reconnect'").await;
    let problem = app
        .json_as(
            &team.member,
            Method::POST,
            &format!("{}/submit", team.post(&id_of(&post))),
            json!({}),
            422,
        )
        .await;
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("connected again"));
    // And a post needs a channel at all.
    let post =
        create(&app, &team, &team.member, json!({"content": "nowhere", "channel_ids": []})).await;
    let problem = app
        .json_as(
            &team.member,
            Method::POST,
            &format!("{}/submit", team.post(&id_of(&post))),
            json!({}),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["channel_ids"]);
}

#[db_test]
async fn drafts_are_checked_for_shape_and_for_the_workspaces_own_channels_and_files(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, false).await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    let other_owner = app.signed_in_user("other@example.com").await;
    let other = app.workspace(&other_owner, "Other").await;
    let foreign_channel = app.add_channel(&other, "theirs").await;
    let foreign_media = app.add_media_row(&other).await;

    let problem = app
        .json_as(
            &team.member,
            Method::POST,
            &team.posts(),
            json!({"content": "x", "channel_ids": [foreign_channel], "media_ids": [foreign_media]}),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["channel_ids", "media_ids"]);
    let problem = app
        .json_as(
            &team.member,
            Method::POST,
            &team.posts(),
            json!({"content": "x", "channel_ids": [channel, channel]}),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["channel_ids"]);
    let unknown_platform = json!({
        "content": "x",
        "channel_ids": [channel],
        "variants": { "tiktok": { "content": "no" } },
    });
    let problem =
        app.json_as(&team.member, Method::POST, &team.posts(), unknown_platform, 422).await;
    assert_eq!(problem["code"], "validation_failed");
    let thread_on_facebook = json!({
        "content": "x",
        "channel_ids": [channel],
        "variants": { "facebook": { "thread": ["no"] } },
    });
    let problem =
        app.json_as(&team.member, Method::POST, &team.posts(), thread_on_facebook, 422).await;
    assert_eq!(fields(&problem), ["variants.facebook.thread"]);
    app.json_as(
        &team.member,
        Method::POST,
        &team.posts(),
        json!({"content": "x", "channel_ids": [channel], "colour": "red"}),
        422,
    )
    .await;
    app.json_as(
        &team.member,
        Method::POST,
        &team.posts(),
        json!({"content": "x", "channel_ids": ["not-an-id"]}),
        422,
    )
    .await;
    app.json_as(
        &team.member,
        Method::POST,
        &team.posts(),
        json!({"content": "x", "channel_ids": [channel], "scheduled_at": "2020-01-01T00:00:00Z"}),
        422,
    )
    .await;
    app.execute_sql("UPDATE channels SET status = 'disconnected'").await;
    app.json_as(
        &team.member,
        Method::POST,
        &team.posts(),
        json!({"content": "x", "channel_ids": [channel]}),
        422,
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM posts").await, 0, "nothing was written");
}

#[db_test]
async fn members_change_only_their_own_posts_and_nobody_changes_a_published_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, false).await;
    let colleague = app.signed_in_user("colleague@example.com").await;
    app.add_member(&team.workspace, &colleague.id, "member").await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    let path = team.post(&id_of(
        &create(&app, &team, &team.member, json!({"content": "mine", "channel_ids": [channel]}))
            .await,
    ));

    let refused =
        as_seen(&app, &colleague, Method::PATCH, &path, &path, json!({"content": "ours"}), 403)
            .await;
    assert_eq!(refused["code"], "forbidden");
    app.json_as(&colleague, Method::POST, &format!("{path}/submit"), json!({}), 403).await;
    app.json_as(&colleague, Method::DELETE, &path, json!({}), 403).await;
    // Any member reads it; the owner may change it.
    app.get_as(&colleague.access_token, &path, 200).await;
    as_seen(
        &app,
        &team.owner,
        Method::PATCH,
        &path,
        &path,
        json!({"content": "edited by the owner"}),
        200,
    )
    .await;

    app.execute_sql("UPDATE posts SET status = 'published'").await;
    as_seen(&app, &team.member, Method::PATCH, &path, &path, json!({"content": "too late"}), 409)
        .await;
    app.json_as(&team.owner, Method::DELETE, &path, json!({}), 409).await;
    app.execute_sql("UPDATE posts SET status = 'failed'").await;
    app.json_as(&team.member, Method::DELETE, &path, json!({}), 204).await;
    app.get_as(&team.member.access_token, &path, 404).await;
    assert_eq!(app.count("SELECT count(*) FROM post_targets").await, 0, "its targets went with it");
}

#[db_test]
async fn the_list_filters_by_status_channel_and_time_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, false).await;
    let first = app.add_channel(&team.workspace, "first").await;
    let second = app.add_channel(&team.workspace, "second").await;
    let mut ids = Vec::new();
    for (hours, channel) in [(1, &first), (2, &second), (30, &first)] {
        let post = create(
            &app,
            &team,
            &team.member,
            json!({"content": format!("in {hours}h"), "channel_ids": [channel]}),
        )
        .await;
        let path = team.post(&id_of(&post));
        app.json_as(
            &team.member,
            Method::POST,
            &format!("{path}/schedule"),
            json!({"scheduled_at": in_hours(hours)}),
            200,
        )
        .await;
        ids.push(id_of(&post));
    }
    create(&app, &team, &team.member, json!({"content": "a draft", "channel_ids": [second]})).await;

    let list = |query: String| {
        let app = &app;
        let token = team.reviewer.access_token.clone();
        let posts = team.posts();
        async move {
            let page: Value = app.get_as(&token, &format!("{posts}?{query}"), 200).await.json();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|post| post["content"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(String::new()).await, ["a draft", "in 30h", "in 2h", "in 1h"]);
    assert_eq!(list("status=scheduled".to_owned()).await, ["in 30h", "in 2h", "in 1h"]);
    assert_eq!(list(format!("channel_id={first}")).await, ["in 30h", "in 1h"]);
    let from = urlencode(&in_hours(0));
    let to = urlencode(&in_hours(24));
    assert_eq!(list(format!("from={from}&to={to}")).await, ["in 2h", "in 1h"]);

    let page: Value = app
        .get_as(&team.member.access_token, &format!("{}?limit=3", team.posts()), 200)
        .await
        .json();
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get_as(
            &team.member.access_token,
            &format!("{}?limit=3&cursor={cursor}", team.posts()),
            200,
        )
        .await
        .json();
    assert_eq!(rest["items"][0]["id"], ids[0].as_str());
    assert_eq!(rest["next_cursor"], Value::Null);

    let problem: TestResponse = app
        .get_as(
            &team.member.access_token,
            &format!("{}?status=lost&from=yesterday", team.posts()),
            422,
        )
        .await;
    assert_eq!(fields(&problem.json()), ["from", "status"]);
}

#[db_test]
async fn a_change_or_a_review_applies_only_to_the_version_its_author_saw(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, true).await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    let created = app
        .send_json_as(
            &team.member.access_token,
            Method::POST,
            &team.posts(),
            &json!({"content": "v1", "channel_ids": [channel]}),
            201,
        )
        .await;
    assert_eq!(created.header("etag"), Some("\"1\""));
    let path = team.post(&id_of(&created.json()));
    app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    let seen = app.get_as(&team.reviewer.access_token, &path, 200).await;
    let seen_etag = seen.header("etag").unwrap().to_owned();
    assert_eq!(seen.json()["version"], 2);

    // The author changes the post and submits it again while the reviewer reads version 2.
    as_seen(&app, &team.member, Method::PATCH, &path, &path, json!({"content": "v2, unseen"}), 200)
        .await;
    app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    let approve = |etag: String| {
        app.fetch(
            app.request(Method::POST, &format!("{path}/approve"))
                .bearer_auth(&team.reviewer.access_token)
                .header("if-match", etag),
        )
    };
    let refused = approve(seen_etag).await;
    assert_eq!(refused.status, 412);
    assert_eq!(refused.json()["code"], "precondition_failed");
    assert_eq!(
        app.get_as(&team.reviewer.access_token, &path, 200).await.json()["status"],
        "in_review"
    );
    assert_eq!(approve("W/\"4\"".to_owned()).await.status, 412, "our ETags are strong");

    let current = app
        .get_as(&team.reviewer.access_token, &path, 200)
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let approved = approve(current).await;
    assert_eq!(approved.status, 200);
    assert_eq!(approved.json()["content"], "v2, unseen");
    // Without If-Match an edit or a review applies to nothing: 428, and the post is unchanged.
    let blind =
        app.json_as(&team.member, Method::PATCH, &path, json!({"content": "v3"}), 428).await;
    assert_eq!(blind["code"], "precondition_required");
    assert_eq!(
        app.get_as(&team.member.access_token, &path, 200).await.json()["content"],
        "v2, unseen"
    );
    let path = team.post(&id_of(
        &create(
            &app,
            &team,
            &team.member,
            json!({"content": "in review", "channel_ids": [channel]}),
        )
        .await,
    ));
    app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    for action in ["approve", "reject"] {
        let blind = app
            .json_as(
                &team.reviewer,
                Method::POST,
                &format!("{path}/{action}"),
                json!({"reason": "r"}),
                428,
            )
            .await;
        assert_eq!(blind["code"], "precondition_required");
    }
    assert_eq!(
        app.get_as(&team.member.access_token, &path, 200).await.json()["status"],
        "in_review"
    );
    // A missing post is missing, whatever the headers say.
    let missing = team.post(&uuid::Uuid::now_v7().to_string());
    app.json_as(&team.reviewer, Method::POST, &format!("{missing}/approve"), json!({}), 404).await;
}

#[db_test]
async fn where_approval_is_required_nobody_reviews_their_own_post(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, true).await;
    let admin = app.signed_in_user("admin@example.com").await;
    app.add_member(&team.workspace, &admin.id, "admin").await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    for author in [&team.owner, &admin] {
        let path = team.post(&id_of(
            &create(&app, &team, author, json!({"content": "Mine", "channel_ids": [channel]}))
                .await,
        ));
        app.json_as(author, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
        for action in ["approve", "reject"] {
            let refused = as_seen(
                &app,
                author,
                Method::POST,
                &format!("{path}/{action}"),
                &path,
                json!({"reason": "r"}),
                403,
            )
            .await;
            assert_eq!(refused["code"], "forbidden");
        }
        // Someone else signs it off.
        let approved = as_seen(
            &app,
            &team.reviewer,
            Method::POST,
            &format!("{path}/approve"),
            &path,
            json!({}),
            200,
        )
        .await;
        assert_eq!(approved["reviewed_by"], team.reviewer.id.as_str());
    }
    assert_eq!(audit_actions(&app).await, ["post.approved", "post.approved"]);

    // An admin who rewrites a member's post is one of its writers: whoever submits it, the
    // admin cannot also sign it off.
    let path = team.post(&id_of(
        &create(
            &app,
            &team,
            &team.member,
            json!({"content": "Member's words", "channel_ids": [channel]}),
        )
        .await,
    ));
    as_seen(
        &app,
        &admin,
        Method::PATCH,
        &path,
        &path,
        json!({"content": "The admin's words"}),
        200,
    )
    .await;
    app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    let refused =
        as_seen(&app, &admin, Method::POST, &format!("{path}/approve"), &path, json!({}), 403)
            .await;
    assert_eq!(refused["code"], "forbidden");
    // And one who submits it is not its reviewer either.
    let path = team.post(&id_of(
        &create(
            &app,
            &team,
            &team.member,
            json!({"content": "Put forward", "channel_ids": [channel]}),
        )
        .await,
    ));
    app.json_as(&admin, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    as_seen(
        &app,
        &admin,
        Method::POST,
        &format!("{path}/reject"),
        &path,
        json!({"reason": "r"}),
        403,
    )
    .await;
    as_seen(&app, &team.reviewer, Method::POST, &format!("{path}/approve"), &path, json!({}), 200)
        .await;

    // Where approval is not required, a review is the author's own business.
    app.json_as(
        &team.owner,
        Method::PATCH,
        &format!("/v1/workspaces/{}", team.workspace),
        json!({"approval_required": false}),
        200,
    )
    .await;
    let path = team.post(&id_of(
        &create(&app, &team, &team.owner, json!({"content": "Solo", "channel_ids": [channel]}))
            .await,
    ));
    app.json_as(&team.owner, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    as_seen(&app, &team.owner, Method::POST, &format!("{path}/approve"), &path, json!({}), 200)
        .await;
}

#[db_test]
async fn a_long_post_in_a_wide_script_fits_the_request_limit(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, false).await;
    let channel = app.add_channel_of(&team.workspace, "facebook", "501").await;
    // Facebook's longest post in three-byte characters, with an X variant beside it: far over
    // the 64 KiB that other JSON requests may send.
    let content = "字".repeat(63_206);
    let body = json!({
        "content": content,
        "channel_ids": [channel],
        "variants": { "x": { "content": "short" } },
    });
    let post = create(&app, &team, &team.member, body).await;
    assert_eq!(post["content"].as_str().unwrap().chars().count(), 63_206);
    let path = team.post(&id_of(&post));
    app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200).await;
    let problem = app
        .json_as(
            &team.member,
            Method::POST,
            &team.posts(),
            json!({"content": "字".repeat(63_207), "channel_ids": [channel]}),
            422,
        )
        .await;
    assert_eq!(fields(&problem), ["content"]);
}

#[db_test]
async fn requiring_approval_takes_unapproved_posts_off_the_schedule(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, false).await;
    let channel = app.add_channel(&team.workspace, "brand").await;
    let mut paths = Vec::new();
    for content in ["never reviewed", "approved", "approved, then edited"] {
        let path = team.post(&id_of(
            &create(
                &app,
                &team,
                &team.member,
                json!({"content": content, "channel_ids": [channel], "scheduled_at": in_hours(3)}),
            )
            .await,
        ));
        if content != "never reviewed" {
            app.json_as(&team.member, Method::POST, &format!("{path}/submit"), json!({}), 200)
                .await;
            as_seen(
                &app,
                &team.reviewer,
                Method::POST,
                &format!("{path}/approve"),
                &path,
                json!({}),
                200,
            )
            .await;
        } else {
            app.json_as(
                &team.member,
                Method::POST,
                &format!("{path}/schedule"),
                json!({"scheduled_at": in_hours(3)}),
                200,
            )
            .await;
        }
        paths.push(path);
    }
    let edited = as_seen(
        &app,
        &team.member,
        Method::PATCH,
        &paths[2],
        &paths[2],
        json!({"content": "approved, then edited!"}),
        200,
    )
    .await;
    assert_eq!(edited["status"], "scheduled", "no approval is required yet");

    app.json_as(
        &team.owner,
        Method::PATCH,
        &format!("/v1/workspaces/{}", team.workspace),
        json!({"approval_required": true}),
        200,
    )
    .await;
    let statuses: Vec<String> = {
        let mut statuses = Vec::new();
        for path in &paths {
            statuses.push(
                app.get_as(&team.member.access_token, path, 200).await.json()["status"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        statuses
    };
    assert_eq!(
        statuses,
        ["draft", "scheduled", "draft"],
        "only what was approved as it is stays scheduled"
    );
    // And it cannot be put back without approval.
    app.json_as(
        &team.member,
        Method::POST,
        &format!("{}/schedule", paths[0]),
        json!({"scheduled_at": in_hours(4)}),
        409,
    )
    .await;
}

fn urlencode(value: &str) -> String {
    value.replace('+', "%2B").replace(':', "%3A")
}

#[db_test]
async fn an_id_in_the_path_that_does_not_parse_is_404_whatever_the_body(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let team = Team::new(&app, false).await;
    let nothing = format!("{}/not-a-post", team.posts());
    let refused = app.get_as(&team.owner.access_token, &nothing, 404).await.json();
    assert_eq!(refused["code"], "not_found");
    // The id is read before the body: a wrong body on a path that names nothing is still 404.
    let refused = app
        .send(
            app.request(Method::PATCH, &nothing)
                .bearer_auth(&team.owner.access_token)
                .header("if-match", "\"1\"")
                .header("content-type", "application/json")
                .body("{not json"),
            404,
        )
        .await
        .json();
    assert_eq!(refused["code"], "not_found");
    let member = format!("/v1/workspaces/{}/members/not-a-user", team.workspace);
    app.send_json_as(&team.owner.access_token, Method::PATCH, &member, &json!({"role": 7}), 404)
        .await;
    // A public link whose ids do not parse names nothing either.
    app.get("/v1/public/media/not-a-workspace/not-a-file?expires=1&signature=x", 404).await;
}
