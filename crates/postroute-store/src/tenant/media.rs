//! A workspace's media library rows. The bytes live in object storage under `object_key`.

use chrono::{DateTime, Utc};
use postroute_domain::{MediaId, MediaKind, NewAuditEntry, UserId, WorkspaceId};
use uuid::Uuid;

use super::Tenant;
use crate::StoreError;
use crate::pool::Conn;

/// A media file as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// Its id.
    pub id: MediaId,
    /// Image or video.
    pub kind: MediaKind,
    /// The sniffed MIME type.
    pub mime: String,
    /// Stored size.
    pub size_bytes: i64,
    /// Pixels wide.
    pub width: Option<i32>,
    /// Pixels high.
    pub height: Option<i32>,
    /// Videos: length.
    pub duration_ms: Option<i64>,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
    /// Where the bytes are.
    pub object_key: String,
    /// Who uploaded it.
    pub uploaded_by: Option<UserId>,
    /// Upload time.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct MediaRow {
    id: Uuid,
    kind: String,
    mime: String,
    size_bytes: i64,
    width: Option<i32>,
    height: Option<i32>,
    duration_ms: Option<i64>,
    sha256: String,
    object_key: String,
    uploaded_by: Option<Uuid>,
    created_at: DateTime<Utc>,
}

const MEDIA_COLUMNS: &str = "id, kind, mime, size_bytes, width, height, duration_ms, sha256, \
     object_key, uploaded_by, created_at";

impl TryFrom<MediaRow> for Media {
    type Error = StoreError;

    fn try_from(row: MediaRow) -> Result<Self, StoreError> {
        let kind = match row.kind.as_str() {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            other => {
                return Err(StoreError::CorruptRow {
                    table: "media",
                    reason: format!("kind `{other}`"),
                });
            }
        };
        Ok(Self {
            id: MediaId::from_uuid(row.id),
            kind,
            mime: row.mime,
            size_bytes: row.size_bytes,
            width: row.width,
            height: row.height,
            duration_ms: row.duration_ms,
            sha256: row.sha256,
            object_key: row.object_key,
            uploaded_by: row.uploaded_by.map(UserId::from_uuid),
            created_at: row.created_at,
        })
    }
}

/// What deleting a file from the library did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaRemoval {
    /// The row is gone; its object is for the caller to remove.
    Deleted(Box<Media>),
    /// No such file.
    NotFound,
    /// Posts that have not finished publishing hold it; nothing was deleted.
    InUse {
        /// How many.
        posts: i64,
    },
}

/// What recording an upload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaInserted {
    /// The file is in the library.
    Inserted,
    /// It would take the library past its quota; nothing was written.
    QuotaExceeded {
        /// Bytes the library holds already.
        used_bytes: u64,
    },
    /// The workspace was deleted while the file arrived; nothing was written.
    WorkspaceGone,
}

