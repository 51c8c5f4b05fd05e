//! The referee suite: every fake driven by the platform's own client library (tweepy,
//! requests-oauthlib, facebook-business, resend, smtplib), from `referee/` at the repository
//! root. Without Python or the pinned packages the suite is skipped with a notice, unless
//! `POSTROUTE_TEST_REQUIRE_REFEREE=1` (CI sets it after installing them) makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output};

use postroute_fakes::{FakeCredentials, FakePorts, Fakes};

fn referee_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../referee")
}

/// `POSTROUTE_TEST_REFEREE_PYTHON`, e.g. a virtualenv's interpreter, or `python3` on the PATH.
fn python() -> String {
    std::env::var("POSTROUTE_TEST_REFEREE_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Why the suite cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let probe = Command::new(python()).arg(referee_dir().join("probe.py")).output();
    match probe {
        Err(error) => Some(format!("{} cannot be run ({error})", python())),
        Ok(output) if !output.status.success() => {
            Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        }
        Ok(_) => None,
    }
}

#[tokio::test]
async fn the_platforms_own_client_libraries_accept_the_fakes() {
    if let Some(reason) = missing_prerequisite() {
        let notice = format!(
            "referee suite skipped: {reason}; install with pip install -r referee/requirements.txt \
             (POSTROUTE_TEST_REFEREE_PYTHON names another interpreter, e.g. a virtualenv's)"
        );
        assert!(std::env::var("POSTROUTE_TEST_REQUIRE_REFEREE").as_deref() != Ok("1"), "{notice}");
        // Written to the real stderr, past the test harness's output capture.
        let _ = writeln!(std::io::stderr(), "NOTICE: {notice}");
        return;
    }
    let fakes = Fakes::start(FakePorts::default(), FakeCredentials::default()).await.unwrap();
    let credentials = &fakes.credentials;
    let environment = [
        ("REFEREE_CONTROL_URL", fakes.control_url().to_string()),
        ("REFEREE_X_URL", fakes.x.base_url().to_string()),
        ("REFEREE_X_CLIENT_ID", credentials.x_client.0.clone()),
        ("REFEREE_X_CLIENT_SECRET", credentials.x_client.1.clone()),
        ("REFEREE_META_GRAPH_URL", fakes.meta.graph_url().to_string()),
        ("REFEREE_META_APP_ID", credentials.meta_app.0.clone()),
        ("REFEREE_META_APP_SECRET", credentials.meta_app.1.clone()),
        ("REFEREE_RESEND_URL", fakes.resend.base_url().to_string()),
        ("REFEREE_RESEND_KEY", credentials.resend_key.clone()),
        ("REFEREE_SMTP_HOST", fakes.smtp_address().ip().to_string()),
        ("REFEREE_SMTP_PORT", fakes.smtp_address().port().to_string()),
    ];
    let mut command = Command::new(python());
    command.arg(referee_dir().join("run.py")).current_dir(referee_dir()).envs(environment);
    if let Ok(only) = std::env::var("REFEREE_ONLY") {
        command.arg(only);
    }
    // The fakes keep serving on this runtime while the suite runs in a blocking thread.
    let Output { status, stdout, stderr } =
        tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&stdout);
    println!("{stdout}\n{}", String::from_utf8_lossy(&stderr));
    assert!(status.success(), "the referee suite failed:\n{stdout}");
    for platform in ["x_checks.", "meta_checks.", "resend_checks.", "smtp_checks."] {
        assert!(
            std::env::var("REFEREE_ONLY").is_ok() || stdout.contains(&format!("ok   {platform}")),
            "no {platform} check ran:\n{stdout}"
        );
    }
}
