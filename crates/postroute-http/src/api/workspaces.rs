//! `/v1/workspaces/...` and `/v1/invitations/accept`. Each handler's arguments state its
//! policy: `Permit<can::X>` for actions of the permission matrix, `Member` where any member may
//! act (rules about the target are the service's).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use postroute_app::Refusal;
use postroute_domain::{InvitationId, Plan, Role, UserId};
use postroute_store::{AuditEntry, Invitation, Member as StoredMember, Workspace};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::extract::PathId;
use crate::extract::guard::{Member, Permit, can};
use crate::extract::json::JsonBody;
use crate::extract::pagination::{ListQuery, Page, PageParams};
use crate::openapi::schemas;
use crate::problem::ApiError;
use crate::state::AppState;
use postroute_app::accounts::{AuthSession, RequestContext};
use postroute_app::workspaces::{AuditQuery, SettingsChange};

/// What a plan includes.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntitlementsView {
    /// Members allowed, owner included; null for unlimited.
    pub max_members: Option<u32>,
    /// Channels allowed; null for unlimited.
    pub max_channels: Option<u32>,
    /// Media library storage, in bytes.
    pub media_storage_bytes: u64,
    /// Whether the audit log is available.
    pub audit_log: bool,
    /// Whether posts can require approval.
    pub approval_workflow: bool,
}

/// A workspace, as one of its members sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkspaceView {
    /// Workspace id.
    pub id: String,
    /// Name.
    pub name: String,
    /// IANA time zone.
    #[schema(value_type = schemas::Timezone)]
    pub timezone: String,
    /// Whether posts need approval.
    pub approval_required: bool,
    /// `free`, `studio` or `agency`.
    #[schema(value_type = schemas::Plan)]
    pub plan: Plan,
    /// What the plan includes.
    pub entitlements: EntitlementsView,
    /// The caller's role.
    #[schema(value_type = schemas::Role)]
    pub role: Role,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last settings change.
    pub updated_at: DateTime<Utc>,
}

impl WorkspaceView {
    fn new(workspace: Workspace, role: Role) -> Self {
        let entitlements = workspace.plan.entitlements();
        Self {
            id: workspace.id.to_string(),
            name: workspace.name,
            timezone: workspace.timezone,
            approval_required: workspace.approval_required,
            plan: workspace.plan,
            entitlements: EntitlementsView {
                max_members: entitlements.max_members,
                max_channels: entitlements.max_channels,
                media_storage_bytes: entitlements.media_storage_bytes,
                audit_log: entitlements.audit_log,
                approval_workflow: entitlements.approval_workflow,
            },
            role,
            created_at: workspace.created_at,
            updated_at: workspace.updated_at,
        }
    }
}

/// A member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    /// User id.
    pub user_id: String,
    /// Email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    #[schema(value_type = schemas::Role)]
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

impl From<StoredMember> for MemberView {
    fn from(member: StoredMember) -> Self {
        Self {
            user_id: member.user_id.to_string(),
            email: member.email,
            name: member.name,
            role: member.role,
            joined_at: member.joined_at,
        }
    }
}

/// An open invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    /// Invitation id.
    pub id: String,
    /// Invited address.
    pub email: String,
    /// Role it grants.
    #[schema(value_type = schemas::AssignableRole)]
    pub role: Role,
    /// Who invited.
    pub invited_by: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Until when it can be accepted.
    pub expires_at: DateTime<Utc>,
    /// Whether it has expired (invite again to renew).
    pub expired: bool,
}

impl From<Invitation> for InvitationView {
    fn from(invitation: Invitation) -> Self {
        Self {
            id: invitation.id.to_string(),
            email: invitation.email,
            role: invitation.role,
            invited_by: invitation.invited_by.map(|user| user.to_string()),
            created_at: invitation.created_at,
            expired: invitation.expires_at <= Utc::now(),
            expires_at: invitation.expires_at,
        }
    }
}

/// What an audit entry was about.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditTargetView {
    /// `workspace`, `user`, `invitation`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
}

/// One audit log entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// Entry id.
    pub id: String,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who (null once their account is erased).
    pub actor_id: Option<String>,
    /// What, e.g. `member.role_changed`.
    pub action: String,
    /// On what.
    pub target: Option<AuditTargetView>,
    /// From where.
    pub ip: Option<String>,
    /// Action-specific facts.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id.to_string(),
            occurred_at: entry.occurred_at,
            actor_id: entry.actor.map(|actor| actor.to_string()),
            action: entry.action,
            target: match (entry.target_type, entry.target_id) {
                (Some(kind), Some(id)) => Some(AuditTargetView { kind, id }),
                _ => None,
            },
            ip: entry.ip.map(|ip| ip.to_string()),
            details: entry.details,
        }
    }
}

