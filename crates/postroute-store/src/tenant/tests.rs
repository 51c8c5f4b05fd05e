//! Tenant isolation below the API: row-level security on PostgreSQL, and the schema's rules
//! (one owner, append-only audit log) on both databases.

use std::time::Duration;

use chrono::Utc;
use postroute_domain::{AuditAction, NewAuditEntry, Role, UserId, WorkspaceId};
use postroute_test_db::{Backend, TestDatabase};

use crate::pool::{Db, Scope};
use crate::{Store, StoreOptions};

pub(crate) async fn store_on(backend: &Backend, dir: &std::path::Path) -> (TestDatabase, Store) {
    let database = TestDatabase::create(backend, dir).await;
    let options = StoreOptions {
        url: database.url().to_owned(),
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
        app_role: Some("postroute_app".to_owned()),
    };
    Store::migrate(&options).await.unwrap();
    (database, Store::connect(&options).await.unwrap())
}

pub(crate) async fn user(store: &Store, email: &str) -> UserId {
    let id = UserId::new();
    let mut tx = store.db.begin().await.unwrap();
    on_conn!(tx.conn(), |c| sqlx::query(
        "INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, \
         updated_at) \
         VALUES ($1, $2, $2, 'x', 'x', $3, $3)",
    )
    .bind(id.as_uuid())
    .bind(email)
    .bind(Utc::now())
    .execute(&mut *c)
    .await
    .map(drop))
    .unwrap();
    tx.commit().await.unwrap();
    id
}

pub(crate) async fn workspace(store: &Store, owner: UserId) -> WorkspaceId {
    let id = WorkspaceId::new();
    let audit =
        NewAuditEntry::new(AuditAction::WorkspaceCreated, owner, "127.0.0.1".parse().unwrap());
    store
        .create_workspace(
            &crate::NewWorkspace { id, name: "W", timezone: "UTC", owner, created_at: Utc::now() },
            &audit,
        )
        .await
        .unwrap();
    id
}

/// Two workspaces, each with an owner and an audit entry.
async fn two_tenants(store: &Store) -> (WorkspaceId, WorkspaceId) {
    let (alice, bob) =
        (user(store, "alice@example.com").await, user(store, "bob@example.com").await);
    (workspace(store, alice).await, workspace(store, bob).await)
}

use super::TENANT_TABLES;

fn postgres() -> Option<Backend> {
    Backend::postgres_from_env()
}

