//! The role matrix of api.md, cell by cell, and the one-owner rule under concurrent requests.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_test_support::{Backend, FormPart, TestApp, TestUser, db_test, multipart_body};
use reqwest::Method;
use serde_json::{Value, json};

/// api.md's "who" column, written out independently of the code under test.
const MATRIX: [(&str, [bool; 4]); 22] = [
    //                       owner  admin  member reviewer
    ("view workspace", [true, true, true, true]),
    ("update workspace", [true, true, false, false]),
    ("delete workspace", [true, false, false, false]),
    ("list members", [true, true, true, true]),
    ("change member role", [true, true, false, false]),
    ("remove member", [true, true, false, false]),
    ("transfer ownership", [true, false, false, false]),
    ("invite", [true, true, false, false]),
    ("list invitations", [true, true, false, false]),
    ("revoke invitation", [true, true, false, false]),
    ("view audit log", [true, true, false, false]),
    ("list channels", [true, true, true, true]),
    ("connect channel", [true, true, false, false]),
    ("disconnect channel", [true, true, false, false]),
    ("set channel slots", [true, true, false, false]),
    ("list media", [true, true, true, true]),
    ("upload media", [true, true, true, false]),
    ("delete media", [true, true, true, false]),
    ("list posts", [true, true, true, true]),
    ("create post", [true, true, true, false]),
    ("edit post", [true, true, true, false]),
    ("review post", [true, true, false, true]),
];

struct Cast {
    owner: TestUser,
    admin: TestUser,
    member: TestUser,
    reviewer: TestUser,
    target: TestUser,
}

/// What a cell acts on.
struct Stage {
    workspace: String,
    invitation: String,
    channel: String,
    media: String,
    post: String,
}

/// A fresh studio-plan workspace with one user of each role, a member to act on, an open
/// invitation to withdraw, a channel, a media file and the member's post, in review.
async fn stage(app: &TestApp, cast: &Cast, cell: usize) -> Stage {
    let workspace = app.workspace(&cast.owner, &format!("Cell {cell}")).await;
    for (user, role) in [
        (&cast.admin, "admin"),
        (&cast.member, "member"),
        (&cast.reviewer, "reviewer"),
        (&cast.target, "member"),
    ] {
        app.add_member(&workspace, &user.id, role).await;
    }
    app.set_plan(&workspace, "studio").await;
    let path = format!("/v1/workspaces/{workspace}/invitations");
    app.send_json_as(
        &cast.owner.access_token,
        Method::POST,
        &path,
        &json!({"email": format!("pending{cell}@example.com"), "role": "member"}),
        201,
    )
    .await;
    let invitation =
        app.get_as(&cast.owner.access_token, &path, 200).await.json()["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let channel = app.add_channel(&workspace, &format!("acct{cell}")).await;
    let media = app.add_media_row(&workspace).await;
    let posts = format!("/v1/workspaces/{workspace}/posts");
    let post = app
        .send_json_as(
            &cast.member.access_token,
            Method::POST,
            &posts,
            &json!({"content": "For review", "channel_ids": [channel]}),
            201,
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send_json_as(
        &cast.member.access_token,
        Method::POST,
        &format!("{posts}/{post}/submit"),
        &json!({}),
        200,
    )
    .await;
    Stage { workspace, invitation, channel, media, post }
}

fn request(
    action: &str,
    stage: &Stage,
    target: &TestUser,
    cell: usize,
) -> (Method, String, Value, u16) {
    let Stage { workspace, invitation, channel, media, post } = stage;
    let base = format!("/v1/workspaces/{workspace}");
    match action {
        "view workspace" => (Method::GET, base, Value::Null, 200),
        "update workspace" => (Method::PATCH, base, json!({"name": "Renamed"}), 200),
        "delete workspace" => (Method::DELETE, base, Value::Null, 204),
        "list members" => (Method::GET, format!("{base}/members"), Value::Null, 200),
        "change member role" => (
            Method::PATCH,
            format!("{base}/members/{}", target.id),
            json!({"role": "reviewer"}),
            200,
        ),
        "remove member" => {
            (Method::DELETE, format!("{base}/members/{}", target.id), Value::Null, 204)
        }
        "transfer ownership" => {
            (Method::POST, format!("{base}/transfer-ownership"), json!({"user_id": target.id}), 200)
        }
        "invite" => (
            Method::POST,
            format!("{base}/invitations"),
            json!({"email": format!("new{cell}@example.com"), "role": "member"}),
            201,
        ),
        "list invitations" => (Method::GET, format!("{base}/invitations"), Value::Null, 200),
        "revoke invitation" => {
            (Method::DELETE, format!("{base}/invitations/{invitation}"), Value::Null, 204)
        }
        "view audit log" => (Method::GET, format!("{base}/audit-log"), Value::Null, 200),
        "list channels" => (Method::GET, format!("{base}/channels"), Value::Null, 200),
        "connect channel" => {
            (Method::POST, format!("{base}/channels/connect"), json!({"provider": "x"}), 200)
        }
        "disconnect channel" => {
            (Method::DELETE, format!("{base}/channels/{channel}"), Value::Null, 204)
        }
        "set channel slots" => (
            Method::PUT,
            format!("{base}/channels/{channel}/slots"),
            json!({"slots": [{"weekday": "mon", "time": "09:30"}]}),
            200,
        ),
        "list media" => (Method::GET, format!("{base}/media"), Value::Null, 200),
        // The body is a multipart upload, sent by the caller.
        "upload media" => (Method::POST, format!("{base}/media"), Value::Null, 201),
        "delete media" => (Method::DELETE, format!("{base}/media/{media}"), Value::Null, 204),
        "list posts" => (Method::GET, format!("{base}/posts"), Value::Null, 200),
        "create post" => (
            Method::POST,
            format!("{base}/posts"),
            json!({"content": "New", "channel_ids": [channel]}),
            201,
        ),
        // The post is the member's own: members change their own posts.
        "edit post" => {
            (Method::PATCH, format!("{base}/posts/{post}"), json!({"content": "Edited"}), 200)
        }
        "review post" => (Method::POST, format!("{base}/posts/{post}/approve"), Value::Null, 200),
        other => unreachable!("unknown action {other}"),
    }
}

#[db_test]
// proves S-TENANT-4
async fn every_role_gets_exactly_its_cells_of_the_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let cast = Cast {
        owner: app.signed_in_user("owner@example.com").await,
        admin: app.signed_in_user("admin@example.com").await,
        member: app.signed_in_user("member@example.com").await,
        reviewer: app.signed_in_user("reviewer@example.com").await,
        target: app.signed_in_user("target@example.com").await,
    };
    assert_eq!(MATRIX.len(), postroute_domain::Action::ALL.len(), "the matrix covers every action");
    let png = postroute_test_support::corpus::png(8, 8);
    let mut cell = 0;
    for (action, allowed) in MATRIX {
        for (role, actor) in ["owner", "admin", "member", "reviewer"].iter().zip([
            &cast.owner,
            &cast.admin,
            &cast.member,
            &cast.reviewer,
        ]) {
            cell += 1;
            let staged = stage(&app, &cast, cell).await;
            let (method, path, body, success) = request(action, &staged, &cast.target, cell);
            let allowed = allowed
                [["owner", "admin", "member", "reviewer"].iter().position(|r| r == role).unwrap()];
            let mut call = app.request(method, &path).bearer_auth(&actor.access_token);
            if !body.is_null() {
                call = call.json(&body);
            }
            if matches!(action, "edit post" | "review post") {
                // Edits and reviews name the version they were based on.
                let post = format!("/v1/workspaces/{}/posts/{}", staged.workspace, staged.post);
                let etag = app
                    .get_as(&cast.owner.access_token, &post, 200)
                    .await
                    .header("etag")
                    .unwrap()
                    .to_owned();
                call = call.header("if-match", etag);
            }
            if action == "upload media" {
                let (content_type, form) = multipart_body(&[FormPart::file(&png)]);
                call = call.header("content-type", content_type).body(form);
            }
            let response = app.fetch(call).await;
            let expected = if allowed { success } else { 403 };
            assert_eq!(
                response.status,
                expected,
                "{role} may{} {action}: {}",
                if allowed { "" } else { " not" },
                String::from_utf8_lossy(&response.body)
            );
            if !allowed {
                assert_eq!(response.json()["code"], "forbidden");
            }
        }
    }
}

async fn owner_count(app: &TestApp, workspace: &str) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM memberships WHERE workspace_id = {} AND role = 'owner'",
        app.uuid_literal(workspace)
    ))
    .await
}

