//! Keeping channel tokens alive: X access tokens are refreshed before they expire (X rotates the
//! refresh token: the new one is stored in the same statement that forgets the old), Meta Page
//! tokens are checked daily. A dead grant marks the channel `needs_reconnect`, writes the audit
//! log and emails the owner and admins once per incident; anything else is retried with
//! backoff and never disconnects the channel.

use std::time::Duration;

use postroute_domain::{AuditAction, NewAuditEntry, Provider};
use postroute_platforms::PlatformError;
use postroute_store::DueChannel;
use serde_json::json;

use super::connect::{META_CHECK_INTERVAL, REFRESH_AHEAD};
use super::tokens::{PlainToken, PlainTokens};
use super::{ChannelError, ChannelService};
use crate::clock;
use crate::mail::{MailComposer, Template};

const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// What one check did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Tokens refreshed or found valid.
    Healthy,
    /// The channel now needs reconnecting.
    NeedsReconnect,
    /// A failure worth retrying later.
    RetryLater,
}

fn backoff(failures: i32) -> Duration {
    let exponent = u32::try_from(failures).unwrap_or(0).min(6);
    Duration::from_secs(60).saturating_mul(1 << exponent).min(MAX_BACKOFF)
}

fn later(delay: Duration) -> chrono::DateTime<chrono::Utc> {
    // A platform's reset may name any time; a day is the longest a channel waits here.
    clock::after(clock::now(), delay.min(Duration::from_secs(24 * 3600)))
}

impl ChannelService {
    /// Checks (and for X refreshes) one claimed channel.
    pub async fn check(
        &self,
        due: &DueChannel,
        composer: &MailComposer,
    ) -> Result<CheckOutcome, ChannelError> {
        let tokens = self.cipher.open(due.workspace, due.id, &due.tokens)?;
        let result = match due.provider {
            Provider::X => self.refresh_x(due, &tokens).await,
            Provider::Facebook | Provider::Instagram => match &self.meta {
                Some(meta) => meta
                    .check_token(&due.external_id, tokens.access_token.expose())
                    .await
                    .map(|()| Some(PlainTokens { expires_at: None, ..tokens.clone() })),
                None => Err(PlatformError::Transient(
                    "Meta is not configured on this server".to_owned(),
                )),
            },
        };
        let tenant = self.store.tenant(due.workspace);
        match result {
            Ok(Some(fresh)) if due.provider == Provider::X => {
                let sealed = self.cipher.seal(due.workspace, due.id, &fresh)?;
                let next = fresh.expires_at.map(|expires| expires - REFRESH_AHEAD);
                // X has already forgotten the old refresh token: this write must not be lost to
                // a passing database hiccup.
                let mut attempt = 0;
                let stored = loop {
                    match tenant.store_refreshed_tokens(due.id, &sealed, next, clock::now()).await {
                        Ok(stored) => break stored,
                        Err(error) if attempt < 4 => {
                            attempt += 1;
                            tracing::warn!(channel.id = %due.id, %error, attempt, "could not store refreshed tokens; retrying");
                            tokio::time::sleep(Duration::from_millis(250 * (1 << attempt))).await;
                        }
                        Err(error) => return Err(error.into()),
                    }
                };
                if !stored {
                    // Disconnected while refreshing: the fresh tokens must not outlive the channel.
                    if let Some(x) = &self.x {
                        for token in [Some(&fresh.access_token), fresh.refresh_token.as_ref()]
                            .into_iter()
                            .flatten()
                        {
                            let _ = x.revoke(token.expose()).await;
                        }
                    }
                }
                Ok(CheckOutcome::Healthy)
            }
            Ok(_) => {
                tenant.record_check_passed(due.id, clock::now() + META_CHECK_INTERVAL).await?;
                Ok(CheckOutcome::Healthy)
            }
            Err(PlatformError::AuthDead(reason)) => {
                self.needs_reconnect(due, &reason, composer).await?;
                Ok(CheckOutcome::NeedsReconnect)
            }
            Err(error) => {
                let mut delay = backoff(due.check_failures);
                if let PlatformError::RateLimited { reset: Some(reset) } = &error {
                    delay = delay.max(*reset);
                }
                tracing::warn!(channel.id = %due.id, class = error.class(), retry_in_secs = delay.as_secs(), %error, "channel check failed; will retry");
                tenant
                    .record_check_failed(
                        due.id,
                        &format!("{}: {error}", error.class()),
                        later(delay),
                    )
                    .await?;
                Ok(CheckOutcome::RetryLater)
            }
        }
    }

    async fn refresh_x(
        &self,
        due: &DueChannel,
        tokens: &PlainTokens,
    ) -> Result<Option<PlainTokens>, PlatformError> {
        let Some(x) = &self.x else {
            return Err(PlatformError::Transient("X is not configured on this server".to_owned()));
        };
        let Some(refresh_token) = &tokens.refresh_token else {
            // Connected without offline.access: nothing to renew with once the token lapses.
            return match tokens.expires_at {
                Some(expires) if expires <= clock::now() => Err(PlatformError::AuthDead(
                    "no refresh token and the access token expired".to_owned(),
                )),
                _ => Ok(None),
            };
        };
        let fresh = x.refresh(refresh_token.expose()).await?;
        let now = clock::now();
        tracing::info!(channel.id = %due.id, "X tokens refreshed");
        Ok(Some(PlainTokens {
            access_token: PlainToken::new(fresh.access_token),
            // X rotates refresh tokens; if one did not come back, the old one stays valid.
            refresh_token: fresh
                .refresh_token
                .map(PlainToken::new)
                .or_else(|| tokens.refresh_token.clone()),
            expires_at: fresh
                .expires_in
                .map(|seconds| clock::after(now, Duration::from_secs(seconds))),
        }))
    }

    async fn needs_reconnect(
        &self,
        due: &DueChannel,
        reason: &str,
        composer: &MailComposer,
    ) -> Result<(), ChannelError> {
        let tenant = self.store.tenant(due.workspace);
        let Some(workspace) = tenant.workspace().await? else {
            return Ok(());
        };
        let recipients = self.reconnect_recipients(due.workspace).await?;
        let workspace_id = due.workspace.to_string();
        let mut prepared = Vec::new();
        for (user, email, name) in &recipients {
            prepared.push(composer.prepare(
                email,
                Some(*user),
                &Template::ChannelNeedsReconnect {
                    name,
                    workspace_id: &workspace_id,
                    workspace: &workspace.name,
                    channel: &due.display_name,
                    provider: due.provider.as_str(),
                },
            )?);
        }
        let now = clock::now();
        let emails: Vec<_> = prepared.iter().map(|email| email.outbox_row(now)).collect();
        let audit = NewAuditEntry::by_system(AuditAction::ChannelNeedsReconnect)
            .target("channel", due.id)
            .details(json!({ "provider": due.provider.as_str(), "display_name": due.display_name, "reason": reason }));
        if tenant.mark_needs_reconnect(due.id, reason, now, &audit, &emails).await? {
            tracing::warn!(workspace.id = %due.workspace, channel.id = %due.id, "channel needs reconnecting");
        }
        Ok(())
    }
}