impl Tenant<'_> {
    /// Records a stored file with its audit entry, unless the library would then hold more than
    /// `quota_bytes`. The total is read under the workspace lock, so concurrent uploads cannot
    /// both squeeze under the quota.
    pub async fn insert_media(
        &self,
        media: &Media,
        quota_bytes: u64,
        audit: &NewAuditEntry,
    ) -> Result<MediaInserted, StoreError> {
        let mut tx = self.begin().await?;
        crate::dialect::lock_workspace(tx.conn(), self.workspace).await?;
        // Checked under the lock the purge also takes, so a file never lands in a workspace
        // whose objects are being removed.
        if super::select_workspace(tx.conn(), self.workspace).await?.is_none() {
            return Ok(MediaInserted::WorkspaceGone);
        }
        let (used,): (Option<i64>,) = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT CAST(SUM(size_bytes) AS BIGINT) FROM media WHERE workspace_id = $1",
        )
        .bind(self.workspace.as_uuid())
        .fetch_one(&mut *c)
        .await)?;
        let used_bytes = u64::try_from(used.unwrap_or(0)).unwrap_or(0);
        let size = u64::try_from(media.size_bytes).unwrap_or(u64::MAX);
        if used_bytes.saturating_add(size) > quota_bytes {
            return Ok(MediaInserted::QuotaExceeded { used_bytes });
        }
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "INSERT INTO media (workspace_id, id, kind, mime, size_bytes, width, height, \
                 duration_ms, sha256, object_key, uploaded_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(self.workspace.as_uuid())
            .bind(media.id.as_uuid())
            .bind(media.kind.as_str())
            .bind(&media.mime)
            .bind(media.size_bytes)
            .bind(media.width)
            .bind(media.height)
            .bind(media.duration_ms)
            .bind(&media.sha256)
            .bind(&media.object_key)
            .bind(media.uploaded_by.map(|user| user.as_uuid()))
            .bind(media.created_at)
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
        super::audit::insert_entry(tx.conn(), self.workspace, audit, media.created_at).await?;
        tx.commit().await?;
        Ok(MediaInserted::Inserted)
    }

    /// The library, newest first, at most `limit` after `cursor` (the last id of the previous page).
    pub async fn media(
        &self,
        cursor: Option<MediaId>,
        limit: u32,
    ) -> Result<Vec<Media>, StoreError> {
        let sql = format!(
            "SELECT {MEDIA_COLUMNS} FROM media WHERE workspace_id = $1 \
             AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3"
        );
        let mut tx = self.begin_read().await?;
        let rows: Vec<MediaRow> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .bind(cursor.map(|id| id.as_uuid()))
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await)?;
        tx.commit().await?;
        rows.into_iter().map(Media::try_from).collect()
    }

    /// One file.
    pub async fn media_item(&self, id: MediaId) -> Result<Option<Media>, StoreError> {
        let sql = format!("SELECT {MEDIA_COLUMNS} FROM media WHERE workspace_id = $1 AND id = $2");
        let mut tx = self.begin_read().await?;
        let row: Option<MediaRow> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(&mut *c)
            .await)?;
        tx.commit().await?;
        row.map(Media::try_from).transpose()
    }

    /// Where every file of the library is stored (deleted workspaces included), for the purge.
    pub async fn media_object_keys(&self) -> Result<Vec<String>, StoreError> {
        let mut tx = self.begin_read().await?;
        let keys: Vec<(String,)> = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT object_key FROM media WHERE workspace_id = $1",
        )
        .bind(self.workspace.as_uuid())
        .fetch_all(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(keys.into_iter().map(|(key,)| key).collect())
    }

    /// Bytes the library holds, for the plan's storage quota.
    pub async fn media_bytes(&self) -> Result<i64, StoreError> {
        let mut tx = self.begin_read().await?;
        let (total,): (Option<i64>,) = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT CAST(SUM(size_bytes) AS BIGINT) FROM media WHERE workspace_id = $1",
        )
        .bind(self.workspace.as_uuid())
        .fetch_one(&mut *c)
        .await)?;
        tx.commit().await?;
        Ok(total.unwrap_or(0))
    }

    /// Deletes a file unless a post that has not finished publishing holds it. Posts that have
    /// finished let go of it first: the platforms have their copies.
    pub async fn delete_media(
        &self,
        id: MediaId,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> Result<MediaRemoval, StoreError> {
        let mut tx = self.begin().await?;
        let release = format!(
            "DELETE FROM post_media WHERE workspace_id = $1 AND media_id = $2 AND post_id IN \
             (SELECT id FROM posts WHERE workspace_id = $1 AND status IN ({}))",
            super::posts::released_statuses()
        );
        on_conn!(tx.conn(), |c| sqlx::query(&release)
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *c)
            .await
            .map(drop))?;
        let (holders,): (i64,) = on_conn!(tx.conn(), |c| sqlx::query_as(
            "SELECT count(*) FROM post_media WHERE workspace_id = $1 AND media_id = $2",
        )
        .bind(self.workspace.as_uuid())
        .bind(id.as_uuid())
        .fetch_one(&mut *c)
        .await)?;
        if holders > 0 {
            return Ok(MediaRemoval::InUse { posts: holders });
        }
        let deleted = match delete_media_row(tx.conn(), self.workspace, id).await {
            // A post that took the file after the count above, and committed first.
            Err(sqlx::Error::Database(error)) if error.is_foreign_key_violation() => {
                return Ok(MediaRemoval::InUse { posts: 1 });
            }
            other => other?,
        };
        let Some(row) = deleted else {
            return Ok(MediaRemoval::NotFound);
        };
        super::audit::insert_entry(tx.conn(), self.workspace, audit, now).await?;
        tx.commit().await?;
        Ok(MediaRemoval::Deleted(Box::new(Media::try_from(row)?)))
    }
}

async fn delete_media_row(
    conn: Conn<'_>,
    workspace: WorkspaceId,
    id: MediaId,
) -> Result<Option<MediaRow>, sqlx::Error> {
    let sql =
        format!("DELETE FROM media WHERE workspace_id = $1 AND id = $2 RETURNING {MEDIA_COLUMNS}");
    on_conn!(conn, |c| sqlx::query_as(&sql)
        .bind(workspace.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(&mut *c)
        .await)
}
