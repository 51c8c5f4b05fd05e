//! Login, refresh-token rotation with reuse detection, logout and the session list.

use postroute_domain::{
    Email, NewSystemEvent, SessionId, SystemEventKind, UserId,
    password::{MAX_PASSWORD_CHARS, normalize_password},
};
use postroute_store::{LogoutOutcome, NewSession, RefreshOutcome};
use serde_json::json;

use super::{AccountService, AuthSession, RequestContext};
use crate::Refusal;
use crate::auth::Verification;
use crate::{clock, crypto, system_events};

/// What login and refresh hand the client.
#[derive(Debug)]
pub struct IssuedTokens {
    /// The access JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The opaque refresh token, shown once.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
}

/// Why a login failed, as recorded in the system event (never told to the client).
#[derive(Clone, Copy, Debug)]
enum LoginFailure {
    UnknownEmail,
    WrongPassword,
    EmailNotVerified,
}

impl LoginFailure {
    fn as_str(self) -> &'static str {
        match self {
            Self::UnknownEmail => "unknown_email",
            Self::WrongPassword => "wrong_password",
            Self::EmailNotVerified => "email_not_verified",
        }
    }
}

impl AccountService {
    /// Checks email and password and opens a session. Unknown email and wrong password fail
    /// the same way and cost the same hash (S-AUTH-6); every failure is a system event.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        context: &RequestContext,
    ) -> Result<IssuedTokens, Refusal> {
        let email = Email::parse(email).ok();
        // Counted as registration counted it: after normalisation.
        let plausible_password = password.chars().count() <= MAX_PASSWORD_CHARS * 4
            && normalize_password(password).chars().count() <= MAX_PASSWORD_CHARS;
        let user = match &email {
            Some(email) if plausible_password => {
                self.store.accounts().find_by_email(email.normalized()).await?
            }
            _ => None,
        };
        let Some(user) = user else {
            self.hasher.verify_dummy(password).await?;
            self.record_login_failure(LoginFailure::UnknownEmail, email.as_ref(), None, context)
                .await;
            return Err(Refusal::InvalidCredentials);
        };
        let needs_rehash = match self.hasher.verify(password, &user.password_hash).await? {
            Verification::Match { needs_rehash } => needs_rehash,
            Verification::Mismatch => {
                self.record_login_failure(
                    LoginFailure::WrongPassword,
                    email.as_ref(),
                    Some(user.id),
                    context,
                )
                .await;
                return Err(Refusal::InvalidCredentials);
            }
        };
        if user.email_verified_at.is_none() {
            self.record_login_failure(
                LoginFailure::EmailNotVerified,
                email.as_ref(),
                Some(user.id),
                context,
            )
            .await;
            return Err(Refusal::EmailNotVerified);
        }
        if needs_rehash {
            self.rehash(user.id, password).await;
        }

        let now = clock::now();
        let session = SessionId::new();
        let (refresh_token, refresh_hash) = crypto::random_token()?;
        self.store
            .sessions()
            .start(&NewSession {
                id: session,
                user_id: user.id,
                user_agent: context.user_agent.as_deref(),
                ip: Some(&context.ip.to_string()),
                created_at: now,
                expires_at: now + self.lifetimes.refresh,
                refresh_token_hash: &refresh_hash,
            })
            .await?;
        tracing::info!(user.id = display(&user.id), session.id = display(&session), "logged in");
        self.issue(AuthSession { user: user.id, session }, refresh_token, now)
    }

    /// Stores the password under today's Argon2 parameters. Best effort: the login it rides
    /// on has already succeeded.
    async fn rehash(&self, user: postroute_domain::UserId, password: &str) {
        let Ok(password) = postroute_domain::Password::parse(password) else {
            return; // A password older than today's rules: re-hashing it waits for a change.
        };
        let rehashed = match self.hasher.hash(&password).await {
            Ok(hash) => self
                .store
                .accounts()
                .rehash_password(user, &hash, clock::now())
                .await
                .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = rehashed {
            tracing::warn!(
                user.id = display(&user),
                error = display(&error),
                "could not re-hash a password under new parameters"
            );
        }
    }

    async fn record_login_failure(
        &self,
        reason: LoginFailure,
        email: Option<&Email>,
        user: Option<postroute_domain::UserId>,
        context: &RequestContext,
    ) {
        let mut event =
            NewSystemEvent::new(SystemEventKind::LoginFailed).ip(context.ip).details(json!({
                "reason": reason.as_str(),
                "email_hash": email.map(|email| self.email_hash(email.normalized())),
            }));
        if let Some(user) = user {
            event = event.actor(user);
        }
        system_events::record(&self.store, event).await;
    }

    fn issue(
        &self,
        auth: AuthSession,
        refresh_token: String,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<IssuedTokens, Refusal> {
        let access_token = self
            .tokens
            .issue(auth.user, auth.session, now)
            .map_err(|error| Refusal::internal(error.to_string()))?;
        Ok(IssuedTokens {
            access_token,
            expires_in: self.tokens.ttl_secs(),
            refresh_token,
            refresh_expires_in: self.lifetimes.refresh.num_seconds(),
        })
    }

    /// Rotates a refresh token (S-AUTH-2). A token that was already rotated revokes every
    /// session of its user and is a critical security event (S-AUTH-3).
    pub async fn refresh(
        &self,
        refresh_token: &str,
        context: &RequestContext,
    ) -> Result<IssuedTokens, Refusal> {
        let now = clock::now();
        let (successor, successor_hash) = crypto::random_token()?;
        let outcome = self
            .store
            .sessions()
            .refresh(
                &crypto::sha256(refresh_token.as_bytes()),
                &successor_hash,
                now,
                now + self.lifetimes.refresh,
            )
            .await?;
        match outcome {
            RefreshOutcome::Rotated { session, user } => {
                self.issue(AuthSession { user, session }, successor, now)
            }
            RefreshOutcome::Reused { user, sessions_revoked } => {
                Err(self.reuse_detected(user, sessions_revoked, context).await)
            }
            RefreshOutcome::Refused => Err(Refusal::Unauthorized),
        }
    }

    /// Ends the session of a refresh token. Unknown tokens are ignored: logging out is
    /// idempotent. A rotated token is reuse, answered as at refresh (S-AUTH-3).
    pub async fn logout(
        &self,
        refresh_token: &str,
        context: &RequestContext,
    ) -> Result<(), Refusal> {
        let outcome = self
            .store
            .sessions()
            .end_by_refresh_token(&crypto::sha256(refresh_token.as_bytes()), clock::now())
            .await?;
        match outcome {
            LogoutOutcome::Ended(user) => {
                tracing::info!(user.id = display(&user), "logged out");
                Ok(())
            }
            LogoutOutcome::Reused { user, sessions_revoked } => {
                Err(self.reuse_detected(user, sessions_revoked, context).await)
            }
            LogoutOutcome::Unknown => Ok(()),
        }
    }

    /// A rotated refresh token came back: its user's sessions are already revoked; this
    /// records the critical event and gives the refusal.
    async fn reuse_detected(
        &self,
        user: UserId,
        sessions_revoked: u64,
        context: &RequestContext,
    ) -> Refusal {
        let event = NewSystemEvent::new(SystemEventKind::RefreshTokenReused)
            .actor(user)
            .ip(context.ip)
            .details(json!({ "sessions_revoked": sessions_revoked }));
        system_events::record(&self.store, event).await;
        Refusal::RefreshTokenReused
    }

    /// Ends every session of the caller.
    pub async fn logout_everywhere(&self, auth: AuthSession) -> Result<(), Refusal> {
        let ended = self.store.sessions().end_all(auth.user, "logout_all", clock::now()).await?;
        tracing::info!(user.id = display(&auth.user), ended, "logged out everywhere");
        Ok(())
    }

    /// Ends one of the caller's sessions.
    pub async fn end_session(&self, auth: AuthSession, session: SessionId) -> Result<(), Refusal> {
        if self.store.sessions().end(auth.user, session, "revoked_by_user", clock::now()).await? {
            Ok(())
        } else {
            Err(Refusal::NotFound)
        }
    }
}
