//! The publisher under a burst, printed (never asserted): `cargo bench -p postroute --bench
//! scheduler` (issue 13, point 11). N posts, each to one of M X channels, all due at the same
//! instant T, against the fake X answering every call after L; then the time from T until every
//! target is published, against the floor N·L/C that C calls in flight at once would reach.
//! SQLite with one worker process, then PostgreSQL with one and with two, when
//! POSTROUTE_TEST_POSTGRES_URL is set.
//!
//! Arguments after `--` (each also read from an environment variable; an argument wins):
//!
//! | argument        | variable                               | default                      |
//! |-----------------|----------------------------------------|------------------------------|
//! | `posts=N`       | `POSTROUTE_TEST_SCHEDULER_POSTS`       | 10000                        |
//! | `channels=M`    | `POSTROUTE_TEST_SCHEDULER_CHANNELS`    | 1000                         |
//! | `latency-ms=L`  | `POSTROUTE_TEST_SCHEDULER_LATENCY_MS`  | 100                          |
//! | `concurrency=C` | `POSTROUTE_TEST_SCHEDULER_CONCURRENCY` | `worker.publish_concurrency` |
//!
//! and `sqlite` or `postgres` to run one database only. The variables are `POSTROUTE_TEST_*`,
//! which PostRoute's configuration leaves to the test suite, so they never reach a worker as an
//! unknown key.
//!
//! How it is built, and why:
//! - The publisher runs as real `postroute worker` processes (this crate's binary, which is why
//!   the benchmark lives here: Cargo names it only to this crate's tests and benchmarks). The
//!   benchmark's own process holds the load generator and the fake X, so "the server" in the
//!   figures is the worker processes alone. A `serve` without a worker (`TestApp`) owns the
//!   database and answers the setup's API calls; it is idle while the clock runs.
//! - Setup goes through the API, as people would: one owner, ⌈M/100⌉ Agency workspaces (the
//!   plan's channel limit, read from the domain), M channels connected through the fake X's
//!   OAuth, each as an account of its own, so X's per-user window of 100 posts per 15 minutes
//!   is no limit at N/M = 10 (it is raised when N/M is larger); then N drafts with unique texts
//!   (X refuses a duplicate), then every one scheduled at T. T lies four times the drafts' time
//!   ahead (at least 5 s), so scheduling ends before it; the setup is not timed.
//! - The workers start after the last post is scheduled and before T, so their figures hold
//!   nothing of the setup: CPU is counted from T (utime + stime from `/proc/<pid>/stat` at T and
//!   again when every target has settled, before the worker is stopped); peak RSS is `VmHWM`
//!   from `/proc/<pid>/status` at the end, started again from the resident set at T
//!   (`/proc/<pid>/clear_refs`), so that whatever start-up costs (once an Argon2 hash of
//!   64 MiB) never hides the publisher's. The start-up peak is printed beside it. PostgreSQL's
//!   own processes are not
//!   counted; SQLite's work happens inside the workers.
//! - The workers run the production defaults of `worker.*` (a poll every second, not the test
//!   suite's 20 ms), because the lag a deployment sees includes the poll.
//! - `worker.publish_concurrency` is C per worker (its default unless `concurrency=` says
//!   otherwise); the floor uses C times the workers.
//! - Time to drain is the last target's `published_at` minus T, read from the database, so the
//!   benchmark's own polling (every 100 ms) does not add to it. Lag is each target's
//!   `published_at` minus its post's `scheduled_at`, through the store. Duplicates are extra
//!   copies of a text on the fake X; losses are targets that are not `published`, or whose text
//!   is not on the fake. A configuration that stalls (nothing settles for two minutes, longer
//!   than a lease) is reported with what it left behind.
//!
//! Every configuration prints its table, then one summary. Duplicates or losses are printed
//! loudly and make the benchmark exit with status 1, after all the figures: exactly once is the
//! one property here that is not a matter of speed.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails by panicking")]

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use postroute_app::config::WorkerConfig;
use postroute_domain::{Plan, TargetStatus, WorkspaceId};
use postroute_store::PostFilter;
use postroute_test_support::load::percentile;
use postroute_test_support::{Backend, ProcessUsage, TestApp, TestUser, WorkerProcess};
use reqwest::Method;
use serde_json::json;

