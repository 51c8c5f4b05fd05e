//! Load generation for the benchmarks: many connections, each sending one request after
//! another for a while, and the latencies they saw. Figures are printed, never asserted.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::TestApp;

/// An HTTP/1.1 client with room for `connections` idle connections, so that many concurrent
/// requests use as many connections instead of HTTP/2 streams on one.
pub fn http1_client(app: &TestApp, connections: usize) -> reqwest::Client {
    app.client_builder()
        .http1_only()
        .pool_max_idle_per_host(connections)
        .build()
        .unwrap_or_else(|error| panic!("cannot build the benchmark client: {error}"))
}

/// What one load run measured.
#[derive(Debug)]
pub struct LoadRun {
    /// Requests completed per second.
    pub per_second: f64,
    /// Every request's latency, sorted.
    pub latencies: Vec<Duration>,
}

impl LoadRun {
    /// The latency at quantile `p` (0.5 for the median).
    pub fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }
}

/// The value at quantile `p` of `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// `duration` in milliseconds with one decimal.
pub fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

/// Runs `connections` loops of `request` (given the loop's index) for `duration`. A request
/// that answers `false` fails the benchmark: figures from failing requests would flatter.
pub async fn load<F, Fut>(connections: usize, duration: Duration, request: F) -> LoadRun
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let request = request.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while started.elapsed() < duration {
                    let sent = Instant::now();
                    assert!(request(worker).await, "request failed under load");
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for worker in workers {
        match worker.await {
            Ok(seen) => latencies.extend(seen),
            Err(error) => panic!("a load worker failed: {error}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    LoadRun { per_second: latencies.len() as f64 / elapsed, latencies }
}
