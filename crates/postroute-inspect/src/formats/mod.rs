//! Byte-level handling of each accepted format: walking its structure to the end (bytes after
//! the end are refused: S-UPLOAD-1 polyglots), and dropping the metadata blocks (EXIF, XMP,
//! IPTC, GPS, comments) while copying the blocks that draw the picture unchanged, so nothing is
//! re-encoded and no quality is lost.

pub(super) mod gif;
pub(super) mod jpeg;
pub(super) mod mp4;
pub(super) mod png;
pub(super) mod webp;

use std::io::{self, BufRead, Read, Write};

use crate::error::InspectError;

/// Maps the end of input in the middle of a structure to "truncated".
pub(super) fn truncated(format: &'static str) -> impl Fn(io::Error) -> InspectError {
    move |error| {
        if error.kind() == io::ErrorKind::UnexpectedEof {
            InspectError::Invalid(format!("The {format} file is truncated."))
        } else {
            InspectError::Io(error)
        }
    }
}

/// Refuses input that goes on after the format's end marker.
pub(super) fn expect_end(
    input: &mut impl BufRead,
    format: &'static str,
) -> Result<(), InspectError> {
    if input.fill_buf()?.is_empty() {
        Ok(())
    } else {
        Err(InspectError::Unsupported(format!(
            "Bytes follow the end of the {format} image; a file that is also something else is not accepted."
        )))
    }
}

/// Copies exactly `length` bytes, or fails as truncated.
pub(super) fn copy_exact(
    input: &mut impl Read,
    output: &mut impl Write,
    length: u64,
    format: &'static str,
) -> Result<(), InspectError> {
    let copied = io::copy(&mut input.take(length), output)?;
    if copied == length {
        Ok(())
    } else {
        Err(truncated(format)(io::ErrorKind::UnexpectedEof.into()))
    }
}

/// Skips exactly `length` bytes, or fails as truncated.
pub(super) fn skip_exact(
    input: &mut impl Read,
    length: u64,
    format: &'static str,
) -> Result<(), InspectError> {
    copy_exact(input, &mut io::sink(), length, format)
}

/// Reads a fixed-size array, or fails as truncated.
pub(super) fn read_array<const N: usize>(
    input: &mut impl Read,
    format: &'static str,
) -> Result<[u8; N], InspectError> {
    let mut bytes = [0u8; N];
    input.read_exact(&mut bytes).map_err(truncated(format))?;
    Ok(bytes)
}
