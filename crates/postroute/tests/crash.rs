//! Exactly once when a worker process dies (issue 13, point 10): `postroute worker` processes
//! publish beside a server that runs none, one is killed with SIGKILL at a moment the test
//! picks, and a fresh one takes over once the lease runs out. Whatever the moment, the post is
//! on the fake X once, and the target says so.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use postroute_test_support::{Backend, TestApp, TestUser, WorkerProcess, db_test};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

/// A `postroute worker` process beside `app`, this crate's binary.
fn worker(app: &TestApp) -> WorkerProcess {
    WorkerProcess::start(app, env!("CARGO_BIN_EXE_postroute"))
}

/// A server that publishes nothing itself, with a lease of the shortest allowed length and
/// reconciliation that looks twice, a second apart.
async fn app_without_a_worker(backend: Backend) -> TestApp {
    TestApp::builder(backend)
        .configure(|config| {
            config.worker.run_in_serve = false;
            config.worker.publish_lease_secs = 60;
            config.worker.reconcile_looks_secs = vec![1, 1];
        })
        .spawn()
        .await
}

/// A signed-up owner (the worker process delivers the confirmation), a workspace and an X
/// channel.
async fn connected(app: &TestApp) -> (TestUser, String, String) {
    let owner = app.signed_in_user("owner@example.com").await;
    let workspace = app.workspace(&owner, "Team").await;
    let channel = app.connect_x(&owner, &workspace).await;
    (owner, workspace, channel)
}

