//! The approval flow and the schedule: submit, approve, reject, schedule, cancel.

use chrono::{DateTime, SubsecRound, Utc};
use postroute_domain::post::{self, parse_rejection_reason, transition};
use postroute_domain::{
    AuditAction, PostCommand, PostId, PostStatus, StatusReason, TransitionError,
};
use postroute_store::{Post, Workspace};

use super::{PostService, Precondition, body_of, saved};
use crate::Refusal;
use crate::clock;
use crate::workspaces::Caller;

/// The status `command` moves `post` to in `workspace`, or why it cannot.
pub(super) fn next(
    workspace: &Workspace,
    post: &Post,
    command: PostCommand,
) -> Result<PostStatus, Refusal> {
    transition(post.status, command, workspace.approval_required).map_err(|error| match error {
        TransitionError::NotAllowed { .. } => Refusal::Conflict(capitalise(&error.to_string())),
        TransitionError::ApprovalRequired => Refusal::Conflict(
            "This workspace requires approval: submit the post for review, and schedule it \
             once it is approved."
                .to_owned(),
        ),
    })
}

fn capitalise(sentence: &str) -> String {
    let mut chars = sentence.chars();
    chars
        .next()
        .map_or_else(String::new, |first| format!("{}{}.", first.to_uppercase(), chars.as_str()))
}

impl PostService {
    /// The post a reviewer approves or rejects: the version they read (required), and never
    /// one they wrote, edited or submitted where the workspace requires approval, owners and
    /// admins included (the store checks it again as it writes).
    async fn reviewable(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
    ) -> Result<Post, Refusal> {
        let current = self.current(caller, id, seen, Precondition::Required).await?;
        let writers = [current.author_id, current.edited_by, current.submitted_by];
        if !post::may_review(caller.user, &writers, caller.workspace.approval_required) {
            return Err(Refusal::Forbidden(
                "This workspace requires approval by someone else: nobody reviews a post they \
                 wrote, edited or submitted."
                    .to_owned(),
            ));
        }
        Ok(current)
    }

    /// Asks for review: draft -> in_review, once the post suits every channel.
    pub async fn submit(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
    ) -> Result<Post, Refusal> {
        let current = self.editable(caller, id, seen, Precondition::Optional).await?;
        let status = next(&caller.workspace, &current, PostCommand::Submit)?;
        let tenant = self.store.tenant(caller.workspace.id);
        super::checks::check_targets(&tenant, &body_of(&current)).await?;
        let submitted = Post {
            status,
            submitted_by: Some(caller.user),
            status_reason: None,
            updated_at: clock::now(),
            ..current
        };
        saved(tenant.save_post(&submitted, None).await?)
    }

    /// Accepts a post in review: it is scheduled when its time is still ahead, approved (to be
    /// scheduled later) otherwise. Recorded in the audit log.
    pub async fn approve(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
    ) -> Result<Post, Refusal> {
        let current = self.reviewable(caller, id, seen).await?;
        let now = clock::now();
        let time_ahead = current.scheduled_at.is_some_and(|at| at > now);
        let status = next(&caller.workspace, &current, PostCommand::Approve { time_ahead })?;
        let tenant = self.store.tenant(caller.workspace.id);
        // Channels and files may have changed since it was submitted.
        super::checks::check_targets(&tenant, &body_of(&current)).await?;
        let approved = Post {
            status_reason: None,
            status,
            rejection_reason: None,
            reviewed_by: Some(caller.user),
            reviewed_at: Some(now),
            approved_at: Some(now),
            updated_at: now,
            ..current
        };
        let audit = caller.audit(AuditAction::PostApproved).target("post", id);
        saved(tenant.save_review(&approved, &audit).await?)
    }

    /// Sends a post in review back to its author with a reason, which the post keeps.
    pub async fn reject(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
        reason: &str,
    ) -> Result<Post, Refusal> {
        let reason = parse_rejection_reason(reason)
            .map_err(|problem| Refusal::invalid("reason", problem))?;
        let current = self.reviewable(caller, id, seen).await?;
        let status = next(&caller.workspace, &current, PostCommand::Reject)?;
        let now = clock::now();
        let rejected = Post {
            status_reason: Some(StatusReason::Rejected.as_str().to_owned()),
            status,
            rejection_reason: Some(reason),
            reviewed_by: Some(caller.user),
            reviewed_at: Some(now),
            approved_at: None,
            updated_at: now,
            ..current
        };
        let audit = caller.audit(AuditAction::PostRejected).target("post", id);
        saved(self.store.tenant(caller.workspace.id).save_review(&rejected, &audit).await?)
    }

    /// Gives a post its time: from approved (or from draft where the workspace does not require
    /// approval), or moves the time of a scheduled post.
    pub async fn schedule(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
        at: DateTime<Utc>,
    ) -> Result<Post, Refusal> {
        super::checks::check_time(at, clock::now())?;
        self.schedule_at(caller, id, seen, at).await
    }

    /// Schedules a post for now, under the same rules as [`PostService::schedule`]: the
    /// publisher takes it on its next pass.
    pub async fn publish_now(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
    ) -> Result<Post, Refusal> {
        // To the microsecond, as both databases keep times.
        self.schedule_at(caller, id, seen, clock::now().trunc_subsecs(6)).await
    }

    async fn schedule_at(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
        at: DateTime<Utc>,
    ) -> Result<Post, Refusal> {
        let current = self.editable(caller, id, seen, Precondition::Optional).await?;
        let status = next(&caller.workspace, &current, PostCommand::Schedule)?;
        let tenant = self.store.tenant(caller.workspace.id);
        super::checks::check_targets(&tenant, &body_of(&current)).await?;
        let scheduled = Post {
            status,
            scheduled_at: Some(at),
            status_reason: None,
            updated_at: clock::now(),
            ..current
        };
        saved(tenant.save_post(&scheduled, None).await?)
    }

    /// Takes a post off the schedule: scheduled -> draft. Its time is kept for next time.
    pub async fn cancel(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
    ) -> Result<Post, Refusal> {
        let current = self.editable(caller, id, seen, Precondition::Optional).await?;
        let status = next(&caller.workspace, &current, PostCommand::Cancel)?;
        let cancelled = Post { status, status_reason: None, updated_at: clock::now(), ..current };
        saved(self.store.tenant(caller.workspace.id).save_post(&cancelled, None).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_read_as_sentences() {
        assert_eq!(
            capitalise("a post that is draft cannot be cancelled"),
            "A post that is draft cannot be cancelled."
        );
    }
}
