//! A workspace's posts, with the files they carry (`post_media`) and the channels they go to
//! (`post_targets`). Every write names the version it was based on, so two members editing one
//! post cannot silently overwrite each other, and an edit cannot land on a post the publisher
//! has claimed meanwhile.

use chrono::{DateTime, Utc};
use postroute_domain::{
    ChannelId, MediaId, NewAuditEntry, PostId, PostStatus, TargetStatus, UserId, Variants,
};
use sqlx::types::Json;
use uuid::Uuid;

use super::{Tenant, audit};
use crate::StoreError;
use crate::dialect::RowLock;
use crate::pool::Conn;

/// A post as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    /// Its id.
    pub id: PostId,
    /// Where it is in its life.
    pub status: PostStatus,
    /// The text, used wherever no variant replaces it.
    pub content: String,
    /// Per-platform replacements.
    pub variants: Variants,
    /// When it is to be published.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Who wrote it (gone when they erased their account).
    pub author_id: Option<UserId>,
    /// Who last changed its content, when someone did after writing it.
    pub edited_by: Option<UserId>,
    /// Who last submitted it for review.
    pub submitted_by: Option<UserId>,
    /// Why a reviewer last sent it back.
    pub rejection_reason: Option<String>,
    /// Why it is where it is, in a word (`rejected`, `approval_expired`), when that needs
    /// saying.
    pub status_reason: Option<String>,
    /// Who last approved or rejected it.
    pub reviewed_by: Option<UserId>,
    /// When.
    pub reviewed_at: Option<DateTime<Utc>>,
    /// When its current content was approved; cleared by an edit or a rejection.
    pub approved_at: Option<DateTime<Utc>>,
    /// Bumped by every write.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Its files, in order.
    pub media_ids: Vec<MediaId>,
    /// Its channels, in order, with how publishing to each went.
    pub targets: Vec<Target>,
}

impl Post {
    /// The channels, in order.
    pub fn channel_ids(&self) -> Vec<ChannelId> {
        self.targets.iter().map(|target| target.channel_id).collect()
    }
}

/// One channel of a post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The channel.
    pub channel_id: ChannelId,
    /// How publishing to it went.
    pub status: TargetStatus,
    /// The platform's id of the published post.
    pub platform_post_id: Option<String>,
    /// Where it can be seen.
    pub url: Option<String>,
    /// The platform's last refusal.
    pub error: Option<String>,
    /// Publish attempts so far.
    pub attempts: i32,
    /// When it went out.
    pub published_at: Option<DateTime<Utc>>,
    /// The class of its last failure (`rate_limited`, `auth_dead`, `permanent`, `transient`,
    /// `ambiguous`), while it has one.
    pub error_class: Option<String>,
    /// When it was last sent to its platform.
    pub last_attempt_at: Option<DateTime<Utc>>,
}

impl Target {
    /// A channel nothing has been attempted on yet.
    pub fn pending(channel_id: ChannelId) -> Self {
        Self {
            channel_id,
            status: TargetStatus::Pending,
            platform_post_id: None,
            url: None,
            error: None,
            attempts: 0,
            published_at: None,
            error_class: None,
            last_attempt_at: None,
        }
    }
}

/// What a post write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PostSaved {
    /// Written; the post as it now is.
    Saved(Box<Post>),
    /// The post changed (or went) since the version the write was based on; nothing written.
    Stale,
    /// Channels or files that are not in the workspace; nothing written.
    Missing {
        /// Unknown channels.
        channels: Vec<ChannelId>,
        /// Unknown files.
        media: Vec<MediaId>,
    },
}

/// Which posts to list.
#[derive(Clone, Debug, Default)]
pub struct PostFilter {
    /// Only posts in this status.
    pub status: Option<PostStatus>,
    /// Only posts scheduled at or after this.
    pub from: Option<DateTime<Utc>>,
    /// Only posts scheduled before this.
    pub to: Option<DateTime<Utc>>,
    /// Only posts going to this channel.
    pub channel: Option<ChannelId>,
}

