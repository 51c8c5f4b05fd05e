//! Workspaces, their members, invitations and audit log, as the security page promises them
//! ("Access control", "Data isolation and tenancy", "Audit and admin event logging").
//!
//! Every method receives a [`Caller`] that the HTTP layer has already proven to be a member
//! with a role allowed to take the action; the rules about targets (the owner is untouchable
//! except by transfer, an admin cannot touch the owner) are checked here and by the store.

mod audit;
mod invitations;
mod members;

use crate::Refusal;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::Duration;
use postroute_domain::workspace::{parse_timezone, parse_workspace_name};
use postroute_domain::{AuditAction, NewAuditEntry, Plan, Role, UserId, WorkspaceId};
use postroute_store::{NewWorkspace, Store, Workspace, WorkspaceChanges};
use serde_json::json;

use crate::clock;
use crate::config::RateLimitConfig;
use crate::mail::MailComposer;
use crate::rate_limit::{Counting, Quota, RateLimiter};

pub use audit::{AuditPage, AuditQuery};
pub use invitations::Acceptance;

/// A member acting in a workspace, as the HTTP layer authorised them.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The workspace, as loaded for this request.
    pub workspace: Workspace,
    /// Who.
    pub user: UserId,
    /// Their role in it.
    pub role: Role,
    /// From where.
    pub ip: IpAddr,
}

impl Caller {
    /// An audit entry for `action` taken by this caller from their address.
    pub fn audit(&self, action: AuditAction) -> NewAuditEntry {
        NewAuditEntry::new(action, self.user, self.ip)
    }
}

/// Settings to change.
#[derive(Debug, Default)]
pub struct SettingsChange<'a> {
    /// New name.
    pub name: Option<&'a str>,
    /// New time zone.
    pub timezone: Option<&'a str>,
    /// New approval setting.
    pub approval_required: Option<bool>,
}

/// The workspace service.
#[derive(Debug, Clone)]
pub struct WorkspaceService {
    store: Store,
    mail: Arc<MailComposer>,
    invitation_lifetime: Duration,
    invitation_limits: Option<InvitationLimits>,
}

/// How many invitation emails may go out, per workspace and per address.
#[derive(Debug, Clone)]
pub struct InvitationLimits {
    /// Where the counts live (memory, or Redis shared by every instance).
    pub limiter: RateLimiter,
    /// Emails per workspace.
    pub per_workspace: Quota,
    /// Emails from one workspace to one address.
    pub per_address: Quota,
    /// Emails per inviting account, from all its workspaces.
    pub per_inviter: Quota,
}

impl InvitationLimits {
    /// The limits `config` sets, or `None` where rate limits are off (benchmarks).
    pub fn from_config(config: &RateLimitConfig, limiter: RateLimiter) -> Option<Self> {
        let day = std::time::Duration::from_secs(24 * 3600);
        config.enabled.then(|| Self {
            limiter,
            per_workspace: Quota {
                name: "invitations-workspace",
                burst: config.invitations_per_workspace_per_day,
                period: day,
                counting: Counting::Window,
            },
            per_address: Quota {
                name: "invitations-address",
                burst: config.invitations_per_address_per_day,
                period: day,
                counting: Counting::Window,
            },
            per_inviter: Quota {
                name: "invitations-inviter",
                burst: config.invitations_per_inviter_per_day,
                period: day,
                counting: Counting::Window,
            },
        })
    }
}

impl WorkspaceService {
    /// Wires the service.
    pub fn new(
        store: Store,
        mail: Arc<MailComposer>,
        invitation_lifetime: Duration,
        invitation_limits: Option<InvitationLimits>,
    ) -> Self {
        Self { store, mail, invitation_lifetime, invitation_limits }
    }

    /// The workspace and the caller's role, when the caller is a member of it (else `None`,
    /// which the API answers 404 whether the workspace exists or not).
    pub async fn access(
        &self,
        workspace: WorkspaceId,
        user: UserId,
    ) -> Result<Option<(Workspace, Role)>, Refusal> {
        Ok(self.store.tenant(workspace).access(user).await?)
    }

