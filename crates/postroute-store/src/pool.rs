//! The store's plumbing, shared by every repository: the pools of either dialect, connections
//! and transactions, the scope a transaction runs in, and the macros that compile one statement
//! for both dialects. The front door that opens it is `store.rs`.

use postroute_domain::{UserId, WorkspaceId};
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::StoreError;

/// Runs `$body`, a statement that only reads, with `$pool` bound to the pool for reads: SQLite's
/// readers, or PostgreSQL's one pool.
///
/// Written like a closure so that rustfmt formats the body, but it is not one: the body is
/// compiled once per dialect, so the same query text and binds serve both databases; it must
/// only use SQL and types both understand.
macro_rules! on_reader {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::pool::Db::Sqlite(pools) => {
                let $pool = &pools.read;
                $body
            }
            $crate::pool::Db::Postgres($pool) => $body,
        }
    };
}

/// Like [`on_reader!`] for a statement that writes: on SQLite it runs on the one writer
/// connection.
macro_rules! on_writer {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::pool::Db::Sqlite(pools) => {
                let $pool = &pools.write;
                $body
            }
            $crate::pool::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection inside a [`Conn`], like [`on_reader!`] for
/// statements that must also run inside a transaction.
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::pool::Conn::Sqlite($c) => $body,
            $crate::pool::Conn::Postgres($c) => $body,
        }
    };
}

#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePools),
    Postgres(PgPool),
}

/// SQLite lets one writer in at a time, whoever asks. Left to the database, concurrent writers
/// wait on the busy timeout, polling, and every transaction that merely read waited with them
/// (each began `IMMEDIATE`). So writes queue in the process for the one writer connection, in
/// order, and reads run beside them on connections that refuse to write (`query_only`), each
/// in a deferred transaction that sees one snapshot of the WAL.
#[derive(Clone, Debug)]
pub(crate) struct SqlitePools {
    pub(crate) read: SqlitePool,
    pub(crate) write: SqlitePool,
}

/// A connection of either dialect, borrowed from a pool or a transaction.
pub(crate) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// A write transaction of either dialect. Dropped without [`Tx::commit`], it rolls back.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Self::Sqlite(transaction) => Conn::Sqlite(transaction),
            Self::Postgres(transaction) => Conn::Postgres(transaction),
        }
    }

    /// Widens the transaction's scope on PostgreSQL (settings are transaction-local; each call
    /// adds or replaces one). A transaction that must act in several workspaces enters each in
    /// turn.
    pub(crate) async fn enter(&mut self, scope: Scope) -> Result<(), StoreError> {
        crate::dialect::enter_scope(self, scope).await
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(transaction) => transaction.commit().await?,
            Self::Postgres(transaction) => transaction.commit().await?,
        }
        Ok(())
    }
}

/// Whose rows a transaction may see on PostgreSQL, set with `set_config(…, true)` so that it
/// ends with the transaction and never lingers on a pooled connection (S-TENANT-2).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Scope {
    /// One workspace's rows.
    Workspace(WorkspaceId),
    /// One user's own memberships and their workspaces.
    User(UserId),
    /// Every tenant: only through `Store::cross_tenant_unscoped`.
    CrossTenant,
}

impl Db {
    /// Begins a write transaction scoped to `scope`. SQLite has no row-level security; there
    /// the scope is held by the `WHERE workspace_id = …` every tenant statement carries anyway.
    pub(crate) async fn begin_in(&self, scope: Scope) -> Result<Tx, StoreError> {
        crate::dialect::begin(self, Access::Write, Some(scope)).await
    }

    /// Begins a write transaction: on SQLite, through the one writer connection, holding the
    /// write lock from the start.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        crate::dialect::begin(self, Access::Write, None).await
    }

    /// Begins a read transaction scoped to `scope`, for paths that only read: it waits for no
    /// writer, and a statement in it that writes is refused (PostgreSQL `READ ONLY`, SQLite
    /// `query_only`).
    pub(crate) async fn begin_read_in(&self, scope: Scope) -> Result<Tx, StoreError> {
        crate::dialect::begin(self, Access::Read, Some(scope)).await
    }

    /// Closes every pooled connection, waiting for the ones in use to be returned.
    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(pools) => {
                pools.read.close().await;
                pools.write.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// What a transaction will do, which decides how it begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// It may write.
    Write,
    /// It only reads.
    Read,
}
