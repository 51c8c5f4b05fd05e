//! Where SQLite and PostgreSQL differ in what a statement must say, said once.
//!
//! - Row locks: PostgreSQL locks the rows a transaction reads for change (`FOR UPDATE`, `FOR NO
//!   KEY UPDATE`, `FOR SHARE`); SQLite has none and needs none, since a write transaction holds
//!   the database's one write lock from `BEGIN IMMEDIATE` on.
//! - Claims under a lease ([`claim_leased`]): the way every job takes its work, so that two
//!   workers never take the same item and a crashed worker's items come back when the lease
//!   ends.
//! - Transactions ([`begin`]): SQLite writes go through its one writer connection and take the
//!   write lock up front; PostgreSQL scopes each transaction for row-level security.
//! - Connecting ([`open`], [`migrate`], [`check_ready`]): the connection options, the pools, the
//!   migrations and the readiness probe of each, and the catalog check that the pooled
//!   PostgreSQL role cannot step around row-level security ([`row_security_bypass`]).
//!
//! Backups are the one exception: a dump is PostgreSQL's `COPY` or SQLite's rows by nature, and
//! `backup.rs` keeps both halves of that format side by side.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use postroute_domain::{UserId, WorkspaceId};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use crate::pool::{Access, Conn, Db, Scope, SqlitePools, Tx};
use crate::{StoreError, StoreOptions};

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
    /// Who claims, bound as `$4` for `also_set` to record (`lease_owner = $4`).
    pub owner: Option<&'a str>,
    /// A statement run in the claim's transaction after it, with now as `$1` and the owner (if
    /// any) as `$2`: what must change together with the claim (the claimed posts' status, say).
    pub then: Option<&'static str>,
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
    let Lease { table, key, lease_column, due, order_by, also_set, returning, owner, then } = lease;
    let pick = format!(
        "FROM {table} \
         WHERE ({due}) AND ({lease_column} IS NULL OR {lease_column} <= $1) \
         ORDER BY {order_by} LIMIT $3"
    );
    let sql = match db {
        Db::Sqlite(_) => format!(
            "UPDATE {table} \
             SET {lease_column} = $2{also_set} \
             WHERE ({key}) IN (SELECT {key} {pick}) \
             RETURNING {returning}"
        ),
        // The rows are picked (and locked, skipping those another claim holds) first, then
        // updated through their keys: with `IN (subquery)` the planner, which cannot estimate
        // the row-level-security predicates, scanned the whole table to match a handful of
        // keys.
        Db::Postgres(_) => {
            let columns: Vec<&str> = key.split(',').map(str::trim).collect();
            let picked: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(n, column)| format!("{column} AS picked_{n}"))
                .collect();
            let joined: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(n, column)| format!("{table}.{column} = picked.picked_{n}"))
                .collect();
            format!(
                "WITH picked AS MATERIALIZED (SELECT {} {pick} {}) \
                 UPDATE {table} \
                 SET {lease_column} = $2{also_set} \
                 FROM picked WHERE {} \
                 RETURNING {returning}",
                picked.join(", "),
                RowLock::SkipLocked.on_postgres(),
                joined.join(" AND ")
            )
        }
    };
    let mut tx = match scope {
        Some(scope) => db.begin_in(scope).await?,
        None => db.begin().await?,
    };
    if let Tx::Postgres(transaction) = &mut tx {
        // The claim must read the due rows in the index's order and stop at its limit. The
        // planner's statistics lag behind a burst (they say a few rows are due when thousands
        // are), and it then sorts the whole due range at every claim: quadratic in the burst.
        sqlx::query("SET LOCAL enable_sort = off").execute(&mut **transaction).await?;
    }
    let rows: Vec<R> = on_conn!(tx.conn(), |c| {
        let query = sqlx::query_as(&sql).bind(now).bind(lease_until).bind(i64::from(limit));
        match owner {
            Some(owner) => query.bind(*owner),
            None => query,
        }
        .fetch_all(&mut *c)
        .await
    })?;
    if let Some(then) = then
        && !rows.is_empty()
    {
        on_conn!(tx.conn(), |c| {
            let query = sqlx::query(then).bind(now);
            match owner {
                Some(owner) => query.bind(*owner),
                None => query,
            }
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
    }
    tx.commit().await?;
    Ok(rows)
}

/// Begins a transaction that will `access` the database, scoped to `scope`.
///
/// SQLite: a write begins `IMMEDIATE` on the writer connection, since a deferred transaction
/// that later upgrades can fail with SQLITE_BUSY whatever the busy timeout when another writer
/// got there first (another process: within this one, writers queue for the writer
/// connection). A read begins deferred on a reader connection, which has `query_only` set and
/// waits for no writer. There is no row-level security; the scope is held by the
/// `WHERE workspace_id = …` every tenant statement carries anyway.
///
/// PostgreSQL: a read is `READ ONLY`. The scope's setting goes in the same simple-query
/// message as `BEGIN`, saving a round trip on every tenant request. Its value is a typed id
/// (a UUID's canonical text) or `on`, never request text, so writing it into the statement
/// cannot inject anything.
pub(crate) async fn begin(db: &Db, access: Access, scope: Option<Scope>) -> Result<Tx, StoreError> {
    match db {
        Db::Sqlite(pools) => Ok(Tx::Sqlite(match access {
            Access::Write => pools.write.begin_with("BEGIN IMMEDIATE").await?,
            Access::Read => pools.read.begin().await?,
        })),
        Db::Postgres(pool) => {
            let begin = match access {
                Access::Write => "BEGIN",
                Access::Read => "BEGIN READ ONLY",
            };
            let statement = match scope {
                None => begin.to_owned(),
                Some(scope) => {
                    let (setting, value) = scope_setting(scope);
                    format!("{begin}; SELECT set_config('{setting}', '{value}', true)")
                }
            };
            Ok(Tx::Postgres(pool.begin_with(statement).await?))
        }
    }
}

/// Adds `scope` to a PostgreSQL transaction that is already open (a no-op on SQLite).
pub(crate) async fn enter_scope(tx: &mut Tx, scope: Scope) -> Result<(), StoreError> {
    if let Tx::Postgres(transaction) = tx {
        let (setting, value) = scope_setting(scope);
        sqlx::query("SELECT set_config($1, $2, true)")
            .bind(setting)
            .bind(value)
            .execute(&mut **transaction)
            .await?;
    }
    Ok(())
}

/// The transaction-local setting the row-level security policies read for `scope`.
fn scope_setting(scope: Scope) -> (&'static str, String) {
    match scope {
        Scope::Workspace(workspace) => ("postroute.workspace_id", workspace.as_uuid().to_string()),
        Scope::User(user) => ("postroute.user_id", user.as_uuid().to_string()),
        Scope::CrossTenant => ("postroute.cross_tenant", "on".to_owned()),
    }
}

// Connecting, migrating and the readiness probe.

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

pub(crate) fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|error| StoreError::UnsupportedUrl(error.to_string()))?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        .log_statements(tracing::log::LevelFilter::Trace))
}

