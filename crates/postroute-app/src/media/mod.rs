//! The media library (S-UPLOAD-1..3). An upload is written to a scratch file as it arrives, with
//! the 50 MiB cap enforced byte by byte; then, on the blocking pool and a few at a time, its type
//! is decided from its bytes, its structure checked to the end, its metadata removed and its
//! pixels decoded; the result is stored under a synthesised key and recorded within the plan's
//! quota. Scratch files are deleted whatever happens (they are temporary paths).

pub mod links;
pub mod storage;

use crate::Refusal;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use postroute_domain::{AuditAction, MAX_UPLOAD_BYTES, MediaId, WorkspaceId};
use postroute_store::{Media, MediaInserted, MediaRemoval, Store};
use serde_json::json;
use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

use crate::clock;
use crate::workspaces::Caller;

pub use links::{LinkCheck, LinkSigner, PublicLink};
pub use postroute_inspect::{InspectError, Inspected};
pub use storage::{ByteStream, MediaStorage, StorageError};

/// Room for the multipart framing around the file (boundaries, part headers).
pub const MULTIPART_ALLOWANCE: u64 = 64 * 1024;
/// The largest request body an upload may have.
pub const UPLOAD_BODY_LIMIT: u64 = MAX_UPLOAD_BYTES + MULTIPART_ALLOWANCE;

/// Scratch files older than this are leftovers of a crash; uploads time out well before.
const SCRATCH_LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// A file's bytes as served: all of them, or the range asked for.
pub struct Content {
    /// The file's record.
    pub media: Media,
    /// The bytes served, when a range was asked for.
    pub range: Option<std::ops::Range<u64>>,
    /// The bytes.
    pub bytes: ByteStream,
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("media", &self.media.id)
            .field("range", &self.range)
            .finish()
    }
}

/// A file's strong ETag: its SHA-256, quoted.
pub fn etag(media: &Media) -> String {
    format!("\"{}\"", media.sha256)
}

/// A request for part of a file: the range, and the `If-Range` it is conditional on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeRequest {
    /// The bytes asked for.
    pub range: ByteRange,
    /// Send the range only if the file still has this ETag.
    pub if_range: Option<String>,
}

/// One byte range as a client asks for it (`Range: bytes=…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `first-last`, both inclusive.
    FromTo(u64, u64),
    /// `first-`: to the end.
    From(u64),
    /// `-count`: the last `count` bytes.
    Last(u64),
}

impl ByteRange {
    /// The bytes this asks for in a file of `size` bytes, as a half-open range; `None` when
    /// none of them exists.
    pub fn within(self, size: u64) -> Option<std::ops::Range<u64>> {
        let range = match self {
            Self::FromTo(first, last) => first..last.saturating_add(1).min(size),
            Self::From(first) => first..size,
            Self::Last(count) => size.saturating_sub(count)..size,
        };
        (range.start < range.end).then_some(range)
    }
}

/// An upload being received: bytes go to a scratch file, and the size cap is enforced as
/// they arrive, so an oversized body is cut off at 50 MiB and never held in memory.
#[derive(Debug)]
pub struct UploadSink {
    file: tokio::io::BufWriter<tokio::fs::File>,
    path: TempPath,
    received: u64,
}

impl UploadSink {
    /// Appends the next bytes of the file.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        self.received += chunk.len() as u64;
        if self.received > MAX_UPLOAD_BYTES {
            return Err(Refusal::PayloadTooLarge);
        }
        self.file.write_all(chunk).await?;
        Ok(())
    }
}

/// The media library of every workspace.
#[derive(Clone, Debug)]
pub struct MediaService {
    store: Store,
    storage: MediaStorage,
    links: Arc<LinkSigner>,
    scratch: PathBuf,
    /// Decoding holds a picture's pixels in memory: a few at a time, whatever the traffic.
    decoding: Arc<Semaphore>,
}

