//! MP4 and QuickTime: a tree of boxes. The tree is walked first and every box checked to fit
//! inside its parent, so the parser crate that reads it next cannot be made to allocate from a
//! size that lies. Then the user-data, metadata and `uuid` boxes — where phones and cameras put
//! GPS position, device and owner — wherever they sit, the padding boxes (which can carry
//! anything) and top-level boxes no player needs become `free` boxes of the same size with their
//! content zeroed: no offset moves, so the media data stays valid and nothing is re-encoded.
//! Duration and dimensions are read with the `mp4` crate.
//!
//! Not handled: timed-metadata tracks (a GoPro's GPS track, for instance) are tracks like any
//! other and are kept.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use mp4::TrackType;

use crate::error::InspectError;

const FORMAT: &str = "video";
/// Boxes holding other boxes, walked to check their sizes.
const CONTAINERS: [&[u8; 4]; 10] =
    [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"edts", b"mvex", b"moof", b"traf"];
/// Boxes blanked wherever they are: metadata, vendor extensions and padding.
const BLANKED: [&[u8; 4]; 5] = [b"udta", b"meta", b"uuid", b"free", b"skip"];
/// Top-level boxes a player uses; any other top-level box is blanked.
const TOP_LEVEL: [&[u8; 4]; 11] = [
    b"ftyp", b"moov", b"mdat", b"moof", b"mfra", b"styp", b"sidx", b"ssix", b"prft", b"emsg",
    b"wide",
];
const MAX_DEPTH: usize = 10;
/// A real file has hundreds of boxes; millions of tiny ones are an attack on the walker.
const MAX_BOXES: usize = 100_000;

/// What the container says about the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VideoFacts {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) duration_ms: i64,
}

/// Checks the box tree and blanks the metadata, padding and unused top-level boxes, in place.
pub(crate) fn blank_metadata(file: &mut File) -> Result<(), InspectError> {
    let length = file.metadata()?.len();
    let mut blanked = Vec::new();
    let mut boxes = 0;
    walk(file, 0, length, None, 0, &mut blanked, &mut boxes)?;
    let zeros = [0u8; 64 * 1024];
    for found in blanked {
        file.seek(SeekFrom::Start(found.type_at))?;
        file.write_all(b"free")?;
        file.seek(SeekFrom::Start(found.payload_at))?;
        let mut left = found.end - found.payload_at;
        while left > 0 {
            let step = left.min(zeros.len() as u64);
            file.write_all(&zeros[..usize::try_from(step).unwrap_or(zeros.len())])?;
            left -= step;
        }
    }
    file.flush()?;
    Ok(())
}

/// Reads duration and dimensions; refuses a file without a movie header or a video track.
pub(crate) fn read_facts(mut file: File) -> Result<VideoFacts, InspectError> {
    let length = file.metadata()?.len();
    file.rewind()?;
    let reader = mp4::Mp4Reader::read_header(BufReader::new(file), length).map_err(|error| {
        InspectError::Invalid(format!("The video container could not be read: {error}."))
    })?;
    let track = reader
        .tracks()
        .values()
        .find(|track| matches!(track.track_type(), Ok(TrackType::Video)))
        .ok_or_else(|| InspectError::Invalid("The file has no video track.".to_owned()))?;
    let (width, height) = (u32::from(track.width()), u32::from(track.height()));
    if width == 0 || height == 0 {
        return Err(InspectError::Invalid("The video track has no dimensions.".to_owned()));
    }
    let duration_ms = i64::try_from(reader.duration().as_millis()).unwrap_or(i64::MAX);
    Ok(VideoFacts { width, height, duration_ms })
}

struct BlankedBox {
    type_at: u64,
    payload_at: u64,
    end: u64,
}

