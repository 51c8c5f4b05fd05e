//! A logical copy of the whole database, for encrypted backups (S-DATA-1). This module knows the
//! tables and their order; the server encrypts what it writes and decrypts what it reads.
//!
//! The copy is a stream of lines: a header naming the dialect and schema version, then per
//! table a line naming it and its columns, its rows, and an end marker (`\.`). PostgreSQL rows
//! are `COPY` text lines (exact for every type); SQLite rows are JSON arrays of their values.
//! A copy is restored only into a database of the same dialect and schema version that holds no
//! data yet, in one transaction: it lands whole or not at all.

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{Row, TypeInfo, ValueRef};

use crate::StoreError;
use crate::pool::Db;

/// Every table, parents before children, so rows restore in this order without breaking a
/// foreign key. A test compares it with the schema: a new table cannot be left out.
pub const BACKUP_TABLES: [&str; 21] = [
    "users",
    "sessions",
    "refresh_tokens",
    "email_tokens",
    "email_outbox",
    "system_events",
    "workspaces",
    "memberships",
    "invitations",
    "audit_log",
    "channels",
    "channel_slots",
    "oauth_states",
    "pending_connections",
    "media",
    "posts",
    "post_media",
    "post_targets",
    "publish_attempts",
    "webhook_events",
    "provider_pauses",
];

/// Ends a table's rows. Neither format can produce it as a row: COPY text escapes a leading
/// backslash, and JSON arrays start with `[`.
const END_OF_TABLE: &[u8] = b"\\.";
const FORMAT: &str = "postroute-backup/1";

/// The first line of a copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpHeader {
    /// `postroute-backup/1`.
    pub format: String,
    /// `sqlite` or `postgres`.
    pub dialect: String,
    /// The newest migration applied when the copy was taken.
    pub schema_version: i64,
    /// When.
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct TableHeader {
    table: String,
    columns: Vec<String>,
}

/// What a dump or restore covered: rows per table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableCounts(pub Vec<(String, u64)>);

impl TableCounts {
    /// Rows in all tables.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, rows)| rows).sum()
    }
}

/// Where a dump's lines go (the server encrypts them).
pub trait DumpSink: Send {
    /// Takes one line, without its newline.
    fn line(&mut self, line: &[u8]) -> impl Future<Output = std::io::Result<()>> + Send;
}

/// Where a restore's lines come from (the server decrypts them).
pub trait DumpSource: Send {
    /// The next line without its newline, or `None` at the end.
    fn next_line(&mut self) -> impl Future<Output = std::io::Result<Option<Vec<u8>>>> + Send;
}

/// Why a copy could not be restored; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The copy is not one this version reads, or it is cut short or garbled.
    #[error("not a readable backup: {0}")]
    Malformed(String),
    /// The copy was taken from the other dialect, or at another schema version.
    #[error("{0}")]
    Incompatible(String),
    /// The target database already holds data.
    #[error("the database already holds data: restore into a freshly migrated, empty database")]
    NotEmpty,
    /// Reading the copy failed (for an encrypted backup: it was tampered with or the key is
    /// wrong).
    #[error("reading the backup failed: {0}")]
    Source(#[source] std::io::Error),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for RestoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Store(error.into())
    }
}

fn io_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Database(sqlx::Error::Io(std::io::Error::other(error.to_string())))
}

/// Backups of the whole database. Obtained from `Store::backups`.
#[derive(Debug, Clone, Copy)]
pub struct Backups<'a> {
    db: &'a Db,
}