impl MediaService {
    /// The service, with its scratch directory under `data_dir` (created, and cleared of
    /// leftovers from a crash).
    pub fn new(
        store: Store,
        storage: MediaStorage,
        links: LinkSigner,
        data_dir: &Path,
    ) -> std::io::Result<Self> {
        let scratch = data_dir.join("tmp").join("uploads");
        std::fs::create_dir_all(&scratch)?;
        remove_leftovers(&scratch);
        let parallelism = std::thread::available_parallelism().map_or(2, |cores| cores.get());
        Ok(Self {
            store,
            storage,
            links: Arc::new(links),
            scratch,
            decoding: Arc::new(Semaphore::new(parallelism)),
        })
    }

    /// Where files are stored.
    pub fn storage(&self) -> &MediaStorage {
        &self.storage
    }

    /// Refuses an upload before its body is read: a declared body length beyond what a 50 MiB
    /// file needs (413), or a library that could not take it (402; the final quota check
    /// happens when the file is recorded).
    pub async fn admit(&self, caller: &Caller, declared_body: Option<u64>) -> Result<(), Refusal> {
        let declared_body = declared_body.unwrap_or(0);
        if declared_body > UPLOAD_BODY_LIMIT {
            return Err(Refusal::PayloadTooLarge);
        }
        let quota = caller.workspace.plan.entitlements().media_storage_bytes;
        let used =
            u64::try_from(self.store.tenant(caller.workspace.id).media_bytes().await?).unwrap_or(0);
        let file_at_least = declared_body.saturating_sub(MULTIPART_ALLOWANCE).max(1);
        if used.saturating_add(file_at_least) > quota {
            return Err(quota_exceeded(caller, used));
        }
        Ok(())
    }

    /// A new scratch file for an upload.
    pub async fn start_upload(&self) -> Result<UploadSink, Refusal> {
        let scratch = self.scratch.clone();
        let (file, path) = tokio::task::spawn_blocking(move || {
            tempfile::Builder::new()
                .prefix("upload-")
                .tempfile_in(scratch)
                .map(|file| file.into_parts())
        })
        .await
        .map_err(|error| Refusal::internal(error.to_string()))??;
        Ok(UploadSink {
            file: tokio::io::BufWriter::new(tokio::fs::File::from_std(file)),
            path,
            received: 0,
        })
    }

