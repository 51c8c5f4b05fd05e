//! Transactional email: composing messages into the outbox (sealed, because they carry
//! single-use links); `postroute-worker` delivers them.

mod sender;
mod templates;

use postroute_domain::{EmailId, UserId};
use postroute_store::NewOutboxEmail;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::crypto::{Keyring, RandomnessUnavailable};

pub use sender::MailSender;
pub use templates::Template;

/// A message ready for the outbox: its bodies already sealed.
#[derive(Debug)]
pub struct PreparedEmail {
    id: EmailId,
    user: Option<UserId>,
    to: String,
    template: &'static str,
    subject: String,
    sealed_body: Vec<u8>,
}

impl PreparedEmail {
    /// The outbox row to write, in the same transaction as the action that caused it.
    pub fn outbox_row(&self, now: chrono::DateTime<chrono::Utc>) -> NewOutboxEmail<'_> {
        NewOutboxEmail {
            id: self.id,
            user_id: self.user,
            to_address: &self.to,
            template: self.template,
            subject: &self.subject,
            sealed_body: &self.sealed_body,
            created_at: now,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Bodies {
    text: String,
    html: String,
}

/// What the outbox keyring is derived for, from the OAuth key and its predecessors.
pub const OUTBOX_KEY_PURPOSE: &str = "postroute/email-outbox/v1";

/// Renders templates and seals their bodies for the outbox.
#[derive(Debug)]
pub struct MailComposer {
    sealer: Keyring,
    public_url: Url,
}

impl MailComposer {
    /// Links in messages point at `public_url`; bodies are sealed with `keyring`.
    pub fn new(keyring: Keyring, public_url: Url) -> Self {
        Self { sealer: keyring, public_url }
    }

    /// Renders `template` for `to` and seals it, bound to the new message's id and recipient.
    pub fn prepare(
        &self,
        to: &str,
        user: Option<UserId>,
        template: &Template<'_>,
    ) -> Result<PreparedEmail, RandomnessUnavailable> {
        let id = EmailId::new();
        let rendered = template.render(&self.public_url);
        let bodies = serde_json::to_vec(&Bodies { text: rendered.text, html: rendered.html })
            .unwrap_or_else(|_| unreachable!("two strings serialise"));
        let sealed_body = self.sealer.seal(&bodies, &outbox_associated_data(id, to))?;
        Ok(PreparedEmail {
            id,
            user,
            to: to.to_owned(),
            template: template.name(),
            subject: rendered.subject,
            sealed_body,
        })
    }

    /// The text and HTML bodies of a queued message, when they were sealed for message `id`
    /// to `to`.
    pub fn open(
        &self,
        id: EmailId,
        to: &str,
        sealed: &[u8],
    ) -> Result<(String, String), crate::crypto::OpenError> {
        let plaintext = self.sealer.open(sealed, &outbox_associated_data(id, to))?;
        let bodies: Bodies =
            serde_json::from_slice(&plaintext).map_err(|_| crate::crypto::OpenError::Malformed)?;
        Ok((bodies.text, bodies.html))
    }
}

/// The message id and its recipient: a body moved to another row, or a row whose address was
/// changed (to redirect a reset link, say), no longer opens. The address goes last, after a
/// separator no id contains, so no two (id, address) pairs share associated data.
pub(crate) fn outbox_associated_data(id: EmailId, to: &str) -> Vec<u8> {
    format!("email_outbox/v2:{id}:{to}").into_bytes()
}