#[derive(sqlx::FromRow)]
struct PostRow {
    id: Uuid,
    status: String,
    content: String,
    variants: Json<Variants>,
    scheduled_at: Option<DateTime<Utc>>,
    author_id: Option<Uuid>,
    edited_by: Option<Uuid>,
    submitted_by: Option<Uuid>,
    rejection_reason: Option<String>,
    status_reason: Option<String>,
    reviewed_by: Option<Uuid>,
    reviewed_at: Option<DateTime<Utc>>,
    approved_at: Option<DateTime<Utc>>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

const POST_COLUMNS: &str = "id, status, content, variants, scheduled_at, author_id, edited_by, \
          submitted_by, rejection_reason, status_reason, reviewed_by, reviewed_at, approved_at, \
          version, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct TargetRow {
    post_id: Uuid,
    channel_id: Uuid,
    status: String,
    platform_post_id: Option<String>,
    url: Option<String>,
    error: Option<String>,
    attempts: i32,
    published_at: Option<DateTime<Utc>>,
    error_class: Option<String>,
    last_attempt_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct PostMediaRow {
    post_id: Uuid,
    media_id: Uuid,
}

fn corrupt(reason: String) -> StoreError {
    StoreError::CorruptRow { table: "posts", reason }
}

impl PostRow {
    fn into_post(self, media_ids: Vec<MediaId>, targets: Vec<Target>) -> Result<Post, StoreError> {
        Ok(Post {
            id: PostId::from_uuid(self.id),
            status: PostStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("status `{}`", self.status)))?,
            content: self.content,
            variants: self.variants.0,
            scheduled_at: self.scheduled_at,
            author_id: self.author_id.map(UserId::from_uuid),
            edited_by: self.edited_by.map(UserId::from_uuid),
            submitted_by: self.submitted_by.map(UserId::from_uuid),
            rejection_reason: self.rejection_reason,
            status_reason: self.status_reason,
            reviewed_by: self.reviewed_by.map(UserId::from_uuid),
            reviewed_at: self.reviewed_at,
            approved_at: self.approved_at,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            media_ids,
            targets,
        })
    }
}

impl TryFrom<TargetRow> for Target {
    type Error = StoreError;

    fn try_from(row: TargetRow) -> Result<Self, StoreError> {
        Ok(Self {
            channel_id: ChannelId::from_uuid(row.channel_id),
            status: TargetStatus::parse(&row.status)
                .ok_or_else(|| corrupt(format!("target status `{}`", row.status)))?,
            platform_post_id: row.platform_post_id,
            url: row.url,
            error: row.error,
            attempts: row.attempts,
            published_at: row.published_at,
            error_class: row.error_class,
            last_attempt_at: row.last_attempt_at,
        })
    }
}

