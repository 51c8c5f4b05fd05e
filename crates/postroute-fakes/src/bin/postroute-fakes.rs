//! Runs the fake platform servers on their own, for clicking through flows locally:
//! `cargo run -p postroute-fakes -- [PORT]` then point `POSTROUTE_EMAIL__RESEND_BASE_URL` at it.

use std::net::SocketAddr;

use postroute_fakes::FakeResend;

const API_KEY: &str = "re_fake_local";

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::args().nth(1).and_then(|port| port.parse().ok()).unwrap_or(4010);
    let resend = FakeResend::start_on(SocketAddr::from(([127, 0, 0, 1], port)), API_KEY).await?;
    println!("fake Resend listening at {} (API key {API_KEY})", resend.base_url());
    println!(
        "  POSTROUTE_EMAIL__PROVIDER=resend POSTROUTE_EMAIL__RESEND_BASE_URL={} POSTROUTE_EMAIL__RESEND_API_KEY={API_KEY}",
        resend.base_url()
    );
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {
                let accepted = resend.accepted();
                for email in accepted.iter().skip(seen) {
                    println!("--- accepted {} to {:?}: {}\n{}", email.id, email.to, email.subject, email.text);
                }
                seen = accepted.len();
            }
        }
    }
}
