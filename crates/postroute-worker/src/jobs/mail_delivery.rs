//! Delivers the outbox: claims due messages under a lease, sends each once, and retries
//! transient failures with exponential backoff. A message survives any provider outage shorter
//! than its attempts allow, and the provider idempotency key (the message id) keeps a retried
//! send from becoming a second email.

use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use postroute_platforms::email::{DeliveryError, OutgoingEmail};
use postroute_store::{OutboxEmail, Store, StoreError};

use postroute_app::clock;
use postroute_app::config::EmailConfig;
use postroute_app::mail::{MailComposer, MailSender};

use crate::Job;

/// How long a claimed message belongs to its worker: far longer than one send may take, so a
/// slow send is never claimed twice; short enough that a crashed worker's messages go out soon.
const LEASE: Duration = Duration::from_secs(120);
const BATCH: u32 = 10;
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The outbox delivery job.
#[derive(Debug, Clone)]
pub struct MailDelivery {
    store: Store,
    composer: Arc<MailComposer>,
    sender: MailSender,
    from: String,
    max_attempts: u32,
    retry_base: Duration,
}

impl MailDelivery {
    /// A worker delivering `store`'s outbox through `sender`.
    pub fn new(
        store: Store,
        composer: Arc<MailComposer>,
        sender: MailSender,
        config: &EmailConfig,
    ) -> Self {
        Self {
            store,
            composer,
            sender,
            from: config.from.clone(),
            max_attempts: config.max_attempts,
            retry_base: Duration::from_secs(config.retry_base_secs),
        }
    }

    /// Claims and processes up to a batch of due messages; returns how many it handled.
    async fn deliver_due(&self) -> Result<usize, StoreError> {
        let now = clock::now();
        let lease_until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        let claimed = self.store.outbox().claim_due(now, lease_until, BATCH).await?;
        for email in &claimed {
            self.deliver(email).await?;
        }
        Ok(claimed.len())
    }

    async fn deliver(&self, email: &OutboxEmail) -> Result<(), StoreError> {
        let outbox = self.store.outbox();
        let Some(sealed) = &email.sealed_body else {
            return outbox.mark_failed(email.id, "no body to send", clock::now()).await;
        };
        let (text, html) = match self.composer.open(email.id, &email.to_address, sealed) {
            Ok(bodies) => bodies,
            Err(error) => {
                tracing::error!(
                    email.id = display(&email.id),
                    error = display(&error),
                    "cannot open a queued email; giving up on it"
                );
                return outbox.mark_failed(email.id, &error.to_string(), clock::now()).await;
            }
        };
        let key = email.id.to_string();
        let outgoing = OutgoingEmail {
            from: &self.from,
            to: &email.to_address,
            subject: &email.subject,
            text: &text,
            html: &html,
            idempotency_key: &key,
        };
        match self.sender.send(&outgoing).await {
            Ok(provider_id) => {
                tracing::info!(
                    email.id = display(&email.id),
                    template = display(&email.template),
                    attempts = email.attempts,
                    "email sent"
                );
                outbox
                    .mark_sent(
                        email.id,
                        Some(provider_id.as_str()).filter(|id| !id.is_empty()),
                        clock::now(),
                    )
                    .await
            }
            Err(error) if error.is_retryable() && (email.attempts as u32) < self.max_attempts => {
                let delay = self.backoff(email.attempts, &error);
                tracing::warn!(
                    email.id = display(&email.id),
                    attempts = email.attempts,
                    retry_in_secs = delay.as_secs(),
                    error = display(&error),
                    "email not sent; will retry"
                );
                outbox.retry_later(email.id, later(delay), &error.to_string()).await
            }
            Err(error) => {
                tracing::error!(
                    email.id = display(&email.id),
                    attempts = email.attempts,
                    error = display(&error),
                    "email not sent; giving up"
                );
                outbox.mark_failed(email.id, &error.to_string(), clock::now()).await
            }
        }
    }

    /// base × 2^(attempt-1), at most an hour; a provider's own delay wins when longer.
    fn backoff(&self, attempts: i32, error: &DeliveryError) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(16);
        let computed = self.retry_base.saturating_mul(1 << exponent).min(MAX_BACKOFF);
        match error {
            DeliveryError::RateLimited { retry_after: Some(asked) } => computed.max(*asked),
            _ => computed,
        }
    }
}

impl Job for MailDelivery {
    const NAME: &'static str = "mail_delivery";

    async fn run_once(&self) -> Result<usize, StoreError> {
        self.deliver_due().await
    }
}

fn later(delay: Duration) -> DateTime<chrono::Utc> {
    clock::after(clock::now(), delay)
}