#[db_test]
// proves S-TENANT-4
async fn a_transfer_racing_a_demotion_and_a_removal_leaves_exactly_one_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("o@example.com").await;
    let other_admin = app.signed_in_user("x@example.com").await;
    let heir = app.signed_in_user("heir@example.com").await;
    for round in 0..6 {
        let workspace = app.workspace(&owner, &format!("Race {round}")).await;
        app.add_member(&workspace, &other_admin.id, "admin").await;
        app.add_member(&workspace, &heir.id, "admin").await;
        let base = format!("/v1/workspaces/{workspace}");
        let transfer = app.fetch(
            app.request(Method::POST, &format!("{base}/transfer-ownership"))
                .bearer_auth(&owner.access_token)
                .json(&json!({"user_id": heir.id})),
        );
        let demote = app.fetch(
            app.request(Method::PATCH, &format!("{base}/members/{}", heir.id))
                .bearer_auth(&other_admin.access_token)
                .json(&json!({"role": "member"})),
        );
        let remove = app.fetch(
            app.request(Method::DELETE, &format!("{base}/members/{}", heir.id))
                .bearer_auth(&other_admin.access_token),
        );
        let (transfer, demote, remove) = tokio::join!(transfer, demote, remove);
        assert!([200, 409, 422].contains(&transfer.status), "transfer {}", transfer.status);
        assert!([200, 404, 409].contains(&demote.status), "demote {}", demote.status);
        assert!([204, 404, 409].contains(&remove.status), "remove {}", remove.status);
        assert_eq!(owner_count(&app, &workspace).await, 1, "round {round}: exactly one owner");
        if transfer.status == 200 {
            assert_eq!(remove.status, 409, "the new owner cannot have been removed");
        }
    }
}

#[db_test]
// proves S-TENANT-4
async fn two_transfers_at_once_make_one_owner(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("o@example.com").await;
    let first = app.signed_in_user("first@example.com").await;
    let second = app.signed_in_user("second@example.com").await;
    let workspace = app.workspace(&owner, "Contested").await;
    app.add_member(&workspace, &first.id, "member").await;
    app.add_member(&workspace, &second.id, "member").await;
    let path = format!("/v1/workspaces/{workspace}/transfer-ownership");
    let (a, b) = tokio::join!(
        app.fetch(
            app.request(Method::POST, &path)
                .bearer_auth(&owner.access_token)
                .json(&json!({"user_id": first.id}))
        ),
        app.fetch(
            app.request(Method::POST, &path)
                .bearer_auth(&owner.access_token)
                .json(&json!({"user_id": second.id}))
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert!(statuses == [200, 403] || statuses == [200, 409], "{statuses:?}");
    assert_eq!(owner_count(&app, &workspace).await, 1);
}
