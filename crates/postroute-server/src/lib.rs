//! The bootstrap: one function turns a configuration into a running process (the API, the
//! worker, or both), built the same way for the binary and for the tests' harness.

mod bootstrap;
pub mod telemetry;

pub use bootstrap::{Role, RunningApp, shutdown_signal, start, start_role};
