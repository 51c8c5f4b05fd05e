//! The server's own secret keys: read from configuration, or in development generated once
//! into the data directory so that a first run needs no setup.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use secrecy::{ExposeSecret, SecretBox, SecretSlice, SecretString};

use super::{Config, ConfigError, Environment};

/// Bytes in a generated key, and in the AES-256 keys.
pub const KEY_BYTES: usize = 32;

/// The keys PostRoute holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyName {
    /// HMAC key for access tokens.
    JwtSecret,
    /// AES-256-GCM key for channel OAuth tokens.
    OauthKey,
    /// AES-256-GCM key for backups.
    BackupKey,
}

impl KeyName {
    /// Every key, in a stable order.
    pub const ALL: [KeyName; 3] = [Self::JwtSecret, Self::OauthKey, Self::BackupKey];

    /// The dotted configuration key.
    pub const fn config_key(self) -> &'static str {
        match self {
            Self::JwtSecret => "auth.jwt_secret",
            Self::OauthKey => "encryption.oauth_key",
            Self::BackupKey => "backup.key",
        }
    }

    /// The environment variable a deployer sets.
    pub const fn env_var(self) -> &'static str {
        match self {
            Self::JwtSecret => "POSTROUTE_AUTH__JWT_SECRET",
            Self::OauthKey => "POSTROUTE_ENCRYPTION__OAUTH_KEY",
            Self::BackupKey => "POSTROUTE_BACKUP__KEY",
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Self::JwtSecret => "jwt_secret.key",
            Self::OauthKey => "oauth_key.key",
            Self::BackupKey => "backup_key.key",
        }
    }

    /// AES keys are exactly 32 bytes; the HMAC key is at least 32.
    fn accepts_length(self, length: usize) -> bool {
        match self {
            Self::JwtSecret => length >= KEY_BYTES,
            Self::OauthKey | Self::BackupKey => length == KEY_BYTES,
        }
    }

    fn length_rule(self) -> &'static str {
        match self {
            Self::JwtSecret => "must be base64 of at least 32 bytes",
            Self::OauthKey | Self::BackupKey => "must be base64 of exactly 32 bytes",
        }
    }

    pub(super) fn configured(self, config: &Config) -> Option<&SecretString> {
        match self {
            Self::JwtSecret => config.auth.jwt_secret.as_ref(),
            Self::OauthKey => config.encryption.oauth_key.as_ref(),
            Self::BackupKey => config.backup.key.as_ref(),
        }
    }

    /// Decodes a base64 key and checks its length, naming the key on failure.
    pub fn decode(self, encoded: &str) -> Result<SecretSlice<u8>, ConfigError> {
        let bytes = BASE64
            .decode(encoded.trim())
            .map_err(|_| ConfigError::invalid(self.config_key(), self.length_rule()))?;
        if !self.accepts_length(bytes.len()) {
            return Err(ConfigError::invalid(
                self.config_key(),
                format!("{} (got {} bytes)", self.length_rule(), bytes.len()),
            ));
        }
        Ok(SecretSlice::from(bytes))
    }

    /// Where development keeps this key.
    pub fn development_path(self, data_dir: &Path) -> PathBuf {
        data_dir.join("secrets").join(self.file_name())
    }
}

/// The resolved keys, held only in memory and redacted from `Debug`.
#[derive(Debug)]
pub struct Keys {
    /// HMAC key for access tokens.
    pub jwt_secret: SecretSlice<u8>,
    /// AES-256-GCM key for channel OAuth tokens.
    pub oauth_key: SecretBox<[u8; KEY_BYTES]>,
    /// AES-256-GCM key for backups.
    pub backup_key: SecretBox<[u8; KEY_BYTES]>,
    /// OAuth keys being rotated out.
    pub previous_oauth_keys: Vec<SecretBox<[u8; KEY_BYTES]>>,
}

impl Keys {
    /// The keyring for channel tokens: seals under the OAuth key, opens what previous keys
    /// sealed.
    pub fn oauth_keyring(&self) -> crate::crypto::Keyring {
        let previous: Vec<[u8; KEY_BYTES]> =
            self.previous_oauth_keys.iter().map(|key| *key.expose_secret()).collect();
        crate::crypto::Keyring::new(self.oauth_key.expose_secret(), &previous)
    }

    /// A keyring for one purpose (`postroute/email-outbox/v1`, ...), derived from the OAuth key
    /// and its predecessors so that it rotates with them.
    pub fn derived_keyring(&self, purpose: &str) -> crate::crypto::Keyring {
        let mut keys = self.derived_keys(purpose);
        let current = keys.remove(0);
        crate::crypto::Keyring::new(&current, &keys)
    }

    /// Keys for one purpose derived from the OAuth key and its predecessors, current first:
    /// what the current key made stays verifiable while the previous keys are configured.
    pub fn derived_keys(&self, purpose: &str) -> Vec<[u8; KEY_BYTES]> {
        std::iter::once(&self.oauth_key)
            .chain(&self.previous_oauth_keys)
            .map(|key| crate::crypto::derive_key(key.expose_secret(), purpose))
            .collect()
    }

