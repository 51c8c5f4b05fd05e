//! What production does to a caller, on demand: an outage, slow answers and rate limits. Each
//! fake keeps one `Faults` and answers in its own platform's words (status, body, headers).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::http::StatusCode;
use serde_json::Value;

/// Switches a test or a person flips through the control API or the fake's methods.
#[derive(Clone, Debug, Default)]
pub(crate) struct Faults {
    /// While set, the fake answers every platform request with this status.
    pub outage: Option<StatusCode>,
    /// Added before every answer.
    pub latency: Duration,
    /// While set, the fake answers 429 (or the platform's equivalent) until the reset passes.
    pub rate_limit: Option<RateLimit>,
}

/// A rate-limit window that is exhausted until `reset_at`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RateLimit {
    /// The window's size, for the `*-limit` headers.
    pub limit: u32,
    /// Unix seconds when the window resets.
    pub reset_at: u64,
}

impl RateLimit {
    /// Seconds until the reset, at least one: a header saying 0 invites a busy loop.
    pub fn seconds_left(&self) -> u64 {
        self.reset_at.saturating_sub(unix_now()).max(1)
    }
}

impl RateLimit {
    /// A spent window of `limit` calls that resets after `reset_in`.
    pub fn spent(limit: u32, reset_in: Duration) -> Self {
        Self { limit, reset_at: unix_now() + reset_in.as_secs().max(1) }
    }
}

impl Faults {
    /// The rate limit still in force, clearing one whose reset has passed.
    pub fn active_rate_limit(&mut self) -> Option<RateLimit> {
        match self.rate_limit {
            Some(limit) if limit.reset_at > unix_now() => Some(limit),
            _ => {
                self.rate_limit = None;
                None
            }
        }
    }

    /// Applies a control request body shared by every fake:
    /// `{"outage": 503 | null, "latency_ms": 250, "rate_limit": {"limit": 75, "reset_in_secs": 60} | null}`;
    /// absent keys keep their setting.
    pub fn apply(&mut self, body: &Value) -> Result<(), String> {
        if let Some(outage) = body.get("outage") {
            self.outage = match outage {
                Value::Null => None,
                value => Some(
                    value
                        .as_u64()
                        .and_then(|code| u16::try_from(code).ok())
                        .and_then(|code| StatusCode::from_u16(code).ok())
                        .ok_or("outage must be an HTTP status or null")?,
                ),
            };
        }
        if let Some(latency) = body.get("latency_ms") {
            self.latency =
                Duration::from_millis(latency.as_u64().ok_or("latency_ms must be a number")?);
        }
        if let Some(limit) = body.get("rate_limit") {
            self.rate_limit = match limit {
                Value::Null => None,
                value => Some(RateLimit {
                    limit: value
                        .get("limit")
                        .and_then(Value::as_u64)
                        .and_then(|limit| u32::try_from(limit).ok())
                        .unwrap_or(75),
                    reset_at: unix_now()
                        + value.get("reset_in_secs").and_then(Value::as_u64).unwrap_or(900),
                }),
            };
        }
        Ok(())
    }
}

/// Seconds since the epoch (0 if the clock is before it, which no test machine is).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |now| now.as_secs())
}

/// A refused control request: the caller sent something the control API does not understand.
pub(crate) fn bad_control(message: &str) -> (StatusCode, Json<Value>) {
    (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": message})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bodies_set_and_clear_faults() {
        let mut faults = Faults::default();
        let body = serde_json::json!({
            "outage": 503,
            "latency_ms": 20,
            "rate_limit": { "limit": 5, "reset_in_secs": 30 },
        });
        faults.apply(&body).unwrap();
        assert_eq!(faults.outage, Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(faults.latency, Duration::from_millis(20));
        let limit = faults.active_rate_limit().unwrap();
        assert_eq!(limit.limit, 5);
        assert!((29..=30).contains(&limit.seconds_left()));
        faults.apply(&serde_json::json!({"outage": null, "rate_limit": null})).unwrap();
        assert_eq!(faults.outage, None);
        assert!(faults.active_rate_limit().is_none());
        assert_eq!(faults.latency, Duration::from_millis(20), "absent keys are kept");
        assert!(faults.apply(&serde_json::json!({"outage": "soon"})).is_err());
    }

    #[test]
    fn a_passed_reset_lifts_the_limit() {
        let mut faults = Faults {
            rate_limit: Some(RateLimit { limit: 1, reset_at: unix_now() - 1 }),
            ..Faults::default()
        };
        assert!(faults.active_rate_limit().is_none());
        assert!(faults.rate_limit.is_none());
    }
}
