//! Group commit for the publisher's hottest writes: the intent before each call and the answer
//! after it. A worker has dozens of calls in flight, and each of them used to pay a transaction
//! of its own twice per target (on PostgreSQL: the scope, the commit, a WAL flush and their
//! round trips, more than the statements themselves). Writes that arrive while a commit is
//! under way wait for it and then go together in the next one, so an idle worker commits each
//! write at once and a busy one commits what accumulated during one commit. Every write still
//! waits for its own commit before its caller goes on: an intent is durable before its call
//! starts, as the protocol in `publishing.rs` requires.
//!
//! A transaction of several writes runs in the cross-tenant scope, as the claim does (each
//! statement names its workspace); one write alone keeps its workspace's scope. If a shared
//! transaction fails, each of its writes is tried again alone, so one write's failure is never
//! another's.

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use super::{Answer, AttemptId, TargetKey, TargetOutcome, write_answer, write_intent};
use crate::StoreError;
use crate::pool::{Db, Scope, Tx};

/// Transactions of shared writes that PostgreSQL commits at once, out of the pool's connections
/// (the claim and the reads need the rest).
const POSTGRES_TURNS: usize = 4;

/// One write that may share its commit.
#[derive(Debug)]
pub(crate) enum Write {
    /// [`super::Publishing::begin_attempt`].
    Intent {
        key: TargetKey,
        fence: i64,
        worker: String,
        now: DateTime<Utc>,
        must_hold_until: DateTime<Utc>,
    },
    /// [`super::Publishing::record_answer`].
    Answer {
        key: TargetKey,
        fence: i64,
        attempt: AttemptId,
        answer: Answer,
        outcome: TargetOutcome,
        now: DateTime<Utc>,
    },
}

/// What a write came to.
#[derive(Debug)]
pub(crate) enum Written {
    /// The intent's attempt, or `None`: do not call.
    Intent(Option<AttemptId>),
    /// Whether the outcome was applied (the fence still held).
    Answer(bool),
}

impl Write {
    fn key(&self) -> &TargetKey {
        match self {
            Self::Intent { key, .. } | Self::Answer { key, .. } => key,
        }
    }

    async fn apply(&self, db: &Db, tx: &mut Tx) -> Result<Written, StoreError> {
        match self {
            Self::Intent { key, fence, worker, now, must_hold_until } => Ok(Written::Intent(
                write_intent(tx, key, *fence, worker, *now, *must_hold_until).await?,
            )),
            Self::Answer { key, fence, attempt, answer, outcome, now } => Ok(Written::Answer(
                write_answer(db, tx, key, *fence, *attempt, answer, outcome, *now).await?,
            )),
        }
    }
}

struct Waiting {
    write: Write,
    done: oneshot::Sender<Result<Written, StoreError>>,
}

/// The writes waiting for the next commit, and the turns to commit. One per store, shared by
/// its clones: every publishing call of a process goes through it.
pub(crate) struct GroupCommit {
    waiting: std::sync::Mutex<Vec<Waiting>>,
    /// One per transaction that may be committing at once: SQLite has one writer; PostgreSQL
    /// commits several side by side (each flush waits on the disk, not on the others).
    turns: tokio::sync::Semaphore,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Shared commits for `db`.
    pub(crate) fn for_db(db: &Db) -> Self {
        let turns = match db {
            Db::Sqlite(_) => 1,
            Db::Postgres(_) => POSTGRES_TURNS,
        };
        Self { waiting: std::sync::Mutex::default(), turns: tokio::sync::Semaphore::new(turns) }
    }

    /// Commits `write`, with whatever else is waiting, and returns what it came to.
    pub(crate) async fn submit(&self, db: &Db, write: Write) -> Result<Written, StoreError> {
        let (done, mut result) = oneshot::channel();
        self.waiting().push(Waiting { write, done });
        loop {
            let Ok(turn) = self.turns.acquire().await else { return Err(abandoned()) };
            // Another caller may have committed this write with its own.
            match result.try_recv() {
                Ok(written) => return written,
                Err(oneshot::error::TryRecvError::Closed) => return Err(abandoned()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch = std::mem::take(&mut *self.waiting());
            if batch.is_empty() {
                // Taken by a commit still under way: its result comes from there.
                drop(turn);
                return result.await.unwrap_or_else(|_| Err(abandoned()));
            }
            commit(db, batch).await;
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<Waiting>> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Commits `batch` as one transaction, or, if that fails, each write alone.
async fn commit(db: &Db, mut batch: Vec<Waiting>) {
    // One order for every transaction's row locks (targets, then their posts, post by post),
    // so two workers' shared commits cannot wait on each other in a circle.
    batch.sort_by_key(|waiting| {
        let key = waiting.write.key();
        (key.workspace.as_uuid(), key.post.as_uuid(), key.channel.as_uuid())
    });
    if batch.len() > 1 {
        match apply_together(db, &batch).await {
            Ok(results) => {
                for (waiting, written) in batch.into_iter().zip(results) {
                    // A caller that went away no longer needs its result.
                    let _ = waiting.done.send(Ok(written));
                }
                return;
            }
            Err(error) => tracing::warn!(
                writes = batch.len(),
                error = display(&error),
                "a shared publishing commit failed; its writes are tried one by one"
            ),
        }
    }
    for waiting in batch {
        let _ = waiting.done.send(apply_alone(db, &waiting.write).await);
    }
}

async fn apply_together(db: &Db, batch: &[Waiting]) -> Result<Vec<Written>, StoreError> {
    let mut tx = db.begin_in(Scope::CrossTenant).await?;
    let mut results = Vec::with_capacity(batch.len());
    for waiting in batch {
        results.push(waiting.write.apply(db, &mut tx).await?);
    }
    tx.commit().await?;
    Ok(results)
}

async fn apply_alone(db: &Db, write: &Write) -> Result<Written, StoreError> {
    let mut tx = db.begin_in(Scope::Workspace(write.key().workspace)).await?;
    let written = write.apply(db, &mut tx).await?;
    tx.commit().await?;
    Ok(written)
}

/// The caller committing this write went away mid-commit: it was rolled back.
fn abandoned() -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(
        "a shared publishing commit was abandoned before it finished".to_owned(),
    ))
}
