//! A post's status once publishing has started: it follows its targets.

use crate::post::{PostStatus, TargetStatus};

/// The status of a post whose time has come, from its targets' statuses; `None` for a post
/// without targets, which keeps the status it has. The rule:
/// - any target still pending, publishing or unknown: `publishing`. Unknown holds the post there
///   on purpose: `failed` would claim nothing is on the platform and let the post be deleted
///   and written again by hand, the duplicate this publisher exists to prevent, and
///   `partially_published` would claim the rest failed. The target's own status and the email
///   it triggered tell a person what is open.
/// - otherwise every target is settled: `published` when all are, `partially_published` when
///   some are, `failed` when none is. A missed (or dismissed) target counts as not published.
pub fn post_status_from_targets(
    targets: impl IntoIterator<Item = TargetStatus>,
) -> Option<PostStatus> {
    let (mut any, mut open, mut published, mut unpublished) = (false, false, false, false);
    for status in targets {
        any = true;
        match status {
            TargetStatus::Pending | TargetStatus::Publishing | TargetStatus::Unknown => open = true,
            TargetStatus::Published => published = true,
            TargetStatus::Failed | TargetStatus::Missed => unpublished = true,
        }
    }
    Some(match (any, open, published, unpublished) {
        (false, ..) => return None,
        (true, true, ..) => PostStatus::Publishing,
        (true, false, true, false) => PostStatus::Published,
        (true, false, true, true) => PostStatus::PartiallyPublished,
        (true, false, false, _) => PostStatus::Failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use PostStatus as Post;
    use TargetStatus::*;

    fn status(targets: &[TargetStatus]) -> Option<PostStatus> {
        post_status_from_targets(targets.iter().copied())
    }

    #[test]
    fn a_post_with_every_target_settled_is_published_partially_published_or_failed() {
        let table: &[(&[TargetStatus], PostStatus)] = &[
            (&[Published], Post::Published),
            (&[Published, Published], Post::Published),
            (&[Published, Failed], Post::PartiallyPublished),
            (&[Failed, Published, Failed], Post::PartiallyPublished),
            (&[Failed], Post::Failed),
            (&[Failed, Failed], Post::Failed),
        ];
        for (targets, expected) in table {
            assert_eq!(status(targets), Some(*expected), "{targets:?}");
        }
    }

    #[test]
    fn a_missed_target_counts_as_not_published() {
        assert_eq!(status(&[Missed]), Some(Post::Failed));
        assert_eq!(status(&[Missed, Failed]), Some(Post::Failed));
        assert_eq!(status(&[Missed, Published]), Some(Post::PartiallyPublished));
        assert_eq!(status(&[Published, Missed, Failed]), Some(Post::PartiallyPublished));
    }

    #[test]
    fn a_post_with_any_target_pending_publishing_or_unknown_is_still_publishing() {
        let table: &[&[TargetStatus]] = &[
            &[Pending],
            &[Publishing],
            &[Unknown],
            &[Published, Pending],
            &[Published, Unknown],
            &[Failed, Unknown],
            &[Missed, Unknown],
            &[Published, Failed, Missed, Publishing],
            &[Unknown, Unknown],
        ];
        for targets in table {
            assert_eq!(status(targets), Some(Post::Publishing), "{targets:?}");
        }
    }

    #[test]
    fn a_post_without_targets_keeps_its_status() {
        assert_eq!(status(&[]), None);
    }

    #[test]
    fn the_order_of_targets_does_not_matter() {
        for first in TargetStatus::ALL {
            for second in TargetStatus::ALL {
                assert_eq!(status(&[first, second]), status(&[second, first]), "{first} {second}");
            }
        }
    }
}
