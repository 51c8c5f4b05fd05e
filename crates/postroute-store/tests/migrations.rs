//! Migrations and the system event log on both databases.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use postroute_domain::{NewSystemEvent, Severity, SystemEventKind, UserId};
use postroute_store::{Dialect, Store, StoreOptions};
use postroute_test_db::{Backend, TestDatabase, db_test};

fn options(database: &TestDatabase) -> StoreOptions {
    StoreOptions {
        url: database.url().to_owned(),
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
        app_role: Some("postroute_app".to_owned()),
    }
}

/// Migrates, then connects as the application does.
async fn store_for(database: &TestDatabase) -> Store {
    Store::migrate(&options(database)).await.expect("migrates");
    Store::connect(&options(database)).await.expect("connects")
}

#[db_test]
async fn migrations_apply_once_and_are_idempotent(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path()).await;
    Store::migrate(&options(&database)).await.expect("first run applies");
    Store::migrate(&options(&database)).await.expect("second run is a no-op");
    let store = Store::connect(&options(&database)).await.unwrap();
    let expected = match backend {
        Backend::Sqlite => Dialect::Sqlite,
        Backend::Postgres { .. } => Dialect::Postgres,
    };
    assert_eq!(store.dialect(), expected);
    store.check_ready().await.expect("ready");
    store.close().await;
}

#[db_test]
async fn instances_starting_together_migrate_safely(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path()).await;
    let options = options(&database);
    let results = futures_util::future::join_all((0..4).map(|_| Store::migrate(&options))).await;
    for result in results {
        result.expect("every instance starts");
    }
    let store = Store::connect(&options).await.unwrap();
    let events = store.system_events().recent(10).await.expect("schema is in place");
    assert!(events.is_empty());
}

#[db_test]
async fn system_events_round_trip_with_their_classification(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path()).await;
    let store = store_for(&database).await;

    let at = Utc::now().trunc_subsecs(6);
    let event = NewSystemEvent::new(SystemEventKind::RefreshTokenReused)
        .ip("2001:db8::7".parse().unwrap())
        .details(serde_json::json!({"sessions_revoked": 3}));
    let id = store.system_events().record(&event, at).await.expect("recorded");
    let ordinary = NewSystemEvent::new(SystemEventKind::RateLimited);
    store.system_events().record(&ordinary, at + chrono::Duration::seconds(1)).await.unwrap();

    let events = store.system_events().recent(10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_type, "rate_limited");
    assert!(!events[0].security);
    let reuse = &events[1];
    assert_eq!(reuse.id, id);
    assert_eq!(reuse.occurred_at, at);
    assert_eq!(reuse.event_type, "refresh_token_reused");
    assert_eq!(reuse.severity, Severity::Critical);
    assert!(reuse.security);
    assert_eq!(reuse.ip, Some("2001:db8::7".parse().unwrap()));
    assert_eq!(reuse.details["sessions_revoked"], 3);
    assert_eq!(reuse.actor, None::<UserId>);
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&Backend::Sqlite, dir.path()).await;
    let store = store_for(&database).await;
    // A session for a user that does not exist violates a foreign key.
    let orphan = store
        .sessions()
        .start(&postroute_store::NewSession {
            id: postroute_domain::SessionId::new(),
            user_id: UserId::new(),
            user_agent: None,
            ip: None,
            created_at: Utc::now(),
            expires_at: Utc::now(),
            refresh_token_hash: &[0u8; 32],
        })
        .await;
    assert!(orphan.is_err(), "foreign keys are enforced");
    assert!(dir.path().join("postroute.db-wal").exists(), "write-ahead log in use");
}

#[db_test]
async fn backups_cover_every_table_of_the_schema(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path()).await;
    let store = store_for(&database).await;
    let sql = match store.dialect() {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations'"
        }
        Dialect::Postgres => {
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = \
             current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'"
        }
    };
    let url = database.url().to_owned();
    let mut tables: Vec<String> = match store.dialect() {
        Dialect::Sqlite => {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
        }
        Dialect::Postgres => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
        }
    };
    tables.sort();
    let mut listed: Vec<String> =
        postroute_store::BACKUP_TABLES.iter().map(|table| (*table).to_owned()).collect();
    listed.sort();
    assert_eq!(tables, listed, "BACKUP_TABLES must list every table");
}
