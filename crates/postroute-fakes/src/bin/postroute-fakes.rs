//! Runs the fake platform servers on their own, for clicking through flows locally:
//! `cargo run -p postroute-fakes` then start PostRoute with the environment it prints.

use std::net::SocketAddr;

use postroute_fakes::{FakeMeta, FakeResend, FakeX};

const RESEND_KEY: &str = "re_fake_local";
const X_CLIENT: (&str, &str) = ("x-fake-client", "x-fake-secret");
const META_APP: (&str, &str) = ("meta-fake-app", "meta-fake-secret");

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let local = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let resend = FakeResend::start_on(local(4010), RESEND_KEY).await?;
    let x = FakeX::start_on(local(4011), X_CLIENT.0, X_CLIENT.1).await?;
    let meta = FakeMeta::start_on(local(4012), META_APP.0, META_APP.1).await?;
    println!("Fake platforms are running. Start PostRoute with:\n");
    println!(
        "POSTROUTE_EMAIL__PROVIDER=resend POSTROUTE_EMAIL__RESEND_BASE_URL={} POSTROUTE_EMAIL__RESEND_API_KEY={RESEND_KEY} \\",
        resend.base_url()
    );
    println!(
        "POSTROUTE_X__CLIENT_ID={} POSTROUTE_X__CLIENT_SECRET={} POSTROUTE_X__AUTH_BASE_URL={} POSTROUTE_X__API_BASE_URL={} \\",
        X_CLIENT.0,
        X_CLIENT.1,
        x.base_url(),
        x.base_url()
    );
    println!(
        "POSTROUTE_META__APP_ID={} POSTROUTE_META__APP_SECRET={} POSTROUTE_META__GRAPH_BASE_URL={} POSTROUTE_META__DIALOG_BASE_URL={} \\",
        META_APP.0,
        META_APP.1,
        meta.graph_url(),
        meta.dialog_url()
    );
    println!("cargo run --release -- serve\n");
    println!(
        "The authorize pages approve at once and send the browser back to PostRoute's callback."
    );
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {
                let accepted = resend.accepted();
                for email in accepted.iter().skip(seen) {
                    println!("--- email {} to {:?}: {}\n{}", email.id, email.to, email.subject, email.text);
                }
                seen = accepted.len();
            }
        }
    }
}
