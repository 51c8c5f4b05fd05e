//! SMTP delivery through lettre over rustls.

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{DeliveryError, OutgoingEmail};

/// An SMTP relay.
#[derive(Clone)]
pub struct SmtpClient {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for SmtpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpClient")
    }
}

impl SmtpClient {
    /// A relay from `smtps://user:pass@host:465` (implicit TLS) or
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS).
    pub fn new(url: &str) -> Result<Self, DeliveryError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| DeliveryError::Permanent(format!("bad SMTP URL: {error}")))?
            .build();
        Ok(Self { transport })
    }

    /// Sends one message; returns the Message-ID it carried.
    pub async fn send(&self, email: &OutgoingEmail<'_>) -> Result<String, DeliveryError> {
        let permanent =
            |what: &str, error: String| DeliveryError::Permanent(format!("{what}: {error}"));
        let from: Mailbox =
            email.from.parse().map_err(|error: lettre::address::AddressError| {
                permanent("sender", error.to_string())
            })?;
        let to: Mailbox = email.to.parse().map_err(|error: lettre::address::AddressError| {
            permanent("recipient", error.to_string())
        })?;
        // A stable Message-ID lets receiving servers drop a duplicate of a retried message.
        let message_id = format!("<{}@postroute>", email.idempotency_key);
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject)
            .message_id(Some(message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                email.text.to_owned(),
                email.html.to_owned(),
            ))
            .map_err(|error| permanent("message", error.to_string()))?;
        self.transport.send(message).await.map_err(classify)?;
        Ok(message_id)
    }
}

fn classify(error: SmtpError) -> DeliveryError {
    if error.is_permanent() {
        DeliveryError::Permanent(error.to_string())
    } else {
        DeliveryError::Transient(error.to_string())
    }
}
