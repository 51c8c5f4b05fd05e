//! PostRoute's storage layer: the only crate that speaks SQL.
//!
//! One [`Store`] wraps either a SQLite or a PostgreSQL pool. Most statements are written once
//! in the SQL both dialects share (`$1` placeholders work on both) and run through
//! [`on_db!`]; where the dialects differ, a repository matches on the pool and says why.

#[macro_use]
mod pool;
mod error;
mod system_events;

pub use error::StoreError;
pub use pool::{Dialect, Store, StoreOptions};
pub use system_events::{StoredSystemEvent, SystemEvents};
