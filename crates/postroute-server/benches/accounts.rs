//! Account throughput and latency, printed (never asserted): `cargo bench -p postroute-server
//! --bench accounts`. Runs on SQLite, and on PostgreSQL when POSTROUTE_TEST_POSTGRES_URL is set.
//! Uses the production Argon2 defaults and switches rate limits off (one client address would
//! otherwise trip them at once).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails by panicking")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use postroute_app::auth::PasswordHasher;
use postroute_app::config::Argon2Config;
use postroute_domain::Password;
use postroute_test_support::load::{http1_client, ms, percentile};
use postroute_test_support::{Backend, PASSWORD, TestApp};
use serde_json::{Value, json};

const CONNECTIONS: usize = 64;
const RUN: Duration = Duration::from_secs(5);

fn client(app: &TestApp) -> reqwest::Client {
    http1_client(app, CONNECTIONS)
}

/// Runs `CONNECTIONS` loops of `request` for `RUN`; returns (requests per second, latencies).
async fn load<F, Fut>(request: F) -> (f64, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let run = postroute_test_support::load::load(CONNECTIONS, RUN, request).await;
    (run.per_second, run.latencies)
}

/// Probes `/healthz` every 10 ms for `duration`; returns sorted latencies.
async fn probe_health(
    client: reqwest::Client,
    url: String,
    duration: Duration,
    running: Arc<AtomicBool>,
) -> Vec<Duration> {
    let started = Instant::now();
    let mut latencies = Vec::new();
    while started.elapsed() < duration && running.load(Ordering::Relaxed) {
        let sent = Instant::now();
        assert!(client.get(&url).send().await.unwrap().status().is_success());
        latencies.push(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    latencies.sort();
    latencies
}

async fn bench(backend: Backend) {
    println!("\n== {} ==", backend.name());
    let app = TestApp::builder(backend)
        .configure(|config| {
            config.auth.argon2 = Argon2Config::default();
            config.rate_limits.enabled = false;
            config.database.max_connections = 32;
            config.log.level = "error".to_owned();
        })
        .spawn()
        .await;
    let http = client(&app);
    let user = app.signed_in_user("bench@example.com").await;
    let login_url = app.url("/v1/auth/login");
    let login_body = json!({"email": user.email, "password": PASSWORD});

    // Logins per second against the machine's ceiling.
    let (logins_per_sec, login_latencies) = {
        let (http, url, body) = (http.clone(), login_url.clone(), login_body.clone());
        load(move |_| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            async move { http.post(url).json(&body).send().await.unwrap().status() == 200 }
        })
        .await
    };
    println!(
        "logins:            {logins_per_sec:8.1}/s   p50 {}  p99 {}",
        ms(percentile(&login_latencies, 0.5)),
        ms(percentile(&login_latencies, 0.99))
    );

    // Refreshes per second: each connection rotates its own session's token.
    let sessions: Vec<String> = {
        let mut tokens = Vec::new();
        for _ in 0..CONNECTIONS {
            let response: Value =
                http.post(&login_url).json(&login_body).send().await.unwrap().json().await.unwrap();
            tokens.push(response["refresh_token"].as_str().unwrap().to_owned());
        }
        tokens
    };
    let chains: Arc<Vec<tokio::sync::Mutex<String>>> =
        Arc::new(sessions.into_iter().map(tokio::sync::Mutex::new).collect());
    let (refreshes_per_sec, refresh_latencies) = {
        let (http, url, chains) = (http.clone(), app.url("/v1/auth/refresh"), chains.clone());
        load(move |worker| {
            let (http, url, chains) = (http.clone(), url.clone(), chains.clone());
            async move {
                let mut token = chains[worker].lock().await;
                let response =
                    http.post(url).json(&json!({"refresh_token": *token})).send().await.unwrap();
                if response.status() != 200 {
                    return false;
                }
                let body: Value = response.json().await.unwrap();
                *token = body["refresh_token"].as_str().unwrap().to_owned();
                true
            }
        })
        .await
    };
    println!(
        "refreshes:         {refreshes_per_sec:8.1}/s   p50 {}  p99 {}",
        ms(percentile(&refresh_latencies, 0.5)),
        ms(percentile(&refresh_latencies, 0.99))
    );

    // Authenticated GET /v1/me: JWT check plus the live-session lookup.
    let access = app.login(&user.email, PASSWORD).await.access_token;
    let (me_per_sec, me_latencies) = {
        let (http, url) = (http.clone(), app.url("/v1/me"));
        load(move |_| {
            let (http, url, access) = (http.clone(), url.clone(), access.clone());
            async move { http.get(url).bearer_auth(access).send().await.unwrap().status() == 200 }
        })
        .await
    };
    println!(
        "GET /v1/me:        {me_per_sec:8.1}/s   p50 {}  p99 {}  ({CONNECTIONS} connections)",
        ms(percentile(&me_latencies, 0.5)),
        ms(percentile(&me_latencies, 0.99))
    );

    // /healthz while idle, then during a login storm.
    let health_url = app.url("/healthz");
    let idle = probe_health(
        client(&app),
        health_url.clone(),
        Duration::from_secs(3),
        Arc::new(AtomicBool::new(true)),
    )
    .await;
    let running = Arc::new(AtomicBool::new(true));
    let prober = tokio::spawn(probe_health(
        client(&app),
        health_url,
        Duration::from_secs(60),
        running.clone(),
    ));
    {
        let (http, url, body) = (http.clone(), login_url.clone(), login_body.clone());
        load(move |_| {
            let (http, url, body) = (http.clone(), url.clone(), body.clone());
            async move { http.post(url).json(&body).send().await.unwrap().status() == 200 }
        })
        .await;
    }
    running.store(false, Ordering::Relaxed);
    let storm = prober.await.unwrap();
    println!(
        "GET /healthz p99:  idle {}   during login storm {}",
        ms(percentile(&idle, 0.99)),
        ms(percentile(&storm, 0.99))
    );

    // Login failure latency: unknown email vs wrong password (S-AUTH-6 says comparable).
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    for _ in 0..30 {
        for (email, password, into) in [
            ("nobody@example.com", PASSWORD, &mut unknown),
            (user.email.as_str(), "wrong password!!", &mut wrong),
        ] {
            let sent = Instant::now();
            let status = http
                .post(&login_url)
                .json(&json!({"email": email, "password": password}))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 401);
            into.push(sent.elapsed());
        }
    }
    unknown.sort();
    wrong.sort();
    println!(
        "failed login p50:  unknown email {}   wrong password {}",
        ms(percentile(&unknown, 0.5)),
        ms(percentile(&wrong, 0.5))
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    let hasher = PasswordHasher::new(&Argon2Config::default()).unwrap();
    let password = Password::parse(PASSWORD).unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        hasher.hash(&password).await.unwrap();
    }
    let single = started.elapsed() / 5;
    println!(
        "Argon2id m=64 MiB t=3 p=1: one hash {}; ceiling {} cores / {} = {:.1} logins/s",
        ms(single),
        cores,
        ms(single),
        cores as f64 / single.as_secs_f64()
    );

    bench(Backend::Sqlite).await;
    match Backend::postgres_from_env() {
        Some(postgres) => bench(postgres).await,
        None => println!("\n== postgres == skipped: set POSTROUTE_TEST_POSTGRES_URL"),
    }
}
