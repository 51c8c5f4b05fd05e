//! Reconciliation (publishing.md C): a target whose call went unanswered is `unknown`, and
//! nothing is sent again until a look at the platform says whether the post is there. Our own
//! records come first (a worker that lost its claim may still have written the platform's
//! answer); then the platform is looked at: X's timeline and a Page's published posts are
//! searched from the call's start for a post that matches what we sent (media keys, parent,
//! normalised text), and an Instagram target's saved container says for itself whether it
//! was published. Found: published. Absent after every look: the one retry that proof allows, while
//! the post is still timely. Neither: a person decides, and is told.

use chrono::{DateTime, TimeDelta, Utc};
use postroute_domain::publish::{Finding, ListedPost, Listing, Sought, TargetState, matching};
use postroute_domain::{NewSystemEvent, Provider, SystemEventKind, TargetStatus};
use postroute_platforms::meta::publish::{ContainerStatus, facebook_url};
use postroute_store::{Reconciliation, UnknownTarget};

use super::ChannelService;
use super::publish::{
    IgState, PublishContext, XMediaState, posted_parts, published_container_media, remote_ids_json,
    thread_parts, x_url,
};
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
        let provider = unknown.claim.provider;
        let tenant = self.store.tenant(key.workspace);
        let post = tenant.post(key.post).await?.ok_or(Refusal::NotFound)?;
        let mut posted = posted_parts(unknown.claim.remote_ids.as_deref());
        // X sends a thread part by part; the others send the post's text once.
        let parts = match provider {
            Provider::X => thread_parts(&post),
            other => vec![
                post.variants
                    .for_provider(other)
                    .and_then(|variant| variant.content.clone())
                    .unwrap_or_else(|| post.content.clone()),
            ],
        };

        // Our own records first: an answer that came back after the claim was lost.
        if let Some(id) = unknown.recorded_ids.iter().rev().find(|id| !posted.contains(id)) {
            posted.push(id.clone());
            let detail = format!("our records hold post {id}");
            return Ok((found(provider, &posted, parts.len(), None), detail));
        }
        let Some(text) = parts.get(posted.len()) else {
            return Ok((
                found(provider, &posted, parts.len(), None),
                "every part is recorded".to_owned(),
            ));
        };
        let since = unknown.sent_at.unwrap_or(unknown.claim.due_at) - CLOCK_SKEW;
        let looked = self.look(unknown, since, text).await?;
        let finding = match &looked {
            Ok(Look::Listed(listing)) => {
                let media_keys = match (provider, posted.is_empty()) {
                    (Provider::X, true) => unknown
                        .claim
                        .media_state
                        .as_deref()
                        .and_then(|state| serde_json::from_str::<XMediaState>(state).ok())
                        .map(|state| state.media_keys)
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                let sought = Sought {
                    text,
                    reply_to: posted.last().map(String::as_str),
                    media_keys: &media_keys,
                    not_before: since,
                };
                let mut matches: Vec<&ListedPost> = matching(&sought, &listing.posts);
                matches.sort_by_key(|post| post.id.parse::<u64>().unwrap_or(u64::MAX));
                match matches.first() {
                    Some(first) => {
                        let ids: Vec<&str> = matches.iter().map(|post| post.id.as_str()).collect();
                        if ids.len() > 1 {
                            tracing::error!(
                                post.id = display(&key.post),
                                ids = debug(&ids),
                                "the post is on its platform more than once; the earliest is \
                                 kept, none deleted"
                            );
                            let event = NewSystemEvent::new(SystemEventKind::PublishedTwice)
                                .details(serde_json::json!({
                                    "workspace_id": key.workspace,
                                    "post_id": key.post,
                                    "channel_id": key.channel,
                                    "provider": provider.as_str(),
                                    "platform_post_ids": ids,
                                }));
                            crate::system_events::record(&self.store, event).await;
                        }
                        posted.push(first.id.clone());
                        let detail = format!("found on {}: {}", provider.name(), ids.join(", "));
                        return Ok((found(provider, &posted, parts.len(), None), detail));
                    }
                    None => None,
                }
            }
            Ok(Look::Found { id, url }) => {
                posted.push(id.clone());
                let detail = format!("found on {}: {id}", provider.name());
                return Ok((found(provider, &posted, parts.len(), url.clone()), detail));
            }
            // Proof: the container that would have been published is not.
            Ok(Look::Absent) => Some(Finding::Absent),
            Ok(Look::NotYet) | Err(_) => None,
        };
        let now = clock::now();
        let finding = match finding {
            Some(finding) => finding,
            None => {
                // Nothing found (or no look possible) this time.
                let looks_done = unknown.looks.saturating_add(1);
                let next =
                    context.settings.looks.get(usize::try_from(looks_done).unwrap_or(usize::MAX));
                if let Some(wait) = next
                    && looked.is_ok()
                {
                    return Ok((
                        Reconciliation::LookAgain { at: now + *wait },
                        format!("not on the account yet (look {looks_done})"),
                    ));
                }
                // Absence is proven only by looks that worked, read the whole window since
                // the call, and found nothing.
                if matches!(&looked, Ok(Look::Listed(listing)) if listing.complete) {
                    Finding::Absent
                } else {
                    Finding::Inconclusive
                }
            }
        };
        let mut state = TargetState::new(unknown.claim.due_at);
        state.status = TargetStatus::Unknown;
        state.absence_retried = unknown.absence_retried;
        let window = postroute_domain::schedule::MissedAfter::from_minutes(
            u32::try_from(context.settings.missed_after.num_minutes()).unwrap_or(u32::MAX),
        )
        .unwrap_or_default();
        let reconciled = state.reconciled(finding, now, window).map_err(Refusal::internal)?;
        let looked_detail = match &looked {
            Ok(Look::Absent) => "the platform shows it was not published".to_owned(),
            Ok(Look::Listed(listing)) if !listing.complete => "the account posted more since the \
                                                               call than one look reads"
                .to_owned(),
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

    /// One look at the platform for `unknown`'s post of `text`, made after `since`.
    async fn look(
        &self,
        unknown: &UnknownTarget,
        since: DateTime<Utc>,
        text: &str,
    ) -> Result<Result<Look, String>, Refusal> {
        let key = &unknown.claim.key;
        let tenant = self.store.tenant(key.workspace);
        let channel = tenant.channel(key.channel).await?.ok_or(Refusal::NotFound)?;
        let Some(sealed) = tenant.channel_tokens(key.channel).await? else {
            return Ok(Err("the channel has no tokens to look with".to_owned()));
        };
        let tokens = self.cipher.open(key.workspace, key.channel, &sealed)?;
        let token = tokens.access_token.expose();
        let account = channel.external_id.as_str();
        Ok(match (unknown.claim.provider, self.x.as_ref(), self.meta.as_ref()) {
            (Provider::X, Some(x), _) => x
                .recent_posts(token, account, since)
                .await
                .map(Look::Listed)
                .map_err(|error| error.to_string()),
            (Provider::Facebook, _, Some(meta)) => meta
                .page_published_posts(account, token, since)
                .await
                .map(|page| {
                    Look::Listed(Listing {
                        posts: page
                            .posts
                            .into_iter()
                            .map(|post| ListedPost {
                                id: post.id,
                                text: post.message.unwrap_or_default(),
                                replied_to: None,
                                media_keys: Vec::new(),
                                created_at: Some(post.created_time),
                            })
                            .collect(),
                        complete: page.complete,
                    })
                })
                .map_err(|error| error.to_string()),
            (Provider::Instagram, _, Some(meta)) => {
                let saved: IgState = unknown
                    .claim
                    .media_state
                    .as_deref()
                    .and_then(|state| serde_json::from_str(state).ok())
                    .unwrap_or_default();
                // Without a saved container nothing can have been published: media_publish
                // names one, and it is saved before anything else happens.
                let Some(container) = saved.container else { return Ok(Ok(Look::Absent)) };
                match meta.ig_container_status(&container, token).await {
                    Ok(ContainerStatus::Published) => {
                        let (id, url) = published_container_media(
                            meta, account, token, &container, text, since,
                        )
                        .await;
                        Ok(Look::Found { id, url })
                    }
                    Ok(ContainerStatus::InProgress) => Ok(Look::NotYet),
                    Ok(_) => Ok(Look::Absent),
                    Err(failure) => Err(format!("{:?}", failure.outcome)),
                }
            }
            (provider, ..) => Err(format!("{} is not configured on this server", provider.name())),
        })
    }
}

/// What one look at the platform saw.
enum Look {
    /// The account's posts since the call, to match against what was sent.
    Listed(Listing),
    /// The platform says the post exists (an Instagram container that is PUBLISHED).
    Found { id: String, url: Option<String> },
    /// The platform proves it was not published (a container still FINISHED, or unusable).
    Absent,
    /// Not decided yet (a container still processing).
    NotYet,
}

/// The post's parts found up to `posted`: published once all `parts` are out, else the rest of
/// the thread is sent.
fn found(
    provider: Provider,
    posted: &[String],
    parts: usize,
    url: Option<String>,
) -> Reconciliation {
    if posted.len() < parts {
        return Reconciliation::ThreadContinues { remote_ids: remote_ids_json(posted) };
    }
    let first = posted.first().cloned().unwrap_or_default();
    let url = url.or_else(|| match provider {
        Provider::X => Some(x_url(&first)),
        Provider::Facebook => Some(facebook_url(&first)),
        Provider::Instagram => None,
    });
    Reconciliation::Published {
        url,
        remote_ids: (posted.len() > 1).then(|| remote_ids_json(posted)),
        platform_post_id: first,
    }
}