/// Membership gained by accepting an invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    /// The workspace joined.
    pub workspace_id: String,
    /// Its name.
    pub workspace_name: String,
    /// The role granted.
    #[schema(value_type = schemas::AssignableRole)]
    pub role: Role,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateWorkspaceRequest {
    #[schema(value_type = schemas::WorkspaceName)]
    name: String,
    /// IANA time zone; UTC when absent.
    #[schema(value_type = Option<schemas::Timezone>)]
    timezone: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateWorkspaceRequest {
    #[schema(value_type = Option<schemas::WorkspaceName>)]
    name: Option<String>,
    #[schema(value_type = Option<schemas::Timezone>)]
    timezone: Option<String>,
    approval_required: Option<bool>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleRequest {
    /// The new role.
    #[schema(value_type = schemas::AssignableRole)]
    role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransferRequest {
    user_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InviteRequest {
    #[schema(value_type = schemas::EmailAddress)]
    email: String,
    /// The role the invitation grants.
    #[schema(value_type = schemas::AssignableRole)]
    role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcceptRequest {
    token: String,
}

/// Create a workspace; the caller becomes its owner.
#[utoipa::path(post, operation_id = "create_workspace", path = "/v1/workspaces", tag = "workspaces", security(("bearer" = [])), request_body = CreateWorkspaceRequest,
    responses((status = 201, description = "Created", body = WorkspaceView)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    auth: AuthSession,
    context: RequestContext,
    JsonBody(request): JsonBody<CreateWorkspaceRequest>,
) -> Result<(StatusCode, Json<WorkspaceView>), ApiError> {
    let workspace = state
        .workspaces
        .create(auth.user, context.ip, &request.name, request.timezone.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(WorkspaceView::new(workspace, Role::Owner))))
}

/// The caller's workspaces, with the caller's role in each.
#[utoipa::path(get, operation_id = "list_workspaces", path = "/v1/workspaces", tag = "workspaces", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, description = "A page", body = Page<WorkspaceView>)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    auth: AuthSession,
    query: ListQuery,
) -> Result<Json<Page<WorkspaceView>>, ApiError> {
    let views = state
        .workspaces
        .mine(auth.user)
        .await?
        .into_iter()
        .map(|(workspace, role)| WorkspaceView::new(workspace, role))
        .collect();
    Ok(Json(Page::of(views, &query, |view| view.id.clone())?))
}

/// A workspace, its plan and settings.
#[utoipa::path(get, operation_id = "get_workspace", path = "/v1/workspaces/{workspace_id}", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path)),
    responses((status = 200, description = "The workspace", body = WorkspaceView),
              (status = 404, description = "No such workspace, or not a member", body = crate::problem::Problem)))]
pub(crate) async fn get(permit: Permit<can::ViewWorkspace>) -> Json<WorkspaceView> {
    let caller = permit.member.caller;
    Json(WorkspaceView::new(caller.workspace, caller.role))
}

/// Change name, time zone or the approval setting.
#[utoipa::path(patch, operation_id = "update_workspace", path = "/v1/workspaces/{workspace_id}", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path)), request_body = UpdateWorkspaceRequest,
    responses((status = 200, description = "Updated", body = WorkspaceView),
              (status = 402, description = "Approval workflow not on this plan (`plan_required`)", body = crate::problem::Problem),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = crate::problem::Problem)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    permit: Permit<can::UpdateWorkspace>,
    JsonBody(request): JsonBody<UpdateWorkspaceRequest>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let caller = permit.member.caller;
    let change = SettingsChange {
        name: request.name.as_deref(),
        timezone: request.timezone.as_deref(),
        approval_required: request.approval_required,
    };
    let workspace = state.workspaces.update(&caller, change).await?;
    Ok(Json(WorkspaceView::new(workspace, caller.role)))
}

