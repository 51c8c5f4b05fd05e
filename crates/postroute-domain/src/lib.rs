//! PostRoute's domain: the rules of the product, free of I/O, HTTP and SQL.
//!
//! Everything here can be unit-tested without a runtime; higher crates turn
//! requests and rows into these types and back.

pub mod audit;
pub mod channel;
pub mod email;
pub mod ids;
pub mod media;
pub mod password;
pub mod post;
pub mod publish;
pub mod schedule;
pub mod system_event;
pub mod workspace;

pub use audit::{AuditAction, AuditTarget, NewAuditEntry};
pub use channel::{ChannelStatus, Provider};
pub use email::{Email, EmailError};
pub use ids::{
    AuditEntryId, ChannelId, EmailId, InvitationId, MediaId, PendingConnectionId, PostId,
    SessionId, SystemEventId, UserId, WorkspaceId,
};
pub use media::{
    MAX_ANIMATION_FRAMES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, MAX_UPLOAD_BYTES, MediaKind, MediaType,
    image_dimensions_allowed,
};
pub use password::{Password, PasswordError};
pub use post::{
    PostBody, PostCommand, PostStatus, StatusReason, TargetStatus, TransitionError, Variant,
    Variants,
};
pub use system_event::{NewSystemEvent, Severity, SystemEventKind};
pub use workspace::{Action, Entitlements, MembershipRuleError, Plan, Role, role_allows};
