//! A fake SMTP relay (RFC 5321, plaintext, no AUTH): enough of the protocol for lettre to hand it
//! a message, plus switches that answer with a temporary (4xx) or permanent (5xx) refusal.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A message the relay accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayedMessage {
    /// `MAIL FROM` address.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-unstuffed).
    pub data: String,
}

/// How the relay answers the next transactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RelayMode {
    /// Accepts mail.
    #[default]
    Accepting,
    /// `451` at `DATA`: a temporary failure, try again later.
    TemporarilyFailing,
    /// `550` at `RCPT TO`: the mailbox does not exist.
    RejectingRecipients,
}

#[derive(Debug, Default)]
struct Relay {
    messages: Vec<RelayedMessage>,
    mode: RelayMode,
}

/// A running fake SMTP relay.
#[derive(Debug)]
pub struct FakeSmtp {
    address: SocketAddr,
    relay: Arc<Mutex<Relay>>,
    server: tokio::task::JoinHandle<()>,
}

fn lock(relay: &Mutex<Relay>) -> MutexGuard<'_, Relay> {
    relay.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeSmtp {
    /// Starts on a random local port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let address = listener.local_addr()?;
        let relay = Arc::new(Mutex::new(Relay::default()));
        let shared = relay.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Ok(Self { address, relay, server })
    }

    /// `smtp://127.0.0.1:PORT`, for `email.smtp_url`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// Messages accepted so far.
    pub fn messages(&self) -> Vec<RelayedMessage> {
        lock(&self.relay).messages.clone()
    }

    /// Changes how later transactions are answered.
    pub fn set_mode(&self, mode: RelayMode) {
        lock(&self.relay).mode = mode;
    }
}

impl Drop for FakeSmtp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(stream: TcpStream, relay: Arc<Mutex<Relay>>) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    let mut reply =
        async |text: &str| writer.write_all(format!("{text}\r\n").as_bytes()).await.is_ok();
    if !reply("220 fake-smtp ESMTP ready").await {
        return;
    }
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let mode = lock(&relay).mode;
        let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250 fake-smtp"
        } else if upper.starts_with("MAIL FROM:") {
            from = address_in(&line);
            to.clear();
            "250 2.1.0 OK"
        } else if upper.starts_with("RCPT TO:") {
            if mode == RelayMode::RejectingRecipients {
                "550 5.1.1 No such mailbox"
            } else {
                to.push(address_in(&line));
                "250 2.1.5 OK"
            }
        } else if upper == "DATA" {
            if mode == RelayMode::TemporarilyFailing {
                "451 4.3.0 Temporary failure, try again later"
            } else {
                if !reply("354 End data with <CR><LF>.<CR><LF>").await {
                    return;
                }
                let mut data = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push('\n');
                }
                lock(&relay).messages.push(RelayedMessage {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
                "250 2.0.0 Queued"
            }
        } else if upper == "QUIT" {
            let _ = reply("221 2.0.0 Bye").await;
            return;
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK"
        } else {
            "502 5.5.2 Command not recognised"
        };
        if !reply(answer).await {
            return;
        }
    }
}

fn address_in(line: &str) -> String {
    let start = line.find('<').map_or(0, |at| at + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line.get(start..end).unwrap_or_default().to_owned()
}
