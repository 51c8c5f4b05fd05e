//! Runs every fake platform server on its own, for clicking through flows locally:
//! `cargo run -p postroute-fakes` then start PostRoute with the environment it prints. The
//! control API it prints injects what production does (crate README, "Control API").

use postroute_fakes::{FakeCredentials, FakePorts, Fakes};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let fakes = Fakes::start(FakePorts::LOCAL, FakeCredentials::default()).await?;
    println!("Fake platforms are running:");
    println!("  Resend  {}", fakes.resend.base_url());
    println!("  SMTP    {}", fakes.smtp.url());
    println!("  X       {}", fakes.x.base_url());
    println!("  Meta    {}", fakes.meta.graph_url());
    println!("  control {} (see crates/postroute-fakes/README.md)\n", fakes.control_url());
    println!("Start PostRoute against them with:\n");
    for (key, value) in fakes.postroute_environment() {
        println!("{key}={value} \\");
    }
    println!("cargo run --release -- serve\n");
    println!(
        "Or send mail through the SMTP relay instead of Resend: POSTROUTE_EMAIL__PROVIDER=smtp POSTROUTE_EMAIL__SMTP_URL={}\n",
        fakes.smtp.url()
    );
    println!(
        "The authorize pages approve at once and send the browser back to PostRoute's callback."
    );
    let (mut seen_resend, mut seen_smtp) = (0, 0);
    // Posts are watched by id: a deleted tweet keeps its place in the record, and Page and
    // Instagram posts interleave by time.
    let mut seen_posts = std::collections::HashSet::new();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {
                let accepted = fakes.resend.accepted();
                for email in accepted.iter().skip(seen_resend) {
                    let (id, to, subject) = (&email.id, &email.to, &email.subject);
                    println!("--- email {id} to {to:?}: {subject}\n{}", email.text);
                }
                seen_resend = accepted.len();
                let relayed = fakes.smtp.messages();
                for message in relayed.iter().skip(seen_smtp) {
                    println!("--- relayed to {:?}\n{}", message.to, message.data);
                }
                seen_smtp = relayed.len();
                for post in fakes.x.published().into_iter().chain(fakes.meta.published()) {
                    if seen_posts.insert((post.platform, post.id.clone())) {
                        println!("--- published on {}", post.summary());
                    }
                }
            }
        }
    }
}
