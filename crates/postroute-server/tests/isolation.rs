//! Tenant isolation through the API (S-TENANT-3) for every tenant route the OpenAPI document
//! lists, so a new route joins this test by being documented; and the escape hatch's callers
//! (S-TENANT-1).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;

use postroute_test_support::{Backend, TestApp, TestResponse, db_test};
use reqwest::Method;
use serde_json::{Value, json};

const TENANT_PREFIX: &str = "/v1/workspaces/{workspace_id}";

/// Every tenant operation of the API: (method, path template).
async fn tenant_operations(app: &TestApp) -> Vec<(Method, String)> {
    let document = app.get("/v1/openapi.json", 200).await.json();
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with(TENANT_PREFIX) {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            operations.push((method.to_uppercase().parse().unwrap(), path.clone()));
        }
    }
    assert!(operations.len() >= 11, "the document lists the tenant routes: {operations:?}");
    operations
}

/// A workspace's ids to put into paths.
#[derive(Clone, Copy)]
struct Ids<'a> {
    workspace: &'a str,
    user: &'a str,
    invitation: &'a str,
    channel: &'a str,
    pending: &'a str,
    media: &'a str,
    post: &'a str,
}

fn fill(template: &str, ids: &Ids<'_>) -> String {
    template
        .replace("{workspace_id}", ids.workspace)
        .replace("{user_id}", ids.user)
        .replace("{invitation_id}", ids.invitation)
        .replace("{channel_id}", ids.channel)
        .replace("{pending_id}", ids.pending)
        .replace("{media_id}", ids.media)
        .replace("{post_id}", ids.post)
}

