//! Channel tokens in memory (a type that never prints) and at rest (sealed, each bound to its
//! workspace, channel and field, so a ciphertext copied to another row does not open).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use postroute_domain::{ChannelId, WorkspaceId};
use postroute_store::SealedTokens;
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::{Keyring, OpenError, RandomnessUnavailable};

/// A token in the clear: only ever in memory, redacted from `Debug`.
#[derive(Clone)]
pub struct PlainToken(SecretString);

impl PlainToken {
    /// Wraps a token a platform returned.
    pub fn new(token: String) -> Self {
        Self(SecretString::from(token))
    }

    /// The token, for the one call that sends it to its platform.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlainToken([redacted])")
    }
}

impl std::fmt::Display for PlainToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A channel's tokens in the clear.
#[derive(Clone, Debug)]
pub struct PlainTokens {
    /// The access token.
    pub access_token: PlainToken,
    /// The refresh token, where the platform issues one.
    pub refresh_token: Option<PlainToken>,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Seals and opens channel tokens.
#[derive(Clone, Debug)]
pub struct TokenCipher {
    keyring: Arc<Keyring>,
}

/// What a sealed field is bound to.
pub(crate) fn associated_data(workspace: WorkspaceId, channel: ChannelId, field: &str) -> Vec<u8> {
    format!("channel:{workspace}:{channel}:{field}").into_bytes()
}

impl TokenCipher {
    /// A cipher over `keyring`.
    pub fn new(keyring: Arc<Keyring>) -> Self {
        Self { keyring }
    }

    /// The keyring underneath, for values sealed beside the tokens (OAuth states, pending
    /// connections).
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The key new seals use.
    pub fn current_key_id(&self) -> String {
        self.keyring.current_key_id()
    }

    /// Seals `tokens` for the channel `channel` of `workspace`.
    pub fn seal(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        tokens: &PlainTokens,
    ) -> Result<SealedTokens, RandomnessUnavailable> {
        let access_token = self.keyring.seal(
            tokens.access_token.expose().as_bytes(),
            &associated_data(workspace, channel, "access_token"),
        )?;
        let refresh_token = tokens
            .refresh_token
            .as_ref()
            .map(|token| {
                self.keyring.seal(
                    token.expose().as_bytes(),
                    &associated_data(workspace, channel, "refresh_token"),
                )
            })
            .transpose()?;
        Ok(SealedTokens {
            access_token,
            refresh_token,
            key_id: self.keyring.current_key_id(),
            expires_at: tokens.expires_at,
        })
    }

    /// Opens the tokens sealed for `channel` of `workspace`.
    pub fn open(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        sealed: &SealedTokens,
    ) -> Result<PlainTokens, OpenError> {
        let open = |bytes: &[u8], field: &str| -> Result<PlainToken, OpenError> {
            let plain = self.keyring.open(bytes, &associated_data(workspace, channel, field))?;
            String::from_utf8(plain).map(PlainToken::new).map_err(|_| OpenError::Malformed)
        };
        Ok(PlainTokens {
            access_token: open(&sealed.access_token, "access_token")?,
            refresh_token: sealed
                .refresh_token
                .as_deref()
                .map(|bytes| open(bytes, "refresh_token"))
                .transpose()?,
            expires_at: sealed.expires_at,
        })
    }

    /// Seals arbitrary bytes for a place named by `associated_data` (OAuth states, pending
    /// connections).
    pub fn seal_bytes(
        &self,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<Vec<u8>, RandomnessUnavailable> {
        self.keyring.seal(plaintext, associated_data)
    }

    /// Opens what [`seal_bytes`](Self::seal_bytes) sealed.
    pub fn open_bytes(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, OpenError> {
        self.keyring.open(sealed, associated_data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> PlainTokens {
        PlainTokens {
            access_token: PlainToken::new("access-secret".to_owned()),
            refresh_token: Some(PlainToken::new("refresh-secret".to_owned())),
            expires_at: None,
        }
    }

    // proves S-ENC-1
    #[test]
    fn a_ciphertext_opens_only_for_its_own_workspace_channel_and_field() {
        let cipher = TokenCipher::new(Arc::new(Keyring::new(&[3u8; 32], &[])));
        let (workspace, channel) = (WorkspaceId::new(), ChannelId::new());
        let sealed = cipher.seal(workspace, channel, &tokens()).unwrap();
        let opened = cipher.open(workspace, channel, &sealed).unwrap();
        assert_eq!(opened.access_token.expose(), "access-secret");
        assert_eq!(opened.refresh_token.unwrap().expose(), "refresh-secret");

        assert!(
            matches!(
                cipher.open(workspace, ChannelId::new(), &sealed),
                Err(OpenError::Unauthentic)
            ),
            "another channel"
        );
        assert!(
            matches!(
                cipher.open(WorkspaceId::new(), channel, &sealed),
                Err(OpenError::Unauthentic)
            ),
            "another workspace"
        );
        let swapped =
            SealedTokens { access_token: sealed.refresh_token.clone().unwrap(), ..sealed.clone() };
        assert!(
            matches!(cipher.open(workspace, channel, &swapped), Err(OpenError::Unauthentic)),
            "another field"
        );
        let wrong_key = TokenCipher::new(Arc::new(Keyring::new(&[4u8; 32], &[])));
        let error = wrong_key.open(workspace, channel, &sealed).unwrap_err();
        assert!(error.to_string().contains("not configured"), "a clear error: {error}");
    }

    // proves S-ENC-4
    #[test]
    fn tokens_never_print() {
        let tokens = tokens();
        let printed = format!("{tokens:?} {}", tokens.access_token);
        assert!(!printed.contains("secret"), "{printed}");
    }
}
