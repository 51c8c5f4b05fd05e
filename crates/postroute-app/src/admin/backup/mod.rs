//! Encrypted backups (S-DATA-1): a logical copy of the database (the store's dump), encrypted
//! with the backup key — never the OAuth key, never the database's — in authenticated chunks, so
//! a tampered, truncated or wrong-key file is refused before a row of it is used.
//!
//! File layout: `PRBACKUP`, a format byte, the key id (the first 8 bytes of the key's SHA-256,
//! so a wrong key is told apart from tampering), an 8-byte random nonce prefix; then chunks of
//! `[last: u8][length: u32 BE][AES-256-GCM ciphertext]`. A chunk's nonce is the prefix and its
//! index; its associated data is the file header, the index and the `last` flag, so chunks
//! cannot be reordered, dropped, or cut off after a non-final chunk.

mod file;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use postroute_store::{DumpHeader, RestoreError, Store, StoreError, TableCounts, read_through};

pub use file::{BackupReader, BackupWriter};

use crate::clock;

/// Backup files end in this.
const EXTENSION: &str = "backup";
/// Their names carry the time they were taken, in this form.
const NAME_TIME: &str = "%Y%m%dT%H%M%SZ";

/// Why a backup command failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file is not a PostRoute backup, was changed, or was cut short.
    #[error("{0}")]
    Damaged(String),
    /// The file was encrypted with another key.
    #[error("this backup was encrypted with another key than backup.key")]
    WrongKey,
    /// The copy cannot be restored here (see the message).
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// One backup file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupFile {
    /// Where it is.
    pub path: PathBuf,
    /// When it was taken (from its name).
    pub taken_at: DateTime<Utc>,
    /// Its size.
    pub size_bytes: u64,
}

/// Takes a backup of `store` into `dir`; returns the file and what it holds.
pub async fn create(
    store: &Store,
    key: &[u8; 32],
    dir: &Path,
) -> Result<(BackupFile, TableCounts), BackupError> {
    tokio::fs::create_dir_all(dir).await?;
    let taken_at = clock::now();
    // Two backups in one second (overlapping cron runs) get files of their own.
    let mut suffix = [0u8; 3];
    getrandom::fill(&mut suffix)
        .map_err(|error| std::io::Error::other(format!("no randomness: {error}")))?;
    let suffix: String = suffix.iter().map(|byte| format!("{byte:02x}")).collect();
    let name = format!("postroute-{}-{suffix}.{EXTENSION}", taken_at.format(NAME_TIME));
    let path = dir.join(name);
    let mut writer = BackupWriter::create(&path, key).await?;
    let counts = match store.cross_tenant_unscoped().backups().dump(&mut writer, taken_at).await {
        Ok(counts) => counts,
        Err(error) => {
            writer.abandon().await;
            return Err(error.into());
        }
    };
    let size_bytes = writer.finish().await?;
    Ok((BackupFile { path, taken_at, size_bytes }, counts))
}

/// The backups in `dir`, oldest first.
pub async fn list(dir: &Path) -> Result<Vec<BackupFile>, BackupError> {
    let mut found = Vec::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error.into()),
    };
    while let Some(entry) = entries.next_entry().await? {
        let path = entry.path();
        let Some(taken_at) = taken_at(&path) else { continue };
        let size_bytes = entry.metadata().await?.len();
        found.push(BackupFile { path, taken_at, size_bytes });
    }
    found.sort_by_key(|file| file.taken_at);
    Ok(found)
}

fn taken_at(path: &Path) -> Option<DateTime<Utc>> {
    if path.extension()? != EXTENSION {
        return None;
    }
    let stem = path.file_stem()?.to_str()?.strip_prefix("postroute-")?;
    let time = stem.split('-').next()?;
    NaiveDateTime::parse_from_str(time, NAME_TIME).ok().map(|at| at.and_utc())
}

/// Reads a backup through: every chunk authenticated, every table present. Returns its header
/// and rows per table.
pub async fn verify(path: &Path, key: &[u8; 32]) -> Result<(DumpHeader, TableCounts), BackupError> {
    let mut reader = BackupReader::open(path, key).await?;
    read_through(&mut reader).await.map_err(damaged)
}

/// Restores a backup into `store`, which must be empty and at the backup's schema version. The
/// file is verified in full first, so a damaged one writes nothing; the restore itself is one
/// transaction.
pub async fn restore(
    store: &Store,
    path: &Path,
    key: &[u8; 32],
) -> Result<TableCounts, BackupError> {
    verify(path, key).await?;
    let mut reader = BackupReader::open(path, key).await?;
    store
        .cross_tenant_unscoped()
        .backups()
        .restore(&mut reader, clock::now())
        .await
        .map_err(damaged)
}

/// Deletes the backups in `dir` taken more than `retention_days` ago; returns them.
pub async fn prune(dir: &Path, retention_days: u32) -> Result<Vec<BackupFile>, BackupError> {
    let cutoff = clock::now() - chrono::Duration::days(i64::from(retention_days));
    let mut removed = Vec::new();
    for file in list(dir).await? {
        if file.taken_at < cutoff {
            tokio::fs::remove_file(&file.path).await?;
            removed.push(file);
        }
    }
    Ok(removed)
}

/// A read failure inside the store's restore is the file's fault: say so plainly.
fn damaged(error: RestoreError) -> BackupError {
    match error {
        RestoreError::Source(source) => match source.downcast::<file::ChunkRefused>() {
            Ok(refused) => BackupError::Damaged(refused.to_string()),
            Err(other) => BackupError::Io(other),
        },
        other => BackupError::Restore(other),
    }
}
