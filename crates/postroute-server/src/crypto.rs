//! Small cryptographic building blocks: random tokens, digests, keyed hashes and AES-256-GCM
//! sealing. Each wraps a RustCrypto primitive; nothing here invents cryptography.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Bytes of a random opaque token (refresh, verification, reset): 512 bits.
pub const TOKEN_BYTES: usize = 64;

const SEAL_VERSION: u8 = 1;
const NONCE_BYTES: usize = 12;

/// The operating system's CSPRNG failed; nothing secret can be made.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed: {0}")]
pub struct RandomnessUnavailable(getrandom::Error);

/// A new opaque token, base64url without padding, and the SHA-256 that is stored instead.
pub fn random_token() -> Result<(String, [u8; 32]), RandomnessUnavailable> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(RandomnessUnavailable)?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    bytes.fill(0);
    let digest = sha256(token.as_bytes());
    Ok((token, digest))
}

/// SHA-256: right for looking up 512-bit random tokens, which need no slow hash.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// A key for one purpose derived from a master key, so that one key never serves two uses.
pub fn derive_key(master: &[u8], purpose: &str) -> [u8; 32] {
    hmac_sha256(master, purpose.as_bytes())
}

/// Why sealed bytes could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Too short or of an unknown format version.
    #[error("sealed data is malformed")]
    Malformed,
    /// Wrong key, wrong associated data, or tampered bytes.
    #[error("sealed data does not authenticate (wrong key, wrong row, or tampered)")]
    Unauthentic,
}

/// AES-256-GCM with a random 96-bit nonce per message; the associated data binds a ciphertext
/// to the place it belongs, so one copied elsewhere does not open.
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// A sealer under `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(key.into()) }
    }

    /// `version || nonce || ciphertext+tag`.
    pub fn seal(
        &self,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<Vec<u8>, RandomnessUnavailable> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(RandomnessUnavailable)?;
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: associated_data })
            // Encryption fails only for plaintexts beyond GCM's 64 GiB bound.
            .unwrap_or_else(|_| unreachable!("AES-GCM plaintext within bounds"));
        let mut sealed = Vec::with_capacity(1 + NONCE_BYTES + ciphertext.len());
        sealed.push(SEAL_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The plaintext, if `sealed` was made by this key for this associated data.
    pub fn open(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (version, rest) = sealed.split_first().ok_or(OpenError::Malformed)?;
        if *version != SEAL_VERSION || rest.len() < NONCE_BYTES + 16 {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: associated_data })
            .map_err(|_| OpenError::Unauthentic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_512_bit_and_stored_as_their_digest() {
        let (token, digest) = random_token().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).unwrap().len(), TOKEN_BYTES);
        assert_eq!(digest, sha256(token.as_bytes()));
        assert_ne!(random_token().unwrap().0, token);
    }

    #[test]
    fn sealed_data_opens_only_with_its_key_and_associated_data() {
        let sealer = Sealer::new(&[7u8; 32]);
        let sealed = sealer.seal(b"secret body", b"email_outbox:1").unwrap();
        assert_eq!(sealer.open(&sealed, b"email_outbox:1").unwrap(), b"secret body");
        assert!(!sealed.windows(6).any(|window| window == b"secret"));
        assert!(matches!(sealer.open(&sealed, b"email_outbox:2"), Err(OpenError::Unauthentic)));
        assert!(matches!(
            Sealer::new(&[8u8; 32]).open(&sealed, b"email_outbox:1"),
            Err(OpenError::Unauthentic)
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(sealer.open(&tampered, b"email_outbox:1"), Err(OpenError::Unauthentic)));
        assert!(matches!(sealer.open(&sealed[..10], b"email_outbox:1"), Err(OpenError::Malformed)));
        assert_ne!(
            sealer.seal(b"secret body", b"x").unwrap(),
            sealer.seal(b"secret body", b"x").unwrap()
        );
    }
}
