//! `/v1/workspaces/{workspace_id}/posts/...`: writing posts, the approval flow and the schedule.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SubsecRound, Utc};
use postroute_app::Refusal;
use postroute_domain::post::PostBody;
use postroute_domain::{ChannelId, MediaId, PostId, PostStatus, TargetStatus, Variants};
use postroute_store::{Post, PostFilter, Target};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::extract::guard::{Permit, can};
use crate::extract::json::JsonBody;
use crate::extract::pagination::{ListQuery, Page, PageParams};
use crate::extract::{PathId, PathIds};
use crate::openapi::schemas;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use postroute_app::posts::{NewPost, PostChanges};

/// A post.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostView {
    /// Post id.
    pub id: String,
    /// Where the post is in its life.
    #[schema(value_type = schemas::PostStatus)]
    pub status: PostStatus,
    /// Why it is there, in a word, when that needs saying.
    #[schema(value_type = Option<schemas::StatusReason>)]
    pub status_reason: Option<String>,
    /// The text, used wherever no variant replaces it.
    pub content: String,
    /// Per-platform text: `{"x":{"content":"…","thread":["…"]},"instagram":{"content":"…"}}`.
    #[schema(value_type = Object)]
    pub variants: Variants,
    /// The channels it goes to, in order.
    pub channel_ids: Vec<String>,
    /// Its files, in order.
    pub media_ids: Vec<String>,
    /// When it is to be published.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Who wrote it (null once they erased their account).
    pub author_id: Option<String>,
    /// Why a reviewer last sent it back.
    pub rejection_reason: Option<String>,
    /// Who last approved or rejected it.
    pub reviewed_by: Option<String>,
    /// When.
    pub reviewed_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// How publishing to each channel went.
    pub targets: Vec<TargetView>,
    /// Bumped by every change; send it back as `If-Match: "{version}"` so a change (or an
    /// approval) applies only to the post as you last saw it.
    pub version: i64,
}

/// One channel of a post.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    /// The channel.
    pub channel_id: String,
    /// How publishing to this channel went.
    #[schema(value_type = schemas::TargetStatus)]
    pub status: TargetStatus,
    /// The platform's id of the published post.
    pub platform_post_id: Option<String>,
    /// Where it can be seen.
    pub url: Option<String>,
    /// The platform's last refusal.
    pub error: Option<String>,
    /// Publish attempts so far.
    pub attempts: i32,
    /// When it went out.
    pub published_at: Option<DateTime<Utc>>,
    /// The class of its last failure, while it has one.
    #[schema(value_type = Option<schemas::ErrorClass>)]
    pub error_class: Option<String>,
    /// When it was last sent to its platform.
    pub last_attempt_at: Option<DateTime<Utc>>,
}

impl From<Target> for TargetView {
    fn from(target: Target) -> Self {
        Self {
            channel_id: target.channel_id.to_string(),
            status: target.status,
            platform_post_id: target.platform_post_id,
            url: target.url,
            error: target.error,
            attempts: target.attempts,
            published_at: target.published_at,
            error_class: target.error_class,
            last_attempt_at: target.last_attempt_at,
        }
    }
}

impl From<Post> for PostView {
    fn from(post: Post) -> Self {
        Self {
            id: post.id.to_string(),
            status: post.status,
            status_reason: post.status_reason,
            channel_ids: post.targets.iter().map(|target| target.channel_id.to_string()).collect(),
            media_ids: post.media_ids.iter().map(ToString::to_string).collect(),
            content: post.content,
            variants: post.variants,
            scheduled_at: post.scheduled_at,
            author_id: post.author_id.map(|user| user.to_string()),
            rejection_reason: post.rejection_reason,
            reviewed_by: post.reviewed_by.map(|user| user.to_string()),
            reviewed_at: post.reviewed_at,
            created_at: post.created_at,
            updated_at: post.updated_at,
            targets: post.targets.into_iter().map(TargetView::from).collect(),
            version: post.version,
        }
    }
}

