//! Password reset by email (S-AUTH-5): single-use, hashed at rest, one hour, and a reset ends
//! every session.

use postroute_domain::{Email, Password};
use postroute_store::{EmailTokenPurpose, NewEmailToken};

use super::{AccountError, AccountService};
use crate::clock;
use crate::crypto;
use crate::mail::Template;

impl AccountService {
    /// Emails a reset link when the address has an account; the answer is the same either way.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), AccountError> {
        let email = Email::parse(email)
            .map_err(|error| AccountError::Invalid(vec![("email", error.to_string())]))?;
        let Some(user) = self.store.accounts().find_by_email(email.normalized()).await? else {
            return Ok(());
        };
        let now = clock::now();
        let (token, token_hash) = crypto::random_token()?;
        let prepared = self.mail.prepare(
            &user.email,
            Some(user.id),
            &Template::ResetPassword {
                name: &user.name,
                token: &token,
                valid_minutes: self.lifetimes.reset.num_minutes() as u64,
            },
        )?;
        self.store
            .accounts()
            .issue_email_token(
                user.id,
                &NewEmailToken {
                    token_hash: &token_hash,
                    purpose: EmailTokenPurpose::ResetPassword,
                    created_at: now,
                    expires_at: now + self.lifetimes.reset,
                },
                &prepared.outbox_row(now),
            )
            .await?;
        tracing::info!(user.id = %user.id, "password reset requested");
        Ok(())
    }

    /// Sets a new password with the token from a reset email and ends every session.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
    ) -> Result<(), AccountError> {
        let password = Password::parse(new_password)
            .map_err(|error| AccountError::Invalid(vec![("new_password", error.to_string())]))?;
        // Hash first: a failure here must not spend the single-use token.
        let password_hash = self.hasher.hash(&password).await?;
        let reset = self
            .store
            .accounts()
            .reset_password(&crypto::sha256(token.as_bytes()), &password_hash, clock::now())
            .await?;
        match reset {
            Some(user) => {
                tracing::info!(user.id = %user, "password reset; every session ended");
                Ok(())
            }
            None => Err(AccountError::InvalidToken),
        }
    }
}
