//! The escape hatch from tenant scope. Every read here can see every workspace, so its callers
//! are few and named: billing, webhook ingestion, the scheduler and staff endpoints. A test in
//! postroute-server fails when anything else calls `Store::cross_tenant_unscoped`.

use postroute_domain::WorkspaceId;

use crate::StoreError;
use crate::pool::{Db, Scope};
use crate::tenant::{WORKSPACE_COLUMNS, Workspace, WorkspaceRow};

/// Access to every workspace at once. Obtained only from `Store::cross_tenant_unscoped`.
#[derive(Debug, Clone, Copy)]
pub struct CrossTenant<'a> {
    db: &'a Db,
}

impl<'a> CrossTenant<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// Any live workspace by id, without a member to act for (a billing webhook's customer,
    /// a due post's workspace).
    pub async fn workspace(&self, id: WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces w WHERE w.id = $1 AND w.deleted_at IS NULL"
        );
        let mut tx = self.db.begin_in(Scope::CrossTenant).await?;
        let row: Option<WorkspaceRow> = on_conn!(tx.conn(), c => sqlx::query_as(&sql)
            .bind(id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        tx.commit().await?;
        row.map(Workspace::try_from).transpose()
    }
}
