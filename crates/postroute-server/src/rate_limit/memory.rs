//! The in-process store: governor's keyed GCRA limiters, one per quota.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;

use super::{Decision, LimitStore, LimitStoreError, Quota};

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
    }
}
