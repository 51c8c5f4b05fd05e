//! Publishing one claimed target (issue 13): the intent before every platform call, the call,
//! and the outcome the domain's rules give its answer. The service that keeps a channel's
//! tokens is the one that spends them.
//!
//! Today X text posts and threads go out. A target on another platform, or an X post with
//! files, is given back untouched (nothing sent) with a reason people can read, and waits for
//! its publisher; the missed sweep and the person who sees it decide what becomes of it.
//!
//! An answer's meaning beyond its target is carried out here too: a rate limit holds back the
//! channel until its reset, a dead grant marks the channel `needs_reconnect` (failing its
//! other pending targets, with one email), X's 402 pauses X publishing for the deployment,
//! and a 401 earns one forced token refresh before the same call is made again.

use chrono::{DateTime, TimeDelta, Utc};
use postroute_domain::publish::{
    Consequence, Jitter, NextStep, Outcome, RetryPolicy, SEND_MARGIN, Spent, may_start_call,
};
use postroute_domain::{NewSystemEvent, PostStatus, Provider, SystemEventKind};
use postroute_platforms::PublishFailure;
use postroute_platforms::x::NewTweet;
use postroute_store::{Answer, ClaimedTarget, Post, Publishing, TargetKey, TargetOutcome};

use super::ChannelService;
use super::check::CheckOutcome;
use crate::config::WorkerConfig;
use crate::mail::MailComposer;
use crate::{Refusal, clock};

/// How long one platform call may take: the platforms' HTTP timeout.
pub const CALL_TIMEOUT: TimeDelta = TimeDelta::seconds(20);

/// How long a target that cannot be published yet waits before it is looked at again.
const NOT_YET_SUPPORTED_WAIT: TimeDelta = TimeDelta::hours(1);

/// How the publisher behaves, from `worker.*` in the configuration.
#[derive(Clone, Debug)]
pub struct PublishSettings {
    /// How long a claim lasts.
    pub lease: TimeDelta,
    /// How late a target may still go out on its own.
    pub missed_after: TimeDelta,
    /// How long X publishing pauses after a 402.
    pub x_credits_pause: TimeDelta,
    /// The waits before each look at the platform when reconciling.
    pub looks: Vec<TimeDelta>,
    /// Targets one worker publishes at once.
    pub concurrency: usize,
}

impl PublishSettings {
    /// The settings `worker` configures.
    pub fn from_config(worker: &WorkerConfig) -> Self {
        let seconds = |secs: u64| TimeDelta::seconds(i64::try_from(secs).unwrap_or(i64::MAX));
        Self {
            lease: seconds(worker.publish_lease_secs),
            missed_after: TimeDelta::minutes(i64::from(worker.missed_after_mins)),
            x_credits_pause: TimeDelta::minutes(i64::from(worker.x_credits_pause_mins)),
            looks: worker.reconcile_looks_secs.iter().map(|&secs| seconds(secs)).collect(),
            concurrency: usize::try_from(worker.publish_concurrency).unwrap_or(1).max(1),
        }
    }

    /// When reconciliation first looks, for a call left unanswered at `now`.
    pub fn first_look(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + self.looks.first().copied().unwrap_or(TimeDelta::seconds(20))
    }
}