/// X's documented window for posting: 100 calls per user per 15 minutes (the fake's default).
const X_POSTS_PER_WINDOW: usize = 100;
/// API calls in flight while setting up: enough to overlap the round trips; more would only
/// queue for SQLite's one writer.
const SETUP_CONCURRENCY: usize = 16;
/// The least time from the first post scheduled to T: scheduling and the workers' start fit
/// in it. A schedule request that comes after T is refused (422) and fails the benchmark.
const MIN_LEAD: Duration = Duration::from_secs(5);
/// A run in which nothing settles for this long has stalled: two leases of a minute.
const STALL: Duration = Duration::from_secs(120);
/// Posts read from the store per page.
const PAGE: u32 = 500;

/// What to run, from the arguments after `--` and the environment.
#[derive(Debug)]
struct Settings {
    posts: usize,
    channels: usize,
    latency: Duration,
    /// Targets one worker publishes at once (`worker.publish_concurrency`).
    concurrency: u64,
    databases: Vec<String>,
}

impl Settings {
    fn from_args_and_env() -> Self {
        let mut values: HashMap<String, String> = HashMap::new();
        for key in ["posts", "channels", "latency_ms", "concurrency"] {
            let variable = format!("POSTROUTE_TEST_SCHEDULER_{}", key.to_uppercase());
            if let Ok(value) = std::env::var(variable) {
                values.insert(key.to_owned(), value);
            }
        }
        let mut databases = Vec::new();
        // `cargo bench` passes `--bench` of its own; words starting with `--` are Cargo's.
        for word in std::env::args().skip(1).filter(|word| !word.starts_with("--")) {
            match word.split_once('=') {
                Some((key, value)) => {
                    let key = key.replace('-', "_");
                    assert!(
                        ["posts", "channels", "latency_ms", "concurrency"].contains(&key.as_str()),
                        "unknown argument {word:?}: posts=, channels=, latency-ms=, concurrency="
                    );
                    values.insert(key, value.to_owned());
                }
                None if word == "sqlite" || word == "postgres" => databases.push(word),
                None => panic!("unknown argument {word:?}: sqlite, postgres or key=value"),
            }
        }
        let number = |key: &str, default: u64| -> u64 {
            values.get(key).map_or(default, |value| {
                value.parse().unwrap_or_else(|_| panic!("{key}={value} is not a whole number"))
            })
        };
        let default = u64::from(WorkerConfig::default().publish_concurrency);
        let concurrency = number("concurrency", default);
        let settings = Self {
            posts: usize::try_from(number("posts", 10_000)).unwrap(),
            channels: usize::try_from(number("channels", 1_000)).unwrap(),
            latency: Duration::from_millis(number("latency_ms", 100)),
            concurrency,
            databases,
        };
        assert!(settings.posts > 0 && settings.channels > 0, "posts and channels must be > 0");
        settings
    }

    fn database(&self, name: &str) -> bool {
        self.databases.is_empty() || self.databases.iter().any(|wanted| wanted == name)
    }

    /// Posts per channel, the most any one channel gets.
    fn per_channel(&self) -> usize {
        self.posts.div_ceil(self.channels)
    }
}

/// A database with everything scheduled at `at`, and no worker yet.
struct Prepared {
    app: TestApp,
    workspaces: Vec<WorkspaceId>,
    at: DateTime<Utc>,
    channels_took: Duration,
    posts_took: Duration,
}