/// A new post.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostRequest {
    /// The text.
    #[schema(value_type = schemas::PostContent)]
    content: String,
    /// Channels of this workspace to publish to.
    #[schema(value_type = Vec<String>)]
    channel_ids: Vec<ChannelId>,
    /// Files of this workspace's media library, in order.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    media_ids: Option<Vec<MediaId>>,
    /// When to publish, once scheduled or approved.
    #[serde(default)]
    scheduled_at: Option<DateTime<Utc>>,
    /// Per-platform text.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    variants: Option<Variants>,
}

/// Changes to a post; absent fields are kept. `scheduled_at: null` removes the time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePostRequest {
    /// New text.
    #[serde(default)]
    #[schema(value_type = Option<schemas::PostContent>)]
    content: Option<String>,
    /// New channels.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    channel_ids: Option<Vec<ChannelId>>,
    /// New files.
    #[serde(default)]
    #[schema(value_type = Option<Vec<String>>)]
    media_ids: Option<Vec<MediaId>>,
    /// New time, or null to remove it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    scheduled_at: Option<Option<DateTime<Utc>>>,
    /// New per-platform text (replaces all variants).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    variants: Option<Variants>,
}

/// A field that is present, possibly as null: `Some(None)` for null, `None` when absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// When to publish.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    /// In the future, within a year.
    scheduled_at: DateTime<Utc>,
}

/// Why a post goes back to its author.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// What to change.
    #[schema(value_type = schemas::RejectionReason)]
    reason: String,
}

/// Largest body of a post write: a post and its variants at the platforms' longest, in any
/// script, stay well under it.
pub const POST_BODY_LIMIT: usize = 1024 * 1024;

/// `If-Match: "{version}"`: the version of the post the client last saw, if it says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IfMatch(Option<i64>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let value = value.to_str().unwrap_or_default().trim();
        if value == "*" {
            return Ok(Self(None));
        }
        // Our ETags are strong and quoted; anything else can match no version of the post.
        value
            .strip_prefix('"')
            .and_then(|rest| rest.strip_suffix('"'))
            .and_then(|version| version.parse().ok())
            .map(|version| Self(Some(version)))
            .ok_or_else(|| {
                ApiError(Refusal::PreconditionFailed(
                    "If-Match must be the post's ETag, such as \"3\".".to_owned(),
                ))
            })
    }
}

/// The post as JSON, with its version as the ETag.
fn with_etag(post: Post) -> Response {
    let version = post.version;
    etagged(Json(PostView::from(post)), version)
}

/// `body` with the post's version as its `ETag`.
fn etagged(body: impl IntoResponse, version: i64) -> Response {
    let mut response = body.into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{version}\"")) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Times are kept to the microsecond, as both databases store them.
fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

fn filter_of(query: &ListQuery) -> Result<PostFilter, ApiError> {
    let mut problems = Vec::new();
    let from = query.time("from", &mut problems);
    let to = query.time("to", &mut problems);
    let status = query.parsed("status", "is not a post status", &mut problems, PostStatus::parse);
    let channel = query.parsed("channel_id", "is not a channel id", &mut problems, |value| {
        value.parse::<ChannelId>().ok()
    });
    if problems.is_empty() {
        Ok(PostFilter { status, from, to, channel })
    } else {
        Err(ApiError(Refusal::Invalid(problems)))
    }
}

