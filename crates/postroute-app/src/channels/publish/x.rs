//! X: files uploaded at publish time (one-shot for images, chunked for video and GIFs), then
//! the post and the parts of its thread.

use std::time::Instant;

use postroute_domain::media::{MediaKind, MediaType};
use postroute_domain::publish::{Outcome, Spent};
use postroute_platforms::PublishFailure;
use postroute_platforms::x::media::ChunkedMedia;
use postroute_platforms::x::{NewTweet, XClient};
use postroute_store::Answer;

use super::{
    Job, PublishContext, Published, Refresh, answer_of, posted_parts, remote_ids_json, spent_of,
    thread_parts, x_url,
};
use crate::channels::ChannelService;
use crate::channels::tokens::PlainTokens;
use crate::{Refusal, clock};

/// What reconciliation reads of an X target's `media_state`: the media keys of the files the
/// first part carried.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub(in crate::channels) struct XMediaState {
    pub media_keys: Vec<String>,
}

impl ChannelService {
    /// Publishes an X target: its files uploaded first (X media ids expire after a day, so
    /// they are uploaded at publish time), then the post and each part of its thread, each
    /// part's id stored before the next is sent.
    pub(super) async fn publish_x(
        &self,
        job: &Job<'_>,
        x: &XClient,
        mut tokens: PlainTokens,
    ) -> Result<Published, Refusal> {
        let Job { context, target, post, .. } = *job;
        let PublishContext { publishing, .. } = *context;
        let key = &target.key;
        let parts = thread_parts(post);
        let mut posted = posted_parts(target.remote_ids.as_deref());
        let mut refreshed = false;

        while posted.len() < parts.len() {
            let now = clock::now();
            // The files go with the first part, uploaded before its intent: the intent comes
            // right before the call, while the lease still outlasts it.
            let media_ids = if posted.is_empty() && !post.media_ids.is_empty() {
                match self.upload_to_x(job, x, &tokens).await? {
                    Ok(ids) => ids,
                    Err(failure) if failure.outcome == Outcome::Unauthorized && !refreshed => {
                        match self.renewed(key, context, &failure).await? {
                            Ok(fresh) => {
                                (tokens, refreshed) = (fresh, true);
                                continue;
                            }
                            Err(failure) => return self.record_unsent(job, &failure).await,
                        }
                    }
                    Err(failure) => return self.record_unsent(job, &failure).await,
                }
            } else {
                Vec::new()
            };
            let Some(attempt) = self.intent(job).await? else {
                return Ok(Published::Untouched);
            };
            let tweet = NewTweet {
                text: &parts[posted.len()],
                reply_to: posted.last().map(String::as_str),
                media_ids: &media_ids,
            };
            let result = x.create_tweet(tokens.access_token.expose(), &tweet).await;
            if let Err(failure) = &result
                && failure.outcome == Outcome::Unauthorized
                && !refreshed
            {
                // Refused before anything happened, perhaps with a token that expired early:
                // one forced refresh, then the same call again under a new intent.
                let failure = match self.renewed(key, context, failure).await? {
                    Ok(fresh) => {
                        let detail = "X refused the access token; it was renewed and the post \
                                      is sent again."
                            .to_owned();
                        let answer = answer_of(failure, "transient", detail);
                        publishing.record_answer_only(key, attempt, &answer, clock::now()).await?;
                        (tokens, refreshed) = (fresh, true);
                        continue;
                    }
                    Err(failure) => failure,
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
                    return self.record_published(job, attempt, &first, Some(x_url(&first))).await;
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

    /// The one forced refresh a 401 earns: new tokens, or what the 401 now means (the grant is
    /// dead, or the token job is renewing the tokens right now and the post waits for them).
    async fn renewed(
        &self,
        key: &postroute_store::TargetKey,
        context: &PublishContext<'_>,
        failure: &PublishFailure,
    ) -> Result<Result<PlainTokens, PublishFailure>, Refusal> {
        Ok(match self.refresh_now(key, context.composer).await? {
            Refresh::Fresh(fresh) => Ok(fresh),
            Refresh::Dead => Err(PublishFailure {
                outcome: Outcome::AuthDead {
                    message: "the access was refused and could not be renewed".to_owned(),
                },
                ..failure.clone()
            }),
            Refresh::Busy => Err(PublishFailure {
                outcome: Outcome::Transient {
                    detail: "the access token is being renewed".to_owned(),
                },
                ..failure.clone()
            }),
        })
    }

    /// Uploads the post's files to X, and saves their media keys before the post is sent (the
    /// sign by which reconciliation knows it). A failed upload created nothing anyone sees.
    async fn upload_to_x(
        &self,
        job: &Job<'_>,
        x: &XClient,
        tokens: &PlainTokens,
    ) -> Result<Result<Vec<String>, PublishFailure>, Refusal> {
        let Some(media) = &self.media else {
            return Ok(Err(PublishFailure::unsent("this server has no media library")));
        };
        let deadline = Instant::now()
            + (job.target.lease_expires_at - clock::now()).to_std().unwrap_or_default() / 2;
        let (mut ids, mut keys) = (Vec::new(), Vec::new());
        for id in &job.post.media_ids {
            let (file, _, bytes) =
                media.for_publishing(job.target.key.workspace, *id, true).await?;
            let bytes = bytes.unwrap_or_default();
            let token = tokens.access_token.expose();
            let media_type = MediaType::from_mime(&file.mime);
            let uploaded = match (file.kind, media_type) {
                (MediaKind::Image, Some(media_type)) if media_type != MediaType::Gif => {
                    x.upload_image(token, &bytes, deadline).await
                }
                (_, Some(media_type)) => {
                    let total_bytes = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
                    let chunked = ChunkedMedia { media_type, total_bytes };
                    x.upload_chunked(token, chunked, bytes.as_slice(), deadline).await
                }
                (_, None) => Err(PublishFailure {
                    outcome: Outcome::Permanent {
                        message: format!("X does not take files of type {}", file.mime),
                    },
                    http_status: None,
                    platform_code: None,
                    request_id: None,
                }),
            };
            match uploaded {
                Ok(uploaded) => {
                    ids.push(uploaded.id);
                    keys.push(uploaded.media_key);
                }
                Err(failure) => return Ok(Err(failure)),
            }
        }
        let state = serde_json::to_string(&XMediaState { media_keys: keys }).unwrap_or_default();
        let (publishing, key) = (job.context.publishing, &job.target.key);
        publishing.save_media_state(key, job.target.fence, &state).await?;
        Ok(Ok(ids))
    }
}