    /// Creates a workspace; the creator becomes its owner.
    pub async fn create(
        &self,
        user: UserId,
        ip: IpAddr,
        name: &str,
        timezone: Option<&str>,
    ) -> Result<Workspace, Refusal> {
        let mut invalid = Vec::new();
        let name = parse_workspace_name(name).map_err(|error| invalid.push(("name", error))).ok();
        let timezone = parse_timezone(timezone.unwrap_or("UTC"))
            .map_err(|error| invalid.push(("timezone", error)))
            .ok();
        let (Some(name), Some(timezone)) = (name, timezone) else {
            return Err(Refusal::invalid_fields(invalid));
        };
        let id = WorkspaceId::new();
        let audit = NewAuditEntry::new(AuditAction::WorkspaceCreated, user, ip)
            .target("workspace", id)
            .details(json!({ "name": name }));
        self.store
            .create_workspace(
                &NewWorkspace {
                    id,
                    name: &name,
                    timezone: &timezone,
                    owner: user,
                    created_at: clock::now(),
                },
                &audit,
            )
            .await?;
        tracing::info!(workspace.id = display(&id), user.id = display(&user), "workspace created");
        self.store.tenant(id).workspace().await?.ok_or(Refusal::NotFound)
    }

    /// The caller's workspaces with their role.
    pub async fn mine(&self, user: UserId) -> Result<Vec<(Workspace, Role)>, Refusal> {
        Ok(self.store.user_scope(user).workspaces().await?)
    }

    /// Changes name, time zone or the approval setting.
    pub async fn update(
        &self,
        caller: &Caller,
        change: SettingsChange<'_>,
    ) -> Result<Workspace, Refusal> {
        let mut invalid = Vec::new();
        let name = change
            .name
            .map(parse_workspace_name)
            .transpose()
            .map_err(|error| invalid.push(("name", error)))
            .ok()
            .flatten();
        let timezone = change
            .timezone
            .map(parse_timezone)
            .transpose()
            .map_err(|error| invalid.push(("timezone", error)))
            .ok()
            .flatten();
        if !invalid.is_empty() {
            return Err(Refusal::invalid_fields(invalid));
        }
        if change.approval_required == Some(true)
            && !caller.workspace.plan.entitlements().approval_workflow
        {
            return Err(plan_required("The approval workflow", caller.workspace.plan));
        }
        let audit = caller
            .audit(AuditAction::WorkspaceUpdated)
            .target("workspace", caller.workspace.id)
            .details(json!({
                "name": name,
                "timezone": timezone,
                "approval_required": change.approval_required,
            }));
        let changes = WorkspaceChanges {
            name: name.as_deref(),
            timezone: timezone.as_deref(),
            approval_required: change.approval_required,
        };
        self.store
            .tenant(caller.workspace.id)
            .update_settings(&changes, clock::now(), &audit)
            .await?
            .ok_or(Refusal::NotFound)
    }

    /// Deletes the workspace (owner only; the HTTP layer checked the role).
    pub async fn delete(&self, caller: &Caller) -> Result<(), Refusal> {
        let audit =
            caller.audit(AuditAction::WorkspaceDeleted).target("workspace", caller.workspace.id);
        if self.store.tenant(caller.workspace.id).delete(clock::now(), &audit).await? {
            tracing::info!(
                workspace.id = display(&caller.workspace.id),
                user.id = display(&caller.user),
                "workspace deleted"
            );
            Ok(())
        } else {
            Err(Refusal::NotFound)
        }
    }
}

fn plan_required(feature: &str, plan: Plan) -> Refusal {
    Refusal::PlanRequired(format!(
        "{feature} is not part of the {} plan; upgrade to Studio or Agency.",
        plan.as_str()
    ))
}
