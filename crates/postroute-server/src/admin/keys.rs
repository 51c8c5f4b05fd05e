//! `postroute keys rotate`: re-seals every channel token under the current OAuth key, in
//! batches, while the servers keep running (they open both keys meanwhile). Resumable: it looks
//! for rows still sealed under another key, so a second run continues where one stopped.

use postroute_store::{Store, StoreError};

use crate::channels::TokenCipher;
use crate::crypto::OpenError;

const BATCH: u32 = 100;

/// Why rotation stopped.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Storage failed; run again to continue.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A token could not be opened with any configured key.
    #[error(
        "a channel token cannot be opened ({0}); is its key in encryption.previous_oauth_keys?"
    )]
    Open(#[from] OpenError),
    /// The OS CSPRNG failed.
    #[error(transparent)]
    Randomness(#[from] crate::crypto::RandomnessUnavailable),
}

/// How a rotation went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Channels re-sealed under the current key.
    pub resealed: u64,
    /// Channels whose tokens changed while being re-sealed (a refresh wrote fresh ones, which are
    /// already under the current key).
    pub skipped: u64,
}

/// Re-seals every channel token under `cipher`'s current key; `progress` hears after each batch.
pub async fn rotate(
    store: &Store,
    cipher: &TokenCipher,
    mut progress: impl FnMut(RotationReport),
) -> Result<RotationReport, RotationError> {
    let current = cipher.current_key_id();
    let everywhere = store.cross_tenant_unscoped();
    let mut report = RotationReport::default();
    loop {
        let stale = everywhere.channels_sealed_with_other_keys(&current, BATCH).await?;
        if stale.is_empty() {
            return Ok(report);
        }
        for channel in &stale {
            let plain = cipher.open(channel.workspace, channel.id, &channel.tokens)?;
            let resealed = cipher.seal(channel.workspace, channel.id, &plain)?;
            if everywhere.reseal_channel(channel, &resealed).await? {
                report.resealed += 1;
            } else {
                report.skipped += 1;
            }
        }
        progress(report);
    }
}
