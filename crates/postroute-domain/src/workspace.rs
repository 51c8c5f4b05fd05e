//! Workspaces: their settings, the roles of their members, and what each role may do.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Longest workspace name, in characters.
pub const MAX_WORKSPACE_NAME_CHARS: usize = 100;

/// A member's role. Exactly one member of a workspace is its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Holds the workspace: billing, deletion, ownership transfer.
    Owner,
    /// Runs the workspace: members, channels, settings.
    Admin,
    /// Writes posts.
    Member,
    /// Reviews posts awaiting approval.
    Reviewer,
}

impl Role {
    /// Every role, strongest first.
    pub const ALL: [Role; 4] = [Self::Owner, Self::Admin, Self::Member, Self::Reviewer];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Reviewer => "reviewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of owner, admin, member, reviewer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of owner, admin, member, reviewer")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|role| role.as_str() == value).ok_or(UnknownRole)
    }
}

/// Everything a member can attempt in a workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// See the workspace, its plan and settings.
    ViewWorkspace,
    /// Change name, timezone, approval setting.
    UpdateWorkspace,
    /// Delete the workspace.
    DeleteWorkspace,
    /// See who is a member.
    ListMembers,
    /// Change a member's role.
    ChangeMemberRole,
    /// Remove another member.
    RemoveMember,
    /// Hand ownership to another member.
    TransferOwnership,
    /// Invite someone by email.
    Invite,
    /// See open invitations.
    ListInvitations,
    /// Withdraw an invitation.
    RevokeInvitation,
    /// Read the audit log.
    ViewAuditLog,
    /// See the connected channels.
    ListChannels,
    /// Connect a social account.
    ConnectChannel,
    /// Disconnect a social account.
    DisconnectChannel,
    /// Set a channel's weekly posting slots.
    SetChannelSlots,
    /// See the media library.
    ListMedia,
    /// Upload to the media library.
    UploadMedia,
    /// Delete from the media library.
    DeleteMedia,
    /// See posts and the calendar.
    ListPosts,
    /// Write a post.
    CreatePost,
    /// Change, delete, submit, schedule or cancel a post: any post for owners and admins, their
    /// own for members (checked by the post service).
    EditPost,
    /// Approve or reject a post in review.
    ReviewPost,
}

impl Action {
    /// Every action, for tests that walk the whole matrix.
    pub const ALL: [Action; 22] = [
        Self::ViewWorkspace,
        Self::UpdateWorkspace,
        Self::DeleteWorkspace,
        Self::ListMembers,
        Self::ChangeMemberRole,
        Self::RemoveMember,
        Self::TransferOwnership,
        Self::Invite,
        Self::ListInvitations,
        Self::RevokeInvitation,
        Self::ViewAuditLog,
        Self::ListChannels,
        Self::ConnectChannel,
        Self::DisconnectChannel,
        Self::SetChannelSlots,
        Self::ListMedia,
        Self::UploadMedia,
        Self::DeleteMedia,
        Self::ListPosts,
        Self::CreatePost,
        Self::EditPost,
        Self::ReviewPost,
    ];
}

use Role::{Admin, Member, Owner, Reviewer};

/// The permission matrix of api.md, in one table: each action and the roles that may take it.
const PERMISSIONS: [(Action, &[Role]); 22] = [
    (Action::ViewWorkspace, &[Owner, Admin, Member, Reviewer]),
    (Action::UpdateWorkspace, &[Owner, Admin]),
    (Action::DeleteWorkspace, &[Owner]),
    (Action::ListMembers, &[Owner, Admin, Member, Reviewer]),
    (Action::ChangeMemberRole, &[Owner, Admin]),
    (Action::RemoveMember, &[Owner, Admin]),
    (Action::TransferOwnership, &[Owner]),
    (Action::Invite, &[Owner, Admin]),
    (Action::ListInvitations, &[Owner, Admin]),
    (Action::RevokeInvitation, &[Owner, Admin]),
    (Action::ViewAuditLog, &[Owner, Admin]),
    (Action::ListChannels, &[Owner, Admin, Member, Reviewer]),
    (Action::ConnectChannel, &[Owner, Admin]),
    (Action::DisconnectChannel, &[Owner, Admin]),
    (Action::SetChannelSlots, &[Owner, Admin]),
    (Action::ListMedia, &[Owner, Admin, Member, Reviewer]),
    (Action::UploadMedia, &[Owner, Admin, Member]),
    (Action::DeleteMedia, &[Owner, Admin, Member]),
    (Action::ListPosts, &[Owner, Admin, Member, Reviewer]),
    (Action::CreatePost, &[Owner, Admin, Member]),
    (Action::EditPost, &[Owner, Admin, Member]),
    (Action::ReviewPost, &[Owner, Admin, Reviewer]),
];

/// Whether `role` may take `action` at all. Rules about the target (the owner cannot be demoted,
/// an admin cannot touch the owner) are checked by [`check_role_change`] and [`check_removal`].
pub fn role_allows(role: Role, action: Action) -> bool {
    PERMISSIONS.iter().any(|(allowed, roles)| *allowed == action && roles.contains(&role))
}

/// Why a role change or removal is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MembershipRuleError {
    /// Only a transfer moves ownership: the owner cannot be demoted or removed, and nobody is
    /// made owner by a role change.
    #[error("only a transfer of ownership can change who owns the workspace")]
    OwnerChangesOnlyByTransfer,
    /// The acting role may not do this to the target.
    #[error("this role may not change that member")]
    Forbidden,
}

