//! GIF: a header and screen descriptor, then blocks up to the trailer (`;`). Comments and
//! application extensions are dropped (XMP is one), except the looping extensions animations
//! need.

use std::io::{BufRead, Write};

use super::{copy_exact, expect_end, read_array, skip_exact};
use crate::media::inspect::InspectError;

const FORMAT: &str = "GIF";
const IMAGE: u8 = 0x2C;
const EXTENSION: u8 = 0x21;
const TRAILER: u8 = 0x3B;
const GRAPHIC_CONTROL: u8 = 0xF9;
const PLAIN_TEXT: u8 = 0x01;
const APPLICATION: u8 = 0xFF;
/// Application extensions that control looping.
const LOOPING: [&[u8; 11]; 2] = [b"NETSCAPE2.0", b"ANIMEXTS1.0"];

/// Copies `input` to `output` without comments and metadata extensions.
pub(in crate::media) fn strip(
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> Result<(), InspectError> {
    let header: [u8; 6] = read_array(input, FORMAT)?;
    if &header != b"GIF87a" && &header != b"GIF89a" {
        return Err(InspectError::Invalid("The GIF header is damaged.".to_owned()));
    }
    output.write_all(&header)?;
    let screen: [u8; 7] = read_array(input, FORMAT)?;
    output.write_all(&screen)?;
    copy_color_table(input, output, screen[4])?;
    loop {
        let [introducer] = read_array(input, FORMAT)?;
        match introducer {
            IMAGE => {
                let descriptor: [u8; 9] = read_array(input, FORMAT)?;
                output.write_all(&[IMAGE])?;
                output.write_all(&descriptor)?;
                copy_color_table(input, output, descriptor[8])?;
                // LZW minimum code size, then the data.
                copy_exact(input, output, 1, FORMAT)?;
                copy_sub_blocks(input, output)?;
            }
            EXTENSION => {
                let [label] = read_array(input, FORMAT)?;
                match label {
                    GRAPHIC_CONTROL | PLAIN_TEXT => {
                        output.write_all(&[EXTENSION, label])?;
                        copy_sub_blocks(input, output)?;
                    }
                    APPLICATION => {
                        let [length] = read_array(input, FORMAT)?;
                        let mut identifier = vec![0u8; usize::from(length)];
                        input.read_exact(&mut identifier).map_err(super::truncated(FORMAT))?;
                        if LOOPING.iter().any(|looping| identifier == looping.as_slice()) {
                            output.write_all(&[EXTENSION, label, length])?;
                            output.write_all(&identifier)?;
                            copy_sub_blocks(input, output)?;
                        } else if length > 0 {
                            skip_sub_blocks(input)?;
                        }
                    }
                    _ => skip_sub_blocks(input)?,
                }
            }
            TRAILER => {
                output.write_all(&[TRAILER])?;
                return expect_end(input, FORMAT);
            }
            _ => return Err(InspectError::Invalid("The GIF has an unknown block.".to_owned())),
        }
    }
}

/// A global or local colour table, when the flags byte says there is one.
fn copy_color_table(
    input: &mut impl BufRead,
    output: &mut impl Write,
    flags: u8,
) -> Result<(), InspectError> {
    if flags & 0x80 != 0 {
        let entries = 1u64 << ((flags & 0x07) + 1);
        copy_exact(input, output, 3 * entries, FORMAT)?;
    }
    Ok(())
}

fn copy_sub_blocks(input: &mut impl BufRead, output: &mut impl Write) -> Result<(), InspectError> {
    loop {
        let [length] = read_array(input, FORMAT)?;
        output.write_all(&[length])?;
        if length == 0 {
            return Ok(());
        }
        copy_exact(input, output, u64::from(length), FORMAT)?;
    }
}

fn skip_sub_blocks(input: &mut impl BufRead) -> Result<(), InspectError> {
    loop {
        let [length] = read_array(input, FORMAT)?;
        if length == 0 {
            return Ok(());
        }
        skip_exact(input, u64::from(length), FORMAT)?;
    }
}
