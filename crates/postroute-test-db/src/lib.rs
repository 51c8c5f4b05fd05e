//! A fresh database per test, removed when the test ends, and `#[db_test]`, which runs one test
//! body on each database. A crate of its own so that the store's tests need nothing above the
//! store: the full harness (`postroute-test-support`) builds on it.

#![expect(
    clippy::expect_used,
    clippy::panic,
    reason = "test support fails the test loudly when its environment is broken"
)]

/// One test per database: `#[db_test] async fn name(backend: Backend) { … }` becomes
/// `mod name { fn sqlite(); fn postgres(); }`. The body receives the [`Backend`] to run on; the
/// PostgreSQL variant returns early, after a printed notice, when PostgreSQL tests are not
/// enabled. The test's file names `Backend` in the signature, and so imports it.
///
/// ```ignore
/// #[db_test]
/// async fn readiness_answers(backend: Backend) {
///     let app = TestApp::spawn(backend).await;
///     app.get("/readyz", 200).await;
/// }
/// ```
pub use postroute_test_macros::db_test;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

/// The variable that enables PostgreSQL tests: an admin URL of the server to create databases on.
pub const POSTGRES_URL_VARIABLE: &str = "POSTROUTE_TEST_POSTGRES_URL";

/// The variable that enables Redis tests, e.g. `redis://127.0.0.1:6379`.
pub const REDIS_URL_VARIABLE: &str = "POSTROUTE_TEST_REDIS_URL";

/// The Redis URL when Redis tests are enabled; otherwise `None` after saying, once per test
/// binary, that they are skipped.
pub fn redis_url_from_env() -> Option<String> {
    static NOTICE: Once = Once::new();
    service_url_from_env(REDIS_URL_VARIABLE, &NOTICE, "Redis", "redis://127.0.0.1:6379")
}

/// Names an S3-compatible server (moto, MinIO) that accepts any credentials; S3 tests run
/// when it is set.
pub const S3_URL_VARIABLE: &str = "POSTROUTE_TEST_S3_URL";

/// The S3 endpoint when S3 tests are enabled; otherwise `None` after saying that they are
/// skipped.
pub fn s3_url_from_env() -> Option<String> {
    static NOTICE: Once = Once::new();
    service_url_from_env(S3_URL_VARIABLE, &NOTICE, "S3", "http://127.0.0.1:5000, a moto server")
}

/// The URL in `variable` when set; otherwise `None` after saying, once per test binary (per
/// `notice`), that the `service` tests are skipped.
fn service_url_from_env(
    variable: &str,
    notice: &Once,
    service: &str,
    example: &str,
) -> Option<String> {
    match std::env::var(variable) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            notice.call_once(|| {
                // Written to the real stderr, past the test harness's output capture.
                let _ = writeln!(
                    std::io::stderr(),
                    "NOTICE: {service} tests skipped: set {variable} (e.g. {example}) to run them"
                );
            });
            None
        }
    }
}

/// Which database a test runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's data directory.
    Sqlite,
    /// A new database on the server named by the admin URL.
    Postgres {
        /// URL of a database the test user may connect to and create databases from.
        admin_url: String,
    },
}

impl Backend {
    /// PostgreSQL when [`POSTGRES_URL_VARIABLE`] is set; otherwise `None` after saying, once per
    /// test binary, that PostgreSQL tests are skipped.
    pub fn postgres_from_env() -> Option<Self> {
        static NOTICE: Once = Once::new();
        let example = "postgres://postgres@127.0.0.1:5432/postgres";
        service_url_from_env(POSTGRES_URL_VARIABLE, &NOTICE, "PostgreSQL", example)
            .map(|admin_url| Self::Postgres { admin_url })
    }

    /// `sqlite` or `postgres`, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres { .. } => "postgres",
        }
    }
}

/// One test's database.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Sqlite { file: PathBuf },
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    /// Creates the database: a file path inside `data_dir` for SQLite (the app creates the
    /// file), a new empty database for PostgreSQL.
    ///
    /// # Panics
    /// When PostgreSQL tests are enabled but the server cannot be reached: CI must fail
    /// loudly rather than pass without them.
    pub async fn create(backend: &Backend, data_dir: &Path) -> Self {
        match backend {
            Backend::Sqlite => {
                let file = data_dir.join("postroute.db");
                Self { url: format!("sqlite://{}", file.display()), kind: Kind::Sqlite { file } }
            }
            Backend::Postgres { admin_url } => {
                let name = format!("postroute_test_{}", Uuid::now_v7().simple());
                let mut admin = PgConnection::connect(admin_url).await.unwrap_or_else(|error| {
                    panic!("{POSTGRES_URL_VARIABLE} is set but PostgreSQL is unreachable: {error}")
                });
                admin
                    .execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
                    .await
                    .unwrap_or_else(|error| panic!("cannot create test database {name}: {error}"));
                let _ = admin.close().await;
                let url = database_url(admin_url, &name);
                Self { url, kind: Kind::Postgres { admin_url: admin_url.clone(), name } }
            }
        }
    }

    /// The URL the app connects with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Makes the database unreachable for new connections (readiness tests): PostgreSQL stops
    /// accepting connections to it and drops the existing ones; the SQLite file is moved away.
    pub async fn make_unreachable(&self) {
        match &self.kind {
            Kind::Sqlite { file } => {
                std::fs::rename(file, away(file)).expect("move the SQLite file away");
            }
            Kind::Postgres { admin_url, name } => {
                let mut admin = PgConnection::connect(admin_url).await.expect("admin connection");
                admin
                    .execute(format!(r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS false"#).as_str())
                    .await
                    .expect("refuse connections");
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                )
                .bind(name)
                .execute(&mut admin)
                .await
                .expect("drop existing connections");
                let _ = admin.close().await;
            }
        }
    }

    /// Undoes [`make_unreachable`](Self::make_unreachable).
    pub async fn make_reachable(&self) {
        match &self.kind {
            Kind::Sqlite { file } => {
                std::fs::rename(away(file), file).expect("move the SQLite file back");
            }
            Kind::Postgres { admin_url, name } => {
                let mut admin = PgConnection::connect(admin_url).await.expect("admin connection");
                admin
                    .execute(format!(r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS true"#).as_str())
                    .await
                    .expect("accept connections");
                let _ = admin.close().await;
            }
        }
    }
}

fn away(file: &Path) -> PathBuf {
    file.with_extension("db.away")
}

/// The admin URL with its database name replaced.
fn database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url)
        .unwrap_or_else(|error| panic!("{POSTGRES_URL_VARIABLE} is not a URL: {error}"));
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Kind::Postgres { admin_url, name } = &self.kind else {
            return; // The SQLite file lives in the test's temporary directory.
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop cannot await, and may run inside a runtime: use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin
                    .execute(format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#).as_str())
                    .await?;
                admin.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ =
                writeln!(std::io::stderr(), "warning: test database {} was not dropped", self.url);
        }
    }
}
