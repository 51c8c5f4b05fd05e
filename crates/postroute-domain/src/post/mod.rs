//! Posts: what a post says and where it goes, the approval flow it moves through, and the rules
//! each platform holds its content to.

mod rules;
mod x_text;

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::channel::Provider;
use crate::ids::{ChannelId, MediaId, UserId};

pub use rules::{MediaFacts, check_target};
pub use x_text::{X_MAX_WEIGHTED_LENGTH, x_weighted_length};

/// Longest text a post or a variant may hold at all: Facebook's limit, the largest of the
/// platforms. Each platform's own, smaller limit is checked when the post is submitted or
/// scheduled.
pub const MAX_CONTENT_CHARS: usize = 63_206;
/// Most channels one post goes to.
pub const MAX_CHANNELS_PER_POST: usize = 50;
/// Most files one post carries: no platform takes more (an Instagram carousel holds 10).
pub const MAX_MEDIA_PER_POST: usize = 10;
/// Most items of an X thread after the first post.
pub const MAX_THREAD_ITEMS: usize = 24;
/// Longest rejection reason.
pub const MAX_REASON_CHARS: usize = 2_000;

/// Where a post is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostStatus {
    /// Being written.
    Draft,
    /// Waiting for a reviewer.
    InReview,
    /// Approved, with no time set (or its time had passed when it was approved).
    Approved,
    /// Will be published at its time.
    Scheduled,
    /// The publisher is working on it, or a target's outcome is still unknown.
    Publishing,
    /// Every target published.
    Published,
    /// Some targets published, some failed.
    PartiallyPublished,
    /// No target published.
    Failed,
}

impl PostStatus {
    /// Every status.
    pub const ALL: [PostStatus; 8] = [
        Self::Draft,
        Self::InReview,
        Self::Approved,
        Self::Scheduled,
        Self::Publishing,
        Self::Published,
        Self::PartiallyPublished,
        Self::Failed,
    ];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::InReview => "in_review",
            Self::Approved => "approved",
            Self::Scheduled => "scheduled",
            Self::Publishing => "publishing",
            Self::Published => "published",
            Self::PartiallyPublished => "partially_published",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == value)
    }

    /// Publishing has not started: the post may still be edited.
    pub const fn is_editable(self) -> bool {
        matches!(self, Self::Draft | Self::InReview | Self::Approved | Self::Scheduled)
    }

    /// Nothing of it is, or may be about to be, on a platform: the post may be deleted.
    pub const fn is_deletable(self) -> bool {
        matches!(
            self,
            Self::Draft | Self::InReview | Self::Approved | Self::Scheduled | Self::Failed
        )
    }

    /// The post may still need its files: they cannot be deleted from the library while it
    /// holds them. Only a post that is on every one of its platforms lets go: those have their
    /// copies. A failed or partly published post may be tried again.
    pub const fn holds_media(self) -> bool {
        !matches!(self, Self::Published)
    }
}

impl fmt::Display for PostStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one channel of a post is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Not attempted yet.
    Pending,
    /// A publish attempt is under way.
    Publishing,
    /// On the platform.
    Published,
    /// The platform refused it.
    Failed,
    /// The outcome could not be confirmed; never retried blindly.
    Unknown,
    /// It came due too late to publish without a person: stale content is never posted on its
    /// own.
    Missed,
}

impl TargetStatus {
    /// Every status.
    pub const ALL: [TargetStatus; 6] = [
        Self::Pending,
        Self::Publishing,
        Self::Published,
        Self::Failed,
        Self::Unknown,
        Self::Missed,
    ];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Publishing => "publishing",
            Self::Published => "published",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
            Self::Missed => "missed",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == value)
    }
}

impl fmt::Display for TargetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a post is where it is, in a word: api.md's `status_reason`, which a person reads next to
/// the status, so that "draft" after a review is not mistaken for "never submitted".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusReason {
    /// A reviewer sent it back.
    Rejected,
    /// It was still in review when its time passed, so it was not published.
    ApprovalExpired,
}

impl StatusReason {
    /// Every reason.
    pub const ALL: [StatusReason; 2] = [Self::Rejected, Self::ApprovalExpired];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::ApprovalExpired => "approval_expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == value)
    }
}

