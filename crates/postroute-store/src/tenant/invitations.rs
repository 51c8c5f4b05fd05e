//! Invitations by email: single-use, expiring, never for the owner role. The email carrying the
//! token is queued in the same transaction as the invitation and its audit entry.

use chrono::{DateTime, Utc};
use postroute_domain::{InvitationId, NewAuditEntry, Plan, Role, UserId};
use uuid::Uuid;

use super::{Tenant, audit, members, parse_role};
use crate::StoreError;
use crate::dialect::RowLock;
use crate::outbox::{NewOutboxEmail, insert_email};

/// An invitation about to be sent.
#[derive(Debug)]
pub struct NewInvitation<'a> {
    /// Its id.
    pub id: InvitationId,
    /// The address as typed.
    pub email: &'a str,
    /// Lookup key of the address.
    pub email_normalized: &'a str,
    /// The role it grants (never owner).
    pub role: Role,
    /// SHA-256 of the token.
    pub token_hash: &'a [u8],
    /// Who invited.
    pub invited_by: UserId,
    /// Now.
    pub created_at: DateTime<Utc>,
    /// After this it cannot be accepted.
    pub expires_at: DateTime<Utc>,
}

/// An open invitation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// The invited address.
    pub email: String,
    /// The role it grants.
    pub role: Role,
    /// Who invited, while that account exists.
    pub invited_by: Option<UserId>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Until when it can be accepted.
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct InvitationRow {
    id: Uuid,
    email: String,
    role: String,
    invited_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: Uuid,
    email_normalized: String,
    role: String,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// What inviting did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invited {
    /// The invitation, its email and audit entry are written.
    Invited,
    /// Members and open invitations already fill the plan; nothing was written.
    LimitReached,
}

/// Members plus open, unexpired invitations: the seats a plan's member limit counts.
async fn seats_taken(
    conn: crate::pool::Conn<'_>,
    workspace: postroute_domain::WorkspaceId,
    now: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let (seats,): (i64,) = on_conn!(conn, |c| sqlx::query_as(
        "SELECT (SELECT count(*) \
         FROM memberships \
         WHERE workspace_id = $1) + (SELECT count(*) \
         FROM invitations \
         WHERE workspace_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND \
         expires_at > $2)",
    )
    .bind(workspace.as_uuid())
    .bind(now)
    .fetch_one(&mut *c)
    .await)?;
    Ok(seats)
}