/// The workspace's posts, newest first, filtered by status, channel and scheduled time
/// (`from` inclusive, `to` exclusive).
#[utoipa::path(get, operation_id = "list_posts", path = "/v1/workspaces/{workspace_id}/posts", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("status" = Option<schemas::PostStatus>, Query),
           ("from" = Option<DateTime<Utc>>, Query, description = "`scheduled_at` at or after this time"),
           ("to" = Option<DateTime<Utc>>, Query, description = "`scheduled_at` before this time"),
           ("channel_id" = Option<String>, Query, format = Uuid),
           PageParams),
    responses((status = 200, description = "A page", body = Page<PostView>),
              (status = 422, description = "A filter that is not a status, time or channel id (`validation_failed`)", body = Problem)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    permit: Permit<can::ListPosts>,
    query: ListQuery,
) -> Result<Json<Page<PostView>>, ApiError> {
    let filter = filter_of(&query)?;
    let after = query.cursor_as::<PostId>()?;
    let posts =
        state.posts.list(&permit.member.caller, &filter, after, query.fetch_limit()).await?;
    Ok(Json(Page::from_fetched(posts, &query, |post| post.id.to_string(), PostView::from)))
}

/// Write a draft. Channels and files must belong to the workspace; each platform's rules are
/// checked when the post is submitted or scheduled.
#[utoipa::path(post, operation_id = "create_post", path = "/v1/workspaces/{workspace_id}/posts", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path)), request_body = CreatePostRequest,
    responses((status = 201, description = "The draft", body = PostView),
              (status = 403, description = "A reviewer (`forbidden`)", body = Problem),
              (status = 422, description = "Unknown or disconnected channels, unknown files, a time not ahead (`validation_failed`)", body = Problem)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    permit: Permit<can::CreatePost>,
    JsonBody(request): JsonBody<CreatePostRequest>,
) -> Result<(StatusCode, Response), ApiError> {
    let new = NewPost {
        body: PostBody {
            content: request.content,
            variants: request.variants.unwrap_or_default(),
            channel_ids: request.channel_ids,
            media_ids: request.media_ids.unwrap_or_default(),
        },
        scheduled_at: request.scheduled_at.map(stored_time),
    };
    let post = state.posts.create(&permit.member.caller, new).await?;
    Ok((StatusCode::CREATED, with_etag(post)))
}

/// One post.
#[utoipa::path(get, operation_id = "get_post", path = "/v1/workspaces/{workspace_id}/posts/{post_id}", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path)),
    responses((status = 200, description = "The post; its `ETag` is its version", body = PostView)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    permit: Permit<can::ListPosts>,
    PathId(post): PathId<PostId>,
) -> Result<Response, ApiError> {
    let post = state.posts.get(&permit.member.caller, post).await?;
    Ok(with_etag(post))
}

/// Change a post before publishing starts (members: their own posts). An edit of a post in
/// review or approved sends it back to draft, and so does an edit of a scheduled post where
/// the workspace requires approval; elsewhere a scheduled post stays scheduled if it still
/// suits its channels.
#[utoipa::path(patch, operation_id = "update_post", path = "/v1/workspaces/{workspace_id}/posts/{post_id}", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path),
           ("If-Match" = schemas::VersionETag, Header, description = schemas::IF_MATCH_REQUIRED)), request_body = UpdatePostRequest,
    responses((status = 200, description = "The post", body = PostView),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 409, description = "Publishing has started, or the post changed meanwhile (`conflict`)", body = Problem),
              (status = 412, description = "`If-Match` names a version the post has moved on from, or is not a post's ETag (`precondition_failed`)", body = Problem),
              (status = 428, description = "No `If-Match` (`precondition_required`)", body = Problem),
              (status = 422, description = "Invalid fields, or a scheduled post that no longer suits a channel (`validation_failed`)", body = Problem)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathId(post): PathId<PostId>,
    IfMatch(seen): IfMatch,
    JsonBody(request): JsonBody<UpdatePostRequest>,
) -> Result<Response, ApiError> {
    let changes = PostChanges {
        content: request.content,
        variants: request.variants,
        channel_ids: request.channel_ids,
        media_ids: request.media_ids,
        scheduled_at: request.scheduled_at.map(|at| at.map(stored_time)),
    };
    let post = state.posts.update(&permit.member.caller, post, seen, changes).await?;
    Ok(with_etag(post))
}

