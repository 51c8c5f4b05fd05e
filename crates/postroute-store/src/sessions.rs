//! Device sessions and refresh-token rotation with reuse detection (S-AUTH-2, S-AUTH-3, S-AUTH-4).

use chrono::{DateTime, Utc};
use postroute_domain::{SessionId, UserId};
use uuid::Uuid;

use crate::StoreError;
use crate::pool::{Conn, Db};

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Its id, carried in access tokens as `sid`.
    pub id: SessionId,
    /// Whose it is.
    pub user_id: UserId,
    /// The client's User-Agent at login.
    pub user_agent: Option<String>,
    /// The client's address at login.
    pub ip: Option<String>,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last login or refresh.
    pub last_used_at: DateTime<Utc>,
    /// When the current refresh token lapses.
    pub expires_at: DateTime<Utc>,
    /// When it was ended, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it was ended (`logout`, `refresh_token_reused`, ...).
    pub revoked_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    user_agent: Option<String>,
    ip: Option<String>,
    created_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    revoked_reason: Option<String>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Self {
            id: SessionId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            user_agent: row.user_agent,
            ip: row.ip,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            revoked_reason: row.revoked_reason,
        }
    }
}

const SESSION_COLUMNS: &str = "id, user_id, user_agent, ip, created_at, last_used_at, expires_at, \
                               revoked_at, revoked_reason";

/// A login about to be recorded.
#[derive(Debug)]
pub struct NewSession<'a> {
    /// Its id.
    pub id: SessionId,
    /// Whose it is.
    pub user_id: UserId,
    /// The client's User-Agent.
    pub user_agent: Option<&'a str>,
    /// The client's address.
    pub ip: Option<&'a str>,
    /// Now.
    pub created_at: DateTime<Utc>,
    /// When the first refresh token lapses.
    pub expires_at: DateTime<Utc>,
    /// SHA-256 of the first refresh token.
    pub refresh_token_hash: &'a [u8],
}

/// What presenting a refresh token did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was current: it is now rotated and its successor stored.
    Rotated {
        /// The session it belongs to.
        session: SessionId,
        /// Whose it is.
        user: UserId,
    },
    /// The token had already been rotated: every session of the user is now revoked.
    Reused {
        /// Whose token it was.
        user: UserId,
        /// How many live sessions this revoked.
        sessions_revoked: u64,
    },
    /// Unknown, expired, or its session has ended: nothing changed.
    Refused,
}

/// What presenting a refresh token to logout did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogoutOutcome {
    /// The token's session is ended.
    Ended(UserId),
    /// The token had already been rotated: every session of the user is now revoked.
    Reused {
        /// Whose token it was.
        user: UserId,
        /// How many live sessions this revoked.
        sessions_revoked: u64,
    },
    /// No such token, or its session had already ended: logging out is idempotent.
    Unknown,
}

