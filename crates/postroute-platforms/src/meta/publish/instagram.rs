//! Instagram content publishing (publishing.md B.2, platforms.md 2.3): a container made from
//! media at a public URL, its status until it is FINISHED, `media_publish`, the day's quota and
//! the permalink. The token is the linked Page's or its manager's user token; Graph takes both.

use std::time::Duration;

use serde::Deserialize;

use postroute_domain::publish::Outcome;

use super::Call;
use crate::meta::MetaClient;
use crate::{PlatformError, PublishFailure};

/// What an Instagram container holds: `POST /{ig-user-id}/media`'s parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgContainer<'a> {
    /// A feed photo (Instagram takes JPEG), fetched from `image_url`.
    Image {
        /// A public URL of ours.
        image_url: &'a str,
        /// Left out when empty.
        caption: &'a str,
    },
    /// A reel: every single feed video is one since July 2023 (`media_type=REELS`).
    Reel {
        /// A public URL of ours.
        video_url: &'a str,
        /// Left out when empty.
        caption: &'a str,
    },
    /// A photo inside a carousel (`is_carousel_item=true`); the carousel carries the caption.
    CarouselImage {
        /// A public URL of ours.
        image_url: &'a str,
    },
    /// A video inside a carousel (`is_carousel_item=true`, `media_type=VIDEO`).
    CarouselVideo {
        /// A public URL of ours.
        video_url: &'a str,
    },
    /// The carousel (`media_type=CAROUSEL`) of 2 to 10 carousel item containers, in order.
    Carousel {
        /// The children's container ids.
        children: &'a [String],
        /// Left out when empty.
        caption: &'a str,
    },
}

/// A container's `status_code` (publishing.md B.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerStatus {
    /// Instagram is still fetching or processing the media: poll again.
    InProgress,
    /// Ready: `media_publish` may be called.
    Finished,
    /// Its media went live. Never publish it again (publishing.md C.3).
    Published,
    /// Processing failed; the container cannot be used, a new one must be made.
    Error {
        /// Graph's `status`, which carries the subcode.
        status: Option<String>,
    },
    /// Not published within 24 hours; a new one must be made.
    Expired,
}

/// `content_publishing_limit`: how much of the rolling window's quota the account has used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishingLimit {
    /// Posts published in the window (a carousel counts as one).
    pub usage: u32,
    /// Posts allowed in the window: read at run time, since the documented figure varies
    /// (25, 50 or 100, publishing.md B.2).
    pub total: u32,
    /// The window, when Graph says (24 hours).
    pub window: Option<Duration>,
}

impl PublishingLimit {
    /// Whether `media_publish` would be refused with code 9: then the channel waits instead of
    /// failing the post (publishing.md E.2, 8).
    pub fn exhausted(&self) -> bool {
        self.usage >= self.total
    }
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct StatusRead {
    status_code: String,
    status: Option<String>,
}

#[derive(Deserialize)]
struct LimitEnvelope {
    #[serde(default)]
    data: Vec<LimitData>,
}

#[derive(Deserialize)]
struct LimitData {
    quota_usage: u32,
    config: LimitConfig,
}

#[derive(Deserialize)]
struct LimitConfig {
    quota_total: u32,
    quota_duration: Option<u64>,
}

#[derive(Deserialize)]
struct PermalinkRead {
    permalink: String,
}

/// A read of ours that Graph answered with a shape we do not know: nothing was published by
/// it, so reading again is safe.
fn unknown_answer(detail: String) -> PublishFailure {
    PublishFailure {
        outcome: Outcome::Transient { detail },
        http_status: None,
        platform_code: None,
        request_id: None,
    }
}

impl MetaClient {
    /// Creates a container and returns its id: `POST /{ig-user-id}/media`. Publishes nothing,
    /// so every failure short of a refusal is transient; store the id before polling, since the
    /// container is what makes a later `media_publish` safe to repeat (publishing.md C).
    pub async fn create_ig_container(
        &self,
        ig_user_id: &str,
        token: &str,
        container: &IgContainer<'_>,
    ) -> Result<String, PublishFailure> {
        let children;
        let mut params = match *container {
            IgContainer::Image { image_url, caption } => {
                vec![("image_url", image_url), ("caption", caption)]
            }
            IgContainer::Reel { video_url, caption } => {
                vec![("media_type", "REELS"), ("video_url", video_url), ("caption", caption)]
            }
            IgContainer::CarouselImage { image_url } => {
                vec![("is_carousel_item", "true"), ("image_url", image_url)]
            }
            IgContainer::CarouselVideo { video_url } => vec![
                ("is_carousel_item", "true"),
                ("media_type", "VIDEO"),
                ("video_url", video_url),
            ],
            IgContainer::Carousel { children: ids, caption } => {
                children = ids.join(",");
                vec![
                    ("media_type", "CAROUSEL"),
                    ("children", children.as_str()),
                    ("caption", caption),
                ]
            }
        };
        params.retain(|(key, value)| *key != "caption" || !value.is_empty());
        let path = format!("{ig_user_id}/media");
        let created: Created =
            self.publishing_call(Call::CreateContainer, &path, token, &params).await?;
        Ok(created.id)
    }

