//! The transactional email outbox: rows written with the action that causes them, claimed by a
//! worker with a lease, and marked sent exactly once.

use chrono::{DateTime, Utc};
use postroute_domain::{EmailId, UserId};
use uuid::Uuid;

use crate::StoreError;
use crate::dialect::{Lease, claim_leased};
use crate::pool::{Conn, Db};

/// An email to queue.
#[derive(Debug)]
pub struct NewOutboxEmail<'a> {
    /// Its id; also the provider idempotency key, so a retried send is not a second email.
    pub id: EmailId,
    /// The account it concerns, if any (erasure removes its mail).
    pub user_id: Option<UserId>,
    /// Recipient address.
    pub to_address: &'a str,
    /// Template name, e.g. `verify_email`.
    pub template: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// The sealed text and HTML bodies.
    pub sealed_body: &'a [u8],
    /// Now; also the first attempt time.
    pub created_at: DateTime<Utc>,
}

/// Where a message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Waiting for (another) attempt.
    Pending,
    /// Accepted by the provider.
    Sent,
    /// Given up on.
    Failed,
}

/// A queued message.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxEmail {
    /// Its id.
    pub id: EmailId,
    /// The account it concerns.
    pub user_id: Option<UserId>,
    /// Recipient.
    pub to_address: String,
    /// Template name.
    pub template: String,
    /// Subject line.
    pub subject: String,
    /// Sealed bodies; `None` once sent or failed.
    pub sealed_body: Option<Vec<u8>>,
    /// Queue time.
    pub created_at: DateTime<Utc>,
    /// Attempts made so far (including the one in progress after a claim).
    pub attempts: i32,
    /// Delivery time.
    pub sent_at: Option<DateTime<Utc>>,
    /// When it was given up on.
    pub failed_at: Option<DateTime<Utc>>,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// The provider's id for the message.
    pub provider_message_id: Option<String>,
}

impl OutboxEmail {
    /// Pending, sent or failed.
    pub fn status(&self) -> OutboxStatus {
        match (self.sent_at, self.failed_at) {
            (Some(_), _) => OutboxStatus::Sent,
            (None, Some(_)) => OutboxStatus::Failed,
            (None, None) => OutboxStatus::Pending,
        }
    }
}

impl std::fmt::Debug for OutboxEmail {
    // Recipients are personal data and bodies carry single-use links: neither is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxEmail")
            .field("id", &self.id)
            .field("template", &self.template)
            .field("attempts", &self.attempts)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: Uuid,
    user_id: Option<Uuid>,
    to_address: String,
    template: String,
    subject: String,
    sealed_body: Option<Vec<u8>>,
    created_at: DateTime<Utc>,
    attempts: i32,
    sent_at: Option<DateTime<Utc>>,
    failed_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    provider_message_id: Option<String>,
}

impl From<OutboxRow> for OutboxEmail {
    fn from(row: OutboxRow) -> Self {
        Self {
            id: EmailId::from_uuid(row.id),
            user_id: row.user_id.map(UserId::from_uuid),
            to_address: row.to_address,
            template: row.template,
            subject: row.subject,
            sealed_body: row.sealed_body,
            created_at: row.created_at,
            attempts: row.attempts,
            sent_at: row.sent_at,
            failed_at: row.failed_at,
            last_error: row.last_error,
            provider_message_id: row.provider_message_id,
        }
    }
}

const OUTBOX_COLUMNS: &str = "id, user_id, to_address, template, subject, sealed_body, created_at, \
                              attempts, sent_at, failed_at, last_error, provider_message_id";

/// Outbox queries and actions.
#[derive(Debug)]
pub struct Outbox<'a> {
    db: &'a Db,
}

