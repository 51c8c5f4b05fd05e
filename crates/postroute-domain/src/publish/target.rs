//! One target's life: `pending → publishing → published | failed | unknown | missed`, moved by
//! a claim, the platform's answer, a lease that ran out, reconciliation and people.
//!
//! Every method takes the target as the store read it and returns it as the store must write
//! it, or a refusal. The store writes the result fenced (`WHERE fence = $read`), so of two
//! deciders that read the same row only one wins; this module decides, the SQL follows.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::outcome::{Jitter, NextStep, Outcome, RetryPolicy, Spent, Verdict};
use crate::post::TargetStatus;
use crate::schedule::{MissedAfter, is_missed};

/// The number of a claim on a target. It grows by one with every claim, so an answer that
/// carries an older number comes from a worker whose lease ran out and whose target someone
/// else has claimed since: its answer must not overwrite the newer claim's. Signed because both
/// databases store it as a 64-bit integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fence(i64);

impl Fence {
    /// A target never claimed.
    pub const UNCLAIMED: Fence = Fence(0);

    /// The fence as the store holds it.
    pub const fn from_stored(value: i64) -> Self {
        Self(value)
    }

    /// The value to store.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// The next claim's fence. Saturating, because an overflow that wrapped would make the
    /// newest claim look like the oldest; 2^63 claims will not happen.
    pub const fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How close to the end of its lease a worker may still start an irreversible call: the call
/// must be answered, and its answer written, while the lease is still the worker's; otherwise a
/// second worker could claim the target while the first call is in flight.
pub const SEND_MARGIN: TimeDelta = TimeDelta::seconds(5);

/// Whether a worker holding a lease until `lease_expires_at` may start, at `now`, a call that
/// can take up to `call_timeout`. Checked with the database's clock in the same statement that
/// records the intent, so that workers' clocks do not matter.
pub fn may_start_call(
    lease_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    call_timeout: TimeDelta,
) -> bool {
    lease_expires_at - now > call_timeout + SEND_MARGIN
}

/// Whether a publish lease of `lease` leaves room for the calls it covers: at least three times
/// the HTTP timeout (publishing.md E.2), so that a worker can prepare, still pass
/// [`may_start_call`] and write the answer before the lease runs out and another worker claims
/// the target. For validating `worker.publish_lease_secs` at start-up.
pub fn lease_outlasts_calls(lease: TimeDelta, call_timeout: TimeDelta) -> bool {
    call_timeout.checked_mul(3).is_some_and(|needed| lease >= needed)
}

/// What the publisher knows of one target between two steps: enough to decide the next one.
/// The store keeps these fields on the target's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetState {
    /// Where it is.
    pub status: TargetStatus,
    /// The last claim's fence.
    pub fence: Fence,
    /// When it should go out: the post's time, or when a person asked for it again.
    pub due_at: DateTime<Utc>,
    /// Not to be claimed before this (a backoff, a rate limit's reset); `None`: once due.
    pub not_before: Option<DateTime<Utc>>,
    /// Claims so far, each of which may call the platform once: api.md's `attempts`.
    pub attempts: u32,
    /// Second chances used so far.
    pub spent: Spent,
    /// The one retry that proof of absence earns has been used.
    pub absence_retried: bool,
}

/// Why a target cannot move as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The step does not apply to a target in this status.
    #[error("a target that is {from} cannot be {verb}")]
    NotAllowed {
        /// Its status.
        from: TargetStatus,
        /// What was asked, in words.
        verb: &'static str,
    },
    /// The report names a claim other than the target's current one: an older claim's worker
    /// lost its lease, and a newer one was never issued.
    #[error("claim {reported} is not the target's current claim {current}; its report is refused")]
    StaleFence {
        /// The reporter's fence.
        reported: Fence,
        /// The target's fence.
        current: Fence,
    },
    /// Its time, or its backoff, has not come.
    #[error("not due before {at}")]
    NotDue {
        /// When it may be claimed.
        at: DateTime<Utc>,
    },
    /// It came due more than the missed window ago: it is to be marked missed, not published.
    #[error("it came due at {due_at}, longer ago than the missed window allows")]
    CameDueTooLate {
        /// Its due time.
        due_at: DateTime<Utc>,
    },
}

/// What reconciliation found on the platform for a target whose outcome was unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The post is there (our own attempt record, or a match on the platform).
    Found,
    /// Proof that nothing was created: an Instagram container still FINISHED, ERROR or EXPIRED,
    /// or every look at the account came back without a match.
    Absent,
    /// No proof either way after every look.
    Inconclusive,
}

