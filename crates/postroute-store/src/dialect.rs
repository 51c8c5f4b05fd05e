//! Where SQLite and PostgreSQL differ in what a statement must say, said once.
//!
//! - Row locks: PostgreSQL locks the rows a transaction reads for change (`FOR UPDATE`, `FOR NO
//!   KEY UPDATE`, `FOR SHARE`); SQLite has none and needs none, since a write transaction holds
//!   the database's one write lock from `BEGIN IMMEDIATE` on.
//! - Claims under a lease ([`claim_leased`]): the way every job takes its work, so that two
//!   workers never take the same item and a crashed worker's items come back when the lease
//!   ends.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::StoreError;
use postroute_domain::{UserId, WorkspaceId};

use crate::pool::{Conn, Db, Scope};

/// A row lock a statement takes on PostgreSQL.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RowLock {
    /// `FOR UPDATE`: the rows will change or be deleted.
    Update,
    /// `FOR NO KEY UPDATE`: the rows will change, but not their keys, so inserts that only
    /// reference them are not held up.
    NoKeyUpdate,
    /// `FOR SHARE`: the rows must not change until the transaction ends.
    Share,
    /// `FOR UPDATE SKIP LOCKED`: rows another transaction holds are passed over, not waited for.
    SkipLocked,
}

impl RowLock {
    /// The clause to end a `SELECT` with: empty on SQLite.
    pub(crate) fn clause(self, db: &Db) -> &'static str {
        match db {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => self.on_postgres(),
        }
    }

    fn on_postgres(self) -> &'static str {
        match self {
            Self::Update => "FOR UPDATE",
            Self::NoKeyUpdate => "FOR NO KEY UPDATE",
            Self::Share => "FOR SHARE",
            Self::SkipLocked => "FOR UPDATE SKIP LOCKED",
        }
    }
}

/// Serialises writers that check a limit or a rule of one workspace (members, channels,
/// ownership) and then change it, so two concurrent requests cannot both pass the check.
/// PostgreSQL locks the workspace row; SQLite's `BEGIN IMMEDIATE` already admits one writer at
/// a time.
///
/// `NO KEY UPDATE` conflicts with itself, which is all the serialising needs, but not with the
/// key-share lock that inserting a row referencing the workspace takes (an audit entry, say):
/// a plain `FOR UPDATE` here would deadlock against a writer that holds a member row and adds
/// its audit entry.
pub(crate) async fn lock_workspace(
    conn: Conn<'_>,
    workspace: WorkspaceId,
) -> Result<(), StoreError> {
    if let Conn::Postgres(c) = conn {
        sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE")
            .bind(workspace.as_uuid())
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Locks accounts against erasure while ownership moves to or from them (PostgreSQL; SQLite's
/// single writer already serialises the two). Erasure and transfer take it before any
/// workspace lock, in id order, so they cannot deadlock on each other; the strengths
/// (`NO KEY UPDATE` for erasure, `SHARE` for a transfer) conflict with each other but not with
/// the key-share lock that writing a row referencing an account takes.
pub(crate) async fn lock_users(
    conn: Conn<'_>,
    users: &[UserId],
    strength: RowLock,
) -> Result<(), StoreError> {
    if let Conn::Postgres(c) = conn {
        let ids: Vec<uuid::Uuid> = users.iter().map(|user| user.as_uuid()).collect();
        sqlx::query(&format!(
            "SELECT id FROM users WHERE id = ANY($1) ORDER BY id {}",
            strength.on_postgres()
        ))
        .bind(ids)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// What a job claims: rows of `table` that `due` selects and whose lease has ended.
#[derive(Debug)]
pub(crate) struct Lease<'a> {
    /// The table.
    pub table: &'static str,
    /// Its key columns: `id`, or `workspace_id, id` for tenant rows.
    pub key: &'static str,
    /// The column that holds the lease's end.
    pub lease_column: &'static str,
    /// Which rows are due; `$1` is now.
    pub due: &'static str,
    /// The order in which due rows are taken.
    pub order_by: &'static str,
    /// More assignments the claim makes (`attempts = attempts + 1`), or empty.
    pub also_set: &'static str,
    /// The columns the claim returns.
    pub returning: &'a str,
}

/// Claims up to `limit` due rows until `lease_until`, in one statement of its own transaction
/// (entered into `scope` on PostgreSQL, for tenant tables). Concurrent workers never claim the
/// same row: PostgreSQL's subquery skips the rows another claim has locked, and on SQLite the
/// statement runs under the single write lock.
pub(crate) async fn claim_leased<R>(
    db: &Db,
    scope: Option<Scope>,
    lease: &Lease<'_>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<R>, StoreError>
where
    R: for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let Lease { table, key, lease_column, due, order_by, also_set, returning } = lease;
    let skip_locked = RowLock::SkipLocked.clause(db);
    let sql = format!(
        "UPDATE {table} \
         SET {lease_column} = $2{also_set} \
         WHERE ({key}) IN ( SELECT {key} \
         FROM {table} \
         WHERE ({due}) AND ({lease_column} IS NULL OR {lease_column} <= $1) \
         ORDER BY {order_by} LIMIT $3 {skip_locked}) \
         RETURNING {returning}"
    );
    let mut tx = match scope {
        Some(scope) => db.begin_in(scope).await?,
        None => db.begin().await?,
    };
    let rows: Vec<R> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(limit))
        .fetch_all(&mut *c)
        .await)?;
    tx.commit().await?;
    Ok(rows)
}
