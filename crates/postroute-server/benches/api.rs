//! Read throughput and latency at 64 connections, printed (never asserted): `cargo bench -p
//! postroute-server --bench api`. Three requests, each for five seconds: `GET /healthz` (no
//! database), `GET /v1/me` (the JWT, then the live session and the account from the database:
//! S-AUTH-4) and a page of 50 posts. SQLite always; PostgreSQL beside it when
//! POSTROUTE_TEST_POSTGRES_URL is set. Rate limits are off: one client address would trip them.
//!
//! Words after `--` narrow the run, for profiling one figure: `sqlite` or `postgres` picks the
//! database, any other word the requests whose label contains it (`-- postgres me`).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails by panicking")]

use std::time::Duration;

use postroute_test_support::load::{LoadRun, http1_client, load, ms};
use postroute_test_support::{Backend, TestApp};
use reqwest::Method;
use serde_json::json;

const CONNECTIONS: usize = 64;
const RUN: Duration = Duration::from_secs(5);
const POSTS: usize = 50;

struct Figures {
    backend: &'static str,
    runs: Vec<(&'static str, LoadRun)>,
}

/// The words after `--`: databases to run, and words the labels to run contain.
struct Only {
    backends: Vec<String>,
    labels: Vec<String>,
}

impl Only {
    fn from_args() -> Self {
        let words: Vec<String> =
            std::env::args().skip(1).filter(|word| !word.starts_with("--")).collect();
        let (backends, labels) =
            words.into_iter().partition(|word| word == "sqlite" || word == "postgres");
        Self { backends, labels }
    }

    fn backend(&self, name: &str) -> bool {
        self.backends.is_empty() || self.backends.iter().any(|wanted| wanted == name)
    }

    fn label(&self, label: &str) -> bool {
        let label = label.to_lowercase();
        self.labels.is_empty() || self.labels.iter().any(|word| label.contains(word.as_str()))
    }
}

async fn bench(backend: Backend, only: &Only) -> Figures {
    let name = backend.name();
    let app = TestApp::builder(backend)
        .configure(|config| {
            config.rate_limits.enabled = false;
            config.database.max_connections = 32;
            config.log.level = "error".to_owned();
        })
        .spawn()
        .await;
    let owner = app.signed_in_user("bench@example.com").await;
    let workspace = app.workspace(&owner, "Bench").await;
    let channel = app.add_channel(&workspace, "bench").await;
    let posts = format!("/v1/workspaces/{workspace}/posts");
    for n in 0..POSTS {
        let content = format!("Post number {n}, with a little text to carry");
        let body = json!({"content": content, "channel_ids": [channel]});
        app.json_as(&owner, Method::POST, &posts, body, 201).await;
    }
    let http = http1_client(&app, CONNECTIONS);
    let token = owner.access_token.clone();

    let mut runs = Vec::new();
    for (label, path, signed_in) in [
        ("GET /healthz", "/healthz".to_owned(), false),
        ("GET /v1/me", "/v1/me".to_owned(), true),
        ("GET 50 posts", format!("{posts}?limit={POSTS}"), true),
    ] {
        if !only.label(label) {
            continue;
        }
        let (http, url, token) = (http.clone(), app.url(&path), token.clone());
        let run = load(CONNECTIONS, RUN, move |_| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let mut request = http.get(url);
                if signed_in {
                    request = request.bearer_auth(token);
                }
                request.send().await.is_ok_and(|response| response.status() == 200)
            }
        })
        .await;
        runs.push((label, run));
    }
    Figures { backend: name, runs }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    println!("cores: {cores}; {CONNECTIONS} HTTP/1.1 connections, {} s per figure", RUN.as_secs());
    let only = Only::from_args();
    let mut all = Vec::new();
    if only.backend("sqlite") {
        all.push(bench(Backend::Sqlite, &only).await);
    }
    if only.backend("postgres") {
        match Backend::postgres_from_env() {
            Some(postgres) => all.push(bench(postgres, &only).await),
            None => println!("postgres skipped: set POSTROUTE_TEST_POSTGRES_URL"),
        }
    }
    let Some(first) = all.first() else { return };
    println!();
    print!("{:<14}", "");
    for figures in &all {
        print!("  {:<36}", figures.backend);
    }
    println!();
    for row in 0..first.runs.len() {
        print!("{:<14}", first.runs[row].0);
        for figures in &all {
            let run = &figures.runs[row].1;
            let cell = format!(
                "{:8.0}/s p50 {} p99 {}",
                run.per_second,
                ms(run.percentile(0.5)),
                ms(run.percentile(0.99))
            );
            print!("  {cell:<36}");
        }
        println!();
    }
}