/// Delete the workspace.
#[utoipa::path(delete, operation_id = "delete_workspace", path = "/v1/workspaces/{workspace_id}", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 403, description = "Not the owner (`forbidden`)", body = crate::problem::Problem)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    permit: Permit<can::DeleteWorkspace>,
) -> Result<StatusCode, ApiError> {
    state.workspaces.delete(&permit.member.caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The members.
#[utoipa::path(get, path = "/v1/workspaces/{workspace_id}/members", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path), PageParams),
    responses((status = 200, description = "A page", body = Page<MemberView>)))]
pub(crate) async fn members(
    State(state): State<AppState>,
    permit: Permit<can::ListMembers>,
    query: ListQuery,
) -> Result<Json<Page<MemberView>>, ApiError> {
    let members = state
        .workspaces
        .members(&permit.member.caller)
        .await?
        .into_iter()
        .map(MemberView::from)
        .collect();
    Ok(Json(Page::of(members, &query, |member| member.user_id.clone())?))
}

/// Change a member's role. The owner's role changes only by transfer (409).
#[utoipa::path(patch, path = "/v1/workspaces/{workspace_id}/members/{user_id}", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("user_id" = String, Path)), request_body = RoleRequest,
    responses((status = 200, description = "Changed", body = MemberView),
              (status = 403, description = "A member or reviewer, or an admin changing an admin's role (`forbidden`)", body = crate::problem::Problem),
              (status = 404, description = "Not a member of this workspace", body = crate::problem::Problem),
              (status = 409, description = "Demoting the owner or making someone owner", body = crate::problem::Problem)))]
pub(crate) async fn change_role(
    State(state): State<AppState>,
    permit: Permit<can::ChangeMemberRole>,
    PathId(target): PathId<UserId>,
    JsonBody(request): JsonBody<RoleRequest>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(
        state.workspaces.change_role(&permit.member.caller, target, &request.role).await?.into(),
    ))
}

/// Remove a member, or leave (a member removing themself). Never the owner (409).
#[utoipa::path(delete, path = "/v1/workspaces/{workspace_id}/members/{user_id}", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "Removed"),
              (status = 403, description = "Removing someone else without the role to (`forbidden`)", body = crate::problem::Problem),
              (status = 404, description = "Not a member of this workspace", body = crate::problem::Problem),
              (status = 409, description = "The owner cannot be removed or leave", body = crate::problem::Problem)))]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    member: Member,
    PathId(target): PathId<UserId>,
) -> Result<StatusCode, ApiError> {
    state.workspaces.remove(&member.caller, target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hand ownership to another member; the caller becomes an admin.
#[utoipa::path(post, path = "/v1/workspaces/{workspace_id}/transfer-ownership", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path)), request_body = TransferRequest,
    responses((status = 200, description = "Transferred; the caller's view of the workspace", body = WorkspaceView),
              (status = 403, description = "Not the owner (`forbidden`)", body = crate::problem::Problem),
              (status = 409, description = "The caller already owns it, or the member left meanwhile (`conflict`)", body = crate::problem::Problem),
              (status = 422, description = "`user_id` is not a member of this workspace (`validation_failed`)", body = crate::problem::Problem)))]
pub(crate) async fn transfer_ownership(
    State(state): State<AppState>,
    permit: Permit<can::TransferOwnership>,
    JsonBody(request): JsonBody<TransferRequest>,
) -> Result<Json<WorkspaceView>, ApiError> {
    let caller = permit.member.caller;
    let to: UserId = request.user_id.parse().map_err(|_| {
        ApiError(Refusal::Invalid(vec![crate::problem::FieldError::new(
            "user_id",
            "is not a member of this workspace",
        )]))
    })?;
    state.workspaces.transfer_ownership(&caller, to).await?;
    Ok(Json(WorkspaceView::new(caller.workspace, Role::Admin)))
}

/// Invite someone by email (never as owner).
#[utoipa::path(post, path = "/v1/workspaces/{workspace_id}/invitations", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path)), request_body = InviteRequest,
    responses((status = 201, description = "Invited; an email is on its way", body = InvitationView),
              (status = 402, description = "The plan's member limit is reached", body = crate::problem::Problem),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = crate::problem::Problem),
              (status = 409, description = "Already a member, or already invited", body = crate::problem::Problem),
              (status = 422, description = "Not an address, or the role `owner` (`validation_failed`)", body = crate::problem::Problem),
              (status = 429, description = "Over the invitation emails an address may receive (3) or a workspace may send (50) in 24 hours (`rate_limited`)", body = crate::problem::Problem)))]
