//! Publishing one claimed target (issue 13): the intent before every platform call, the call,
//! and the outcome the domain's rules give its answer. The service that keeps a channel's
//! tokens is the one that spends them.
//!
//! The platforms' own steps are in `x.rs` (text, threads, images, video) and `meta.rs`
//! (Facebook Pages, Instagram containers); what they share is here: the intent before each
//! irreversible call, the record of its answer, and the verdict on a failure. A target whose
//! platform is not configured on this server is given back untouched with a reason on it.
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
use postroute_store::{Answer, ClaimedTarget, Post, Publishing, TargetKey, TargetOutcome};

mod meta;
mod x;

pub(super) use meta::{IgState, published_container_media};
pub(super) use x::XMediaState;

use super::ChannelService;
use super::check::CheckOutcome;
use crate::config::WorkerConfig;
use crate::mail::MailComposer;
use crate::{Refusal, clock};

/// How long one platform call may take: the platforms' HTTP timeout.
pub const CALL_TIMEOUT: TimeDelta = TimeDelta::seconds(20);

/// How long a target whose platform is not configured here waits before it is looked at again.
const NOT_CONFIGURED_WAIT: TimeDelta = TimeDelta::hours(1);

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
        // An answer settles the post together with the target; a target given back untouched
        // leaves it to be settled here.
        if outcome == Published::Untouched {
            self.settle(context.publishing, &target.key).await?;
        }
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
        let key = &target.key;
        let tenant = self.store.tenant(key.workspace);
        let inputs =
            tenant.publish_inputs(key.post, key.channel).await?.ok_or(Refusal::NotFound)?;
        let tokens = self.cipher.open(key.workspace, key.channel, &inputs.tokens)?;
        let job = Job { context, target, post: &inputs.post, channel: &inputs.channel };
        match (target.provider, self.x.as_ref(), self.meta.as_ref()) {
            (Provider::X, Some(x), _) => self.publish_x(&job, x, tokens).await,
            (Provider::Facebook, _, Some(meta)) => self.publish_facebook(&job, meta, &tokens).await,
            (Provider::Instagram, _, Some(meta)) => {
                self.publish_instagram(&job, meta, &tokens).await
            }
            (provider, ..) => {
                let reason = format!(
                    "{} is not configured on this server; this target waits until it is.",
                    provider.name()
                );
                let until = clock::now() + NOT_CONFIGURED_WAIT;
                context.publishing.defer(key, target.fence, until, &reason).await?;
                Ok(Published::Untouched)
            }
        }
    }

    /// Commits the intent for the next call of `job`, unless the lease would end before the
    /// call could: `None` means do not call (the lease lapses, and the next claim resumes).
    pub(super) async fn intent(
        &self,
        job: &Job<'_>,
    ) -> Result<Option<postroute_store::AttemptId>, Refusal> {
        let now = clock::now();
        if !may_start_call(job.target.lease_expires_at, now, CALL_TIMEOUT) {
            return Ok(None);
        }
        let PublishContext { publishing, worker, .. } = *job.context;
        let key = &job.target.key;
        let fence = job.target.fence;
        Ok(publishing
            .begin_attempt(key, fence, worker, now, now + CALL_TIMEOUT + SEND_MARGIN)
            .await?)
    }

    /// Records that `job`'s target is on its platform as `id`, seen at `url`.
    pub(super) async fn record_published(
        &self,
        job: &Job<'_>,
        attempt: postroute_store::AttemptId,
        id: &str,
        url: Option<String>,
    ) -> Result<Published, Refusal> {
        let answer = Answer {
            class: "published".to_owned(),
            platform_post_id: Some(id.to_owned()),
            ..Answer::default()
        };
        let outcome = TargetOutcome::Published { url, platform_post_id: id.to_owned() };
        let (key, fence) = (&job.target.key, job.target.fence);
        job.context
            .publishing
            .record_answer(key, fence, attempt, &answer, &outcome, clock::now())
            .await?;
        tracing::info!(
            post.id = display(&key.post),
            channel.id = display(&key.channel),
            platform = job.target.provider.as_str(),
            platform_post_id = id,
            "published"
        );
        Ok(Published::Out(id.to_owned()))
    }

    /// Records a failure of a step before the irreversible call (an upload, a container), which
    /// created nothing anyone sees: under an attempt of its own, so the verdict is the same as
    /// for any call, and no intent is left open.
    pub(super) async fn record_unsent(
        &self,
        job: &Job<'_>,
        failure: &PublishFailure,
    ) -> Result<Published, Refusal> {
        let Some(attempt) = self.intent(job).await? else { return Ok(Published::Untouched) };
        self.record_failed(job, attempt, failure).await
    }

    /// Records a failed call of `job` and returns what it was.
    pub(super) async fn record_failed(
        &self,
        job: &Job<'_>,
        attempt: postroute_store::AttemptId,
        failure: &PublishFailure,
    ) -> Result<Published, Refusal> {
        let spent = spent_of(job.target);
        let class = self.record_failure(job.context, job.target, attempt, failure, spent).await?;
        Ok(Published::NotOut(class))
    }
}

/// One claimed target being published: the claim, its post and its channel.
pub(super) struct Job<'a> {
    pub context: &'a PublishContext<'a>,
    pub target: &'a ClaimedTarget,
    pub post: &'a Post,
    pub channel: &'a postroute_store::Channel,
}

impl Job<'_> {
    /// The text for the target's platform: its variant's, or the post's.
    pub fn text(&self) -> &str {
        self.post
            .variants
            .for_provider(self.target.provider)
            .and_then(|variant| variant.content.as_deref())
            .unwrap_or(&self.post.content)
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
            // The publishers refresh at once and report what followed; a 401 that reaches
            // here unrefreshed waits for the token job rather than loop on the platform.
            NextStep::RefreshTokenThenRetry => {
                TargetOutcome::RetryAt { at: now + TimeDelta::seconds(60) }
            }
            NextStep::Fail => TargetOutcome::Failed,
        };
        let platform = target.provider.name();
        let answer = answer_of(failure, class, describe(platform, &failure.outcome));
        publishing
            .record_answer(&target.key, target.fence, attempt, &answer, &outcome, now)
            .await?;
        tracing::warn!(
            post.id = display(&target.key.post),
            channel.id = display(&target.key.channel),
            class,
            platform,
            "publishing did not succeed"
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
fn describe(platform: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Created => "Published.".to_owned(),
        Outcome::Transient { detail } => {
            format!("{platform} could not be reached or refused for now ({detail}); retrying.")
        }
        Outcome::RateLimited { reset_at } => match reset_at {
            Some(at) => {
                format!("{platform} asked to wait until {}; retrying then.", at.to_rfc3339())
            }
            None => format!("{platform} asked to slow down; retrying later."),
        },
        Outcome::Unauthorized => {
            format!("{platform} refused the channel's access token; retrying after a refresh.")
        }
        Outcome::AuthDead { message } => {
            format!("{platform} no longer accepts this channel: {message}")
        }
        Outcome::Permanent { message } => format!("{platform} refused the post: {message}"),
        Outcome::CreditsDepleted { message } => {
            format!("{platform} publishing is paused: {message}")
        }
        Outcome::Ambiguous { detail } => format!(
            "{platform} did not confirm the post ({detail}); checking whether it went out before \
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