/// May `actor` give `target` (currently `current`) the role `new`?
pub fn check_role_change(actor: Role, current: Role, new: Role) -> Result<(), MembershipRuleError> {
    if !role_allows(actor, Action::ChangeMemberRole) {
        return Err(MembershipRuleError::Forbidden);
    }
    if current == Owner || new == Owner {
        return Err(MembershipRuleError::OwnerChangesOnlyByTransfer);
    }
    Ok(())
}

/// May `actor` remove a member whose role is `target`? (Leaving is always allowed, except for
/// the owner.)
pub fn check_removal(actor: Role, target: Role, is_self: bool) -> Result<(), MembershipRuleError> {
    if target == Owner {
        return Err(MembershipRuleError::OwnerChangesOnlyByTransfer);
    }
    if is_self || role_allows(actor, Action::RemoveMember) {
        Ok(())
    } else {
        Err(MembershipRuleError::Forbidden)
    }
}

/// A workspace's plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// The default.
    #[default]
    Free,
    /// For small teams.
    Studio,
    /// For agencies.
    Agency,
}

/// What a plan includes. `None` means unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entitlements {
    /// Members, owner included.
    pub max_members: Option<u32>,
    /// Connected channels.
    pub max_channels: Option<u32>,
    /// Storage for the media library, in bytes.
    pub media_storage_bytes: u64,
    /// The workspace audit log.
    pub audit_log: bool,
    /// Posts can require approval before publishing.
    pub approval_workflow: bool,
}

const GIB: u64 = 1024 * 1024 * 1024;

impl Plan {
    /// Every plan.
    pub const ALL: [Plan; 3] = [Self::Free, Self::Studio, Self::Agency];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Studio => "studio",
            Self::Agency => "agency",
        }
    }

    /// What the plan includes: the one table billing changes a workspace between.
    pub const fn entitlements(self) -> Entitlements {
        match self {
            Self::Free => Entitlements {
                max_members: Some(3),
                max_channels: Some(3),
                media_storage_bytes: GIB,
                audit_log: false,
                approval_workflow: false,
            },
            Self::Studio => Entitlements {
                max_members: Some(10),
                max_channels: Some(15),
                media_storage_bytes: 25 * GIB,
                audit_log: true,
                approval_workflow: true,
            },
            Self::Agency => Entitlements {
                max_members: None,
                max_channels: Some(100),
                media_storage_bytes: 250 * GIB,
                audit_log: true,
                approval_workflow: true,
            },
        }
    }
}

impl FromStr for Plan {
    type Err = ();

    fn from_str(value: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|plan| plan.as_str() == value).ok_or(())
    }
}

/// A workspace name: trimmed, 1 to 100 characters, no control characters.
pub fn parse_workspace_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() {
        return Err("is required".to_owned());
    }
    if name.chars().count() > MAX_WORKSPACE_NAME_CHARS {
        return Err(format!("must be at most {MAX_WORKSPACE_NAME_CHARS} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(name.to_owned())
}

/// Every time zone name [`parse_timezone`] accepts, as the IANA database spells it.
pub fn timezone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())
}

/// An IANA time zone name such as `Europe/London`.
pub fn parse_timezone(input: &str) -> Result<String, String> {
    input
        .parse::<chrono_tz::Tz>()
        .map(|zone| zone.name().to_owned())
        .map_err(|_| "must be an IANA time zone such as Europe/London".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_in_the_matrix_exactly_once() {
        for action in Action::ALL {
            assert_eq!(
                PERMISSIONS.iter().filter(|(allowed, _)| *allowed == action).count(),
                1,
                "{action:?}"
            );
        }
    }

    #[test]
    fn only_the_owner_deletes_and_transfers() {
        for role in Role::ALL {
            assert_eq!(role_allows(role, Action::DeleteWorkspace), role == Owner);
            assert_eq!(role_allows(role, Action::TransferOwnership), role == Owner);
        }
    }

    #[test]
    fn ownership_moves_only_by_transfer() {
        assert_eq!(
            check_role_change(Owner, Owner, Admin),
            Err(MembershipRuleError::OwnerChangesOnlyByTransfer)
        );
        assert_eq!(
            check_role_change(Admin, Member, Owner),
            Err(MembershipRuleError::OwnerChangesOnlyByTransfer)
        );
        assert_eq!(
            check_role_change(Admin, Owner, Member),
            Err(MembershipRuleError::OwnerChangesOnlyByTransfer)
        );
        assert_eq!(
            check_role_change(Member, Reviewer, Member),
            Err(MembershipRuleError::Forbidden)
        );
        assert!(check_role_change(Admin, Member, Admin).is_ok());
        assert_eq!(
            check_removal(Owner, Owner, true),
            Err(MembershipRuleError::OwnerChangesOnlyByTransfer)
        );
        assert!(check_removal(Reviewer, Reviewer, true).is_ok());
        assert_eq!(check_removal(Member, Reviewer, false), Err(MembershipRuleError::Forbidden));
    }

    #[test]
    fn timezones_are_iana_names() {
        assert_eq!(parse_timezone("Europe/London").unwrap(), "Europe/London");
        assert_eq!(parse_timezone("UTC").unwrap(), "UTC");
        assert!(parse_timezone("Mars/Olympus_Mons").is_err());
        assert!(parse_timezone("").is_err());
        assert!(timezone_names().all(|name| parse_timezone(name).as_deref() == Ok(name)));
    }

    #[test]
    fn plans_grow_their_entitlements() {
        assert!(!Plan::Free.entitlements().audit_log);
        assert!(Plan::Studio.entitlements().audit_log && Plan::Agency.entitlements().audit_log);
        assert_eq!(Plan::Agency.entitlements().max_members, None);
        assert_eq!("studio".parse::<Plan>(), Ok(Plan::Studio));
    }
}