/// `$first, $first+1, ...`: placeholders for an `IN` list of `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// The statuses that pass `keep`, as an SQL list: the domain decides, the SQL follows.
fn statuses_where(keep: impl Fn(PostStatus) -> bool) -> String {
    PostStatus::ALL
        .into_iter()
        .filter(|status| keep(*status))
        .map(|status| format!("'{}'", status.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The statuses whose posts no longer hold their files, as an SQL list.
pub(super) fn released_statuses() -> String {
    statuses_where(|status| !status.holds_media())
}

impl Tenant<'_> {
    /// Adds a post with its files and channels (all `pending`), in one transaction.
    pub async fn insert_post(&self, post: &Post) -> Result<PostSaved, StoreError> {
        let mut tx = self.begin().await?;
        if let Some(missing) = self.find_missing(tx.conn(), post).await? {
            return Ok(missing);
        }
        on_conn!(tx.conn(), |c| {
            sqlx::query(
                "INSERT INTO posts (workspace_id, id, status, content, variants, scheduled_at, \
                 author_id, rejection_reason, reviewed_by, reviewed_at, version, created_at, \
                 updated_at, approved_at, edited_by, submitted_by, status_reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17)",
            )
            .bind(self.workspace.as_uuid())
            .bind(post.id.as_uuid())
            .bind(post.status.as_str())
            .bind(&post.content)
            .bind(Json(&post.variants))
            .bind(post.scheduled_at)
            .bind(post.author_id.map(|user| user.as_uuid()))
            .bind(post.rejection_reason.as_deref())
            .bind(post.reviewed_by.map(|user| user.as_uuid()))
            .bind(post.reviewed_at)
            .bind(post.version)
            .bind(post.created_at)
            .bind(post.updated_at)
            .bind(post.approved_at)
            .bind(post.edited_by.map(|user| user.as_uuid()))
            .bind(post.submitted_by.map(|user| user.as_uuid()))
            .bind(post.status_reason.as_deref())
            .execute(&mut *c)
            .await
            .map(drop)
        })?;
        self.insert_media_references(tx.conn(), post).await?;
        self.insert_targets(tx.conn(), post).await?;
        let saved = self.select_post(tx.conn(), post.id).await?;
        tx.commit().await?;
        Ok(saved.map_or(PostSaved::Stale, |post| PostSaved::Saved(Box::new(post))))
    }

    /// Replaces a post that has not started publishing with `post`, if it is still at
    /// `post.version` and still editable (so nothing written here can undo the publisher's
    /// claim). Files and channels are rewritten only when they changed; new channels start as
    /// `pending`. The version is bumped; `audit`, if any, is written in the same transaction.
    pub async fn save_post(
        &self,
        post: &Post,
        audit: Option<&NewAuditEntry>,
    ) -> Result<PostSaved, StoreError> {
        self.write_post(post, audit, false).await
    }

    /// [`save_post`](Self::save_post) for an approval or a rejection by `post.reviewed_by`:
    /// refused (stale) where the workspace requires approval, as it says at this moment, and
    /// the reviewer wrote, last edited or submitted the post.
    pub async fn save_review(
        &self,
        post: &Post,
        audit: &NewAuditEntry,
    ) -> Result<PostSaved, StoreError> {
        self.write_post(post, Some(audit), true).await
    }

    async fn write_post(
        &self,
        post: &Post,
        audit: Option<&NewAuditEntry>,
        review: bool,
    ) -> Result<PostSaved, StoreError> {
        let mut tx = self.begin().await?;
        if let Some(missing) = self.find_missing(tx.conn(), post).await? {
            return Ok(missing);
        }
        let sql = format!(
            "UPDATE posts \
             SET status = $3, content = $4, variants = $5, scheduled_at = $6, \
             rejection_reason = $7, reviewed_by = $8, reviewed_at = $9, updated_at = $10, \
             approved_at = $12, edited_by = $15, submitted_by = $16, status_reason = $17, \
             version = version + 1 \
             WHERE workspace_id = $1 AND id = $2 AND version = $11 AND status IN ({}) AND (NOT $13 \
             OR NOT (SELECT approval_required \
             FROM workspaces \
             WHERE id = $1)) AND (NOT $14 OR NOT (SELECT approval_required \
             FROM workspaces \
             WHERE id = $1) OR ((author_id IS NULL OR author_id <> $8) AND (edited_by IS NULL OR \
             edited_by <> $8) AND (submitted_by IS NULL OR submitted_by <> $8)))",
            statuses_where(PostStatus::is_editable)
        );
        // A post goes on the schedule without an approval only where none is required, as the
        // workspace says now, not as the request read it (the setting may have just changed).
        let needs_no_approval = post.status == PostStatus::Scheduled && post.approved_at.is_none();
        if needs_no_approval || review {
            // Waits for a settings change in flight (it holds this lock), so the check below
            // reads the setting as it will be, not as it was.
            crate::dialect::lock_workspace(tx.conn(), self.workspace).await?;
        }
        let updated = on_conn!(tx.conn(), |c| sqlx::query(&sql)
            .bind(self.workspace.as_uuid())
            .bind(post.id.as_uuid())
            .bind(post.status.as_str())
            .bind(&post.content)
            .bind(Json(&post.variants))
            .bind(post.scheduled_at)
            .bind(post.rejection_reason.as_deref())
            .bind(post.reviewed_by.map(|user| user.as_uuid()))
            .bind(post.reviewed_at)
            .bind(post.updated_at)
            .bind(post.version)
            .bind(post.approved_at)
            .bind(needs_no_approval)
            .bind(review)
            .bind(post.edited_by.map(|user| user.as_uuid()))
            .bind(post.submitted_by.map(|user| user.as_uuid()))
            .bind(post.status_reason.as_deref())
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        if updated == 0 {
            return Ok(PostSaved::Stale);
        }
        let (mut media, mut targets) =
            self.select_references(tx.conn(), &[post.id.as_uuid()]).await?;
        let stored_media = media.remove(&post.id.as_uuid()).unwrap_or_default();
        let stored_channels: Vec<ChannelId> = targets
            .remove(&post.id.as_uuid())
            .unwrap_or_default()
            .into_iter()
            .map(|target| target.channel_id)
            .collect();
        if stored_media != post.media_ids {
            self.delete_references(tx.conn(), "post_media", post.id).await?;
            self.insert_media_references(tx.conn(), post).await?;
        }
        if stored_channels != post.channel_ids() {
            self.delete_references(tx.conn(), "post_targets", post.id).await?;
            self.insert_targets(tx.conn(), post).await?;
        } else {
            on_conn!(tx.conn(), |c| sqlx::query(
                "UPDATE post_targets SET next_attempt_at = $3 \
                 WHERE workspace_id = $1 AND post_id = $2 AND status = 'pending'",
            )
            .bind(self.workspace.as_uuid())
            .bind(post.id.as_uuid())
            .bind(due_at(post))
            .execute(&mut *c)
            .await
            .map(drop))?;
        }
        if let Some(audit) = audit {
            audit::insert_entry(tx.conn(), self.workspace, audit, post.updated_at).await?;
        }
        let saved = self.select_post(tx.conn(), post.id).await?;
        tx.commit().await?;
        Ok(saved.map_or(PostSaved::Stale, |post| PostSaved::Saved(Box::new(post))))
    }

    /// Deletes a post (with its files' and channels' rows) if it is still at `version` and in a
    /// status that may be deleted.
    pub async fn delete_post(&self, id: PostId, version: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!(
            "DELETE FROM posts \
             WHERE workspace_id = $1 AND id = $2 AND version = $3 AND status IN ({})",
            statuses_where(PostStatus::is_deletable)
        );
        let deleted = on_conn!(tx.conn(), |c| sqlx::query(&sql)
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .bind(version)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected()))?;
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// One post.
    pub async fn post(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        let mut tx = self.begin_read().await?;
        let post = self.select_post(tx.conn(), id).await?;
        tx.commit().await?;
        Ok(post)
    }

    /// Posts matching `filter`, newest first, at most `limit` after `cursor` (the last id of the
    /// previous page).
    pub async fn posts(
        &self,
        filter: &PostFilter,
        cursor: Option<PostId>,
        limit: u32,
    ) -> Result<Vec<Post>, StoreError> {
        let sql = format!(
            "SELECT {POST_COLUMNS} \
             FROM posts p \
             WHERE p.workspace_id = $1 AND ($2 IS NULL OR p.id < $2) AND ($3 IS NULL OR \
             p.status = $3) AND ($4 IS NULL OR p.scheduled_at >= $4) AND ($5 IS NULL OR \
             p.scheduled_at < $5) AND ($6 IS NULL OR EXISTS (SELECT 1 \
             FROM post_targets t \
             WHERE t.workspace_id = $1 AND t.post_id = p.id AND t.channel_id = $6)) \
             ORDER BY p.id DESC LIMIT $7"
        );
        let mut tx = self.begin_read().await?;
        let rows: Vec<PostRow> = on_conn!(tx.conn(), |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .bind(cursor.map(|id| id.as_uuid()))
            .bind(filter.status.map(PostStatus::as_str))
            .bind(filter.from)
            .bind(filter.to)
            .bind(filter.channel.map(|id| id.as_uuid()))
            .bind(i64::from(limit))
            .fetch_all(&mut *c)
            .await)?;
        let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
        let (mut media, mut targets) = self.select_references(tx.conn(), &ids).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|row| {
                let files = media.remove(&row.id).unwrap_or_default();
                let channels = targets.remove(&row.id).unwrap_or_default();
                row.into_post(files, channels)
            })
            .collect()
    }

    /// The channels and files `post` names that are not in the workspace, as a refusal. On
    /// PostgreSQL the files found are share-locked until the write commits, so a concurrent
    /// delete waits and then sees the post holding them.
    async fn find_missing(
        &self,
        mut conn: Conn<'_>,
        post: &Post,
    ) -> Result<Option<PostSaved>, StoreError> {
        let lock = RowLock::Share.clause(self.db);
        let mut channels = Vec::new();
        for target in &post.targets {
            let found: Option<(Uuid,)> = on_conn!(&mut conn, |c| sqlx::query_as(
                "SELECT id FROM channels WHERE workspace_id = $1 AND id = $2",
            )
            .bind(self.workspace.as_uuid())
            .bind(target.channel_id.as_uuid())
            .fetch_optional(&mut **c)
            .await)?;
            if found.is_none() {
                channels.push(target.channel_id);
            }
        }
        let mut media = Vec::new();
        let sql = format!("SELECT id FROM media WHERE workspace_id = $1 AND id = $2 {lock}");
        for id in &post.media_ids {
            let found: Option<(Uuid,)> = on_conn!(&mut conn, |c| sqlx::query_as(&sql)
                .bind(self.workspace.as_uuid())
                .bind(id.as_uuid())
                .fetch_optional(&mut **c)
                .await)?;
            if found.is_none() {
                media.push(*id);
            }
        }
        Ok((!channels.is_empty() || !media.is_empty())
            .then_some(PostSaved::Missing { channels, media }))
    }

    async fn delete_references(
        &self,
        conn: Conn<'_>,
        table: &'static str,
        post: PostId,
    ) -> Result<(), StoreError> {
        let sql = format!("DELETE FROM {table} WHERE workspace_id = $1 AND post_id = $2");
        on_conn!(conn, |c| sqlx::query(&sql)
            .bind(self.workspace.as_uuid())
            .bind(post.as_uuid())
            .execute(&mut *c)
            .await
            .map(drop))?;
        Ok(())
    }

    async fn insert_media_references(
        &self,
        mut conn: Conn<'_>,
        post: &Post,
    ) -> Result<(), StoreError> {
        for (position, media) in post.media_ids.iter().enumerate() {
            on_conn!(&mut conn, |c| {
                sqlx::query(
                    "INSERT INTO post_media (workspace_id, post_id, position, media_id) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(self.workspace.as_uuid())
                .bind(post.id.as_uuid())
                .bind(i32::try_from(position).unwrap_or(i32::MAX))
                .bind(media.as_uuid())
                .execute(&mut **c)
                .await
                .map(drop)
            })?;
        }
        Ok(())
    }

    async fn insert_targets(&self, mut conn: Conn<'_>, post: &Post) -> Result<(), StoreError> {
        for (position, target) in post.targets.iter().enumerate() {
            on_conn!(&mut conn, |c| sqlx::query(
                "INSERT INTO post_targets (workspace_id, post_id, channel_id, position, status, \
                 platform_post_id, url, error, attempts, published_at, next_attempt_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(self.workspace.as_uuid())
            .bind(post.id.as_uuid())
            .bind(target.channel_id.as_uuid())
            .bind(i32::try_from(position).unwrap_or(i32::MAX))
            .bind(target.status.as_str())
            .bind(target.platform_post_id.as_deref())
            .bind(target.url.as_deref())
            .bind(target.error.as_deref())
            .bind(target.attempts)
            .bind(target.published_at)
            .bind(due_at(post).filter(|_| target.status == TargetStatus::Pending))
            .execute(&mut **c)
            .await
            .map(drop))?;
        }
        Ok(())
    }

    pub(super) async fn select_post(
        &self,
        mut conn: Conn<'_>,
        id: PostId,
    ) -> Result<Option<Post>, StoreError> {
        let sql = format!("SELECT {POST_COLUMNS} FROM posts WHERE workspace_id = $1 AND id = $2");
        let row: Option<PostRow> = on_conn!(&mut conn, |c| sqlx::query_as(&sql)
            .bind(self.workspace.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(&mut **c)
            .await)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (mut media, mut targets) = self.select_references(conn, &[row.id]).await?;
        let files = media.remove(&row.id).unwrap_or_default();
        let channels = targets.remove(&row.id).unwrap_or_default();
        row.into_post(files, channels).map(Some)
    }

    /// The files and channels of `posts`, each in order, keyed by post.
    async fn select_references(
        &self,
        mut conn: Conn<'_>,
        posts: &[Uuid],
    ) -> Result<(ByPost<MediaId>, ByPost<Target>), StoreError> {
        let mut media = ByPost::new();
        let mut targets = ByPost::new();
        if posts.is_empty() {
            return Ok((media, targets));
        }
        let list = placeholders(2, posts.len());
        let media_sql = format!(
            "SELECT post_id, media_id \
             FROM post_media \
             WHERE workspace_id = $1 AND post_id IN ({list}) \
             ORDER BY post_id, position"
        );
        let target_sql = format!(
            "SELECT post_id, channel_id, status, platform_post_id, url, error, attempts, \
             published_at, error_class, last_attempt_at \
             FROM post_targets \
             WHERE workspace_id = $1 AND post_id IN ({list}) \
             ORDER BY post_id, position"
        );
        let media_rows: Vec<PostMediaRow> = on_conn!(&mut conn, |c| {
            let mut query = sqlx::query_as(&media_sql).bind(self.workspace.as_uuid());
            for post in posts {
                query = query.bind(*post);
            }
            query.fetch_all(&mut **c).await
        })?;
        let target_rows: Vec<TargetRow> = on_conn!(&mut conn, |c| {
            let mut query = sqlx::query_as(&target_sql).bind(self.workspace.as_uuid());
            for post in posts {
                query = query.bind(*post);
            }
            query.fetch_all(&mut **c).await
        })?;
        for row in media_rows {
            media.entry(row.post_id).or_default().push(MediaId::from_uuid(row.media_id));
        }
        for row in target_rows {
            let post = row.post_id;
            targets.entry(post).or_default().push(Target::try_from(row)?);
        }
        Ok((media, targets))
    }
}

type ByPost<T> = std::collections::HashMap<Uuid, Vec<T>>;

/// When the post's pending targets come due: its time while it is scheduled, never otherwise.
/// The claim reads a target's due time from its own row (`next_attempt_at`), so that the due
/// targets are one range of one index, whatever else is pending.
fn due_at(post: &Post) -> Option<DateTime<Utc>> {
    post.scheduled_at.filter(|_| post.status == PostStatus::Scheduled)
}
