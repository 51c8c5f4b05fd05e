//! What a user may see across workspaces: their own memberships, nothing of anyone else's.

use postroute_domain::{Role, UserId};

use crate::StoreError;
use crate::pool::{Db, Scope};
use crate::tenant::{WORKSPACE_COLUMNS, Workspace, WorkspaceRow, parse_role};

/// One user's view across workspaces. Obtained from `Store::user_scope`.
#[derive(Debug, Clone, Copy)]
pub struct UserScope<'a> {
    db: &'a Db,
    user: UserId,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    #[sqlx(flatten)]
    workspace: WorkspaceRow,
    role: String,
}

impl<'a> UserScope<'a> {
    pub(crate) fn new(db: &'a Db, user: UserId) -> Self {
        Self { db, user }
    }

    /// The live workspaces the user belongs to, with their role, oldest first.
    pub async fn workspaces(&self) -> Result<Vec<(Workspace, Role)>, StoreError> {
        let sql = format!(
            "SELECT {WORKSPACE_COLUMNS}, m.role AS role FROM memberships m \
             JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.user_id = $1 AND w.deleted_at IS NULL ORDER BY w.created_at, w.id"
        );
        let mut tx = self.db.begin_read_in(Scope::User(self.user)).await?;
        let rows: Vec<MembershipRow> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(self.user.as_uuid())
            .fetch_all(&mut *c)
            .await)?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| {
                Ok((Workspace::try_from(row.workspace)?, parse_role(&row.role, "memberships")?))
            })
            .collect()
    }
}
