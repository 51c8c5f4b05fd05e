//! What a platform call's answer means for the target, and when to try again.
//!
//! The one question behind every class: could this call have created the post? Only an answer
//! that proves it could not is retried; an answer that leaves it open goes to reconciliation,
//! because X and Meta have no idempotency key and a blind retry is how peers post twice.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// The stored class of a target's last failure: api.md's `error_class`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The platform asked us to slow down.
    RateLimited,
    /// The channel's grant is gone; it must be connected again.
    AuthDead,
    /// The platform refused the post itself; repeating it cannot succeed.
    Permanent,
    /// Nothing was created; trying again is safe.
    Transient,
    /// The platform may or may not have created the post.
    Ambiguous,
}

impl ErrorClass {
    /// Every class.
    pub const ALL: [ErrorClass; 5] =
        [Self::RateLimited, Self::AuthDead, Self::Permanent, Self::Transient, Self::Ambiguous];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RateLimited => "rate_limited",
            Self::AuthDead => "auth_dead",
            Self::Permanent => "permanent",
            Self::Transient => "transient",
            Self::Ambiguous => "ambiguous",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|class| class.as_str() == value)
    }
}

/// What one publishing call's result means, classified by the platform client (publishing.md
/// A.2, B.3, F.8, F.11). The client decides the class because only it knows whether the
/// request left the machine and whether the endpoint creates anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The platform created the post and said so.
    Created,
    /// The call cannot have created anything: connect, DNS or TLS failure before the request
    /// was sent, or a failed step that publishes nothing (Instagram container creation,
    /// 9004/2207052). An HTTP 5xx is never this on a publishing call: it came after sending.
    Transient {
        /// What went wrong, for the target's error.
        detail: String,
    },
    /// 429, or Meta's throttling codes: wait until `reset_at` when the platform said when.
    RateLimited {
        /// When the platform's window resets, from its headers.
        reset_at: Option<DateTime<Utc>>,
    },
    /// 401 on the publishing call: refused before anything happened, possibly with an access
    /// token that expired early. Earns one forced token refresh and one retry. The worker
    /// reports this only once that refresh succeeded; a refresh that finds the grant dead is
    /// reported as [`Outcome::AuthDead`].
    Unauthorized,
    /// The grant is dead (revoked, password changed, Meta 190, or a 401 after the forced
    /// refresh): the channel needs reconnecting.
    AuthDead {
        /// The platform's words.
        message: String,
    },
    /// The platform refused this post for good: duplicate content, a reply restriction, a video
    /// too long, a usage cap.
    Permanent {
        /// The platform's words, shown on the target.
        message: String,
    },
    /// X's 402 `CreditsDepleted`: permanent for this post, and no X post can go out until the
    /// app's credits are topped up, so X publishing pauses for the whole deployment.
    CreditsDepleted {
        /// The platform's words.
        message: String,
    },
    /// Any 5xx, timeout or dropped connection after an irreversible call was sent (`POST
    /// /2/tweets`, `/feed`, `/photos`, `/media_publish`), and Meta's transient codes on those
    /// calls: the post may exist.
    Ambiguous {
        /// What was seen, for the target's error and the reconciliation's log.
        detail: String,
    },
}