async fn prepare(backend: Backend, settings: &Settings) -> Prepared {
    let app = TestApp::builder(backend)
        .configure(|config| {
            config.rate_limits.enabled = false;
            config.log.level = "error".to_owned();
            config.database.max_connections = 32;
            // The workers get these through `worker_env`: production's, not the test suite's.
            config.worker = WorkerConfig { run_in_serve: false, ..WorkerConfig::default() };
        })
        .spawn()
        .await;
    let fake_x = app.fake_x();
    if settings.per_channel() > X_POSTS_PER_WINDOW {
        fake_x.set_post_window_limit(u32::try_from(settings.per_channel()).unwrap());
        println!(
            "note: {} posts per channel exceed X's {X_POSTS_PER_WINDOW} per 15 minutes; the \
             fake's window is raised to match",
            settings.per_channel()
        );
    }

    // The confirmation email needs a worker; this one stops before anything is scheduled.
    let mail = WorkerProcess::start(&app, env!("CARGO_BIN_EXE_postroute"));
    let owner = app.signed_in_user("bench@example.com").await;
    mail.stop().await;

    let started = Instant::now();
    let per_workspace = Plan::Agency
        .entitlements()
        .max_channels
        .map_or(usize::MAX, |max| usize::try_from(max).unwrap());
    let mut workspaces = Vec::new();
    let mut channels = Vec::new();
    for index in 0..settings.channels {
        if index % per_workspace == 0 {
            let workspace = app.workspace(&owner, &format!("Bench {}", workspaces.len())).await;
            app.set_plan(&workspace, Plan::Agency.as_str()).await;
            workspaces.push(workspace);
        }
        // The fake signs in whichever account it was last told to, so connections go one by one.
        fake_x.set_account(&(7_000_000 + index).to_string(), &format!("bench_{index}"), "Bench");
        let workspace = workspaces.last().unwrap().clone();
        let channel = app.connect_x(&owner, &workspace).await;
        channels.push((workspace, channel));
    }
    let channels_took = started.elapsed();

    let started = Instant::now();
    let run = uuid::Uuid::now_v7().simple().to_string();
    let drafts: Vec<String> = futures_util::stream::iter(0..settings.posts)
        .map(|index| {
            let (workspace, channel) = &channels[index % channels.len()];
            let content = format!("Scheduler benchmark {run}: post {index} of {}", settings.posts);
            let body = json!({ "content": content, "channel_ids": [channel] });
            let (app, owner) = (&app, &owner);
            async move {
                let posts = format!("/v1/workspaces/{workspace}/posts");
                let post = app.json_as(owner, Method::POST, &posts, body, 201).await;
                format!("{posts}/{}", post["id"].as_str().unwrap())
            }
        })
        .buffer_unordered(SETUP_CONCURRENCY)
        .collect()
        .await;
    let drafted = started.elapsed();
    // Scheduling costs more than drafting did (on PostgreSQL about twice as much: it checks
    // the channels and the plan); four times is room to spare.
    let at = Utc::now() + (drafted * 4).max(MIN_LEAD);
    schedule_all(&app, &owner, &drafts, at).await;
    let posts_took = started.elapsed();
    Prepared {
        app,
        workspaces: workspaces.iter().map(|id| id.parse().unwrap()).collect(),
        at,
        channels_took,
        posts_took,
    }
}

async fn schedule_all(app: &TestApp, owner: &TestUser, posts: &[String], at: DateTime<Utc>) {
    let body = json!({ "scheduled_at": at.to_rfc3339_opts(SecondsFormat::Millis, true) });
    futures_util::stream::iter(posts)
        .for_each_concurrent(SETUP_CONCURRENCY, |post| {
            let body = body.clone();
            async move {
                app.json_as(owner, Method::POST, &format!("{post}/schedule"), body, 200).await;
            }
        })
        .await;
}

