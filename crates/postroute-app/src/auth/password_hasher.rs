//! Argon2id password hashing off the async executor with bounded concurrency (S-ENC-3): a
//! login storm queues for permits instead of starving the server or exhausting memory.

use std::sync::Arc;

use argon2::password_hash::SaltString;
use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher as _, PasswordVerifier as _, Version,
};
use postroute_domain::Password;
use postroute_domain::password::normalize_password;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::config::Argon2Config;

/// A hashing failure that is not a wrong password: a bug or a broken stored hash.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The parameters or the stored hash are unusable.
    #[error("password hashing failed: {0}")]
    Argon2(String),
    /// The OS CSPRNG failed.
    #[error(transparent)]
    Randomness(#[from] crate::crypto::RandomnessUnavailable),
    /// The blocking task died.
    #[error("password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The outcome of checking a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// It matches; `needs_rehash` when the stored hash used other parameters than today's.
    Match {
        /// Re-hash and store under the current parameters.
        needs_rehash: bool,
    },
    /// It does not match.
    Mismatch,
}

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A real hash of a random password: unknown emails are verified against it, so their
    /// answer costs what a wrong password costs (S-AUTH-6).
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").field("params", &self.params).finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Builds the hasher, with a dummy hash that costs nothing to make.
    pub fn new(config: &Argon2Config) -> Result<Self, HashError> {
        let params = Params::new(config.memory_kib, config.iterations, config.parallelism, None)
            .map_err(|error| HashError::Argon2(error.to_string()))?;
        let concurrency = match config.max_concurrent {
            0 => std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            n => n,
        };
        let dummy_hash = Arc::from(unmatchable_hash(&params)?);
        Ok(Self { params, permits: Arc::new(Semaphore::new(concurrency)), dummy_hash })
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.permits.available_permits()
    }

    /// A PHC string for a new password.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        self.hash_secret(Zeroizing::new(password.expose().to_owned())).await
    }

    async fn hash_secret(&self, password: Zeroizing<String>) -> Result<String, HashError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|error| HashError::Argon2(error.to_string()))?;
        let params = self.params.clone();
        let _permit =
            self.permits.acquire().await.map_err(|error| HashError::Argon2(error.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::encode_b64(&salt)
                .map_err(|error| HashError::Argon2(error.to_string()))?;
            argon2(params)
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|error| HashError::Argon2(error.to_string()))
        })
        .await?
    }

    /// Checks `password`, in its normalised form, against a stored PHC string. A hash made
    /// before passwords were normalised is matched against the password as typed, and then
    /// asks to be re-hashed in the normalised form.
    pub async fn verify(&self, password: &str, stored: &str) -> Result<Verification, HashError> {
        let normalized = Zeroizing::new(normalize_password(password));
        let verdict = self.verify_form(normalized.as_str(), stored).await?;
        if verdict != Verification::Mismatch || normalized.as_str() == password {
            return Ok(verdict);
        }
        Ok(match self.verify_form(password, stored).await? {
            Verification::Match { .. } => Verification::Match { needs_rehash: true },
            Verification::Mismatch => Verification::Mismatch,
        })
    }

    async fn verify_form(&self, password: &str, stored: &str) -> Result<Verification, HashError> {
        let password = Zeroizing::new(password.to_owned());
        let stored = stored.to_owned();
        let current = self.params.clone();
        let _permit =
            self.permits.acquire().await.map_err(|error| HashError::Argon2(error.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let parsed =
                PasswordHash::new(&stored).map_err(|error| HashError::Argon2(error.to_string()))?;
            let stored_params =
                Params::try_from(&parsed).map_err(|error| HashError::Argon2(error.to_string()))?;
            // Verify with the parameters the hash was made with, whatever today's are.
            match argon2(stored_params.clone()).verify_password(password.as_bytes(), &parsed) {
                Ok(()) => Ok(Verification::Match {
                    needs_rehash: parsed.algorithm != Algorithm::Argon2id.ident()
                        || parsed.version != Some(Version::V0x13.into())
                        || stored_params.m_cost() != current.m_cost()
                        || stored_params.t_cost() != current.t_cost()
                        || stored_params.p_cost() != current.p_cost(),
                }),
                Err(argon2::password_hash::Error::Password) => Ok(Verification::Mismatch),
                Err(error) => Err(HashError::Argon2(error.to_string())),
            }
        })
        .await?
    }

    /// Spends the time of one verification against the dummy hash; the result is meaningless.
    pub async fn verify_dummy(&self, password: &str) -> Result<(), HashError> {
        let dummy = self.dummy_hash.clone();
        self.verify(password, &dummy).await.map(drop)
    }
}