/// What a member asks of a post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostCommand {
    /// Change its content, channels, media or time.
    Edit,
    /// Ask for review.
    Submit,
    /// Accept it; `time_ahead` says whether it has a time still in the future.
    Approve {
        /// The post has a time that has not passed.
        time_ahead: bool,
    },
    /// Send it back to its author.
    Reject,
    /// Give it a time.
    Schedule,
    /// Take it off the schedule.
    Cancel,
}

impl PostCommand {
    fn verb(self) -> &'static str {
        match self {
            Self::Edit => "edited",
            Self::Submit => "submitted for review",
            Self::Approve { .. } => "approved",
            Self::Reject => "rejected",
            Self::Schedule => "scheduled",
            Self::Cancel => "cancelled",
        }
    }
}

/// Why a post cannot move as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The command does not apply to a post in this status.
    #[error("a post that is {from} cannot be {verb}")]
    NotAllowed {
        /// Its status.
        from: PostStatus,
        /// What was asked, in words.
        verb: &'static str,
    },
    /// The workspace requires approval, and the post has none.
    #[error("this workspace requires approval: submit the post for review first")]
    ApprovalRequired,
}

/// Whether `reviewer` may approve or reject a post whose `writers` (its author, last editor
/// and submitter) are these. Where the workspace requires approval, a sign-off must be someone
/// else's: nobody reviews a text they wrote, changed or put forward, owners and admins
/// included. A writer whose account is gone excludes nobody.
pub fn may_review(reviewer: UserId, writers: &[Option<UserId>], approval_required: bool) -> bool {
    !approval_required || !writers.contains(&Some(reviewer))
}

/// The status a post moves to when `command` is applied to a post in `from`, in a workspace that
/// does or does not require approval. The flow of api.md:
///
/// draft -submit-> in_review -approve-> approved | scheduled; in_review -reject-> draft;
/// approved -schedule-> scheduled (draft -schedule-> scheduled where no approval is required);
/// scheduled -cancel-> draft. An edit voids a review: a post in review or approved goes back to
/// draft, and so does a scheduled post where approval is required, since it was approved as it
/// was.
pub fn transition(
    from: PostStatus,
    command: PostCommand,
    approval_required: bool,
) -> Result<PostStatus, TransitionError> {
    use PostStatus::{Approved, Draft, InReview, Scheduled};
    let not_allowed = || TransitionError::NotAllowed { from, verb: command.verb() };
    match (command, from) {
        (PostCommand::Edit, Draft | InReview | Approved) => Ok(Draft),
        (PostCommand::Edit, Scheduled) => Ok(if approval_required { Draft } else { Scheduled }),
        (PostCommand::Submit, Draft) => Ok(InReview),
        (PostCommand::Approve { time_ahead }, InReview) => {
            Ok(if time_ahead { Scheduled } else { Approved })
        }
        (PostCommand::Reject, InReview) => Ok(Draft),
        (PostCommand::Schedule, Draft) if approval_required => {
            Err(TransitionError::ApprovalRequired)
        }
        (PostCommand::Schedule, Draft | Approved | Scheduled) => Ok(Scheduled),
        (PostCommand::Cancel, Scheduled) => Ok(Draft),
        _ => Err(not_allowed()),
    }
}

/// Content for one platform that replaces the post's own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Replaces the post's content on this platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// X only: posts that follow the first one as a thread, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<String>,
}

/// Per-platform content, keyed by provider.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variants {
    /// For X.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<Variant>,
    /// For Facebook Pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facebook: Option<Variant>,
    /// For Instagram.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instagram: Option<Variant>,
}

impl Variants {
    /// The variant for `provider`, if any.
    pub fn for_provider(&self, provider: Provider) -> Option<&Variant> {
        match provider {
            Provider::X => self.x.as_ref(),
            Provider::Facebook => self.facebook.as_ref(),
            Provider::Instagram => self.instagram.as_ref(),
        }
    }

    /// Every variant with its provider.
    fn each(&self) -> impl Iterator<Item = (Provider, &Variant)> {
        Provider::ALL
            .into_iter()
            .filter_map(|provider| Some((provider, self.for_provider(provider)?)))
    }
}

/// What a post says, before any platform's rules are applied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostBody {
    /// The text, used wherever no variant replaces it.
    pub content: String,
    /// Per-platform replacements.
    pub variants: Variants,
    /// The channels it goes to, in order.
    pub channel_ids: Vec<ChannelId>,
    /// Its files, in order.
    pub media_ids: Vec<MediaId>,
}

