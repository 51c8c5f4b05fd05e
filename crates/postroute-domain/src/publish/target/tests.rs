use chrono::TimeZone;

use super::*;
use crate::publish::{Consequence, ErrorClass};
use TargetStatus::*;

fn due() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
}

fn minutes(count: i64) -> TimeDelta {
    TimeDelta::minutes(count)
}

fn window() -> MissedAfter {
    MissedAfter::default()
}

fn claimed() -> TargetState {
    TargetState::new(due()).claim(due(), window()).unwrap()
}

fn report(target: &TargetState, outcome: Outcome) -> Result<Reported, TargetError> {
    target.report(target.fence, &outcome, &RetryPolicy::default(), due(), Jitter::NONE)
}

fn unknown() -> TargetState {
    report(&claimed(), Outcome::Ambiguous { detail: "timeout".to_owned() }).unwrap().target
}

fn in_status(status: TargetStatus) -> TargetState {
    TargetState { status, ..TargetState::new(due()) }
}

#[test]
fn a_claim_moves_a_due_pending_target_to_publishing_with_a_larger_fence() {
    let target = TargetState::new(due());
    let first = target.claim(due(), window()).unwrap();
    assert_eq!((first.status, first.fence, first.attempts), (Publishing, Fence::from_stored(1), 1));
    let retried = TargetState { status: Pending, ..first.clone() };
    let second = retried.claim(due() + minutes(1), window()).unwrap();
    assert!(second.fence > first.fence, "every claim grows the fence");
    assert_eq!(second.attempts, 2);
}

#[test]
fn a_claim_waits_for_the_due_time_and_the_backoff() {
    let early = TargetState::new(due()).claim(due() - minutes(1), window());
    assert_eq!(early, Err(TargetError::NotDue { at: due() }));
    let backing_off =
        TargetState { not_before: Some(due() + minutes(5)), ..TargetState::new(due()) };
    let refused = backing_off.claim(due() + minutes(4), window());
    assert_eq!(refused, Err(TargetError::NotDue { at: due() + minutes(5) }));
    assert!(backing_off.claim(due() + minutes(5), window()).is_ok());
}

#[test]
fn a_claim_of_a_target_later_than_the_missed_window_is_refused_and_the_sweep_marks_it_missed() {
    let target = TargetState::new(due());
    let late = due() + minutes(121);
    assert_eq!(target.claim(late, window()), Err(TargetError::CameDueTooLate { due_at: due() }));
    assert_eq!(target.miss(late, window()).unwrap().status, Missed);
    assert!(target.claim(due() + minutes(120), window()).is_ok(), "exactly the window is on time");
    assert!(matches!(
        target.miss(due() + minutes(120), window()),
        Err(TargetError::NotAllowed { from: Pending, .. })
    ));
}

#[test]
fn a_retry_that_comes_after_the_missed_window_is_missed_too() {
    let waiting = TargetState { not_before: Some(due() + minutes(150)), ..TargetState::new(due()) };
    let result = waiting.claim(due() + minutes(150), window());
    assert_eq!(result, Err(TargetError::CameDueTooLate { due_at: due() }));
}

#[test]
fn only_a_pending_target_is_claimed_or_marked_missed() {
    let late = due() + minutes(500);
    for status in TargetStatus::ALL.into_iter().filter(|status| *status != Pending) {
        let target = in_status(status);
        assert!(
            matches!(target.claim(due(), window()), Err(TargetError::NotAllowed { .. })),
            "{status}"
        );
        assert!(
            matches!(target.miss(late, window()), Err(TargetError::NotAllowed { .. })),
            "{status}"
        );
    }
}

#[test]
fn an_outcome_reported_with_a_stale_fence_is_refused() {
    let first = claimed();
    let expired = first.lease_expired(first.fence, false).unwrap();
    let second = expired.claim(due() + minutes(1), window()).unwrap();
    let stale =
        second.report(first.fence, &Outcome::Created, &RetryPolicy::default(), due(), Jitter::NONE);
    assert_eq!(
        stale,
        Err(TargetError::StaleFence { reported: first.fence, current: second.fence })
    );
    assert_eq!(report(&second, Outcome::Created).unwrap().target.status, Published);
}

#[test]
fn a_stale_fence_is_refused_even_after_the_target_has_settled() {
    let first = claimed();
    let second = first.lease_expired(first.fence, false).unwrap().claim(due(), window()).unwrap();
    let settled = report(&second, Outcome::Created).unwrap().target;
    let late_report = settled.report(
        first.fence,
        &Outcome::Created,
        &RetryPolicy::default(),
        due(),
        Jitter::NONE,
    );
    assert!(matches!(late_report, Err(TargetError::StaleFence { .. })));
    assert!(matches!(
        settled.lease_expired(first.fence, true),
        Err(TargetError::StaleFence { .. })
    ));
}

