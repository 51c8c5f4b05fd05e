//! The reads reconciliation makes after an ambiguous publish (publishing.md C): the Page's own
//! recent posts and the Instagram account's recent media, newest first. Matching them to a
//! target (exact text, time window, media kind; never "the newest one") is the caller's job.
//! Only the first page is read: an attempt being reconciled is minutes old.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::PlatformError;
use crate::meta::MetaClient;

/// A post from `GET /{page-id}/published_posts`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PagePostSummary {
    /// `{page-id}_{post-id}`.
    pub id: String,
    /// Its text, if it has any.
    #[serde(default)]
    pub message: Option<String>,
    /// When it was created.
    #[serde(deserialize_with = "graph_time")]
    pub created_time: DateTime<Utc>,
    /// The kind of each attachment (a photo post has one `Photo`, a multi-photo post one
    /// `Album`); empty for a text post.
    #[serde(default, rename = "attachments", deserialize_with = "attachment_types")]
    pub attachment_types: Vec<PageAttachmentType>,
}

/// An attachment's `media_type` on a Page post.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageAttachmentType {
    /// One photo.
    Photo,
    /// Several photos (`attached_media`).
    Album,
    /// A video.
    Video,
    /// A link preview.
    Link,
    /// Any kind we do not publish.
    #[serde(other)]
    Other,
}

/// A post from `GET /{ig-user-id}/media`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct IgMediaSummary {
    /// The media id.
    pub id: String,
    /// Its caption, if it has one.
    #[serde(default)]
    pub caption: Option<String>,
    /// When it was published.
    #[serde(deserialize_with = "graph_time")]
    pub timestamp: DateTime<Utc>,
    /// What it is.
    pub media_type: IgMediaType,
    /// Its public link.
    #[serde(default)]
    pub permalink: Option<String>,
}

/// An Instagram media's `media_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IgMediaType {
    /// A photo.
    Image,
    /// A video, reels included.
    Video,
    /// A carousel.
    CarouselAlbum,
    /// Any kind we do not publish.
    #[serde(other)]
    Other,
}

/// How many pages of a Page's posts one look reads at most (25 each).
const PAGE_POSTS_PAGES: usize = 10;

/// A Page's posts since a moment, as far as they were read.
#[derive(Clone, Debug, Default)]
pub struct PagePosts {
    /// Newest first.
    pub posts: Vec<PagePostSummary>,
    /// Whether the reading reached a post older than the moment, or the Page's last page.
    pub complete: bool,
}

#[derive(Deserialize)]
struct Listing<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    paging: Option<Paging>,
}

/// Graph's paging: the cursors, and `next` only when there is a next page.
#[derive(Deserialize)]
struct Paging {
    cursors: Option<Cursors>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct Cursors {
    after: Option<String>,
}

#[derive(Deserialize)]
struct Attachments {
    #[serde(default)]
    data: Vec<Attachment>,
}

#[derive(Deserialize)]
struct Attachment {
    media_type: PageAttachmentType,
}

fn attachment_types<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<PageAttachmentType>, D::Error> {
    let attachments = Option::<Attachments>::deserialize(deserializer)?;
    Ok(attachments
        .map(|attachments| attachments.data.into_iter().map(|item| item.media_type).collect())
        .unwrap_or_default())
}

/// Graph's time, `2026-12-01T15:49:01+0000` (RFC 3339's `+00:00` accepted too).
fn graph_time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    let text = String::deserialize(deserializer)?;
    DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| DateTime::parse_from_rfc3339(&text))
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| serde::de::Error::custom(format!("bad Graph time {text:?}: {error}")))
}