/// A target after reconciliation, and whether a person must now be asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciled {
    /// The target to write.
    pub target: TargetState,
    /// The publisher has done all it safely can: tell the author and the workspace's owner and
    /// admins, who can mark it published, retry or dismiss it.
    pub asks_person: bool,
}

/// A target after a platform's answer was recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reported {
    /// The target to write.
    pub target: TargetState,
    /// The decision, with its class and what it means for the channel.
    pub verdict: Verdict,
}

/// The waits before each look at the platform when reconciling (publishing.md C.3): a new post
/// can take a while to show in the account's listing, so an early empty answer proves little.
pub const RECONCILE_LOOKS: [TimeDelta; 3] =
    [TimeDelta::seconds(20), TimeDelta::minutes(2), TimeDelta::minutes(10)];

/// The wait before the next look after `looks_done` looks, or `None` after the last one, when an
/// empty answer counts as [`Finding::Absent`] if the platform's listing can prove absence, and
/// [`Finding::Inconclusive`] otherwise.
pub fn next_reconcile_look(looks_done: u32) -> Option<TimeDelta> {
    RECONCILE_LOOKS.get(usize::try_from(looks_done).ok()?).copied()
}

impl TargetState {
    /// A target that has not been tried, due at `due_at`.
    pub fn new(due_at: DateTime<Utc>) -> Self {
        Self {
            status: TargetStatus::Pending,
            fence: Fence::UNCLAIMED,
            due_at,
            not_before: None,
            attempts: 0,
            spent: Spent::default(),
            absence_retried: false,
        }
    }

    /// The earliest time it may be claimed.
    pub fn claimable_at(&self) -> DateTime<Utc> {
        self.not_before.map_or(self.due_at, |not_before| not_before.max(self.due_at))
    }

    fn refuse(&self, verb: &'static str) -> TargetError {
        TargetError::NotAllowed { from: self.status, verb }
    }

    fn require(&self, status: TargetStatus, verb: &'static str) -> Result<(), TargetError> {
        if self.status == status { Ok(()) } else { Err(self.refuse(verb)) }
    }

    /// Checks that a report about `fence` is about the current claim of a target still being
    /// published. The fence comes first: a stale worker is told it lost its lease even when the
    /// target has moved on since.
    fn require_claim(&self, fence: Fence, verb: &'static str) -> Result<(), TargetError> {
        if fence != self.fence {
            return Err(TargetError::StaleFence { reported: fence, current: self.fence });
        }
        self.require(TargetStatus::Publishing, verb)
    }

    /// A worker claims it: pending, due, and not so late that it is missed. The fence grows so
    /// that the previous claim's reports are refused from now on.
    pub fn claim(
        &self,
        now: DateTime<Utc>,
        window: MissedAfter,
    ) -> Result<TargetState, TargetError> {
        self.require(TargetStatus::Pending, "claimed")?;
        // Lateness is measured from when the post should have gone out, not from the last
        // backoff: a post retried past its window is as stale as one never tried.
        if is_missed(self.due_at, now, window) {
            return Err(TargetError::CameDueTooLate { due_at: self.due_at });
        }
        let at = self.claimable_at();
        if now < at {
            return Err(TargetError::NotDue { at });
        }
        Ok(TargetState {
            status: TargetStatus::Publishing,
            fence: self.fence.next(),
            attempts: self.attempts.saturating_add(1),
            ..self.clone()
        })
    }

    /// The missed sweep: a pending target that came due more than the window ago is missed and
    /// waits for a person, instead of going out stale.
    pub fn miss(
        &self,
        now: DateTime<Utc>,
        window: MissedAfter,
    ) -> Result<TargetState, TargetError> {
        self.require(TargetStatus::Pending, "marked missed")?;
        if !is_missed(self.due_at, now, window) {
            return Err(self.refuse("marked missed while still on time"));
        }
        Ok(TargetState { status: TargetStatus::Missed, not_before: None, ..self.clone() })
    }

    /// Records the platform's answer to the claim `fence`, as [`Outcome::verdict`] decides it.
    pub fn report(
        &self,
        fence: Fence,
        outcome: &Outcome,
        policy: &RetryPolicy,
        now: DateTime<Utc>,
        jitter: Jitter,
    ) -> Result<Reported, TargetError> {
        self.require_claim(fence, "given a platform's answer")?;
        let verdict = outcome.verdict(self.spent, policy, now, jitter);
        let mut target = self.clone();
        match verdict.step {
            NextStep::Published => target.status = TargetStatus::Published,
            NextStep::RetryAt { at, spends_retry } => {
                target.status = TargetStatus::Pending;
                target.not_before = Some(at);
                if spends_retry {
                    target.spent.retries = target.spent.retries.saturating_add(1);
                }
            }
            NextStep::RefreshTokenThenRetry => {
                target.status = TargetStatus::Pending;
                target.not_before = None;
                target.spent.token_refreshed = true;
            }
            NextStep::Fail => target.status = TargetStatus::Failed,
            NextStep::Reconcile => target.status = TargetStatus::Unknown,
        }
        Ok(Reported { target, verdict })
    }

