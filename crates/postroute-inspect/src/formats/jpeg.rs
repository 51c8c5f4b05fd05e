//! JPEG: markers and segments from start-of-image to end-of-image, with entropy-coded data after
//! each start-of-scan. Only segments that draw the picture are kept — frame headers, tables,
//! restart intervals, the JFIF header (without its thumbnail, which may show the uncropped
//! original), the ICC colour profile and Adobe's colour transform. Everything else goes: EXIF
//! (GPS), XMP, IPTC, comments, other application and reserved segments. The EXIF orientation is
//! kept, alone, so that phone photos still display upright.
//!
//! Bytes after the end-of-image marker are refused, except where the file declared more
//! pictures (an APP2 `MPF` segment: the gain map of an HDR photo, a camera's preview): those
//! are cut off and not kept.

use std::borrow::Cow;
use std::io::{BufRead, Write};

use image::metadata::Orientation;

use super::{expect_end, read_array};
use crate::error::InspectError;

const FORMAT: &str = "JPEG";
const START_OF_IMAGE: u8 = 0xD8;
const END_OF_IMAGE: u8 = 0xD9;
const START_OF_SCAN: u8 = 0xDA;
const EXIF_HEADER: &[u8] = b"Exif\0\0";
const ICC_HEADER: &[u8] = b"ICC_PROFILE\0";
const JFIF_HEADER: &[u8] = b"JFIF\0";
/// "JFIF\0", version, units, densities: the header up to its thumbnail's size bytes.
const JFIF_FIXED_LENGTH: usize = 12;
const ADOBE_HEADER: &[u8] = b"Adobe";
const MULTI_PICTURE_HEADER: &[u8] = b"MPF\0";

/// Copies `input` to `output` without metadata segments.
pub(crate) fn strip(input: &mut impl BufRead, output: &mut impl Write) -> Result<(), InspectError> {
    let start: [u8; 2] = read_array(input, FORMAT)?;
    if start != [0xFF, START_OF_IMAGE] {
        return Err(InspectError::Invalid("The JPEG start marker is missing.".to_owned()));
    }
    output.write_all(&start)?;
    let mut pending_marker = None;
    let mut orientation_written = false;
    let mut more_pictures_declared = false;
    loop {
        let marker = match pending_marker.take() {
            Some(marker) => marker,
            None => next_marker(input)?,
        };
        match marker {
            END_OF_IMAGE => {
                output.write_all(&[0xFF, END_OF_IMAGE])?;
                return if more_pictures_declared { Ok(()) } else { expect_end(input, FORMAT) };
            }
            START_OF_IMAGE => {
                return Err(InspectError::Invalid(
                    "The JPEG has a second start marker.".to_owned(),
                ));
            }
            // Markers without a segment: TEM and restart markers.
            0x01 | 0xD0..=0xD7 => output.write_all(&[0xFF, marker])?,
            _ => {
                let payload = read_segment(input)?;
                if marker == START_OF_SCAN {
                    write_segment(output, marker, &payload)?;
                    pending_marker = Some(copy_entropy_coded_data(input, output)?);
                } else if let Some(kept) = kept_segment(marker, &payload) {
                    write_segment(output, marker, &kept)?;
                } else if marker == 0xE2 && payload.starts_with(MULTI_PICTURE_HEADER) {
                    more_pictures_declared = true;
                } else if marker == 0xE1 && payload.starts_with(EXIF_HEADER) && !orientation_written
                {
                    orientation_written = true;
                    if let Some(orientation) =
                        Orientation::from_exif_chunk(&payload[EXIF_HEADER.len()..])
                        && orientation != Orientation::NoTransforms
                    {
                        write_segment(output, 0xE1, &orientation_only_exif(orientation.to_exif()))?;
                    }
                }
            }
        }
    }
}

/// What of a segment to keep: an allowlist of the segments that draw the picture.
fn kept_segment(marker: u8, payload: &[u8]) -> Option<Cow<'_, [u8]>> {
    match marker {
        // Frame headers (SOF0-15), Huffman tables (C4) and arithmetic conditioning (CC);
        // C8 is reserved.
        0xC0..=0xC7 | 0xC9..=0xCF => Some(Cow::Borrowed(payload)),
        // Quantisation tables, number of lines, restart interval.
        0xDB..=0xDD => Some(Cow::Borrowed(payload)),
        // The JFIF header without its thumbnail: a 0 x 0 one.
        0xE0 if payload.starts_with(JFIF_HEADER) && payload.len() >= JFIF_FIXED_LENGTH + 2 => {
            let mut header = payload[..JFIF_FIXED_LENGTH].to_vec();
            header.extend_from_slice(&[0, 0]);
            Some(Cow::Owned(header))
        }
        0xE2 if payload.starts_with(ICC_HEADER) => Some(Cow::Borrowed(payload)),
        0xEE if payload.starts_with(ADOBE_HEADER) => Some(Cow::Borrowed(payload)),
        _ => None,
    }
}

