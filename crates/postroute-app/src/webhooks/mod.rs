//! Webhook ingestion (S-EDGE-2): every delivery's HMAC is checked over the raw body, in constant
//! time, before a byte of it is parsed; a Stripe delivery must also be recent. A failure is a
//! critical security event. A verified delivery is recorded once per provider event, so a replay
//! or re-delivery is acknowledged and not processed twice.
//!
//! What each event means to PostRoute (a plan change, a revoked app) is for the billing and
//! channel work that consumes the recorded events; this module only lets genuine ones in.

mod signatures;

use crate::Refusal;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use postroute_domain::{NewSystemEvent, SystemEventKind};
use postroute_store::Store;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use crate::config::Config;
use crate::rate_limit::{Counting, Quota, RateLimiter};
use crate::{clock, system_events};

pub use signatures::{meta_signature, stripe_signature, x_signature};

/// Longest `crc_token` answered.
const MAX_CRC_TOKEN_BYTES: usize = 128;

/// At most this many `webhook_signature_invalid` events per client address per hour: they are
/// security events, kept forever, and a flood of forgeries must not grow the log without bound.
const REFUSAL_EVENTS: Quota = Quota {
    name: "webhook-refusal-events",
    burst: 20,
    period: std::time::Duration::from_secs(3600),
    counting: Counting::Window,
};

/// A provider that sends webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookProvider {
    /// Stripe (billing).
    Stripe,
    /// Meta (Facebook Pages, Instagram).
    Meta,
    /// X.
    X,
}

impl WebhookProvider {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Meta => "meta",
            Self::X => "x",
        }
    }
}

/// Whether a verified delivery was new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// First time this event arrived: recorded.
    Recorded,
    /// Seen before: acknowledged, nothing done.
    Duplicate,
}

/// The webhook service.
#[derive(Clone)]
pub struct WebhookService {
    store: Store,
    limiter: RateLimiter,
    stripe_secret: Option<SecretString>,
    stripe_tolerance: chrono::Duration,
    meta_app_secret: Option<SecretString>,
    meta_verify_token: Option<SecretString>,
    x_consumer_secret: Option<SecretString>,
}

impl std::fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookService").finish_non_exhaustive()
    }
}

impl WebhookService {
    /// Wires the service from the providers' secrets.
    pub fn new(store: Store, limiter: RateLimiter, config: &Config) -> Self {
        let tolerance = i64::try_from(config.stripe.webhook_tolerance_secs).unwrap_or(300);
        Self {
            store,
            limiter,
            stripe_secret: config.stripe.webhook_secret.clone(),
            stripe_tolerance: chrono::Duration::seconds(tolerance),
            meta_app_secret: config.meta.app_secret.clone(),
            meta_verify_token: config.meta.webhook_verify_token.clone(),
            x_consumer_secret: config.x.consumer_secret.clone(),
        }
    }

    /// A Stripe delivery: `Stripe-Signature: t=…,v1=…` over `t.body`, at most the tolerance old.
    pub async fn stripe(
        &self,
        signature: Option<&str>,
        body: &[u8],
        ip: IpAddr,
    ) -> Result<Delivery, Refusal> {
        let secret = self.stripe_secret.as_ref().ok_or(Refusal::NotFound)?;
        let checked = signatures::check_stripe(
            secret.expose_secret().as_bytes(),
            signature,
            body,
            clock::now(),
            self.stripe_tolerance,
        );
        self.verified(WebhookProvider::Stripe, checked, ip).await?;
        let event: serde_json::Value = parse(body)?;
        let id = event["id"]
            .as_str()
            .filter(|id| !id.is_empty() && id.len() <= 255)
            .ok_or_else(|| Refusal::Malformed("a Stripe event has an `id`".to_owned()))?
            .to_owned();
        self.record(WebhookProvider::Stripe, &id, &event).await
    }

    /// A Meta delivery: `X-Hub-Signature-256: sha256=<hex>` over the body with the app secret.
    pub async fn meta(
        &self,
        signature: Option<&str>,
        body: &[u8],
        ip: IpAddr,
    ) -> Result<Delivery, Refusal> {
        let secret = self.meta_app_secret.as_ref().ok_or(Refusal::NotFound)?;
        let checked = signatures::check_meta(secret.expose_secret().as_bytes(), signature, body);
        self.verified(WebhookProvider::Meta, checked, ip).await?;
        let event = parse(body)?;
        // Meta's deliveries carry no id: identical bodies are one delivery.
        self.record(WebhookProvider::Meta, &body_id(body), &event).await
    }

