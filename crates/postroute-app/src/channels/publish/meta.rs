//! Facebook Pages and Instagram. Meta fetches a post's files itself, from the signed public
//! links of the media library. A Page post is one irreversible call (after unpublished
//! uploads, for several photos), its intent committed right before it. An Instagram post is a container made from the files, whose
//! id is saved before anything else happens, polled until FINISHED, then published: the
//! container is in effect the idempotency key, so a resumed or reconciled target publishes the
//! same container, never a second one.

use std::time::Duration;

use postroute_domain::media::MediaKind;
use postroute_domain::publish::{Outcome, normalise};
use postroute_platforms::PublishFailure;
use postroute_platforms::meta::MetaClient;
use postroute_platforms::meta::publish::{ContainerStatus, IgContainer, facebook_url};
use postroute_store::Media;

use super::{Job, Published};
use crate::channels::ChannelService;
use crate::channels::tokens::PlainTokens;
use crate::{Refusal, clock};

/// Files Instagram takes in one carousel.
const CAROUSEL_MAX: usize = 10;

/// How often a container's status is read while Meta processes it.
const CONTAINER_POLL: Duration = Duration::from_secs(1);
const CONTAINER_POLL_DELTA: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// How long an Instagram account whose day's quota is spent waits before it is read again.
const IG_QUOTA_RECHECK: chrono::TimeDelta = chrono::TimeDelta::minutes(30);

/// How far before its due time a resumed post's media may seem to have been created: the
/// clocks of Meta and this machine differ.
const RESUME_CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// What an Instagram target's `media_state` holds: the container, once made.
#[derive(serde::Serialize, serde::Deserialize, Default)]
pub(in crate::channels) struct IgState {
    pub container: Option<String>,
}

