//! Fake platform servers for tests and local development. Each speaks the wire format recorded
//! in shared/specs/platforms.md, so the real clients in `postroute-platforms` are exercised
//! exactly as against production; PostRoute's product code does not know it is talking to one.
//! The referee suite (`referee/` at the repository root) holds them to the platforms' own client
//! libraries; the README lists the control API and the behaviours that are assumptions.

pub mod control;
mod faults;
pub mod meta;
mod publishing;
pub mod resend;
pub mod smtp;
pub mod x;

pub use control::{FakeCredentials, FakePorts, Fakes};
pub use meta::{FakeMeta, FakePage};
pub use publishing::{Platform, PublishedPost};
pub use resend::{FakeResend, ReceivedEmail};
pub use smtp::{FakeSmtp, RelayMode, RelayedMessage};
pub use x::{FakeX, XFakeAccount};
