//! PostRoute's application: configuration, bootstrap, the HTTP API and (later) the workers.

pub mod app;
pub mod config;
pub mod http;
pub mod telemetry;
pub mod tls;

pub use app::{AppState, RunningApp, shutdown_signal, start};
pub use config::Config;
