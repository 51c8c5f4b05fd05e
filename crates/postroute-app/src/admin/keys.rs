//! `postroute keys rotate`: re-seals everything sealed under a previous OAuth key (channel
//! tokens, queued emails, OAuth states, pending Meta connections) under the current one, in
//! batches, while the servers keep running (they open both keys meanwhile). Resumable: it looks
//! for values still sealed under another key, so a second run continues where one stopped.
//! Public media links are signatures, not stored values: nothing to re-seal, see
//! [`RotationReport::link_note`].

use postroute_store::{SealedKind, SealedPlace, SealedValue, Store, StoreError};

use crate::channels::{TokenCipher, pending_associated_data, state_associated_data};
use crate::config::Keys;
use crate::crypto::{Keyring, OpenError, RandomnessUnavailable};
use crate::mail::{OUTBOX_KEY_PURPOSE, outbox_associated_data};

const BATCH: u32 = 100;

/// Why rotation stopped.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Storage failed; run again to continue.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The OS CSPRNG failed.
    #[error(transparent)]
    Randomness(#[from] RandomnessUnavailable),
}

/// What happened to one kind of sealed value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Values re-sealed under the current key.
    pub resealed: u64,
    /// Values that changed while being re-sealed (rewritten under the current key, or an email
    /// sent and wiped meanwhile): nothing left to do for them.
    pub skipped: u64,
    /// Values no configured key opens (sealed under a key no longer configured, or altered):
    /// left as they are, counted, and rotation goes on with the rest.
    pub unopened: u64,
}

/// How a rotation went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Channel access and refresh tokens.
    pub channels: Resealed,
    /// Bodies of queued emails.
    pub outbox: Resealed,
    /// PKCE verifiers of OAuth flows in progress.
    pub oauth_states: Resealed,
    /// Accounts offered by Meta logins awaiting a choice.
    pub pending_connections: Resealed,
}

impl RotationReport {
    /// How many values no configured key opened, of every kind.
    pub fn unopened(&self) -> u64 {
        [self.channels, self.outbox, self.oauth_states, self.pending_connections]
            .iter()
            .map(|counts| counts.unopened)
            .sum()
    }

    /// What rotation cannot re-seal: public media links are HMAC signatures handed to
    /// platforms, not stored, and those signed under the previous key verify only while it
    /// stays configured.
    pub fn link_note(link_ttl_secs: u64) -> String {
        format!(
            "public media links are signed, not stored: those issued under the previous key \
             verify only while it stays in encryption.previous_oauth_keys; remove it no sooner \
             than {link_ttl_secs} seconds (storage.public_link_ttl_secs) from now"
        )
    }

    fn of(&mut self, kind: SealedKind) -> &mut Resealed {
        match kind {
            SealedKind::OutboxBody => &mut self.outbox,
            SealedKind::OAuthState => &mut self.oauth_states,
            SealedKind::PendingConnection => &mut self.pending_connections,
        }
    }
}

/// The keyrings rotation seals with: each seals under its current key and opens what the
/// previous ones sealed.
#[derive(Debug)]
pub struct RotationKeys {
    /// Channel tokens, OAuth states and pending connections.
    pub oauth: TokenCipher,
    /// The outbox, under a key derived from the OAuth key.
    pub outbox: Keyring,
}

impl RotationKeys {
    /// The keyrings the configuration's keys make.
    pub fn from_keys(keys: &Keys) -> Self {
        Self {
            oauth: TokenCipher::new(std::sync::Arc::new(keys.oauth_keyring())),
            outbox: keys.derived_keyring(OUTBOX_KEY_PURPOSE),
        }
    }
}

/// Re-seals everything under the current keys; `progress` hears after each batch.
pub async fn rotate(
    store: &Store,
    keys: &RotationKeys,
    mut progress: impl FnMut(&RotationReport),
) -> Result<RotationReport, RotationError> {
    let mut report = RotationReport::default();
    rotate_channels(store, &keys.oauth, &mut report, &mut progress).await?;
    let everywhere = store.cross_tenant_unscoped();
    for kind in SealedKind::ALL {
        let keyring = match kind {
            SealedKind::OutboxBody => &keys.outbox,
            SealedKind::OAuthState | SealedKind::PendingConnection => keys.oauth.keyring(),
        };
        let current = keyring.current_key_id_bytes();
        // Values that did not open stay under their old key, so each later batch finds them
        // again: it asks for that many more, and passes over them.
        let mut unopened = Vec::new();
        loop {
            let limit = BATCH + u32::try_from(unopened.len()).unwrap_or(u32::MAX - BATCH);
            let batch = everywhere.sealed_with_other_keys(kind, &current, limit).await?;
            let stale: Vec<_> =
                batch.into_iter().filter(|value| !unopened.contains(&value.place)).collect();
            if stale.is_empty() {
                break;
            }
            for value in stale {
                let counts = report.of(kind);
                match reseal(keyring, &value) {
                    Ok(resealed) => {
                        if everywhere.reseal_value(&value, &resealed?).await? {
                            counts.resealed += 1;
                        } else {
                            counts.skipped += 1;
                        }
                    }
                    Err(error) => {
                        tracing::warn!(
                            kind = kind.label(),
                            error = display(&error),
                            "a sealed value does not open; left as it is"
                        );
                        counts.unopened += 1;
                        unopened.push(value.place);
                    }
                }
            }
            progress(&report);
        }
    }
    Ok(report)
}

/// The value sealed anew under the current key, for the same place; `Err` when it does not open.
fn reseal(
    keyring: &Keyring,
    value: &SealedValue,
) -> Result<Result<Vec<u8>, RandomnessUnavailable>, OpenError> {
    let associated_data = match &value.place {
        SealedPlace::OutboxBody { id, to } => outbox_associated_data(*id, to),
        SealedPlace::OAuthState { workspace, state_hash } => {
            state_associated_data(*workspace, state_hash)
        }
        SealedPlace::PendingConnection { workspace, id } => {
            pending_associated_data(*workspace, *id)
        }
    };
    let plain = keyring.open(&value.sealed, &associated_data)?;
    Ok(keyring.seal(&plain, &associated_data))
}

async fn rotate_channels(
    store: &Store,
    cipher: &TokenCipher,
    report: &mut RotationReport,
    progress: &mut impl FnMut(&RotationReport),
) -> Result<(), RotationError> {
    let current = cipher.current_key_id();
    let everywhere = store.cross_tenant_unscoped();
    let mut unopened = Vec::new();
    loop {
        let limit = BATCH + u32::try_from(unopened.len()).unwrap_or(u32::MAX - BATCH);
        let batch = everywhere.channels_sealed_with_other_keys(&current, limit).await?;
        let stale: Vec<_> = batch
            .into_iter()
            .filter(|channel| !unopened.contains(&(channel.workspace, channel.id)))
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        for channel in &stale {
            let plain = match cipher.open(channel.workspace, channel.id, &channel.tokens) {
                Ok(plain) => plain,
                Err(error) => {
                    tracing::warn!(
                        channel.id = display(&channel.id),
                        error = display(&error),
                        "channel tokens do not open; left as they are"
                    );
                    report.channels.unopened += 1;
                    unopened.push((channel.workspace, channel.id));
                    continue;
                }
            };
            let resealed = cipher.seal(channel.workspace, channel.id, &plain)?;
            if everywhere.reseal_channel(channel, &resealed).await? {
                report.channels.resealed += 1;
            } else {
                report.channels.skipped += 1;
            }
        }
        progress(report);
    }
}