#[test]
fn a_fence_the_target_never_issued_is_refused_too() {
    let target = claimed();
    let foreign = target.fence.next();
    let result =
        target.report(foreign, &Outcome::Created, &RetryPolicy::default(), due(), Jitter::NONE);
    assert_eq!(result, Err(TargetError::StaleFence { reported: foreign, current: target.fence }));
}

#[test]
fn a_second_report_for_the_same_claim_is_refused() {
    let published = report(&claimed(), Outcome::Created).unwrap().target;
    let again = report(&published, Outcome::Permanent { message: "late".to_owned() });
    assert!(matches!(again, Err(TargetError::NotAllowed { from: Published, .. })));
}

#[test]
fn every_outcome_class_moves_the_target_as_its_rule_says() {
    let target = claimed();
    let cases = [
        (Outcome::Created, Published),
        (Outcome::Transient { detail: "dns".to_owned() }, Pending),
        (Outcome::RateLimited { reset_at: Some(due() + minutes(15)) }, Pending),
        (Outcome::Unauthorized, Pending),
        (Outcome::AuthDead { message: "revoked".to_owned() }, Failed),
        (Outcome::Permanent { message: "duplicate".to_owned() }, Failed),
        (Outcome::CreditsDepleted { message: "credits".to_owned() }, Failed),
        (Outcome::Ambiguous { detail: "503".to_owned() }, Unknown),
    ];
    for (outcome, expected) in cases {
        let reported = report(&target, outcome.clone()).unwrap();
        assert_eq!(reported.target.status, expected, "{outcome:?}");
        assert_eq!(reported.target.fence, target.fence, "a report never claims");
    }
}

#[test]
fn a_transient_failure_spends_a_retry_and_a_rate_limit_does_not() {
    let transient = report(&claimed(), Outcome::Transient { detail: "tls".to_owned() }).unwrap();
    assert_eq!(transient.target.spent.retries, 1);
    assert_eq!(transient.target.not_before, Some(due() + TimeDelta::seconds(15)));
    let reset = due() + minutes(15);
    let limited = report(&claimed(), Outcome::RateLimited { reset_at: Some(reset) }).unwrap();
    assert_eq!(limited.target.spent.retries, 0);
    assert_eq!(limited.target.not_before, Some(reset));
    assert_eq!(limited.verdict.consequence, Some(Consequence::BlockChannelUntil(reset)));
    let too_early = limited.target.claim(reset - TimeDelta::seconds(1), window());
    assert_eq!(too_early, Err(TargetError::NotDue { at: reset }), "the reset is honoured");
}

#[test]
fn a_401_refreshes_the_token_once_and_the_next_401_fails_the_target_as_auth_dead() {
    let refreshed = report(&claimed(), Outcome::Unauthorized).unwrap().target;
    assert!(refreshed.spent.token_refreshed);
    assert_eq!(refreshed.claimable_at(), due(), "retried at once");
    let again = refreshed.claim(due(), window()).unwrap();
    let dead = report(&again, Outcome::Unauthorized).unwrap();
    assert_eq!(dead.target.status, Failed);
    assert_eq!(dead.verdict.class, Some(ErrorClass::AuthDead));
}

#[test]
fn retries_run_out_into_failed() {
    let mut target = claimed();
    for _ in 0..RetryPolicy::default().max_retries {
        let next = report(&target, Outcome::Transient { detail: "dns".to_owned() }).unwrap().target;
        assert_eq!(next.status, Pending);
        target = TargetState { not_before: None, ..next }.claim(due(), window()).unwrap();
    }
    let last = report(&target, Outcome::Transient { detail: "dns".to_owned() }).unwrap().target;
    assert_eq!(last.status, Failed);
}

#[test]
fn an_expired_lease_without_an_intent_waits_for_the_next_claim() {
    let target = claimed();
    let released = target.lease_expired(target.fence, false).unwrap();
    assert_eq!((released.status, released.fence), (Pending, target.fence));
}

#[test]
fn an_expired_lease_after_the_intent_goes_to_reconciliation_like_an_ambiguous_answer() {
    let target = claimed();
    let released = target.lease_expired(target.fence, true).unwrap();
    assert_eq!(released.status, Unknown);
    assert_eq!(released, unknown(), "the same state an ambiguous answer leaves");
}

#[test]
fn an_unknown_target_is_never_claimed_so_never_retried_blindly() {
    assert!(matches!(
        unknown().claim(due() + minutes(1), window()),
        Err(TargetError::NotAllowed { .. })
    ));
}

#[test]
fn reconciliation_that_finds_the_post_publishes_the_target() {
    let found = unknown().reconciled(Finding::Found, due(), window()).unwrap();
    assert_eq!((found.target.status, found.asks_person), (Published, false));
}