fn walk(
    file: &mut File,
    start: u64,
    end: u64,
    parent: Option<&[u8; 4]>,
    depth: usize,
    blanked: &mut Vec<BlankedBox>,
    boxes: &mut usize,
) -> Result<(), InspectError> {
    if depth > MAX_DEPTH {
        return Err(InspectError::Invalid("The video's boxes nest too deeply.".to_owned()));
    }
    let mut at = start;
    while at < end {
        *boxes += 1;
        if *boxes > MAX_BOXES {
            return Err(damaged("it has too many boxes"));
        }
        if end - at < 8 {
            return Err(damaged("a box header is cut short"));
        }
        file.seek(SeekFrom::Start(at))?;
        let mut header = [0u8; 8];
        file.read_exact(&mut header).map_err(super::truncated(FORMAT))?;
        let declared = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let kind = [header[4], header[5], header[6], header[7]];
        let (header_length, size) = match declared {
            1 => {
                let mut large = [0u8; 8];
                file.read_exact(&mut large).map_err(super::truncated(FORMAT))?;
                (16, u64::from_be_bytes(large))
            }
            // "To the end of the file", allowed for the last top-level box only.
            0 if parent.is_none() => (8, end - at),
            0 => return Err(damaged("a nested box has no size")),
            size => (8, u64::from(size)),
        };
        if size < header_length || size > end - at {
            return Err(if parent.is_none() {
                InspectError::Invalid("The video file is truncated.".to_owned())
            } else {
                damaged("a box runs past its container")
            });
        }
        let box_end = at + size;
        let unused_at_top = parent.is_none() && !TOP_LEVEL.contains(&&kind);
        if BLANKED.contains(&&kind) || unused_at_top {
            blanked.push(BlankedBox {
                type_at: at + 4,
                payload_at: at + header_length,
                end: box_end,
            });
        } else if CONTAINERS.contains(&&kind) {
            walk(file, at + header_length, box_end, Some(&kind), depth + 1, blanked, boxes)?;
        }
        at = box_end;
    }
    Ok(())
}

fn damaged(what: &str) -> InspectError {
    InspectError::Invalid(format!("The video container is damaged: {what}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], content: &[u8]) -> Vec<u8> {
        let mut bytes = u32::try_from(content.len() + 8).unwrap().to_be_bytes().to_vec();
        bytes.extend_from_slice(kind);
        bytes.extend_from_slice(content);
        bytes
    }

    fn blanked(input: &[u8]) -> Result<Vec<u8>, InspectError> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(input).unwrap();
        blank_metadata(&mut file)?;
        let mut output = Vec::new();
        file.rewind().unwrap();
        file.read_to_end(&mut output).unwrap();
        Ok(output)
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|window| window == needle)
    }

    #[test]
    fn metadata_at_any_depth_padding_and_unknown_top_level_boxes_are_blanked() {
        let nested_meta = boxed(b"meta", b"GPS-IN-MEDIA");
        let media =
            boxed(b"mdia", &[boxed(b"mdhd", b"keep-mdhd").as_slice(), &nested_meta].concat());
        let track = boxed(b"trak", &[boxed(b"tkhd", b"keep-tkhd"), media].concat());
        let movie = boxed(
            b"moov",
            &[boxed(b"mvhd", b"keep-mvhd"), track, boxed(b"udta", b"GPS-IN-MOVIE")].concat(),
        );
        let input = [
            boxed(b"ftyp", b"isom"),
            boxed(b"free", b"PK-ZIP-INSIDE"),
            boxed(b"mdat", b"keep-media"),
            movie,
            boxed(b"XMP_", b"VENDOR-XMP"),
        ]
        .concat();
        let output = blanked(&input).unwrap();
        assert_eq!(output.len(), input.len(), "nothing moves");
        for gone in [&b"GPS-IN-MEDIA"[..], b"GPS-IN-MOVIE", b"PK-ZIP-INSIDE", b"VENDOR-XMP"] {
            assert!(!contains(&output, gone), "{}", String::from_utf8_lossy(gone));
        }
        for kept in [&b"keep-mdhd"[..], b"keep-tkhd", b"keep-mvhd", b"keep-media", b"isom"] {
            assert!(contains(&output, kept), "{}", String::from_utf8_lossy(kept));
        }
    }

    #[test]
    fn sizes_that_lie_are_refused() {
        let mut overrun = boxed(b"moov", &boxed(b"trak", b"x"));
        // The track claims more than the movie holds.
        overrun[11] = 200;
        let truncated = {
            let mut bytes = boxed(b"mdat", b"0123456789");
            bytes.truncate(12);
            bytes
        };
        let nested_to_the_end = boxed(b"moov", &[0, 0, 0, 0, b't', b'r', b'a', b'k']);
        let mut deep = boxed(b"stbl", b"");
        for _ in 0..=MAX_DEPTH {
            deep = boxed(b"minf", &deep);
        }
        for (name, input) in [
            ("overrun", overrun),
            ("truncated", truncated),
            ("nested size 0", nested_to_the_end),
            ("too deep", boxed(b"moov", &deep)),
            (
                "too many",
                [boxed(b"ftyp", b"isom"), [0, 0, 0, 8, b'f', b'r', b'e', b'e'].repeat(MAX_BOXES)]
                    .concat(),
            ),
        ] {
            assert!(matches!(blanked(&input), Err(InspectError::Invalid(_))), "{name}");
        }
    }
}
