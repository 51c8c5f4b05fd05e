//! GIF: a header and screen descriptor, then blocks up to the trailer (`;`). Comments and
//! application extensions are dropped (XMP is one), except the looping extensions animations
//! need. Every frame must lie within the screen, whose size was checked against the pixel
//! limits, and there may be at most `MAX_ANIMATION_FRAMES`: decoding a frame larger than the
//! screen, or thousands of them, would cost far more than the header promises.

use std::io::{BufRead, Write};

use super::{copy_exact, expect_end, read_array, skip_exact};
use postroute_domain::MAX_ANIMATION_FRAMES;

use crate::error::InspectError;

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
pub(crate) fn strip(input: &mut impl BufRead, output: &mut impl Write) -> Result<(), InspectError> {
    let header: [u8; 6] = read_array(input, FORMAT)?;
    if &header != b"GIF87a" && &header != b"GIF89a" {
        return Err(InspectError::Invalid("The GIF header is damaged.".to_owned()));
    }
    output.write_all(&header)?;
    let screen: [u8; 7] = read_array(input, FORMAT)?;
    output.write_all(&screen)?;
    copy_color_table(input, output, screen[4])?;
    let (screen_width, screen_height) = (le16(screen[0], screen[1]), le16(screen[2], screen[3]));
    let mut frames = 0u32;
    loop {
        let [introducer] = read_array(input, FORMAT)?;
        match introducer {
            IMAGE => {
                let descriptor: [u8; 9] = read_array(input, FORMAT)?;
                let (left, top) =
                    (le16(descriptor[0], descriptor[1]), le16(descriptor[2], descriptor[3]));
                let (width, height) =
                    (le16(descriptor[4], descriptor[5]), le16(descriptor[6], descriptor[7]));
                if left + width > screen_width || top + height > screen_height {
                    return Err(InspectError::Invalid(
                        "A GIF frame lies outside the image's screen.".to_owned(),
                    ));
                }
                frames += 1;
                if frames > MAX_ANIMATION_FRAMES {
                    return Err(InspectError::Invalid(format!(
                        "The animation has more than {MAX_ANIMATION_FRAMES} frames."
                    )));
                }
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

fn le16(low: u8, high: u8) -> u32 {
    u32::from(u16::from_le_bytes([low, high]))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A GIF with a 4x4 screen and the given frames (left, top, width, height) of one pixel's
    /// data each, plus a comment before the trailer.
    fn gif(frames: &[(u16, u16, u16, u16)]) -> Vec<u8> {
        let mut bytes = b"GIF89a".to_vec();
        bytes.extend_from_slice(&[4, 0, 4, 0, 0x80, 0, 0]);
        bytes.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
        for &(left, top, width, height) in frames {
            bytes.push(IMAGE);
            for value in [left, top, width, height] {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
            bytes.extend_from_slice(&[0, 2, 2, 0x44, 0x01, 0]);
        }
        bytes.extend_from_slice(&[EXTENSION, 0xFE, 3, b'h', b'i', b'!', 0]);
        bytes.push(TRAILER);
        bytes
    }

    fn strip_bytes(input: &[u8]) -> Result<Vec<u8>, InspectError> {
        let mut output = Vec::new();
        strip(&mut std::io::Cursor::new(input), &mut output)?;
        Ok(output)
    }

    #[test]
    fn frames_within_the_screen_are_kept_and_comments_dropped() {
        let input = gif(&[(0, 0, 4, 4), (3, 3, 1, 1)]);
        let output = strip_bytes(&input).unwrap();
        assert_eq!(output.len(), input.len() - 7);
        assert!(!output.windows(3).any(|window| window == b"hi!"));
    }

    #[test]
    fn a_frame_beyond_the_screen_is_refused() {
        for frame in [(0, 0, 5, 1), (3, 0, 2, 1), (0, 4, 1, 1), (0, 0, u16::MAX, u16::MAX)] {
            assert!(
                matches!(strip_bytes(&gif(&[frame])), Err(InspectError::Invalid(_))),
                "{frame:?}"
            );
        }
    }

    #[test]
    fn too_many_frames_are_refused() {
        let many = vec![(0, 0, 1, 1); MAX_ANIMATION_FRAMES as usize];
        assert!(strip_bytes(&gif(&many)).is_ok());
        let too_many = vec![(0, 0, 1, 1); MAX_ANIMATION_FRAMES as usize + 1];
        assert!(matches!(strip_bytes(&gif(&too_many)), Err(InspectError::Invalid(_))));
    }
}
