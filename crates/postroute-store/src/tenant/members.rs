//! Members of a workspace: listing, role changes, removal and ownership transfer. Each change
//! is a conditional statement inside one transaction, and the schema's one-owner index backs
//! every rule, so concurrent requests can never leave a workspace with no owner or two.

use chrono::{DateTime, Utc};
use postroute_domain::{NewAuditEntry, Role, UserId, WorkspaceId};
use uuid::Uuid;

use super::{Tenant, audit, parse_role};
use crate::StoreError;
use crate::dialect::RowLock;
use crate::pool::Conn;

/// A member as the member list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user_id: UserId,
    /// Their address.
    pub email: String,
    /// Their display name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    user_id: Uuid,
    email: String,
    name: String,
    role: String,
    created_at: DateTime<Utc>,
}

/// Why a membership change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum MemberChangeError {
    /// The user is not a member of this workspace.
    #[error("not a member")]
    NotMember,
    /// The target is the owner: only a transfer changes that.
    #[error("the owner can only change by transfer")]
    OwnerProtected,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Tenant<'_> {
    /// Every member with their role, owner first, then by joining time.
    pub async fn members(&self) -> Result<Vec<Member>, StoreError> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<MemberRow> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT m.user_id, u.email, u.name, m.role, m.created_at FROM memberships m \
             JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1 \
             ORDER BY CASE m.role WHEN 'owner' THEN 0 ELSE 1 END, m.created_at, m.user_id",
        )
        .bind(self.workspace.as_uuid())
        .fetch_all(&mut *c)
        .await)?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| {
                Ok(Member {
                    user_id: UserId::from_uuid(row.user_id),
                    role: parse_role(&row.role, "memberships")?,
                    email: row.email,
                    name: row.name,
                    joined_at: row.created_at,
                })
            })
            .collect()
    }

    /// The role `user` holds here, if a member.
    pub async fn role_of(&self, user: UserId) -> Result<Option<Role>, StoreError> {
        let mut tx = self.begin_read().await?;
        let role = select_role(tx.conn(), self.workspace, user, "").await?;
        tx.commit().await?;
        Ok(role)
    }

    /// Gives `user` the role `role` (never owner: that takes a transfer); returns the old role.
    pub async fn change_role(
        &self,
        user: UserId,
        role: Role,
        now: DateTime<Utc>,
        audit: impl FnOnce(Role) -> NewAuditEntry,
    ) -> Result<Role, MemberChangeError> {
        let mut tx = self.begin().await?;
        // The workspace first, as a transfer takes it, so the two queue instead of deadlocking.
        crate::dialect::lock_workspace(tx.conn(), self.workspace).await?;
        let current = select_role(tx.conn(), self.workspace, user, RowLock::Update.clause(self.db))
            .await?
            .ok_or(MemberChangeError::NotMember)?;
        if current == Role::Owner || role == Role::Owner {
            return Err(MemberChangeError::OwnerProtected);
        }
        let changed = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE memberships SET role = $3, updated_at = $4 \
             WHERE workspace_id = $1 AND user_id = $2 AND role <> 'owner'",
        )
        .bind(self.workspace.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))
        .map_err(StoreError::from)?;
        if changed == 0 {
            return Err(MemberChangeError::OwnerProtected);
        }
        audit::insert_entry(tx.conn(), self.workspace, &audit(current), now).await?;
        tx.commit().await?;
        Ok(current)
    }

    /// Removes `user` (never the owner); returns the role they had.
    pub async fn remove_member(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<Role, MemberChangeError> {
        let mut tx = self.begin().await?;
        // The workspace first, as a transfer takes it, so the two queue instead of deadlocking.
        crate::dialect::lock_workspace(tx.conn(), self.workspace).await?;
        let current = select_role(tx.conn(), self.workspace, user, RowLock::Update.clause(self.db))
            .await?
            .ok_or(MemberChangeError::NotMember)?;
        if current == Role::Owner {
            return Err(MemberChangeError::OwnerProtected);
        }
        let removed = on_conn!(tx.conn(), |c| {
            sqlx::query(
                "DELETE FROM memberships \
                 WHERE workspace_id = $1 AND user_id = $2 AND role <> 'owner'",
            )
            .bind(self.workspace.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected())
        })
        .map_err(StoreError::from)?;
        if removed == 0 {
            return Err(MemberChangeError::OwnerProtected);
        }
        audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        tx.commit().await?;
        Ok(current)
    }

    /// Makes `to` the owner and `from` (who must be the owner) an admin, atomically.
    pub async fn transfer_ownership(
        &self,
        from: UserId,
        to: UserId,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<(), MemberChangeError> {
        if from == to {
            return Err(MemberChangeError::OwnerProtected);
        }
        let mut tx = self.begin().await?;
        // Both accounts, then the workspace, in the order erasure takes them: an erasure of
        // either party runs wholly before or wholly after the transfer (S-TENANT-4).
        crate::dialect::lock_users(tx.conn(), &[from, to], crate::dialect::RowLock::Share).await?;
        crate::dialect::lock_workspace(tx.conn(), self.workspace).await?;
        let demoted = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE memberships SET role = 'admin', updated_at = $3 \
             WHERE workspace_id = $1 AND user_id = $2 AND role = 'owner'",
        )
        .bind(self.workspace.as_uuid())
        .bind(from.as_uuid())
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))
        .map_err(StoreError::from)?;
        if demoted == 0 {
            // Ownership moved since the request was authorised.
            return Err(MemberChangeError::OwnerProtected);
        }
        let promoted = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE memberships \
             SET role = 'owner', updated_at = $3 \
             WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(to.as_uuid())
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))
        .map_err(StoreError::from)?;
        if promoted == 0 {
            return Err(MemberChangeError::NotMember); // Rolled back: the old owner stays owner.
        }
        audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

pub(super) async fn select_role(
    conn: Conn<'_>,
    workspace: WorkspaceId,
    user: UserId,
    lock: &str,
) -> Result<Option<Role>, StoreError> {
    let sql =
        format!("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2 {lock}");
    let role: Option<(String,)> = on_conn!(conn, |c| sqlx::query_as(&sql)
        .bind(workspace.as_uuid())
        .bind(user.as_uuid())
        .fetch_optional(&mut *c)
        .await)?;
    role.map(|(role,)| parse_role(&role, "memberships")).transpose()
}

pub(super) async fn count_members(
    conn: Conn<'_>,
    workspace: WorkspaceId,
) -> Result<i64, StoreError> {
    let (count,): (i64,) = on_conn!(conn, |c| sqlx::query_as(
        "SELECT count(*) FROM memberships WHERE workspace_id = $1",
    )
    .bind(workspace.as_uuid())
    .fetch_one(&mut *c)
    .await)?;
    Ok(count)
}

pub(crate) async fn insert_member(
    conn: Conn<'_>,
    workspace: WorkspaceId,
    user: UserId,
    role: Role,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| {
        sqlx::query(
            "INSERT INTO memberships (workspace_id, user_id, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(workspace.as_uuid())
        .bind(user.as_uuid())
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *c)
        .await
        .map(drop)
    })?;
    Ok(())
}
