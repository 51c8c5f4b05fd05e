//! The store's front door: how it connects and migrates, and the handles through which
//! everything else reaches its tables (accounts, sessions, the outbox, one tenant, one user's
//! view, the escape hatch).

use std::sync::Arc;
use std::time::Duration;

use postroute_domain::{UserId, WorkspaceId};

use crate::StoreError;
use crate::accounts::Accounts;
use crate::cross_tenant::CrossTenant;
use crate::dialect::Probe;
use crate::outbox::Outbox;
use crate::pool::Db;
use crate::sessions::Sessions;
use crate::system_events::SystemEvents;
use crate::tenant::{NewWorkspace, Tenant};
use crate::user_scope::UserScope;

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
    /// The publisher's intents and answers waiting to share a commit: one queue per store,
    /// shared by its clones.
    commits: Arc<crate::publishing::GroupCommit>,
}

impl Store {
    /// Opens a pool for `options.url`; SQLite files are created on first use.
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        let (db, probe) = crate::dialect::open(options).await?;
        let commits = Arc::new(crate::publishing::GroupCommit::for_db(&db));
        Ok(Self { db, probe, availability: crate::availability::fresh(), commits })
    }

    /// Applies the embedded migrations that have not run yet, over a connection of its own as
    /// the configured login user (the schema's owner), before any pool exists.
    ///
    /// Several processes starting at once apply each migration exactly once: on PostgreSQL the
    /// migrator holds an advisory lock; SQLite has no such lock, so the processes sharing a
    /// database file (`serve` and `worker`, say) take turns on a lock file beside it.
    pub async fn migrate(options: &StoreOptions) -> Result<(), StoreError> {
        crate::dialect::migrate(&options.url).await
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
        crate::dialect::check_ready(&self.probe, &self.db).await
    }

    /// Why the role pooled connections run as could step around row-level security, or `None`
    /// when the policies bind it (S-TENANT-2). A superuser or a `BYPASSRLS` role ignores every
    /// policy, and so does a role that can become one; an owner of a tenant table could switch
    /// its security off; and a tenant table whose security is off or not forced binds nobody.
    /// SQLite has no policies to bypass, so it always answers `None`.
    pub async fn row_security_bypass(&self) -> Result<Option<String>, StoreError> {
        crate::dialect::row_security_bypass(&self.db).await
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
        CrossTenant::new(&self.db, &self.commits)
    }

    /// Closes every pooled connection, waiting for the ones in use to be returned.
    pub async fn close(&self) {
        self.db.close().await;
    }
}
