//! Keeping channel tokens alive: X access tokens are refreshed before they expire (X rotates the
//! refresh token: the new one is stored in the same statement that forgets the old), Meta Page
//! tokens are checked daily. A dead grant marks the channel `needs_reconnect`, writes the audit
//! log and emails the owner and admins once per incident; anything else is retried with
//! backoff and never disconnects the channel. How each platform refreshes or checks is its
//! [`Check`] implementation in `platforms/`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use postroute_domain::{AuditAction, NewAuditEntry, Role, UserId, WorkspaceId};
use postroute_platforms::PlatformError;
use postroute_store::DueChannel;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ChannelService;
use super::platforms::{Check, Checked, Connect, NotConfigured, Platform};
use super::tokens::PlainTokens;
use crate::Refusal;
use crate::clock;
use crate::mail::{MailComposer, Template};

const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How often the token job looks again at a channel whose token needs no refresh yet.
const CHECK_INTERVAL: chrono::Duration = chrono::Duration::hours(24);
/// Access tokens are refreshed this long before they expire.
const REFRESH_AHEAD: chrono::Duration = chrono::Duration::minutes(10);

/// When the token job first looks at a new connection; the platform that granted it decides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum FirstCheck {
    /// After the usual interval: for tokens that do not expire, so a revoked one is noticed
    /// before a scheduled post is. The default, because pending Meta choices sealed before
    /// this field existed hold such tokens.
    #[default]
    AfterInterval,
    /// Shortly before the access token expires, to refresh it; never, if it names no expiry.
    BeforeExpiry,
}

impl FirstCheck {
    /// The first check of a connection saved `now` with `tokens`.
    pub(super) fn at(self, tokens: &PlainTokens, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::AfterInterval => Some(now + CHECK_INTERVAL),
            Self::BeforeExpiry => tokens.expires_at.map(|expires| expires - REFRESH_AHEAD),
        }
    }

    /// Whether this is the default, left out of sealed pending choices.
    pub(super) fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A channel whose grant died.
