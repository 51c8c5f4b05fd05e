//! The in-process store: governor's keyed GCRA limiters for refilling quotas, and a sliding log
//! per key for windowed ones.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, FutureExt};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

use super::{Counting, Decision, LimitStore, LimitStoreError, Quota};

type KeyedLimiter = governor::RateLimiter<
    String,
    DefaultKeyedStateStore<String>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// Buckets in this process's memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    limiters: RwLock<HashMap<Quota, Arc<KeyedLimiter>>>,
    windows: Mutex<HashMap<String, Window>>,
}

/// The admission times within one key's window, oldest first (at most `burst` of them).
#[derive(Debug, Default)]
struct Window {
    period: Duration,
    admitted: VecDeque<Instant>,
}

impl Window {
    /// Admits a request at `now` if fewer than `quota.burst` were admitted in the `period`
    /// before it. Refused requests are not recorded: a flood does not prolong its own refusal.
    fn hit(&mut self, quota: &Quota, now: Instant) -> Decision {
        self.period = quota.period;
        while self.admitted.front().is_some_and(|at| now.duration_since(*at) >= quota.period) {
            self.admitted.pop_front();
        }
        let limit = quota.burst;
        let frees_at = |at: &Instant| (*at + quota.period).saturating_duration_since(now);
        if self.admitted.len() < limit as usize {
            self.admitted.push_back(now);
            Decision {
                allowed: true,
                limit,
                remaining: limit - self.admitted.len() as u32,
                reset_after: quota.period,
                retry_after: Duration::ZERO,
            }
        } else {
            Decision {
                allowed: false,
                limit,
                remaining: 0,
                reset_after: self.admitted.back().map_or(Duration::ZERO, frees_at),
                retry_after: self.admitted.front().map_or(Duration::ZERO, frees_at),
            }
        }
    }

    fn expired(&self, now: Instant) -> bool {
        self.admitted.back().is_none_or(|newest| now.duration_since(*newest) >= self.period)
    }
}

impl MemoryStore {
    fn limiter(&self, quota: &Quota) -> Arc<KeyedLimiter> {
        if let Some(limiter) =
            self.limiters.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(quota)
        {
            return limiter.clone();
        }
        let mut limiters = self.limiters.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        limiters
            .entry(*quota)
            .or_insert_with(|| {
                let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
                let governor_quota = governor::Quota::with_period(
                    quota.emission_interval().max(Duration::from_nanos(1)),
                )
                .unwrap_or_else(|| unreachable!("a positive period"))
                .allow_burst(burst);
                Arc::new(
                    governor::RateLimiter::keyed(governor_quota)
                        .with_middleware::<StateInformationMiddleware>(),
                )
            })
            .clone()
    }

    fn decide(&self, quota: &Quota, key: &str) -> Decision {
        if quota.counting == Counting::Window {
            let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            return windows.entry(key.to_owned()).or_default().hit(quota, Instant::now());
        }
        let limiter = self.limiter(quota);
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit: quota.burst,
                    remaining,
                    reset_after: quota.emission_interval() * quota.burst.saturating_sub(remaining),
                    retry_after: Duration::ZERO,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision {
                    allowed: false,
                    limit: quota.burst,
                    remaining: 0,
                    reset_after: quota.period,
                    retry_after: wait,
                }
            }
        }
    }
}

impl LimitStore for MemoryStore {
    fn check<'a>(
        &'a self,
        quota: &'a Quota,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Decision, LimitStoreError>> {
        let decision = self.decide(quota, key);
        async move { Ok(decision) }.boxed()
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), LimitStoreError>> {
        async { Ok(()) }.boxed()
    }

    fn forget_full_buckets(&self) {
        for limiter in
            self.limiters.read().unwrap_or_else(|poisoned| poisoned.into_inner()).values()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        windows.retain(|_, window| !window.expired(now));
        windows.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_PER_FIVE_MINUTES: Quota = Quota {
        name: "test",
        burst: 5,
        period: Duration::from_secs(300),
        counting: Counting::Window,
    };

    #[test]
    fn a_window_admits_at_most_its_limit_in_any_span_of_its_period() {
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        let mut window = Window::default();
        // Five spread over four minutes pass; a refilling bucket would admit more meanwhile.
        for (n, second) in [0, 60, 120, 180, 240].into_iter().enumerate() {
            let decision = window.hit(&FIVE_PER_FIVE_MINUTES, at(second));
            assert!(decision.allowed);
            assert_eq!(decision.remaining, 4 - n as u32);
        }
        let refused = window.hit(&FIVE_PER_FIVE_MINUTES, at(299));
        assert!(!refused.allowed);
        assert_eq!(
            refused.retry_after,
            Duration::from_secs(1),
            "until the first leaves the window"
        );
        assert_eq!(refused.reset_after, Duration::from_secs(241));
        // Five minutes after the first, one slot is free again, and only one.
        assert!(window.hit(&FIVE_PER_FIVE_MINUTES, at(300)).allowed);
        assert!(!window.hit(&FIVE_PER_FIVE_MINUTES, at(301)).allowed);
        assert!(window.hit(&FIVE_PER_FIVE_MINUTES, at(360)).allowed);
        assert!(!window.expired(at(599)));
        assert!(window.expired(at(660)));
    }
}