impl PostBody {
    /// The text `provider` gets, and the thread that follows it (X only).
    pub fn text_for(&self, provider: Provider) -> (&str, &[String]) {
        match self.variants.for_provider(provider) {
            Some(variant) => {
                (variant.content.as_deref().unwrap_or(&self.content), variant.thread.as_slice())
            }
            None => (&self.content, &[]),
        }
    }

    /// Checks the limits every post obeys whatever its platforms: `(field, message)` pairs. The
    /// platforms' own rules wait until the post is submitted or scheduled, so that a draft can
    /// be half-written.
    pub fn check_shape(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut text = |field: String, value: &str| {
            if value.chars().count() > MAX_CONTENT_CHARS {
                problems.push((field, format!("must be at most {MAX_CONTENT_CHARS} characters")));
            } else if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
                problems.push((field, "must not contain control characters".to_owned()));
            }
        };
        text("content".to_owned(), &self.content);
        for (provider, variant) in self.variants.each() {
            if let Some(content) = &variant.content {
                text(format!("variants.{provider}.content"), content);
            }
            for (index, item) in variant.thread.iter().enumerate() {
                text(format!("variants.{provider}.thread[{index}]"), item);
            }
        }
        for (provider, variant) in self.variants.each() {
            if provider != Provider::X && !variant.thread.is_empty() {
                problems.push((
                    format!("variants.{provider}.thread"),
                    "threads exist only on X".to_owned(),
                ));
            }
            if variant.thread.len() > MAX_THREAD_ITEMS {
                problems.push((
                    format!("variants.{provider}.thread"),
                    format!("must have at most {MAX_THREAD_ITEMS} items"),
                ));
            }
        }
        if self.channel_ids.len() > MAX_CHANNELS_PER_POST {
            problems.push((
                "channel_ids".to_owned(),
                format!("must have at most {MAX_CHANNELS_PER_POST} channels"),
            ));
        }
        if !all_distinct(&self.channel_ids) {
            problems.push(("channel_ids".to_owned(), "must not repeat a channel".to_owned()));
        }
        if self.media_ids.len() > MAX_MEDIA_PER_POST {
            problems.push((
                "media_ids".to_owned(),
                format!("must have at most {MAX_MEDIA_PER_POST} files"),
            ));
        }
        if !all_distinct(&self.media_ids) {
            problems.push(("media_ids".to_owned(), "must not repeat a file".to_owned()));
        }
        problems
    }
}

fn all_distinct<T: Eq + std::hash::Hash>(items: &[T]) -> bool {
    let mut seen = HashSet::new();
    items.iter().all(|item| seen.insert(item))
}

/// A rejection reason: trimmed, 1 to 2,000 characters.
pub fn parse_rejection_reason(input: &str) -> Result<String, String> {
    let reason = input.trim();
    if reason.is_empty() {
        return Err("is required: tell the author what to change".to_owned());
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(format!("must be at most {MAX_REASON_CHARS} characters"));
    }
    if reason.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(reason.to_owned())
}

#[cfg(test)]
mod tests {
    use super::PostStatus::*;
    use super::*;

    #[test]
    fn a_sign_off_is_someone_elses_where_approval_is_required() {
        let (author, editor, reviewer) = (UserId::new(), UserId::new(), UserId::new());
        assert!(!may_review(author, &[Some(author), None, Some(author)], true));
        assert!(!may_review(editor, &[Some(author), Some(editor), Some(author)], true));
        assert!(!may_review(editor, &[Some(author), None, Some(editor)], true), "the submitter");
        assert!(may_review(reviewer, &[Some(author), Some(editor), Some(author)], true));
        assert!(may_review(author, &[Some(author), None, None], false), "no approval required");
        assert!(may_review(reviewer, &[None, None, None], true), "erased writers exclude nobody");
    }

    #[test]
    fn the_approval_flow_moves_as_api_md_draws_it() {
        assert_eq!(transition(Draft, PostCommand::Submit, true), Ok(InReview));
        assert_eq!(
            transition(InReview, PostCommand::Approve { time_ahead: true }, true),
            Ok(Scheduled)
        );
        assert_eq!(
            transition(InReview, PostCommand::Approve { time_ahead: false }, true),
            Ok(Approved)
        );
        assert_eq!(transition(InReview, PostCommand::Reject, true), Ok(Draft));
        assert_eq!(transition(Approved, PostCommand::Schedule, true), Ok(Scheduled));
        assert_eq!(transition(Scheduled, PostCommand::Cancel, true), Ok(Draft));
        assert_eq!(transition(Draft, PostCommand::Schedule, false), Ok(Scheduled));
    }