/// What the publisher needs besides the claim: its settings, and the composer for the emails
/// a dead grant sends.
#[derive(Clone, Copy, Debug)]
pub struct PublishContext<'a> {
    /// The worker's claims.
    pub publishing: &'a Publishing<'a>,
    /// This worker, in attempt rows.
    pub worker: &'a str,
    /// The settings.
    pub settings: &'a PublishSettings,
    /// For the emails.
    pub composer: &'a MailComposer,
}

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
    /// Publishes `target`, claimed through `context`, and settles its post's status.
    pub async fn publish(
        &self,
        context: &PublishContext<'_>,
        target: &ClaimedTarget,
    ) -> Result<Published, Refusal> {
        let outcome = self.publish_target(context, target).await?;
        self.settle(context.publishing, &target.key).await?;
        Ok(outcome)
    }

    /// Brings the post's status in line with its targets.
    pub(super) async fn settle(
        &self,
        publishing: &Publishing<'_>,
        key: &TargetKey,
    ) -> Result<(), Refusal> {
        if let Some(status) = publishing.settle_post(key.workspace, key.post, clock::now()).await?
            && status != PostStatus::Publishing
        {
            tracing::info!(post.id = display(&key.post), status = status.as_str(), "post settled");
        }
        Ok(())
    }

    async fn publish_target(
        &self,
        context: &PublishContext<'_>,
        target: &ClaimedTarget,
    ) -> Result<Published, Refusal> {
        let PublishContext { publishing, worker, .. } = *context;
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
        let mut tokens = self.cipher.open(key.workspace, key.channel, &sealed)?;
        let parts = thread_parts(&post);
        let mut posted = posted_parts(target.remote_ids.as_deref());
        let mut refreshed = false;

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
            let result = x.create_tweet(tokens.access_token.expose(), &tweet).await;
            if let Err(failure) = &result
                && failure.outcome == Outcome::Unauthorized
                && !refreshed
            {
                // Refused before anything happened, perhaps with a token that expired early:
                // one forced refresh, then the same call again under a new intent.
                let failure = match self.refresh_now(key, context.composer).await? {
                    Refresh::Fresh(fresh) => {
                        let detail = "X refused the access token; it was renewed and the post \
                                      is sent again."
                            .to_owned();
                        let answer = answer_of(failure, "transient", detail);
                        publishing.record_answer_only(key, attempt, &answer, clock::now()).await?;
                        tokens = fresh;
                        refreshed = true;
                        continue;
                    }
                    Refresh::Dead => PublishFailure {
                        outcome: Outcome::AuthDead {
                            message: "the access was refused and could not be renewed".to_owned(),
                        },
                        ..failure.clone()
                    },
                    // The token job is renewing the tokens right now: retry shortly with them.
                    Refresh::Busy => PublishFailure {
                        outcome: Outcome::Transient {
                            detail: "the access token is being renewed".to_owned(),
                        },
                        ..failure.clone()
                    },
                };
                let spent = Spent { token_refreshed: true, ..spent_of(target) };
                let class = self.record_failure(context, target, attempt, &failure, spent).await?;
                return Ok(Published::NotOut(class));
            }
            match result {
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
                        let ids = remote_ids_json(&posted);
                        publishing
                            .record_part(key, target.fence, attempt, &answer, &ids, now)
                            .await?;
                        continue;
                    }
                    let first = posted[0].clone();
                    let outcome = TargetOutcome::Published {
                        url: Some(x_url(&first)),
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
                    let spent = Spent { token_refreshed: refreshed, ..spent_of(target) };
                    let class =
                        self.record_failure(context, target, attempt, &failure, spent).await?;
                    return Ok(Published::NotOut(class));
                }
            }
        }
        Ok(Published::Untouched)
    }
}

