//! Password reset by email (S-AUTH-5): single-use, hashed at rest, one hour, and a reset ends
//! every session.

use postroute_domain::{Email, Password};
use postroute_store::EmailTokenPurpose;

use super::AccountService;
use crate::Refusal;
use crate::{clock, crypto};

impl AccountService {
    /// Emails a reset link when the address has an account; the answer is the same either way.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), Refusal> {
        let email =
            Email::parse(email).map_err(|error| Refusal::invalid("email", error.to_string()))?;
        let Some(user) = self.store.accounts().find_by_email(email.normalized()).await? else {
            return Ok(());
        };
        self.issue_token_email(&user, EmailTokenPurpose::ResetPassword).await?;
        tracing::info!(user.id = display(&user.id), "password reset requested");
        Ok(())
    }

    /// Sets a new password with the token from a reset email and ends every session.
    pub async fn confirm_password_reset(
        &self,
        token: &str,
        new_password: &str,
    ) -> Result<(), Refusal> {
        let password = Password::parse(new_password)
            .map_err(|error| Refusal::invalid("new_password", error.to_string()))?;
        // Hash first: a failure here must not spend the single-use token.
        let password_hash = self.hasher.hash(&password).await?;
        let reset = self
            .store
            .accounts()
            .reset_password(&crypto::sha256(token.as_bytes()), &password_hash, clock::now())
            .await?;
        match reset {
            Some(user) => {
                tracing::info!(user.id = display(&user), "password reset; every session ended");
                Ok(())
            }
            None => Err(Refusal::InvalidToken),
        }
    }
}
