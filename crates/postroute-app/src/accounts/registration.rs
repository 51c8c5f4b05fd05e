//! Registration and email verification. Every answer is the same whether or not the address
//! already has an account (S-AUTH-6); the owner of an existing account is told by email instead.

use postroute_domain::{Email, Password, UserId};
use postroute_store::{EmailTokenPurpose, NewEmailToken, NewUser, StoreError, User};

use super::AccountService;
use crate::Refusal;
use crate::clock;
use crate::crypto;
use crate::mail::Template;

/// Longest display name, in characters.
const MAX_NAME_CHARS: usize = 100;

/// A registration request as it arrived.
#[derive(Debug)]
pub struct Registration<'a> {
    /// Email address.
    pub email: &'a str,
    /// Password.
    pub password: &'a str,
    /// Display name.
    pub name: &'a str,
}

/// A display name: trimmed, 1 to 100 characters, no control characters.
pub(crate) fn parse_name(input: &str) -> Result<String, String> {
    let name = input.trim();
    if name.is_empty() {
        return Err("is required".to_owned());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("must be at most {MAX_NAME_CHARS} characters"));
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
    {
        return Err("must not contain control or text-direction characters".to_owned());
    }
    Ok(name.to_owned())
}

impl AccountService {
    /// Registers an account, or — when the address is taken — emails its owner. Both paths
    /// hash the password, so they also take the same time.
    pub async fn register(&self, registration: Registration<'_>) -> Result<(), Refusal> {
        let mut invalid = Vec::new();
        let email = Email::parse(registration.email)
            .map_err(|error| invalid.push(("email", error.to_string())))
            .ok();
        let password = Password::parse(registration.password)
            .map_err(|error| invalid.push(("password", error.to_string())))
            .ok();
        let name =
            parse_name(registration.name).map_err(|error| invalid.push(("name", error))).ok();
        let (Some(email), Some(password), Some(name)) = (email, password, name) else {
            return Err(Refusal::invalid_fields(invalid));
        };
        if password.expose().eq_ignore_ascii_case(email.as_str()) {
            return Err(Refusal::invalid("password", "must not be your email address"));
        }

        let password_hash = self.hasher.hash(&password).await?;
        let accounts = self.store.accounts();
        if let Some(existing) = accounts.find_by_email(email.normalized()).await? {
            return self.register_again(existing, &name, &password_hash).await;
        }

        let now = clock::now();
        let user = UserId::new();
        let (token, token_hash) = crypto::random_token()?;
        let prepared = self.mail.prepare(
            email.as_str(),
            Some(user),
            &Template::VerifyEmail {
                name: &name,
                token: &token,
                valid_hours: self.lifetimes.verification.num_hours().unsigned_abs(),
            },
        )?;
        let registered = accounts
            .register(
                &NewUser {
                    id: user,
                    email: email.as_str(),
                    email_normalized: email.normalized(),
                    name: &name,
                    password_hash: &password_hash,
                    created_at: now,
                },
                &NewEmailToken {
                    token_hash: &token_hash,
                    purpose: EmailTokenPurpose::VerifyEmail,
                    created_at: now,
                    expires_at: now + self.lifetimes.verification,
                },
                &prepared.outbox_row(now),
            )
            .await;
        match registered {
            Ok(()) => {
                tracing::info!(user.id = display(&user), "account registered");
                Ok(())
            }
            // Registered a moment ago by a concurrent request: same answer, same courtesy.
            Err(StoreError::Conflict { .. }) => {
                match accounts.find_by_email(email.normalized()).await? {
                    Some(existing) => self.register_again(existing, &name, &password_hash).await,
                    None => Ok(()),
                }
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A registration for an address that has an account. While it is unconfirmed, the newest
    /// registration's password and name replace the old ones (whoever registered first never
    /// proved the address, and must not keep a way in once its owner confirms it) and a fresh
    /// link goes out; a confirmed account's owner gets a warning instead.
    async fn register_again(
        &self,
        mut user: User,
        name: &str,
        password_hash: &str,
    ) -> Result<(), Refusal> {
        if user.email_verified_at.is_none()
            && self
                .store
                .accounts()
                .reclaim_unverified(user.id, name, password_hash, clock::now())
                .await?
        {
            name.clone_into(&mut user.name);
            return self.send_verification(&user).await;
        }
        let prepared = self.mail.prepare(
            &user.email,
            Some(user.id),
            &Template::AccountExists { name: &user.name },
        )?;
        self.store.outbox().enqueue(&prepared.outbox_row(clock::now())).await?;
        Ok(())
    }

    async fn send_verification(&self, user: &User) -> Result<(), Refusal> {
        self.issue_token_email(user, EmailTokenPurpose::VerifyEmail).await
    }

    /// Confirms an address with the token from its verification email.
    pub async fn verify_email(&self, token: &str) -> Result<(), Refusal> {
        let verified = self
            .store
            .accounts()
            .verify_email(&crypto::sha256(token.as_bytes()), clock::now())
            .await?;
        match verified {
            Some(user) => {
                tracing::info!(user.id = display(&user), "email verified");
                Ok(())
            }
            None => Err(Refusal::InvalidToken),
        }
    }

    /// Sends a new verification link to an unverified account; silently nothing otherwise.
    pub async fn resend_verification(&self, email: &str) -> Result<(), Refusal> {
        let email =
            Email::parse(email).map_err(|error| Refusal::invalid("email", error.to_string()))?;
        match self.store.accounts().find_by_email(email.normalized()).await? {
            Some(user) if user.email_verified_at.is_none() => self.send_verification(&user).await,
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_kept_printable() {
        assert_eq!(parse_name("  Ada Lovelace ").unwrap(), "Ada Lovelace");
        assert!(parse_name("   ").is_err());
        assert!(parse_name("Ada\u{202e}ecalevoL").is_err());
        assert!(parse_name("Ada\nLovelace").is_err());
        assert!(parse_name(&"x".repeat(101)).is_err());
        assert!(parse_name("Zoë 🚀").is_ok());
    }
}