    #[test]
    fn approval_cannot_be_skipped_or_kept_through_an_edit() {
        assert_eq!(
            transition(Draft, PostCommand::Schedule, true),
            Err(TransitionError::ApprovalRequired)
        );
        assert_eq!(transition(Approved, PostCommand::Edit, true), Ok(Draft));
        assert_eq!(transition(InReview, PostCommand::Edit, true), Ok(Draft));
        assert_eq!(transition(Scheduled, PostCommand::Edit, true), Ok(Draft));
        assert_eq!(transition(Scheduled, PostCommand::Edit, false), Ok(Scheduled));
        assert!(transition(Draft, PostCommand::Approve { time_ahead: true }, true).is_err());
        assert!(transition(Scheduled, PostCommand::Submit, true).is_err());
    }

    #[test]
    fn nothing_moves_a_post_once_publishing_starts() {
        let commands = [
            PostCommand::Edit,
            PostCommand::Submit,
            PostCommand::Approve { time_ahead: true },
            PostCommand::Reject,
            PostCommand::Schedule,
            PostCommand::Cancel,
        ];
        for from in [Publishing, Published, PartiallyPublished, Failed] {
            for command in commands {
                assert!(
                    matches!(
                        transition(from, command, false),
                        Err(TransitionError::NotAllowed { .. })
                    ),
                    "{from} {command:?}"
                );
            }
        }
    }

    #[test]
    fn media_is_held_until_publishing_ends() {
        for status in PostStatus::ALL {
            assert_eq!(status.holds_media(), status != Published, "{status}");
        }
        assert!(!Published.is_deletable() && !Publishing.is_deletable());
        assert!(Failed.is_deletable() && !Failed.is_editable());
    }

    #[test]
    fn shape_checks_catch_repeats_and_misplaced_threads() {
        let channel = ChannelId::new();
        let body = PostBody {
            content: "hello".to_owned(),
            variants: Variants {
                instagram: Some(Variant { content: None, thread: vec!["no".to_owned()] }),
                ..Variants::default()
            },
            channel_ids: vec![channel, channel],
            media_ids: vec![],
        };
        let fields: Vec<String> = body.check_shape().into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["variants.instagram.thread", "channel_ids"]);
        assert!(
            PostBody { content: "ok\nline two".to_owned(), ..PostBody::default() }
                .check_shape()
                .is_empty()
        );
        assert!(
            !PostBody { content: "bell\u{7}".to_owned(), ..PostBody::default() }
                .check_shape()
                .is_empty()
        );
    }

    #[test]
    fn a_variant_replaces_the_content_for_its_platform_only() {
        let body = PostBody {
            content: "everywhere".to_owned(),
            variants: Variants {
                x: Some(Variant {
                    content: Some("on x".to_owned()),
                    thread: vec!["two".to_owned()],
                }),
                ..Variants::default()
            },
            ..PostBody::default()
        };
        assert_eq!(body.text_for(Provider::X), ("on x", &["two".to_owned()][..]));
        assert_eq!(body.text_for(Provider::Facebook).0, "everywhere");
        let unknown: Result<Variants, _> = serde_json::from_str(r#"{"tiktok":{"content":"x"}}"#);
        assert!(unknown.is_err(), "unknown platforms are refused, not ignored");
    }

    #[test]
    fn target_statuses_and_status_reasons_round_trip_as_api_md_names_them() {
        let names: Vec<&str> = TargetStatus::ALL.map(TargetStatus::as_str).to_vec();
        assert_eq!(names, ["pending", "publishing", "published", "failed", "unknown", "missed"]);
        for status in TargetStatus::ALL {
            assert_eq!(TargetStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        assert_eq!(StatusReason::ApprovalExpired.as_str(), "approval_expired");
        for reason in StatusReason::ALL {
            assert_eq!(StatusReason::parse(reason.as_str()), Some(reason));
            assert_eq!(serde_json::to_value(reason).unwrap(), reason.as_str());
        }
    }

    #[test]
    fn rejection_needs_a_reason() {
        assert!(parse_rejection_reason("  ").is_err());
        assert_eq!(parse_rejection_reason(" Fix the link ").unwrap(), "Fix the link");
        assert!(parse_rejection_reason("nul\u{0}byte").is_err());
    }
}
