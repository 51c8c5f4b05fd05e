//! PNG: a signature, then chunks (length, type, data, CRC) up to `IEND`. Only chunks that affect
//! how the image looks are kept; text chunks (where XMP lives), `eXIf` and every private or
//! unknown chunk are dropped.

use std::io::{BufRead, Write};

use super::{copy_exact, expect_end, read_array, skip_exact};
use crate::error::InspectError;

const FORMAT: &str = "PNG";
const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
/// Critical chunks, colour and transparency information, and APNG animation.
const DRAWING_CHUNKS: [&[u8; 4]; 20] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB",
    b"cICP", b"mDCV", b"cLLI", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
];
/// PNG caps chunk lengths at 2^31 - 1.
const MAX_CHUNK_LENGTH: u32 = 0x7FFF_FFFF;

/// Copies `input` to `output` without metadata chunks.
pub(crate) fn strip(input: &mut impl BufRead, output: &mut impl Write) -> Result<(), InspectError> {
    let signature: [u8; 8] = read_array(input, FORMAT)?;
    if signature != SIGNATURE {
        return Err(InspectError::Invalid("The PNG signature is damaged.".to_owned()));
    }
    output.write_all(&signature)?;
    loop {
        let header: [u8; 8] = read_array(input, FORMAT)?;
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if length > MAX_CHUNK_LENGTH {
            return Err(InspectError::Invalid(
                "A PNG chunk claims an impossible length.".to_owned(),
            ));
        }
        let kind = [header[4], header[5], header[6], header[7]];
        // Data and CRC.
        let rest = u64::from(length) + 4;
        if DRAWING_CHUNKS.contains(&&kind) {
            output.write_all(&header)?;
            copy_exact(input, output, rest, FORMAT)?;
        } else {
            skip_exact(input, rest, FORMAT)?;
        }
        if &kind == b"IEND" {
            return expect_end(input, FORMAT);
        }
    }
}