    /// Takes each key from configuration; in development a missing key is read from, or
    /// generated once into, `DATA_DIR/secrets` with 0600 permissions and a warning.
    pub fn resolve(config: &Config) -> Result<Self, ConfigError> {
        let jwt_secret = resolve_one(config, KeyName::JwtSecret)?;
        let oauth_key = fixed(resolve_one(config, KeyName::OauthKey)?, KeyName::OauthKey)?;
        let backup_key = fixed(resolve_one(config, KeyName::BackupKey)?, KeyName::BackupKey)?;
        if oauth_key.expose_secret() == backup_key.expose_secret() {
            return Err(ConfigError::invalid(
                KeyName::BackupKey.config_key(),
                "must differ from encryption.oauth_key",
            ));
        }
        let previous_oauth_keys = config
            .encryption
            .previous_oauth_keys
            .iter()
            .map(|key| fixed(KeyName::OauthKey.decode(key.expose_secret())?, KeyName::OauthKey))
            .collect::<Result<_, _>>()?;
        Ok(Self { jwt_secret, oauth_key, backup_key, previous_oauth_keys })
    }
}

/// A new random key, base64-encoded, as `postroute keys generate` prints it.
pub fn generate_key() -> Result<SecretString, getrandom::Error> {
    let mut bytes = [0u8; KEY_BYTES];
    getrandom::fill(&mut bytes)?;
    let encoded = BASE64.encode(bytes);
    bytes.fill(0);
    Ok(SecretString::from(encoded))
}

fn fixed(key: SecretSlice<u8>, name: KeyName) -> Result<SecretBox<[u8; KEY_BYTES]>, ConfigError> {
    let array: [u8; KEY_BYTES] = key
        .expose_secret()
        .try_into()
        .map_err(|_| ConfigError::invalid(name.config_key(), name.length_rule()))?;
    Ok(SecretBox::new(Box::new(array)))
}

fn resolve_one(config: &Config, name: KeyName) -> Result<SecretSlice<u8>, ConfigError> {
    if let Some(configured) = name.configured(config) {
        return name.decode(configured.expose_secret());
    }
    if config.env == Environment::Production {
        return Err(ConfigError::invalid(
            name.config_key(),
            format!("is required in production (set {})", name.env_var()),
        ));
    }
    let path = name.development_path(&config.data_dir);
    let key_file_error =
        |reason: String| ConfigError::KeyFile { key: name.config_key().to_owned(), reason };
    match fs::read_to_string(&path) {
        Ok(encoded) => name.decode(&encoded),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let encoded = generate_key()
                .map_err(|error| key_file_error(format!("no randomness available: {error}")))?;
            match write_private(&path, encoded.expose_secret()) {
                Ok(()) => {}
                // Another process starting at the same moment won the race: use its key.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    let theirs = fs::read_to_string(&path).map_err(|error| {
                        key_file_error(format!("cannot read {}: {error}", path.display()))
                    })?;
                    return name.decode(&theirs);
                }
                Err(error) => {
                    return Err(key_file_error(format!(
                        "cannot write {}: {error}",
                        path.display()
                    )));
                }
            }
            tracing::warn!(
                key = name.config_key(),
                path = display(&path.display()),
                "generated a development key; set {} in production",
                name.env_var()
            );
            name.decode(encoded.expose_secret())
        }
        Err(error) => Err(key_file_error(format!("cannot read {}: {error}", path.display()))),
    }
}

/// Writes `contents` to a new file only its owner can read, in a directory only its owner can list.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(directory) = path.parent() {
        fs::create_dir_all(directory)?;
        fs::set_permissions(directory, fs::Permissions::from_mode(0o700))?;
    }
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn development_keys_are_generated_once_into_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        let first = Keys::resolve(&config).unwrap();
        for name in KeyName::ALL {
            let path = name.development_path(dir.path());
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600,
                "{path:?}"
            );
        }
        let directory =
            KeyName::JwtSecret.development_path(dir.path()).parent().unwrap().to_path_buf();
        assert_eq!(std::fs::metadata(directory).unwrap().permissions().mode() & 0o777, 0o700);
        assert_ne!(first.oauth_key.expose_secret(), first.backup_key.expose_secret());

        let second = Keys::resolve(&config).unwrap();
        assert_eq!(first.jwt_secret.expose_secret(), second.jwt_secret.expose_secret());
        assert_eq!(first.oauth_key.expose_secret(), second.oauth_key.expose_secret());
        assert!(!format!("{first:?}").contains(&format!("{:?}", first.oauth_key.expose_secret())));
    }

    #[test]
    fn production_never_generates_keys() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            env: Environment::Production,
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let error = Keys::resolve(&config).unwrap_err().to_string();
        assert!(error.contains("is required in production"), "{error}");
        assert!(!dir.path().join("secrets").exists());
    }
}