/// The next marker byte, after its 0xFF (and any fill bytes).
fn next_marker(input: &mut impl BufRead) -> Result<u8, InspectError> {
    let [first] = read_array(input, FORMAT)?;
    if first != 0xFF {
        return Err(InspectError::Invalid("The JPEG has data where a marker belongs.".to_owned()));
    }
    loop {
        let [byte] = read_array(input, FORMAT)?;
        if byte != 0xFF {
            return Ok(byte);
        }
    }
}

/// A segment's payload (after its two length bytes; at most 65,533 bytes).
fn read_segment(input: &mut impl BufRead) -> Result<Vec<u8>, InspectError> {
    let length = u16::from_be_bytes(read_array(input, FORMAT)?);
    if length < 2 {
        return Err(InspectError::Invalid(
            "A JPEG segment claims an impossible length.".to_owned(),
        ));
    }
    let mut payload = vec![0u8; usize::from(length - 2)];
    input.read_exact(&mut payload).map_err(super::truncated(FORMAT))?;
    Ok(payload)
}

fn write_segment(output: &mut impl Write, marker: u8, payload: &[u8]) -> Result<(), InspectError> {
    let length = u16::try_from(payload.len() + 2)
        .map_err(|_| InspectError::Invalid("A JPEG segment is too long.".to_owned()))?;
    output.write_all(&[0xFF, marker])?;
    output.write_all(&length.to_be_bytes())?;
    output.write_all(payload)?;
    Ok(())
}

/// Copies scan data up to the next marker and returns that marker. In scan data a 0xFF byte is
/// followed by 0x00 (a stuffed 0xFF) or a restart marker; anything else ends the scan.
fn copy_entropy_coded_data(
    input: &mut impl BufRead,
    output: &mut impl Write,
) -> Result<u8, InspectError> {
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Err(super::truncated(FORMAT)(std::io::ErrorKind::UnexpectedEof.into()));
        }
        let Some(at) = buffer.iter().position(|&byte| byte == 0xFF) else {
            output.write_all(buffer)?;
            let length = buffer.len();
            input.consume(length);
            continue;
        };
        output.write_all(&buffer[..at])?;
        input.consume(at + 1);
        let mut next = read_array::<1>(input, FORMAT)?[0];
        while next == 0xFF {
            next = read_array::<1>(input, FORMAT)?[0];
        }
        match next {
            0x00 | 0xD0..=0xD7 => output.write_all(&[0xFF, next])?,
            marker => return Ok(marker),
        }
    }
}