// proves S-TENANT-2
#[tokio::test]
async fn an_unscoped_query_inside_a_tenant_transaction_sees_no_foreign_rows() {
    let Some(backend) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let (a, b) = two_tenants(&store).await;

    let mut tx = store.db.begin_in(Scope::Workspace(a)).await.unwrap();
    let Some(crate::pool::Conn::Postgres(c)) = Some(tx.conn()) else { unreachable!() };
    // Deliberately no WHERE clause: the policy is the only filter.
    let memberships: Vec<(uuid::Uuid,)> =
        sqlx::query_as("SELECT workspace_id FROM memberships").fetch_all(&mut *c).await.unwrap();
    let workspaces: Vec<(uuid::Uuid,)> =
        sqlx::query_as("SELECT id FROM workspaces").fetch_all(&mut *c).await.unwrap();
    let audit: Vec<(uuid::Uuid,)> =
        sqlx::query_as("SELECT workspace_id FROM audit_log").fetch_all(&mut *c).await.unwrap();
    assert_eq!(memberships, vec![(a.as_uuid(),)]);
    assert_eq!(workspaces, vec![(a.as_uuid(),)]);
    assert_eq!(audit, vec![(a.as_uuid(),)]);

    // Writing into another tenant fails the policy's check.
    let foreign = sqlx::query(
        "INSERT INTO audit_log (workspace_id, id, occurred_at, action) \
         VALUES ($1, $2, now(), 'forged')",
    )
    .bind(b.as_uuid())
    .bind(uuid::Uuid::now_v7())
    .execute(&mut *c)
    .await;
    assert!(foreign.is_err(), "row-level security refuses a foreign row");
    drop(tx);

    // A read transaction takes its scope in the same message as its BEGIN: the other tenant
    // sees its own rows and nothing of the first.
    let mut tx = store.db.begin_read_in(Scope::Workspace(b)).await.unwrap();
    let Some(crate::pool::Conn::Postgres(c)) = Some(tx.conn()) else { unreachable!() };
    let workspaces: Vec<(uuid::Uuid,)> =
        sqlx::query_as("SELECT id FROM workspaces").fetch_all(&mut *c).await.unwrap();
    assert_eq!(workspaces, vec![(b.as_uuid(),)]);
    drop(tx);

    // Outside any scope, the application role sees no tenant rows at all.
    let Db::Postgres(pool) = &store.db else { unreachable!() };
    let (visible,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM memberships").fetch_one(pool).await.unwrap();
    assert_eq!(visible, 0);
}

// proves S-TENANT-2
#[tokio::test]
async fn the_application_role_cannot_bypass_row_level_security() {
    let Some(backend) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (_database, store) = store_on(&backend, dir.path()).await;
    let Db::Postgres(pool) = &store.db else { unreachable!() };
    let (role, superuser, bypass): (String, bool, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper, rolbypassrls \
         FROM pg_roles \
         WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(role, "postroute_app");
    assert!(!superuser && !bypass);
    let (forced,): (i64,) = sqlx::query_as(
        "SELECT count(*) \
         FROM pg_class \
         WHERE relname = ANY($1) AND relrowsecurity AND relforcerowsecurity",
    )
    .bind(&TENANT_TABLES[..])
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(forced, TENANT_TABLES.len() as i64, "RLS enabled and forced on every tenant table");
    // Every table with a workspace_id column is in the list: a new tenant table cannot be missed.
    let (unlisted,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' \
         AND column_name = 'workspace_id' AND NOT (table_name = ANY($1))",
    )
    .bind(&TENANT_TABLES[..])
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(unlisted, 0, "a table with workspace_id that row-level security does not cover");
}

// proves S-LOG-1
#[tokio::test]
async fn the_audit_log_is_append_only_for_the_application() {
    for backend in [Some(Backend::Sqlite), postgres()].into_iter().flatten() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, store) = store_on(&backend, dir.path()).await;
        let (a, _) = two_tenants(&store).await;
        for statement in ["UPDATE audit_log SET action = 'rewritten'", "DELETE FROM audit_log"] {
            let mut tx = store.db.begin_in(Scope::Workspace(a)).await.unwrap();
            let outcome = on_conn!(tx.conn(), |c| sqlx::query(statement)
                .execute(&mut *c)
                .await
                .map(|done| done.rows_affected()));
            assert!(outcome.is_err(), "{} refused on {}: {outcome:?}", statement, backend.name());
        }
    }
}

// proves S-TENANT-4
#[tokio::test]
async fn the_schema_refuses_a_second_owner() {
    for backend in [Some(Backend::Sqlite), postgres()].into_iter().flatten() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, store) = store_on(&backend, dir.path()).await;
        let (a, _) = two_tenants(&store).await;
        let intruder = user(&store, "carol@example.com").await;
        let mut tx = store.db.begin_in(Scope::Workspace(a)).await.unwrap();
        let second_owner =
            super::members::insert_member(tx.conn(), a, intruder, Role::Owner, Utc::now()).await;
        assert!(
            matches!(second_owner, Err(crate::StoreError::Conflict { .. })),
            "{}: {second_owner:?}",
            backend.name()
        );
    }
}