#[test]
fn reconciliation_that_proves_absence_allows_exactly_one_retry() {
    let absent = unknown().reconciled(Finding::Absent, due() + minutes(5), window()).unwrap();
    assert_eq!((absent.target.status, absent.asks_person), (Pending, false));
    assert!(absent.target.absence_retried);
    let retried = absent.target.claim(due() + minutes(5), window()).unwrap();
    let ambiguous_again = report(&retried, Outcome::Ambiguous { detail: "timeout".to_owned() });
    let unknown_again = ambiguous_again.unwrap().target;
    let absent_again =
        unknown_again.reconciled(Finding::Absent, due() + minutes(9), window()).unwrap();
    assert_eq!((absent_again.target.status, absent_again.asks_person), (Unknown, true));
}

#[test]
fn reconciliation_that_proves_absence_after_the_missed_window_marks_the_target_missed() {
    let late = due() + minutes(121);
    let absent = unknown().reconciled(Finding::Absent, late, window()).unwrap();
    assert_eq!((absent.target.status, absent.asks_person), (Missed, true));
}

#[test]
fn inconclusive_reconciliation_leaves_the_target_unknown_and_asks_a_person() {
    let inconclusive = unknown().reconciled(Finding::Inconclusive, due(), window()).unwrap();
    assert_eq!((inconclusive.target.status, inconclusive.asks_person), (Unknown, true));
}

#[test]
fn only_an_unknown_target_is_reconciled() {
    for status in TargetStatus::ALL.into_iter().filter(|status| *status != Unknown) {
        let result = in_status(status).reconciled(Finding::Found, due(), window());
        assert!(matches!(result, Err(TargetError::NotAllowed { .. })), "{status}");
    }
}

#[test]
fn a_person_may_mark_published_only_an_unknown_target() {
    assert_eq!(unknown().mark_published().unwrap().status, Published);
    for status in TargetStatus::ALL.into_iter().filter(|status| *status != Unknown) {
        assert!(in_status(status).mark_published().is_err(), "{status}");
    }
}

#[test]
fn a_person_may_retry_a_failed_missed_or_unknown_target_due_now_with_fresh_chances() {
    let now = due() + minutes(600);
    let worn = TargetState {
        spent: Spent { retries: 5, token_refreshed: true },
        absence_retried: true,
        not_before: Some(due() + minutes(30)),
        ..TargetState::new(due())
    };
    for status in [Failed, Missed, Unknown] {
        let retried = TargetState { status, ..worn.clone() }.retry_by_person(now).unwrap();
        assert_eq!((retried.status, retried.due_at, retried.not_before), (Pending, now, None));
        assert_eq!((retried.spent, retried.absence_retried), (Spent::default(), false));
        assert!(retried.claim(now, window()).is_ok(), "{status}: not missed again at once");
    }
    for status in [Pending, Publishing, Published] {
        assert!(in_status(status).retry_by_person(now).is_err(), "{status}");
    }
}

#[test]
fn a_person_may_dismiss_an_unknown_or_missed_target_which_then_counts_as_failed() {
    for status in [Unknown, Missed] {
        assert_eq!(in_status(status).dismiss().unwrap().status, Failed, "{status}");
    }
    for status in [Pending, Publishing, Published, Failed] {
        assert!(in_status(status).dismiss().is_err(), "{status}");
    }
}

#[test]
fn a_lost_channel_fails_its_pending_targets_and_leaves_the_others() {
    assert_eq!(in_status(Pending).channel_lost().unwrap().status, Failed);
    for status in TargetStatus::ALL.into_iter().filter(|status| *status != Pending) {
        assert!(in_status(status).channel_lost().is_err(), "{status}");
    }
}

#[test]
fn no_irreversible_call_starts_unless_the_lease_outlasts_the_call_and_a_margin() {
    let now = due();
    let timeout = TimeDelta::seconds(20);
    assert!(may_start_call(now + TimeDelta::seconds(60), now, timeout));
    assert!(!may_start_call(now + timeout + SEND_MARGIN, now, timeout), "the margin is kept");
    assert!(may_start_call(now + timeout + SEND_MARGIN + TimeDelta::seconds(1), now, timeout));
    assert!(!may_start_call(now - TimeDelta::seconds(1), now, timeout), "an expired lease");
}

#[test]
fn a_publish_lease_must_be_at_least_three_call_timeouts() {
    let timeout = TimeDelta::seconds(20);
    assert!(lease_outlasts_calls(TimeDelta::seconds(60), timeout), "the defaults");
    assert!(!lease_outlasts_calls(TimeDelta::seconds(59), timeout));
    assert!(!lease_outlasts_calls(TimeDelta::MAX, TimeDelta::MAX), "no overflow into a yes");
}

#[test]
fn reconciliation_looks_three_times_with_growing_waits() {
    let looks: Vec<Option<TimeDelta>> = (0..4).map(next_reconcile_look).collect();
    assert_eq!(looks, [Some(TimeDelta::seconds(20)), Some(minutes(2)), Some(minutes(10)), None]);
    assert_eq!(next_reconcile_look(u32::MAX), None);
}

#[test]
fn the_fence_never_wraps() {
    assert_eq!(Fence::from_stored(i64::MAX).next(), Fence::from_stored(i64::MAX));
    assert_eq!(Fence::UNCLAIMED.next().get(), 1);
}