impl<'a> Backups<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        Self { db }
    }

    fn dialect(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Writes a consistent copy of every table to `sink`: one snapshot, whatever writes while
    /// it runs.
    pub async fn dump<S: DumpSink>(
        &self,
        sink: &mut S,
        now: DateTime<Utc>,
    ) -> Result<TableCounts, StoreError> {
        let mut counts = TableCounts::default();
        match self.db {
            Db::Postgres(pool) => {
                let mut tx =
                    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
                sqlx::query("SELECT set_config('postroute.cross_tenant', 'on', true)")
                    .execute(&mut *tx)
                    .await?;
                let version = schema_version_pg(&mut tx).await?;
                self.write_header(sink, version, now).await?;
                for table in BACKUP_TABLES {
                    let columns = columns_pg(&mut tx, table).await?;
                    write_table_header(sink, table, &columns).await?;
                    let list = quoted_list(&columns);
                    let statement =
                        format!("COPY (SELECT {list} FROM {table}) TO STDOUT WITH (FORMAT text)");
                    let mut stream = tx.copy_out_raw(&statement).await?;
                    let mut pending = Vec::new();
                    let mut rows = 0;
                    while let Some(chunk) = stream.next().await {
                        pending.extend_from_slice(&chunk?);
                        while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                            sink.line(&pending[..end]).await.map_err(io_error)?;
                            pending.drain(..=end);
                            rows += 1;
                        }
                    }
                    drop(stream);
                    sink.line(END_OF_TABLE).await.map_err(io_error)?;
                    counts.0.push((table.to_owned(), rows));
                }
                tx.commit().await?;
            }
            Db::Sqlite(pools) => {
                let mut tx = pools.read.begin_with("BEGIN").await?;
                let (version,): (Option<i64>,) =
                    sqlx::query_as("SELECT max(version) FROM _sqlx_migrations")
                        .fetch_one(&mut *tx)
                        .await?;
                self.write_header(sink, version.unwrap_or(0), now).await?;
                for table in BACKUP_TABLES {
                    let columns = columns_sqlite(&mut tx, table).await?;
                    write_table_header(sink, table, &columns).await?;
                    // Row by row: a table is never held whole in memory.
                    let select = format!("SELECT {} FROM {table}", quoted_list(&columns));
                    let mut rows = sqlx::query(&select).fetch(&mut *tx);
                    let mut count = 0;
                    while let Some(row) = rows.next().await {
                        let row = row?;
                        let values = (0..row.len())
                            .map(|index| sqlite_value(&row, index))
                            .collect::<Result<Vec<_>, _>>()?;
                        let line = serde_json::to_vec(&values).map_err(io_error)?;
                        sink.line(&line).await.map_err(io_error)?;
                        count += 1;
                    }
                    drop(rows);
                    sink.line(END_OF_TABLE).await.map_err(io_error)?;
                    counts.0.push((table.to_owned(), count));
                }
                tx.commit().await?;
            }
        }
        Ok(counts)
    }

    async fn write_header<S: DumpSink>(
        &self,
        sink: &mut S,
        schema_version: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let header = DumpHeader {
            format: FORMAT.to_owned(),
            dialect: self.dialect().to_owned(),
            schema_version,
            created_at: now,
        };
        let line = serde_json::to_vec(&header).map_err(io_error)?;
        sink.line(&line).await.map_err(io_error)
    }

    /// Restores a copy into this database, which must be of the copy's dialect and schema
    /// version and hold no data, in one transaction.
    pub async fn restore<S: DumpSource>(
        &self,
        source: &mut S,
        now: DateTime<Utc>,
    ) -> Result<TableCounts, RestoreError> {
        let header = read_header(source).await?;
        if header.dialect != self.dialect() {
            return Err(RestoreError::Incompatible(format!(
                "this backup is of a {} database; the configured database is {}",
                header.dialect,
                self.dialect()
            )));
        }
        let mut counts = TableCounts::default();
        match self.db {
            Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT set_config('postroute.cross_tenant', 'on', true)")
                    .execute(&mut *tx)
                    .await?;
                check_target(schema_version_pg(&mut tx).await?, &header)?;
                // Nobody registers while the restore runs (every other row hangs off a user).
                sqlx::query("LOCK TABLE users IN EXCLUSIVE MODE").execute(&mut *tx).await?;
                for table in BACKUP_TABLES {
                    let (rows,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}"))
                        .fetch_one(&mut *tx)
                        .await?;
                    if rows > 0 {
                        return Err(RestoreError::NotEmpty);
                    }
                }
                for table in BACKUP_TABLES {
                    let columns = read_table_header(source, table).await?;
                    let list = quoted_list(&columns);
                    // COPY FROM refuses tables under row-level security: rows land in a
                    // temporary twin first, then move over with INSERT, which the policies check.
                    let staging = format!("restore_{table}");
                    sqlx::query(&format!(
                        "CREATE TEMPORARY TABLE {staging} (LIKE {table} INCLUDING DEFAULTS) ON \
                         COMMIT DROP"
                    ))
                    .execute(&mut *tx)
                    .await?;
                    let statement =
                        format!("COPY {staging} ({list}) FROM STDIN WITH (FORMAT text)");
                    let mut copy = tx.copy_in_raw(&statement).await?;
                    let mut rows = 0;
                    loop {
                        let line = next(source).await?;
                        if line == END_OF_TABLE {
                            break;
                        }
                        let mut data = line;
                        data.push(b'\n');
                        copy.send(data).await?;
                        rows += 1;
                    }
                    copy.finish().await?;
                    sqlx::query(&format!(
                        "INSERT INTO {table} ({list}) SELECT {list} FROM {staging}"
                    ))
                    .execute(&mut *tx)
                    .await?;
                    counts.0.push((table.to_owned(), rows));
                }
                expect_end(source).await?;
                sqlx::query(END_RESTORED_SESSIONS).bind(now).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Db::Sqlite(pools) => {
                let mut tx = pools.write.begin_with("BEGIN IMMEDIATE").await?;
                let (version,): (Option<i64>,) =
                    sqlx::query_as("SELECT max(version) FROM _sqlx_migrations")
                        .fetch_one(&mut *tx)
                        .await?;
                check_target(version.unwrap_or(0), &header)?;
                for table in BACKUP_TABLES {
                    let (rows,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}"))
                        .fetch_one(&mut *tx)
                        .await?;
                    if rows > 0 {
                        return Err(RestoreError::NotEmpty);
                    }
                }
                for table in BACKUP_TABLES {
                    let columns = read_table_header(source, table).await?;
                    let statement = format!(
                        "INSERT INTO {table} ({}) VALUES ({})",
                        quoted_list(&columns),
                        (1..=columns.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
                    );
                    let mut rows = 0;
                    loop {
                        let line = next(source).await?;
                        if line == END_OF_TABLE {
                            break;
                        }
                        let values: Vec<SqliteValue> =
                            serde_json::from_slice(&line).map_err(|error| {
                                RestoreError::Malformed(format!("a row of {table}: {error}"))
                            })?;
                        if values.len() != columns.len() {
                            return Err(RestoreError::Malformed(format!(
                                "a row of {table} has {} values for {} columns",
                                values.len(),
                                columns.len()
                            )));
                        }
                        let mut query = sqlx::query(&statement);
                        for value in values {
                            query = match value {
                                SqliteValue::Null(()) => query.bind(None::<i64>),
                                SqliteValue::Integer(value) => query.bind(value),
                                SqliteValue::Real(value) => query.bind(value),
                                SqliteValue::Text(value) => query.bind(value),
                                SqliteValue::Blob(value) => query.bind(
                                    STANDARD.decode(value.as_bytes()).map_err(|error| {
                                        RestoreError::Malformed(format!(
                                            "a blob in {table}: {error}"
                                        ))
                                    })?,
                                ),
                            };
                        }
                        query.execute(&mut *tx).await?;
                        rows += 1;
                    }
                    counts.0.push((table.to_owned(), rows));
                }
                expect_end(source).await?;
                sqlx::query(END_RESTORED_SESSIONS).bind(now).execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(counts)
    }
}

/// Every session in a backup was live when it was taken, including ones revoked since (a
/// logout, a staff revocation, a stolen token's family): after a restore everyone signs in again.
const END_RESTORED_SESSIONS: &str = "UPDATE sessions \
                                     SET revoked_at = $1, revoked_reason = 'restored_from_backup' \
                                     WHERE revoked_at IS NULL";

/// Reads a copy through without a database: its header and rows per table. A copy that reads
/// through is complete (and, encrypted, authentic).
pub async fn read_through<S: DumpSource>(
    source: &mut S,
) -> Result<(DumpHeader, TableCounts), RestoreError> {
    let header = read_header(source).await?;
    let mut counts = TableCounts::default();
    for table in BACKUP_TABLES {
        read_table_header(source, table).await?;
        let mut rows = 0;
        while next(source).await? != END_OF_TABLE {
            rows += 1;
        }
        counts.0.push((table.to_owned(), rows));
    }
    expect_end(source).await?;
    Ok((header, counts))
}

/// One SQLite value as JSON: `{"i":1}`, `{"r":1.5}`, `{"t":"x"}`, `{"b":"base64"}`, `{"n":null}`.
#[derive(Serialize, Deserialize)]
enum SqliteValue {
    #[serde(rename = "n")]
    Null(()),
    #[serde(rename = "i")]
    Integer(i64),
    #[serde(rename = "r")]
    Real(f64),
    #[serde(rename = "t")]
    Text(String),
    #[serde(rename = "b")]
    Blob(String),
}

fn sqlite_value(row: &sqlx::sqlite::SqliteRow, index: usize) -> Result<SqliteValue, StoreError> {
    let raw = row.try_get_raw(index)?;
    if raw.is_null() {
        return Ok(SqliteValue::Null(()));
    }
    let kind = raw.type_info().name().to_owned();
    Ok(match kind.as_str() {
        "INTEGER" => SqliteValue::Integer(row.try_get(index)?),
        "REAL" => SqliteValue::Real(row.try_get(index)?),
        "TEXT" => SqliteValue::Text(row.try_get(index)?),
        "BLOB" => SqliteValue::Blob(STANDARD.encode(row.try_get::<Vec<u8>, _>(index)?)),
        other => {
            return Err(StoreError::CorruptRow {
                table: "backup",
                reason: format!("SQLite type {other}"),
            });
        }
    })
}

fn quoted_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|column| format!("\"{}\"", column.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn schema_version_pg(conn: &mut sqlx::PgConnection) -> Result<i64, StoreError> {
    let (version,): (Option<i64>,) =
        sqlx::query_as("SELECT max(version) FROM _sqlx_migrations").fetch_one(conn).await?;
    Ok(version.unwrap_or(0))
}

async fn columns_pg(conn: &mut sqlx::PgConnection, table: &str) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

async fn columns_sqlite(
    conn: &mut sqlx::SqliteConnection,
    table: &str,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM pragma_table_info($1) ORDER BY cid")
            .bind(table)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

async fn write_table_header<S: DumpSink>(
    sink: &mut S,
    table: &str,
    columns: &[String],
) -> Result<(), StoreError> {
    let header = TableHeader { table: table.to_owned(), columns: columns.to_vec() };
    let line = serde_json::to_vec(&header).map_err(io_error)?;
    sink.line(&line).await.map_err(io_error)
}

async fn next<S: DumpSource>(source: &mut S) -> Result<Vec<u8>, RestoreError> {
    source
        .next_line()
        .await
        .map_err(RestoreError::Source)?
        .ok_or_else(|| RestoreError::Malformed("the backup ends early".to_owned()))
}

async fn read_header<S: DumpSource>(source: &mut S) -> Result<DumpHeader, RestoreError> {
    let line = next(source).await?;
    let header: DumpHeader = serde_json::from_slice(&line)
        .map_err(|_| RestoreError::Malformed("no backup header".to_owned()))?;
    if header.format != FORMAT {
        return Err(RestoreError::Malformed(format!("format {} is not {FORMAT}", header.format)));
    }
    Ok(header)
}

async fn read_table_header<S: DumpSource>(
    source: &mut S,
    expected: &str,
) -> Result<Vec<String>, RestoreError> {
    let line = next(source).await?;
    let header: TableHeader = serde_json::from_slice(&line)
        .map_err(|_| RestoreError::Malformed(format!("expected the table {expected}")))?;
    if header.table != expected {
        return Err(RestoreError::Malformed(format!(
            "expected the table {expected}, found {}",
            header.table
        )));
    }
    Ok(header.columns)
}

async fn expect_end<S: DumpSource>(source: &mut S) -> Result<(), RestoreError> {
    match source.next_line().await.map_err(RestoreError::Source)? {
        None => Ok(()),
        Some(_) => Err(RestoreError::Malformed("data after the last table".to_owned())),
    }
}

fn check_target(version: i64, header: &DumpHeader) -> Result<(), RestoreError> {
    if version == header.schema_version {
        Ok(())
    } else {
        Err(RestoreError::Incompatible(format!(
            "the backup is at schema version {}, the database at {version}: restore with the \
             PostRoute version that took the backup",
            header.schema_version
        )))
    }
}
