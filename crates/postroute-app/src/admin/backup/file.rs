//! The encrypted backup file: a writer the store's dump streams into, and a reader the restore
//! streams from. Neither holds more than one chunk in memory.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use postroute_store::{DumpSink, DumpSource};
use sha2::{Digest, Sha256};
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};

use super::BackupError;

const MAGIC: &[u8; 8] = b"PRBACKUP";
/// 2: domain-separated key id, chunks of exactly 1 MiB.
const FORMAT: u8 = 2;
/// Magic, format, key id, nonce prefix.
const HEADER_BYTES: usize = 8 + 1 + 8 + 8;
/// Plaintext per chunk.
const CHUNK_BYTES: usize = 1024 * 1024;
/// GCM's tag.
const TAG_BYTES: usize = 16;

/// A chunk failed authentication, or the file ends where it must not.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChunkRefused(String);

/// Names the key in the file without being a reusable fingerprint of it elsewhere.
fn key_id(key: &[u8; 32]) -> [u8; 8] {
    let mut hasher = Sha256::new();
    hasher.update(b"postroute/backup-key-id/v1");
    hasher.update(key);
    let digest = hasher.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    id
}

fn nonce(prefix: &[u8; 8], index: u32) -> [u8; 12] {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(prefix);
    nonce[8..].copy_from_slice(&index.to_be_bytes());
    nonce
}

fn associated_data(header: &[u8; HEADER_BYTES], index: u32, last: bool) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&index.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// Writes a backup: lines in, encrypted chunks out, to a `.partial` file renamed into place
/// only when complete.
pub struct BackupWriter {
    cipher: Aes256Gcm,
    header: [u8; HEADER_BYTES],
    prefix: [u8; 8],
    index: u32,
    plaintext: Vec<u8>,
    file: BufWriter<File>,
    partial: PathBuf,
    path: PathBuf,
    written: u64,
}

impl std::fmt::Debug for BackupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupWriter").field("path", &self.path).finish_non_exhaustive()
    }
}

impl BackupWriter {
    /// Starts `path`.
    pub async fn create(path: &Path, key: &[u8; 32]) -> Result<Self, BackupError> {
        let mut prefix = [0u8; 8];
        getrandom::fill(&mut prefix)
            .map_err(|error| std::io::Error::other(format!("no randomness: {error}")))?;
        let mut header = [0u8; HEADER_BYTES];
        header[..8].copy_from_slice(MAGIC);
        header[8] = FORMAT;
        header[9..17].copy_from_slice(&key_id(key));
        header[17..].copy_from_slice(&prefix);
        let partial = path.with_extension("partial");
        // A new file only (never someone else's in progress), readable by its owner only.
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = BufWriter::new(options.open(&partial).await?);
        file.write_all(&header).await?;
        Ok(Self {
            cipher: Aes256Gcm::new(key.into()),
            header,
            prefix,
            index: 0,
            plaintext: Vec::with_capacity(CHUNK_BYTES),
            file,
            partial,
            path: path.to_owned(),
            written: HEADER_BYTES as u64,
        })
    }

    /// Seals the first `length` buffered bytes as the next chunk.
    async fn write_chunk(&mut self, length: usize, last: bool) -> std::io::Result<()> {
        let aad = associated_data(&self.header, self.index, last);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce(&self.prefix, self.index)),
                Payload { msg: &self.plaintext[..length], aad: &aad },
            )
            .map_err(|_| std::io::Error::other("encryption failed"))?;
        let length = u32::try_from(ciphertext.len()).map_err(std::io::Error::other)?;
        self.file.write_u8(u8::from(last)).await?;
        self.file.write_u32(length).await?;
        self.file.write_all(&ciphertext).await?;
        self.written += 5 + u64::from(length);
        self.plaintext.drain(..ciphertext.len() - TAG_BYTES);
        self.index =
            self.index.checked_add(1).ok_or_else(|| std::io::Error::other("backup too large"))?;
        Ok(())
    }

    /// Seals the last chunk, syncs the file and moves it into place; returns its size. On
    /// failure the partial file is removed.
    pub async fn finish(mut self) -> Result<u64, BackupError> {
        match self.seal().await {
            Ok(()) => Ok(self.written),
            Err(error) => {
                self.abandon().await;
                Err(error.into())
            }
        }
    }

    async fn seal(&mut self) -> std::io::Result<()> {
        let rest = self.plaintext.len();
        self.write_chunk(rest, true).await?;
        self.file.flush().await?;
        self.file.get_ref().sync_all().await?;
        tokio::fs::rename(&self.partial, &self.path).await
    }

    /// Removes what was written after a failed dump.
    pub async fn abandon(self) {
        drop(self.file);
        if let Err(error) = tokio::fs::remove_file(&self.partial).await {
            tracing::warn!(
                error = display(&error),
                path = display(&self.partial.display()),
                "could not remove a partial backup"
            );
        }
    }
}

