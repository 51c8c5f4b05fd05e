//! Media bytes in an object store (`object_store`): a directory under `DATA_DIR/media` by
//! default, an S3-compatible bucket at scale. Keys are synthesised from workspace, media id and
//! sniffed extension (S-UPLOAD-2); nothing the client sent is part of them.

use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};
use secrecy::ExposeSecret;
use tokio::io::AsyncReadExt;

use crate::config::{Config, StorageBackend};

/// S3 parts are at least 5 MiB; larger ones mean fewer requests for a 50 MiB file.
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Parts in flight at once, which bounds an upload's memory to a few parts.
const PARTS_IN_FLIGHT: usize = 2;
const READ_BYTES: usize = 1024 * 1024;

/// The object store failed, or reading the local copy did.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The store refused or could not be reached.
    #[error("media storage failed: {0}")]
    Store(#[from] object_store::Error),
    /// Reading the file to send failed.
    #[error("reading the media file failed: {0}")]
    Io(#[from] std::io::Error),
}

impl StorageError {
    /// The object's path, when the failure is that the object does not exist.
    pub fn missing_object(&self) -> Option<String> {
        match self {
            Self::Store(object_store::Error::NotFound { path, .. }) => Some(path.clone()),
            _ => None,
        }
    }
}

/// The bytes of a stored file, as they arrive from the store.
pub type ByteStream = BoxStream<'static, Result<bytes::Bytes, StorageError>>;

/// Where media bytes live.
#[derive(Clone)]
pub struct MediaStorage {
    store: Arc<dyn ObjectStore>,
    description: String,
}

impl std::fmt::Debug for MediaStorage {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.description)
    }
}

impl MediaStorage {
    /// The store the configuration names.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let storage = &config.storage;
        match storage.backend {
            StorageBackend::Local => Self::local(&config.data_dir.join("media")),
            StorageBackend::S3 => {
                // object_store's HTTP client takes its TLS primitives from the process-wide
                // provider: the ring one the rest of the server uses.
                let _already_installed = rustls::crypto::ring::default_provider().install_default();
                let bucket = storage.s3_bucket.clone().unwrap_or_default();
                let mut builder =
                    match (&storage.s3_access_key_id, &storage.s3_secret_access_key) {
                        (Some(key_id), Some(secret)) => AmazonS3Builder::new()
                            .with_access_key_id(key_id)
                            .with_secret_access_key(secret.expose_secret()),
                        // Instance roles and the standard AWS_* variables.
                        _ => AmazonS3Builder::from_env(),
                    }
                    .with_bucket_name(&bucket)
                    .with_region(&storage.s3_region);
                if let Some(endpoint) = &storage.s3_endpoint {
                    builder = builder
                        .with_endpoint(endpoint.as_str().trim_end_matches('/'))
                        .with_allow_http(endpoint.scheme() == "http");
                }
                Ok(Self {
                    store: Arc::new(builder.build()?),
                    description: format!("MediaStorage(s3 bucket {bucket})"),
                })
            }
        }
    }

    /// Files under `directory`, created if missing.
    pub fn local(directory: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(directory)?;
        Ok(Self {
            store: Arc::new(
                LocalFileSystem::new_with_prefix(directory)?.with_automatic_cleanup(true),
            ),
            description: format!("MediaStorage(local {})", directory.display()),
        })
    }

    /// Stores the file at `path` under `key`, streaming it in parts.
    pub async fn put_file(&self, key: &str, path: &Path) -> Result<(), StorageError> {
        let upload = self.store.put_multipart(&ObjectPath::from(key)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        match copy_into(&mut writer, path).await {
            Ok(()) => {
                writer.finish().await?;
                Ok(())
            }
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(
                        error = display(&abort),
                        "could not abort a failed media upload"
                    );
                }
                Err(error)
            }
        }
    }

    /// The bytes stored under `key`.
    pub async fn get(&self, key: &str) -> Result<ByteStream, StorageError> {
        let object = self.store.get(&ObjectPath::from(key)).await?;
        Ok(object.into_stream().map(|chunk| chunk.map_err(StorageError::from)).boxed())
    }

    /// The bytes `range` of the object under `key`.
    pub async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> Result<ByteStream, StorageError> {
        let options = object_store::GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..Default::default()
        };
        let object = self.store.get_opts(&ObjectPath::from(key), options).await?;
        Ok(object.into_stream().map(|chunk| chunk.map_err(StorageError::from)).boxed())
    }

    /// Whether anything is stored under `key`.
    pub async fn contains(&self, key: &str) -> Result<bool, StorageError> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Removes every object whose key starts with `prefix/`; returns how many. The purge uses it
    /// to find objects no row points at any more (a failed delete, a crash mid-upload).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        let prefix = ObjectPath::from(prefix);
        let mut listing = self.store.list(Some(&prefix));
        let mut removed = 0;
        while let Some(object) = listing.next().await {
            match self.store.delete(&object?.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => removed += 1,
                Err(error) => return Err(error.into()),
            }
        }
        Ok(removed)
    }

    /// Removes the object under `key` (nothing there is not an error).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }
}

async fn copy_into(writer: &mut WriteMultipart, path: &Path) -> Result<(), StorageError> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut buffer = vec![0u8; READ_BYTES];
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        writer.write(&buffer[..read]);
    }
}
