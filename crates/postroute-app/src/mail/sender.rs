//! The configured email provider.

use std::path::PathBuf;

use postroute_platforms::email::{DeliveryError, OutgoingEmail, ResendClient, SmtpClient};
use secrecy::ExposeSecret;

use crate::config::{Config, EmailProvider};

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum MailSender {
    /// Development: each message is written to `DATA_DIR/outbox/<id>.eml` and to the log,
    /// links included, so a developer can click them. Production refuses this provider.
    Log {
        /// The outbox directory.
        directory: PathBuf,
    },
    /// The Resend HTTP API.
    Resend(ResendClient),
    /// An SMTP relay.
    Smtp(SmtpClient),
}

impl MailSender {
    /// The sender `config.email` describes.
    pub fn from_config(config: &Config) -> Result<Self, DeliveryError> {
        let email = &config.email;
        Ok(match email.provider {
            EmailProvider::Log => Self::Log { directory: config.data_dir.join("outbox") },
            EmailProvider::Resend => {
                let key = email
                    .resend_api_key
                    .as_ref()
                    .map(|key| key.expose_secret().to_owned())
                    .unwrap_or_default();
                Self::Resend(ResendClient::new(&email.resend_base_url, &key)?)
            }
            EmailProvider::Smtp => {
                let url = email
                    .smtp_url
                    .as_ref()
                    .map(|url| url.expose_secret().to_owned())
                    .unwrap_or_default();
                Self::Smtp(SmtpClient::new(&url)?)
            }
        })
    }

    /// Delivers one message; returns the provider's id for it.
    pub async fn send(&self, email: &OutgoingEmail<'_>) -> Result<String, DeliveryError> {
        match self {
            Self::Log { directory } => write_to_outbox_directory(directory, email).await,
            Self::Resend(client) => client.send(email).await,
            Self::Smtp(client) => client.send(email).await,
        }
    }
}

async fn write_to_outbox_directory(
    directory: &std::path::Path,
    email: &OutgoingEmail<'_>,
) -> Result<String, DeliveryError> {
    let path = directory.join(format!("{}.eml", email.idempotency_key));
    let message = format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{}@postroute>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{}",
        email.from, email.to, email.subject, email.idempotency_key, email.text
    );
    // Written beside the outbox and renamed into it, so that whoever watches the outbox (a
    // person, a test) never reads half a message.
    let partial = directory.with_extension("partial");
    for dir in [directory, partial.as_path()] {
        tokio::fs::create_dir_all(dir).await.map_err(|error| {
            DeliveryError::Transient(format!("cannot create {}: {error}", dir.display()))
        })?;
    }
    let writing = partial.join(format!("{}.eml", email.idempotency_key));
    tokio::fs::write(&writing, message).await.map_err(|error| {
        DeliveryError::Transient(format!("cannot write {}: {error}", writing.display()))
    })?;
    tokio::fs::rename(&writing, &path).await.map_err(|error| {
        DeliveryError::Transient(format!("cannot move a message to {}: {error}", path.display()))
    })?;
    tracing::info!(
        path = display(&path.display()),
        subject = email.subject,
        "development email (provider log; refused in production):\n{}",
        email.text
    );
    Ok(path.display().to_string())
}
