//! A small corpus of media files made on the fly: one of each accepted type, the same with the
//! metadata phones and cameras write, and the files attackers and broken clients send.

use std::io::Cursor;

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::webp::WebPEncoder;
use image::{Delay, Frame, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

/// The text planted in every metadata block; no stored copy may contain it.
pub const PRIVATE_NOTE: &str = "Home sweet home, 12 Rue Example";
/// 48°51'30" as the three EXIF rationals of a GPS latitude: no stored copy may contain them.
pub const GPS_LATITUDE: [u8; 24] =
    [0, 0, 0, 48, 0, 0, 0, 1, 0, 0, 0, 51, 0, 0, 0, 1, 0, 0, 0, 30, 0, 0, 0, 1];

fn picture(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 7) as u8, (y * 5) as u8, ((x + y) * 3) as u8])
    })
}

fn encode(image: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).expect("encoding a test image");
    bytes.into_inner()
}

/// A PNG.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    encode(&picture(width, height), ImageFormat::Png)
}

/// A JPEG.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encode(&picture(width, height), ImageFormat::Jpeg)
}

/// A still WebP (lossless).
pub fn webp(width: u32, height: u32) -> Vec<u8> {
    let image =
        RgbaImage::from_fn(width, height, |x, y| Rgba([(x * 9) as u8, (y * 3) as u8, 80, 255]));
    let mut bytes = Vec::new();
    WebPEncoder::new_lossless(&mut bytes)
        .encode(image.as_raw(), width, height, image::ExtendedColorType::Rgba8)
        .expect("encoding a test WebP");
    bytes
}

/// A looping two-frame GIF animation.
pub fn gif(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        encoder.set_repeat(Repeat::Infinite).expect("GIF repeat");
        let frames = [Rgba([255, 0, 0, 255]), Rgba([0, 0, 255, 255])].map(|color| {
            Frame::from_parts(
                RgbaImage::from_pixel(width, height, color),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            )
        });
        encoder.encode_frames(frames).expect("encoding a test GIF");
    }
    bytes
}

/// A JPEG as a phone writes it: EXIF with orientation (rotate 90°), a description and a GPS
/// position, an XMP packet and a comment.
pub fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let plain = jpeg(width, height);
    let mut exif = b"Exif\0\0".to_vec();
    exif.extend_from_slice(&exif_with_gps());
    let xmp = format!(
        "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><rdf:Description exif:GPSLatitude=\"48,51.5N\" dc:description=\"{PRIVATE_NOTE}\"/></x:xmpmeta>"
    );
    let mut out = plain[..2].to_vec();
    for (marker, payload) in
        [(0xE1, exif), (0xE1, xmp.into_bytes()), (0xFE, PRIVATE_NOTE.as_bytes().to_vec())]
    {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(
            &u16::try_from(payload.len() + 2).expect("short segment").to_be_bytes(),
        );
        out.extend_from_slice(&payload);
    }
    out.extend_from_slice(&plain[2..]);
    out
}

/// A big-endian TIFF block: IFD0 with a description, orientation 6 and a GPS IFD pointer; the
/// GPS IFD with latitude and longitude.
fn exif_with_gps() -> Vec<u8> {
    let mut tiff = b"MM\0\x2A\0\0\0\x08".to_vec();
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        tiff.extend_from_slice(&tag.to_be_bytes());
        tiff.extend_from_slice(&kind.to_be_bytes());
        tiff.extend_from_slice(&count.to_be_bytes());
        tiff.extend_from_slice(&value);
    };
    const ASCII: u16 = 2;
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    // IFD0 at 8: 2 + 3 * 12 + 4 = 42 bytes; the GPS IFD at 50: 2 + 4 * 12 + 4 = 54 bytes; then
    // the description at 104, the latitude at 104 + 32, the longitude 24 bytes later.
    let description_at: u32 = 104;
    let latitude_at = description_at + 32;
    let longitude_at = latitude_at + 24;
    let mut description = PRIVATE_NOTE.as_bytes().to_vec();
    description.resize(32, 0);
    tiff.extend_from_slice(&3u16.to_be_bytes());
    entry(&mut tiff, 0x010E, ASCII, 32, description_at.to_be_bytes());
    entry(&mut tiff, 0x0112, SHORT, 1, [0, 6, 0, 0]);
    entry(&mut tiff, 0x8825, LONG, 1, 50u32.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&4u16.to_be_bytes());
    entry(&mut tiff, 0x0001, ASCII, 2, *b"N\0\0\0");
    entry(&mut tiff, 0x0002, RATIONAL, 3, latitude_at.to_be_bytes());
    entry(&mut tiff, 0x0003, ASCII, 2, *b"E\0\0\0");
    entry(&mut tiff, 0x0004, RATIONAL, 3, longitude_at.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(tiff.len(), description_at as usize);
    tiff.extend_from_slice(&description);
    tiff.extend_from_slice(&GPS_LATITUDE);
    tiff.extend_from_slice(&[
        0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 17, 0, 0, 0, 1, 0, 0, 0, 40, 0, 0, 0, 1,
    ]);
    tiff
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = u32::try_from(data.len()).expect("short chunk").to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    chunk.extend_from_slice(&crc.finalize().to_be_bytes());
    chunk
}

