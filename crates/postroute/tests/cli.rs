//! The command line as deployers script it: exit codes, one-line errors, redaction.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::process::{Command, Output};

use postroute_test_support::{Backend, TestDatabase, db_test};

fn postroute(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postroute"));
    for (name, _) in std::env::vars() {
        if name.starts_with("POSTROUTE_") {
            command.env_remove(name);
        }
    }
    command
        .current_dir(data_dir)
        .env("POSTROUTE_DATA_DIR", data_dir.join("data"))
        .env("POSTROUTE_LOG__LEVEL", "warn")
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("postroute runs")
}

/// Like [`postroute`], for a command expected to exit by itself: a `serve` that starts instead
/// of refusing is killed after `deadline` so that the test fails rather than hangs.
fn postroute_within(
    data_dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    deadline: std::time::Duration,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_postroute"));
    for (name, _) in std::env::vars() {
        if name.starts_with("POSTROUTE_") {
            command.env_remove(name);
        }
    }
    let mut child = command
        .current_dir(data_dir)
        .env("POSTROUTE_DATA_DIR", data_dir.join("data"))
        .env("POSTROUTE_LOG__LEVEL", "warn")
        .env("POSTROUTE_HTTP__LISTEN", "127.0.0.1:0")
        .envs(env.iter().copied())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("postroute runs");
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait for postroute").is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().expect("postroute's output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let output = postroute(
        dir.path(),
        &["config", "check"],
        &[
            ("POSTROUTE_AUTH__JWT_SECRET", secret),
            ("POSTROUTE_DATABASE__URL", "postgres://app:hunter2@db.internal/postroute"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(printed.contains("jwt_secret = \"[redacted]\""), "{printed}");
    assert!(printed.contains("listen = \"127.0.0.1:8443\""), "{printed}");
    assert!(!printed.contains(secret) && !printed.contains("hunter2"), "{printed}");
    assert!(!dir.path().join("data").exists(), "checking writes nothing");
}

#[test]
fn a_bad_key_fails_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        postroute(dir.path(), &["config", "check"], &[("POSTROUTE_HTTP__LISTEN", "localhost")]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    assert!(message.to_lowercase().contains("http.listen"), "{message}");
}

#[test]
fn production_refuses_to_start_with_development_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let output = postroute(dir.path(), &["serve"], &[("POSTROUTE_ENV", "production")]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("is required in production"), "{message}");
    assert!(!dir.path().join("data").exists(), "nothing was generated");
}

#[db_test]
async fn migrate_prepares_a_fresh_database(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path()).await;
    let output =
        postroute(dir.path(), &["migrate"], &[("POSTROUTE_DATABASE__URL", database.url())]);
    assert!(output.status.success(), "{}", stderr(&output));
    let label = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres { .. } => "PostgreSQL",
    };
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("migrations applied to {label}")
    );
    // A second run finds nothing to do and still succeeds.
    let again = postroute(dir.path(), &["migrate"], &[("POSTROUTE_DATABASE__URL", database.url())]);
    assert!(again.status.success(), "{}", stderr(&again));
}

/// proves S-TENANT-2: a pool whose role ignores the policies is refused at start-up, so
/// row-level security cannot silently vanish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_a_database_role_that_bypasses_row_level_security() {
    let Some(backend) = Backend::postgres_from_env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&backend, dir.path()).await;
    let url = [("POSTROUTE_DATABASE__URL", database.url())];
    let migrated = postroute(dir.path(), &["migrate"], &url);
    assert!(migrated.status.success(), "{}", stderr(&migrated));

    // `serve` as `role`: refused, with one line; the line.
    let serve_refused_as = |role: &str| {
        let output = postroute_within(
            dir.path(),
            &["serve"],
            &[("POSTROUTE_DATABASE__URL", database.url()), ("POSTROUTE_DATABASE__APP_ROLE", role)],
            std::time::Duration::from_secs(30),
        );
        let message = stderr(&output);
        assert!(!output.status.success(), "{message}");
        assert_eq!(message.trim_end().lines().count(), 1, "{message}");
        message
    };

    // The test login is a superuser; with no app role the pool would run as it.
    let message = serve_refused_as("");
    assert!(message.contains("row-level security would not bind"), "{message}");
    assert!(message.contains("is or can become a superuser or BYPASSRLS role"), "{message}");

    // A role with BYPASSRLS is refused the same way, and so is one that owns the tables.
    let admin_url = match &backend {
        Backend::Postgres { admin_url } => admin_url.clone(),
        Backend::Sqlite => unreachable!(),
    };
    let role = format!("postroute_test_bypass_{}", uuid::Uuid::now_v7().simple());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await.unwrap();
    for statement in
        [format!("CREATE ROLE {role} NOLOGIN BYPASSRLS"), format!("GRANT {role} TO CURRENT_USER")]
    {
        sqlx::Executor::execute(&mut admin, statement.as_str()).await.unwrap();
    }
    let message = serve_refused_as(&role);
    assert!(message.contains("is or can become a superuser or BYPASSRLS role"), "{message}");
    let _ = sqlx::Executor::execute(&mut admin, format!("DROP ROLE {role}").as_str()).await;

    // An owner of a policed table could switch its row-level security off.
    let owner = format!("postroute_test_owner_{}", uuid::Uuid::now_v7().simple());
    let mut tenant_db =
        <sqlx::PgConnection as sqlx::Connection>::connect(database.url()).await.unwrap();
    for statement in [
        format!("CREATE ROLE {owner} NOLOGIN"),
        format!("GRANT {owner} TO CURRENT_USER"),
        format!("ALTER TABLE posts OWNER TO {owner}"),
    ] {
        sqlx::Executor::execute(&mut tenant_db, statement.as_str()).await.unwrap();
    }
    let message = serve_refused_as(&owner);
    assert!(message.contains("owns tenant tables under row-level security (posts)"), "{message}");
    for statement in
        ["ALTER TABLE posts OWNER TO CURRENT_USER".to_owned(), format!("DROP ROLE {owner}")]
    {
        let _ = sqlx::Executor::execute(&mut tenant_db, statement.as_str()).await;
    }

    // A tenant table whose row-level security was switched off or unforced is not the schema
    // the migrations made: refused too, whatever role the pool runs as.
    sqlx::Executor::execute(&mut tenant_db, "ALTER TABLE media NO FORCE ROW LEVEL SECURITY")
        .await
        .unwrap();
    let message = serve_refused_as("postroute_app");
    assert!(
        message.contains("row-level security is off or not forced on tenant tables (media)"),
        "{message}"
    );
}