struct LostChannel<'a> {
    workspace: WorkspaceId,
    id: postroute_domain::ChannelId,
    display_name: &'a str,
    provider: postroute_domain::Provider,
}

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
    /// Checks (and where the platform refreshes, refreshes) one claimed channel.
    pub async fn check(
        &self,
        due: &DueChannel,
        composer: &MailComposer,
    ) -> Result<CheckOutcome, Refusal> {
        self.check_for(due, composer, None).await
    }

    /// [`Self::check`], on behalf of the post whose publishing call was refused: should the
    /// grant be dead, the channel's email names it with the others.
    pub(super) async fn check_for(
        &self,
        due: &DueChannel,
        composer: &MailComposer,
        refused: Option<&postroute_store::TargetKey>,
    ) -> Result<CheckOutcome, Refusal> {
        let tokens = self.cipher.open(due.workspace, due.id, &due.tokens)?;
        let result = match self.platform(due.provider) {
            Ok(platform) => platform.check(due, &tokens).await.map(|checked| (platform, checked)),
            Err(NotConfigured(client)) => {
                Err(PlatformError::Transient(format!("{client} is not configured on this server")))
            }
        };
        match result {
            Ok((platform, Checked::Refreshed(fresh))) => {
                self.store_refreshed(due, platform, &fresh).await?;
                Ok(CheckOutcome::Healthy)
            }
            Ok((_, Checked::Valid)) => {
                let tenant = self.store.tenant(due.workspace);
                tenant.record_check_passed(due.id, clock::now() + CHECK_INTERVAL).await?;
                Ok(CheckOutcome::Healthy)
            }
            Err(PlatformError::AuthDead(reason)) => {
                self.needs_reconnect(due, &reason, composer, refused).await?;
                Ok(CheckOutcome::NeedsReconnect)
            }
            Err(error) => {
                let mut delay = backoff(due.check_failures);
                if let PlatformError::RateLimited { reset: Some(reset) } = &error {
                    delay = delay.max(*reset);
                }
                tracing::warn!(
                    channel.id = display(&due.id),
                    class = error.class(),
                    retry_in_secs = delay.as_secs(),
                    error = display(&error),
                    "channel check failed; will retry"
                );
                self.store
                    .tenant(due.workspace)
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

    async fn store_refreshed(
        &self,
        due: &DueChannel,
        platform: Platform<'_>,
        fresh: &PlainTokens,
    ) -> Result<(), Refusal> {
        let tenant = self.store.tenant(due.workspace);
        let sealed = self.cipher.seal(due.workspace, due.id, fresh)?;
        let next = fresh.expires_at.map(|expires| expires - REFRESH_AHEAD);
        // The platform may already have forgotten the old refresh token (X has): this write
        // must not be lost to a passing database hiccup.
        let mut attempt = 0;
        let stored = loop {
            match tenant.store_refreshed_tokens(due.id, &sealed, next, clock::now()).await {
                Ok(stored) => break stored,
                Err(error) if attempt < 4 => {
                    attempt += 1;
                    tracing::warn!(
                        channel.id = display(&due.id),
                        error = display(&error),
                        attempt,
                        "could not store refreshed tokens; retrying"
                    );
                    tokio::time::sleep(Duration::from_millis(250 * (1 << attempt))).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        if !stored {
            // Disconnected while refreshing: the fresh tokens must not outlive the channel.
            for token in
                [Some(&fresh.access_token), fresh.refresh_token.as_ref()].into_iter().flatten()
            {
                let _ = platform.revoke(token).await;
            }
        }
        Ok(())
    }

    async fn needs_reconnect(
        &self,
        due: &DueChannel,
        reason: &str,
        composer: &MailComposer,
        refused: Option<&postroute_store::TargetKey>,
    ) -> Result<(), Refusal> {
        let lost = LostChannel {
            workspace: due.workspace,
            id: due.id,
            display_name: &due.display_name,
            provider: due.provider,
        };
        let failed = match refused {
            Some(key) => self.refused_post(key).await?,
            None => None,
        };
        self.mark_lost(&lost, reason, composer, failed).await
    }

    /// The post whose call was refused, as the channel's email names it.
    async fn refused_post(
        &self,
        key: &postroute_store::TargetKey,
    ) -> Result<Option<postroute_store::WaitingPost>, Refusal> {
        let tenant = self.store.tenant(key.workspace);
        let Some(post) = tenant.post(key.post).await? else { return Ok(None) };
        Ok(Some(postroute_store::WaitingPost {
            post: post.id,
            content: post.content,
            scheduled_at: post.scheduled_at,
            author: tenant.post_author(key.post).await?,
        }))
    }

    /// A publishing call found the channel's grant dead: the channel needs reconnecting, and
    /// the email names the post whose call found it, with the others.
    pub(super) async fn lose_grant(
        &self,
        key: &postroute_store::TargetKey,
        reason: &str,
        composer: &MailComposer,
    ) -> Result<(), Refusal> {
        let tenant = self.store.tenant(key.workspace);
        let Some(channel) = tenant.channel(key.channel).await? else {
            return Ok(());
        };
        let failed = self.refused_post(key).await?;
        let lost = LostChannel {
            workspace: key.workspace,
            id: channel.id,
            display_name: &channel.display_name,
            provider: channel.provider,
        };
        self.mark_lost(&lost, reason, composer, failed).await
    }

    /// Marks the channel `needs_reconnect`, fails its pending targets, and tells the owner and
    /// admins, and the authors of those posts, in one email each that names the posts: one
    /// incident, one notice.
    async fn mark_lost(
        &self,
        lost: &LostChannel<'_>,
        reason: &str,
        composer: &MailComposer,
        failed: Option<postroute_store::WaitingPost>,
    ) -> Result<(), Refusal> {
        let tenant = self.store.tenant(lost.workspace);
        let Some(workspace) = tenant.workspace().await? else {
            return Ok(());
        };
        let mut waiting = tenant.posts_waiting_on(lost.id).await?;
        if let Some(failed) = failed {
            waiting.insert(0, failed);
        }
        let mut recipients = self.reconnect_recipients(lost.workspace).await?;
        for author in waiting.iter().filter_map(|post| post.author.clone()) {
            if !recipients.iter().any(|(user, ..)| *user == author.0) {
                recipients.push(author);
            }
        }
        let posts: Vec<String> = waiting
            .iter()
            .map(|post| crate::posts::describe_post(&post.content, post.scheduled_at))
            .collect();
        let workspace_id = lost.workspace.to_string();
        let mut prepared = Vec::new();
        for (user, email, name) in &recipients {
            prepared.push(composer.prepare(
                email,
                Some(*user),
                &Template::ChannelNeedsReconnect {
                    name,
                    workspace_id: &workspace_id,
                    workspace: &workspace.name,
                    channel: lost.display_name,
                    provider: lost.provider.name(),
                    posts: &posts,
                },
            )?);
        }
        let now = clock::now();
        let emails: Vec<_> = prepared.iter().map(|email| email.outbox_row(now)).collect();
        let audit = NewAuditEntry::by_system(AuditAction::ChannelNeedsReconnect)
            .target("channel", lost.id)
            .details(json!({
                "provider": lost.provider.as_str(),
                "display_name": lost.display_name,
                "reason": reason,
                "posts_failed": waiting.len(),
            }));
        if tenant.mark_needs_reconnect(lost.id, reason, now, &audit, &emails).await? {
            tracing::warn!(
                workspace.id = display(&lost.workspace),
                channel.id = display(&lost.id),
                posts_failed = waiting.len(),
                "channel needs reconnecting"
            );
        }
        Ok(())
    }

    /// Who is told when a channel needs reconnecting: the workspace's owner and admins.
    async fn reconnect_recipients(
        &self,
        workspace: WorkspaceId,
    ) -> Result<Vec<(UserId, String, String)>, Refusal> {
        Ok(self
            .store
            .tenant(workspace)
            .members()
            .await?
            .into_iter()
            .filter(|member| matches!(member.role, Role::Owner | Role::Admin))
            .map(|member| (member.user_id, member.email, member.name))
            .collect())
    }
}