/// Delete a post (members: their own), unless it is publishing or published.
#[utoipa::path(delete, operation_id = "delete_post", path = "/v1/workspaces/{workspace_id}/posts/{post_id}", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path),
           ("If-Match" = Option<schemas::ETag>, Header, description = schemas::IF_MATCH_OPTIONAL)),
    responses((status = 204, description = "Deleted"),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 409, description = "Publishing or published (`conflict`)", body = Problem),
              (status = 412, description = "`If-Match` names a version the post has moved on from, or is not a post's ETag (`precondition_failed`)", body = Problem)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathId(post): PathId<PostId>,
    IfMatch(seen): IfMatch,
) -> Result<StatusCode, ApiError> {
    state.posts.delete(&permit.member.caller, post, seen).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for review: draft -> in_review (members: their own posts). Each channel's platform rules
/// are checked first.
#[utoipa::path(post, operation_id = "submit_post", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/submit", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path),
           ("If-Match" = Option<schemas::ETag>, Header, description = schemas::IF_MATCH_OPTIONAL)),
    responses((status = 200, description = "In review", body = PostView),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 409, description = "Not a draft (`conflict`)", body = Problem),
              (status = 412, description = "`If-Match` names a version the post has moved on from, or is not a post's ETag (`precondition_failed`)", body = Problem),
              (status = 422, description = "One error per channel whose platform would refuse the post, as `targets.{channel_id}` (`validation_failed`)", body = Problem)))]
pub(crate) async fn submit(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathId(post): PathId<PostId>,
    IfMatch(seen): IfMatch,
) -> Result<Response, ApiError> {
    let post = state.posts.submit(&permit.member.caller, post, seen).await?;
    Ok(with_etag(post))
}

/// Approve a post in review: scheduled if its time is still ahead, approved otherwise.
/// Recorded in the audit log.
#[utoipa::path(post, operation_id = "approve_post", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/approve", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path),
           ("If-Match" = schemas::VersionETag, Header, description = schemas::IF_MATCH_REQUIRED)),
    responses((status = 200, description = "Approved or scheduled", body = PostView),
              (status = 403, description = "A member, or the post's own author where the workspace requires approval (`forbidden`)", body = Problem),
              (status = 409, description = "Not in review (`conflict`)", body = Problem),
              (status = 412, description = "`If-Match` names a version the post has moved on from, or is not a post's ETag (`precondition_failed`)", body = Problem),
              (status = 428, description = "No `If-Match` (`precondition_required`)", body = Problem),
              (status = 422, description = "A channel can no longer take the post (`validation_failed`)", body = Problem)))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    permit: Permit<can::ReviewPost>,
    PathId(post): PathId<PostId>,
    IfMatch(seen): IfMatch,
) -> Result<Response, ApiError> {
    let post = state.posts.approve(&permit.member.caller, post, seen).await?;
    Ok(with_etag(post))
}

/// Send a post in review back to draft with a reason, which the post keeps. Recorded in the
/// audit log.
#[utoipa::path(post, operation_id = "reject_post", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/reject", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path),
           ("If-Match" = schemas::VersionETag, Header, description = schemas::IF_MATCH_REQUIRED)), request_body = RejectRequest,
    responses((status = 200, description = "Back to draft", body = PostView),
              (status = 403, description = "A member, or the post's own author where the workspace requires approval (`forbidden`)", body = Problem),
              (status = 409, description = "Not in review (`conflict`)", body = Problem),
              (status = 412, description = "`If-Match` names a version the post has moved on from, or is not a post's ETag (`precondition_failed`)", body = Problem),
              (status = 428, description = "No `If-Match` (`precondition_required`)", body = Problem)))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    permit: Permit<can::ReviewPost>,
    PathId(post): PathId<PostId>,
    IfMatch(seen): IfMatch,
    JsonBody(request): JsonBody<RejectRequest>,
) -> Result<Response, ApiError> {
    let post = state.posts.reject(&permit.member.caller, post, seen, &request.reason).await?;
    Ok(with_etag(post))
}

