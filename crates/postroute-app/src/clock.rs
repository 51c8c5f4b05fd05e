//! The time, as PostRoute stores it.

use chrono::{DateTime, SubsecRound, Utc};

/// The longest span PostRoute adds to the clock; figures from outside (a platform's
/// `expires_in`, a rate-limit reset) are clamped to it, so no arithmetic can overflow.
const LONGEST_SPAN: std::time::Duration = std::time::Duration::from_secs(10 * 365 * 24 * 3600);

/// `now` plus `span`, clamped to ten years.
pub fn after(now: DateTime<Utc>, span: std::time::Duration) -> DateTime<Utc> {
    let span =
        chrono::Duration::from_std(span.min(LONGEST_SPAN)).unwrap_or(chrono::Duration::days(3650));
    now.checked_add_signed(span).unwrap_or(now)
}

/// Now, to the microsecond: PostgreSQL keeps microseconds, so a value read back equals the
/// value written on both databases.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_from_outside_cannot_overflow() {
        let now = now();
        assert_eq!(
            after(now, std::time::Duration::from_secs(60)),
            now + chrono::Duration::seconds(60)
        );
        assert!(after(now, std::time::Duration::from_secs(u64::MAX)) > now);
        assert!(after(now, std::time::Duration::MAX) <= now + chrono::Duration::days(3651));
    }
}
