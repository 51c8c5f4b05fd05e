//! Rate limiting (S-EDGE-1, S-AUTH-7, S-UPLOAD-3): one component, two stores behind
//! [`LimitStore`] — in-process and Redis (atomic scripts, shared by every instance). Each store
//! counts a quota one of two ways ([`Counting`]): a bucket that refills evenly (GCRA) for the
//! request budget, and a sliding window for the limits the security page states as "N per T",
//! which a refilling bucket would exceed (it admits N at once and then more as it refills).

mod memory;
mod redis;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use postroute_domain::NewSystemEvent;
use postroute_store::Store;

use crate::system_events;

pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

/// How a quota counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counting {
    /// A bucket of `burst` that refills evenly over `period` (GCRA): smooths traffic.
    Refill,
    /// At most `burst` in any span of `period` (a sliding log of the admitted requests).
    Window,
}

/// One limit: `burst` requests per `period`, counted as `counting` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Names the bucket; keys of different quotas never mix.
    pub name: &'static str,
    /// Requests allowed at once.
    pub burst: u32,
    /// Time for an empty bucket to refill completely, or the window's length.
    pub period: Duration,
    /// Refilling bucket or sliding window.
    pub counting: Counting,
}

impl Quota {
    /// Time for one request's worth of capacity to return.
    pub fn emission_interval(&self) -> Duration {
        self.period / self.burst.max(1)
    }
}

/// The answer for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The quota's burst (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests left right now (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Until the bucket is full again (`RateLimit-Reset`).
    pub reset_after: Duration,
    /// Until the next request would be allowed (`Retry-After`); zero when allowed.
    pub retry_after: Duration,
}

/// The shared store failed to answer.
#[derive(Debug, thiserror::Error)]
#[error("rate-limit store unavailable: {0}")]
pub struct LimitStoreError(pub String);

/// Where bucket state lives.
pub trait LimitStore: Send + Sync + std::fmt::Debug {
    /// Takes one request from `key`'s bucket of `quota`, if it has one.
    fn check<'a>(
        &'a self,
        quota: &'a Quota,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Decision, LimitStoreError>>;

    /// Succeeds when the store answers (readiness).
    fn ping(&self) -> BoxFuture<'_, Result<(), LimitStoreError>>;

    /// Drops state that no longer matters (full buckets), where the store keeps it in memory.
    fn forget_full_buckets(&self) {}
}

/// The rate limiter the HTTP layer consults.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    store: Arc<dyn LimitStore>,
    /// Used when a shared store fails, so a Redis outage degrades limits to per-instance
    /// instead of switching them off or refusing every request.
    fallback: Option<Arc<MemoryStore>>,
    trips: Arc<TripLog>,
}

impl RateLimiter {
    /// Limits kept in this process.
    pub fn in_memory() -> Self {
        Self { store: Arc::new(MemoryStore::default()), fallback: None, trips: Arc::default() }
    }

    /// Limits shared through Redis, falling back to this process's memory while Redis fails.
    pub fn redis(store: RedisStore) -> Self {
        Self {
            store: Arc::new(store),
            fallback: Some(Arc::new(MemoryStore::default())),
            trips: Arc::default(),
        }
    }

    /// Takes one request from the bucket of `quota` for the client at `ip`.
    pub async fn check(&self, quota: &Quota, ip: IpAddr) -> Decision {
        self.check_subject(quota, &client_key(ip)).await
    }

    /// Takes one request from the bucket of `quota` for `subject` (an account, for limits
    /// that follow a person rather than an address).
    pub async fn check_subject(&self, quota: &Quota, subject: &str) -> Decision {
        let key = format!("{}:{subject}", quota.name);
        match self.store.check(quota, &key).await {
            Ok(decision) => decision,
            Err(error) => {
                tracing::warn!(
                    error = display(&error),
                    "shared rate-limit store failed; limiting per instance"
                );
                match &self.fallback {
                    Some(fallback) => fallback.check(quota, &key).await.unwrap_or(ALLOW_UNCOUNTED),
                    None => ALLOW_UNCOUNTED,
                }
            }
        }
    }

    /// Succeeds when the limit store answers.
    pub async fn ping(&self) -> Result<(), LimitStoreError> {
        self.store.ping().await
    }

    /// Bounds the memory of in-process buckets; run periodically.
    pub fn forget_full_buckets(&self) {
        self.store.forget_full_buckets();
        if let Some(fallback) = &self.fallback {
            fallback.forget_full_buckets();
        }
    }

    /// True the first time in a minute that `quota` trips for `ip`: trips are worth one system
    /// event, not one per refused request (that would let a flood write to the database).
    pub fn first_trip_in_a_while(&self, quota: &Quota, ip: IpAddr) -> bool {
        self.first_trip_in_a_while_for(quota, &client_key(ip))
    }

    /// [`Self::first_trip_in_a_while`] for a subject of [`Self::check_subject`].
    pub fn first_trip_in_a_while_for(&self, quota: &Quota, subject: &str) -> bool {
        self.trips.first_in_a_while(format!("{}:{subject}", quota.name))
    }

    /// Takes one request from `subject`'s bucket of `quota`. A refusal is written as the system
    /// event `event` builds, the first time in a while for that subject, so a client hammering a
    /// limit leaves a bounded trail; the event is only built when it is written.
    pub async fn admit(
        &self,
        store: &Store,
        quota: &Quota,
        subject: &str,
        event: impl FnOnce() -> NewSystemEvent,
    ) -> Decision {
        let decision = self.check_subject(quota, subject).await;
        if !decision.allowed && self.first_trip_in_a_while_for(quota, subject) {
            system_events::record(store, event()).await;
        }
        decision
    }
}

/// Only reachable if the in-memory store itself fails, which it cannot; stated for totality.
const ALLOW_UNCOUNTED: Decision = Decision {
    allowed: true,
    limit: 0,
    remaining: 0,
    reset_after: Duration::ZERO,
    retry_after: Duration::ZERO,
};

/// The bucket key of a client: its IPv4 address, or its IPv6 /64 (one subscriber's network,
/// which an attacker can otherwise walk through address by address).
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[derive(Debug, Default)]
struct TripLog {
    last: Mutex<HashMap<String, Instant>>,
}

impl TripLog {
    const QUIET: Duration = Duration::from_secs(60);

    fn first_in_a_while(&self, key: String) -> bool {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.len() > 10_000 {
            last.retain(|_, at| now.duration_since(*at) < Self::QUIET);
        }
        match last.get(&key) {
            Some(at) if now.duration_since(*at) < Self::QUIET => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_a_bucket_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        assert_eq!(client_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
    }

    #[test]
    fn trips_are_reported_once_a_minute() {
        let log = TripLog::default();
        assert!(log.first_in_a_while("k".to_owned()));
        assert!(!log.first_in_a_while("k".to_owned()));
        assert!(log.first_in_a_while("other".to_owned()));
    }
}