/// Session queries and actions.
#[derive(Debug)]
pub struct Sessions<'a> {
    db: &'a Db,
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// Records a login and its first refresh token.
    pub async fn start(&self, session: &NewSession<'_>) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "INSERT INTO sessions (id, user_id, user_agent, ip, created_at, last_used_at, \
                 expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $5, $6)",
            )
            .bind(session.id.as_uuid())
            .bind(session.user_id.as_uuid())
            .bind(session.user_agent)
            .bind(session.ip)
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
        insert_refresh_token(
            tx.conn(),
            session.refresh_token_hash,
            session.id,
            session.user_id,
            session.created_at,
            session.expires_at,
        )
        .await?;
        tx.commit().await
    }

    /// The user of a live session: not revoked, not expired. One primary-key lookup, made on
    /// every authenticated request so that revocation takes effect at once.
    pub async fn live_user(
        &self,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Option<UserId>, StoreError> {
        let user: Option<(Uuid,)> = on_reader!(self.db, |pool| {
            sqlx::query_as(
                "SELECT user_id \
                 FROM sessions \
                 WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
            )
            .bind(session.as_uuid())
            .bind(now)
            .fetch_optional(pool)
            .await
        })?;
        Ok(user.map(|(id,)| UserId::from_uuid(id)))
    }

    /// Rotates a refresh token. The rotation is one conditional update, so of several
    /// concurrent presentations of one token exactly one rotates it; the others find it rotated
    /// and are treated as reuse, which revokes every session of the user — the winner's too.
    pub async fn refresh(
        &self,
        token_hash: &[u8],
        successor_hash: &[u8],
        now: DateTime<Utc>,
        successor_expires_at: DateTime<Utc>,
    ) -> Result<RefreshOutcome, StoreError> {
        let mut tx = self.db.begin().await?;
        let rotated: Option<(Uuid, Uuid)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "UPDATE refresh_tokens SET rotated_at = $2 \
             WHERE token_hash = $1 AND rotated_at IS NULL AND expires_at > $2 \
             RETURNING session_id, user_id",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&mut *c)
        .await)?;

        if let Some((session, user)) = rotated {
            let (session, user) = (SessionId::from_uuid(session), UserId::from_uuid(user));
            let extended = on_conn!(tx.conn(), |c| sqlx::query(
                "UPDATE sessions SET last_used_at = $2, expires_at = $3 \
                 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(session.as_uuid())
            .bind(now)
            .bind(successor_expires_at)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
            if extended == 0 {
                // The session was ended (logout, revocation): its tokens are dead. Dropping the
                // transaction rolls the rotation back.
                return Ok(RefreshOutcome::Refused);
            }
            insert_refresh_token(
                tx.conn(),
                successor_hash,
                session,
                user,
                now,
                successor_expires_at,
            )
            .await?;
            tx.commit().await?;
            return Ok(RefreshOutcome::Rotated { session, user });
        }

        let reused: Option<(Uuid,)> = on_conn!(tx.conn(), |c| {
            sqlx::query_as(
                "SELECT user_id \
                 FROM refresh_tokens \
                 WHERE token_hash = $1 AND rotated_at IS NOT NULL",
            )
            .bind(token_hash)
            .fetch_optional(&mut *c)
            .await
        })?;
        let Some((user,)) = reused else {
            return Ok(RefreshOutcome::Refused);
        };
        let user = UserId::from_uuid(user);
        let sessions_revoked =
            revoke_user_sessions(tx.conn(), user, "refresh_token_reused", now, None).await?;
        tx.commit().await?;
        Ok(RefreshOutcome::Reused { user, sessions_revoked })
    }

    /// Ends the session a refresh token belongs to (logout). A token that was already rotated
    /// is reuse, exactly as at refresh: every session of its user is revoked (S-AUTH-3), so a
    /// stolen, rotated token cannot be spent quietly on a logout either.
    pub async fn end_by_refresh_token(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<LogoutOutcome, StoreError> {
        let mut tx = self.db.begin().await?;
        let token: Option<(Uuid, Option<DateTime<Utc>>)> =
            on_conn!(tx.conn(), |c| sqlx::query_as(
                "SELECT user_id, rotated_at FROM refresh_tokens WHERE token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(&mut *c)
            .await)?;
        let outcome = match token {
            None => LogoutOutcome::Unknown,
            Some((user, Some(_rotated))) => {
                let user = UserId::from_uuid(user);
                let sessions_revoked =
                    revoke_user_sessions(tx.conn(), user, "refresh_token_reused", now, None)
                        .await?;
                LogoutOutcome::Reused { user, sessions_revoked }
            }
            Some((_, None)) => {
                let ended: Option<(Uuid,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
                    "UPDATE sessions SET revoked_at = $2, revoked_reason = 'logout' \
                     WHERE id = (SELECT session_id FROM refresh_tokens WHERE token_hash = $1) \
                     AND revoked_at IS NULL RETURNING user_id",
                )
                .bind(token_hash)
                .bind(now)
                .fetch_optional(&mut *c)
                .await)?;
                ended.map_or(LogoutOutcome::Unknown, |(user,)| {
                    LogoutOutcome::Ended(UserId::from_uuid(user))
                })
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Ends one of the user's sessions; `false` when it is not theirs or already ended.
    pub async fn end(
        &self,
        user: UserId,
        session: SessionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let ended = on_writer!(self.db, |pool| sqlx::query(
            "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
             WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
        )
        .bind(session.as_uuid())
        .bind(user.as_uuid())
        .bind(now)
        .bind(reason)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))?;
        Ok(ended > 0)
    }

    /// Ends every live session of the user; returns how many.
    pub async fn end_all(
        &self,
        user: UserId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.db.begin().await?;
        let ended = revoke_user_sessions(tx.conn(), user, reason, now, None).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// The user's sessions that are live now, newest first.
    pub async fn list_live(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<SessionRow> = on_reader!(self.db, |pool| sqlx::query_as(&sql)
            .bind(user.as_uuid())
            .bind(now)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(Session::from).collect())
    }

    /// Every session the user ever had, newest first (for the GDPR export).
    pub async fn list_all(&self, user: UserId) -> Result<Vec<Session>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} \
             FROM sessions \
             WHERE user_id = $1 \
             ORDER BY created_at DESC, id DESC"
        );
        let rows: Vec<SessionRow> = on_reader!(self.db, |pool| sqlx::query_as(&sql)
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(Session::from).collect())
    }
}

async fn insert_refresh_token(
    conn: Conn<'_>,
    token_hash: &[u8],
    session: SessionId,
    user: UserId,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, user_id, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(session.as_uuid())
    .bind(user.as_uuid())
    .bind(issued_at)
    .bind(expires_at)
    .execute(&mut *c)
    .await
    .map(drop))?;
    Ok(())
}

/// Ends every live session of `user` except `keep`; returns how many it ended.
pub(crate) async fn revoke_user_sessions(
    conn: Conn<'_>,
    user: UserId,
    reason: &str,
    now: DateTime<Utc>,
    keep: Option<SessionId>,
) -> Result<u64, StoreError> {
    let ended = on_conn!(conn, |c| sqlx::query(
        "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 \
         WHERE user_id = $1 AND revoked_at IS NULL AND ($4 IS NULL OR id <> $4)",
    )
    .bind(user.as_uuid())
    .bind(now)
    .bind(reason)
    .bind(keep.map(|session| session.as_uuid()))
    .execute(&mut *c)
    .await
    .map(|done| done.rows_affected()))?;
    Ok(ended)
}