async fn schedule_now(app: &TestApp, owner: &TestUser, workspace: &str, body: Value) -> String {
    let posts = format!("/v1/workspaces/{workspace}/posts");
    let post = app.json_as(owner, Method::POST, &posts, body, 201).await;
    let path = format!("{posts}/{}", post["id"].as_str().unwrap());
    let at =
        (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let schedule = json!({ "scheduled_at": at });
    app.json_as(owner, Method::POST, &format!("{path}/schedule"), schedule, 200).await;
    path
}

/// Waits up to `secs` for `done`.
async fn within<F: std::future::Future<Output = bool>>(
    secs: u64,
    what: &str,
    done: impl Fn() -> F,
) {
    for _ in 0..secs * 10 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within {secs} s: {what}");
}

async fn intents(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM publish_attempts WHERE phase = 'sending'").await
}

async fn post_of(app: &TestApp, owner: &TestUser, path: &str) -> Value {
    app.json_as(owner, Method::GET, path, Value::Null, 200).await
}

// The lease is a minute: a takeover comes within about that, and the test waits up to two.
const TAKEOVER_SECS: u64 = 120;

#[db_test]
async fn a_worker_killed_before_x_answers_leaves_one_post(backend: Backend) {
    let app = app_without_a_worker(backend).await;
    let first = worker(&app);
    let (owner, workspace, channel) = connected(&app).await;
    // X takes its time: the worker is killed while the call is in flight.
    app.fake_x().set_latency(Duration::from_secs(20));
    let body = json!({ "content": "Killed mid-call", "channel_ids": [channel] });
    let post = schedule_now(&app, &owner, &workspace, body).await;
    within(30, "the intent is committed", || async { intents(&app).await == 1 }).await;
    first.kill();
    app.fake_x().set_latency(Duration::ZERO);

    let _second = worker(&app);
    within(TAKEOVER_SECS, "the post is published", || async {
        post_of(&app, &owner, &post).await["status"] == "published"
    })
    .await;
    let tweets = app.fake_x().published();
    assert_eq!(tweets.len(), 1, "exactly once: {tweets:?}");
    let settled = post_of(&app, &owner, &post).await;
    assert_eq!(settled["targets"][0]["platform_post_id"], tweets[0].id.as_str(), "{settled}");
    // The dead worker's intent never got an answer; the takeover went through reconciliation.
    let reconciled =
        app.count("SELECT COUNT(*) FROM publish_attempts WHERE phase = 'reconciled'").await;
    assert!(reconciled >= 1, "reconciled before anything was sent again");
}

/// Holds the database's write lock (SQLite) or every target's row lock (PostgreSQL) until
/// dropped: the worker's record of X's answer waits behind it, and dies with it uncommitted.
enum Held {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

async fn hold_target_writes(app: &TestApp) -> Held {
    let url = app.config.database.url.clone().unwrap();
    match app.backend {
        Backend::Sqlite => {
            let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE").execute(&mut connection).await.unwrap();
            Held::Sqlite(connection)
        }
        Backend::Postgres { .. } => {
            let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut connection).await.unwrap();
            sqlx::query("SELECT 1 FROM post_targets FOR UPDATE")
                .execute(&mut connection)
                .await
                .unwrap();
            Held::Postgres(connection)
        }
    }
}

impl Held {
    async fn release(self) {
        match self {
            Self::Sqlite(mut connection) => {
                sqlx::query("ROLLBACK").execute(&mut connection).await.unwrap();
            }
            Self::Postgres(mut connection) => {
                sqlx::query("ROLLBACK").execute(&mut connection).await.unwrap();
            }
        }
    }
}

#[db_test]
async fn a_worker_killed_after_x_answered_but_before_its_commit_leaves_one_post(backend: Backend) {
    let app = app_without_a_worker(backend).await;
    let first = worker(&app);
    let (owner, workspace, channel) = connected(&app).await;
    app.fake_x().set_latency(Duration::from_secs(2));
    let body = json!({ "content": "Answered, never recorded", "channel_ids": [channel] });
    let post = schedule_now(&app, &owner, &workspace, body).await;
    within(30, "the intent is committed", || async { intents(&app).await == 1 }).await;
    // While X works on it, the test takes the lock the worker's record of the answer needs.
    let held = hold_target_writes(&app).await;
    within(30, "X created the post", || async { app.fake_x().published().len() == 1 }).await;
    // X has answered; the worker waits for the lock to write it down.
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.kill();
    held.release().await;
    app.fake_x().set_latency(Duration::ZERO);
    let answered =
        app.count("SELECT COUNT(*) FROM publish_attempts WHERE phase = 'answered'").await;
    assert_eq!(answered, 0, "the answer died with the worker's transaction");

    let _second = worker(&app);
    within(TAKEOVER_SECS, "the post is published", || async {
        post_of(&app, &owner, &post).await["status"] == "published"
    })
    .await;
    let tweets = app.fake_x().published();
    assert_eq!(tweets.len(), 1, "found on X, not sent again: {tweets:?}");
    let settled = post_of(&app, &owner, &post).await;
    assert_eq!(settled["targets"][0]["platform_post_id"], tweets[0].id.as_str(), "{settled}");
    assert_eq!(settled["targets"][0]["attempts"], 1, "{settled}");
}

#[db_test]
async fn a_thread_whose_worker_was_killed_between_parts_resumes_without_a_duplicate(
    backend: Backend,
) {
    let app = app_without_a_worker(backend).await;
    let first = worker(&app);
    let (owner, workspace, channel) = connected(&app).await;
    app.fake_x().set_latency(Duration::from_secs(3));
    let body = json!({
        "content": "Thread 1/3",
        "channel_ids": [channel],
        "variants": { "x": { "thread": ["Thread 2/3", "Thread 3/3"] } },
    });
    let post = schedule_now(&app, &owner, &workspace, body).await;
    // The first part is out and recorded; the second is in flight.
    within(30, "the second part's intent", || async { intents(&app).await == 2 }).await;
    first.kill();
    app.fake_x().set_latency(Duration::ZERO);

    let _second = worker(&app);
    within(TAKEOVER_SECS, "the thread is published", || async {
        post_of(&app, &owner, &post).await["status"] == "published"
    })
    .await;
    let tweets = app.fake_x().published();
    let texts: Vec<&str> = tweets.iter().map(|tweet| tweet.text.as_deref().unwrap()).collect();
    assert_eq!(texts, ["Thread 1/3", "Thread 2/3", "Thread 3/3"], "no part twice");
    assert_eq!(tweets[1].reply_to.as_deref(), Some(tweets[0].id.as_str()));
    assert_eq!(tweets[2].reply_to.as_deref(), Some(tweets[1].id.as_str()));
    let settled = post_of(&app, &owner, &post).await;
    assert_eq!(settled["targets"][0]["platform_post_id"], tweets[0].id.as_str(), "{settled}");
}