impl DumpSink for BackupWriter {
    async fn line(&mut self, line: &[u8]) -> std::io::Result<()> {
        self.plaintext.extend_from_slice(line);
        self.plaintext.push(b'\n');
        // Chunks are cut at exactly CHUNK_BYTES, whatever the lines: a long row spans chunks.
        while self.plaintext.len() > CHUNK_BYTES {
            self.write_chunk(CHUNK_BYTES, false).await?;
        }
        Ok(())
    }
}

/// Reads a backup: chunks authenticated one at a time, lines out.
pub struct BackupReader {
    cipher: Aes256Gcm,
    header: [u8; HEADER_BYTES],
    prefix: [u8; 8],
    index: u32,
    file: BufReader<File>,
    plaintext: Vec<u8>,
    position: usize,
    finished: bool,
}

impl std::fmt::Debug for BackupReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupReader").field("index", &self.index).finish_non_exhaustive()
    }
}

impl BackupReader {
    /// Opens `path`, checking that it is a backup sealed with `key`.
    pub async fn open(path: &Path, key: &[u8; 32]) -> Result<Self, BackupError> {
        let mut file = BufReader::new(File::open(path).await?);
        let mut header = [0u8; HEADER_BYTES];
        file.read_exact(&mut header)
            .await
            .map_err(|_| BackupError::Damaged("not a PostRoute backup (too short)".to_owned()))?;
        if &header[..8] != MAGIC || header[8] != FORMAT {
            return Err(BackupError::Damaged(
                "not a PostRoute backup of a known format".to_owned(),
            ));
        }
        if header[9..17] != key_id(key) {
            return Err(BackupError::WrongKey);
        }
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&header[17..]);
        Ok(Self {
            cipher: Aes256Gcm::new(key.into()),
            header,
            prefix,
            index: 0,
            file,
            plaintext: Vec::new(),
            position: 0,
            finished: false,
        })
    }

    /// Decrypts the next chunk into the buffer; `false` after the last one.
    async fn next_chunk(&mut self) -> std::io::Result<bool> {
        if self.finished {
            let mut extra = [0u8; 1];
            if self.file.read(&mut extra).await? != 0 {
                return Err(refused("the backup has data after its last chunk"));
            }
            return Ok(false);
        }
        let last = match self.file.read_u8().await {
            Ok(0) => false,
            Ok(1) => true,
            Ok(_) => return Err(refused("the backup is damaged (a chunk flag is wrong)")),
            Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(refused("the backup is cut short"));
            }
            Err(error) => return Err(error),
        };
        let length = self.file.read_u32().await.map_err(|_| refused("the backup is cut short"))?;
        let length = usize::try_from(length).unwrap_or(usize::MAX);
        if length > CHUNK_BYTES + TAG_BYTES {
            return Err(refused("the backup is damaged (a chunk is too long)"));
        }
        let mut ciphertext = vec![0u8; length];
        self.file
            .read_exact(&mut ciphertext)
            .await
            .map_err(|_| refused("the backup is cut short"))?;
        let aad = associated_data(&self.header, self.index, last);
        self.plaintext = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce(&self.prefix, self.index)),
                Payload { msg: &ciphertext, aad: &aad },
            )
            .map_err(|_| refused("the backup was altered: a chunk fails authentication"))?;
        self.position = 0;
        self.index += 1;
        self.finished = last;
        Ok(true)
    }
}

fn refused(reason: &str) -> std::io::Error {
    std::io::Error::other(ChunkRefused(reason.to_owned()))
}

impl DumpSource for BackupReader {
    async fn next_line(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        loop {
            let rest = &self.plaintext[self.position..];
            if let Some(end) = rest.iter().position(|byte| *byte == b'\n') {
                line.extend_from_slice(&rest[..end]);
                self.position += end + 1;
                return Ok(Some(line));
            }
            line.extend_from_slice(rest);
            self.position = self.plaintext.len();
            if !self.next_chunk().await? {
                return if line.is_empty() {
                    Ok(None)
                } else {
                    Err(refused("the backup ends in the middle of a line"))
                };
            }
        }
    }
}
