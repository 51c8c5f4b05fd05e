//! Encrypted backups (S-DATA-1): a backup of real data restores every row into an empty
//! database; a tampered, truncated or wrong-key backup is refused and writes nothing; old
//! backups are pruned after the retention period.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::time::Duration;

use postroute_app::admin::backup::{self, BackupError};
use postroute_store::{DumpSink, Store, StoreOptions};
use postroute_test_support::{Backend, TestApp, TestDatabase, corpus, db_test};
use reqwest::Method;
use serde_json::json;

const KEY: [u8; 32] = [7; 32];

/// A dump read back from memory.
struct Replay(std::vec::IntoIter<Vec<u8>>);

impl postroute_store::DumpSource for Replay {
    async fn next_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.0.next())
    }
}

/// A dump held in memory, to compare two databases row for row.
#[derive(Default)]
struct Lines(Vec<Vec<u8>>);

impl DumpSink for Lines {
    async fn line(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.0.push(line.to_vec());
        Ok(())
    }
}

/// Every table's header and rows, rows sorted (a table's physical order is not part of it);
/// the dump header, which carries the time, is left out.
async fn contents(store: &Store) -> Vec<Vec<Vec<u8>>> {
    let mut lines = Lines::default();
    store.cross_tenant_unscoped().backups().dump(&mut lines, chrono::Utc::now()).await.unwrap();
    let mut tables = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    for line in lines.0.into_iter().skip(1) {
        if line == b"\\." {
            current[1..].sort();
            tables.push(std::mem::take(&mut current));
        } else {
            current.push(line);
        }
    }
    tables
}

/// A new, migrated, empty database of `backend`.
async fn empty_store(backend: &Backend, dir: &Path) -> (TestDatabase, Store) {
    let database = TestDatabase::create(backend, dir).await;
    let options = StoreOptions {
        url: database.url().to_owned(),
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
        app_role: Some("postroute_app".to_owned()),
    };
    Store::migrate(&options).await.unwrap();
    let store = Store::connect(&options).await.unwrap();
    (database, store)
}

/// An app with data in every part of the schema.
async fn app_with_data(backend: Backend) -> TestApp {
    let app = TestApp::spawn(backend).await;
    let owner = app.signed_in_user("owner@example.com").await;
    app.post_json(
        "/v1/auth/login",
        &json!({"email": "owner@example.com", "password": "wrong password!"}),
        401,
    )
    .await;
    let workspace = app.workspace(&owner, "Backed up").await;
    app.set_plan(&workspace, "studio").await;
    app.json_as(
        &owner,
        Method::POST,
        &format!("/v1/workspaces/{workspace}/invitations"),
        json!({"email": "new@example.com", "role": "member"}),
        201,
    )
    .await;
    let channel = app.connect_x(&owner, &workspace).await;
    let media = app.upload(&owner, &workspace, &corpus::jpeg(16, 16), 201).await.json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = json!({
        "content": "Née à 日本 🙂 \"quoted\" \\ back\tslash\nnew line",
        "channel_ids": [channel],
        "media_ids": [media],
        "variants": { "x": { "thread": ["two"] } },
    });
    app.json_as(&owner, Method::POST, &format!("/v1/workspaces/{workspace}/posts"), post, 201)
        .await;
    app
}