/// A PNG with a text comment, an iTXt XMP packet and an eXIf chunk holding a GPS position.
pub fn png_with_metadata(width: u32, height: u32) -> Vec<u8> {
    let plain = png(width, height);
    // Signature (8) and IHDR (25) come first; metadata may follow anywhere before IEND.
    let mut out = plain[..33].to_vec();
    out.extend(png_chunk(b"tEXt", format!("Comment\0{PRIVATE_NOTE}").as_bytes()));
    out.extend(png_chunk(
        b"iTXt",
        format!("XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta>{PRIVATE_NOTE}</x:xmpmeta>").as_bytes(),
    ));
    out.extend(png_chunk(b"eXIf", &exif_with_gps()));
    out.extend_from_slice(&plain[33..]);
    out
}

/// A GIF animation with a comment and an XMP application extension.
pub fn gif_with_metadata(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = gif(width, height);
    let trailer = bytes.pop().expect("a GIF ends with its trailer");
    assert_eq!(trailer, 0x3B);
    let sub_blocks = |out: &mut Vec<u8>, data: &[u8]| {
        for block in data.chunks(255) {
            out.push(u8::try_from(block.len()).expect("short block"));
            out.extend_from_slice(block);
        }
        out.push(0);
    };
    bytes.extend_from_slice(&[0x21, 0xFE]);
    sub_blocks(&mut bytes, PRIVATE_NOTE.as_bytes());
    bytes.extend_from_slice(&[0x21, 0xFF, 11]);
    bytes.extend_from_slice(b"XMP DataXMP");
    sub_blocks(&mut bytes, format!("<x:xmpmeta>{PRIVATE_NOTE}</x:xmpmeta>").as_bytes());
    bytes.push(trailer);
    bytes
}

/// An extended WebP with EXIF (GPS) and XMP chunks.
pub fn webp_with_metadata(width: u32, height: u32) -> Vec<u8> {
    let plain = webp(width, height);
    // The simple format: RIFF, size, WEBP, then one VP8L chunk.
    let image_chunk = &plain[12..];
    let riff_chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(&u32::try_from(data.len()).expect("short chunk").to_le_bytes());
        chunk.extend_from_slice(data);
        if data.len() % 2 == 1 {
            chunk.push(0);
        }
        chunk
    };
    let mut header = vec![0x08 | 0x04, 0, 0, 0];
    header.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    header.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend(riff_chunk(b"VP8X", &header));
    body.extend_from_slice(image_chunk);
    body.extend(riff_chunk(b"EXIF", &exif_with_gps()));
    body.extend(riff_chunk(b"XMP ", format!("<x:xmpmeta>{PRIVATE_NOTE}</x:xmpmeta>").as_bytes()));
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).expect("small file").to_le_bytes());
    out.extend(body);
    out
}

/// A two-second H.264 MP4 (`brand` "isom"), or QuickTime (`brand` "qt  "), 320x240, with
/// user-data boxes holding a GPS position in the movie header and at the top level, as phones
/// and editors write them.
pub fn video(brand: &str) -> Vec<u8> {
    video_lasting(brand, 2)
}