    /// The lease of claim `fence` ran out while it was publishing: the worker died or hung.
    /// `intent_recorded` says whether it had committed its intent to call the platform. Without
    /// one the call never started (the intent comes first), so the target simply waits for the
    /// next claim; with one the call may or may not have happened, so it goes the way of an
    /// ambiguous answer: unknown, then reconciliation. Where the worker had written the
    /// platform's answer on its attempt record before dying, the sweeper applies that answer
    /// with [`TargetState::report`] instead, which the unchanged fence still allows.
    pub fn lease_expired(
        &self,
        fence: Fence,
        intent_recorded: bool,
    ) -> Result<TargetState, TargetError> {
        self.require_claim(fence, "released by an expired lease")?;
        let status = if intent_recorded { TargetStatus::Unknown } else { TargetStatus::Pending };
        Ok(TargetState { status, not_before: None, ..self.clone() })
    }

    /// Settles an unknown target with what reconciliation found:
    /// - found: published;
    /// - absent: one retry, back to pending, provided it has not had that retry already and is
    ///   still inside the missed window; past the window it is missed, and a second absence
    ///   after a retry stays unknown, since two vanished calls in a row say something a person
    ///   should look at;
    /// - inconclusive: stays unknown.
    ///
    /// Anything short of published or a retry asks a person.
    pub fn reconciled(
        &self,
        finding: Finding,
        now: DateTime<Utc>,
        window: MissedAfter,
    ) -> Result<Reconciled, TargetError> {
        self.require(TargetStatus::Unknown, "reconciled")?;
        let (status, absence_retried) = match finding {
            Finding::Found => (TargetStatus::Published, self.absence_retried),
            Finding::Absent if self.absence_retried => (TargetStatus::Unknown, true),
            Finding::Absent if is_missed(self.due_at, now, window) => {
                (TargetStatus::Missed, self.absence_retried)
            }
            Finding::Absent => (TargetStatus::Pending, true),
            Finding::Inconclusive => (TargetStatus::Unknown, self.absence_retried),
        };
        let asks_person = matches!(status, TargetStatus::Unknown | TargetStatus::Missed);
        let target = TargetState { status, absence_retried, not_before: None, ..self.clone() };
        Ok(Reconciled { target, asks_person })
    }

    /// A person checked the platform and found the post (api.md's `mark-published`, with its
    /// URL, which the caller stores).
    pub fn mark_published(&self) -> Result<TargetState, TargetError> {
        self.require(TargetStatus::Unknown, "marked published")?;
        Ok(TargetState { status: TargetStatus::Published, ..self.clone() })
    }

    /// A person asks for another try of a failed, missed or unknown target. It is due at `now`,
    /// not at the post's old time, which would make it missed again at once, and its second
    /// chances start afresh: a person has looked, so this retry is not blind.
    pub fn retry_by_person(&self, now: DateTime<Utc>) -> Result<TargetState, TargetError> {
        if !matches!(
            self.status,
            TargetStatus::Failed | TargetStatus::Missed | TargetStatus::Unknown
        ) {
            return Err(self.refuse("retried"));
        }
        Ok(TargetState {
            status: TargetStatus::Pending,
            due_at: now,
            not_before: None,
            spent: Spent::default(),
            absence_retried: false,
            ..self.clone()
        })
    }

    /// A person leaves an unknown or missed target unpublished. It becomes failed, the status
    /// for "not on the platform and nothing more will happen", so the post's status can settle;
    /// the caller records that a person dismissed it.
    pub fn dismiss(&self) -> Result<TargetState, TargetError> {
        if !matches!(self.status, TargetStatus::Unknown | TargetStatus::Missed) {
            return Err(self.refuse("dismissed"));
        }
        Ok(TargetState { status: TargetStatus::Failed, not_before: None, ..self.clone() })
    }

    /// Its channel was disconnected or fell to `needs_reconnect`: a pending target cannot go
    /// out, and fails now, visibly, rather than at its time.
    pub fn channel_lost(&self) -> Result<TargetState, TargetError> {
        self.require(TargetStatus::Pending, "failed for its channel")?;
        Ok(TargetState { status: TargetStatus::Failed, not_before: None, ..self.clone() })
    }
}

#[cfg(test)]
mod tests;