/// What one configuration measured.
#[derive(Debug)]
struct Figures {
    label: String,
    /// T to the last target's `published_at`; `None` when not every target was published.
    drain: Option<Duration>,
    floor: Duration,
    concurrency: u64,
    lags: Vec<Duration>,
    duplicates: Vec<(String, usize)>,
    losses: Vec<String>,
    cpu: Duration,
    /// Each worker's peak resident set: from T when `peak_from_t`, else since it started.
    peak_rss: Vec<u64>,
    peak_from_t: bool,
    /// Each worker's peak resident set from its start to T.
    start_up_peak_rss: Vec<u64>,
    /// The benchmark's own process (fake X, idle server, polling) over the same time.
    bench_cpu: Duration,
}

impl Figures {
    fn ratio(&self) -> Option<f64> {
        // With no latency there is no floor to compare with.
        let floor = Some(self.floor.as_secs_f64()).filter(|&floor| floor > 0.0)?;
        self.drain.map(|drain| drain.as_secs_f64() / floor)
    }

    fn lag(&self, p: f64) -> Duration {
        percentile(&self.lags, p)
    }

    fn clean(&self) -> bool {
        self.duplicates.is_empty() && self.losses.is_empty()
    }
}

async fn bench(backend: Backend, workers: usize, settings: &Settings) -> Figures {
    let label = format!("{} x{workers}", backend.name());
    println!(
        "\n== {}, {workers} worker process{} ==",
        backend.name(),
        if workers == 1 { "" } else { "es" }
    );
    let Prepared { app, workspaces, at, channels_took, posts_took } =
        prepare(backend, settings).await;
    app.fake_x().set_latency(settings.latency);
    let lead = (at - Utc::now()).to_std().unwrap_or_default();
    println!(
        "setup (not timed): {} channels in {} workspace(s) {:.1} s, {} posts drafted and \
         scheduled {:.1} s; T is {:.1} s ahead as the workers start",
        settings.channels,
        workspaces.len(),
        channels_took.as_secs_f64(),
        settings.posts,
        posts_took.as_secs_f64(),
        lead.as_secs_f64()
    );
    if lead < Duration::from_secs(1) {
        println!("warning: the workers start less than a second before T: lag includes start-up");
    }
    let mut processes: Vec<WorkerProcess> = (0..workers)
        .map(|_| {
            WorkerProcess::start_with(
                &app,
                env!("CARGO_BIN_EXE_postroute"),
                &[(
                    "POSTROUTE_WORKER__PUBLISH_CONCURRENCY".to_owned(),
                    settings.concurrency.to_string(),
                )],
            )
        })
        .collect();

    tokio::time::sleep(lead).await;
    let at_start: Vec<ProcessUsage> =
        processes.iter().map(|p| p.usage().expect("the worker runs at T")).collect();
    let peak_from_t = processes.iter().all(WorkerProcess::reset_peak_rss);
    let bench_at_start = ProcessUsage::of(std::process::id()).unwrap_or_default();
    wait_until_settled(&app, &mut processes, settings.posts).await;
    let at_end: Vec<ProcessUsage> =
        processes.iter().map(|p| p.usage().expect("the worker still runs")).collect();
    let bench_at_end = ProcessUsage::of(std::process::id()).unwrap_or_default();
    drop(processes);

    let mut on_x: HashMap<String, usize> = HashMap::new();
    for tweet in app.fake_x().published() {
        *on_x.entry(tweet.text.unwrap_or_default()).or_default() += 1;
    }
    let mut duplicates: Vec<(String, usize)> = on_x
        .iter()
        .filter(|(_, copies)| **copies > 1)
        .map(|(text, copies)| (text.clone(), *copies))
        .collect();
    duplicates.sort();
    let (mut lags, mut losses, mut last) = (Vec::new(), Vec::new(), at);
    for target in targets(&app, &workspaces).await {
        match (target.status, target.published_at, on_x.contains_key(&target.text)) {
            (TargetStatus::Published, Some(published), true) => {
                let due = target.scheduled_at.unwrap_or(at);
                lags.push((published - due).to_std().unwrap_or_default());
                last = last.max(published);
            }
            (status, _, on_x) => {
                let where_ = if on_x { "on X" } else { "not on X" };
                losses.push(format!("{status}, {where_}: {}", target.text));
            }
        }
    }
    lags.sort();
    let concurrency = settings.concurrency * workers as u64;
    let floor = settings.latency.mul_f64(settings.posts as f64 / concurrency as f64);
    let drain = losses.is_empty().then(|| (last - at).to_std().unwrap_or_default());
    let figures = Figures {
        label,
        drain,
        floor,
        concurrency,
        lags,
        duplicates,
        losses,
        cpu: at_end.iter().zip(&at_start).map(|(end, start)| end.cpu - start.cpu).sum(),
        peak_rss: at_end.iter().map(|usage| usage.peak_rss_bytes).collect(),
        peak_from_t,
        start_up_peak_rss: at_start.iter().map(|usage| usage.peak_rss_bytes).collect(),
        bench_cpu: bench_at_end.cpu - bench_at_start.cpu,
    };
    print_figures(&figures, settings);
    figures
}