#[test]
fn serve_finishes_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_postroute"));
    for (name, _) in std::env::vars() {
        if name.starts_with("POSTROUTE_") {
            command.env_remove(name);
        }
    }
    let mut server = command
        .current_dir(dir.path())
        .env("POSTROUTE_DATA_DIR", dir.path().join("data"))
        .env("POSTROUTE_HTTP__LISTEN", format!("127.0.0.1:{port}"))
        .env("POSTROUTE_LOG__LEVEL", "warn")
        .arg("serve")
        .spawn()
        .expect("serve starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "serve did not start listening");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let signalled =
        Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(signalled.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "serve did not stop after SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    assert!(dir.path().join("data/postroute.db").exists());
}

#[test]
fn keys_generate_prints_a_fresh_32_byte_key() {
    let dir = tempfile::tempdir().unwrap();
    let first = postroute(dir.path(), &["keys", "generate"], &[]);
    let second = postroute(dir.path(), &["keys", "generate"], &[]);
    assert!(first.status.success());
    let key = String::from_utf8(first.stdout).unwrap();
    use base64::Engine;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(key.trim()).unwrap().len(), 32);
    assert_ne!(key, String::from_utf8(second.stdout).unwrap());
}

#[db_test]
async fn admin_grant_staff_and_revoke_staff_take_effect_at_the_next_request(backend: Backend) {
    let app = postroute_test_support::TestApp::spawn(backend).await;
    let user = app.signed_in_user("ops@example.com").await;
    let dir = tempfile::tempdir().unwrap();
    let database = [("POSTROUTE_DATABASE__URL", app.database().url())];
    app.get_as(&user.access_token, "/v1/admin/events", 404).await;

    let granted = postroute(dir.path(), &["admin", "grant-staff", "Ops@Example.com"], &database);
    assert!(granted.status.success(), "{}", stderr(&granted));
    // The log (on standard output too) shows the security event first.
    let printed = String::from_utf8_lossy(&granted.stdout).into_owned();
    assert_eq!(
        printed.trim_end().lines().last(),
        Some("Ops@Example.com is now staff"),
        "{printed}"
    );
    // Written to a pipe, the log carries no colour codes.
    assert!(printed.lines().count() > 1 && !printed.contains('\u{1b}'), "{printed:?}");
    let events =
        app.get_as(&user.access_token, "/v1/admin/events?type=staff_granted", 200).await.json();
    assert_eq!(events["items"][0]["details"]["user_id"], user.id.as_str());
    assert!(events["items"][0]["actor_id"].is_null());
    assert_eq!(events["items"][0]["severity"], "critical");

    let revoked = postroute(dir.path(), &["admin", "revoke-staff", "ops@example.com"], &database);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    app.get_as(&user.access_token, "/v1/admin/events", 404).await;

    let unknown = postroute(dir.path(), &["admin", "grant-staff", "nobody@example.com"], &database);
    assert!(!unknown.status.success());
    let message = stderr(&unknown);
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    assert!(message.contains("no account is registered with nobody@example.com"), "{message}");
}

#[test]
fn backup_create_list_verify_restore_and_a_wrong_key() {
    let source = tempfile::tempdir().unwrap();
    let key = [("POSTROUTE_BACKUP__KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")];
    let created = postroute(source.path(), &["backup", "create"], &key);
    assert!(created.status.success(), "{}", stderr(&created));
    let printed = String::from_utf8_lossy(&created.stdout).into_owned();
    let file = printed.trim_end().lines().last().unwrap().split(' ').next().unwrap().to_owned();
    assert!(file.ends_with(".backup") && Path::new(&file).is_file(), "{printed}");

    let listed = postroute(source.path(), &["backup", "list"], &key);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&file));
    let verified = postroute(source.path(), &["backup", "verify", &file], &key);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(String::from_utf8_lossy(&verified.stdout).contains("is intact: sqlite backup"));

    // Into another, new data directory: the database there is created and filled.
    let target = tempfile::tempdir().unwrap();
    let restored = postroute(target.path(), &["backup", "restore", &file], &key);
    assert!(restored.status.success(), "{}", stderr(&restored));
    assert!(String::from_utf8_lossy(&restored.stdout).contains("restored 0 rows"));

    let other_key = [("POSTROUTE_BACKUP__KEY", "HxwdHh8AAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRo=")];
    let refused = postroute(target.path(), &["backup", "verify", &file], &other_key);
    assert!(!refused.status.success());
    let message = stderr(&refused);
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
    assert!(message.contains("encrypted with another key"), "{message}");
    let pruned = postroute(source.path(), &["backup", "prune"], &key);
    assert!(pruned.status.success() && Path::new(&file).is_file(), "a fresh backup is kept");
}
