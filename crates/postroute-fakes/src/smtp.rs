//! A fake SMTP relay (RFC 5321, plaintext, no AUTH): enough of the protocol for lettre or Python's
//! smtplib to hand it a message, keeping RFC 5321's command order (EHLO, MAIL, RCPT, DATA) with
//! Postfix's 503 answers when it is broken, plus switches that answer with a temporary (4xx) or
//! permanent (5xx) refusal.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
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
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `address`.
    pub async fn start_on(address: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
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

    /// The relay's socket address.
    pub fn address(&self) -> SocketAddr {
        self.address
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

    /// The control API for this fake (README "Control API").
    pub fn control(&self) -> Router {
        Router::new()
            .route("/mode", post(control_mode))
            .route("/messages", get(control_messages))
            .with_state(self.relay.clone())
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
    let mut greeted = false;
    // The open transaction: `MAIL FROM` seen (with its address) and the accepted recipients.
    let (mut from, mut to): (Option<String>, Vec<String>) = (None, Vec::new());
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let mode = lock(&relay).mode;
        let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            greeted = true;
            (from, to) = (None, Vec::new());
            if upper.starts_with("EHLO") {
                if !reply("250-fake-smtp").await {
                    return;
                }
                "250 8BITMIME"
            } else {
                "250 fake-smtp"
            }
        } else if upper == "QUIT" {
            let _ = reply("221 2.0.0 Bye").await;
            return;
        } else if upper == "RSET" {
            (from, to) = (None, Vec::new());
            "250 2.0.0 OK"
        } else if upper == "NOOP" {
            "250 2.0.0 OK"
        } else if !greeted
            && (upper.starts_with("MAIL") || upper.starts_with("RCPT") || upper == "DATA")
        {
            "503 5.5.1 Error: send HELO/EHLO first"
        } else if upper.starts_with("MAIL FROM:") {
            match (&from, address_in(&line)) {
                (Some(_), _) => "503 5.5.1 Error: nested MAIL command",
                (None, Some(address)) if address.is_empty() || is_address(&address) => {
                    from = Some(address);
                    "250 2.1.0 OK"
                }
                (None, _) => "501 5.1.7 Bad sender address syntax",
            }
        } else if upper.starts_with("RCPT TO:") {
            match (&from, address_in(&line)) {
                (None, _) => "503 5.5.1 Error: need MAIL command",
                (Some(_), Some(address)) if is_address(&address) => {
                    if mode == RelayMode::RejectingRecipients {
                        "550 5.1.1 No such mailbox"
                    } else {
                        to.push(address);
                        "250 2.1.5 OK"
                    }
                }
                (Some(_), _) => "501 5.1.3 Bad recipient address syntax",
            }
        } else if upper == "DATA" {
            if from.is_none() {
                "503 5.5.1 Error: need MAIL command"
            } else if to.is_empty() {
                "503 5.5.1 Error: need RCPT command"
            } else if mode == RelayMode::TemporarilyFailing {
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
                // The transaction ends with the message: the next one starts with MAIL again.
                let (sender, recipients) =
                    (from.take().unwrap_or_default(), std::mem::take(&mut to));
                lock(&relay).messages.push(RelayedMessage { from: sender, to: recipients, data });
                "250 2.0.0 Queued"
            }
        } else {
            "502 5.5.2 Command not recognised"
        };
        if !reply(answer).await {
            return;
        }
    }
}

/// The address between `<` and `>` (parameters such as `BODY=8BITMIME` after it ignored);
/// `None` without the brackets RFC 5321 requires.
fn address_in(line: &str) -> Option<String> {
    let (_, rest) = line.split_once(':')?;
    let rest = rest.trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    Some(inner[..end].to_owned())
}

/// `local@domain`, no spaces or brackets.
fn is_address(address: &str) -> bool {
    address.rsplit_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.is_empty()
            && !address.contains(|c: char| c.is_whitespace() || c == '<' || c == '>')
    })
}

/// `{"mode": "accepting" | "temporarily_failing" | "rejecting_recipients"}`
async fn control_mode(
    State(relay): State<Arc<Mutex<Relay>>>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mode = match body.get("mode").and_then(Value::as_str) {
        Some("accepting") => RelayMode::Accepting,
        Some("temporarily_failing") => RelayMode::TemporarilyFailing,
        Some("rejecting_recipients") => RelayMode::RejectingRecipients,
        _ => {
            return crate::faults::bad_control(
                "mode must be accepting, temporarily_failing or rejecting_recipients",
            )
            .into_response();
        }
    };
    lock(&relay).mode = mode;
    StatusCode::NO_CONTENT.into_response()
}

async fn control_messages(State(relay): State<Arc<Mutex<Relay>>>) -> axum::Json<Value> {
    let messages: Vec<Value> = lock(&relay)
        .messages
        .iter()
        .map(|message| json!({"from": message.from, "to": message.to, "data": message.data}))
        .collect();
    axum::Json(Value::Array(messages))
}
