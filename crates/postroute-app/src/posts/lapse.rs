//! The approval lapse (issue 13, point 6): a post still in review when its time comes is not
//! published; it goes back to draft with the reason `approval_expired`, and its author is told.

use chrono::SecondsFormat;
use postroute_store::{LapsedReview, Store};

use crate::mail::{MailComposer, Template};
use crate::{Refusal, clock};

/// Lapses `review` and queues the one email that tells its author, together; `false` when the
/// post changed meanwhile (approved, edited, given another time) and nothing was done.
pub async fn lapse_review(
    store: &Store,
    composer: &MailComposer,
    review: &LapsedReview,
) -> Result<bool, Refusal> {
    let now = clock::now();
    let (workspace_id, post_id) = (review.workspace.to_string(), review.post.to_string());
    let scheduled_at = review.scheduled_at.to_rfc3339_opts(SecondsFormat::Secs, true);
    let prepared = match &review.author {
        Some((user, address, name)) => {
            let template = Template::ApprovalExpired {
                name,
                workspace_id: &workspace_id,
                workspace: &review.workspace_name,
                post_id: &post_id,
                scheduled_at: &scheduled_at,
            };
            Some(composer.prepare(address, Some(*user), &template)?)
        }
        // The author erased their account: the post still returns to draft, unannounced.
        None => None,
    };
    let email = prepared.as_ref().map(|prepared| prepared.outbox_row(now));
    let lapsed = store
        .tenant(review.workspace)
        .lapse_review(review.post, review.version, email.as_ref(), now)
        .await?;
    if lapsed {
        tracing::info!(
            workspace.id = display(&review.workspace),
            post.id = display(&review.post),
            "approval lapsed: the post returned to draft unpublished"
        );
    }
    Ok(lapsed)
}
