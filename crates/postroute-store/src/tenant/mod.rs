//! Tenant data, reachable only through a handle that names the workspace (S-TENANT-1).
//!
//! `Store::tenant(workspace)` is the door to a workspace's rows: every statement behind it
//! carries `workspace_id = …`, and on PostgreSQL it runs in a transaction scoped to that
//! workspace, so row-level security refuses anything else even if a statement forgot. The only
//! way around is `Store::cross_tenant_unscoped`, whose callers a test keeps to billing,
//! webhook ingestion, the scheduler and staff endpoints.

pub(crate) mod audit;
pub(crate) mod channels;
mod invitations;
mod media;
mod members;
mod oauth;
mod posts;
mod slots;
pub(crate) mod targets;
pub use slots::StoredSlot;
pub use targets::{
    LOST_TO_DISCONNECT, LOST_TO_RECONNECT, PublishInputs, TargetDecision, WaitingPost,
};

use chrono::{DateTime, Utc};
use postroute_domain::{NewAuditEntry, Plan, Role, UserId, WorkspaceId};
use uuid::Uuid;

use crate::StoreError;
use crate::dialect::RowLock;
use crate::pool::{Conn, Db, Scope};

pub use audit::{AuditCursor, AuditEntry, AuditFilter};
pub use channels::{Channel, ChannelAccount, Saved, SealedTokens};
pub use invitations::{AcceptError, Invitation, Invited, NewInvitation};
pub use media::{Media, MediaInserted, MediaRemoval};
pub use members::{Member, MemberChangeError};
pub use oauth::{OAuthState, PendingConnection};
pub use posts::{Post, PostFilter, PostSaved, Target};

/// A workspace as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    /// Its id.
    pub id: WorkspaceId,
    /// Display name.
    pub name: String,
    /// IANA time zone for scheduling.
    pub timezone: String,
    /// Whether posts need approval before they are scheduled or published.
    pub approval_required: bool,
    /// The plan.
    pub plan: Plan,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last settings change.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct WorkspaceRow {
    id: Uuid,
    name: String,
    timezone: String,
    approval_required: bool,
    plan: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<WorkspaceRow> for Workspace {
    type Error = StoreError;

    fn try_from(row: WorkspaceRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: WorkspaceId::from_uuid(row.id),
            plan: row.plan.parse().map_err(|()| StoreError::CorruptRow {
                table: "workspaces",
                reason: format!("plan `{}`", row.plan),
            })?,
            name: row.name,
            timezone: row.timezone,
            approval_required: row.approval_required,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

pub(crate) const WORKSPACE_COLUMNS: &str =
    "w.id, w.name, w.timezone, w.approval_required, w.plan, w.created_at, w.updated_at";

pub(crate) fn parse_role(value: &str, table: &'static str) -> Result<Role, StoreError> {
    value.parse().map_err(|_| StoreError::CorruptRow { table, reason: format!("role `{value}`") })
}

/// A new workspace.
#[derive(Debug)]
pub struct NewWorkspace<'a> {
    /// Its id.
    pub id: WorkspaceId,
    /// Display name.
    pub name: &'a str,
    /// IANA time zone.
    pub timezone: &'a str,
    /// The creator, who becomes owner.
    pub owner: UserId,
    /// Now.
    pub created_at: DateTime<Utc>,
}

/// Settings to change; `None` leaves a setting as it is.
#[derive(Debug, Default)]
pub struct WorkspaceChanges<'a> {
    /// New name.
    pub name: Option<&'a str>,
    /// New time zone.
    pub timezone: Option<&'a str>,
    /// New approval setting.
    pub approval_required: Option<bool>,
}

/// Creates a workspace with its owner and its first audit entry, in the new workspace's scope.
pub(crate) async fn create_workspace(
    db: &Db,
    workspace: &NewWorkspace<'_>,
    audit: &NewAuditEntry,
) -> Result<(), StoreError> {
    let mut tx = db.begin_in(Scope::Workspace(workspace.id)).await?;
    on_conn!(tx.conn(), |c| {
        sqlx::query(
            "INSERT INTO workspaces (id, name, timezone, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(workspace.id.as_uuid())
        .bind(workspace.name)
        .bind(workspace.timezone)
        .bind(workspace.created_at)
        .execute(&mut *c)
        .await
        .map(drop)
    })?;
    members::insert_member(
        tx.conn(),
        workspace.id,
        workspace.owner,
        Role::Owner,
        workspace.created_at,
    )
    .await?;
    audit::insert_entry(tx.conn(), workspace.id, audit, workspace.created_at).await?;
    tx.commit().await
}

/// One workspace's data. Obtained from `Store::tenant`.
#[derive(Debug, Clone, Copy)]
pub struct Tenant<'a> {
    db: &'a Db,
    workspace: WorkspaceId,
}

impl<'a> Tenant<'a> {
    pub(crate) fn new(db: &'a Db, workspace: WorkspaceId) -> Self {
        Self { db, workspace }
    }

    /// The workspace this handle acts for.
    pub fn workspace_id(&self) -> WorkspaceId {
        self.workspace
    }

    async fn begin(&self) -> Result<crate::pool::Tx, StoreError> {
        self.db.begin_in(Scope::Workspace(self.workspace)).await
    }

    async fn begin_read(&self) -> Result<crate::pool::Tx, StoreError> {
        self.db.begin_read_in(Scope::Workspace(self.workspace)).await
    }

    /// The workspace, unless it is deleted.
    pub async fn workspace(&self) -> Result<Option<Workspace>, StoreError> {
        let mut tx = self.begin_read().await?;
        let workspace = select_workspace(tx.conn(), self.workspace).await?;
        tx.commit().await?;
        Ok(workspace)
    }

    /// The workspace and the role `user` holds in it, when the user is a member of a live
    /// workspace: the one query behind every tenant request's authorisation.
    pub async fn access(&self, user: UserId) -> Result<Option<(Workspace, Role)>, StoreError> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS}, m.role AS role FROM workspaces w \
             JOIN memberships m ON m.workspace_id = w.id \
             WHERE w.id = $1 AND m.workspace_id = $1 AND m.user_id = $2 AND w.deleted_at IS NULL"
        );
        let mut tx = self.begin_read().await?;
        let found: Option<WorkspaceRowWithRole> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .bind(user.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        tx.commit().await?;
        found
            .map(|row| {
                let role = parse_role(&row.role, "memberships")?;
                Ok((Workspace::try_from(row.workspace)?, role))
            })
            .transpose()
    }

    /// Changes settings and records who did, in one transaction; `None` when the workspace is
    /// gone.
    pub async fn update_settings(
        &self,
        changes: &WorkspaceChanges<'_>,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<Option<Workspace>, StoreError> {
        let mut tx = self.begin().await?;
        let updated = on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE workspaces \
                 SET name = COALESCE($2, name), timezone = COALESCE($3, timezone), \
                 approval_required = COALESCE($4, approval_required), updated_at = $5 \
                 WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(self.workspace.as_uuid())
            .bind(changes.name)
            .bind(changes.timezone)
            .bind(changes.approval_required)
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected())
        })?;
        if updated == 0 {
            return Ok(None);
        }
        if changes.approval_required == Some(true) {
            // Posts scheduled while no approval was needed, and never approved as they are,
            // go back to draft: from now on nothing is published unapproved.
            let returned = on_conn!(tx.conn(), |c| sqlx::query(
                "UPDATE posts SET status = 'draft', version = version + 1, updated_at = $2 \
                 WHERE workspace_id = $1 AND status = 'scheduled' AND approved_at IS NULL",
            )
            .bind(self.workspace.as_uuid())
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
            // Their targets are no longer due (the claim reads the due time from the target).
            on_conn!(tx.conn(), |c| {
                sqlx::query(
                "UPDATE post_targets SET next_attempt_at = NULL \
                 WHERE workspace_id = $1 AND status = 'pending' AND next_attempt_at IS NOT NULL \
                 AND EXISTS (SELECT 1 FROM posts p WHERE p.workspace_id = post_targets.workspace_id \
                 AND p.id = post_targets.post_id AND p.status = 'draft')",
            )
            .bind(self.workspace.as_uuid())
            .execute(&mut *c)
            .await
            .map(drop)
            })?;
            if returned > 0 {
                tracing::info!(
                    workspace.id = display(&self.workspace),
                    posts = returned,
                    "approval now required: unapproved scheduled posts returned to draft"
                );
            }
        }
        audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        let workspace = select_workspace(tx.conn(), self.workspace).await?;
        tx.commit().await?;
        Ok(workspace)
    }

    /// Deletes the workspace: from now on it answers 404; its rows wait for the purge.
    pub async fn delete(
        &self,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let deleted = on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE workspaces \
                 SET deleted_at = $2, updated_at = $2 \
                 WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(self.workspace.as_uuid())
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected())
        })?;
        if deleted == 0 {
            return Ok(false);
        }
        audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }
}

