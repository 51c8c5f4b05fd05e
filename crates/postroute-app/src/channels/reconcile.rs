//! Reconciliation (publishing.md C): a target whose call went unanswered is `unknown`, and
//! nothing is sent again until a look at the platform says whether the post is there. Our own
//! records come first (a worker that lost its claim may still have written the platform's
//! answer); then X's timeline is searched from the call's start for a post that matches what
//! we sent. Found: published. Absent after every look: the one retry that proof allows, while
//! the post is still timely. Neither: a person decides, and is told.

use chrono::TimeDelta;
use postroute_domain::publish::{Finding, ListedPost, Sought, TargetState, matching};
use postroute_domain::{Provider, TargetStatus};
use postroute_store::{Reconciliation, UnknownTarget};

use super::ChannelService;
use super::publish::{PublishContext, posted_parts, remote_ids_json, thread_parts, x_url};
use crate::{Refusal, clock};

/// How far before the call began a post of ours may seem to have been created: the clocks of
/// X and this machine differ.
const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);

impl ChannelService {
    /// Looks for `unknown`'s post and writes what was decided; settles its post.
    pub async fn reconcile(
        &self,
        context: &PublishContext<'_>,
        unknown: &UnknownTarget,
    ) -> Result<Reconciliation, Refusal> {
        let key = &unknown.claim.key;
        let (decision, detail) = self.decide(context, unknown).await?;
        let now = clock::now();
        let applied = context
            .publishing
            .record_reconciled(key, unknown.claim.fence, context.worker, &decision, &detail, now)
            .await?;
        if applied {
            tracing::info!(
                post.id = display(&key.post),
                channel.id = display(&key.channel),
                decision = debug(&decision),
                "reconciled an unknown target"
            );
            self.settle(context.publishing, key).await?;
        }
        Ok(decision)
    }

    async fn decide(
        &self,
        context: &PublishContext<'_>,
        unknown: &UnknownTarget,
    ) -> Result<(Reconciliation, String), Refusal> {
        let key = &unknown.claim.key;
        let tenant = self.store.tenant(key.workspace);
        let post = tenant.post(key.post).await?.ok_or(Refusal::NotFound)?;
        let mut posted = posted_parts(unknown.claim.remote_ids.as_deref());
        let parts =
            if unknown.claim.provider == Provider::X { thread_parts(&post) } else { vec![] };

        // Our own records first: an answer that came back after the claim was lost.
        if let Some(id) = unknown.recorded_ids.iter().rev().find(|id| !posted.contains(id)) {
            posted.push(id.clone());
            return Ok((found(&posted, parts.len()), format!("our records hold post {id}")));
        }

        let looked = match (unknown.claim.provider, self.x.as_ref()) {
            (Provider::X, Some(x)) => {
                let channel = tenant.channel(key.channel).await?.ok_or(Refusal::NotFound)?;
                let sealed = tenant.channel_tokens(key.channel).await?;
                match sealed {
                    None => Err("the channel has no tokens to look with".to_owned()),
                    Some(sealed) => {
                        let tokens = self.cipher.open(key.workspace, key.channel, &sealed)?;
                        let since = unknown.sent_at.unwrap_or(unknown.claim.due_at) - CLOCK_SKEW;
                        x.recent_posts(tokens.access_token.expose(), &channel.external_id, since)
                            .await
                            .map(|listed| (listed, since))
                            .map_err(|error| error.to_string())
                    }
                }
            }
            (provider, _) => Err(format!("PostRoute cannot look at {} yet", provider.as_str())),
        };
        if let Ok((listed, since)) = &looked {
            let Some(text) = parts.get(posted.len()) else {
                // Every part is stored: the post is out.
                return Ok((found(&posted, parts.len()), "every part is recorded".to_owned()));
            };
            let sought = Sought {
                text,
                reply_to: posted.last().map(String::as_str),
                media_keys: &[],
                not_before: *since,
            };
            let mut matches: Vec<&ListedPost> = matching(&sought, listed);
            matches.sort_by_key(|post| post.id.parse::<u64>().unwrap_or(u64::MAX));
            if let Some(first) = matches.first() {
                let ids: Vec<&str> = matches.iter().map(|post| post.id.as_str()).collect();
                if ids.len() > 1 {
                    tracing::error!(
                        post.id = display(&key.post),
                        ids = debug(&ids),
                        "the post is on X more than once; the earliest is kept, none deleted"
                    );
                }
                posted.push(first.id.clone());
                let detail = format!("found on X: {}", ids.join(", "));
                return Ok((found(&posted, parts.len()), detail));
            }
        }
        // Nothing found (or no look possible) this time.
        let looks_done = unknown.looks.saturating_add(1);
        let now = clock::now();
        if let Some(wait) =
            context.settings.looks.get(usize::try_from(looks_done).unwrap_or(usize::MAX))
            && looked.is_ok()
        {
            return Ok((
                Reconciliation::LookAgain { at: now + *wait },
                format!("not on the account yet (look {looks_done})"),
            ));
        }
        // Absence is proven only by a look that worked and found nothing.
        let finding = if looked.is_ok() { Finding::Absent } else { Finding::Inconclusive };
        let mut state = TargetState::new(unknown.claim.due_at);
        state.status = TargetStatus::Unknown;
        state.absence_retried = unknown.absence_retried;
        let window = postroute_domain::schedule::MissedAfter::from_minutes(
            u32::try_from(context.settings.missed_after.num_minutes()).unwrap_or(u32::MAX),
        )
        .unwrap_or_default();
        let reconciled = state.reconciled(finding, now, window).map_err(Refusal::internal)?;
        let looked_detail = match &looked {
            Ok(_) => "not on the account after every look".to_owned(),
            Err(error) => format!("could not look: {error}"),
        };
        let decision = match reconciled.target.status {
            TargetStatus::Pending => Reconciliation::Retry,
            TargetStatus::Missed => Reconciliation::AskPerson {
                missed: true,
                reason: "PostRoute could not find this post on the platform, and it is now too \
                         late to send it again without a person deciding."
                    .to_owned(),
            },
            _ => Reconciliation::AskPerson {
                missed: false,
                reason: match finding {
                    Finding::Absent => "The post was sent twice without an answer and is not on \
                                        the platform. Check the account, then retry, mark it \
                                        published, or dismiss it."
                        .to_owned(),
                    _ => format!(
                        "PostRoute cannot tell whether this post went out ({looked_detail}). \
                         Check the account, then mark it published, retry, or dismiss it."
                    ),
                },
            },
        };
        Ok((decision, looked_detail))
    }
}

/// The post's parts found up to `posted`: published once all `parts` are out, else the rest of
/// the thread is sent.
fn found(posted: &[String], parts: usize) -> Reconciliation {
    if posted.len() < parts {
        return Reconciliation::ThreadContinues { remote_ids: remote_ids_json(posted) };
    }
    let first = posted.first().cloned().unwrap_or_default();
    Reconciliation::Published {
        url: Some(x_url(&first)),
        remote_ids: (posted.len() > 1).then(|| remote_ids_json(posted)),
        platform_post_id: first,
    }
}