#[db_test]
// proves S-DATA-1
async fn a_backup_restores_every_row_into_an_empty_database(backend: Backend) {
    let app = app_with_data(backend.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (file, counts) =
        backup::create(app.store(), &KEY, &dir.path().join("backups")).await.unwrap();
    assert!(counts.total() >= 17, "{counts:?}");
    for table in [
        "users",
        "sessions",
        "system_events",
        "workspaces",
        "audit_log",
        "channels",
        "oauth_states",
        "media",
        "posts",
        "post_media",
        "post_targets",
    ] {
        assert!(
            counts.0.iter().any(|(name, rows)| name == table && *rows > 0),
            "{table} is empty: {counts:?}"
        );
    }
    let raw = std::fs::read(&file.path).unwrap();
    assert!(
        !raw.windows(b"owner@example.com".len()).any(|window| window == b"owner@example.com"),
        "the file is encrypted"
    );

    let (header, verified) = backup::verify(&file.path, &KEY).await.unwrap();
    assert_eq!(verified, counts);
    assert_eq!(
        header.dialect,
        match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    );

    let target_dir = tempfile::tempdir().unwrap();
    let (_database, target) = empty_store(&backend, target_dir.path()).await;
    let restored = backup::restore(&target, &file.path, &KEY).await.unwrap();
    assert_eq!(restored, counts);
    let (restored_tables, source_tables) = (contents(&target).await, contents(app.store()).await);
    for (index, table) in postroute_store::BACKUP_TABLES.iter().enumerate() {
        if *table != "sessions" {
            assert_eq!(
                restored_tables[index], source_tables[index],
                "{table}: every row, byte for byte"
            );
        }
    }
    // Sessions come back ended: one revoked after the backup must not live again.
    let sessions = &restored_tables
        [postroute_store::BACKUP_TABLES.iter().position(|table| *table == "sessions").unwrap()];
    assert!(sessions.len() > 1, "the sessions table has rows");
    let marker = b"restored_from_backup";
    assert!(
        sessions[1..].iter().all(|row| row.windows(marker.len()).any(|window| window == marker)),
        "every session ended"
    );

    // A database that holds data is not overwritten.
    let refused = backup::restore(&target, &file.path, &KEY).await.unwrap_err();
    assert!(refused.to_string().contains("already holds data"), "{refused}");
}

#[db_test]
// proves S-DATA-1
async fn a_tampered_truncated_or_wrong_key_backup_is_refused_and_writes_nothing(backend: Backend) {
    let app = app_with_data(backend.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = backup::create(app.store(), &KEY, dir.path()).await.unwrap();
    let original = std::fs::read(&file.path).unwrap();
    let target_dir = tempfile::tempdir().unwrap();
    let (_database, target) = empty_store(&backend, target_dir.path()).await;
    let users = || async { target.accounts().find_by_email("owner@example.com").await.unwrap() };

    let mut tampered = original.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x01;
    let tampered_path = dir.path().join("tampered.backup");
    std::fs::write(&tampered_path, &tampered).unwrap();
    assert!(matches!(backup::verify(&tampered_path, &KEY).await, Err(BackupError::Damaged(_))));
    let error = backup::restore(&target, &tampered_path, &KEY).await.unwrap_err();
    assert!(error.to_string().contains("altered"), "{error}");
    assert!(users().await.is_none(), "nothing was restored");

    let truncated_path = dir.path().join("truncated.backup");
    std::fs::write(&truncated_path, &original[..original.len() - 10]).unwrap();
    assert!(matches!(backup::verify(&truncated_path, &KEY).await, Err(BackupError::Damaged(_))));
    assert!(backup::restore(&target, &truncated_path, &KEY).await.is_err());

    let wrong_key = [8u8; 32];
    assert!(matches!(backup::verify(&file.path, &wrong_key).await, Err(BackupError::WrongKey)));
    assert!(matches!(
        backup::restore(&target, &file.path, &wrong_key).await,
        Err(BackupError::WrongKey)
    ));

    // A forged file with the right key id but a made-up chunk fails authentication too.
    let mut forged = original[..25].to_vec();
    forged.extend_from_slice(&[1, 0, 0, 0, 20]);
    forged.extend_from_slice(&[0u8; 20]);
    let forged_path = dir.path().join("forged.backup");
    std::fs::write(&forged_path, &forged).unwrap();
    assert!(matches!(backup::verify(&forged_path, &KEY).await, Err(BackupError::Damaged(_))));
    assert!(backup::restore(&target, &forged_path, &KEY).await.is_err());
    assert!(users().await.is_none());

    // The untouched file still restores.
    backup::restore(&target, &file.path, &KEY).await.unwrap();
    assert!(users().await.is_some());
}

/// The chunks of a backup file: (offset, total length) of each, after the 25-byte header.
fn chunks(file: &[u8]) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut offset = 25;
    while offset < file.len() {
        let length = u32::from_be_bytes(file[offset + 1..offset + 5].try_into().unwrap()) as usize;
        found.push((offset, 5 + length));
        offset += 5 + length;
    }
    found
}

#[db_test]
// proves S-DATA-1
async fn a_backup_of_many_chunks_round_trips_and_its_chunks_cannot_be_reordered(backend: Backend) {
    let app = TestApp::spawn(backend.clone()).await;
    let owner = app.signed_in_user("owner@example.com").await;
    let workspace = app.workspace(&owner, "Long posts").await;
    let channel = app.add_channel_of(&workspace, "facebook", "501").await;
    // Six posts of 63,206 three-byte characters: over a megabyte, so several chunks.
    for _ in 0..6 {
        app.json_as(
            &owner,
            Method::POST,
            &format!("/v1/workspaces/{workspace}/posts"),
            json!({"content": "字".repeat(63_206), "channel_ids": [channel]}),
            201,
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    let (file, counts) = backup::create(app.store(), &KEY, dir.path()).await.unwrap();
    let original = std::fs::read(&file.path).unwrap();
    let pieces = chunks(&original);
    assert!(pieces.len() >= 2, "{} chunks", pieces.len());
    assert_eq!(original[pieces.last().unwrap().0], 1, "the last chunk says so");

    let target_dir = tempfile::tempdir().unwrap();
    let (_database, target) = empty_store(&backend, target_dir.path()).await;
    assert_eq!(backup::restore(&target, &file.path, &KEY).await.unwrap(), counts);
    let posts = postroute_store::BACKUP_TABLES.iter().position(|table| *table == "posts").unwrap();
    assert_eq!(contents(&target).await[posts], contents(app.store()).await[posts]);

    // The first two chunks swapped: each is authentic, but not in that place.
    let ((first, first_len), (second, second_len)) = (pieces[0], pieces[1]);
    let mut swapped = original[..first].to_vec();
    swapped.extend_from_slice(&original[second..second + second_len]);
    swapped.extend_from_slice(&original[first..first + first_len]);
    swapped.extend_from_slice(&original[second + second_len..]);
    let swapped_path = dir.path().join("swapped.backup");
    std::fs::write(&swapped_path, &swapped).unwrap();
    assert!(matches!(backup::verify(&swapped_path, &KEY).await, Err(BackupError::Damaged(_))));
    // A chunk dropped from the middle, and the file cut after a whole chunk.
    let mut dropped = original[..first].to_vec();
    dropped.extend_from_slice(&original[second..]);
    let dropped_path = dir.path().join("dropped.backup");
    std::fs::write(&dropped_path, &dropped).unwrap();
    assert!(matches!(backup::verify(&dropped_path, &KEY).await, Err(BackupError::Damaged(_))));
    let cut_path = dir.path().join("cut.backup");
    std::fs::write(&cut_path, &original[..second]).unwrap();
    assert!(matches!(backup::verify(&cut_path, &KEY).await, Err(BackupError::Damaged(_))));
}

#[db_test]
// proves S-DATA-1
async fn a_restore_that_fails_partway_leaves_the_database_empty(backend: Backend) {
    let app = app_with_data(backend.clone()).await;
    let mut lines = Lines::default();
    app.store()
        .cross_tenant_unscoped()
        .backups()
        .dump(&mut lines, chrono::Utc::now())
        .await
        .unwrap();
    // Every table but the last arrives; the restore has written most rows when it fails.
    let cut = lines.0.len() - 2;
    let partial_lines: Vec<Vec<u8>> = lines.0.iter().take(cut).cloned().collect();
    let mut partial = Replay(partial_lines.into_iter());
    let target_dir = tempfile::tempdir().unwrap();
    let (_database, target) = empty_store(&backend, target_dir.path()).await;
    let error = target
        .cross_tenant_unscoped()
        .backups()
        .restore(&mut partial, chrono::Utc::now())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("ends early"), "{error}");
    assert!(
        target.accounts().find_by_email("owner@example.com").await.unwrap().is_none(),
        "rolled back"
    );
    // The whole dump then restores.
    let mut whole = Replay(lines.0.into_iter());
    target.cross_tenant_unscoped().backups().restore(&mut whole, chrono::Utc::now()).await.unwrap();
    assert!(target.accounts().find_by_email("owner@example.com").await.unwrap().is_some());
}

#[tokio::test]
async fn backups_older_than_the_retention_period_are_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("postroute-20240101T000000Z.backup");
    let recent_name = format!(
        "postroute-{}.backup",
        (chrono::Utc::now() - chrono::Duration::days(29)).format("%Y%m%dT%H%M%SZ")
    );
    let recent = dir.path().join(&recent_name);
    let unrelated = dir.path().join("notes.txt");
    for path in [&old, &recent, &unrelated] {
        std::fs::write(path, b"x").unwrap();
    }
    let listed: Vec<_> =
        backup::list(dir.path()).await.unwrap().into_iter().map(|file| file.path).collect();
    assert_eq!(listed, [old.clone(), recent.clone()], "oldest first, backups only");
    let removed: Vec<_> =
        backup::prune(dir.path(), 30).await.unwrap().into_iter().map(|file| file.path).collect();
    assert_eq!(removed, std::slice::from_ref(&old));
    assert!(!old.exists() && recent.exists() && unrelated.exists());
}