/// A body the operation would accept, so that only the ids decide the answer. Operations
/// added later get `{}` until they are listed here; the comparisons still hold for them.
fn valid_body(method: &Method, template: &str) -> Option<Value> {
    match (method.as_str(), template.trim_start_matches(TENANT_PREFIX)) {
        ("PATCH", "") => Some(json!({"name": "Hijacked"})),
        ("PATCH", "/members/{user_id}") => Some(json!({"role": "admin"})),
        ("POST", "/invitations") => Some(json!({"email": "hijack@example.com", "role": "member"})),
        ("POST", "/transfer-ownership") => {
            Some(json!({"user_id": uuid::Uuid::now_v7().to_string()}))
        }
        ("POST", "/channels/connect") => Some(json!({"provider": "x"})),
        ("POST", "/channels/pending/{pending_id}") => Some(json!({"external_ids": ["501"]})),
        ("POST", "/posts/{post_id}/targets/{channel_id}/mark-published") => {
            Some(json!({"url": "https://x.com/i/web/status/1"}))
        }
        ("PUT", "/channels/{channel_id}/slots") => {
            Some(json!({"slots": [{"weekday": "mon", "time": "09:30"}]}))
        }
        ("POST", "/posts") => Some(json!({"content": "Hijack", "channel_ids": []})),
        ("PATCH", "/posts/{post_id}") => Some(json!({"content": "Hijacked"})),
        ("POST", "/posts/{post_id}/reject") => Some(json!({"reason": "Hijacked"})),
        ("POST", "/posts/{post_id}/schedule") => Some(
            json!({"scheduled_at": (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339()}),
        ),
        ("POST" | "PATCH" | "PUT", _) => Some(json!({})),
        _ => None,
    }
}

async fn call(
    app: &TestApp,
    token: &str,
    method: &Method,
    template: &str,
    path: &str,
) -> TestResponse {
    let mut request = app.request(method.clone(), path).bearer_auth(token);
    if let Some(body) = valid_body(method, template) {
        request = request.json(&body);
    }
    app.fetch(request).await
}

/// Everything observable about a workspace, to compare before and after.
async fn snapshot(app: &TestApp, token: &str, workspace: &str) -> Value {
    let get = |path: String| async move { app.get_as(token, &path, 200).await.json() };
    json!({
        "workspace": get(format!("/v1/workspaces/{workspace}")).await,
        "members": get(format!("/v1/workspaces/{workspace}/members")).await,
        "invitations": get(format!("/v1/workspaces/{workspace}/invitations")).await,
        "audit": get(format!("/v1/workspaces/{workspace}/audit-log?limit=100")).await,
        "channels": get(format!("/v1/workspaces/{workspace}/channels")).await,
        "media": get(format!("/v1/workspaces/{workspace}/media")).await,
        "posts": get(format!("/v1/workspaces/{workspace}/posts")).await,
    })
}

#[db_test]
// proves S-TENANT-3
async fn another_workspaces_resources_answer_exactly_like_missing_ones(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.signed_in_user("alice@example.com").await;
    let bob = app.signed_in_user("bob@example.com").await;
    let bobs_colleague = app.signed_in_user("colleague@example.com").await;
    let outsider = app.signed_in_user("outsider@example.com").await;

    // Data in every tenant table of both workspaces.
    let mut ids = Vec::new();
    for (owner, colleague, name) in
        [(&alice, None, "Alice's"), (&bob, Some(&bobs_colleague), "Bob's")]
    {
        let workspace = app.workspace(owner, name).await;
        app.set_plan(&workspace, "studio").await;
        if let Some(colleague) = colleague {
            app.add_member(&workspace, &colleague.id, "member").await;
        }
        let invitee = format!("invitee-{name}@example.com").replace('\'', "");
        app.send_json_as(
            &owner.access_token,
            Method::POST,
            &format!("/v1/workspaces/{workspace}/invitations"),
            &json!({ "email": invitee, "role": "reviewer" }),
            201,
        )
        .await;
        let invitation = app
            .get_as(&owner.access_token, &format!("/v1/workspaces/{workspace}/invitations"), 200)
            .await
            .json()["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        ids.push((workspace, invitation));
    }
    let (alices, _) = ids[0].clone();
    let (bobs, bobs_invitation) = ids[1].clone();
    // Bob's workspace also has a channel and a Meta login waiting for his choice.
    let bobs_channel = app.connect_x(&bob, &bobs).await;
    app.fake_meta().set_pages(vec![
        postroute_fakes::FakePage::new("501", "A"),
        postroute_fakes::FakePage::new("502", "B"),
    ]);
    let query = app.authorize_at_platform(&bob, &bobs, "facebook").await;
    let bobs_pending = app.oauth_callback(&bob, "facebook", &query, 200).await["pending_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // And a file in its media library.
    let bobs_media =
        app.upload(&bob, &bobs, &postroute_test_support::corpus::png(8, 8), 201).await.json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
    // And a post in review that uses both.
    let bobs_post = app
        .send_json_as(
            &bob.access_token,
            Method::POST,
            &format!("/v1/workspaces/{bobs}/posts"),
            &json!({"content": "Bob's", "channel_ids": [bobs_channel], "media_ids": [bobs_media]}),
            201,
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.send_json_as(
        &bob.access_token,
        Method::POST,
        &format!("/v1/workspaces/{bobs}/posts/{bobs_post}/submit"),
        &json!({}),
        200,
    )
    .await;
    let before = snapshot(&app, &bob.access_token, &bobs).await;

    let missing = uuid::Uuid::now_v7().to_string();
    let reference =
        app.get_as(&alice.access_token, &format!("/v1/workspaces/{missing}"), 404).await;
    let operations = tenant_operations(&app).await;
    for (method, template) in &operations {
        // Bob's workspace, with Bob's ids, as Alice.
        let bobs_ids = Ids {
            workspace: &bobs,
            user: &bobs_colleague.id,
            invitation: &bobs_invitation,
            channel: &bobs_channel,
            pending: &bobs_pending,
            media: &bobs_media,
            post: &bobs_post,
        };
        let foreign = fill(template, &bobs_ids);
        let response = call(&app, &alice.access_token, method, template, &foreign).await;
        assert_eq!(response.status, 404, "{method} {foreign}");
        assert_eq!(response.body, reference.body, "{method} {foreign}: identical to a missing one");

        // A truly missing workspace answers the same.
        let nowhere = fill(
            template,
            &Ids {
                workspace: &missing,
                user: &missing,
                invitation: &missing,
                channel: &missing,
                pending: &missing,
                media: &missing,
                post: &missing,
            },
        );
        assert_eq!(
            call(&app, &alice.access_token, method, template, &nowhere).await.body,
            reference.body
        );

        // Alice's own workspace with Bob's member or invitation ids: as missing as a random id.
        if [
            "{user_id}",
            "{invitation_id}",
            "{channel_id}",
            "{pending_id}",
            "{media_id}",
            "{post_id}",
        ]
        .iter()
        .any(|param| template.contains(param))
        {
            let crossed = fill(template, &Ids { workspace: &alices, ..bobs_ids });
            let random = fill(
                template,
                &Ids {
                    workspace: &alices,
                    user: &missing,
                    invitation: &missing,
                    channel: &missing,
                    pending: &missing,
                    media: &missing,
                    post: &missing,
                },
            );
            let crossed_response =
                call(&app, &alice.access_token, method, template, &crossed).await;
            let random_response = call(&app, &alice.access_token, method, template, &random).await;
            assert_eq!(crossed_response.status, 404, "{method} {crossed}");
            assert_eq!(crossed_response.body, random_response.body, "{method} {crossed}");
        }

        // Someone who belongs to no workspace at all.
        let own = fill(
            template,
            &Ids {
                workspace: &alices,
                user: &alice.id,
                invitation: &missing,
                channel: &missing,
                pending: &missing,
                media: &missing,
                post: &missing,
            },
        );
        let response = call(&app, &outsider.access_token, method, template, &own).await;
        assert_eq!(response.status, 404, "outsider: {method} {own}");
        assert_eq!(response.body, reference.body);
    }

    // Body ids cross no boundary either: a transfer to Bob's colleague is refused like one
    // to a random id.
    let transfer = format!("/v1/workspaces/{alices}/transfer-ownership");
    let foreign = app
        .send_json_as(
            &alice.access_token,
            Method::POST,
            &transfer,
            &json!({"user_id": bobs_colleague.id}),
            422,
        )
        .await;
    let random = app
        .send_json_as(
            &alice.access_token,
            Method::POST,
            &transfer,
            &json!({"user_id": missing}),
            422,
        )
        .await;
    assert_eq!(foreign.body, random.body);

    assert_eq!(
        snapshot(&app, &bob.access_token, &bobs).await,
        before,
        "nothing of Bob's workspace changed"
    );
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

// proves S-TENANT-1
#[test]
fn only_billing_webhooks_the_worker_jobs_and_staff_endpoints_use_the_escape_hatch() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let definition = std::fs::read_to_string(crates.join("postroute-store/src/store.rs")).unwrap();
    assert!(
        definition.contains("pub fn cross_tenant_unscoped("),
        "the escape hatch is still the one named function"
    );

    let allowed = [
        "postroute-app/src/billing/",
        "postroute-app/src/webhooks/",
        "postroute-worker/src/jobs/",
        "postroute-app/src/admin/",
        "postroute-http/src/api/admin",
    ];
    let mut files = Vec::new();
    sources(&crates, &mut files);
    let mut offenders = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&crates).unwrap().to_string_lossy().replace('\\', "/");
        if relative.contains("/tests/") || relative.starts_with("postroute-store/src/") {
            continue; // Tests may name it; the store defines and documents it.
        }
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains(".cross_tenant_unscoped(")
            && !allowed.iter().any(|prefix| relative.starts_with(prefix))
        {
            offenders.push(relative);
        }
    }
    assert!(
        offenders.is_empty(),
        "cross-tenant access outside billing, webhooks, worker jobs and staff endpoints: {offenders:?}"
    );
}
