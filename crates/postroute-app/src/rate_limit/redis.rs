//! The shared store: Lua scripts run atomically inside Redis, on Redis's clock, so every
//! instance draws from the same bucket and no two can race past the limit. Refilling quotas
//! keep GCRA's one number per key; windowed quotas keep a sorted set of admission times.

use std::time::Duration;

use futures_util::future::{BoxFuture, FutureExt};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Counting, Decision, LimitStore, LimitStoreError, Quota};

/// GCRA: the stored value is the bucket's theoretical arrival time (TAT) in microseconds.
/// Returns {allowed, remaining, retry_after_us, reset_after_us}.
const GCRA: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local emission = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tolerance = emission * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now + tolerance - new_tat) / emission), 0, new_tat - now}
";

/// A sliding window: the key is a sorted set of admission times (microseconds, unique members
/// from the caller). Returns {allowed, remaining, retry_after_us, reset_after_us}.
const WINDOW: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, limit - count - 1, 0, window}
end
local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
local newest = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
return {0, 0, oldest + window - now, newest + window - now}
";

/// Buckets in Redis.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    script: redis::Script,
    window_script: redis::Script,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisStore")
    }
}

impl RedisStore {
    /// Connects to `url`; fails when Redis cannot be reached now. Keys start with `key_prefix`.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, LimitStoreError> {
        let client =
            redis::Client::open(url).map_err(|error| LimitStoreError(error.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_millis(500))
            .set_number_of_retries(1);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|error| LimitStoreError(error.to_string()))?;
        Ok(Self {
            connection,
            script: redis::Script::new(GCRA),
            window_script: redis::Script::new(WINDOW),
            prefix: format!("{key_prefix}ratelimit:"),
        })
    }
}

impl LimitStore for RedisStore {
    fn check<'a>(
        &'a self,
        quota: &'a Quota,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Decision, LimitStoreError>> {
        async move {
            let mut connection = self.connection.clone();
            let key = format!("{}{key}", self.prefix);
            let answer: Result<(i64, i64, i64, i64), _> = match quota.counting {
                Counting::Refill => {
                    let emission_us = u64::try_from(quota.emission_interval().as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1);
                    self.script
                        .key(key)
                        .arg(emission_us)
                        .arg(quota.burst)
                        .invoke_async(&mut connection)
                        .await
                }
                Counting::Window => {
                    let window_us =
                        u64::try_from(quota.period.as_micros()).unwrap_or(u64::MAX).max(1);
                    self.window_script
                        .key(key)
                        .arg(window_us)
                        .arg(quota.burst)
                        .arg(uuid::Uuid::now_v7().simple().to_string())
                        .invoke_async(&mut connection)
                        .await
                }
            };
            let (allowed, remaining, retry_after_us, reset_after_us) =
                answer.map_err(|error| LimitStoreError(error.to_string()))?;
            let micros = |value: i64| Duration::from_micros(u64::try_from(value).unwrap_or(0));
            Ok(Decision {
                allowed: allowed == 1,
                limit: quota.burst,
                remaining: u32::try_from(remaining).unwrap_or(0),
                reset_after: micros(reset_after_us),
                retry_after: micros(retry_after_us),
            })
        }
        .boxed()
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), LimitStoreError>> {
        async move {
            let mut connection = self.connection.clone();
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map(drop)
                .map_err(|error| LimitStoreError(error.to_string()))
        }
        .boxed()
    }
}