    /// The container's status: `GET /{container-id}?fields=status_code,status`.
    pub async fn ig_container_status(
        &self,
        container_id: &str,
        token: &str,
    ) -> Result<ContainerStatus, PublishFailure> {
        let read: StatusRead = self
            .publishing_call(
                Call::ContainerStatus,
                container_id,
                token,
                &[("fields", "status_code,status")],
            )
            .await?;
        match read.status_code.as_str() {
            "IN_PROGRESS" => Ok(ContainerStatus::InProgress),
            "FINISHED" => Ok(ContainerStatus::Finished),
            "PUBLISHED" => Ok(ContainerStatus::Published),
            "ERROR" => Ok(ContainerStatus::Error { status: read.status }),
            "EXPIRED" => Ok(ContainerStatus::Expired),
            other => {
                Err(unknown_answer(format!("container status_code {other} is not one we know")))
            }
        }
    }

    /// Publishes a FINISHED container and returns the media id: `POST
    /// /{ig-user-id}/media_publish` with `creation_id`. Irreversible (see [`super`]). Read the
    /// container's status first: a PUBLISHED container must never be published again, and
    /// after an ambiguous failure its status is how to tell whether the post went live
    /// (publishing.md C, Instagram 2).
    pub async fn publish_ig_container(
        &self,
        ig_user_id: &str,
        token: &str,
        container_id: &str,
    ) -> Result<String, PublishFailure> {
        let path = format!("{ig_user_id}/media_publish");
        let params = [("creation_id", container_id)];
        let created: Created =
            self.publishing_call(Call::MediaPublish, &path, token, &params).await?;
        Ok(created.id)
    }

    /// The account's publishing quota: `GET /{ig-user-id}/content_publishing_limit`.
    pub async fn ig_publishing_limit(
        &self,
        ig_user_id: &str,
        token: &str,
    ) -> Result<PublishingLimit, PublishFailure> {
        let path = format!("{ig_user_id}/content_publishing_limit");
        let envelope: LimitEnvelope = self
            .publishing_call(
                Call::PublishingLimit,
                &path,
                token,
                &[("fields", "quota_usage,config")],
            )
            .await?;
        let Some(limit) = envelope.data.into_iter().next() else {
            return Err(unknown_answer("content_publishing_limit answered no data".to_owned()));
        };
        Ok(PublishingLimit {
            usage: limit.quota_usage,
            total: limit.config.quota_total,
            window: limit.config.quota_duration.map(Duration::from_secs),
        })
    }

    /// The published media's public link: `GET /{media-id}?fields=permalink`. The post is live
    /// once `media_publish` gave its id; a failure here must not fail the target
    /// (publishing.md C, Instagram 4).
    pub async fn ig_permalink(&self, media_id: &str, token: &str) -> Result<String, PlatformError> {
        let mut url = self.graph(media_id)?;
        url.query_pairs_mut().append_pair("fields", "permalink");
        let read: PermalinkRead = self.get(url, Some(token)).await?;
        Ok(read.permalink)
    }
}