/// Waits until no target is pending, publishing or unknown, or until nothing has settled for
/// [`STALL`]; prints progress every ten seconds.
async fn wait_until_settled(app: &TestApp, workers: &mut [WorkerProcess], posts: usize) {
    let in_play = "SELECT COUNT(*) FROM post_targets \
                   WHERE status IN ('pending', 'publishing', 'unknown')";
    let mut left = i64::try_from(posts).unwrap();
    let mut moved = Instant::now();
    let mut said = Instant::now();
    while left > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !workers.iter_mut().any(WorkerProcess::has_exited),
            "a worker process ended during the run (its stderr is above)"
        );
        let now_left = app.count(in_play).await;
        if now_left < left {
            moved = Instant::now();
        }
        left = now_left;
        if moved.elapsed() > STALL {
            println!("STALLED: {left} targets still in play after {} s unchanged", STALL.as_secs());
            return;
        }
        if said.elapsed() > Duration::from_secs(10) {
            println!("  {} of {posts} settled", posts as i64 - left);
            said = Instant::now();
        }
    }
}

/// One target as the store has it.
#[derive(Debug)]
struct Settled {
    text: String,
    status: TargetStatus,
    scheduled_at: Option<DateTime<Utc>>,
    published_at: Option<DateTime<Utc>>,
}

/// Every target of every post, through the store.
async fn targets(app: &TestApp, workspaces: &[WorkspaceId]) -> Vec<Settled> {
    let mut all = Vec::new();
    for &workspace in workspaces {
        let tenant = app.store().tenant(workspace);
        let mut cursor = None;
        loop {
            let page = tenant.posts(&PostFilter::default(), cursor, PAGE).await.unwrap();
            let Some(oldest) = page.last() else { break };
            cursor = Some(oldest.id);
            for post in page {
                all.extend(post.targets.iter().map(|target| Settled {
                    text: post.content.clone(),
                    status: target.status,
                    scheduled_at: post.scheduled_at,
                    published_at: target.published_at,
                }));
            }
        }
    }
    all
}

