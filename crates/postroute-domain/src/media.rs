//! The media library's rules: which types are accepted (decided from the bytes, never from the
//! client), and the limits every upload obeys (S-UPLOAD-1..3).

use serde::{Deserialize, Serialize};

/// Largest file accepted: 50 MiB.
pub const MAX_UPLOAD_BYTES: u64 = 52_428_800;
/// Longest side of an image, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 16_384;
/// Most pixels in an image: a decompression bomb claims far more.
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// Most frames in an animation (each costs a decode): ten minutes at eight frames a second.
pub const MAX_ANIMATION_FRAMES: u32 = 5_000;

/// An image or a video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// JPEG, PNG, GIF or WebP.
    Image,
    /// MP4 or QuickTime.
    Video,
}

impl MediaKind {
    /// Every kind.
    pub const ALL: [MediaKind; 2] = [Self::Image, Self::Video];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
        }
    }
}

/// Every accepted type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    /// image/jpeg
    Jpeg,
    /// image/png
    Png,
    /// image/gif
    Gif,
    /// image/webp
    Webp,
    /// video/mp4
    Mp4,
    /// video/quicktime
    QuickTime,
}

impl MediaType {
    /// Every accepted type.
    pub const ALL: [MediaType; 6] =
        [Self::Jpeg, Self::Png, Self::Gif, Self::Webp, Self::Mp4, Self::QuickTime];

    /// The MIME type served with the content.
    pub const fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Mp4 => "video/mp4",
            Self::QuickTime => "video/quicktime",
        }
    }

    /// The extension of stored names.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Jpeg => "jpg",
            Self::Png => "png",
            Self::Gif => "gif",
            Self::Webp => "webp",
            Self::Mp4 => "mp4",
            Self::QuickTime => "mov",
        }
    }

    /// Image or video.
    pub const fn kind(self) -> MediaKind {
        match self {
            Self::Jpeg | Self::Png | Self::Gif | Self::Webp => MediaKind::Image,
            Self::Mp4 | Self::QuickTime => MediaKind::Video,
        }
    }

    /// The accepted type with this MIME type (as a sniffer reports it).
    pub fn from_mime(mime: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.mime() == mime)
    }
}

/// Whether an image's claimed dimensions are within the limits.
pub fn image_dimensions_allowed(width: u32, height: u32) -> bool {
    width > 0
        && height > 0
        && width <= MAX_IMAGE_SIDE
        && height <= MAX_IMAGE_SIDE
        && u64::from(width) * u64::from(height) <= MAX_IMAGE_PIXELS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allowlist_maps_from_mime() {
        assert_eq!(MediaType::from_mime("image/png"), Some(MediaType::Png));
        assert_eq!(MediaType::from_mime("video/quicktime"), Some(MediaType::QuickTime));
        for refused in
            ["image/svg+xml", "text/html", "application/pdf", "application/zip", "image/tiff"]
        {
            assert_eq!(MediaType::from_mime(refused), None, "{refused}");
        }
    }

    #[test]
    fn bombs_are_outside_the_dimension_limits() {
        assert!(image_dimensions_allowed(4000, 3000));
        assert!(!image_dimensions_allowed(100_000, 100_000));
        assert!(!image_dimensions_allowed(16_385, 10));
        assert!(!image_dimensions_allowed(10_000, 10_000));
        assert!(!image_dimensions_allowed(0, 10));
    }
}
