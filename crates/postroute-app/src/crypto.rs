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

const SEAL_VERSION: u8 = 2;
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
    /// Sealed with a key this server does not hold (rotated out, or another deployment's).
    #[error(
        "sealed with key {0}, which is not configured (add it to encryption.previous_oauth_keys)"
    )]
    UnknownKey(String),
    /// Wrong key, wrong associated data, or tampered bytes.
    #[error("sealed data does not authenticate (wrong key, wrong row, or tampered)")]
    Unauthentic,
}

const KEY_ID_BYTES: usize = 8;

struct SealingKey {
    id: [u8; KEY_ID_BYTES],
    cipher: Aes256Gcm,
}

impl SealingKey {
    fn new(key: &[u8; 32]) -> Self {
        let digest = sha256(&[b"postroute-key-id:".as_slice(), key].concat());
        let mut id = [0u8; KEY_ID_BYTES];
        id.copy_from_slice(&digest[..KEY_ID_BYTES]);
        Self { id, cipher: Aes256Gcm::new(key.into()) }
    }
}

/// AES-256-GCM under the current key, opening what older keys sealed (S-ENC-1): a random
/// 96-bit nonce per message, the associated data binding a ciphertext to the place it belongs
/// (so one copied elsewhere does not open), and the key's id stored in front of the ciphertext
/// so keys can rotate. Format: `version (1) || key id (8) || nonce (12) || ciphertext+tag`.
pub struct Keyring {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current_key_id())
            .field("previous", &self.previous.len())
            .finish()
    }
}

impl Keyring {
    /// Seals with `current`; also opens what `previous` keys sealed.
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        Self {
            current: SealingKey::new(current),
            previous: previous.iter().map(SealingKey::new).collect(),
        }
    }

    /// The current key's id, in hex, as stored beside sealed columns.
    pub fn current_key_id(&self) -> String {
        hex(&self.current.id)
    }

    /// The current key's id as it stands inside sealed values (after the version byte).
    pub fn current_key_id_bytes(&self) -> [u8; KEY_ID_BYTES] {
        self.current.id
    }

    /// Seals `plaintext` for the place `associated_data` names.
    pub fn seal(
        &self,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<Vec<u8>, RandomnessUnavailable> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(RandomnessUnavailable)?;
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: associated_data })
            // Encryption fails only for plaintexts beyond GCM's 64 GiB bound.
            .unwrap_or_else(|_| unreachable!("AES-GCM plaintext within bounds"));
        let mut sealed = Vec::with_capacity(1 + KEY_ID_BYTES + NONCE_BYTES + ciphertext.len());
        sealed.push(SEAL_VERSION);
        sealed.extend_from_slice(&self.current.id);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The plaintext, if `sealed` was made by one of our keys for this associated data.
    pub fn open(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (version, rest) = sealed.split_first().ok_or(OpenError::Malformed)?;
        if *version != SEAL_VERSION || rest.len() < KEY_ID_BYTES + NONCE_BYTES + 16 {
            return Err(OpenError::Malformed);
        }
        let (id, rest) = rest.split_at(KEY_ID_BYTES);
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
            .ok_or_else(|| OpenError::UnknownKey(hex(id)))?;
        key.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: associated_data })
            .map_err(|_| OpenError::Unauthentic)
    }
}

/// Lower-case hexadecimal, as digests are written in headers, keys and logs.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
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

    // proves S-ENC-1
    #[test]
    fn sealed_data_opens_only_with_its_key_and_associated_data() {
        let keyring = Keyring::new(&[7u8; 32], &[]);
        let sealed = keyring.seal(b"secret body", b"row:1").unwrap();
        assert_eq!(keyring.open(&sealed, b"row:1").unwrap(), b"secret body");
        assert!(!sealed.windows(6).any(|window| window == b"secret"));
        assert!(matches!(keyring.open(&sealed, b"row:2"), Err(OpenError::Unauthentic)));
        assert!(matches!(
            Keyring::new(&[8u8; 32], &[]).open(&sealed, b"row:1"),
            Err(OpenError::UnknownKey(_))
        ));
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(matches!(keyring.open(&tampered, b"row:1"), Err(OpenError::Unauthentic)));
        assert!(matches!(keyring.open(&sealed[..10], b"row:1"), Err(OpenError::Malformed)));
        assert_ne!(
            keyring.seal(b"secret body", b"x").unwrap(),
            keyring.seal(b"secret body", b"x").unwrap(),
            "fresh nonce each time"
        );
    }

    // proves S-ENC-2
    #[test]
    fn a_rotated_keyring_opens_old_ciphertexts_and_seals_new_ones_under_the_new_key() {
        let old = Keyring::new(&[1u8; 32], &[]);
        let sealed_before = old.seal(b"token", b"row").unwrap();
        let rotated = Keyring::new(&[2u8; 32], &[[1u8; 32]]);
        assert_eq!(rotated.open(&sealed_before, b"row").unwrap(), b"token");
        let sealed_after = rotated.seal(b"token", b"row").unwrap();
        assert_eq!(
            hex(&sealed_after[1..9]),
            rotated.current_key_id(),
            "the key id travels with the ciphertext"
        );
        assert_ne!(old.current_key_id(), rotated.current_key_id());
        match old.open(&sealed_after, b"row") {
            Err(OpenError::UnknownKey(id)) => assert_eq!(id, rotated.current_key_id()),
            other => panic!("{other:?}"),
        }
    }
}
