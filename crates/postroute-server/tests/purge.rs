//! The purge job: a deleted workspace, and the workspaces an erased owner held alone, are removed
//! for good after the grace period, media objects included (S-DATA-3), and nothing else is.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use postroute_app::media::MediaStorage;
use postroute_test_support::{Backend, PASSWORD, TestApp, TestUser, corpus, db_test};
use postroute_worker::Job;
use postroute_worker::jobs::purge::PurgeJob;
use reqwest::Method;
use serde_json::json;

/// Tables holding a workspace's rows, and the column naming it.
const WORKSPACE_TABLES: [(&str, &str); 10] = [
    ("workspaces", "id"),
    ("memberships", "workspace_id"),
    ("invitations", "workspace_id"),
    ("audit_log", "workspace_id"),
    ("channels", "workspace_id"),
    ("oauth_states", "workspace_id"),
    ("media", "workspace_id"),
    ("posts", "workspace_id"),
    ("post_media", "workspace_id"),
    ("post_targets", "workspace_id"),
];

/// Rows of `workspace` in each table that should have some.
async fn rows_of(app: &TestApp, workspace: &str) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for (table, column) in WORKSPACE_TABLES {
        let sql = format!(
            "SELECT count(*) FROM {table} WHERE {column} = {}",
            app.uuid_literal(workspace)
        );
        counts.push((table, app.count(&sql).await));
    }
    counts
}

/// A workspace with a member, an invitation, a channel, a file and a post that uses both;
/// returns its id and its file's storage key.
async fn filled_workspace(
    app: &TestApp,
    owner: &TestUser,
    name: &str,
    colleague: &TestUser,
) -> (String, String) {
    let workspace = app.workspace(owner, name).await;
    app.set_plan(&workspace, "studio").await;
    app.add_member(&workspace, &colleague.id, "member").await;
    app.json_as(
        owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/invitations"),
        json!({"email": format!("invitee-{name}@example.com"), "role": "reviewer"}),
        201,
    )
    .await;
    let channel = app.add_channel(&workspace, name).await;
    let media = app.upload(owner, &workspace, &corpus::jpeg(16, 16), 201).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.json_as(
        owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/posts"),
        json!({"content": "hello", "channel_ids": [channel], "media_ids": [media]}),
        201,
    )
    .await;
    (workspace.clone(), format!("{workspace}/{media}.jpg"))
}

#[db_test]
// proves S-DATA-3
async fn deleted_workspaces_are_purged_with_their_files_after_the_grace_period(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("owner@example.com").await;
    let solo_owner = app.signed_in_user("solo@example.com").await;
    let colleague = app.signed_in_user("colleague@example.com").await;
    let (doomed, doomed_key) = filled_workspace(&app, &owner, "doomed", &colleague).await;
    let (kept, kept_key) = filled_workspace(&app, &owner, "kept", &colleague).await;
    let storage = MediaStorage::from_config(&app.config).unwrap();
    let kept_rows = rows_of(&app, &kept).await;
    assert!(
        kept_rows.iter().all(|(table, count)| *count > 0 || *table == "oauth_states"),
        "{kept_rows:?}"
    );

    // An object no row points at (left by a failed delete or a crash mid-upload).
    let scratch = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(scratch.path(), b"orphan").unwrap();
    let orphan = format!("{doomed}/orphan.jpg");
    storage.put_file(&orphan, scratch.path()).await.unwrap();
    app.json_as(&owner, Method::DELETE, &format!("/v1/workspaces/{doomed}"), json!({}), 204).await;
    let waiting = PurgeJob::new(app.store().clone(), storage.clone(), chrono::Duration::days(30));
    assert_eq!(waiting.run_once().await.unwrap(), 0, "nothing goes within the grace period");
    assert!(storage.contains(&doomed_key).await.unwrap());

    let due = PurgeJob::new(app.store().clone(), storage.clone(), chrono::Duration::zero());
    assert_eq!(due.run_once().await.unwrap(), 1);
    assert!(!storage.contains(&doomed_key).await.unwrap(), "the file went with its workspace");
    assert!(!storage.contains(&orphan).await.unwrap(), "and so did the orphan");
    assert!(
        rows_of(&app, &doomed).await.iter().all(|(_, count)| *count == 0),
        "{:?}",
        rows_of(&app, &doomed).await
    );
    assert_eq!(rows_of(&app, &kept).await, kept_rows, "the other workspace is untouched");
    assert!(storage.contains(&kept_key).await.unwrap());
    assert_eq!(due.run_once().await.unwrap(), 0, "a second pass finds nothing");

    // A workspace that never stored a file has no prefix in storage: still purged.
    let empty = app.workspace(&owner, "Empty").await;
    app.json_as(&owner, Method::DELETE, &format!("/v1/workspaces/{empty}"), json!({}), 204).await;
    assert_eq!(due.run_once().await.unwrap(), 1);
    assert!(rows_of(&app, &empty).await.iter().all(|(_, count)| *count == 0));

    // An owner who erases their account takes their solo workspace with them, files included.
    let (solo, solo_key) = filled_workspace(&app, &solo_owner, "solo", &colleague).await;
    app.json_as(
        &solo_owner,
        Method::DELETE,
        &format!("/v1/workspaces/{solo}/members/{}", colleague.id),
        json!({}),
        204,
    )
    .await;
    app.json_as(&solo_owner, Method::DELETE, "/v1/me", json!({"password": PASSWORD}), 204).await;
    assert_eq!(due.run_once().await.unwrap(), 1);
    assert!(!storage.contains(&solo_key).await.unwrap());
    assert!(rows_of(&app, &solo).await.iter().all(|(_, count)| *count == 0));
    assert_eq!(rows_of(&app, &kept).await, kept_rows);
}