#[tokio::test]
async fn every_foreign_key_has_an_index() {
    let Some(backend) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path()).await;
    let options = StoreOptions {
        url: database.url().to_owned(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        app_role: None,
    };
    Store::migrate(&options).await.unwrap();
    let store = Store::connect(&options).await.unwrap();
    let Db::Postgres(pool) = &store.db else { unreachable!() };
    // A foreign key is covered when some index starts with its columns.
    let unindexed: Vec<(String,)> = sqlx::query_as(
        "SELECT c.conrelid::regclass::text || '(' || array_to_string(c.conkey, ',') || ')' \
         FROM pg_constraint c \
         WHERE c.contype = 'f' AND NOT EXISTS ( SELECT 1 \
         FROM pg_index i \
         WHERE i.indrelid = c.conrelid AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - \
         1] = c.conkey)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(unindexed.is_empty(), "foreign keys without an index: {unindexed:?}");
}

/// A media row in `workspace`, written as the application would.
async fn media_in(store: &Store, workspace: WorkspaceId) -> postroute_domain::MediaId {
    let id = postroute_domain::MediaId::new();
    let media = crate::Media {
        id,
        kind: postroute_domain::MediaKind::Image,
        mime: "image/jpeg".to_owned(),
        size_bytes: 10,
        width: Some(1),
        height: Some(1),
        duration_ms: None,
        sha256: "none".to_owned(),
        object_key: format!("{workspace}/{id}.jpg"),
        uploaded_by: None,
        created_at: Utc::now(),
    };
    let uploader = user(store, &format!("uploader-{id}@example.com")).await;
    let audit =
        NewAuditEntry::new(AuditAction::MediaUploaded, uploader, "127.0.0.1".parse().unwrap());
    store.tenant(workspace).insert_media(&media, u64::MAX, &audit).await.unwrap();
    id
}

fn draft(media: Vec<postroute_domain::MediaId>) -> crate::Post {
    let now = Utc::now();
    crate::Post {
        id: postroute_domain::PostId::new(),
        status: postroute_domain::PostStatus::Draft,
        content: "hello".to_owned(),
        variants: postroute_domain::Variants::default(),
        scheduled_at: None,
        author_id: None,
        edited_by: None,
        submitted_by: None,
        rejection_reason: None,
        status_reason: None,
        reviewed_by: None,
        reviewed_at: None,
        approved_at: None,
        version: 1,
        created_at: now,
        updated_at: now,
        media_ids: media,
        targets: Vec::new(),
    }
}

// proves S-TENANT-2
#[tokio::test]
async fn the_schema_keeps_a_post_from_pointing_at_another_workspaces_media() {
    for backend in [Some(Backend::Sqlite), postgres()].into_iter().flatten() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, store) = store_on(&backend, dir.path()).await;
        let (a, b) = two_tenants(&store).await;
        let foreign = media_in(&store, b).await;

        // Through the repository: the reference is reported missing and nothing is written.
        let post = draft(vec![foreign]);
        let outcome = store.tenant(a).insert_post(&post).await.unwrap();
        assert_eq!(outcome, crate::PostSaved::Missing { channels: vec![], media: vec![foreign] });

        // Past the repository, straight into the table: the composite key refuses it.
        let saved = store.tenant(a).insert_post(&draft(vec![])).await.unwrap();
        let crate::PostSaved::Saved(own) = saved else { panic!("{saved:?}") };
        let mut tx = store.db.begin_in(Scope::Workspace(a)).await.unwrap();
        let forged = on_conn!(tx.conn(), |c| {
            sqlx::query(
                "INSERT INTO post_media (workspace_id, post_id, position, media_id) \
                 VALUES ($1, $2, 0, $3)",
            )
            .bind(a.as_uuid())
            .bind(own.id.as_uuid())
            .bind(foreign.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected())
        });
        let is_foreign_key_violation = |outcome: &Result<u64, sqlx::Error>| match outcome {
            Err(sqlx::Error::Database(error)) => error.is_foreign_key_violation(),
            _ => false,
        };
        assert!(
            is_foreign_key_violation(&forged),
            "{}: a post holding another workspace's file: {forged:?}",
            backend.name()
        );
        drop(tx);

        // Nor can it go to another workspace's channel.
        let foreign_channel = uuid::Uuid::now_v7();
        let mut tx = store.db.begin_in(Scope::Workspace(b)).await.unwrap();
        on_conn!(tx.conn(), |c| sqlx::query(
            "INSERT INTO channels (workspace_id, id, provider, external_id, display_name, status, \
             connected_at, updated_at) \
             VALUES ($1, $2, 'x', '1', '@b', 'active', $3, $3)",
        )
        .bind(b.as_uuid())
        .bind(foreign_channel)
        .bind(Utc::now())
        .execute(&mut *c)
        .await
        .map(drop))
        .unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.db.begin_in(Scope::Workspace(a)).await.unwrap();
        let forged = on_conn!(tx.conn(), |c| {
            sqlx::query(
                "INSERT INTO post_targets (workspace_id, post_id, channel_id, position) \
                 VALUES ($1, $2, $3, 0)",
            )
            .bind(a.as_uuid())
            .bind(own.id.as_uuid())
            .bind(foreign_channel)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected())
        });
        assert!(
            is_foreign_key_violation(&forged),
            "{}: a post going to another workspace's channel: {forged:?}",
            backend.name()
        );
    }
}

