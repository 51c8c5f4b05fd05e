//! What happens to a post or target whose time has passed: it is published only while that is
//! still what its author meant.

use chrono::{DateTime, TimeDelta, Utc};

use crate::post::{PostStatus, StatusReason};

/// How late a target may still be published on its own (`worker.missed_after_mins`): later than
/// this, the content may be stale (a sale that ended, a "good morning" at night), so a person
/// decides. Peers publish hours or days late after an outage; users complain about exactly that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MissedAfter(TimeDelta);

/// Why a missed window cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("worker.missed_after_mins must be at least {min}", min = MissedAfter::MIN_MINUTES)]
pub struct MissedAfterTooShort;

impl MissedAfter {
    /// The default, two hours: late enough to ride out a restart or a short outage, soon enough
    /// that a morning post does not appear in the afternoon unasked.
    pub const DEFAULT_MINUTES: u32 = 120;
    /// The shortest window: zero would mark a target missed by the time the claim's own query
    /// ran.
    pub const MIN_MINUTES: u32 = 1;

    /// The window of `minutes`, at least [`Self::MIN_MINUTES`].
    pub fn from_minutes(minutes: u32) -> Result<Self, MissedAfterTooShort> {
        if minutes < Self::MIN_MINUTES {
            return Err(MissedAfterTooShort);
        }
        Ok(Self(TimeDelta::minutes(i64::from(minutes))))
    }

    /// The window as a span of time.
    pub const fn span(self) -> TimeDelta {
        self.0
    }
}

impl Default for MissedAfter {
    fn default() -> Self {
        Self(TimeDelta::minutes(i64::from(Self::DEFAULT_MINUTES)))
    }
}

/// A target due at `due_at` is missed when, at `now`, it is more than `window` late. Exactly
/// `window` late is still on time, so a configured "120 minutes" means what it says.
pub fn is_missed(due_at: DateTime<Utc>, now: DateTime<Utc>, window: MissedAfter) -> bool {
    now - due_at > window.span()
}

/// What happens to a post whose time came while it was still waiting for a reviewer: it must
/// not be published without the sign-off the workspace requires, and leaving it "in review"
/// with a past time would let a late approval publish it stale. So it returns to draft, with a
/// reason its author can read. `None` when the rule does not apply.
pub fn approval_lapse(
    status: PostStatus,
    scheduled_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<(PostStatus, StatusReason)> {
    let time_passed = scheduled_at.is_some_and(|time| time <= now);
    (status == PostStatus::InReview && time_passed)
        .then_some((PostStatus::Draft, StatusReason::ApprovalExpired))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, hour, minute, 0).unwrap()
    }

    #[test]
    fn a_target_is_missed_only_when_more_than_the_window_late() {
        let window = MissedAfter::from_minutes(120).unwrap();
        let due = at(9, 0);
        assert!(!is_missed(due, at(9, 0), window), "on time");
        assert!(!is_missed(due, at(11, 0), window), "exactly the window late is still on time");
        assert!(is_missed(due, at(11, 1), window));
        assert!(!is_missed(due, at(8, 0), window), "not yet due");
    }

    #[test]
    fn the_missed_window_is_at_least_one_minute_and_defaults_to_two_hours() {
        assert_eq!(MissedAfter::from_minutes(0), Err(MissedAfterTooShort));
        assert_eq!(MissedAfter::from_minutes(1).unwrap().span(), TimeDelta::minutes(1));
        assert_eq!(MissedAfter::default().span(), TimeDelta::hours(2));
    }

    #[test]
    fn a_post_still_in_review_when_its_time_passes_goes_back_to_draft_as_approval_expired() {
        let lapse = Some((PostStatus::Draft, StatusReason::ApprovalExpired));
        assert_eq!(approval_lapse(PostStatus::InReview, Some(at(9, 0)), at(9, 0)), lapse);
        assert_eq!(approval_lapse(PostStatus::InReview, Some(at(9, 0)), at(10, 0)), lapse);
        assert_eq!(approval_lapse(PostStatus::InReview, Some(at(9, 0)), at(8, 59)), None);
        assert_eq!(approval_lapse(PostStatus::InReview, None, at(9, 0)), None, "no time, no lapse");
        for status in PostStatus::ALL.into_iter().filter(|status| *status != PostStatus::InReview) {
            assert_eq!(approval_lapse(status, Some(at(9, 0)), at(10, 0)), None, "{status}");
        }
    }
}
