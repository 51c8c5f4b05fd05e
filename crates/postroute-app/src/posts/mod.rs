//! Posts: writing them, the approval flow, and the schedule.
//!
//! Every method receives a [`Caller`] whose role the HTTP layer has already checked against the
//! permission matrix; the rules about the post itself (members change only their own posts, the
//! state machine, each platform's limits) are applied here, and every write names the version it
//! read so that concurrent changes are refused rather than merged.

mod checks;
mod flow;
mod lapse;
pub use lapse::lapse_review;
mod queue;
mod reports;
pub use reports::{describe_post, report_outcomes};
mod targets;

use crate::Refusal;
use chrono::{DateTime, Utc};
use postroute_domain::post::PostBody;
use postroute_domain::{ChannelId, MediaId, PostCommand, PostId, Role, Variants, post};
use postroute_store::{Post, PostFilter, PostSaved, Store, Target};

use crate::clock;
use crate::workspaces::Caller;

/// A new post, as the author sent it.
#[derive(Debug, Default)]
pub struct NewPost {
    /// What it says, where it goes, what it carries.
    pub body: PostBody,
    /// When it should go out (it stays a draft until scheduled or approved).
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// Changes to a post; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct PostChanges {
    /// New text.
    pub content: Option<String>,
    /// New per-platform text.
    pub variants: Option<Variants>,
    /// New channels.
    pub channel_ids: Option<Vec<ChannelId>>,
    /// New files.
    pub media_ids: Option<Vec<MediaId>>,
    /// New time; `Some(None)` removes it.
    pub scheduled_at: Option<Option<DateTime<Utc>>>,
}

/// The post service.
#[derive(Debug, Clone)]
pub struct PostService {
    store: Store,
}

impl PostService {
    /// Wires the service.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Writes a draft. Its channels and files must be in the workspace; the platforms' rules
    /// wait until it is submitted or scheduled.
    pub async fn create(&self, caller: &Caller, new: NewPost) -> Result<Post, Refusal> {
        check_shape(&new.body)?;
        if let Some(at) = new.scheduled_at {
            checks::check_time(at, clock::now())?;
        }
        let tenant = self.store.tenant(caller.workspace.id);
        checks::check_references(&tenant, &new.body).await?;
        let now = clock::now();
        let draft = Post {
            id: PostId::new(),
            status: post::PostStatus::Draft,
            content: new.body.content,
            variants: new.body.variants,
            scheduled_at: new.scheduled_at,
            author_id: Some(caller.user),
            edited_by: None,
            submitted_by: None,
            rejection_reason: None,
            status_reason: None,
            reviewed_by: None,
            reviewed_at: None,
            approved_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
            media_ids: new.body.media_ids,
            targets: new.body.channel_ids.into_iter().map(Target::pending).collect(),
        };
        saved(tenant.insert_post(&draft).await?)
    }

