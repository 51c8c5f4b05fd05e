//! `postroute worker` processes beside a test app, and what they cost the machine.
//!
//! The binary's path is the caller's `env!("CARGO_BIN_EXE_postroute")`: Cargo gives it only to
//! the `postroute` crate's own tests and benchmarks, not to this crate.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::TestApp;

/// A `postroute worker` process beside a [`TestApp`]; killed with SIGKILL when dropped.
#[derive(Debug)]
pub struct WorkerProcess {
    child: Child,
    _data_dir: tempfile::TempDir,
}

impl WorkerProcess {
    /// Starts `binary worker` with `app`'s worker environment.
    pub fn start(app: &TestApp, binary: impl AsRef<Path>) -> Self {
        Self::start_with(app, binary, &[])
    }

    /// Starts `binary worker` with `app`'s worker environment, then `extra` over it (a
    /// variable named in both takes `extra`'s value).
    pub fn start_with(app: &TestApp, binary: impl AsRef<Path>, extra: &[(String, String)]) -> Self {
        let data_dir = tempfile::tempdir().expect("worker data directory");
        let mut command = Command::new(binary.as_ref());
        // Only what the app says: a stray POSTROUTE_* of the caller's shell would change the
        // worker, or fail it as an unknown key.
        for (name, _) in std::env::vars() {
            if name.starts_with("POSTROUTE_") {
                command.env_remove(name);
            }
        }
        let child = command
            .arg("worker")
            .current_dir(data_dir.path())
            .env("POSTROUTE_DATA_DIR", data_dir.path().join("data"))
            .envs(app.worker_env())
            .envs(extra.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("postroute worker starts");
        Self { child, _data_dir: data_dir }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What the process has used so far, from `/proc` (Linux), while it still runs: once it
    /// has been waited for, its entries are gone.
    pub fn usage(&self) -> Option<ProcessUsage> {
        ProcessUsage::of(self.id())
    }

    /// Whether the process has ended (a worker that cannot start ends at once).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM, as an orchestrator stops a worker: the pass in progress finishes first.
    /// Waits for the process to end.
    pub async fn stop(mut self) {
        // `kill(1)`: signalling through libc would take `unsafe`, which the workspace forbids.
        let sent = Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        assert!(sent, "SIGTERM reaches the worker");
        while !self.has_exited() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the peak resident set (`VmHWM`) again from the current one, so that a later
    /// [`usage`](Self::usage) says what a phase took rather than start-up (where every
    /// `postroute` process computes one Argon2 hash). Linux's `/proc/<pid>/clear_refs`; false
    /// where that is not allowed.
    pub fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.id()), "5").is_ok()
    }

    /// SIGKILL: no shutdown, no cleanup, as when a machine dies.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL reaches the worker");
        self.child.wait().expect("the killed worker is reaped");
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time and peak memory of one process, as the kernel counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessUsage {
    /// User plus system CPU time of all its threads.
    pub cpu: Duration,
    /// Peak resident set (`VmHWM`), in bytes: since start, or since
    /// [`WorkerProcess::reset_peak_rss`].
    pub peak_rss_bytes: u64,
    /// Resident set now (`VmRSS`), in bytes.
    pub rss_bytes: u64,
}

impl ProcessUsage {
    /// Reads `/proc/<pid>/stat` (utime + stime) and `/proc/<pid>/status` (`VmHWM`, `VmRSS`); `None`
    /// where there is no such process or no `/proc`.
    pub fn of(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name in parentheses may hold spaces; the fields after it are plain.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of proc(5), the 12th and 13th after the name.
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib = |field: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        };
        Some(Self {
            cpu: Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64),
            peak_rss_bytes: kib("VmHWM:")? * 1024,
            rss_bytes: kib("VmRSS:")? * 1024,
        })
    }
}

/// The unit of `/proc/<pid>/stat`'s times (`USER_HZ`): asked of `getconf`, since reading it
/// from `sysconf` would take `unsafe`; 100, what Linux uses on every architecture we run on,
/// when `getconf` is missing.
fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
            .filter(|&ticks| ticks > 0)
            .unwrap_or(100)
    })
}