impl<'a> Outbox<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        Self { db }
    }

    /// Queues a message on its own (for actions that write nothing else).
    pub async fn enqueue(&self, email: &NewOutboxEmail<'_>) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        insert_email(tx.conn(), email).await?;
        tx.commit().await
    }

    /// Claims up to `limit` due messages until `lease_until`, counting the attempt; concurrent
    /// workers never claim the same message.
    pub async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<OutboxEmail>, StoreError> {
        let lease = Lease {
            table: "email_outbox",
            key: "id",
            lease_column: "locked_until",
            due: "sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1",
            order_by: "next_attempt_at",
            also_set: ", attempts = attempts + 1",
            returning: OUTBOX_COLUMNS,
            owner: None,
            then: None,
        };
        let rows: Vec<OutboxRow> =
            claim_leased(self.db, None, &lease, now, lease_until, limit).await?;
        Ok(rows.into_iter().map(OutboxEmail::from).collect())
    }

    /// Records delivery and forgets the bodies.
    pub async fn mark_sent(
        &self,
        id: EmailId,
        provider_message_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_writer!(self.db, |pool| sqlx::query(
            "UPDATE email_outbox SET sent_at = $2, provider_message_id = $3, sealed_body = NULL, \
             locked_until = NULL, last_error = NULL WHERE id = $1",
        )
        .bind(id.as_uuid())
        .bind(now)
        .bind(provider_message_id)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    /// Releases a claimed message for another attempt at `next_attempt_at`.
    pub async fn retry_later(
        &self,
        id: EmailId,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        on_writer!(self.db, |pool| sqlx::query(
            "UPDATE email_outbox SET next_attempt_at = $2, last_error = $3, locked_until = NULL \
             WHERE id = $1",
        )
        .bind(id.as_uuid())
        .bind(next_attempt_at)
        .bind(error)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    /// Gives up on a message and forgets its bodies.
    pub async fn mark_failed(
        &self,
        id: EmailId,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_writer!(self.db, |pool| sqlx::query(
            "UPDATE email_outbox SET failed_at = $2, last_error = $3, sealed_body = NULL, \
             locked_until = NULL WHERE id = $1",
        )
        .bind(id.as_uuid())
        .bind(now)
        .bind(error)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(())
    }

    /// One message.
    pub async fn find(&self, id: EmailId) -> Result<Option<OutboxEmail>, StoreError> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM email_outbox WHERE id = $1");
        let row: Option<OutboxRow> = on_reader!(self.db, |pool| sqlx::query_as(&sql)
            .bind(id.as_uuid())
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(OutboxEmail::from))
    }

    /// Every message to `to_address`, oldest first.
    pub async fn to_address(&self, to_address: &str) -> Result<Vec<OutboxEmail>, StoreError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} \
             FROM email_outbox \
             WHERE to_address = $1 \
             ORDER BY created_at, id"
        );
        let rows: Vec<OutboxRow> = on_reader!(self.db, |pool| sqlx::query_as(&sql)
            .bind(to_address)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(OutboxEmail::from).collect())
    }

    /// Every message concerning the user, oldest first (for the GDPR export).
    pub async fn for_user(&self, user: UserId) -> Result<Vec<OutboxEmail>, StoreError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM email_outbox WHERE user_id = $1 ORDER BY created_at, id"
        );
        let rows: Vec<OutboxRow> = on_reader!(self.db, |pool| sqlx::query_as(&sql)
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(OutboxEmail::from).collect())
    }
}

pub(crate) async fn insert_email(
    conn: Conn<'_>,
    email: &NewOutboxEmail<'_>,
) -> Result<(), StoreError> {
    on_conn!(conn, |c| sqlx::query(
        "INSERT INTO email_outbox \
         (id, user_id, to_address, template, subject, sealed_body, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(email.id.as_uuid())
    .bind(email.user_id.map(|user| user.as_uuid()))
    .bind(email.to_address)
    .bind(email.template)
    .bind(email.subject)
    .bind(email.sealed_body)
    .bind(email.created_at)
    .execute(&mut *c)
    .await
    .map(drop))?;
    Ok(())
}
