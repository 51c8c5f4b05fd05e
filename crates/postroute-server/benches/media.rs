//! Media upload throughput and the server's memory while uploads stream in, printed (never
//! asserted): `cargo bench -p postroute-server --bench media`. The client streams each body
//! from a file, so the process's memory growth is the server's: receiving to scratch files,
//! inspecting, hashing and storing. Rate limits are off (one client would trip them).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark fails by panicking")]

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use postroute_domain::MAX_UPLOAD_BYTES;
use postroute_test_support::{Backend, TestApp, TestUser, corpus};
use tokio::io::AsyncReadExt;

const MIB: f64 = 1024.0 * 1024.0;

/// The resident set size of this process, in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Samples the resident set every 5 ms while `running`; returns the peak.
fn watch_memory(running: Arc<AtomicBool>) -> (std::thread::JoinHandle<()>, Arc<AtomicU64>) {
    let peak = Arc::new(AtomicU64::new(resident_bytes()));
    let seen = peak.clone();
    let handle = std::thread::spawn(move || {
        while running.load(Ordering::Relaxed) {
            seen.fetch_max(resident_bytes(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    (handle, peak)
}

/// One HTTP/1.1 connection per upload, as browsers upload.
fn client(app: &TestApp) -> reqwest::Client {
    app.client_builder().http1_only().timeout(Duration::from_secs(600)).build().unwrap()
}

/// Uploads the file at `path` as a multipart body streamed from disk.
async fn upload(
    app: &TestApp,
    client: &reqwest::Client,
    user: &TestUser,
    workspace: &str,
    path: &Path,
) {
    let boundary = "postroute-bench-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() as u64 + std::fs::metadata(path).unwrap().len() + tail.len() as u64;
    let file = tokio::fs::File::open(path).await.unwrap();
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let mut buffer = vec![0u8; 256 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) => None,
            Ok(read) => {
                buffer.truncate(read);
                Some((Ok::<_, std::io::Error>(buffer), file))
            }
            Err(error) => Some((Err(error), file)),
        }
    });
    let body = futures_util::stream::once(async move { Ok(head.into_bytes()) })
        .chain(chunks)
        .chain(futures_util::stream::once(async move { Ok(tail.into_bytes()) }));
    let response = client
        .post(app.url(&format!("/v1/workspaces/{workspace}/media")))
        .bearer_auth(&user.access_token)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .header("content-length", length)
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(status, 201, "upload failed: {}", response.text().await.unwrap_or_default());
}

/// `uploads` concurrent uploads of `path`; prints throughput and peak memory growth.
async fn round(
    app: &Arc<TestApp>,
    user: &TestUser,
    workspace: &str,
    label: &str,
    path: &Path,
    uploads: usize,
) {
    let client = client(app);
    let size = std::fs::metadata(path).unwrap().len() as f64;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = resident_bytes();
    let running = Arc::new(AtomicBool::new(true));
    let (watcher, peak) = watch_memory(running.clone());
    let started = Instant::now();
    let tasks: Vec<_> = (0..uploads)
        .map(|_| {
            let (app, client, user, workspace, path) = (
                app.clone(),
                client.clone(),
                user.clone(),
                workspace.to_owned(),
                path.to_path_buf(),
            );
            tokio::spawn(async move { upload(&app, &client, &user, &workspace, &path).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    running.store(false, Ordering::Relaxed);
    watcher.join().unwrap();
    let growth = peak.load(Ordering::Relaxed).saturating_sub(baseline) as f64;
    println!(
        "{label:<36} {uploads:>2} x {:>6.1} MiB in {elapsed:>5.2} s: {:>6.1} MiB/s, {:>5.2} uploads/s; peak RSS growth {:>6.1} MiB",
        size / MIB,
        uploads as f64 * size / MIB / elapsed,
        uploads as f64 / elapsed,
        growth / MIB,
    );
}

fn write_file(directory: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = directory.join(name);
    std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
    path
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let app = Arc::new(
        TestApp::builder(Backend::Sqlite)
            .configure(|config| config.rate_limits.enabled = false)
            .spawn()
            .await,
    );
    let user = app.signed_in_user("bench@example.com").await;
    let workspace = app.workspace(&user, "Bench").await;
    app.set_plan(&workspace, "agency").await;
    let files = tempfile::tempdir().unwrap();
    let largest = usize::try_from(MAX_UPLOAD_BYTES).unwrap();
    let video = write_file(files.path(), "video.mp4", &corpus::video_of_length(largest));
    let photo = write_file(files.path(), "photo.jpg", &corpus::jpeg_with_gps(4000, 3000));
    let small = write_file(files.path(), "small.png", &corpus::png(640, 480));
    println!("cores: {}", std::thread::available_parallelism().map_or(0, |cores| cores.get()));
    round(&app, &user, &workspace, "50 MiB video, one at a time", &video, 1).await;
    round(&app, &user, &workspace, "50 MiB video, 10 concurrent", &video, 10).await;
    round(&app, &user, &workspace, "12 MP JPEG with EXIF, 10 concurrent", &photo, 10).await;
    round(&app, &user, &workspace, "640x480 PNG, 50 concurrent", &small, 50).await;
}
