//! Invitations by email: owners and admins invite (never as owner), the invited address's
//! verified account accepts, once, within seven days.

use postroute_domain::{
    AuditAction, Email, InvitationId, NewSystemEvent, Role, SystemEventKind, WorkspaceId,
};
use postroute_store::{AcceptError, Invitation, Invited, NewInvitation, StoreError, User};
use serde_json::json;

use super::{Caller, WorkspaceService, plan_required};
use crate::Refusal;
use crate::mail::Template;
use crate::{clock, crypto};

/// What accepting an invitation made of the caller.
#[derive(Debug)]
pub struct Acceptance {
    /// The workspace joined.
    pub workspace: WorkspaceId,
    /// Its name.
    pub workspace_name: String,
    /// The role granted.
    pub role: Role,
}

/// Invitation tokens name their workspace (`<workspace id>.<secret>`), so accepting one is a
/// lookup inside that tenant's scope rather than a search across every workspace.
fn invitation_token(
    workspace: WorkspaceId,
) -> Result<(String, [u8; 32]), crypto::RandomnessUnavailable> {
    let (secret, _) = crypto::random_token()?;
    let token = format!("{}.{secret}", workspace.as_uuid().simple());
    let hash = crypto::sha256(token.as_bytes());
    Ok((token, hash))
}

fn workspace_of(token: &str) -> Option<WorkspaceId> {
    let (workspace, _) = token.split_once('.')?;
    uuid::Uuid::try_parse(workspace).ok().map(WorkspaceId::from_uuid)
}

impl WorkspaceService {
    /// Counts one invitation email against the address's and the workspace's daily limits,
    /// or refuses it; a refusal is a system event, once in a while per subject.
    async fn admit_invitation_email(&self, caller: &Caller, email: &Email) -> Result<(), Refusal> {
        let Some(limits) = &self.invitation_limits else { return Ok(()) };
        // Keyed by a digest: the limiter's store (Redis, say) never holds the address itself.
        let workspace = format!("workspace:{}", caller.workspace.id);
        let digest = crypto::hex(&crypto::sha256(email.normalized().as_bytes()));
        let address = format!("{workspace}:address:{digest}");
        let inviter = format!("user:{}", caller.user);
        // The narrowest first, so a refusal there spends nothing of the wider budgets.
        for (quota, subject) in [
            (&limits.per_address, address),
            (&limits.per_workspace, workspace),
            (&limits.per_inviter, inviter),
        ] {
            let decision = limits
                .limiter
                .admit(&self.store, quota, &subject, || {
                    NewSystemEvent::new(SystemEventKind::RateLimited)
                        .actor(caller.user)
                        .ip(caller.ip)
                        .details(
                            json!({ "limit": quota.name, "workspace_id": caller.workspace.id }),
                        )
                })
                .await;
            if !decision.allowed {
                return Err(Refusal::RateLimited(decision));
            }
        }
        Ok(())
    }

    /// Invites `email` with `role` and emails the link.
    pub async fn invite(
        &self,
        caller: &Caller,
        inviter_name: &str,
        email: &str,
        role: &str,
    ) -> Result<Invitation, Refusal> {
        let mut invalid = Vec::new();
        let email =
            Email::parse(email).map_err(|error| invalid.push(("email", error.to_string()))).ok();
        let role = match role.parse::<Role>() {
            Ok(Role::Owner) => {
                invalid
                    .push(("role", "cannot be owner: ownership moves only by transfer".to_owned()));
                None
            }
            Ok(role) => Some(role),
            Err(error) => {
                invalid.push(("role", error.to_string()));
                None
            }
        };
        let (Some(email), Some(role)) = (email, role) else {
            return Err(Refusal::invalid_fields(invalid));
        };
        let workspace = &caller.workspace;
        let tenant = self.store.tenant(workspace.id);
        let now = clock::now();
        if let Some(user) = self.store.accounts().find_by_email(email.normalized()).await?
            && tenant.role_of(user.id).await?.is_some()
        {
            return Err(Refusal::Conflict("That person is already a member.".to_owned()));
        }
        let already_invited =
            tenant.invitations().await?.iter().any(|open| {
                open.email.eq_ignore_ascii_case(email.as_str()) && open.expires_at > now
            });
        if already_invited {
            return Err(Refusal::Conflict(
                "That address already has an open invitation.".to_owned(),
            ));
        }
        if let Some(limit) = workspace.plan.entitlements().max_members
            && tenant.open_invitation_count(now).await? >= i64::from(limit)
        {
            return Err(plan_required(
                &format!("More than {limit} members (invitations included)"),
                workspace.plan,
            ));
        }

        self.admit_invitation_email(caller, &email).await?;
        let id = InvitationId::new();
        let (token, token_hash) = invitation_token(workspace.id)?;
        let valid_days = self.invitation_lifetime.num_days().unsigned_abs();
        let prepared = self.mail.prepare(
            email.as_str(),
            None,
            &Template::Invitation {
                workspace: &workspace.name,
                inviter: inviter_name,
                role: role.as_str(),
                token: &token,
                valid_days,
            },
        )?;
        let audit = caller
            .audit(AuditAction::MemberInvited)
            .target("invitation", id)
            .details(json!({ "email": email.redacted(), "role": role.as_str() }));
        let invitation = NewInvitation {
            id,
            email: email.as_str(),
            email_normalized: email.normalized(),
            role,
            token_hash: &token_hash,
            invited_by: caller.user,
            created_at: now,
            expires_at: now + self.invitation_lifetime,
        };
        let limit = workspace.plan.entitlements().max_members;
        match tenant.invite(&invitation, &prepared.outbox_row(now), &audit, limit).await {
            Ok(Invited::Invited) => {}
            Ok(Invited::LimitReached) => {
                return Err(plan_required(
                    &format!(
                        "More than {} members (invitations included)",
                        limit.unwrap_or_default()
                    ),
                    workspace.plan,
                ));
            }
            Err(StoreError::Conflict { .. }) => {
                return Err(Refusal::Conflict(
                    "That address already has an open invitation.".to_owned(),
                ));
            }
            Err(error) => return Err(error.into()),
        }
        Ok(Invitation {
            id,
            email: email.as_str().to_owned(),
            role,
            invited_by: Some(caller.user),
            created_at: invitation.created_at,
            expires_at: invitation.expires_at,
        })
    }

