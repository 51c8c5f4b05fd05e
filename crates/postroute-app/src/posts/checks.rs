//! What a post is checked against before it is saved or moved on: its channels and files exist
//! in the workspace, its time is ahead, and each target platform will take it.

use chrono::{DateTime, Duration, Utc};
use postroute_domain::post::{MediaFacts, PostBody, check_target};
use postroute_domain::{ChannelId, ChannelStatus, MediaId, MediaType};
use postroute_store::{Channel, Media, StoreError, Tenant};

use crate::Refusal;

/// How far ahead a post may be scheduled.
const LONGEST_LEAD: Duration = Duration::days(365);

/// A publishing time must be ahead of now, and within a year.
pub(super) fn check_time(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Refusal> {
    let problem = if at <= now {
        "must be in the future"
    } else if at > now + LONGEST_LEAD {
        "must be within a year from now"
    } else {
        return Ok(());
    };
    Err(Refusal::invalid("scheduled_at", problem.to_owned()))
}

/// Every channel and file the post names is in the workspace, and no channel is disconnected.
/// (The store checks existence again inside the write's transaction.)
pub(super) async fn check_references(tenant: &Tenant<'_>, body: &PostBody) -> Result<(), Refusal> {
    let (channels, missing_channels) = load_channels(tenant, &body.channel_ids).await?;
    let (_, missing_media) = load_media(tenant, &body.media_ids).await?;
    if !missing_channels.is_empty() || !missing_media.is_empty() {
        return Err(unknown_references(&missing_channels, &missing_media));
    }
    let disconnected: Vec<(String, String)> = channels
        .iter()
        .filter(|channel| channel.status == ChannelStatus::Disconnected)
        .map(|channel| {
            ("channel_ids".to_owned(), format!("channel {} is disconnected", channel.id))
        })
        .collect();
    if disconnected.is_empty() { Ok(()) } else { Err(Refusal::invalid_fields(disconnected)) }
}

/// The refusal for channels and files that are not in the workspace.
pub(super) fn unknown_references(channels: &[ChannelId], media: &[MediaId]) -> Refusal {
    let mut problems: Vec<(String, String)> = channels
        .iter()
        .map(|id| ("channel_ids".to_owned(), format!("no channel {id} in this workspace")))
        .collect();
    problems.extend(
        media.iter().map(|id| ("media_ids".to_owned(), format!("no file {id} in this workspace"))),
    );
    Refusal::invalid_fields(problems)
}

/// Each target platform will take the post, and each channel can publish: one error per target
/// that cannot, naming everything wrong with it.
pub(super) async fn check_targets(tenant: &Tenant<'_>, body: &PostBody) -> Result<(), Refusal> {
    if body.channel_ids.is_empty() {
        return Err(Refusal::invalid("channel_ids", "choose at least one channel to publish to"));
    }
    let (channels, missing_channels) = load_channels(tenant, &body.channel_ids).await?;
    let (media, missing_media) = load_media(tenant, &body.media_ids).await?;
    if !missing_channels.is_empty() || !missing_media.is_empty() {
        return Err(unknown_references(&missing_channels, &missing_media));
    }
    let facts: Vec<MediaFacts> = media.iter().map(facts_of).collect::<Result<_, _>>()?;
    let mut refusals = Vec::new();
    for channel in &channels {
        let mut problems = match channel.status {
            ChannelStatus::Active => Vec::new(),
            ChannelStatus::NeedsReconnect => {
                vec!["the channel must be connected again before it can publish".to_owned()]
            }
            ChannelStatus::Disconnected => vec!["the channel is disconnected".to_owned()],
        };
        problems.extend(check_target(channel.provider, body, &facts));
        if !problems.is_empty() {
            refusals.push((format!("targets.{}", channel.id), problems.join("; ")));
        }
    }
    if refusals.is_empty() { Ok(()) } else { Err(Refusal::invalid_fields(refusals)) }
}

fn facts_of(media: &Media) -> Result<MediaFacts, Refusal> {
    let media_type = MediaType::from_mime(&media.mime).ok_or_else(|| StoreError::CorruptRow {
        table: "media",
        reason: format!("mime `{}`", media.mime),
    })?;
    Ok(MediaFacts {
        media_type,
        width: media.width.and_then(|width| u32::try_from(width).ok()),
        height: media.height.and_then(|height| u32::try_from(height).ok()),
        duration_ms: media.duration_ms.and_then(|duration| u64::try_from(duration).ok()),
        size_bytes: u64::try_from(media.size_bytes).unwrap_or(0),
    })
}

async fn load_channels(
    tenant: &Tenant<'_>,
    ids: &[ChannelId],
) -> Result<(Vec<Channel>, Vec<ChannelId>), StoreError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        match tenant.channel(*id).await? {
            Some(channel) => found.push(channel),
            None => missing.push(*id),
        }
    }
    Ok((found, missing))
}

async fn load_media(
    tenant: &Tenant<'_>,
    ids: &[MediaId],
) -> Result<(Vec<Media>, Vec<MediaId>), StoreError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for id in ids {
        match tenant.media_item(*id).await? {
            Some(media) => found.push(media),
            None => missing.push(*id),
        }
    }
    Ok((found, missing))
}