impl Outcome {
    /// The class stored on the target, before the history of the target is considered (see
    /// [`Verdict::class`] for the class that is recorded); `None` for success.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            Self::Created => None,
            // A 401 is a refusal before anything happened, answered by a refresh: nothing about
            // the grant is known to be wrong yet.
            Self::Transient { .. } | Self::Unauthorized => Some(ErrorClass::Transient),
            Self::RateLimited { .. } => Some(ErrorClass::RateLimited),
            Self::AuthDead { .. } => Some(ErrorClass::AuthDead),
            Self::Permanent { .. } | Self::CreditsDepleted { .. } => Some(ErrorClass::Permanent),
            Self::Ambiguous { .. } => Some(ErrorClass::Ambiguous),
        }
    }

    /// What the target does next after this outcome, given what it has already spent. The
    /// rule, class by class:
    /// - created: published;
    /// - transient: retry after [`RetryPolicy::delay`], until the retries run out, then fail;
    /// - rate limited: retry no earlier than the platform's reset (or after a backoff when it
    ///   gave none) and block the channel until then; it spends no retry, because the post
    ///   itself did nothing wrong and the missed window bounds the wait;
    /// - unauthorized: force one token refresh and retry at once; a second 401 after that
    ///   refresh means the grant is dead;
    /// - auth dead: fail, and the channel needs reconnecting;
    /// - permanent: fail with the platform's message;
    /// - credits depleted: fail, and pause X publishing;
    /// - ambiguous: unknown, and reconcile before anything else is sent.
    pub fn verdict(
        &self,
        spent: Spent,
        policy: &RetryPolicy,
        now: DateTime<Utc>,
        jitter: Jitter,
    ) -> Verdict {
        let (step, consequence) = match self {
            Self::Created => (NextStep::Published, None),
            Self::Transient { .. } => match policy.delay(spent.retries, jitter) {
                Some(delay) => (NextStep::RetryAt { at: now + delay, spends_retry: true }, None),
                None => (NextStep::Fail, None),
            },
            Self::RateLimited { reset_at } => {
                let reset = match reset_at {
                    Some(reset) => (*reset).max(now),
                    None => now + policy.backoff(spent.retries, jitter),
                };
                // Targets of one channel that all wait for the same reset would all be claimed
                // in the same second and hit the limit again together.
                let at = reset + spread(RESET_SPREAD, jitter);
                let step = NextStep::RetryAt { at, spends_retry: false };
                (step, Some(Consequence::BlockChannelUntil(reset)))
            }
            Self::Unauthorized if !spent.token_refreshed => (NextStep::RefreshTokenThenRetry, None),
            Self::Unauthorized | Self::AuthDead { .. } => {
                (NextStep::Fail, Some(Consequence::ChannelNeedsReconnect))
            }
            Self::Permanent { .. } => (NextStep::Fail, None),
            Self::CreditsDepleted { .. } => (NextStep::Fail, Some(Consequence::PauseProvider)),
            Self::Ambiguous { .. } => (NextStep::Reconcile, None),
        };
        let class = match self {
            Self::Unauthorized if spent.token_refreshed => Some(ErrorClass::AuthDead),
            other => other.class(),
        };
        Verdict { step, consequence, class }
    }
}

/// What a target has already used of its second chances, as the store holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    /// Retries after failures that created nothing.
    pub retries: u32,
    /// The one forced token refresh a 401 earns.
    pub token_refreshed: bool,
}

/// What the target does after one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    /// On the platform: published.
    Published,
    /// Back to pending, claimed again no earlier than `at`: nothing was created, so another
    /// call is safe.
    RetryAt {
        /// The earliest next claim.
        at: DateTime<Utc>,
        /// Whether this retry counts against [`RetryPolicy::max_retries`].
        spends_retry: bool,
    },
    /// Back to pending at once. The worker forces a refresh of the channel's token while it
    /// still holds the claim, before it records the report: a target made claimable first
    /// could be claimed by another worker with the old token and be failed by a second 401.
    RefreshTokenThenRetry,
    /// Failed, with the verdict's class and the platform's words.
    Fail,
    /// Unknown: reconciliation looks for the post before anything else is sent.
    Reconcile,
}

/// What an outcome means beyond its own target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consequence {
    /// Claim nothing else on this channel before this time: the platform's limit is per
    /// account, and every other target would be refused too.
    BlockChannelUntil(DateTime<Utc>),
    /// Mark the channel `needs_reconnect` and fail its pending targets with a reason a person
    /// understands: none of them can go out on a dead grant.
    ChannelNeedsReconnect,
    /// Pause this provider's publishing for the whole deployment (`worker.x_credits_pause_mins`,
    /// or until an operator resumes it) and raise the critical system event
    /// `x_credits_depleted`: the credits belong to the app, not to one channel.
    PauseProvider,
}

/// The decision for one outcome: the target's next step, anything it means for the channel or
/// the platform, and the class to record on the target (`None` after success).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// What the target does next.
    pub step: NextStep,
    /// What else must happen.
    pub consequence: Option<Consequence>,
    /// The `error_class` to store.
    pub class: Option<ErrorClass>,
}

/// How far past a rate limit's reset a retry may land, so that a channel's waiting targets do
/// not all arrive in the same second.
pub const RESET_SPREAD: TimeDelta = TimeDelta::seconds(5);

/// A random fraction in [0, 1), drawn by the caller: the rules stay pure and a test can pick the
/// extremes.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Jitter(f64);

impl Jitter {
    /// No randomness: the shortest wait each rule allows.
    pub const NONE: Jitter = Jitter(0.0);

    /// The fraction, if it lies in [0, 1).
    pub fn new(fraction: f64) -> Option<Self> {
        (0.0..1.0).contains(&fraction).then_some(Self(fraction))
    }

    /// The fraction `bits / 2^32`: always in range, so any source of random `u32`s will do.
    pub fn from_bits(bits: u32) -> Self {
        Self(f64::from(bits) / 4_294_967_296.0)
    }

    /// The fraction.
    pub fn fraction(self) -> f64 {
        self.0
    }
}

