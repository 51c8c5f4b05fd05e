//! MP4 and QuickTime: a tree of boxes. The tree is walked first and every box checked to fit
//! inside its parent, so the parser crate that reads it next cannot be made to allocate from a
//! size that lies. Then the user-data, metadata and `uuid` boxes — where phones and cameras put
//! GPS position, device and owner — become `free` boxes of the same size with their content
//! zeroed: no offset moves, so the media data stays valid and nothing is re-encoded. Duration
//! and dimensions are read with the `mp4` crate.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};

use mp4::TrackType;

use crate::media::inspect::InspectError;

const FORMAT: &str = "video";
/// Boxes holding other boxes, walked to check their sizes.
const CONTAINERS: [&[u8; 4]; 10] =
    [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"edts", b"mvex", b"moof", b"traf"];
/// Metadata boxes, blanked where they sit at the top, in the movie or in a track.
const METADATA: [&[u8; 4]; 3] = [b"udta", b"meta", b"uuid"];
const METADATA_PARENTS: [&[u8; 4]; 2] = [b"moov", b"trak"];
const MAX_DEPTH: usize = 10;

/// What the container says about the video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::media) struct VideoFacts {
    pub(in crate::media) width: u32,
    pub(in crate::media) height: u32,
    pub(in crate::media) duration_ms: i64,
}

/// Checks the box tree and blanks the metadata boxes, in place.
pub(in crate::media) fn blank_metadata(file: &mut File) -> Result<(), InspectError> {
    let length = file.metadata()?.len();
    let mut metadata = Vec::new();
    walk(file, 0, length, None, 0, &mut metadata)?;
    let zeros = [0u8; 64 * 1024];
    for found in metadata {
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
pub(in crate::media) fn read_facts(mut file: File) -> Result<VideoFacts, InspectError> {
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

struct MetadataBox {
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
    metadata: &mut Vec<MetadataBox>,
) -> Result<(), InspectError> {
    if depth > MAX_DEPTH {
        return Err(InspectError::Invalid("The video's boxes nest too deeply.".to_owned()));
    }
    let mut at = start;
    while at < end {
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
        let blank_here = parent.is_none_or(|parent| METADATA_PARENTS.contains(&parent));
        if blank_here && METADATA.contains(&&kind) {
            metadata.push(MetadataBox {
                type_at: at + 4,
                payload_at: at + header_length,
                end: box_end,
            });
        } else if CONTAINERS.contains(&&kind) {
            walk(file, at + header_length, box_end, Some(&kind), depth + 1, metadata)?;
        }
        at = box_end;
    }
    Ok(())
}

fn damaged(what: &str) -> InspectError {
    InspectError::Invalid(format!("The video container is damaged: {what}."))
}