/// The live media of a container Instagram says is PUBLISHED: found among the account's
/// recent media by caption and time (publishing.md C), its permalink with it; the container's
/// own id stands in, with no link, when it cannot be found, since the post is live all the
/// same and must never be published again.
pub(in crate::channels) async fn published_container_media(
    meta: &MetaClient,
    account: &str,
    token: &str,
    container: &str,
    caption: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> (String, Option<String>) {
    let caption = normalise(caption);
    let media = meta.ig_recent_media(account, token).await.unwrap_or_default();
    let ours = media.into_iter().find(|item| {
        item.timestamp >= since
            && item.caption.as_deref().map(normalise).as_deref() == Some(caption.as_str())
    });
    match ours {
        Some(item) => (item.id, item.permalink),
        None => (container.to_owned(), None),
    }
}

/// A post's files with the public links Meta fetches them from.
struct Files(Vec<(Media, String)>);

impl Files {
    fn kinds(&self) -> Vec<MediaKind> {
        self.0.iter().map(|(media, _)| media.kind).collect()
    }
}

fn refused(message: impl Into<String>) -> PublishFailure {
    PublishFailure {
        outcome: Outcome::Permanent { message: message.into() },
        http_status: None,
        platform_code: None,
        request_id: None,
    }
}

impl ChannelService {
    async fn files(&self, job: &Job<'_>) -> Result<Files, Refusal> {
        let Some(media) = &self.media else { return Ok(Files(Vec::new())) };
        let mut files = Vec::new();
        for id in &job.post.media_ids {
            let (file, link, _) =
                media.for_publishing(job.target.key.workspace, *id, false).await?;
            files.push((file, link.url.to_string()));
        }
        Ok(Files(files))
    }

    /// A Page post: text (`/feed`), one photo (`/photos`), several photos (unpublished uploads,
    /// then `/feed` with `attached_media`), or one video (`/videos`).
    pub(super) async fn publish_facebook(
        &self,
        job: &Job<'_>,
        meta: &MetaClient,
        tokens: &PlainTokens,
    ) -> Result<Published, Refusal> {
        let (page, token, text) =
            (job.channel.external_id.as_str(), tokens.access_token.expose(), job.text());
        let files = self.files(job).await?;
        // Several photos go up unpublished first; nothing is visible until the post names them.
        let mut photos = Vec::new();
        if files.0.len() > 1 && files.kinds().iter().all(|kind| *kind == MediaKind::Image) {
            for (_, url) in &files.0 {
                match meta.upload_unpublished_photo(page, token, url).await {
                    Ok(photo) => photos.push(photo),
                    Err(failure) => return self.record_unsent(job, &failure).await,
                }
            }
        }
        let Some(attempt) = self.intent(job).await? else { return Ok(Published::Untouched) };
        let published = match (files.kinds().as_slice(), files.0.as_slice()) {
            ([], _) => {
                meta.publish_page_post(page, token, text, None).await.map(|post| post.post_id)
            }
            ([MediaKind::Image], [(_, url)]) => {
                meta.publish_page_photo(page, token, url, text).await.map(|photo| photo.post_id)
            }
            ([MediaKind::Video], [(_, url)]) => {
                meta.publish_page_video(page, token, url, text).await.map(|video| video.video_id)
            }
            _ if !photos.is_empty() => {
                meta.publish_page_album(page, token, text, &photos).await.map(|post| post.post_id)
            }
            _ => Err(refused("A Facebook post carries photos or one video, not both.")),
        };
        match published {
            Ok(id) => self.record_published(job, attempt, &id, Some(facebook_url(&id))).await,
            Err(failure) => self.record_failed(job, attempt, &failure).await,
        }
    }

    /// An Instagram post: the container (made once, or the one saved), FINISHED, the day's
    /// quota, then `media_publish`.
    pub(super) async fn publish_instagram(
        &self,
        job: &Job<'_>,
        meta: &MetaClient,
        tokens: &PlainTokens,
    ) -> Result<Published, Refusal> {
        let (account, token) = (job.channel.external_id.as_str(), tokens.access_token.expose());
        let saved: IgState = job
            .target
            .media_state
            .as_deref()
            .and_then(|state| serde_json::from_str(state).ok())
            .unwrap_or_default();
        let mut container = None;
        if let Some(id) = saved.container {
            match meta.ig_container_status(&id, token).await {
                // Published by an attempt whose answer was lost: never publish it again.
                Ok(ContainerStatus::Published) => {
                    let since = job.target.due_at - RESUME_CLOCK_SKEW;
                    let (media, url) =
                        published_container_media(meta, account, token, &id, job.text(), since)
                            .await;
                    let Some(attempt) = self.intent(job).await? else {
                        return Ok(Published::Untouched);
                    };
                    return self.record_published(job, attempt, &media, url).await;
                }
                Ok(ContainerStatus::Finished | ContainerStatus::InProgress) => container = Some(id),
                // Unusable: a new one is made.
                Ok(ContainerStatus::Error { .. } | ContainerStatus::Expired) => {}
                Err(failure) => return self.record_unsent(job, &failure).await,
            }
        }
        let container = match container {
            Some(id) => id,
            None => match self.make_container(job, meta, token).await? {
                Ok(id) => id,
                Err(failure) => return self.record_unsent(job, &failure).await,
            },
        };
        if let Err(failure) = self.until_finished(job, meta, token, &container).await {
            return self.record_unsent(job, &failure).await;
        }
        match meta.ig_publishing_limit(account, token).await {
            Ok(limit) if limit.exhausted() => {
                // The window rolls: a place frees up when the oldest post in it turns
                // `quota_duration` old, which Meta does not say. The channel waits for a
                // recheck, not for a whole window.
                let recheck = limit
                    .window
                    .and_then(|window| chrono::TimeDelta::from_std(window).ok())
                    .map_or(IG_QUOTA_RECHECK, |window| window.min(IG_QUOTA_RECHECK));
                let failure = PublishFailure {
                    outcome: Outcome::RateLimited { reset_at: Some(clock::now() + recheck) },
                    http_status: None,
                    platform_code: Some("content_publishing_limit".to_owned()),
                    request_id: None,
                };
                return self.record_unsent(job, &failure).await;
            }
            Ok(_) => {}
            Err(failure) => return self.record_unsent(job, &failure).await,
        }
        let Some(attempt) = self.intent(job).await? else { return Ok(Published::Untouched) };
        match meta.publish_ig_container(account, token, &container).await {
            Ok(id) => {
                // Live once media_publish answered: a failing permalink read must not fail it.
                let url = meta.ig_permalink(&id, token).await.ok();
                self.record_published(job, attempt, &id, url).await
            }
            Err(failure) => self.record_failed(job, attempt, &failure).await,
        }
    }

    /// Makes the post's container (a carousel's children first) and saves its id before
    /// anything else happens.
    async fn make_container(
        &self,
        job: &Job<'_>,
        meta: &MetaClient,
        token: &str,
    ) -> Result<Result<String, PublishFailure>, Refusal> {
        let (account, caption) = (job.channel.external_id.as_str(), job.text());
        let files = self.files(job).await?;
        let made = match files.0.as_slice() {
            [] => Err(refused("An Instagram post needs a photo or a video.")),
            [(media, url)] => {
                let container = match media.kind {
                    MediaKind::Image => IgContainer::Image { image_url: url, caption },
                    MediaKind::Video => IgContainer::Reel { video_url: url, caption },
                };
                meta.create_ig_container(account, token, &container).await
            }
            many if many.len() > CAROUSEL_MAX => {
                Err(refused(format!("An Instagram carousel holds at most {CAROUSEL_MAX} files.")))
            }
            many => {
                let mut children = Vec::new();
                for (media, url) in many {
                    let child = match media.kind {
                        MediaKind::Image => IgContainer::CarouselImage { image_url: url },
                        MediaKind::Video => IgContainer::CarouselVideo { video_url: url },
                    };
                    match meta.create_ig_container(account, token, &child).await {
                        Ok(id) => children.push(id),
                        Err(failure) => return Ok(Err(failure)),
                    }
                }
                for child in &children {
                    if let Err(failure) = self.until_finished(job, meta, token, child).await {
                        return Ok(Err(failure));
                    }
                }
                let parent = IgContainer::Carousel { children: &children, caption };
                meta.create_ig_container(account, token, &parent).await
            }
        };
        if let Ok(id) = &made {
            let state =
                serde_json::to_string(&IgState { container: Some(id.clone()) }).unwrap_or_default();
            job.context
                .publishing
                .save_media_state(&job.target.key, job.target.fence, &state)
                .await?;
        }
        Ok(made)
    }

    /// Reads the container's status until FINISHED, while the lease leaves room for the
    /// publish call after it; a container still processing then is left for the next claim,
    /// which resumes with the saved id.
    async fn until_finished(
        &self,
        job: &Job<'_>,
        meta: &MetaClient,
        token: &str,
        container: &str,
    ) -> Result<(), PublishFailure> {
        loop {
            match meta.ig_container_status(container, token).await? {
                ContainerStatus::Finished => return Ok(()),
                ContainerStatus::InProgress => {}
                ContainerStatus::Published => return Ok(()),
                ContainerStatus::Error { status } => {
                    return Err(refused(format!(
                        "Instagram could not process the file: {}",
                        status.unwrap_or_else(|| "no reason given".to_owned())
                    )));
                }
                ContainerStatus::Expired => {
                    return Err(PublishFailure::unsent("the Instagram container expired"));
                }
            }
            // Room for the next status read, the quota read and media_publish (whose intent
            // checks the lease once more).
            let left = job.target.lease_expires_at - clock::now();
            if left < super::CALL_TIMEOUT * 2 + CONTAINER_POLL_DELTA {
                return Err(PublishFailure::unsent("Instagram is still processing the file"));
            }
            tokio::time::sleep(CONTAINER_POLL).await;
        }
    }
}
