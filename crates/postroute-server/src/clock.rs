//! The time, as PostRoute stores it.

use chrono::{DateTime, SubsecRound, Utc};

/// Now, to the microsecond: PostgreSQL keeps microseconds, so a value read back equals the
/// value written on both databases.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
