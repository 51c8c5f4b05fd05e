//! PostRoute's application: configuration, bootstrap, the services that combine domain and
//! store, the HTTP API, and the background workers.

pub mod accounts;
pub mod admin;
pub mod app;
pub mod auth;
pub mod channels;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod http;
pub mod mail;
pub mod media;
pub mod posts;
pub mod rate_limit;
pub mod scheduler;
pub mod system_events;
pub mod telemetry;
pub mod tls;
pub mod webhooks;
pub mod workspaces;

pub use app::{AppState, Role, RunningApp, shutdown_signal, start, start_role};
pub use config::Config;
