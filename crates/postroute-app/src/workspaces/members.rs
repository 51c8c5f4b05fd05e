//! Role changes, removal, leaving and ownership transfer.

use postroute_domain::workspace::{MembershipRuleError, check_removal, check_role_change};
use postroute_domain::{AuditAction, Role, UserId};
use postroute_store::{Member, MemberChangeError};
use serde_json::json;

use super::{Caller, WorkspaceService};
use crate::Refusal;
use crate::clock;

fn from_rule(error: MembershipRuleError) -> Refusal {
    match error {
        MembershipRuleError::OwnerChangesOnlyByTransfer => {
            Refusal::Conflict("The owner can only change by a transfer of ownership.".to_owned())
        }
        MembershipRuleError::Forbidden => {
            Refusal::Forbidden("Your role may not change that member.".to_owned())
        }
    }
}

fn from_change(error: MemberChangeError) -> Refusal {
    match error {
        MemberChangeError::NotMember => Refusal::NotFound,
        MemberChangeError::OwnerProtected => {
            from_rule(MembershipRuleError::OwnerChangesOnlyByTransfer)
        }
        MemberChangeError::Store(error) => error.into(),
    }
}

impl WorkspaceService {
    /// Every member.
    pub async fn members(&self, caller: &Caller) -> Result<Vec<Member>, Refusal> {
        Ok(self.store.tenant(caller.workspace.id).members().await?)
    }

    /// Gives a member another role. Nobody becomes or stops being owner this way (409).
    pub async fn change_role(
        &self,
        caller: &Caller,
        target: UserId,
        role: &str,
    ) -> Result<Member, Refusal> {
        let role: Role =
            role.parse().map_err(|error: postroute_domain::workspace::UnknownRole| {
                Refusal::invalid("role", error.to_string())
            })?;
        let tenant = self.store.tenant(caller.workspace.id);
        let current = tenant.role_of(target).await?.ok_or(Refusal::NotFound)?;
        check_role_change(caller.role, current, role).map_err(from_rule)?;
        tenant
            .change_role(target, role, clock::now(), |previous| {
                caller.audit(AuditAction::MemberRoleChanged).target("user", target).details(json!({
                    "from": previous.as_str(),
                    "to": role.as_str(),
                }))
            })
            .await
            .map_err(from_change)?;
        tenant
            .members()
            .await?
            .into_iter()
            .find(|member| member.user_id == target)
            .ok_or(Refusal::NotFound)
    }

    /// Removes a member, or lets the caller leave. The owner can do neither (409).
    pub async fn remove(&self, caller: &Caller, target: UserId) -> Result<(), Refusal> {
        let tenant = self.store.tenant(caller.workspace.id);
        let leaving = target == caller.user;
        let current = tenant.role_of(target).await?.ok_or(Refusal::NotFound)?;
        check_removal(caller.role, current, leaving).map_err(from_rule)?;
        let action = if leaving { AuditAction::MemberLeft } else { AuditAction::MemberRemoved };
        let audit = caller
            .audit(action)
            .target("user", target)
            .details(json!({ "role": current.as_str() }));
        tenant.remove_member(target, clock::now(), &audit).await.map_err(from_change)?;
        Ok(())
    }

    /// Hands ownership to another member; the caller (the owner) becomes an admin.
    pub async fn transfer_ownership(&self, caller: &Caller, to: UserId) -> Result<(), Refusal> {
        if to == caller.user {
            return Err(Refusal::Conflict("You already own this workspace.".to_owned()));
        }
        let tenant = self.store.tenant(caller.workspace.id);
        if tenant.role_of(to).await?.is_none() {
            return Err(Refusal::invalid("user_id", "is not a member of this workspace"));
        }
        let audit = caller
            .audit(AuditAction::OwnershipTransferred)
            .target("user", to)
            .details(json!({ "from": caller.user, "to": to }));
        tenant.transfer_ownership(caller.user, to, clock::now(), &audit).await.map_err(
            |error| match error {
                // The target left or ownership moved while this request ran.
                MemberChangeError::NotMember => {
                    Refusal::Conflict("That member left before ownership could move.".to_owned())
                }
                other => from_change(other),
            },
        )?;
        tracing::info!(
            workspace.id = display(&caller.workspace.id),
            from = display(&caller.user),
            to = display(&to),
            "ownership transferred"
        );
        Ok(())
    }
}