/// An EXIF block holding nothing but the orientation: big-endian TIFF header, one IFD with one
/// SHORT entry (tag 0x0112), no next IFD.
fn orientation_only_exif(orientation: u8) -> Vec<u8> {
    let mut exif = Vec::with_capacity(32);
    exif.extend_from_slice(EXIF_HEADER);
    exif.extend_from_slice(b"MM\0\x2A");
    exif.extend_from_slice(&8u32.to_be_bytes());
    exif.extend_from_slice(&1u16.to_be_bytes());
    exif.extend_from_slice(&0x0112u16.to_be_bytes());
    exif.extend_from_slice(&3u16.to_be_bytes());
    exif.extend_from_slice(&1u32.to_be_bytes());
    exif.extend_from_slice(&[0, orientation, 0, 0]);
    exif.extend_from_slice(&0u32.to_be_bytes());
    exif
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_bytes(input: &[u8]) -> Result<Vec<u8>, InspectError> {
        let mut output = Vec::new();
        strip(&mut std::io::Cursor::new(input), &mut output)?;
        Ok(output)
    }

    /// Two scans (as a progressive JPEG has), stuffed 0xFF bytes, restart markers and fill
    /// bytes before a marker: copied byte for byte.
    const SCANS: &[u8] = &[
        0xFF, 0xD8, // SOI
        0xFF, 0xDB, 0x00, 0x04, 0x01, 0x02, // a table
        0xFF, 0xDA, 0x00, 0x03, 0x01, // SOS
        0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, // data, stuffed byte, RST0
        0xFF, 0xFF, 0xDA, 0x00, 0x03, 0x02, // fill byte, second SOS
        0x78, 0x9A, //
        0xFF, 0xD9, // EOI
    ];

    #[test]
    fn scans_restarts_and_stuffing_are_copied_exactly() {
        let mut expected = SCANS.to_vec();
        // The fill byte before the second scan is not copied.
        expected.remove(20);
        assert_eq!(strip_bytes(SCANS).unwrap(), expected);
    }

    #[test]
    fn metadata_segments_go_and_picture_segments_stay() {
        let mut input = SCANS[..2].to_vec();
        input.extend_from_slice(&[0xFF, 0xE1, 0x00, 0x08, b'h', b't', b't', b'p', b':', b'/']);
        input.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x05, b'h', b'i', b'!']);
        input.extend_from_slice(&[0xFF, 0xE2, 0x00, 0x0E]);
        input.extend_from_slice(ICC_HEADER);
        input.extend_from_slice(SCANS[2..].as_ref());
        let output = strip_bytes(&input).unwrap();
        assert!(!output.windows(4).any(|window| window == b"http"), "XMP survived");
        assert!(!output.windows(3).any(|window| window == b"hi!"), "the comment survived");
        assert!(
            output.windows(ICC_HEADER.len()).any(|window| window == ICC_HEADER),
            "the colour profile went"
        );
    }

    #[test]
    fn bytes_after_the_end_and_a_missing_end_are_refused() {
        let mut polyglot = SCANS.to_vec();
        polyglot.extend_from_slice(b"<?php");
        assert!(matches!(strip_bytes(&polyglot), Err(InspectError::Unsupported(_))));
        assert!(matches!(strip_bytes(&SCANS[..SCANS.len() - 2]), Err(InspectError::Invalid(_))));
    }

    #[test]
    fn the_jfif_thumbnail_and_unknown_segments_go() {
        let mut input = SCANS[..2].to_vec();
        // JFIF with a 1x1 thumbnail (3 bytes: "THM"), then a reserved marker and a JFXX thumbnail.
        let mut jfif = JFIF_HEADER.to_vec();
        jfif.extend_from_slice(&[1, 2, 0, 0, 1, 0, 1, 1, 1, b'T', b'H', b'M']);
        input.extend_from_slice(&[0xFF, 0xE0, 0x00, u8::try_from(jfif.len() + 2).unwrap()]);
        input.extend_from_slice(&jfif);
        input.extend_from_slice(&[0xFF, 0xF0, 0x00, 0x05, b'x', b'y', b'z']);
        input.extend_from_slice(&[0xFF, 0xE0, 0x00, 0x09, b'J', b'F', b'X', b'X', 0, b'Q', b'Q']);
        input.extend_from_slice(&SCANS[2..]);
        let output = strip_bytes(&input).unwrap();
        assert!(!output.windows(3).any(|window| window == b"THM"), "the thumbnail survived");
        assert!(!output.windows(3).any(|window| window == b"xyz"), "a reserved segment survived");
        assert!(!output.windows(4).any(|window| window == b"JFXX"), "a JFXX thumbnail survived");
        let mut expected_jfif = JFIF_HEADER.to_vec();
        expected_jfif.extend_from_slice(&[1, 2, 0, 0, 1, 0, 1, 0, 0]);
        assert!(output.windows(expected_jfif.len()).any(|window| window == expected_jfif));
    }

    #[test]
    fn declared_extra_pictures_are_cut_off_not_refused() {
        let mut input = SCANS[..2].to_vec();
        input.extend_from_slice(&[0xFF, 0xE2, 0x00, 0x08, b'M', b'P', b'F', 0, 1, 2]);
        input.extend_from_slice(&SCANS[2..]);
        let end = input.len();
        // An HDR photo's gain map: a second JPEG after the first.
        input.extend_from_slice(SCANS);
        let output = strip_bytes(&input).unwrap();
        assert_eq!(output, strip_bytes(SCANS).unwrap());
        assert!(output.len() < end);
    }

    #[test]
    fn the_orientation_only_exif_block_reads_back() {
        let exif = orientation_only_exif(6);
        assert_eq!(
            Orientation::from_exif_chunk(&exif[EXIF_HEADER.len()..]),
            Some(Orientation::Rotate90)
        );
    }
}
