//! The storage error type: what went wrong, classified for the layers above.

/// A failed storage operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is not accepting work right now; retrying later may help.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A uniqueness rule of the schema refused the write.
    #[error("unique constraint violated: {constraint}")]
    Conflict {
        /// The constraint (PostgreSQL) or column list (SQLite) that refused the write.
        constraint: String,
    },
    /// Anything else the database reported; a bug or a schema mismatch, never the client's fault.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying the embedded migrations failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The configured database URL is not one PostRoute can use.
    #[error("unsupported database url: {0}")]
    UnsupportedUrl(String),
    /// A stored value could not be turned back into a domain value.
    #[error("corrupt row in {table}: {reason}")]
    CorruptRow {
        /// The table the row came from.
        table: &'static str,
        /// What was wrong with it.
        reason: String,
    },
}

impl StoreError {
    /// True when the failure is the database being away, not the statement being wrong.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(error),
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() {
                    let constraint = db
                        .constraint()
                        .map(str::to_owned)
                        .unwrap_or_else(|| sqlite_unique_columns(db.message()));
                    return Self::Conflict { constraint };
                }
                if db.code().as_deref().is_some_and(is_unavailable_code) {
                    Self::Unavailable(error)
                } else {
                    Self::Database(error)
                }
            }
            _ => Self::Database(error),
        }
    }
}

/// SQLSTATEs (PostgreSQL) and result codes (SQLite) that mean "not now" rather than "wrong".
fn is_unavailable_code(code: &str) -> bool {
    // PostgreSQL: class 08 connection exceptions, 53 insufficient resources,
    // 57P01..57P03 shutdown / cannot connect now, 3D000 database gone.
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "57P01" | "57P02" | "57P03" | "3D000")
        // SQLite: BUSY, LOCKED, IOERR, FULL, CANTOPEN (extended codes keep the low byte).
                // SQLite's codes are at most four digits; PostgreSQL's SQLSTATEs are five characters,
        // some all digits (42501), which must not be mistaken for SQLite's.
        || (code.len() < 5
            && code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14)))
}

/// SQLite names the columns, not the constraint: "UNIQUE constraint failed: users.email_normalized".
fn sqlite_unique_columns(message: &str) -> String {
    message.rsplit(": ").next().unwrap_or(message).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_and_resource_codes_are_unavailability() {
        for code in ["08006", "08001", "53300", "57P01", "57P03", "3D000", "5", "517", "14"] {
            assert!(is_unavailable_code(code), "{code}");
        }
        // 42501 (insufficient privilege) is all digits, and 42501 & 0xff is SQLite's BUSY.
        for code in ["23505", "42P01", "42501", "19", "2067"] {
            assert!(!is_unavailable_code(code), "{code}");
        }
    }

    #[test]
    fn sqlite_unique_message_names_the_columns() {
        assert_eq!(
            sqlite_unique_columns("UNIQUE constraint failed: users.email_normalized"),
            "users.email_normalized"
        );
    }
}