#[tokio::test]
async fn a_write_based_on_an_old_version_of_a_post_is_refused() {
    for backend in [Some(Backend::Sqlite), postgres()].into_iter().flatten() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, store) = store_on(&backend, dir.path()).await;
        let (a, _) = two_tenants(&store).await;
        let crate::PostSaved::Saved(first) =
            store.tenant(a).insert_post(&draft(vec![])).await.unwrap()
        else {
            panic!("insert failed")
        };
        let edit = crate::Post { content: "first edit".to_owned(), ..(*first).clone() };
        let crate::PostSaved::Saved(edited) = store.tenant(a).save_post(&edit, None).await.unwrap()
        else {
            panic!("first edit refused")
        };
        assert_eq!(edited.version, 2);
        // A second writer who read version 1.
        let late = crate::Post { content: "second edit".to_owned(), ..(*first).clone() };
        assert_eq!(store.tenant(a).save_post(&late, None).await.unwrap(), crate::PostSaved::Stale);
        assert_eq!(store.tenant(a).post(first.id).await.unwrap().unwrap().content, "first edit");
        assert!(!store.tenant(a).delete_post(first.id, 1).await.unwrap(), "a stale delete");
    }
}

#[tokio::test]
async fn a_file_a_pending_post_holds_stays_until_the_post_lets_go() {
    for backend in [Some(Backend::Sqlite), postgres()].into_iter().flatten() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, store) = store_on(&backend, dir.path()).await;
        let (a, _) = two_tenants(&store).await;
        let media = media_in(&store, a).await;
        let tenant = store.tenant(a);
        let crate::PostSaved::Saved(post) = tenant.insert_post(&draft(vec![media])).await.unwrap()
        else {
            panic!("insert failed")
        };
        let audit = NewAuditEntry::new(
            AuditAction::MediaDeleted,
            user(&store, "deleter@example.com").await,
            "127.0.0.1".parse().unwrap(),
        );
        assert_eq!(
            tenant.delete_media(media, Utc::now(), &audit).await.unwrap(),
            crate::MediaRemoval::InUse { posts: 1 }
        );
        assert!(tenant.media_item(media).await.unwrap().is_some());
        assert!(tenant.delete_post(post.id, post.version).await.unwrap());
        assert!(matches!(
            tenant.delete_media(media, Utc::now(), &audit).await.unwrap(),
            crate::MediaRemoval::Deleted(_)
        ));
        assert_eq!(
            tenant.delete_media(media, Utc::now(), &audit).await.unwrap(),
            crate::MediaRemoval::NotFound
        );
    }
}

#[tokio::test]
async fn a_post_is_scheduled_unapproved_only_where_the_workspace_requires_no_approval() {
    for backend in [Some(Backend::Sqlite), postgres()].into_iter().flatten() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, store) = store_on(&backend, dir.path()).await;
        let (a, _) = two_tenants(&store).await;
        let tenant = store.tenant(a);
        let crate::PostSaved::Saved(post) = tenant.insert_post(&draft(vec![])).await.unwrap()
        else {
            panic!("insert failed")
        };
        let owner = user(&store, "settings@example.com").await;
        let audit =
            NewAuditEntry::new(AuditAction::WorkspaceUpdated, owner, "127.0.0.1".parse().unwrap());
        let changes =
            crate::WorkspaceChanges { approval_required: Some(true), ..Default::default() };
        tenant.update_settings(&changes, Utc::now(), &audit).await.unwrap();

        // A request that read the workspace before the change would schedule it unapproved.
        let scheduled =
            crate::Post { status: postroute_domain::PostStatus::Scheduled, ..(*post).clone() };
        assert_eq!(
            tenant.save_post(&scheduled, None).await.unwrap(),
            crate::PostSaved::Stale,
            "{}",
            backend.name()
        );
        let approved = crate::Post { approved_at: Some(Utc::now()), ..scheduled };
        assert!(matches!(
            tenant.save_post(&approved, None).await.unwrap(),
            crate::PostSaved::Saved(_)
        ));
    }
}

/// Waits until `count` of this database's connections are blocked on a lock.
async fn until_blocked(admin: &mut sqlx::PgConnection, count: i64) {
    for _ in 0..200 {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *admin)
        .await
        .unwrap();
        if waiting >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {count} connections ever waited on a lock");
}