impl ChannelService {
    /// Applies the domain's verdict on a failed call to the target, and carries out what it
    /// means beyond the target.
    async fn record_failure(
        &self,
        context: &PublishContext<'_>,
        target: &ClaimedTarget,
        attempt: postroute_store::AttemptId,
        failure: &PublishFailure,
        spent: Spent,
    ) -> Result<&'static str, Refusal> {
        let publishing = context.publishing;
        let now = clock::now();
        let verdict = failure.outcome.verdict(spent, &RetryPolicy::default(), now, jitter());
        let class = verdict.class.map_or("published", |class| class.as_str());
        let outcome = match verdict.step {
            // A failure's verdict is never "published"; kept total all the same.
            NextStep::Published | NextStep::Reconcile => {
                TargetOutcome::Unknown { look_at: context.settings.first_look(now) }
            }
            NextStep::RetryAt { at, .. } => TargetOutcome::RetryAt { at },
            // The refresh already happened in the loop; a second 401 arrives as auth dead.
            NextStep::RefreshTokenThenRetry => TargetOutcome::RetryAt { at: now },
            NextStep::Fail => TargetOutcome::Failed,
        };
        let answer = answer_of(failure, class, describe(&failure.outcome));
        publishing
            .record_answer(&target.key, target.fence, attempt, &answer, &outcome, now)
            .await?;
        tracing::warn!(
            post.id = display(&target.key.post),
            channel.id = display(&target.key.channel),
            class,
            "publishing to X did not succeed"
        );
        match verdict.consequence {
            None => {}
            Some(Consequence::BlockChannelUntil(until)) => {
                publishing.block_channel(target.key.workspace, target.key.channel, until).await?;
            }
            Some(Consequence::ChannelNeedsReconnect) => {
                let reason = match &failure.outcome {
                    Outcome::AuthDead { message } => message.clone(),
                    _ => "the platform refused the channel's access".to_owned(),
                };
                self.lose_grant(&target.key, &reason, context.composer).await?;
            }
            Some(Consequence::PauseProvider) => {
                let message = match &failure.outcome {
                    Outcome::CreditsDepleted { message } => message.clone(),
                    _ => "the platform refused every post of this app".to_owned(),
                };
                self.pause_provider(publishing, target.provider, &message, context.settings)
                    .await?;
            }
        }
        Ok(class)
    }

    /// Pauses `provider` for every workspace; the first worker to see it raises the critical
    /// system event, the rest only extend the pause.
    async fn pause_provider(
        &self,
        publishing: &Publishing<'_>,
        provider: Provider,
        message: &str,
        settings: &PublishSettings,
    ) -> Result<(), Refusal> {
        let now = clock::now();
        let until = now + settings.x_credits_pause;
        if publishing.pause_provider(provider, until, message, now).await? {
            tracing::error!(
                provider = provider.as_str(),
                until = display(until.to_rfc3339()),
                "publishing paused for every workspace: the app's credits are spent"
            );
            crate::system_events::record(
                &self.store,
                NewSystemEvent::new(SystemEventKind::XCreditsDepleted).details(serde_json::json!({
                    "provider": provider.as_str(),
                    "paused_until": until.to_rfc3339(),
                    "message": message,
                })),
            )
            .await;
        }
        Ok(())
    }

    /// Refreshes the channel's tokens now, under the token job's claim on the channel, after a
    /// 401 on a publishing call.
    async fn refresh_now(
        &self,
        key: &TargetKey,
        composer: &MailComposer,
    ) -> Result<Refresh, Refusal> {
        let now = clock::now();
        let claimed = self
            .store
            .tenant(key.workspace)
            .claim_channel_now(key.channel, now, now + CALL_TIMEOUT * 2)
            .await?;
        let Some(due) = claimed else {
            // The token job holds the channel, refreshing it: its new tokens will be there.
            return Ok(Refresh::Busy);
        };
        match self.check_for(&due, composer, Some(key)).await? {
            CheckOutcome::Healthy => {}
            CheckOutcome::NeedsReconnect => return Ok(Refresh::Dead),
            CheckOutcome::RetryLater => return Ok(Refresh::Busy),
        }
        let tenant = self.store.tenant(key.workspace);
        let Some(sealed) = tenant.channel_tokens(key.channel).await? else {
            return Ok(Refresh::Dead);
        };
        Ok(Refresh::Fresh(self.cipher.open(key.workspace, key.channel, &sealed)?))
    }
}

/// What a forced refresh came to.
enum Refresh {
    /// New tokens, stored.
    Fresh(super::tokens::PlainTokens),
    /// The grant is dead: the channel now needs reconnecting.
    Dead,
    /// Not now: the token job holds the channel, or the platform could not be reached.
    Busy,
}

/// The texts a post sends to X: its text (or X variant), then the thread's parts.
pub(super) fn thread_parts(post: &Post) -> Vec<String> {
    let variant = post.variants.for_provider(Provider::X);
    let first = variant.and_then(|variant| variant.content.clone()).unwrap_or(post.content.clone());
    std::iter::once(first)
        .chain(variant.map(|variant| variant.thread.clone()).unwrap_or_default())
        .collect()
}

/// The ids of a thread's parts already posted, as stored.
pub(super) fn posted_parts(remote_ids: Option<&str>) -> Vec<String> {
    remote_ids.and_then(|ids| serde_json::from_str(ids).ok()).unwrap_or_default()
}

/// The stored form of posted parts' ids.
pub(super) fn remote_ids_json(posted: &[String]) -> String {
    serde_json::to_string(posted).unwrap_or_default()
}

/// Where an X post can be seen.
pub(super) fn x_url(id: &str) -> String {
    format!("https://x.com/i/web/status/{id}")
}

fn spent_of(target: &ClaimedTarget) -> Spent {
    Spent { retries: u32::try_from(target.attempts).unwrap_or(u32::MAX), token_refreshed: false }
}

fn answer_of(failure: &PublishFailure, class: &str, detail: String) -> Answer {
    Answer {
        class: class.to_owned(),
        http_status: failure.http_status,
        platform_code: failure.platform_code.clone(),
        platform_request_id: failure.request_id.clone(),
        detail: Some(detail),
        ..Answer::default()
    }
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
