//! The HTTP edge: what every request passes through before and after its handler.

pub mod bare_errors;
pub mod client_ip;
pub mod observe;
pub mod security_headers;

pub use client_ip::{ClientIp, TrustedProxies};
pub use observe::RequestId;