impl Tenant<'_> {
    /// Removes a deleted workspace for good: every row of it (members, invitations, audit log,
    /// channels and their tokens, media records, posts) goes with it by cascade. Its media
    /// objects must be removed first (`media_object_keys`). `false` when the workspace is not
    /// deleted, or already gone.
    pub async fn purge(&self) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "SELECT id FROM workspaces WHERE id = $1 AND deleted_at IS NOT NULL {}",
            RowLock::Update.clause(self.db)
        );
        let deleted: Option<(Uuid,)> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        if deleted.is_none() {
            return Ok(false);
        }
        // A post's references to files and channels have no cascade of their own (a file a post
        // holds must not vanish), and PostgreSQL checks them as each cascade runs: they go first.
        for sql in [
            "DELETE FROM post_media WHERE workspace_id = $1",
            "DELETE FROM post_targets WHERE workspace_id = $1",
            "DELETE FROM posts WHERE workspace_id = $1",
            "DELETE FROM workspaces WHERE id = $1",
        ] {
            on_conn!(tx.conn(), |c| sqlx::query(sql)
                .bind(self.workspace.as_uuid())
                .execute(&mut *c)
                .await
                .map(drop))?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[derive(sqlx::FromRow)]
struct WorkspaceRowWithRole {
    #[sqlx(flatten)]
    workspace: WorkspaceRow,
    role: String,
}

pub(crate) async fn select_workspace(
    conn: Conn<'_>,
    workspace: WorkspaceId,
) -> Result<Option<Workspace>, StoreError> {
    let sql = format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.id = $1 AND w.deleted_at IS NULL"
    );
    let row: Option<WorkspaceRow> = on_conn!(conn, |c| sqlx::query_as(&sql)
        .bind(workspace.as_uuid())
        .fetch_optional(&mut *c)
        .await)?;
    row.map(Workspace::try_from).transpose()
}

/// Every tenant table (`workspaces` is the tenant itself): each has `workspace_id` in its key
/// and row-level security enabled and forced on PostgreSQL.
pub(crate) const TENANT_TABLES: [&str; 13] = [
    "workspaces",
    "memberships",
    "invitations",
    "audit_log",
    "channels",
    "channel_slots",
    "oauth_states",
    "pending_connections",
    "media",
    "posts",
    "post_media",
    "post_targets",
    "publish_attempts",
];

#[cfg(test)]
pub(crate) mod tests;