/// A PHC string shaped as a real hash under `params`, its salt and output random, so that no
/// password matches it, made without running Argon2: verifying a password against it runs one
/// full Argon2 under those parameters, which is all the dummy is for. Every process used to
/// hash a random password at start-up for it (64 MiB and a sixth of a second under the
/// defaults), the worker too, which never verifies one.
fn unmatchable_hash(params: &Params) -> Result<String, HashError> {
    let (mut salt, mut output) = ([0u8; 16], [0u8; 32]);
    for bytes in [&mut salt[..], &mut output[..]] {
        getrandom::fill(bytes).map_err(|error| HashError::Argon2(error.to_string()))?;
    }
    let salt =
        SaltString::encode_b64(&salt).map_err(|error| HashError::Argon2(error.to_string()))?;
    let output = argon2::password_hash::Output::new(&output)
        .map_err(|error| HashError::Argon2(error.to_string()))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${output}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        salt.as_str()
    ))
}

fn argon2(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(memory_kib: u32, iterations: u32) -> Argon2Config {
        Argon2Config { memory_kib, iterations, parallelism: 1, max_concurrent: 2 }
    }

    // proves S-AUTH-6
    #[tokio::test]
    async fn the_dummy_an_unknown_email_is_checked_against_costs_a_real_verification() {
        let hasher = PasswordHasher::new(&config(19_456, 2)).unwrap();
        // Shaped as a real hash under today's parameters, so checking a password against it
        // runs Argon2 with them in full, as a wrong password does; and nothing matches it.
        let dummy = PasswordHash::new(&hasher.dummy_hash).unwrap();
        assert_eq!(dummy.algorithm, Algorithm::Argon2id.ident());
        let params = Params::try_from(&dummy).unwrap();
        assert_eq!((params.m_cost(), params.t_cost(), params.p_cost()), (19_456, 2, 1));
        assert_eq!(dummy.hash.unwrap().len(), 32, "a real hash's length");
        let other = PasswordHasher::new(&config(19_456, 2)).unwrap();
        assert_ne!(hasher.dummy_hash, other.dummy_hash, "random, each process its own");
        for password in ["", "correct horse battery staple"] {
            let verdict = hasher.verify(password, &hasher.dummy_hash).await.unwrap();
            assert_eq!(verdict, Verification::Mismatch);
        }
        hasher.verify_dummy("anything").await.unwrap();
    }

    // proves S-ENC-3
    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_the_configured_parameters() {
        let hasher = PasswordHasher::new(&config(19_456, 2)).unwrap();
        let password = Password::parse("a long enough passphrase").unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(!hash.contains("passphrase"));
        assert_eq!(
            hasher.verify("a long enough passphrase", &hash).await.unwrap(),
            Verification::Match { needs_rehash: false }
        );
        assert_eq!(
            hasher.verify("another passphrase!", &hash).await.unwrap(),
            Verification::Mismatch
        );
    }

    // proves S-ENC-3
    #[tokio::test]
    async fn a_hash_made_under_old_parameters_asks_to_be_rehashed() {
        let old = PasswordHasher::new(&config(8_192, 1)).unwrap();
        let hash = old.hash(&Password::parse("a long enough passphrase").unwrap()).await.unwrap();
        let current = PasswordHasher::new(&config(19_456, 2)).unwrap();
        assert_eq!(
            current.verify("a long enough passphrase", &hash).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
    }

    #[tokio::test]
    async fn a_password_matches_however_its_accents_were_typed() {
        let hasher = PasswordHasher::new(&config(8_192, 1)).unwrap();
        let hash =
            hasher.hash(&Password::parse("caf\u{e9} au lait chaque matin").unwrap()).await.unwrap();
        assert_eq!(
            hasher.verify("cafe\u{301} au lait chaque matin", &hash).await.unwrap(),
            Verification::Match { needs_rehash: false }
        );
        // A hash made before normalisation, of the decomposed form, still matches and asks
        // to be re-hashed.
        let legacy = hasher
            .hash_secret(Zeroizing::new("cafe\u{301} au lait chaque matin".to_owned()))
            .await
            .unwrap();
        assert_eq!(
            hasher.verify("cafe\u{301} au lait chaque matin", &legacy).await.unwrap(),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(
            hasher.verify("cafe au lait chaque matin", &legacy).await.unwrap(),
            Verification::Mismatch
        );
    }

    #[tokio::test]
    async fn concurrency_is_bounded_by_configuration() {
        let hasher = PasswordHasher::new(&config(8_192, 1)).unwrap();
        assert_eq!(hasher.concurrency(), 2);
    }
}
