//! User accounts and their single-use email tokens. Each action that also sends an email
//! writes the outbox row in the same transaction (a crash can lose neither without the other).

use chrono::{DateTime, Utc};
use postroute_domain::{NewAuditEntry, SessionId, UserId, WorkspaceId};
use uuid::Uuid;

use crate::StoreError;
use crate::outbox::{NewOutboxEmail, insert_email};
use crate::pool::{Conn, Db, Scope};
use crate::sessions::revoke_user_sessions;

/// What erasing an account did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Erasure {
    /// The account is gone, with the workspaces it owned alone.
    Erased {
        /// How many workspaces went with it.
        workspaces_deleted: usize,
    },
    /// Refused: the account owns this many workspaces with other members.
    OwnsTeams(usize),
    /// There was no such account.
    NoSuchUser,
}

/// An account as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The address as typed at registration.
    pub email: String,
    /// The lookup key.
    pub email_normalized: String,
    /// Display name.
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// When the address was confirmed.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// PostRoute staff (system event log, admin endpoints).
    pub is_staff: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for User {
    // The hash stays out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("is_staff", &self.is_staff)
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    email_normalized: String,
    name: String,
    password_hash: String,
    email_verified_at: Option<DateTime<Utc>>,
    is_staff: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: UserId::from_uuid(row.id),
            email: row.email,
            email_normalized: row.email_normalized,
            name: row.name,
            password_hash: row.password_hash,
            email_verified_at: row.email_verified_at,
            is_staff: row.is_staff,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

const USER_COLUMNS: &str = "id, email, email_normalized, name, password_hash, email_verified_at, \
                            is_staff, created_at, updated_at";

/// A new account.
#[derive(Debug)]
pub struct NewUser<'a> {
    /// Its id.
    pub id: UserId,
    /// As typed.
    pub email: &'a str,
    /// The lookup key.
    pub email_normalized: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Argon2id PHC string.
    pub password_hash: &'a str,
    /// Now.
    pub created_at: DateTime<Utc>,
}

/// What an email token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailTokenPurpose {
    /// Confirms the address.
    VerifyEmail,
    /// Sets a new password.
    ResetPassword,
}

impl EmailTokenPurpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

/// A token about to be mailed; only its hash is stored.
#[derive(Debug)]
pub struct NewEmailToken<'a> {
    /// SHA-256 of the token.
    pub token_hash: &'a [u8],
    /// What it unlocks.
    pub purpose: EmailTokenPurpose,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// After this it is refused.
    pub expires_at: DateTime<Utc>,
}

/// Account queries and actions.
#[derive(Debug)]
pub struct Accounts<'a> {
    db: &'a Db,
}

