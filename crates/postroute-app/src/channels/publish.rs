//! Publishing one claimed target (issue 13): the intent before every platform call, the call,
//! and the outcome the domain's rules give its answer. The service that keeps a channel's
//! tokens is the one that spends them.
//!
//! Today X text posts and threads go out. A target on another platform, or an X post with
//! files, is given back untouched (nothing sent) with a reason people can read, and waits for
//! its publisher; the missed sweep and the person who sees it decide what becomes of it.

use chrono::{DateTime, TimeDelta, Utc};
use postroute_domain::publish::{
    Jitter, NextStep, Outcome, RetryPolicy, SEND_MARGIN, Spent, may_start_call,
};
use postroute_domain::{PostStatus, Provider};
use postroute_platforms::PublishFailure;
use postroute_platforms::x::NewTweet;
use postroute_store::{Answer, ClaimedTarget, Publishing, TargetOutcome};

use super::ChannelService;
use crate::{Refusal, clock};

/// How long one platform call may take: the platforms' HTTP timeout.
pub const CALL_TIMEOUT: TimeDelta = TimeDelta::seconds(20);

/// How long a target that cannot be published yet waits before it is looked at again.
const NOT_YET_SUPPORTED_WAIT: TimeDelta = TimeDelta::hours(1);

/// What became of one claimed target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// On the platform, with its id.
    Out(String),
    /// The platform refused or the call failed; the target holds what happens next.
    NotOut(&'static str),
    /// Nothing was sent: the lease was too short, the claim was lost, or this kind of post has
    /// no publisher yet.
    Untouched,
}

impl ChannelService {
    /// Publishes `target`, claimed by `worker` through `publishing` (the worker's handle on the
    /// claims), and settles its post's status.
    pub async fn publish(
        &self,
        publishing: &Publishing<'_>,
        target: &ClaimedTarget,
        worker: &str,
    ) -> Result<Published, Refusal> {
        let outcome = self.publish_target(publishing, target, worker).await?;
        if let Some(status) =
            publishing.settle_post(target.key.workspace, target.key.post, clock::now()).await?
            && status != PostStatus::Publishing
        {
            tracing::info!(
                post.id = display(&target.key.post),
                status = status.as_str(),
                "post settled"
            );
        }
        Ok(outcome)
    }

    async fn publish_target(
        &self,
        publishing: &Publishing<'_>,
        target: &ClaimedTarget,
        worker: &str,
    ) -> Result<Published, Refusal> {
        let key = &target.key;
        let tenant = self.store.tenant(key.workspace);
        let post = tenant.post(key.post).await?.ok_or(Refusal::NotFound)?;
        let (Provider::X, Some(x)) = (target.provider, self.x.as_ref()) else {
            let reason = if target.provider == Provider::X {
                "X is not configured on this server; this target waits until it is.".to_owned()
            } else {
                format!(
                    "Publishing to {} is not available yet; this target waits.",
                    target.provider.as_str()
                )
            };
            publishing
                .defer(key, target.fence, clock::now() + NOT_YET_SUPPORTED_WAIT, &reason)
                .await?;
            return Ok(Published::Untouched);
        };
        if !post.media_ids.is_empty() {
            let reason = "Posts with files cannot be published to X yet; this target waits.";
            publishing
                .defer(key, target.fence, clock::now() + NOT_YET_SUPPORTED_WAIT, reason)
                .await?;
            return Ok(Published::Untouched);
        }
        let sealed = tenant.channel_tokens(key.channel).await?.ok_or(Refusal::NotFound)?;
        let tokens = self.cipher.open(key.workspace, key.channel, &sealed)?;
        let variant = post.variants.for_provider(Provider::X);
        let first =
            variant.and_then(|variant| variant.content.clone()).unwrap_or(post.content.clone());
        let parts: Vec<String> = std::iter::once(first)
            .chain(variant.map(|variant| variant.thread.clone()).unwrap_or_default())
            .collect();
        let mut posted: Vec<String> = target
            .remote_ids
            .as_deref()
            .and_then(|ids| serde_json::from_str(ids).ok())
            .unwrap_or_default();

        while posted.len() < parts.len() {
            let now = clock::now();
            if !may_start_call(target.lease_expires_at, now, CALL_TIMEOUT) {
                // The lease ends before the call could: it lapses, and the next claim resumes.
                return Ok(Published::Untouched);
            }
            let Some(attempt) = publishing
                .begin_attempt(key, target.fence, worker, now, now + CALL_TIMEOUT + SEND_MARGIN)
                .await?
            else {
                return Ok(Published::Untouched);
            };
            let tweet = NewTweet {
                text: &parts[posted.len()],
                reply_to: posted.last().map(String::as_str),
                media_ids: &[],
            };
            match x.create_tweet(tokens.access_token.expose(), &tweet).await {
                Ok(created) => {
                    posted.push(created.id.clone());
                    let answer = Answer {
                        class: "published".to_owned(),
                        http_status: Some(201),
                        platform_post_id: Some(created.id.clone()),
                        ..Answer::default()
                    };
                    if posted.len() < parts.len() {
                        // The part's id is stored before the next part is sent, so a crash
                        // resumes the thread instead of posting it again.
                        let ids = serde_json::to_string(&posted).unwrap_or_default();
                        publishing
                            .record_part(key, target.fence, attempt, &answer, &ids, now)
                            .await?;
                        continue;
                    }
                    let first = posted[0].clone();
                    let outcome = TargetOutcome::Published {
                        url: Some(format!("https://x.com/i/web/status/{first}")),
                        platform_post_id: first.clone(),
                    };
                    publishing
                        .record_answer(key, target.fence, attempt, &answer, &outcome, clock::now())
                        .await?;
                    tracing::info!(
                        post.id = display(&key.post),
                        channel.id = display(&key.channel),
                        tweet.id = display(&first),
                        "published to X"
                    );
                    return Ok(Published::Out(first));
                }
                Err(failure) => {
                    let class =
                        record_failure(publishing, target, attempt, &failure, &posted).await?;
                    return Ok(Published::NotOut(class));
                }
            }
        }
        Ok(Published::Untouched)
    }
}