    /// Open invitations.
    pub async fn invitations(&self, caller: &Caller) -> Result<Vec<Invitation>, Refusal> {
        Ok(self.store.tenant(caller.workspace.id).invitations().await?)
    }

    /// Withdraws an open invitation.
    pub async fn revoke_invitation(
        &self,
        caller: &Caller,
        id: InvitationId,
    ) -> Result<(), Refusal> {
        let audit = caller.audit(AuditAction::InvitationRevoked).target("invitation", id);
        if self
            .store
            .tenant(caller.workspace.id)
            .revoke_invitation(id, clock::now(), &audit)
            .await?
        {
            Ok(())
        } else {
            Err(Refusal::NotFound)
        }
    }

    /// Accepts an invitation for `user`, whose verified address must be the invited one.
    pub async fn accept(
        &self,
        user: &User,
        ip: std::net::IpAddr,
        token: &str,
    ) -> Result<Acceptance, Refusal> {
        if user.email_verified_at.is_none() {
            return Err(Refusal::EmailNotVerified);
        }
        let workspace = workspace_of(token).ok_or(Refusal::InvalidToken)?;
        let tenant = self.store.tenant(workspace);
        let role = tenant
            .accept_invitation(
                &crypto::sha256(token.as_bytes()),
                user.id,
                &user.email_normalized,
                clock::now(),
                |invitation, role| {
                    postroute_domain::NewAuditEntry::new(
                        AuditAction::InvitationAccepted,
                        user.id,
                        ip,
                    )
                    .target("invitation", invitation)
                    .details(json!({ "role": role.as_str() }))
                },
            )
            .await
            .map_err(|error| match error {
                AcceptError::Invalid => Refusal::InvalidToken,
                AcceptError::AlreadyAccepted => {
                    Refusal::Conflict("This invitation was already accepted.".to_owned())
                }
                AcceptError::WrongRecipient => Refusal::Forbidden(
                    "This invitation is for another email address; sign in with that address to \
                     accept it."
                        .to_owned(),
                ),
                AcceptError::AlreadyMember => {
                    Refusal::Conflict("You are already a member of this workspace.".to_owned())
                }
                AcceptError::MemberLimit(plan) => plan_required("Another member", plan),
                AcceptError::Store(error) => error.into(),
            })?;
        let workspace = tenant.workspace().await?.ok_or(Refusal::InvalidToken)?;
        tracing::info!(
            workspace.id = display(&workspace.id),
            user.id = display(&user.id),
            role = role.as_str(),
            "invitation accepted"
        );
        Ok(Acceptance { workspace: workspace.id, workspace_name: workspace.name, role })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_workspace_and_hash_whole() {
        let workspace = WorkspaceId::new();
        let (token, hash) = invitation_token(workspace).unwrap();
        assert_eq!(workspace_of(&token), Some(workspace));
        assert_eq!(hash, crypto::sha256(token.as_bytes()));
        assert_eq!(workspace_of("no-dot-here"), None);
        assert_eq!(workspace_of("not-a-uuid.secret"), None);
    }
}