fn secs(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn print_figures(figures: &Figures, settings: &Settings) {
    let drain = figures.drain.map_or_else(|| "did not drain".to_owned(), secs);
    let ratio = figures.ratio().map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}"));
    let rss: Vec<String> = figures.peak_rss.iter().map(|&bytes| mib(bytes)).collect();
    let start_up: Vec<String> = figures.start_up_peak_rss.iter().map(|&bytes| mib(bytes)).collect();
    let since = if figures.peak_from_t { "T to end" } else { "since start: no clear_refs" };
    println!("time to drain           {drain}");
    println!(
        "floor N·L/C             {}   ({} x {} ms / {})",
        secs(figures.floor),
        settings.posts,
        settings.latency.as_millis(),
        figures.concurrency
    );
    println!("ratio                   {ratio}");
    println!(
        "publish lag             min {}  p50 {}  p99 {}  max {}",
        secs(figures.lag(0.0)),
        secs(figures.lag(0.5)),
        secs(figures.lag(0.99)),
        secs(figures.lag(1.0))
    );
    println!("duplicates              {}", figures.duplicates.len());
    println!("losses                  {}", figures.losses.len());
    println!("worker CPU (T to end)   {}", secs(figures.cpu));
    println!("worker peak RSS         {}   ({since})", rss.join(" + "));
    println!("worker start-up peak    {}   (before T)", start_up.join(" + "));
    println!(
        "benchmark process CPU   {}   (fake X, idle server, polling)",
        secs(figures.bench_cpu)
    );
    if !figures.duplicates.is_empty() {
        println!("!!! DUPLICATES on X (text, copies):");
        for (text, copies) in figures.duplicates.iter().take(20) {
            println!("!!!   {copies} x {text}");
        }
    }
    if !figures.losses.is_empty() {
        println!("!!! LOSSES:");
        for loss in figures.losses.iter().take(20) {
            println!("!!!   {loss}");
        }
    }
}

fn print_summary(all: &[Figures], settings: &Settings) {
    let concurrency = format!("publish_concurrency {} per worker", settings.concurrency);
    println!(
        "\nN = {} posts, M = {} channels, L = {} ms, {concurrency}",
        settings.posts,
        settings.channels,
        settings.latency.as_millis()
    );
    print!("{:<22}", "");
    for figures in all {
        print!("  {:>14}", figures.label);
    }
    println!();
    type Row = fn(&Figures) -> String;
    let rows: [(&str, Row); 12] = [
        ("time to drain", |f| f.drain.map_or_else(|| "-".to_owned(), secs)),
        ("floor N·L/C", |f| secs(f.floor)),
        ("ratio", |f| f.ratio().map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"))),
        ("lag min (first out)", |f| secs(f.lag(0.0))),
        ("lag p50", |f| secs(f.lag(0.5))),
        ("lag p99", |f| secs(f.lag(0.99))),
        ("lag max", |f| secs(f.lag(1.0))),
        ("duplicates", |f| f.duplicates.len().to_string()),
        ("losses", |f| f.losses.len().to_string()),
        ("worker CPU", |f| secs(f.cpu)),
        ("peak RSS, from T (max)", |f| mib(f.peak_rss.iter().copied().max().unwrap_or_default())),
        ("benchmark CPU", |f| secs(f.bench_cpu)),
    ];
    for (name, cell) in rows {
        print!("{name:<22}");
        for figures in all {
            print!("  {:>14}", cell(figures));
        }
        println!();
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let settings = Settings::from_args_and_env();
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(1);
    println!(
        "cores: {cores}; N = {} posts over M = {} channels, due at one instant; X latency {} ms; \
         {} target(s) at once per worker",
        settings.posts,
        settings.channels,
        settings.latency.as_millis(),
        settings.concurrency
    );
    let mut all = Vec::new();
    if settings.database("sqlite") {
        all.push(bench(Backend::Sqlite, 1, &settings).await);
    }
    if settings.database("postgres") {
        match Backend::postgres_from_env() {
            Some(postgres) => {
                all.push(bench(postgres.clone(), 1, &settings).await);
                all.push(bench(postgres, 2, &settings).await);
            }
            None => println!("postgres skipped: set POSTROUTE_TEST_POSTGRES_URL"),
        }
    }
    if all.is_empty() {
        return ExitCode::SUCCESS;
    }
    print_summary(&all, &settings);
    if all.iter().all(Figures::clean) {
        ExitCode::SUCCESS
    } else {
        println!("\n!!! NOT EXACTLY ONCE: duplicates or losses above");
        ExitCode::FAILURE
    }
}