/// Schedule a post (members: their own): from approved, from draft where the workspace does not
/// require approval, or move a scheduled post's time.
#[utoipa::path(post, operation_id = "schedule_post", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/schedule", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path),
           ("If-Match" = Option<schemas::ETag>, Header, description = schemas::IF_MATCH_OPTIONAL)), request_body = ScheduleRequest,
    responses((status = 200, description = "Scheduled", body = PostView),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 412, description = "`If-Match` names a version the post has moved on from, or is not a post's ETag (`precondition_failed`)", body = Problem),
              (status = 409, description = "Approval required first, or a status that cannot be scheduled (`conflict`)", body = Problem),
              (status = 422, description = "A time not ahead, or channels whose platform would refuse the post (`validation_failed`)", body = Problem)))]
pub(crate) async fn schedule(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathId(post): PathId<PostId>,
    IfMatch(seen): IfMatch,
    JsonBody(request): JsonBody<ScheduleRequest>,
) -> Result<Response, ApiError> {
    let at = stored_time(request.scheduled_at);
    let post = state.posts.schedule(&permit.member.caller, post, seen, at).await?;
    Ok(with_etag(post))
}

/// Publish a post now (members: their own), under the same rules as `schedule`: 202, and the
/// publisher takes it on its next pass; its targets show how it went.
#[utoipa::path(post, operation_id = "publish_post_now", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/publish-now", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path),
           ("If-Match" = Option<schemas::ETag>, Header, description = schemas::IF_MATCH_OPTIONAL)),
    responses((status = 202, description = "Due now; the publisher takes it next", body = PostView),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 409, description = "Approval required first, or a status that cannot be scheduled (`conflict`)", body = Problem),
              (status = 412, description = "`If-Match` names a version the post has moved on from, or is not a post's ETag (`precondition_failed`)", body = Problem),
              (status = 422, description = "Channels whose platform would refuse the post (`validation_failed`)", body = Problem)))]
pub(crate) async fn publish_now(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathId(post): PathId<PostId>,
    IfMatch(seen): IfMatch,
) -> Result<Response, ApiError> {
    let post = state.posts.publish_now(&permit.member.caller, post, seen).await?;
    let mut response = with_etag(post);
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}

/// Where a person found a post the publisher could not confirm.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkPublishedRequest {
    /// The post's https:// address on its platform.
    #[schema(pattern = r"^https://[^\s]+$", max_length = 2048)]
    url: String,
}

/// Send a `failed` or `missed` target to its platform again, now (author, admin, owner).
#[utoipa::path(post, operation_id = "retry_target", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/targets/{channel_id}/retry", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path), ("channel_id" = String, Path)),
    responses((status = 202, description = "Due again now; the publisher takes it next", body = PostView),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 404, description = "No such post, or it has no target on that channel", body = Problem),
              (status = 409, description = "The target is neither failed nor missed (`conflict`)", body = Problem)))]
pub(crate) async fn retry_target(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathIds(post, channel): PathIds<PostId, ChannelId>,
) -> Result<Response, ApiError> {
    let post = state.posts.retry_target(&permit.member.caller, post, channel).await?;
    let mut response = with_etag(post);
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}

/// Record that an `unknown` target is on its platform, at `url` (author, admin, owner).
#[utoipa::path(post, operation_id = "mark_target_published", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/targets/{channel_id}/mark-published", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path), ("channel_id" = String, Path)),
    request_body = MarkPublishedRequest,
    responses((status = 200, description = "Published, with the address given", body = PostView),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 404, description = "No such post, or it has no target on that channel", body = Problem),
              (status = 409, description = "The target is not unknown (`conflict`)", body = Problem),
              (status = 422, description = "Not an https:// address (`validation_failed`)", body = Problem)))]
