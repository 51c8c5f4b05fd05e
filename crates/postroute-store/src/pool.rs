//! Connecting to SQLite or PostgreSQL, migrating, and checking that the database is there.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Postgres, Sqlite, Transaction};

use crate::StoreError;
use crate::accounts::Accounts;
use crate::outbox::Outbox;
use crate::sessions::Sessions;
use crate::system_events::SystemEvents;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Runs `$body` with `$pool` bound to whichever pool the store holds.
///
/// The body is compiled once per dialect, so the same query text and binds serve both
/// databases; it must only use SQL and types both understand.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::pool::Db::Sqlite($pool) => $body,
            $crate::pool::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the connection inside a [`Conn`], like [`on_db!`] for
/// statements that must also run inside a transaction.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::pool::Conn::Sqlite($c) => $body,
            $crate::pool::Conn::Postgres($c) => $body,
        }
    };
}

/// The SQL dialect behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// The embedded default: one file in the data directory.
    Sqlite,
    /// The deployment at scale.
    Postgres,
}

/// How to reach the database.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// Pool size ceiling.
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
}

#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
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

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(transaction) => transaction.commit().await?,
            Self::Postgres(transaction) => transaction.commit().await?,
        }
        Ok(())
    }
}

impl Db {
    /// Begins a write transaction. SQLite takes its write lock up front (`BEGIN IMMEDIATE`):
    /// a deferred transaction that later upgrades can fail with SQLITE_BUSY regardless of the
    /// busy timeout when another writer got there first.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Self::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Self::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }
}

/// PostRoute's database, whichever dialect it is.
#[derive(Clone, Debug)]
pub struct Store {
    db: Db,
    /// SQLite readiness opens the file afresh: pooled connections keep a deleted or unmounted
    /// file alive, so only a new connection notices that the database has gone.
    sqlite_probe: Option<SqliteConnectOptions>,
}

impl Store {
    /// Opens a pool for `options.url`; SQLite files are created on first use.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        let url = options.url.as_str();
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|error| StoreError::UnsupportedUrl(error.to_string()))?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .log_statements(tracing::log::LevelFilter::Trace);
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone().create_if_missing(true))
                .await?;
            Ok(Self { db: Db::Sqlite(pool), sqlite_probe: Some(connect.create_if_missing(false)) })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|error| StoreError::UnsupportedUrl(error.to_string()))?
                .application_name("postroute")
                .log_statements(tracing::log::LevelFilter::Trace);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            Ok(Self { db: Db::Postgres(pool), sqlite_probe: None })
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StoreError::UnsupportedUrl(format!(
                "scheme `{scheme}` is neither sqlite nor postgres"
            )))
        }
    }

    /// Which SQL dialect this store speaks.
    pub fn dialect(&self) -> Dialect {
        match self.db {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Applies the embedded migrations that have not run yet.
    ///
    /// Several processes starting at once apply each migration exactly once: on PostgreSQL the
    /// migrator holds an advisory lock; SQLite has no such lock, so the processes sharing a
    /// database file (`serve` and `worker`, say) take turns on a lock file beside it.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match (&self.db, &self.sqlite_probe) {
            (Db::Sqlite(pool), Some(probe)) => {
                let lock_path = probe.get_filename().with_extension("migrate.lock");
                let _lock = tokio::task::spawn_blocking(move || {
                    let file = std::fs::OpenOptions::new()
                        .create(true)
                        .truncate(false)
                        .write(true)
                        .open(&lock_path)?;
                    file.lock()?;
                    Ok::<_, std::io::Error>(file)
                })
                .await
                .map_err(|error| {
                    StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(error)))
                })?
                .map_err(|error| StoreError::Unavailable(sqlx::Error::Io(error)))?;
                SQLITE_MIGRATIONS.run(pool).await?;
            }
            (Db::Sqlite(pool), None) => SQLITE_MIGRATIONS.run(pool).await?,
            (Db::Postgres(pool), _) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Succeeds when the database answers a query right now.
    pub async fn check_ready(&self) -> Result<(), StoreError> {
        match (&self.db, &self.sqlite_probe) {
            (Db::Sqlite(_), Some(probe)) => {
                let mut connection = SqliteConnection::connect_with(probe).await?;
                sqlx::query("SELECT count(*) FROM sqlite_master").execute(&mut connection).await?;
                connection.close().await?;
            }
            (db, _) => {
                on_db!(db, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop)?);
            }
        }
        Ok(())
    }

    /// The staff-only system event log.
    pub fn system_events(&self) -> SystemEvents<'_> {
        SystemEvents::new(&self.db)
    }

    /// User accounts, email tokens and the actions that change them.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts::new(&self.db)
    }

    /// Device sessions and their refresh tokens.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions::new(&self.db)
    }

    /// The transactional email outbox.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox::new(&self.db)
    }

    /// Closes every pooled connection, waiting for the ones in use to be returned.
    pub async fn close(&self) {
        on_db!(&self.db, pool => pool.close().await);
    }
}
