//! What an upload is (S-UPLOAD-1): the type from its first bytes, then the whole structure of
//! that type checked to its end, the metadata taken out, and for images every pixel decoded
//! under limits. Blocking work: callers run it on the blocking pool.

mod error;
mod formats;

pub use error::InspectError;

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::{
    AnimationDecoder, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits,
};
use postroute_domain::{
    MAX_ANIMATION_FRAMES, MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, MediaKind, MediaType,
    image_dimensions_allowed,
};

use crate::formats::{gif, jpeg, mp4, png, webp};

/// Bytes read to decide the type.
const SNIFF_BYTES: u64 = 8 * 1024;
/// Memory one decode may allocate: a 40-megapixel RGBA picture is 160 MB.
const DECODE_MEMORY_BYTES: u64 = 256 * 1024 * 1024;
/// Pixels all frames of an animation may add up to; decoding each frame costs time.
const MAX_ANIMATION_PIXELS: u64 = 10 * MAX_IMAGE_PIXELS;

/// What the upload turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspected {
    /// The type, from the bytes.
    pub media_type: MediaType,
    /// Pixels wide.
    pub width: u32,
    /// Pixels high.
    pub height: u32,
    /// Videos: length in milliseconds.
    pub duration_ms: Option<i64>,
}

/// Inspects `upload` (the file as received) and writes the copy to keep to `output`.
pub fn inspect(upload: &Path, output: &Path) -> Result<Inspected, InspectError> {
    let media_type = sniff(upload)?;
    match media_type.kind() {
        MediaKind::Image => inspect_image(media_type, upload, output),
        MediaKind::Video => inspect_video(media_type, upload, output),
    }
}

fn sniff(upload: &Path) -> Result<MediaType, InspectError> {
    let mut head = Vec::new();
    File::open(upload)?.take(SNIFF_BYTES).read_to_end(&mut head)?;
    let detected = infer::get(&head);
    detected.and_then(|kind| MediaType::from_mime(kind.mime_type())).ok_or_else(|| {
        let what = match detected {
            Some(kind) => format!("Files of type {} are not accepted", kind.mime_type()),
            None => "The file's type is not recognised".to_owned(),
        };
        InspectError::Unsupported(format!(
            "{what}; upload a JPEG, PNG, GIF or WebP image or an MP4 or QuickTime video."
        ))
    })
}

/// The decoder for an image type; `None` for videos, which are not decoded as images.
fn image_format(media_type: MediaType) -> Option<ImageFormat> {
    match media_type {
        MediaType::Jpeg => Some(ImageFormat::Jpeg),
        MediaType::Png => Some(ImageFormat::Png),
        MediaType::Gif => Some(ImageFormat::Gif),
        MediaType::Webp => Some(ImageFormat::WebP),
        MediaType::Mp4 | MediaType::QuickTime => None,
    }
}

fn too_many_pixels(width: u32, height: u32) -> InspectError {
    InspectError::Invalid(format!(
        "The image is {width}x{height} pixels; at most {MAX_IMAGE_SIDE} pixels a side and {} megapixels are accepted.",
        MAX_IMAGE_PIXELS / 1_000_000
    ))
}

fn undecodable(error: ImageError) -> InspectError {
    match error {
        ImageError::IoError(error) if error.kind() != io::ErrorKind::UnexpectedEof => {
            InspectError::Io(error)
        }
        ImageError::Limits(_) => InspectError::Invalid(
            "The image needs more memory to decode than an upload may use.".to_owned(),
        ),
        error => InspectError::Invalid(format!("The image could not be decoded: {error}.")),
    }
}

fn inspect_image(
    media_type: MediaType,
    upload: &Path,
    output: &Path,
) -> Result<Inspected, InspectError> {
    let format = image_format(media_type).ok_or_else(|| {
        InspectError::Unsupported(format!("{} is not an image type", media_type.mime()))
    })?;
    // The size the header claims, checked before a single pixel is decoded: a decompression
    // bomb is refused here, in microseconds.
    let (width, height) = ImageReader::with_format(BufReader::new(File::open(upload)?), format)
        .into_dimensions()
        .map_err(undecodable)?;
    if !image_dimensions_allowed(width, height) {
        return Err(too_many_pixels(width, height));
    }
    {
        let mut input = BufReader::new(File::open(upload)?);
        let mut kept = BufWriter::new(File::create(output)?);
        match media_type {
            MediaType::Png => png::strip(&mut input, &mut kept)?,
            MediaType::Gif => gif::strip(&mut input, &mut kept)?,
            MediaType::Webp => webp::strip(&mut input, &mut kept)?,
            _ => jpeg::strip(&mut input, &mut kept)?,
        }
        kept.flush()?;
    }
    decode_every_pixel(format, output)?;
    Ok(Inspected { media_type, width, height, duration_ms: None })
}

fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(DECODE_MEMORY_BYTES);
    limits
}

/// Decodes the copy that will be kept, all frames of an animation included, so that what is
/// stored is known to be a whole, valid image.
fn decode_every_pixel(format: ImageFormat, path: &Path) -> Result<(), InspectError> {
    let input = BufReader::new(File::open(path)?);
    match format {
        ImageFormat::Gif => {
            let mut decoder = GifDecoder::new(input).map_err(undecodable)?;
            decoder.set_limits(decode_limits()).map_err(undecodable)?;
            decode_frames(decoder.into_frames())
        }
        ImageFormat::Png => {
            let decoder = PngDecoder::with_limits(input, decode_limits()).map_err(undecodable)?;
            if decoder.is_apng().map_err(undecodable)? {
                decode_frames(decoder.apng().map_err(undecodable)?.into_frames())
            } else {
                DynamicImage::from_decoder(decoder).map(drop).map_err(undecodable)
            }
        }
        ImageFormat::WebP => {
            let mut decoder = WebPDecoder::new(input).map_err(undecodable)?;
            decoder.set_limits(decode_limits()).map_err(undecodable)?;
            if decoder.has_animation() {
                decode_frames(decoder.into_frames())
            } else {
                DynamicImage::from_decoder(decoder).map(drop).map_err(undecodable)
            }
        }
        _ => {
            let mut reader = ImageReader::with_format(input, format);
            reader.limits(decode_limits());
            reader.decode().map(drop).map_err(undecodable)
        }
    }
}

fn decode_frames(frames: image::Frames<'_>) -> Result<(), InspectError> {
    let mut pixels: u64 = 0;
    for (index, frame) in frames.enumerate() {
        if index >= MAX_ANIMATION_FRAMES as usize {
            return Err(InspectError::Invalid(format!(
                "The animation has more than {MAX_ANIMATION_FRAMES} frames."
            )));
        }
        let frame = frame.map_err(undecodable)?;
        let (width, height) = frame.buffer().dimensions();
        pixels += u64::from(width) * u64::from(height);
        if pixels > MAX_ANIMATION_PIXELS {
            return Err(InspectError::Invalid(format!(
                "The animation is too long: its frames add up to more than {} megapixels.",
                MAX_ANIMATION_PIXELS / 1_000_000
            )));
        }
    }
    Ok(())
}

fn inspect_video(
    media_type: MediaType,
    upload: &Path,
    output: &Path,
) -> Result<Inspected, InspectError> {
    std::fs::copy(upload, output)?;
    let mut file = OpenOptions::new().read(true).write(true).open(output)?;
    mp4::blank_metadata(&mut file)?;
    let facts = mp4::read_facts(file)?;
    Ok(Inspected {
        media_type,
        width: facts.width,
        height: facts.height,
        duration_ms: Some(facts.duration_ms),
    })
}