pub(crate) async fn mark_target_published(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathIds(post, channel): PathIds<PostId, ChannelId>,
    JsonBody(request): JsonBody<MarkPublishedRequest>,
) -> Result<Response, ApiError> {
    let caller = &permit.member.caller;
    let post = state.posts.mark_published(caller, post, channel, &request.url).await?;
    Ok(with_etag(post))
}

/// Leave an `unknown` or `missed` target unpublished (author, admin, owner).
#[utoipa::path(post, operation_id = "dismiss_target", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/targets/{channel_id}/dismiss", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path), ("channel_id" = String, Path)),
    responses((status = 200, description = "Left unpublished", body = PostView),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 404, description = "No such post, or it has no target on that channel", body = Problem),
              (status = 409, description = "The target is neither unknown nor missed (`conflict`)", body = Problem)))]
pub(crate) async fn dismiss_target(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathIds(post, channel): PathIds<PostId, ChannelId>,
) -> Result<Response, ApiError> {
    let post = state.posts.dismiss_target(&permit.member.caller, post, channel).await?;
    Ok(with_etag(post))
}

/// A post added to its channels' queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedPost {
    /// The post, scheduled at the slot it took.
    #[serde(flatten)]
    post: PostView,
    /// The same time as `scheduled_at`, on the workspace's clock (RFC 3339 with its offset).
    scheduled_at_local: String,
    /// The workspace's IANA time zone.
    timezone: String,
}

/// Add a post to the queue (members: their own): it is scheduled at the earliest slot time of
/// its channels that none of them has given to another post, under the same rules as
/// `schedule`.
#[utoipa::path(post, operation_id = "queue_post", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/queue", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path),
           ("If-Match" = Option<schemas::ETag>, Header, description = schemas::IF_MATCH_OPTIONAL)),
    responses((status = 200, description = "Scheduled at the slot it took, shown in UTC and on the workspace's clock", body = QueuedPost),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 409, description = "Approval required first, or a status that cannot be scheduled (`conflict`)", body = Problem),
              (status = 412, description = "`If-Match` names a version the post has moved on from, or is not a post's ETag (`precondition_failed`)", body = Problem),
              (status = 422, description = "None of its channels has slots (`no_slots`), or channels whose platform would refuse the post (`validation_failed`)", body = Problem)))]
pub(crate) async fn queue(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathId(post): PathId<PostId>,
    IfMatch(seen): IfMatch,
) -> Result<Response, ApiError> {
    let caller = &permit.member.caller;
    let post = state.posts.queue(caller, post, seen).await?;
    let timezone = caller.workspace.timezone.clone();
    let scheduled_at_local = match (post.scheduled_at, timezone.parse::<chrono_tz::Tz>()) {
        (Some(at), Ok(zone)) => at.with_timezone(&zone).to_rfc3339(),
        _ => return Err(Refusal::internal("a queued post has no time in its zone").into()),
    };
    let version = post.version;
    let queued = QueuedPost { post: PostView::from(post), scheduled_at_local, timezone };
    Ok(etagged(Json(queued), version))
}

/// Take a post off the schedule: scheduled -> draft (members: their own).
#[utoipa::path(post, operation_id = "cancel_post", path = "/v1/workspaces/{workspace_id}/posts/{post_id}/cancel", tag = "posts", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("post_id" = String, Path),
           ("If-Match" = Option<schemas::ETag>, Header, description = schemas::IF_MATCH_OPTIONAL)),
    responses((status = 200, description = "Back to draft", body = PostView),
              (status = 403, description = "A reviewer, or a member acting on another's post (`forbidden`)", body = Problem),
              (status = 409, description = "Not scheduled (`conflict`)", body = Problem),
              (status = 412, description = "`If-Match` names a version the post has moved on from, or is not a post's ETag (`precondition_failed`)", body = Problem)))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    permit: Permit<can::EditPost>,
    PathId(post): PathId<PostId>,
    IfMatch(seen): IfMatch,
) -> Result<Response, ApiError> {
    let post = state.posts.cancel(&permit.member.caller, post, seen).await?;
    Ok(with_etag(post))
}
