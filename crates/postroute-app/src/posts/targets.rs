//! A person's decisions on targets the publisher could not settle (api.md's Posts table):
//! retry a failed or missed target, mark an unknown one published with its URL, or dismiss an
//! unknown or missed one.

use postroute_domain::{AuditAction, ChannelId, PostId};
use postroute_store::{Post, TargetDecision};

use super::{PostService, may_change};
use crate::workspaces::Caller;
use crate::{Refusal, clock};

/// The longest URL kept for a post marked published.
const MAX_URL_CHARS: usize = 2048;

impl PostService {
    /// Sends a `failed` or `missed` target to its platform again, now.
    pub async fn retry_target(
        &self,
        caller: &Caller,
        id: PostId,
        channel: ChannelId,
    ) -> Result<Post, Refusal> {
        // Sent again to a channel that cannot publish, it would only wait to be missed.
        let tenant = self.store.tenant(caller.workspace.id);
        if let Some(found) = tenant.channel(channel).await?
            && found.status != postroute_domain::ChannelStatus::Active
        {
            return Err(Refusal::Conflict(format!(
                "The channel {} is {}: connect it again before retrying.",
                found.display_name,
                found.status.as_str().replace('_', " ")
            )));
        }
        self.decide(caller, id, channel, &TargetDecision::Retry, AuditAction::PostRetried).await
    }

    /// Records that a person found an `unknown` target on its platform, at `url`.
    pub async fn mark_published(
        &self,
        caller: &Caller,
        id: PostId,
        channel: ChannelId,
        url: &str,
    ) -> Result<Post, Refusal> {
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|parsed| parsed.scheme() == "https" && parsed.host_str().is_some());
        if parsed.is_none() || url.chars().count() > MAX_URL_CHARS {
            return Err(Refusal::invalid(
                "url",
                format!("must be the post's https:// address, at most {MAX_URL_CHARS} characters"),
            ));
        }
        let decision = TargetDecision::MarkPublished { url };
        self.decide(caller, id, channel, &decision, AuditAction::PostMarkedPublished).await
    }

    /// Leaves an `unknown` or `missed` target unpublished.
    pub async fn dismiss_target(
        &self,
        caller: &Caller,
        id: PostId,
        channel: ChannelId,
    ) -> Result<Post, Refusal> {
        self.decide(caller, id, channel, &TargetDecision::Dismiss, AuditAction::PostDismissed).await
    }

    async fn decide(
        &self,
        caller: &Caller,
        id: PostId,
        channel: ChannelId,
        decision: &TargetDecision<'_>,
        action: AuditAction,
    ) -> Result<Post, Refusal> {
        let post = self.get(caller, id).await?;
        may_change(caller, &post)?;
        let target = post
            .targets
            .iter()
            .find(|target| target.channel_id == channel)
            .ok_or(Refusal::NotFound)?;
        let audit = caller
            .audit(action)
            .target("post", id)
            .details(serde_json::json!({ "channel_id": channel, "was": target.status.as_str() }));
        let tenant = self.store.tenant(caller.workspace.id);
        match tenant.decide_target(id, channel, decision, &audit, clock::now()).await? {
            None => Err(Refusal::NotFound),
            Some(false) => Err(Refusal::Conflict(format!(
                "{} this target, which is {}.",
                match decision {
                    TargetDecision::Retry => "Only a failed or missed target can be retried, not",
                    TargetDecision::MarkPublished { .. } => {
                        "Only an unknown target can be marked published, not"
                    }
                    TargetDecision::Dismiss =>
                        "Only an unknown or missed target can be dismissed, not",
                },
                target.status.as_str()
            ))),
            Some(true) => self.get(caller, id).await,
        }
    }
}
