//! The one error of inspection, apart from the walkers that raise it and the entry point that
//! returns it.

use std::io;

/// Why an upload was refused, or the disk failed.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Not one of the accepted types (415), polyglots included.
    #[error("{0}")]
    Unsupported(String),
    /// An accepted type, but damaged, truncated or over the limits (422).
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing the scratch files failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}
