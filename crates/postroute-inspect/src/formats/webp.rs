//! WebP: a RIFF container of chunks. `EXIF` and `XMP ` chunks (and unknown ones) are dropped, the
//! extended header's flags for them cleared, and the RIFF size rewritten. The RIFF size also says
//! where the file ends: anything after it is refused.

use std::io::{BufRead, Seek, SeekFrom, Write};

use super::{copy_exact, expect_end, read_array, skip_exact};
use crate::error::InspectError;

const FORMAT: &str = "WebP";
const DRAWING_CHUNKS: [&[u8; 4]; 6] = [b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"];
const EXTENDED_HEADER: &[u8; 4] = b"VP8X";
const EXIF_FLAG: u8 = 0x08;
const XMP_FLAG: u8 = 0x04;

/// Copies `input` to `output` without metadata chunks.
pub(crate) fn strip(
    input: &mut impl BufRead,
    output: &mut (impl Write + Seek),
) -> Result<(), InspectError> {
    let header: [u8; 12] = read_array(input, FORMAT)?;
    if &header[..4] != b"RIFF" || &header[8..] != b"WEBP" {
        return Err(InspectError::Invalid("The WebP header is damaged.".to_owned()));
    }
    let declared = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let start = output.stream_position()?;
    output.write_all(b"RIFF\0\0\0\0WEBP")?;
    // What the RIFF size counts: "WEBP" and the chunks.
    let mut remaining = u64::from(declared)
        .checked_sub(4)
        .ok_or_else(|| InspectError::Invalid("The WebP RIFF size is impossible.".to_owned()))?;
    let mut written: u64 = 4;
    while remaining > 0 {
        let chunk: [u8; 8] = read_array(input, FORMAT)?;
        let kind = [chunk[0], chunk[1], chunk[2], chunk[3]];
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        let padded = size + (size & 1);
        remaining = remaining.checked_sub(8 + padded).ok_or_else(|| {
            InspectError::Invalid("A WebP chunk runs past the end of the file.".to_owned())
        })?;
        if &kind == EXTENDED_HEADER {
            if padded != 10 {
                return Err(InspectError::Invalid(
                    "The WebP extended header is damaged.".to_owned(),
                ));
            }
            let mut payload: [u8; 10] = read_array(input, FORMAT)?;
            payload[0] &= !(EXIF_FLAG | XMP_FLAG);
            output.write_all(&chunk)?;
            output.write_all(&payload)?;
            written += 8 + padded;
        } else if DRAWING_CHUNKS.contains(&&kind) {
            output.write_all(&chunk)?;
            copy_exact(input, output, padded, FORMAT)?;
            written += 8 + padded;
        } else {
            skip_exact(input, padded, FORMAT)?;
        }
    }
    expect_end(input, FORMAT)?;
    let size = u32::try_from(written)
        .map_err(|_| InspectError::Invalid("The WebP file is too large.".to_owned()))?;
    let end = output.stream_position()?;
    output.seek(SeekFrom::Start(start + 4))?;
    output.write_all(&size.to_le_bytes())?;
    output.seek(SeekFrom::Start(end))?;
    Ok(())
}