/// Why an invitation could not be accepted.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// Unknown, revoked or expired token, or a deleted workspace.
    #[error("invalid invitation")]
    Invalid,
    /// Accepted before.
    #[error("invitation already accepted")]
    AlreadyAccepted,
    /// The invitation is for another address.
    #[error("invitation is for another email address")]
    WrongRecipient,
    /// The user is a member already.
    #[error("already a member")]
    AlreadyMember,
    /// The plan's member limit is reached.
    #[error("member limit of the plan reached")]
    MemberLimit(Plan),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Tenant<'_> {
    /// Records an invitation, its email and its audit entry. `Conflict` when an open, unexpired
    /// invitation for that address exists; an expired one is withdrawn to make room.
    pub async fn invite(
        &self,
        invitation: &NewInvitation<'_>,
        email: &NewOutboxEmail<'_>,
        audit: &NewAuditEntry,
        max_members: Option<u32>,
    ) -> Result<Invited, StoreError> {
        let mut tx = self.begin().await?;
        crate::dialect::lock_workspace(tx.conn(), self.workspace).await?;
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE invitations \
                 SET revoked_at = $3 \
                 WHERE workspace_id = $1 AND email_normalized = $2 AND accepted_at IS NULL AND \
                 revoked_at IS NULL AND expires_at <= $3",
            )
            .bind(self.workspace.as_uuid())
            .bind(invitation.email_normalized)
            .bind(invitation.created_at)
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
        if let Some(limit) = max_members
            && seats_taken(tx.conn(), self.workspace, invitation.created_at).await?
                >= i64::from(limit)
        {
            return Ok(Invited::LimitReached);
        }
        on_conn!(tx.conn(), |c| sqlx::query(
            "INSERT INTO invitations (workspace_id, id, email, email_normalized, role, token_hash, \
             invited_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(self.workspace.as_uuid())
        .bind(invitation.id.as_uuid())
        .bind(invitation.email)
        .bind(invitation.email_normalized)
        .bind(invitation.role.as_str())
        .bind(invitation.token_hash)
        .bind(invitation.invited_by.as_uuid())
        .bind(invitation.created_at)
        .bind(invitation.expires_at)
        .execute(&mut *c)
        .await
        .map(drop))?;
        insert_email(tx.conn(), email).await?;
        audit::insert_entry(tx.conn(), self.workspace, audit, invitation.created_at).await?;
        tx.commit().await?;
        Ok(Invited::Invited)
    }

    /// Invitations not yet accepted or withdrawn, newest first (expired ones included, so the
    /// UI can offer to send them again).
    pub async fn invitations(&self) -> Result<Vec<Invitation>, StoreError> {
        let mut tx = self.begin_read().await?;
        let rows: Vec<InvitationRow> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT id, email, role, invited_by, created_at, expires_at FROM invitations \
             WHERE workspace_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL \
             ORDER BY created_at DESC, id DESC",
        )
        .bind(self.workspace.as_uuid())
        .fetch_all(&mut *c)
        .await)?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| {
                Ok(Invitation {
                    id: InvitationId::from_uuid(row.id),
                    role: parse_role(&row.role, "invitations")?,
                    email: row.email,
                    invited_by: row.invited_by.map(UserId::from_uuid),
                    created_at: row.created_at,
                    expires_at: row.expires_at,
                })
            })
            .collect()
    }

    /// Open invitations, counted against the plan's member limit.
    pub async fn open_invitation_count(&self, now: DateTime<Utc>) -> Result<i64, StoreError> {
        let mut tx = self.begin_read().await?;
        let (count,): (i64,) = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT count(*) FROM invitations WHERE workspace_id = $1 \
             AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(now)
        .fetch_one(&mut *c)
        .await)?;
        let members = members::count_members(tx.conn(), self.workspace).await?;
        tx.commit().await?;
        Ok(count + members)
    }

    /// Withdraws an open invitation; `false` when there is none with that id here.
    pub async fn revoke_invitation(
        &self,
        id: InvitationId,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let revoked = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE invitations SET revoked_at = $3 WHERE workspace_id = $1 AND id = $2 \
             AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(self.workspace.as_uuid())
        .bind(id.as_uuid())
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))?;
        if revoked == 0 {
            return Ok(false);
        }
        audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Accepts the invitation with this token for `user`, whose verified address must be the
    /// invited one: marks it used, adds the member, writes the audit entry; returns the role.
    pub async fn accept_invitation(
        &self,
        token_hash: &[u8],
        user: UserId,
        user_email_normalized: &str,
        now: DateTime<Utc>,
        audit: impl FnOnce(InvitationId, Role) -> NewAuditEntry,
    ) -> Result<Role, AcceptError> {
        let mut tx = self.begin().await?;
        crate::dialect::lock_workspace(tx.conn(), self.workspace).await?;
        let Some(workspace) = super::select_workspace(tx.conn(), self.workspace).await? else {
            return Err(AcceptError::Invalid);
        };
        let sql = format!(
            "SELECT id, email_normalized, role, expires_at, accepted_at, revoked_at \
             FROM invitations \
             WHERE workspace_id = $1 AND token_hash = $2 {}",
            RowLock::Update.clause(self.db)
        );
        let pending: Option<PendingRow> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .bind(token_hash)
            .fetch_optional(&mut *c)
            .await)
        .map_err(StoreError::from)?;
        let Some(pending) = pending else {
            return Err(AcceptError::Invalid);
        };
        if pending.accepted_at.is_some() {
            return Err(AcceptError::AlreadyAccepted);
        }
        if pending.revoked_at.is_some() || pending.expires_at <= now {
            return Err(AcceptError::Invalid);
        }
        if pending.email_normalized != user_email_normalized {
            return Err(AcceptError::WrongRecipient);
        }
        if members::select_role(tx.conn(), self.workspace, user, "").await?.is_some() {
            return Err(AcceptError::AlreadyMember);
        }
        if let Some(limit) = workspace.plan.entitlements().max_members
            && members::count_members(tx.conn(), self.workspace).await? >= i64::from(limit)
        {
            return Err(AcceptError::MemberLimit(workspace.plan));
        }
        let role = parse_role(&pending.role, "invitations")?;
        on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE invitations \
             SET accepted_at = $3, accepted_by = $4 \
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(pending.id)
        .bind(now)
        .bind(user.as_uuid())
        .execute(&mut *c)
        .await
        .map(drop))
        .map_err(StoreError::from)?;
        members::insert_member(tx.conn(), self.workspace, user, role, now).await?;
        audit::insert_entry(
            tx.conn(),
            self.workspace,
            &audit(InvitationId::from_uuid(pending.id), role),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(role)
    }
}
