//! Tenant isolation below the API: row-level security on PostgreSQL, and the schema's rules
//! (one owner, append-only audit log) on both databases.

use std::time::Duration;

use chrono::Utc;
use postroute_domain::{AuditAction, NewAuditEntry, Role, UserId, WorkspaceId};
use postroute_test_support::{Backend, TestDatabase};

use crate::pool::{Db, Scope};
use crate::{Store, StoreOptions};

async fn store_on(backend: &Backend, dir: &std::path::Path) -> (TestDatabase, Store) {
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

async fn user(store: &Store, email: &str) -> UserId {
    let id = UserId::new();
    let mut tx = store.db.begin().await.unwrap();
    on_conn!(tx.conn(), c => sqlx::query(
        "INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, updated_at) \
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

async fn workspace(store: &Store, owner: UserId) -> WorkspaceId {
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

/// Every tenant table (`workspaces` is the tenant itself).
const TENANT_TABLES: [&str; 8] = [
    "workspaces",
    "memberships",
    "invitations",
    "audit_log",
    "channels",
    "oauth_states",
    "pending_connections",
    "media",
];

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
        "INSERT INTO audit_log (workspace_id, id, occurred_at, action) VALUES ($1, $2, now(), 'forged')",
    )
    .bind(b.as_uuid())
    .bind(uuid::Uuid::now_v7())
    .execute(&mut *c)
    .await;
    assert!(foreign.is_err(), "row-level security refuses a foreign row");
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
        "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(role, "postroute_app");
    assert!(!superuser && !bypass);
    let (forced,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM pg_class WHERE relname = ANY($1) AND relrowsecurity AND relforcerowsecurity",
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
            let outcome = on_conn!(tx.conn(), c => sqlx::query(statement).execute(&mut *c).await.map(|done| done.rows_affected()));
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
         FROM pg_constraint c WHERE c.contype = 'f' AND NOT EXISTS ( \
             SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid \
             AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] = c.conkey)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(unindexed.is_empty(), "foreign keys without an index: {unindexed:?}");
}
