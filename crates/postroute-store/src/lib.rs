//! PostRoute's storage layer: the only crate that speaks SQL.
//!
//! One [`Store`] wraps SQLite's pools (readers, and one writer) or a PostgreSQL pool. Most
//! statements are written once in the SQL both dialects share (`$1` placeholders work on both)
//! and run through `on_reader!` or `on_writer!` (a pool) or `on_conn!` (a connection, possibly
//! inside a transaction); where the dialects differ, the code matches on the pool and says why.

#[macro_use]
mod pool;
mod accounts;
mod availability;
mod backup;
mod cross_tenant;
mod dialect;
mod error;
mod outbox;
mod publishing;
mod sealed;
mod sessions;
mod store;
mod system_events;
mod tenant;
mod user_scope;
mod webhooks;

pub use accounts::{Accounts, EmailTokenPurpose, Erasure, NewEmailToken, NewUser, User};
pub use backup::{
    BACKUP_TABLES, Backups, DumpHeader, DumpSink, DumpSource, RestoreError, TableCounts,
    read_through,
};
pub use cross_tenant::{CrossTenant, DueChannel, StaleChannel};
pub use dialect::postgres_connection_is_private;
pub use error::StoreError;
pub use outbox::{NewOutboxEmail, Outbox, OutboxEmail, OutboxStatus};
pub use publishing::{
    Answer, AttemptId, ClaimedTarget, LapsedReview, OutcomeReport, ProviderPause, Publishing,
    Reconciliation, Recovered, TargetKey, TargetOutcome, UnknownTarget,
};
pub use sealed::{SealedKind, SealedPlace, SealedValue};
pub use sessions::{LogoutOutcome, NewSession, RefreshOutcome, Session, Sessions};
pub use store::{Dialect, Store, StoreOptions};
pub use system_events::{StoredSystemEvent, SystemEventFilter, SystemEvents};
pub use tenant::{
    AcceptError, AuditCursor, AuditEntry, AuditFilter, Channel, ChannelAccount, Invitation,
    Invited, LOST_TO_DISCONNECT, LOST_TO_RECONNECT, Media, MediaInserted, MediaRemoval, Member,
    MemberChangeError, NewInvitation, NewWorkspace, OAuthState, PendingConnection, Post,
    PostFilter, PostSaved, PublishInputs, Saved, SealedTokens, StoredSlot, Target, TargetDecision,
    Tenant, WaitingPost, Workspace, WorkspaceChanges,
};
pub use user_scope::UserScope;
pub use webhooks::WebhookEvents;