    /// Posts of the workspace matching `filter`, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        filter: &PostFilter,
        after: Option<PostId>,
        limit: u32,
    ) -> Result<Vec<Post>, Refusal> {
        Ok(self.store.tenant(caller.workspace.id).posts(filter, after, limit).await?)
    }

    /// One post.
    pub async fn get(&self, caller: &Caller, id: PostId) -> Result<Post, Refusal> {
        self.store.tenant(caller.workspace.id).post(id).await?.ok_or(Refusal::NotFound)
    }

    /// Changes a post that has not started publishing. An edit voids a review (see
    /// [`post::transition`]); a post that stays scheduled must still suit its channels.
    pub async fn update(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
        changes: PostChanges,
    ) -> Result<Post, Refusal> {
        let current = self.editable(caller, id, seen, Precondition::Required).await?;
        let now = clock::now();
        let status = flow::next(&caller.workspace, &current, PostCommand::Edit)?;
        let mut body = body_of(&current);
        if let Some(content) = changes.content {
            body.content = content;
        }
        if let Some(variants) = changes.variants {
            body.variants = variants;
        }
        if let Some(channel_ids) = changes.channel_ids {
            body.channel_ids = channel_ids;
        }
        if let Some(media_ids) = changes.media_ids {
            body.media_ids = media_ids;
        }
        let scheduled_at = changes.scheduled_at.unwrap_or(current.scheduled_at);
        check_shape(&body)?;
        if let Some(Some(at)) = changes.scheduled_at {
            checks::check_time(at, now)?;
        }
        let tenant = self.store.tenant(caller.workspace.id);
        checks::check_references(&tenant, &body).await?;
        if status == post::PostStatus::Scheduled {
            let Some(at) = scheduled_at else {
                return Err(Refusal::invalid(
                    "scheduled_at",
                    "a scheduled post needs a time; cancel it to take it off the schedule"
                        .to_owned(),
                ));
            };
            checks::check_time(at, now)?;
            checks::check_targets(&tenant, &body).await?;
        }
        let edited = Post {
            status,
            status_reason: None,
            // What was approved is not what the post now says.
            approved_at: None,
            content: body.content,
            variants: body.variants,
            scheduled_at,
            updated_at: now,
            // Whoever changed it is one of its writers now: they may not also sign it off.
            edited_by: Some(caller.user),
            media_ids: body.media_ids,
            targets: body.channel_ids.into_iter().map(Target::pending).collect(),
            ..current
        };
        saved(tenant.save_post(&edited, None).await?)
    }

    /// Deletes a post, unless something of it is (or may be about to be) on a platform.
    pub async fn delete(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
    ) -> Result<(), Refusal> {
        let current = self.editable(caller, id, seen, Precondition::Optional).await?;
        if !current.status.is_deletable() {
            return Err(Refusal::Conflict(format!(
                "A post that is {} cannot be deleted.",
                current.status
            )));
        }
        let tenant = self.store.tenant(caller.workspace.id);
        if tenant.delete_post(id, current.version).await? {
            Ok(())
        } else if tenant.post(id).await?.is_none() {
            // Deleted by someone else meanwhile: the caller's wish is granted, but say so.
            Err(Refusal::NotFound)
        } else {
            Err(changed_meanwhile())
        }
    }

    /// The post, if the caller last saw it at `seen` (when they say).
    ///
    /// A missing post answers "not found" before any precondition is looked at: what the
    /// client sent cannot make a post exist.
    async fn current(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
        precondition: Precondition,
    ) -> Result<Post, Refusal> {
        let current = self.get(caller, id).await?;
        match seen {
            None if precondition == Precondition::Required => Err(Refusal::PreconditionRequired(
                "Send the post's ETag as If-Match (such as \"3\"): this action applies only to \
                 the version you last loaded."
                    .to_owned(),
            )),
            Some(version) if version != current.version => {
                Err(Refusal::PreconditionFailed(format!(
                    "The post has changed since you loaded it (it is at version {}); load it \
                     again before changing or reviewing it.",
                    current.version
                )))
            }
            _ => Ok(current),
        }
    }

    /// The post, when the caller may change it and last saw it at `seen`.
    async fn editable(
        &self,
        caller: &Caller,
        id: PostId,
        seen: Option<i64>,
        precondition: Precondition,
    ) -> Result<Post, Refusal> {
        let current = self.current(caller, id, seen, precondition).await?;
        may_change(caller, &current)?;
        Ok(current)
    }
}

/// Whether an action must name the version of the post it was based on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Precondition {
    /// The version is checked when the client sends it.
    Optional,
    /// The client must send it: a review signs off exactly the text the reviewer read, and an
    /// edit never overwrites a change its author did not see.
    Required,
}

/// Members change only their own posts; owners and admins change any.
fn may_change(caller: &Caller, post: &Post) -> Result<(), Refusal> {
    if caller.role == Role::Member && post.author_id != Some(caller.user) {
        return Err(Refusal::Forbidden("Members may change only their own posts.".to_owned()));
    }
    Ok(())
}

fn check_shape(body: &PostBody) -> Result<(), Refusal> {
    let problems = body.check_shape();
    if problems.is_empty() { Ok(()) } else { Err(Refusal::invalid_fields(problems)) }
}

fn body_of(post: &Post) -> PostBody {
    PostBody {
        content: post.content.clone(),
        variants: post.variants.clone(),
        channel_ids: post.channel_ids(),
        media_ids: post.media_ids.clone(),
    }
}

fn changed_meanwhile() -> Refusal {
    Refusal::Conflict(
        "The post changed while this request was made; load it again and retry.".to_owned(),
    )
}

/// The post a write produced, or why it was refused.
fn saved(outcome: PostSaved) -> Result<Post, Refusal> {
    match outcome {
        PostSaved::Saved(post) => Ok(*post),
        PostSaved::Stale => Err(changed_meanwhile()),
        PostSaved::Missing { channels, media } => {
            Err(checks::unknown_references(&channels, &media))
        }
    }
}