// proves S-TENANT-4: erasing an account while ownership is transferred to it leaves exactly one
// owner. The interleaving is forced: the erasure has read what its user owns and is held on a
// lock, the transfer to that user runs, then the erasure finishes.
#[tokio::test]
async fn an_erasure_racing_a_transfer_to_the_erased_user_leaves_one_owner() {
    let Some(backend) = postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (database, store) = store_on(&backend, dir.path()).await;
    let owner = user(&store, "owner@example.com").await;
    let leaving = user(&store, "leaving@example.com").await;
    let team = workspace(&store, owner).await;
    let solo = workspace(&store, leaving).await;
    let mut tx = store.db.begin_in(Scope::Workspace(team)).await.unwrap();
    super::members::insert_member(tx.conn(), team, leaving, Role::Admin, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();

    // The test holds the lock the erasure takes on the workspace the leaving user owns alone.
    let mut holder =
        <sqlx::PgConnection as sqlx::Connection>::connect(database.url()).await.unwrap();
    sqlx::Executor::execute(&mut holder, "BEGIN").await.unwrap();
    sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR UPDATE")
        .bind(solo.as_uuid())
        .execute(&mut holder)
        .await
        .unwrap();

    let erasing = {
        let store = store.clone();
        tokio::spawn(async move {
            let audit = |_| {
                NewAuditEntry::new(
                    AuditAction::WorkspaceDeleted,
                    leaving,
                    "127.0.0.1".parse().unwrap(),
                )
            };
            store.accounts().erase(leaving, Utc::now(), audit).await
        })
    };
    let mut watcher =
        <sqlx::PgConnection as sqlx::Connection>::connect(database.url()).await.unwrap();
    until_blocked(&mut watcher, 1).await;
    let transferring = {
        let store = store.clone();
        tokio::spawn(async move {
            let audit = NewAuditEntry::new(
                AuditAction::OwnershipTransferred,
                owner,
                "127.0.0.1".parse().unwrap(),
            );
            store.tenant(team).transfer_ownership(owner, leaving, Utc::now(), &audit).await
        })
    };
    // Either the transfer waits for the erasure (the fix), or it commits now (the bug).
    let transfer_done = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if transferring.is_finished() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok();
    if !transfer_done {
        until_blocked(&mut watcher, 2).await;
    }
    sqlx::Executor::execute(&mut holder, "COMMIT").await.unwrap();

    let erasure = erasing.await.unwrap().unwrap();
    let transfer = transferring.await.unwrap();
    let (owners,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'",
    )
    .bind(team.as_uuid())
    .fetch_one(&mut watcher)
    .await
    .unwrap();
    assert_eq!(owners, 1, "erasure {erasure:?}, transfer {transfer:?}");
    match erasure {
        crate::Erasure::Erased { .. } => assert!(
            matches!(transfer, Err(super::members::MemberChangeError::NotMember)),
            "the transfer to an erased account must fail: {transfer:?}"
        ),
        crate::Erasure::OwnsTeams(_) => assert!(transfer.is_ok(), "{transfer:?}"),
        crate::Erasure::NoSuchUser => panic!("the account existed"),
    }
}

#[tokio::test]
async fn a_read_does_not_wait_for_a_writer_holding_its_transaction_open() {
    for backend in [Some(Backend::Sqlite), postgres()].into_iter().flatten() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, store) = store_on(&backend, dir.path()).await;
        let (a, _) = two_tenants(&store).await;
        // A writer in the middle of its transaction: on SQLite it holds the write lock.
        let mut writer = store.db.begin_in(Scope::Workspace(a)).await.unwrap();
        crate::dialect::lock_workspace(writer.conn(), a).await.unwrap();
        // Reads go on meanwhile; before they had doors of their own, each began IMMEDIATE and
        // waited out the writer (here: for ever, as the writer waits for the test).
        let read = tokio::time::timeout(Duration::from_secs(2), async {
            (store.tenant(a).workspace().await, store.tenant(a).members().await)
        })
        .await;
        let (workspace, members) =
            read.unwrap_or_else(|_| panic!("{}: a read waited", backend.name()));
        assert_eq!(workspace.unwrap().unwrap().id, a, "{}", backend.name());
        assert_eq!(members.unwrap().len(), 1, "{}", backend.name());
        writer.commit().await.unwrap();
    }
}

#[tokio::test]
async fn a_write_through_the_read_door_is_refused_on_both_databases() {
    for backend in [Some(Backend::Sqlite), postgres()].into_iter().flatten() {
        let dir = tempfile::tempdir().unwrap();
        let (_database, store) = store_on(&backend, dir.path()).await;
        let (a, _) = two_tenants(&store).await;
        let mut reader = store.db.begin_read_in(Scope::Workspace(a)).await.unwrap();
        let written = on_conn!(reader.conn(), |c| sqlx::query(
            "UPDATE workspaces SET name = 'renamed' WHERE id = $1"
        )
        .bind(a.as_uuid())
        .execute(&mut *c)
        .await
        .map(drop));
        assert!(written.is_err(), "{}: a read transaction wrote", backend.name());
        drop(reader);
        let name = store.tenant(a).workspace().await.unwrap().unwrap().name;
        assert_ne!(name, "renamed", "{}", backend.name());
    }
}
