//! The workspace audit log (S-LOG-1): every administrative action, who took it, on what.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::UserId;

/// Every administrative action the audit log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    /// The workspace was created.
    #[serde(rename = "workspace.created")]
    WorkspaceCreated,
    /// Name, timezone or approval setting changed.
    #[serde(rename = "workspace.updated")]
    WorkspaceUpdated,
    /// The workspace was deleted.
    #[serde(rename = "workspace.deleted")]
    WorkspaceDeleted,
    /// Someone was invited.
    #[serde(rename = "member.invited")]
    MemberInvited,
    /// An invitation was withdrawn.
    #[serde(rename = "invitation.revoked")]
    InvitationRevoked,
    /// An invitation was accepted: a new member.
    #[serde(rename = "invitation.accepted")]
    InvitationAccepted,
    /// A member's role changed.
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged,
    /// A member was removed by an owner or admin.
    #[serde(rename = "member.removed")]
    MemberRemoved,
    /// A member left.
    #[serde(rename = "member.left")]
    MemberLeft,
    /// Ownership moved to another member.
    #[serde(rename = "ownership.transferred")]
    OwnershipTransferred,
    /// A social account was connected (or connected again).
    #[serde(rename = "channel.connected")]
    ChannelConnected,
    /// A social account was disconnected.
    #[serde(rename = "channel.disconnected")]
    ChannelDisconnected,
    /// The platform refused a channel's tokens for good.
    #[serde(rename = "channel.needs_reconnect")]
    ChannelNeedsReconnect,
    /// A channel's weekly posting slots were replaced.
    #[serde(rename = "channel.slots_changed")]
    ChannelSlotsChanged,
    /// A file was added to the media library.
    #[serde(rename = "media.uploaded")]
    MediaUploaded,
    /// A file was deleted from the media library.
    #[serde(rename = "media.deleted")]
    MediaDeleted,
    /// A post in review was approved.
    #[serde(rename = "post.approved")]
    PostApproved,
    /// A post in review was sent back to its author.
    #[serde(rename = "post.rejected")]
    PostRejected,
    /// A person sent a failed or missed target to its platform again.
    #[serde(rename = "post.retried")]
    PostRetried,
    /// A person checked an unknown target and found it on its platform.
    #[serde(rename = "post.marked_published")]
    PostMarkedPublished,
    /// A person left an unknown or missed target unpublished.
    #[serde(rename = "post.dismissed")]
    PostDismissed,
    /// The publisher put a post on a channel.
    #[serde(rename = "post.published")]
    PostPublished,
    /// The publisher could not put a post on a channel.
    #[serde(rename = "post.failed")]
    PostFailed,
    /// A post came due too late to go out without a person deciding.
    #[serde(rename = "post.missed")]
    PostMissed,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 24] = [
        Self::WorkspaceCreated,
        Self::WorkspaceUpdated,
        Self::WorkspaceDeleted,
        Self::MemberInvited,
        Self::InvitationRevoked,
        Self::InvitationAccepted,
        Self::MemberRoleChanged,
        Self::MemberRemoved,
        Self::MemberLeft,
        Self::OwnershipTransferred,
        Self::ChannelConnected,
        Self::ChannelDisconnected,
        Self::ChannelNeedsReconnect,
        Self::ChannelSlotsChanged,
        Self::MediaUploaded,
        Self::MediaDeleted,
        Self::PostApproved,
        Self::PostRejected,
        Self::PostRetried,
        Self::PostMarkedPublished,
        Self::PostDismissed,
        Self::PostPublished,
        Self::PostFailed,
        Self::PostMissed,
    ];

    /// The stored name, e.g. `member.role_changed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WorkspaceCreated => "workspace.created",
            Self::WorkspaceUpdated => "workspace.updated",
            Self::WorkspaceDeleted => "workspace.deleted",
            Self::MemberInvited => "member.invited",
            Self::InvitationRevoked => "invitation.revoked",
            Self::InvitationAccepted => "invitation.accepted",
            Self::MemberRoleChanged => "member.role_changed",
            Self::MemberRemoved => "member.removed",
            Self::MemberLeft => "member.left",
            Self::OwnershipTransferred => "ownership.transferred",
            Self::ChannelConnected => "channel.connected",
            Self::ChannelDisconnected => "channel.disconnected",
            Self::ChannelNeedsReconnect => "channel.needs_reconnect",
            Self::ChannelSlotsChanged => "channel.slots_changed",
            Self::MediaUploaded => "media.uploaded",
            Self::MediaDeleted => "media.deleted",
            Self::PostApproved => "post.approved",
            Self::PostRejected => "post.rejected",
            Self::PostRetried => "post.retried",
            Self::PostMarkedPublished => "post.marked_published",
            Self::PostDismissed => "post.dismissed",
            Self::PostPublished => "post.published",
            Self::PostFailed => "post.failed",
            Self::PostMissed => "post.missed",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == value)
    }
}

/// What an action was taken on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditTarget {
    /// `workspace`, `user`, `invitation`, ...
    pub kind: &'static str,
    /// Its id.
    pub id: String,
}

/// An audit entry about to be written, in the transaction of its action.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAuditEntry {
    /// What happened.
    pub action: AuditAction,
    /// Who did it.
    pub actor: Option<UserId>,
    /// What it was done to.
    pub target: Option<AuditTarget>,
    /// From where.
    pub ip: Option<IpAddr>,
    /// Action-specific facts (old and new role, changed settings...).
    pub details: serde_json::Value,
}

impl NewAuditEntry {
    /// An entry for an action PostRoute took itself (a background job), with no actor or address.
    pub fn by_system(action: AuditAction) -> Self {
        Self {
            action,
            actor: None,
            target: None,
            ip: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }

    /// An entry for `action` by `actor` from `ip`.
    pub fn new(action: AuditAction, actor: UserId, ip: IpAddr) -> Self {
        Self {
            action,
            actor: Some(actor),
            target: None,
            ip: Some(ip),
            details: serde_json::Value::Object(Default::default()),
        }
    }

    /// Names what the action was taken on.
    pub fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target = Some(AuditTarget { kind, id: id.to_string() });
        self
    }

    /// Attaches facts.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
    }
}
