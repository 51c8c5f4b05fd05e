//! Accounts and sessions as the security page promises them ("Authentication"): registration
//! with email verification, login, rotating refresh tokens with reuse detection, password
//! reset, the caller's profile, and GDPR export and erasure.

mod login;
mod profile;
mod recovery;
mod registration;

use crate::Refusal;
use std::net::IpAddr;
use std::sync::Arc;

use chrono::Duration;
use postroute_domain::{SessionId, UserId};
use postroute_store::{EmailTokenPurpose, NewEmailToken, Store, User};

use crate::auth::{AccessTokens, PasswordHasher};
use crate::clock;
use crate::crypto;
use crate::mail::{MailComposer, Template};

pub use login::IssuedTokens;
pub use profile::{AccountExport, SessionView};
pub use registration::Registration;

/// Who is asking, as the edge saw it.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// The client address.
    pub ip: IpAddr,
    /// The client's User-Agent, shortened.
    pub user_agent: Option<String>,
}

/// An authenticated caller: a live session of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthSession {
    /// The user.
    pub user: UserId,
    /// The session the access token belongs to.
    pub session: SessionId,
}

/// Token lifetimes.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// Refresh tokens.
    pub refresh: Duration,
    /// Email verification links.
    pub verification: Duration,
    /// Password reset links.
    pub reset: Duration,
}

/// The account service.
#[derive(Debug, Clone)]
pub struct AccountService {
    store: Store,
    hasher: PasswordHasher,
    tokens: Arc<AccessTokens>,
    mail: Arc<MailComposer>,
    lifetimes: Lifetimes,
    /// Keys the email hashes in system events: staff can correlate attempts on one address
    /// without the log holding the address.
    email_hash_key: [u8; 32],
}

impl AccountService {
    /// Wires the service.
    pub fn new(
        store: Store,
        hasher: PasswordHasher,
        tokens: Arc<AccessTokens>,
        mail: Arc<MailComposer>,
        lifetimes: Lifetimes,
        email_hash_key: [u8; 32],
    ) -> Self {
        Self { store, hasher, tokens, mail, lifetimes, email_hash_key }
    }

    /// The caller behind a bearer access token, if its session is still live (S-AUTH-4).
    pub async fn authenticate(&self, access_token: &str) -> Result<AuthSession, Refusal> {
        let claims = self.tokens.verify(access_token).map_err(|_| Refusal::Unauthorized)?;
        match self.store.sessions().live_user(claims.session, crate::clock::now()).await? {
            Some(user) if user == claims.user => Ok(AuthSession { user, session: claims.session }),
            _ => Err(Refusal::Unauthorized),
        }
    }

    /// Like [`AccountService::authenticate`], with the caller's account read in the same
    /// statement as the session check, for requests that need the account itself.
    pub async fn authenticate_account(
        &self,
        access_token: &str,
    ) -> Result<(AuthSession, User), Refusal> {
        let claims = self.tokens.verify(access_token).map_err(|_| Refusal::Unauthorized)?;
        let now = crate::clock::now();
        match self.store.accounts().find_by_live_session(claims.session, now).await? {
            Some(user) if user.id == claims.user => {
                Ok((AuthSession { user: user.id, session: claims.session }, user))
            }
            _ => Err(Refusal::Unauthorized),
        }
    }

    /// Replaces the user's live token of `purpose` with a new one and queues the email that
    /// carries it, in one transaction.
    async fn issue_token_email(
        &self,
        user: &User,
        purpose: EmailTokenPurpose,
    ) -> Result<(), Refusal> {
        let now = clock::now();
        let (token, token_hash) = crypto::random_token()?;
        let (lifetime, template) = match purpose {
            EmailTokenPurpose::VerifyEmail => (
                self.lifetimes.verification,
                Template::VerifyEmail {
                    name: &user.name,
                    token: &token,
                    valid_hours: self.lifetimes.verification.num_hours().unsigned_abs(),
                },
            ),
            EmailTokenPurpose::ResetPassword => (
                self.lifetimes.reset,
                Template::ResetPassword {
                    name: &user.name,
                    token: &token,
                    valid_minutes: self.lifetimes.reset.num_minutes().unsigned_abs(),
                },
            ),
        };
        let prepared = self.mail.prepare(&user.email, Some(user.id), &template)?;
        let token = NewEmailToken {
            token_hash: &token_hash,
            purpose,
            created_at: now,
            expires_at: now + lifetime,
        };
        self.store.accounts().issue_email_token(user.id, &token, &prepared.outbox_row(now)).await?;
        Ok(())
    }

    fn email_hash(&self, normalized_email: &str) -> String {
        crypto::hmac_sha256(&self.email_hash_key, normalized_email.as_bytes())[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}
