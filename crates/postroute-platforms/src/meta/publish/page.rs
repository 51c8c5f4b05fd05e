//! Facebook Page publishing with the Page token (publishing.md B.1, platforms.md 2.2): text and
//! link posts, one photo, several photos in one post, a video by URL.

use serde::Deserialize;

use super::Call;
use crate::PublishFailure;
use crate::meta::MetaClient;

/// A post on a Page's feed that Graph created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedPagePost {
    /// Graph's id of the feed post, `{page-id}_{post-id}`.
    pub post_id: String,
}

/// A photo Graph published on a Page: the photo, and the feed post that shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedPagePhoto {
    /// The feed post, `{page-id}_{post-id}`: the id to store, since reconciliation's listing
    /// and the post's link know the post, not the photo (publishing.md B.1).
    pub post_id: String,
    /// The photo object.
    pub photo_id: String,
}

/// A video Graph accepted for a Page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedPageVideo {
    /// The video object; its feed post appears once Graph has processed it.
    pub video_id: String,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct CreatedPhoto {
    id: String,
    post_id: String,
}

/// The public link of a Page post (`{page-id}_{post-id}`) or video id:
/// `https://www.facebook.com/{id}`.
///
/// Built rather than read from `permalink_url`: it needs no call after the post went live (a
/// failing read then must not fail a published target, publishing.md C, Instagram 4), and it
/// works for every kind of post, while only `POST /feed` answers `fields=permalink_url` and
/// `/photos` and `/videos` would need a second read. Facebook sends the id form on to the
/// post's canonical `/{page}/posts/{post}` page (from memory: the specs do not record this
/// form).
pub fn facebook_url(id: &str) -> String {
    format!("https://www.facebook.com/{id}")
}

impl MetaClient {
    /// Posts `message` (and `link`, when given) on the Page's feed: `POST /{page-id}/feed`.
    /// Irreversible (see [`super`]): a failure after sending is ambiguous. Graph refuses the
    /// same message again with 506 ("Duplicate status message"), which is permanent; after an
    /// ambiguous attempt, reconciliation takes it as a sign that the attempt went through.
    pub async fn publish_page_post(
        &self,
        page_id: &str,
        page_token: &str,
        message: &str,
        link: Option<&str>,
    ) -> Result<PublishedPagePost, PublishFailure> {
        let mut params = Vec::new();
        if !message.is_empty() {
            params.push(("message", message));
        }
        if let Some(link) = link {
            params.push(("link", link));
        }
        let created: Created = self
            .publishing_call(Call::Feed, &format!("{page_id}/feed"), page_token, &params)
            .await?;
        Ok(PublishedPagePost { post_id: created.id })
    }

    /// Publishes one photo that Graph fetches from `photo_url` (a public URL of ours), with
    /// `caption`: `POST /{page-id}/photos`. Irreversible.
    pub async fn publish_page_photo(
        &self,
        page_id: &str,
        page_token: &str,
        photo_url: &str,
        caption: &str,
    ) -> Result<PublishedPagePhoto, PublishFailure> {
        let mut params = vec![("url", photo_url), ("published", "true")];
        if !caption.is_empty() {
            params.push(("caption", caption));
        }
        let path = format!("{page_id}/photos");
        let created: CreatedPhoto =
            self.publishing_call(Call::PublishedPhoto, &path, page_token, &params).await?;
        Ok(PublishedPagePhoto { post_id: created.post_id, photo_id: created.id })
    }

    /// Uploads a photo for a multi-photo post without publishing it, and returns its id for
    /// [`MetaClient::publish_page_album`]: `POST /{page-id}/photos` with `published=false` and
    /// `temporary=true` (publishing.md B.1). Nothing is seen, so a failure is never ambiguous;
    /// a lost upload only leaves an unpublished photo behind.
    pub async fn upload_unpublished_photo(
        &self,
        page_id: &str,
        page_token: &str,
        photo_url: &str,
    ) -> Result<String, PublishFailure> {
        let params = [("url", photo_url), ("published", "false"), ("temporary", "true")];
        let path = format!("{page_id}/photos");
        let created: Created =
            self.publishing_call(Call::UnpublishedPhoto, &path, page_token, &params).await?;
        Ok(created.id)
    }

    /// Posts `message` with the photos uploaded by [`MetaClient::upload_unpublished_photo`], in
    /// order: `POST /{page-id}/feed` with `attached_media[i]={"media_fbid":"…"}`. Irreversible.
    pub async fn publish_page_album(
        &self,
        page_id: &str,
        page_token: &str,
        message: &str,
        photo_ids: &[String],
    ) -> Result<PublishedPagePost, PublishFailure> {
        let attached: Vec<(String, String)> = photo_ids
            .iter()
            .enumerate()
            .map(|(index, id)| {
                (
                    format!("attached_media[{index}]"),
                    serde_json::json!({ "media_fbid": id }).to_string(),
                )
            })
            .collect();
        let mut params: Vec<(&str, &str)> =
            attached.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
        if !message.is_empty() {
            params.push(("message", message));
        }
        let created: Created = self
            .publishing_call(Call::Feed, &format!("{page_id}/feed"), page_token, &params)
            .await?;
        Ok(PublishedPagePost { post_id: created.id })
    }

    /// Publishes a video that Graph fetches from `video_url`, with `description`: `POST
    /// /{page-id}/videos` with `file_url` (platforms.md 2.2), one request. Irreversible.
    pub async fn publish_page_video(
        &self,
        page_id: &str,
        page_token: &str,
        video_url: &str,
        description: &str,
    ) -> Result<PublishedPageVideo, PublishFailure> {
        let mut params = vec![("file_url", video_url)];
        if !description.is_empty() {
            params.push(("description", description));
        }
        let path = format!("{page_id}/videos");
        let created: Created =
            self.publishing_call(Call::Video, &path, page_token, &params).await?;
        Ok(PublishedPageVideo { video_id: created.id })
    }
}