    /// Inspects, stores and records a received upload.
    pub async fn finish_upload(&self, caller: &Caller, sink: UploadSink) -> Result<Media, Refusal> {
        let UploadSink { mut file, path: received_path, received } = sink;
        file.flush().await?;
        drop(file);
        if received == 0 {
            return Err(Refusal::invalid("file", "The file is empty."));
        }
        let kept_path =
            tempfile::Builder::new().prefix("kept-").tempfile_in(&self.scratch)?.into_temp_path();
        let permit = self
            .decoding
            .clone()
            .acquire_owned()
            .await
            .map_err(|error| Refusal::internal(error.to_string()))?;
        let (inspected, sha256, size, kept_path) = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let inspected = postroute_inspect::inspect(&received_path, &kept_path)?;
            drop(received_path);
            let (sha256, size) = digest(&kept_path)?;
            Ok::<_, Refusal>((inspected, sha256, size, kept_path))
        })
        .await
        .map_err(|error| {
            if error.is_panic() {
                // A parser bug met by a crafted file: the upload is refused, the operator told.
                tracing::error!("inspecting an upload panicked (a bug); refusing it as unreadable");
                Refusal::invalid("file", "The file could not be read.")
            } else {
                Refusal::internal(error.to_string())
            }
        })??;

        // Storing and recording run to their end even if the client goes away or the request
        // times out: dropped halfway, they would leave an object without a record.
        let service = self.clone();
        let caller = caller.clone();
        tokio::spawn(async move {
            service.store_and_record(&caller, inspected, sha256, size, kept_path).await
        })
        .await
        .map_err(|error| Refusal::internal(format!("storing an upload failed: {error}")))?
    }

    async fn store_and_record(
        &self,
        caller: &Caller,
        inspected: Inspected,
        sha256: String,
        size: u64,
        kept_path: TempPath,
    ) -> Result<Media, Refusal> {
        let workspace = caller.workspace.id;
        let id = MediaId::new();
        let object_key = format!("{workspace}/{id}.{}", inspected.media_type.extension());
        self.storage.put_file(&object_key, &kept_path).await?;
        drop(kept_path);
        let media = Media {
            id,
            kind: inspected.media_type.kind(),
            mime: inspected.media_type.mime().to_owned(),
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            width: i32::try_from(inspected.width).ok(),
            height: i32::try_from(inspected.height).ok(),
            duration_ms: inspected.duration_ms,
            sha256,
            object_key,
            uploaded_by: Some(caller.user),
            created_at: clock::now(),
        };
        let audit = caller.audit(AuditAction::MediaUploaded).target("media", id).details(json!({
            "mime": media.mime,
            "size_bytes": media.size_bytes,
        }));
        let quota = caller.workspace.plan.entitlements().media_storage_bytes;
        let recorded = self.store.tenant(workspace).insert_media(&media, quota, &audit).await;
        match recorded {
            Ok(MediaInserted::Inserted) => {
                tracing::info!(
                    workspace.id = display(&workspace),
                    media.id = display(&id),
                    mime = display(&media.mime),
                    size = media.size_bytes,
                    "media uploaded"
                );
                Ok(media)
            }
            Ok(MediaInserted::QuotaExceeded { used_bytes }) => {
                self.discard_object(&media.object_key).await;
                Err(quota_exceeded(caller, used_bytes))
            }
            Ok(MediaInserted::WorkspaceGone) => {
                self.discard_object(&media.object_key).await;
                Err(Refusal::NotFound)
            }
            Err(error) => {
                self.discard_object(&media.object_key).await;
                Err(error.into())
            }
        }
    }

    /// A page of the library, newest first.
    pub async fn list(
        &self,
        caller: &Caller,
        after: Option<MediaId>,
        limit: u32,
    ) -> Result<Vec<Media>, Refusal> {
        Ok(self.store.tenant(caller.workspace.id).media(after, limit).await?)
    }

    /// One file's record.
    pub async fn get(&self, workspace: WorkspaceId, id: MediaId) -> Result<Media, Refusal> {
        self.store.tenant(workspace).media_item(id).await?.ok_or(Refusal::NotFound)
    }

    /// One file's record and bytes.
    pub async fn content(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
        requested: Option<RangeRequest>,
    ) -> Result<Content, Refusal> {
        let media = self.get(workspace, id).await?;
        let size = u64::try_from(media.size_bytes).unwrap_or(0);
        // A range of another version of the file would splice two files together: with an
        // `If-Range` that is not this file's ETag, the whole file is sent.
        let etag = etag(&media);
        let requested =
            requested.filter(|request| request.if_range.as_deref().is_none_or(|tag| tag == etag));
        let range = match requested {
            None => None,
            Some(request) => {
                Some(request.range.within(size).ok_or(Refusal::RangeNotSatisfiable { size })?)
            }
        };
        let bytes = match &range {
            Some(range) => self.storage.get_range(&media.object_key, range.clone()).await?,
            None => self.storage.get(&media.object_key).await?,
        };
        Ok(Content { media, range, bytes })
    }

    /// Deletes a file: its record (with an audit entry), then its object.
    pub async fn delete(&self, caller: &Caller, id: MediaId) -> Result<(), Refusal> {
        let audit = caller.audit(AuditAction::MediaDeleted).target("media", id);
        let media = match self
            .store
            .tenant(caller.workspace.id)
            .delete_media(id, clock::now(), &audit)
            .await?
        {
            MediaRemoval::Deleted(media) => media,
            MediaRemoval::NotFound => return Err(Refusal::NotFound),
            MediaRemoval::InUse { posts } => {
                return Err(Refusal::Conflict(format!(
                    "This file is attached to {posts} post(s) not yet published everywhere; \
                     remove it from them, or delete them, first."
                )));
            }
        };
        self.discard_object(&media.object_key).await;
        Ok(())
    }

    /// A file of `workspace` for the publisher: its record, a signed public link the platform
    /// fetches it from (Meta), and, when `with_bytes`, its bytes (X takes uploads; the library
    /// caps a file at 50 MiB, so it fits in memory).
    pub async fn for_publishing(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
        with_bytes: bool,
    ) -> Result<(Media, PublicLink, Option<Vec<u8>>), Refusal> {
        use futures_util::TryStreamExt;
        let media = self.get(workspace, id).await?;
        let link = self.links.link(workspace, media.id, clock::now());
        let bytes = if with_bytes {
            let chunks: Vec<bytes::Bytes> =
                self.storage.get(&media.object_key).await?.try_collect().await?;
            Some(chunks.concat())
        } else {
            None
        };
        Ok((media, link, bytes))
    }

    /// A signed, expiring public link to a file.
    pub async fn public_link(&self, caller: &Caller, id: MediaId) -> Result<PublicLink, Refusal> {
        let media = self.get(caller.workspace.id, id).await?;
        Ok(self.links.link(caller.workspace.id, media.id, clock::now()))
    }

    /// The file a public link points to, once its signature and expiry check out.
    pub async fn public_content(
        &self,
        workspace: WorkspaceId,
        id: MediaId,
        expires: i64,
        signature: &str,
        requested: Option<RangeRequest>,
    ) -> Result<Content, Refusal> {
        match self.links.check(workspace, id, expires, signature, clock::now()) {
            // A deleted workspace's links die with it, before they expire.
            LinkCheck::Valid if self.store.tenant(workspace).workspace().await?.is_none() => {
                Err(Refusal::NotFound)
            }
            LinkCheck::Valid => self.content(workspace, id, requested).await,
            LinkCheck::Expired => {
                Err(Refusal::Forbidden("This link has expired; ask for a new one.".to_owned()))
            }
            LinkCheck::Forged => Err(Refusal::NotFound),
        }
    }

    /// Removes an object whose record is gone (or was never written). A failure leaves an
    /// orphaned object, never a record without bytes; it is logged for the operator.
    async fn discard_object(&self, key: &str) {
        if let Err(error) = self.storage.delete(key).await {
            tracing::error!(
                error = display(&error),
                object.key = key,
                "could not remove a media object; it is orphaned in storage"
            );
        }
    }
}

fn quota_exceeded(caller: &Caller, used: u64) -> Refusal {
    let plan = caller.workspace.plan;
    let quota = plan.entitlements().media_storage_bytes;
    Refusal::PlanRequired(format!(
        "The media library holds {} MB of the {} plan's {} MB; delete files or upgrade.",
        used / 1_000_000,
        plan.as_str(),
        quota / 1_000_000
    ))
}

/// SHA-256 (hex) and length of a file.
fn digest(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1024 * 1024];
    let mut length = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        length += read as u64;
    }
    let hex = hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
    Ok((hex, length))
}

fn remove_leftovers(scratch: &Path) {
    let Ok(entries) = std::fs::read_dir(scratch) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale =
            entry.metadata().and_then(|metadata| metadata.modified()).is_ok_and(|modified| {
                now.duration_since(modified).unwrap_or_default() > SCRATCH_LEFTOVER_AGE
            });
        if stale && let Err(error) = std::fs::remove_file(entry.path()) {
            tracing::warn!(
                error = display(&error),
                path = display(&entry.path().display()),
                "could not remove a leftover upload"
            );
        }
    }
}
