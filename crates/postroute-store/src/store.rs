//! The store's front door: how it connects and migrates, and the handles through which
//! everything else reaches its tables (accounts, sessions, the outbox, one tenant, one user's
//! view, the escape hatch).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use postroute_domain::{UserId, WorkspaceId};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use crate::StoreError;
use crate::accounts::Accounts;
use crate::cross_tenant::CrossTenant;
use crate::outbox::Outbox;
use crate::pool::{Db, SqlitePools};
use crate::sessions::Sessions;
use crate::system_events::SystemEvents;
use crate::tenant::{NewWorkspace, Tenant};
use crate::user_scope::UserScope;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// The SQL dialect behind a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// The embedded default: one file in the data directory.
    Sqlite,
    /// The deployment at scale.
    Postgres,
}

/// How to reach the database.
#[derive(Clone)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// Pool size ceiling.
    pub max_connections: u32,
    /// How long a caller waits for a pooled connection before the database counts as unavailable.
    pub acquire_timeout: Duration,
    /// PostgreSQL: the role every pooled connection switches to (`SET ROLE`), one that row-level
    /// security applies to. `None` when the login role itself is that restricted role.
    pub app_role: Option<String>,
}

impl std::fmt::Debug for StoreOptions {
    // The URL may hold a password: only its scheme is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("url", &self.url.split(':').next().unwrap_or_default())
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("app_role", &self.app_role)
            .finish()
    }
}

fn sqlite_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
    Ok(SqliteConnectOptions::from_str(url)
        .map_err(|error| StoreError::UnsupportedUrl(error.to_string()))?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
        .log_statements(tracing::log::LevelFilter::Trace))
}

fn postgres_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    Ok(PgConnectOptions::from_str(url)
        .map_err(|error| StoreError::UnsupportedUrl(error.to_string()))?
        .application_name("postroute")
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
enum Probe {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

/// PostRoute's database, whichever dialect it is.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) db: Db,
    /// Readiness connects afresh, outside the pool: pooled SQLite connections keep a deleted or
    /// unmounted file alive, and a PostgreSQL pool that is merely busy would look like a
    /// database that is away (where a fresh connection is refused, an idle pooled one may
    /// still answer).
    probe: Probe,
    /// Whether the database is known to be away (see `availability`).
    pub(crate) availability: Arc<crate::availability::Availability>,
}

impl Store {
    /// Opens a pool for `options.url`; SQLite files are created on first use.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        let url = options.url.as_str();
        if url.starts_with("sqlite:") {
            let connect = sqlite_options(url)?;
            let write = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone().create_if_missing(true))
                .await?;
            let read = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone().pragma("query_only", "ON"))
                .await?;
            Ok(Self {
                db: Db::Sqlite(SqlitePools { read, write }),
                probe: Probe::Sqlite(connect.create_if_missing(false)),
                availability: crate::availability::fresh(),
            })
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
            Ok(Self {
                db: Db::Postgres(pool),
                probe: Probe::Postgres(connect),
                availability: crate::availability::fresh(),
            })
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StoreError::UnsupportedUrl(format!(
                "scheme `{scheme}` is neither sqlite nor postgres"
            )))
        }
    }

    /// Applies the embedded migrations that have not run yet, over a connection of its own as
    /// the configured login user (the schema's owner), before any pool exists.
    ///
    /// Several processes starting at once apply each migration exactly once: on PostgreSQL the
    /// migrator holds an advisory lock; SQLite has no such lock, so the processes sharing a
    /// database file (`serve` and `worker`, say) take turns on a lock file beside it.
    pub async fn migrate(options: &StoreOptions) -> Result<(), StoreError> {
        let url = options.url.as_str();
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
            .map_err(|error| {
                StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(error)))
            })?
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

    /// Which SQL dialect this store speaks.
    pub fn dialect(&self) -> Dialect {
        match self.db {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Succeeds when the database answers a query right now.
    pub async fn check_ready(&self) -> Result<(), StoreError> {
        match &self.probe {
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
                    let Db::Postgres(pool) = &self.db else { return Err(error.into()) };
                    let Some(mut pooled) = pool.try_acquire() else { return Err(error.into()) };
                    sqlx::query("SELECT 1").execute(&mut *pooled).await?;
                }
            }
        }
        Ok(())
    }

    /// Why the role pooled connections run as could step around row-level security, or `None`
    /// when the policies bind it (S-TENANT-2). A superuser or a `BYPASSRLS` role ignores every
    /// policy, and so does a role that can become one; an owner of a tenant table could switch
    /// its security off; and a tenant table whose security is off or not forced binds nobody.
    /// SQLite has no policies to bypass, so it always answers `None`.
    pub async fn row_security_bypass(&self) -> Result<Option<String>, StoreError> {
        let Db::Postgres(pool) = &self.db else { return Ok(None) };
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
            format!(
                "the database role `{role}` owns tenant tables under row-level security ({tables})"
            )
        } else if let Some(tables) = unpoliced {
            format!("row-level security is off or not forced on tenant tables ({tables})")
        } else {
            return Ok(None);
        };
        Ok(Some(reason))
    }

    /// Verified webhook deliveries.
    pub fn webhook_events(&self) -> crate::WebhookEvents<'_> {
        crate::WebhookEvents::new(&self.db)
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

    /// One workspace's data: the only door to tenant rows (S-TENANT-1).
    pub fn tenant(&self, workspace: WorkspaceId) -> Tenant<'_> {
        Tenant::new(&self.db, workspace)
    }

    /// One user's own memberships across workspaces.
    pub fn user_scope(&self, user: UserId) -> UserScope<'_> {
        UserScope::new(&self.db, user)
    }

    /// Creates a workspace owned by `workspace.owner`, with its first audit entry.
    pub async fn create_workspace(
        &self,
        workspace: &NewWorkspace<'_>,
        audit: &postroute_domain::NewAuditEntry,
    ) -> Result<(), StoreError> {
        crate::tenant::create_workspace(&self.db, workspace, audit).await
    }

    /// THE ESCAPE HATCH from tenant scope: reads across every workspace. Only billing, webhook
    /// ingestion, the worker's jobs and staff endpoints may call it; a test enforces the list.
    pub fn cross_tenant_unscoped(&self) -> CrossTenant<'_> {
        CrossTenant::new(&self.db)
    }

    /// Closes every pooled connection, waiting for the ones in use to be returned.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pools) => {
                pools.read.close().await;
                pools.write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}