/// As [`video`], `seconds` long (25 frames a second): Instagram takes reels of 3 s or more.
pub fn video_lasting(brand: &str, seconds: u64) -> Vec<u8> {
    let config = mp4::Mp4Config {
        major_brand: brand.parse().expect("four-letter brand"),
        minor_version: 512,
        compatible_brands: vec![brand.parse().expect("four-letter brand")],
        timescale: 1000,
    };
    let mut writer =
        mp4::Mp4Writer::write_start(Cursor::new(Vec::new()), &config).expect("MP4 writer");
    writer
        .add_track(&mp4::TrackConfig {
            track_type: mp4::TrackType::Video,
            timescale: 1000,
            language: "und".to_owned(),
            media_conf: mp4::MediaConfig::AvcConfig(mp4::AvcConfig {
                width: 320,
                height: 240,
                seq_param_set: vec![0x67, 0x42, 0x00, 0x1E, 0x95, 0xA8, 0x28, 0x0F, 0x64],
                pic_param_set: vec![0x68, 0xCE, 0x3C, 0x80],
            }),
        })
        .expect("video track");
    for frame in 0..seconds * 25 {
        writer
            .write_sample(
                1,
                &mp4::Mp4Sample {
                    start_time: frame * 40,
                    duration: 40,
                    rendering_offset: 0,
                    is_sync: frame % 25 == 0,
                    bytes: bytes::Bytes::from(vec![0x65; 200]),
                },
            )
            .expect("video sample");
    }
    writer.write_end().expect("finishing the MP4");
    let mut bytes = writer.into_writer().into_inner();
    let location = format!("\u{a9}xyz+48.8584+002.2945/ {PRIVATE_NOTE}");
    let mut user_data =
        u32::try_from(8 + location.len()).expect("short box").to_be_bytes().to_vec();
    user_data.extend_from_slice(b"udta");
    user_data.extend_from_slice(location.as_bytes());
    // The writer puts the movie header last: a child appended to it moves no media offset.
    let movie = top_level_box(&bytes, b"moov");
    assert_eq!(movie.end, bytes.len(), "the movie header comes last");
    let grown = u32::try_from(movie.end - movie.start + user_data.len()).expect("small box");
    bytes[movie.start..movie.start + 4].copy_from_slice(&grown.to_be_bytes());
    bytes.extend_from_slice(&user_data);
    bytes.extend(user_data);
    bytes
}

struct BoxSpan {
    start: usize,
    end: usize,
}

/// Where the top-level box `kind` is.
fn top_level_box(bytes: &[u8], kind: &[u8; 4]) -> BoxSpan {
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("four bytes")) as usize;
        if &bytes[at + 4..at + 8] == kind {
            return BoxSpan { start: at, end: at + size };
        }
        at += size.max(8);
    }
    panic!("no {} box", String::from_utf8_lossy(kind))
}

/// `video("isom")` grown with a trailing `free` box to exactly `length` bytes.
pub fn video_of_length(length: usize) -> Vec<u8> {
    let mut bytes = video("isom");
    let padding = length - bytes.len();
    bytes.extend_from_slice(&u32::try_from(padding).expect("under 4 GiB").to_be_bytes());
    bytes.extend_from_slice(b"free");
    bytes.resize(length, 0);
    bytes
}

/// A PNG whose header claims `width` x `height` pixels (a decompression bomb's header).
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend(png_chunk(b"IHDR", &header));
    out.extend(png_chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// A PNG followed by a PHP script: an image to one reader, a program to another.
pub fn png_php_polyglot() -> Vec<u8> {
    let mut bytes = png(16, 16);
    bytes.extend_from_slice(b"<?php system($_GET['cmd']); ?>\n");
    bytes
}

/// An SVG image that runs a script when a browser renders it.
pub fn svg_with_script() -> Vec<u8> {
    br#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script><rect width="10" height="10"/></svg>
"#
    .to_vec()
}

/// An HTML page with a script.
pub fn html() -> Vec<u8> {
    b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n".to_vec()
}

/// A minimal PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec()
}

/// A ZIP archive holding one file.
pub fn zip() -> Vec<u8> {
    let mut bytes = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0".to_vec();
    bytes.extend_from_slice(&[0; 16]);
    bytes.extend_from_slice(b"a.txt");
    bytes.extend_from_slice(b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    bytes
}

/// A shell script.
pub fn shell_script() -> Vec<u8> {
    b"#!/bin/sh\nrm -rf /\n".to_vec()
}

/// The first `keep` bytes of `bytes`.
pub fn truncated(bytes: &[u8], keep: usize) -> Vec<u8> {
    bytes[..keep].to_vec()
}