/// `jitter` of `span`, to the millisecond.
fn spread(span: TimeDelta, jitter: Jitter) -> TimeDelta {
    // The spans used here (minutes) are exact in an f64, and the product, smaller than the span,
    // fits back into an i64; `as` rounds it toward zero, so a retry never lands past the span.
    let millis = (span.num_milliseconds() as f64 * jitter.fraction()) as i64;
    TimeDelta::milliseconds(millis)
}

/// When to retry a call that created nothing: exponential backoff with jitter, up to a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait before the first retry, before jitter.
    pub first_delay: TimeDelta,
    /// The longest wait, before jitter.
    pub max_delay: TimeDelta,
    /// Retries after which a failure is final.
    pub max_retries: u32,
}

impl Default for RetryPolicy {
    /// 30 s doubling to at most 15 min, five retries: the last retry comes within about half an
    /// hour of the first failure, well inside the default two-hour missed window, so a post is
    /// either out or failed while it is still timely.
    fn default() -> Self {
        Self {
            first_delay: TimeDelta::seconds(30),
            max_delay: TimeDelta::minutes(15),
            max_retries: 5,
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retries_spent + 1`, or `None` when no retry is left.
    pub fn delay(&self, retries_spent: u32, jitter: Jitter) -> Option<TimeDelta> {
        (retries_spent < self.max_retries).then(|| self.backoff(retries_spent, jitter))
    }

    /// The wait after `retries_spent` retries, whatever the limit: `first_delay` doubled that many
    /// times and capped at `max_delay`, then jittered into its upper half. The half that stays
    /// fixed keeps a retry from coming back at once; the half that varies spreads the targets
    /// an outage failed together.
    pub fn backoff(&self, retries_spent: u32, jitter: Jitter) -> TimeDelta {
        let doubled = 1_i64
            .checked_shl(retries_spent)
            .filter(|factor| *factor > 0)
            .and_then(|factor| self.first_delay.checked_mul(i32::try_from(factor).ok()?))
            .unwrap_or(self.max_delay);
        let base = doubled.min(self.max_delay);
        base / 2 + spread(base - base / 2, jitter)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    fn verdict(outcome: Outcome, spent: Spent) -> Verdict {
        outcome.verdict(spent, &RetryPolicy::default(), now(), Jitter::NONE)
    }

    fn text(words: &str) -> String {
        words.to_owned()
    }

    #[test]
    fn a_created_post_is_published_with_no_error_class() {
        let verdict = verdict(Outcome::Created, Spent::default());
        assert_eq!(verdict, Verdict { step: NextStep::Published, consequence: None, class: None });
    }

    #[test]
    fn a_failure_before_sending_is_retried_with_backoff_until_the_retries_run_out() {
        let outcome = Outcome::Transient { detail: text("connect refused") };
        let first = verdict(outcome.clone(), Spent::default());
        let at = now() + TimeDelta::seconds(15);
        assert_eq!(first.step, NextStep::RetryAt { at, spends_retry: true });
        assert_eq!((first.consequence, first.class), (None, Some(ErrorClass::Transient)));
        let last_allowed = verdict(outcome.clone(), Spent { retries: 4, ..Spent::default() });
        assert!(matches!(last_allowed.step, NextStep::RetryAt { .. }));
        let exhausted = verdict(outcome, Spent { retries: 5, ..Spent::default() });
        assert_eq!(exhausted.step, NextStep::Fail);
        assert_eq!(exhausted.class, Some(ErrorClass::Transient));
    }

    #[test]
    fn a_rate_limit_waits_for_the_platforms_reset_blocks_the_channel_and_spends_no_retry() {
        let reset = now() + TimeDelta::minutes(12);
        let outcome = Outcome::RateLimited { reset_at: Some(reset) };
        let verdict = verdict(outcome.clone(), Spent { retries: 5, ..Spent::default() });
        assert_eq!(verdict.step, NextStep::RetryAt { at: reset, spends_retry: false });
        assert_eq!(verdict.consequence, Some(Consequence::BlockChannelUntil(reset)));
        assert_eq!(verdict.class, Some(ErrorClass::RateLimited));
        let late = outcome.verdict(
            Spent::default(),
            &RetryPolicy::default(),
            now(),
            Jitter::new(0.999).unwrap(),
        );
        let NextStep::RetryAt { at, .. } = late.step else { panic!("{late:?}") };
        assert!(at >= reset && at < reset + RESET_SPREAD, "jitter spreads, never before the reset");
    }

    #[test]
    fn a_rate_limit_without_a_reset_or_with_one_in_the_past_never_retries_in_the_past() {
        let without = verdict(Outcome::RateLimited { reset_at: None }, Spent::default());
        let at = now() + TimeDelta::seconds(15);
        assert_eq!(without.step, NextStep::RetryAt { at, spends_retry: false });
        assert_eq!(without.consequence, Some(Consequence::BlockChannelUntil(at)));
        let past = now() - TimeDelta::minutes(1);
        let stale = verdict(Outcome::RateLimited { reset_at: Some(past) }, Spent::default());
        assert_eq!(stale.step, NextStep::RetryAt { at: now(), spends_retry: false });
    }

    #[test]
    fn a_401_earns_one_forced_refresh_and_a_second_401_means_the_grant_is_dead() {
        let first = verdict(Outcome::Unauthorized, Spent::default());
        assert_eq!(first.step, NextStep::RefreshTokenThenRetry);
        assert_eq!((first.consequence, first.class), (None, Some(ErrorClass::Transient)));
        let again = verdict(Outcome::Unauthorized, Spent { token_refreshed: true, retries: 0 });
        assert_eq!(again.step, NextStep::Fail);
        assert_eq!(again.consequence, Some(Consequence::ChannelNeedsReconnect));
        assert_eq!(again.class, Some(ErrorClass::AuthDead));
    }

    #[test]
    fn a_dead_grant_fails_the_target_and_asks_for_the_channel_to_be_reconnected() {
        let verdict = verdict(Outcome::AuthDead { message: text("revoked") }, Spent::default());
        assert_eq!(verdict.step, NextStep::Fail);
        assert_eq!(verdict.consequence, Some(Consequence::ChannelNeedsReconnect));
        assert_eq!(verdict.class, Some(ErrorClass::AuthDead));
    }

    #[test]
    fn a_permanent_refusal_fails_at_once_whatever_is_left_to_spend() {
        let duplicate = Outcome::Permanent { message: text("duplicate content") };
        let verdict = verdict(duplicate, Spent::default());
        assert_eq!(verdict.step, NextStep::Fail);
        assert_eq!((verdict.consequence, verdict.class), (None, Some(ErrorClass::Permanent)));
    }

    #[test]
    fn depleted_x_credits_fail_the_target_and_pause_the_provider() {
        let outcome = Outcome::CreditsDepleted { message: text("no credits") };
        let verdict = verdict(outcome, Spent::default());
        assert_eq!(verdict.step, NextStep::Fail);
        assert_eq!(verdict.consequence, Some(Consequence::PauseProvider));
        assert_eq!(verdict.class, Some(ErrorClass::Permanent));
    }

    #[test]
    fn an_ambiguous_answer_is_reconciled_never_retried_even_with_retries_left() {
        let outcome = Outcome::Ambiguous { detail: text("503 after sending") };
        let verdict = verdict(outcome, Spent::default());
        assert_eq!(verdict.step, NextStep::Reconcile);
        assert_eq!((verdict.consequence, verdict.class), (None, Some(ErrorClass::Ambiguous)));
    }

    #[test]
    fn backoff_doubles_from_the_first_delay_up_to_the_cap_within_its_upper_half() {
        let policy = RetryPolicy::default();
        let waits: Vec<i64> =
            (0..8).map(|spent| policy.backoff(spent, Jitter::NONE).num_seconds()).collect();
        assert_eq!(waits, [15, 30, 60, 120, 240, 450, 450, 450]);
        let most = Jitter::new(0.999_999).unwrap();
        assert_eq!(policy.backoff(0, most), TimeDelta::milliseconds(29_999));
        assert_eq!(policy.backoff(u32::MAX, Jitter::NONE), TimeDelta::minutes(15) / 2);
        assert_eq!(policy.delay(policy.max_retries, Jitter::NONE), None);
    }

    #[test]
    fn jitter_is_a_fraction_in_zero_to_one() {
        assert_eq!(Jitter::new(0.0), Some(Jitter::NONE));
        assert!(Jitter::new(1.0).is_none() && Jitter::new(-0.1).is_none());
        assert!(Jitter::new(f64::NAN).is_none());
        assert!(Jitter::from_bits(u32::MAX).fraction() < 1.0);
        assert_eq!(Jitter::from_bits(0), Jitter::NONE);
    }

    #[test]
    fn error_classes_round_trip_as_api_md_names_them() {
        let names: Vec<&str> = ErrorClass::ALL.map(ErrorClass::as_str).to_vec();
        assert_eq!(names, ["rate_limited", "auth_dead", "permanent", "transient", "ambiguous"]);
        assert!(
            ErrorClass::ALL
                .into_iter()
                .all(|class| ErrorClass::parse(class.as_str()) == Some(class))
        );
    }
}