impl MetaClient {
    /// The Page's posts of its own created at `since` or later, newest first (`/feed` would
    /// add visitors' posts): `GET /{page-id}/published_posts?fields=id,message,created_time,
    /// attachments{media_type}`, 25 to a page, following the `after` cursor until a post older
    /// than `since` shows, Graph has no next page, or [`PAGE_POSTS_PAGES`] were read (then the
    /// listing is incomplete). Unpublished photos never show here, only the feed post that
    /// attaches them.
    pub async fn page_published_posts(
        &self,
        page_id: &str,
        page_token: &str,
        since: DateTime<Utc>,
    ) -> Result<PagePosts, PlatformError> {
        let mut listing = PagePosts::default();
        let mut after: Option<String> = None;
        for _ in 0..PAGE_POSTS_PAGES {
            let mut url = self.graph(&format!("{page_id}/published_posts"))?;
            url.query_pairs_mut()
                .append_pair("fields", "id,message,created_time,attachments{media_type}")
                .append_pair("limit", "25");
            if let Some(cursor) = &after {
                url.query_pairs_mut().append_pair("after", cursor);
            }
            let page: Listing<PagePostSummary> = self.get(url, Some(page_token)).await?;
            let reached_since = page.data.iter().any(|post| post.created_time < since);
            listing.posts.extend(page.data.into_iter().filter(|post| post.created_time >= since));
            after = page.paging.and_then(|paging| paging.next.and(paging.cursors?.after));
            if reached_since || after.is_none() {
                listing.complete = true;
                break;
            }
        }
        Ok(listing)
    }

    /// The account's 10 most recent media:
    /// `GET /{ig-user-id}/media?fields=id,caption,timestamp,media_type,permalink`.
    pub async fn ig_recent_media(
        &self,
        ig_user_id: &str,
        token: &str,
    ) -> Result<Vec<IgMediaSummary>, PlatformError> {
        let mut url = self.graph(&format!("{ig_user_id}/media"))?;
        url.query_pairs_mut()
            .append_pair("fields", "id,caption,timestamp,media_type,permalink")
            .append_pair("limit", "10");
        let listing: Listing<IgMediaSummary> = self.get(url, Some(token)).await?;
        Ok(listing.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_parse_graphs_shapes() {
        let page: Listing<PagePostSummary> = serde_json::from_str(
            r#"{"data":[
                {"id":"501_2","created_time":"2026-12-01T15:49:01+0000","message":"Two loaves",
                 "attachments":{"data":[{"media_type":"album"}]}},
                {"id":"501_1","created_time":"2026-12-01T15:48:00+0000"},
                {"id":"501_0","created_time":"2026-12-01T15:47:00+00:00","attachments":{"data":[{"media_type":"cover_photo"}]}}
            ],"paging":{"cursors":{"before":"a","after":"b"}}}"#,
        )
        .unwrap();
        assert_eq!(page.data[0].attachment_types, [PageAttachmentType::Album]);
        assert_eq!(page.data[0].created_time.to_rfc3339(), "2026-12-01T15:49:01+00:00");
        assert_eq!(
            (page.data[1].message.as_deref(), page.data[1].attachment_types.len()),
            (None, 0)
        );
        assert_eq!(page.data[2].attachment_types, [PageAttachmentType::Other]);

        let media: Listing<IgMediaSummary> = serde_json::from_str(
            r#"{"data":[{"id":"179","caption":"Croissants","timestamp":"2026-12-01T15:49:01+0000",
                "media_type":"CAROUSEL_ALBUM","permalink":"https://www.instagram.com/p/x/"},
                {"id":"178","timestamp":"2026-12-01T15:40:01+0000","media_type":"VIDEO"}]}"#,
        )
        .unwrap();
        assert_eq!(media.data[0].media_type, IgMediaType::CarouselAlbum);
        assert_eq!(
            (media.data[1].caption.as_deref(), media.data[1].media_type),
            (None, IgMediaType::Video)
        );
        assert!(
            serde_json::from_str::<IgMediaSummary>(
                r#"{"id":"1","timestamp":"yesterday","media_type":"IMAGE"}"#
            )
            .is_err()
        );
    }
}
