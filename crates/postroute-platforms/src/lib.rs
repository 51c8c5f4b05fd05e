//! PostRoute's outbound clients. Each speaks its platform's real wire format against a
//! configurable base URL, and classifies every failure so callers know whether to retry.
//! This crate knows nothing of PostRoute's storage or HTTP API.

pub mod email;
mod error;
pub mod meta;
mod publish;
pub mod x;

pub use error::PlatformError;
pub use publish::PublishFailure;