pub(crate) async fn invite(
    State(state): State<AppState>,
    permit: Permit<can::Invite>,
    JsonBody(request): JsonBody<InviteRequest>,
) -> Result<(StatusCode, Json<InvitationView>), ApiError> {
    let member = permit.member;
    let inviter = state.accounts.me(member.auth).await?;
    let invitation = state
        .workspaces
        .invite(&member.caller, &inviter.name, &request.email, &request.role)
        .await?;
    Ok((StatusCode::CREATED, Json(invitation.into())))
}

/// Open invitations.
#[utoipa::path(get, path = "/v1/workspaces/{workspace_id}/invitations", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path), PageParams),
    responses((status = 200, description = "A page", body = Page<InvitationView>),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = crate::problem::Problem)))]
pub(crate) async fn invitations(
    State(state): State<AppState>,
    permit: Permit<can::ListInvitations>,
    query: ListQuery,
) -> Result<Json<Page<InvitationView>>, ApiError> {
    let invitations = state
        .workspaces
        .invitations(&permit.member.caller)
        .await?
        .into_iter()
        .map(InvitationView::from)
        .collect();
    Ok(Json(Page::of(invitations, &query, |invitation| invitation.id.clone())?))
}

/// Withdraw an invitation.
#[utoipa::path(delete, path = "/v1/workspaces/{workspace_id}/invitations/{invitation_id}", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 204, description = "Withdrawn"),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = crate::problem::Problem),
              (status = 404, description = "No such open invitation: unknown, accepted or withdrawn", body = crate::problem::Problem)))]
pub(crate) async fn revoke_invitation(
    State(state): State<AppState>,
    permit: Permit<can::RevokeInvitation>,
    PathId(id): PathId<InvitationId>,
) -> Result<StatusCode, ApiError> {
    state.workspaces.revoke_invitation(&permit.member.caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit log, newest first. Owners and admins, on Studio and Agency plans.
#[utoipa::path(get, path = "/v1/workspaces/{workspace_id}/audit-log", tag = "workspaces", security(("bearer" = [])),
    params(("workspace_id" = String, Path), PageParams,
           ("action" = Option<schemas::AuditAction>, Query), ("actor" = Option<String>, Query, format = Uuid, description = "user id"),
           ("since" = Option<DateTime<Utc>>, Query, description = "RFC 3339, inclusive"), ("until" = Option<DateTime<Utc>>, Query, description = "RFC 3339, exclusive")),
    responses((status = 200, description = "A page", body = Page<AuditEntryView>),
              (status = 402, description = "Not on this plan (`plan_required`)", body = crate::problem::Problem),
              (status = 403, description = "A member or reviewer (`forbidden`)", body = crate::problem::Problem),
              (status = 422, description = "An unknown action, an actor that is not a user id, a time that is not RFC 3339 (`validation_failed`)", body = crate::problem::Problem)))]
pub(crate) async fn audit_log(
    State(state): State<AppState>,
    permit: Permit<can::ViewAuditLog>,
    query: ListQuery,
) -> Result<Json<Page<AuditEntryView>>, ApiError> {
    let page = state
        .workspaces
        .audit_log(
            &permit.member.caller,
            AuditQuery {
                limit: query.limit,
                cursor: query.cursor.as_deref(),
                action: query.param("action"),
                actor: query.param("actor"),
                since: query.param("since"),
                until: query.param("until"),
            },
        )
        .await?;
    Ok(Json(Page {
        items: page.entries.into_iter().map(AuditEntryView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Accept an invitation with the token from its email.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "workspaces", security(("bearer" = [])), request_body = AcceptRequest,
    responses((status = 200, description = "Joined", body = MembershipView),
              (status = 400, description = "Unknown, expired or withdrawn invitation (`invalid_token`)", body = crate::problem::Problem),
              (status = 403, description = "For another address, or the caller's email is unconfirmed", body = crate::problem::Problem),
              (status = 409, description = "Already accepted, or already a member", body = crate::problem::Problem)))]
pub(crate) async fn accept(
    State(state): State<AppState>,
    auth: AuthSession,
    context: RequestContext,
    JsonBody(request): JsonBody<AcceptRequest>,
) -> Result<Json<MembershipView>, ApiError> {
    let user = state.accounts.me(auth).await?;
    let accepted = state.workspaces.accept(&user, context.ip, &request.token).await?;
    Ok(Json(MembershipView {
        workspace_id: accepted.workspace.to_string(),
        workspace_name: accepted.workspace_name,
        role: accepted.role,
    }))
}
