//! PostRoute's application: the configuration, and the services that combine the domain's rules
//! with the store. Nothing here knows HTTP (no axum, hyper or tower; `.ci/run` checks it): the
//! JSON API, the coming web app and the workers are faces over these services, each in a crate
//! of its own.

pub mod accounts;
pub mod admin;
pub mod auth;
pub mod channels;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod mail;
pub mod media;
pub mod posts;
pub mod rate_limit;
mod refusal;
mod services;
pub mod system_events;
pub mod webhooks;
pub mod workspaces;

pub use config::Config;
pub use refusal::{FieldError, Refusal};
pub use services::{Services, migrate, open_store};