/// Applies the domain's verdict on a failed call to the target.
async fn record_failure(
    publishing: &Publishing<'_>,
    target: &ClaimedTarget,
    attempt: postroute_store::AttemptId,
    failure: &PublishFailure,
    posted: &[String],
) -> Result<&'static str, Refusal> {
    let now = clock::now();
    let spent = Spent {
        retries: u32::try_from(target.attempts).unwrap_or(u32::MAX),
        token_refreshed: false,
    };
    let verdict = failure.outcome.verdict(spent, &RetryPolicy::default(), now, jitter());
    let class = verdict.class.map_or("published", |class| class.as_str());
    let detail = describe(&failure.outcome);
    let outcome = match verdict.step {
        NextStep::Published => TargetOutcome::Published {
            platform_post_id: posted.first().cloned().unwrap_or_default(),
            url: None,
        },
        NextStep::RetryAt { at, .. } => TargetOutcome::RetryAt { at },
        // No forced refresh yet: the token job refreshes the channel on its next check,
        // and the retry comes after it.
        NextStep::RefreshTokenThenRetry => {
            TargetOutcome::RetryAt { at: now + TimeDelta::seconds(60) }
        }
        NextStep::Fail => TargetOutcome::Failed,
        NextStep::Reconcile => TargetOutcome::Unknown,
    };
    if let Some(consequence) = verdict.consequence {
        tracing::warn!(
            channel.id = display(&target.key.channel),
            consequence = debug(&consequence),
            "a publishing consequence is not carried out yet"
        );
    }
    let answer = Answer {
        class: class.to_owned(),
        http_status: failure.http_status,
        platform_code: failure.platform_code.clone(),
        platform_request_id: failure.request_id.clone(),
        detail: Some(detail),
        ..Answer::default()
    };
    publishing.record_answer(&target.key, target.fence, attempt, &answer, &outcome, now).await?;
    tracing::warn!(
        post.id = display(&target.key.post),
        channel.id = display(&target.key.channel),
        class,
        "publishing to X did not succeed"
    );
    Ok(class)
}

/// The words a person reads on the target.
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Created => "Published.".to_owned(),
        Outcome::Transient { detail } => format!("X could not be reached ({detail}); retrying."),
        Outcome::RateLimited { reset_at } => match reset_at {
            Some(at) => format!("X asked to wait until {}; retrying then.", at.to_rfc3339()),
            None => "X asked to slow down; retrying later.".to_owned(),
        },
        Outcome::Unauthorized => {
            "X refused the channel's access token; retrying after a refresh.".to_owned()
        }
        Outcome::AuthDead { message } => format!("X no longer accepts this channel: {message}"),
        Outcome::Permanent { message } => format!("X refused the post: {message}"),
        Outcome::CreditsDepleted { message } => format!("X publishing is paused: {message}"),
        Outcome::Ambiguous { detail } => format!(
            "X did not confirm the post ({detail}); checking whether it went out before \
             anything is sent again."
        ),
    }
}

/// A fresh jitter for a retry's wait; none if the OS has no randomness to give, which only
/// makes retries of several targets less spread out.
fn jitter() -> Jitter {
    let mut bits = [0_u8; 4];
    match getrandom::fill(&mut bits) {
        Ok(()) => Jitter::from_bits(u32::from_le_bytes(bits)),
        Err(_) => Jitter::NONE,
    }
}

/// When `target` was due, for its publish lag.
pub fn lag(target: &ClaimedTarget, now: DateTime<Utc>) -> TimeDelta {
    now - target.due_at
}