impl<'a> Accounts<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// The account with this normalised email.
    pub async fn find_by_email(&self, email_normalized: &str) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_normalized = $1");
        let row: Option<UserRow> = on_reader!(self.db, |pool| sqlx::query_as(&sql)
            .bind(email_normalized)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(User::from))
    }

    /// The account with this id.
    pub async fn find(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = on_reader!(self.db, |pool| sqlx::query_as(&sql)
            .bind(id.as_uuid())
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(User::from))
    }

    /// The account whose live session (not revoked, not expired) is `session`: the session
    /// check and the account in one statement, so a request that needs the account makes one
    /// round trip for both.
    pub async fn find_by_live_session(
        &self,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = (SELECT user_id FROM sessions \
             WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2)"
        );
        let row: Option<UserRow> = on_reader!(self.db, |pool| sqlx::query_as(&sql)
            .bind(session.as_uuid())
            .bind(now)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(User::from))
    }

    /// Creates an account with its first verification token and the email carrying it.
    /// `Conflict` when the email is already registered (nothing is written then).
    pub async fn register(
        &self,
        user: &NewUser<'_>,
        token: &NewEmailToken<'_>,
        email: &NewOutboxEmail<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "INSERT INTO users (id, email, email_normalized, name, password_hash, created_at, \
                 updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(user.id.as_uuid())
            .bind(user.email)
            .bind(user.email_normalized)
            .bind(user.name)
            .bind(user.password_hash)
            .bind(user.created_at)
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
        insert_token(tx.conn(), user.id, token).await?;
        insert_email(tx.conn(), email).await?;
        tx.commit().await
    }

    /// Replaces the user's unused tokens of this purpose with a new one, and queues its email.
    pub async fn issue_email_token(
        &self,
        user: UserId,
        token: &NewEmailToken<'_>,
        email: &NewOutboxEmail<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE email_tokens \
                 SET used_at = $3 \
                 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
            )
            .bind(user.as_uuid())
            .bind(token.purpose.as_str())
            .bind(token.created_at)
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
        insert_token(tx.conn(), user, token).await?;
        insert_email(tx.conn(), email).await?;
        tx.commit().await
    }

    /// Uses a verification token: marks the address verified. `None` when the token is
    /// unknown, used, expired or of another purpose.
    pub async fn verify_email(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        let mut tx = self.db.begin().await?;
        let Some(user) =
            consume_token(tx.conn(), token_hash, EmailTokenPurpose::VerifyEmail, now).await?
        else {
            return Ok(None);
        };
        mark_verified(tx.conn(), user, now).await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// Uses a reset token: sets the new password hash, confirms the address (the user just
    /// proved they read its mail) and revokes every session. `None` for a bad token.
    pub async fn reset_password(
        &self,
        token_hash: &[u8],
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        let mut tx = self.db.begin().await?;
        let Some(user) =
            consume_token(tx.conn(), token_hash, EmailTokenPurpose::ResetPassword, now).await?
        else {
            return Ok(None);
        };
        set_password_hash(tx.conn(), user, password_hash, now).await?;
        mark_verified(tx.conn(), user, now).await?;
        revoke_user_sessions(tx.conn(), user, "password_reset", now, None).await?;
        tx.commit().await?;
        Ok(Some(user))
    }

    /// Sets a new password hash and revokes every session except `keep`.
    pub async fn change_password(
        &self,
        user: UserId,
        password_hash: &str,
        keep: SessionId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        set_password_hash(tx.conn(), user, password_hash, now).await?;
        revoke_user_sessions(tx.conn(), user, "password_changed", now, Some(keep)).await?;
        tx.commit().await
    }

    /// Replaces the hash without touching sessions: the same password under new parameters.
    pub async fn rehash_password(
        &self,
        user: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        set_password_hash(tx.conn(), user, password_hash, now).await?;
        tx.commit().await
    }

    /// Hands an unconfirmed account to whoever registers its address again: the new password
    /// and name replace the old ones and every session ends, so an earlier registrant who never
    /// proved the address holds nothing once its owner confirms it (account pre-hijacking).
    /// `false` when the account is confirmed by now, and nothing changed.
    pub async fn reclaim_unverified(
        &self,
        user: UserId,
        name: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db.begin().await?;
        let reclaimed = on_conn!(tx.conn(), |c| sqlx::query(
            "UPDATE users SET name = $2, password_hash = $3, updated_at = $4 \
             WHERE id = $1 AND email_verified_at IS NULL",
        )
        .bind(user.as_uuid())
        .bind(name)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|done| done.rows_affected()))?;
        if reclaimed == 0 {
            return Ok(false);
        }
        revoke_user_sessions(tx.conn(), user, "reregistered", now, None).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Changes the display name; `None` when the account does not exist.
    pub async fn rename(
        &self,
        user: UserId,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "UPDATE users SET name = $2, updated_at = $3 WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        let row: Option<UserRow> = on_writer!(self.db, |pool| sqlx::query_as(&sql)
            .bind(user.as_uuid())
            .bind(name)
            .bind(now)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(User::from))
    }

    /// Grants or withdraws staff status; `false` when no account has that email.
    pub async fn set_staff(&self, email_normalized: &str, staff: bool) -> Result<bool, StoreError> {
        let changed = on_writer!(self.db, |pool| sqlx::query(
            "UPDATE users SET is_staff = $2 WHERE email_normalized = $1",
        )
        .bind(email_normalized)
        .bind(staff)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(changed > 0)
    }

    /// Erases the account in one transaction: refused (nothing changes) while it owns a
    /// workspace with other members; the workspaces it owns alone are deleted with it, each with
    /// an audit entry from `audit`. Sessions, tokens and queued mail go with the account
    /// (foreign keys cascade); system events and audit entries stay, detached from the person.
    pub async fn erase(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        audit: impl Fn(WorkspaceId) -> NewAuditEntry,
    ) -> Result<Erasure, StoreError> {
        let mut tx = self.db.begin_in(Scope::User(user)).await?;
        // Locked before ownership is read: a transfer to this user locks the same row first
        // (`lock_users`), so it either committed before this read, and the workspace it gave is
        // among `owned`, or waits until the account is gone and then finds no member to promote.
        // Without it, a transfer landing between this read and the delete below would leave its
        // workspace with no owner (S-TENANT-4). `NO KEY UPDATE` conflicts with the transfer's
        // share lock but not with the key-share lock of a row that merely references the
        // account (an audit entry or invitation written under a workspace lock), so an erasure
        // waiting for such a writer's workspace lock never blocks that writer in turn.
        crate::dialect::lock_users(tx.conn(), &[user], crate::dialect::RowLock::NoKeyUpdate)
            .await?;
        let owned: Vec<(Uuid,)> = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
                "SELECT m.workspace_id \
                 FROM memberships m \
                 JOIN workspaces w ON w.id = m.workspace_id \
                 WHERE m.user_id = $1 AND m.role = 'owner' AND w.deleted_at IS NULL",
            )
            .bind(user.as_uuid())
            .fetch_all(&mut *c)
            .await
        })?;
        let owned: Vec<WorkspaceId> =
            owned.into_iter().map(|(id,)| WorkspaceId::from_uuid(id)).collect();
        let mut teams = 0;
        for &workspace in &owned {
            tx.enter(Scope::Workspace(workspace)).await?;
            crate::dialect::lock_workspace(tx.conn(), workspace).await?;
            let (members,): (i64,) = on_conn!(tx.conn(), |c| sqlx::query_as(
                "SELECT count(*) FROM memberships WHERE workspace_id = $1",
            )
            .bind(workspace.as_uuid())
            .fetch_one(&mut *c)
            .await)?;
            if members > 1 {
                teams += 1;
            }
        }
        if teams > 0 {
            return Ok(Erasure::OwnsTeams(teams));
        }
        for &workspace in &owned {
            tx.enter(Scope::Workspace(workspace)).await?;
            on_conn!(tx.conn(), |c| {
                sqlx::query(
                    "UPDATE workspaces \
                     SET deleted_at = $2, updated_at = $2 \
                     WHERE id = $1 AND deleted_at IS NULL",
                )
                .bind(workspace.as_uuid())
                .bind(now)
                .execute(&mut *c)
                .await
                .map(drop)
            })?;
            crate::tenant::audit::insert_entry(tx.conn(), workspace, &audit(workspace), now)
                .await?;
        }
        let deleted = on_conn!(tx.conn(), |c| sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user.as_uuid())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        tx.commit().await?;
        Ok(if deleted > 0 {
            Erasure::Erased { workspaces_deleted: owned.len() }
        } else {
            Erasure::NoSuchUser
        })
    }

    /// Erases the account without the workspace rules (tests and tools that made it).
    pub async fn delete(&self, user: UserId) -> Result<bool, StoreError> {
        let deleted = on_writer!(self.db, |pool| sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user.as_uuid())
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(deleted > 0)
    }
}