    /// Meta's subscription check: echo `hub.challenge` when the token is ours.
    pub fn meta_verification(
        &self,
        mode: Option<&str>,
        token: Option<&str>,
        challenge: Option<&str>,
    ) -> Result<String, Refusal> {
        let expected = self.meta_verify_token.as_ref().ok_or(Refusal::NotFound)?;
        let token_matches = token.is_some_and(|token| {
            signatures::constant_time_eq(token.as_bytes(), expected.expose_secret().as_bytes())
        });
        match (mode, challenge) {
            (Some("subscribe"), Some(challenge)) if token_matches => Ok(challenge.to_owned()),
            _ => Err(Refusal::Forbidden("The verification token does not match.".to_owned())),
        }
    }

    /// An X delivery: `x-twitter-webhooks-signature: sha256=<base64>` over the body with the
    /// consumer secret.
    pub async fn x(
        &self,
        signature: Option<&str>,
        body: &[u8],
        ip: IpAddr,
    ) -> Result<Delivery, Refusal> {
        let secret = self.x_consumer_secret.as_ref().ok_or(Refusal::NotFound)?;
        let checked = signatures::check_x(secret.expose_secret().as_bytes(), signature, body);
        self.verified(WebhookProvider::X, checked, ip).await?;
        let event = parse(body)?;
        self.record(WebhookProvider::X, &body_id(body), &event).await
    }

    /// X's challenge-response check: `sha256=<base64(HMAC(consumer secret, crc_token))>`.
    /// The answer is the very signature a delivery of `crc_token` as its body would carry, so
    /// only short opaque tokens are answered: never one that could pass for an event.
    pub fn x_crc(&self, crc_token: &str) -> Result<String, Refusal> {
        let secret = self.x_consumer_secret.as_ref().ok_or(Refusal::NotFound)?;
        let opaque = !crc_token.is_empty()
            && crc_token.len() <= MAX_CRC_TOKEN_BYTES
            && crc_token.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
            });
        if !opaque {
            return Err(Refusal::Malformed("a crc_token is a short opaque string".to_owned()));
        }
        Ok(x_signature(secret.expose_secret().as_bytes(), crc_token.as_bytes()))
    }

    /// Passes a verified delivery on; records a critical event for one that failed.
    async fn verified(
        &self,
        provider: WebhookProvider,
        checked: Result<(), &'static str>,
        ip: IpAddr,
    ) -> Result<(), Refusal> {
        let Err(reason) = checked else {
            return Ok(());
        };
        if !self.limiter.check(&REFUSAL_EVENTS, ip).await.allowed {
            return Err(bad_signature(reason));
        }
        let event = NewSystemEvent::new(SystemEventKind::WebhookSignatureInvalid)
            .ip(ip)
            .details(json!({ "provider": provider.as_str(), "reason": reason }));
        system_events::record(&self.store, event).await;
        Err(bad_signature(reason))
    }

    async fn record(
        &self,
        provider: WebhookProvider,
        id: &str,
        event: &serde_json::Value,
    ) -> Result<Delivery, Refusal> {
        let now: DateTime<Utc> = clock::now();
        let new = self.store.webhook_events().record(provider.as_str(), id, event, now).await?;
        if new {
            tracing::info!(provider = provider.as_str(), event.id = id, "webhook recorded");
            Ok(Delivery::Recorded)
        } else {
            tracing::info!(
                provider = provider.as_str(),
                event.id = id,
                "webhook replayed; acknowledged"
            );
            Ok(Delivery::Duplicate)
        }
    }
}

/// A delivery whose signature is missing, malformed, wrong, or (Stripe) too old.
fn bad_signature(reason: &'static str) -> Refusal {
    Refusal::Refused { code: "invalid_signature", detail: format!("Webhook refused: {reason}.") }
}

fn parse(body: &[u8]) -> Result<serde_json::Value, Refusal> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| Refusal::Malformed("the body is not JSON".to_owned()))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(Refusal::Malformed("an event is a JSON object".to_owned()))
    }
}

/// The id of a delivery that carries none: the SHA-256 of its body.
fn body_id(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(body))
}