pub(crate) fn postgres_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    Ok(PgConnectOptions::from_str(url)
        .map_err(|error| StoreError::UnsupportedUrl(error.to_string()))?
        .application_name("postroute")
        // Every query here is short. JIT compilation costs tens of milliseconds and is chosen
        // by cost estimates, which row-level security's predicates inflate: the publisher's
        // claim, under a millisecond to run, spent about 50 ms compiling at every call.
        // A commit returns once it is on disk, whatever the server's default says: the
        // publisher's intent must outlive a crash of the database's machine (see `open`).
        .options([("jit", "off"), ("synchronous_commit", "on")])
        .log_statements(tracing::log::LevelFilter::Trace))
}

/// Whether a connection to the PostgreSQL `url` is encrypted or never leaves this machine,
/// read the way the driver will connect: its own URL parser (where a later parameter wins, and
/// `ssl-mode`, `hostaddr` and a socket directory count) and the `PG*` environment defaults.
pub fn postgres_connection_is_private(url: &str) -> bool {
    use sqlx::postgres::PgSslMode;
    let Ok(options) = PgConnectOptions::from_str(url) else { return false };
    if matches!(
        options.get_ssl_mode(),
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull
    ) {
        return true;
    }
    let host = options.get_host();
    if options.get_socket().is_some() || host.starts_with('/') {
        return true;
    }
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// How readiness reaches the database: with a connection of its own.
#[derive(Clone, Debug)]
pub(crate) enum Probe {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

/// Opens the pools for `options.url`, and the probe readiness connects with; SQLite files are
/// created on first use. SQLite gets two pools: one writer connection, so writes queue in the
/// process instead of on the busy timeout, and readers that refuse writes (`query_only`).
pub(crate) async fn open(options: &StoreOptions) -> Result<(Db, Probe), StoreError> {
    let url = options.url.as_str();
    if url.starts_with("sqlite:") {
        let connect = sqlite_options(url)?;
        // The writer syncs the log at every commit (`FULL`): with `NORMAL`, a commit in WAL
        // mode can roll back after a power loss or an OS crash, and a publisher's intent that
        // rolled back after its call was made would send the post again. Readers write nothing.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(
                connect.clone().create_if_missing(true).synchronous(SqliteSynchronous::Full),
            )
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect.clone().pragma("query_only", "ON"))
            .await?;
        let probe = Probe::Sqlite(connect.create_if_missing(false));
        Ok((Db::Sqlite(SqlitePools { read, write }), probe))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let connect = postgres_options(url)?;
        let app_role = options.app_role.clone();
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |connection, _meta| {
                let app_role = app_role.clone();
                Box::pin(async move {
                    if let Some(role) = app_role {
                        // The role name is configuration, never request data; quoted as an
                        // identifier all the same.
                        let statement = format!("SET ROLE \"{}\"", role.replace('"', "\"\""));
                        sqlx::Executor::execute(&mut *connection, statement.as_str()).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect.clone())
            .await?;
        Ok((Db::Postgres(pool), Probe::Postgres(connect)))
    } else {
        let scheme = url.split(':').next().unwrap_or_default();
        Err(StoreError::UnsupportedUrl(format!("scheme `{scheme}` is neither sqlite nor postgres")))
    }
}

/// Applies the embedded migrations that have not run yet (see `Store::migrate`).
pub(crate) async fn migrate(url: &str) -> Result<(), StoreError> {
    if url.starts_with("sqlite:") {
        let connect = sqlite_options(url)?;
        let lock_path = connect.get_filename().with_extension("migrate.lock");
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
        .map_err(|error| StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(error))))?
        .map_err(|error| StoreError::Unavailable(sqlx::Error::Io(error)))?;
        let mut connection =
            SqliteConnection::connect_with(&connect.create_if_missing(true)).await?;
        SQLITE_MIGRATIONS.run(&mut connection).await?;
        connection.close().await?;
    } else {
        let mut connection = PgConnection::connect_with(&postgres_options(url)?).await?;
        POSTGRES_MIGRATIONS.run(&mut connection).await?;
        connection.close().await?;
    }
    Ok(())
}

/// Succeeds when the database answers a query on a fresh connection right now.
pub(crate) async fn check_ready(probe: &Probe, db: &Db) -> Result<(), StoreError> {
    match probe {
        Probe::Sqlite(options) => {
            let mut connection = SqliteConnection::connect_with(options).await?;
            sqlx::query("SELECT count(*) FROM sqlite_master").execute(&mut connection).await?;
            connection.close().await?;
        }
        Probe::Postgres(options) => {
            let fresh = async {
                let mut connection = PgConnection::connect_with(options).await?;
                sqlx::query("SELECT 1").execute(&mut connection).await?;
                connection.close().await
            };
            if let Err(error) = fresh.await {
                // A server at its connection limit refuses a new connection while the
                // pool's own still work: an idle one answering is an answer too.
                let Db::Postgres(pool) = db else { return Err(error.into()) };
                let Some(mut pooled) = pool.try_acquire() else { return Err(error.into()) };
                sqlx::query("SELECT 1").execute(&mut *pooled).await?;
            }
        }
    }
    Ok(())
}

/// See `Store::row_security_bypass`: PostgreSQL's catalogs answer; SQLite has no policies.
pub(crate) async fn row_security_bypass(db: &Db) -> Result<Option<String>, StoreError> {
    let Db::Postgres(pool) = db else { return Ok(None) };
    let tables: Vec<String> =
        crate::tenant::TENANT_TABLES.iter().map(|table| (*table).to_owned()).collect();
    // Asked of a pooled connection, so `current_user` is the role after `SET ROLE`.
    // `MEMBER` rather than `USAGE`: `SET ROLE` reaches a role without inheriting from it.
    let (role, privileged, owned, unpoliced): (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT current_user::text, (SELECT string_agg(r.rolname, ', ') \
         FROM pg_roles r \
         WHERE (r.rolsuper OR r.rolbypassrls) AND pg_has_role(current_user, r.oid, 'MEMBER')), \
         (SELECT string_agg(c.relname, ', ') \
         FROM pg_class c \
         WHERE c.relkind = 'r' AND c.relname = ANY($1) AND \
         c.relnamespace = to_regnamespace(current_schema())::oid AND pg_has_role(current_user, \
         c.relowner, 'MEMBER')), (SELECT string_agg(c.relname, ', ') \
         FROM pg_class c \
         WHERE c.relkind = 'r' AND c.relname = ANY($1) AND \
         c.relnamespace = to_regnamespace(current_schema())::oid AND NOT (c.relrowsecurity AND \
         c.relforcerowsecurity))",
    )
    .bind(&tables)
    .fetch_one(pool)
    .await?;
    let reason = if let Some(roles) = privileged {
        format!(
            "the database role `{role}` is or can become a superuser or BYPASSRLS role ({roles})"
        )
    } else if let Some(tables) = owned {
        format!("the database role `{role}` owns tenant tables under row-level security ({tables})")
    } else if let Some(tables) = unpoliced {
        format!("row-level security is off or not forced on tenant tables ({tables})")
    } else {
        return Ok(None);
    };
    Ok(Some(reason))
}