async fn insert_token(
    conn: Conn<'_>,
    user: UserId,
    token: &NewEmailToken<'_>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "INSERT INTO email_tokens (token_hash, user_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token.token_hash)
    .bind(user.as_uuid())
    .bind(token.purpose.as_str())
    .bind(token.created_at)
    .bind(token.expires_at)
    .execute(&mut *c)
    .await
    .map(drop))?;
    Ok(())
}

/// Single use is one conditional update: of two concurrent uses, one finds `used_at` set.
async fn consume_token(
    conn: Conn<'_>,
    token_hash: &[u8],
    purpose: EmailTokenPurpose,
    now: DateTime<Utc>,
) -> Result<Option<UserId>, StoreError> {
    let user: Option<(Uuid,)> = on_conn!(conn, |c| sqlx::query_as(
        "UPDATE email_tokens SET used_at = $3 \
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
         RETURNING user_id",
    )
    .bind(token_hash)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(&mut *c)
    .await)?;
    Ok(user.map(|(id,)| UserId::from_uuid(id)))
}

async fn mark_verified(conn: Conn<'_>, user: UserId, now: DateTime<Utc>) -> Result<(), StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "UPDATE users SET email_verified_at = $2, updated_at = $2 \
         WHERE id = $1 AND email_verified_at IS NULL",
    )
    .bind(user.as_uuid())
    .bind(now)
    .execute(&mut *c)
    .await
    .map(drop))?;
    Ok(())
}

async fn set_password_hash(
    conn: Conn<'_>,
    user: UserId,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1"
    )
    .bind(user.as_uuid())
    .bind(password_hash)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(drop))?;
    Ok(())
}
