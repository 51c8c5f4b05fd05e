//! Each platform's rules for what one post may carry, checked when a post is submitted or
//! scheduled so that a post never reaches the publisher in a shape the platform refuses.
//! The figures come from the platforms' documentation (../shared/specs/platforms.md).

use crate::channel::Provider;
use crate::media::{MediaKind, MediaType};

use super::PostBody;
use super::x_text::{X_MAX_WEIGHTED_LENGTH, x_refused_character, x_weighted_length};

/// X: at most four images in one post.
const X_MAX_IMAGES: usize = 4;
/// X: longest video for standard accounts.
const X_MAX_VIDEO_MS: u64 = 140_000;
/// X: largest image.
const X_MAX_IMAGE_BYTES: u64 = 5 * 1024 * 1024;
/// X: largest GIF.
const X_MAX_GIF_BYTES: u64 = 15 * 1024 * 1024;
/// X: most cashtags (`$TSLA`) in one post.
const X_MAX_CASHTAGS: usize = 1;
/// Facebook: longest post text.
const FACEBOOK_MAX_CHARS: usize = 63_206;
/// Facebook: most photos in one post.
const FACEBOOK_MAX_IMAGES: usize = 10;
/// Instagram: longest caption.
const INSTAGRAM_MAX_CAPTION_CHARS: usize = 2_200;
/// Instagram: most hashtags in a caption.
const INSTAGRAM_MAX_HASHTAGS: usize = 30;
/// Instagram: most items in a carousel.
const INSTAGRAM_MAX_ITEMS: usize = 10;
/// Instagram: narrowest (4:5) and widest (1.91:1) feed image, as width / height.
const INSTAGRAM_ASPECT: (f64, f64) = (0.8, 1.91);
/// Instagram: shortest and longest video (Reels).
const INSTAGRAM_VIDEO_MS: (u64, u64) = (3_000, 900_000);

/// What the rules need to know of an attached file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaFacts {
    /// Its type, decided from its bytes at upload.
    pub media_type: MediaType,
    /// Pixels wide.
    pub width: Option<u32>,
    /// Pixels high.
    pub height: Option<u32>,
    /// Videos: length.
    pub duration_ms: Option<u64>,
    /// Stored size.
    pub size_bytes: u64,
}

impl MediaFacts {
    fn is_video(&self) -> bool {
        self.media_type.kind() == MediaKind::Video
    }
}

/// Everything wrong with `body` as a post to a `provider` channel, in words a member can act on;
/// empty when the platform will take it. `media` are the post's files in order.
pub fn check_target(provider: Provider, body: &PostBody, media: &[MediaFacts]) -> Vec<String> {
    let (text, thread) = body.text_for(provider);
    match provider {
        Provider::X => check_x(text, thread, media),
        Provider::Facebook => check_facebook(text, media),
        Provider::Instagram => check_instagram(text, media),
    }
}

fn check_x(text: &str, thread: &[String], media: &[MediaFacts]) -> Vec<String> {
    let mut problems = Vec::new();
    if text.trim().is_empty() && media.is_empty() {
        problems.push("an X post needs text or media".to_owned());
    }
    let length = x_weighted_length(text);
    if length > X_MAX_WEIGHTED_LENGTH {
        problems.push(format!(
            "the text is {length} characters as X counts them; X allows {X_MAX_WEIGHTED_LENGTH}"
        ));
    }
    if let Some(refused) = x_refused_character(text) {
        problems.push(format!(
            "the text holds U+{:04X}, an invisible character X refuses",
            u32::from(refused)
        ));
    }
    let cashtags = count_tags(text, '$', |c| c.is_ascii_alphabetic());
    if cashtags > X_MAX_CASHTAGS {
        problems.push(format!("the text has {cashtags} cashtags; X allows {X_MAX_CASHTAGS}"));
    }
    for (index, item) in thread.iter().enumerate() {
        let position = index + 2;
        if item.trim().is_empty() {
            problems.push(format!("thread post {position} is empty"));
        }
        let length = x_weighted_length(item);
        if length > X_MAX_WEIGHTED_LENGTH {
            problems.push(format!(
                "thread post {position} is {length} characters as X counts them; X allows {X_MAX_WEIGHTED_LENGTH}"
            ));
        }
        if let Some(refused) = x_refused_character(item) {
            problems.push(format!(
                "thread post {position} holds U+{:04X}, an invisible character X refuses",
                u32::from(refused)
            ));
        }
    }
    let videos = media.iter().filter(|file| file.is_video()).count();
    let gifs = media.iter().filter(|file| file.media_type == MediaType::Gif).count();
    if (videos > 0 || gifs > 0) && media.len() > 1 {
        problems.push("X takes one video or one GIF alone, not with other files".to_owned());
    } else if media.len() > X_MAX_IMAGES {
        problems.push(format!("X takes at most {X_MAX_IMAGES} images"));
    }
    for (index, file) in media.iter().enumerate() {
        let position = index + 1;
        match file.media_type {
            MediaType::Mp4 | MediaType::QuickTime
                if file.duration_ms.is_some_and(|duration| duration > X_MAX_VIDEO_MS) =>
            {
                problems.push(format!(
                    "file {position}: X takes videos of at most {} seconds",
                    X_MAX_VIDEO_MS / 1000
                ));
            }
            MediaType::Gif if file.size_bytes > X_MAX_GIF_BYTES => {
                problems.push(format!("file {position}: X takes GIFs of at most 15 MB"));
            }
            MediaType::Jpeg | MediaType::Png | MediaType::Webp
                if file.size_bytes > X_MAX_IMAGE_BYTES =>
            {
                problems.push(format!("file {position}: X takes images of at most 5 MB"));
            }
            _ => {}
        }
    }
    problems
}

fn check_facebook(text: &str, media: &[MediaFacts]) -> Vec<String> {
    let mut problems = Vec::new();
    if text.trim().is_empty() && media.is_empty() {
        problems.push("a Facebook post needs text or media".to_owned());
    }
    if text.chars().count() > FACEBOOK_MAX_CHARS {
        problems.push(format!("Facebook allows at most {FACEBOOK_MAX_CHARS} characters"));
    }
    let videos = media.iter().filter(|file| file.is_video()).count();
    if videos > 0 && media.len() > 1 {
        problems.push("Facebook takes one video alone, not with other files".to_owned());
    } else if media.len() > FACEBOOK_MAX_IMAGES {
        problems.push(format!("Facebook takes at most {FACEBOOK_MAX_IMAGES} photos"));
    }
    problems
}

fn check_instagram(text: &str, media: &[MediaFacts]) -> Vec<String> {
    let mut problems = Vec::new();
    if media.is_empty() {
        problems.push("an Instagram post needs at least one image or video".to_owned());
    }
    if media.len() > INSTAGRAM_MAX_ITEMS {
        problems.push(format!("Instagram takes at most {INSTAGRAM_MAX_ITEMS} files in a carousel"));
    }
    let caption_chars = text.chars().count();
    if caption_chars > INSTAGRAM_MAX_CAPTION_CHARS {
        problems.push(format!(
            "the caption is {caption_chars} characters; Instagram allows {INSTAGRAM_MAX_CAPTION_CHARS}"
        ));
    }
    let hashtags = count_tags(text, '#', |c| c.is_alphanumeric() || c == '_');
    if hashtags > INSTAGRAM_MAX_HASHTAGS {
        problems.push(format!(
            "the caption has {hashtags} hashtags; Instagram allows {INSTAGRAM_MAX_HASHTAGS}"
        ));
    }
    for (index, file) in media.iter().enumerate() {
        let position = index + 1;
        match file.media_type {
            MediaType::Jpeg => {
                if let (Some(width), Some(height)) = (file.width, file.height) {
                    let ratio = f64::from(width) / f64::from(height);
                    let (narrowest, widest) = INSTAGRAM_ASPECT;
                    if !(narrowest - 0.005..=widest + 0.005).contains(&ratio) {
                        problems.push(format!(
                            "file {position} is {width}x{height}; Instagram takes images from 4:5 to 1.91:1"
                        ));
                    }
                }
            }
            MediaType::Mp4 | MediaType::QuickTime => {
                let (shortest, longest) = INSTAGRAM_VIDEO_MS;
                if file
                    .duration_ms
                    .is_some_and(|duration| !(shortest..=longest).contains(&duration))
                {
                    problems.push(format!(
                        "file {position}: Instagram takes videos of {} seconds to {} minutes",
                        shortest / 1000,
                        longest / 60_000
                    ));
                }
            }
            MediaType::Png | MediaType::Gif | MediaType::Webp => problems.push(format!(
                "file {position} is {}; Instagram takes JPEG images only",
                file.media_type.mime()
            )),
        }
    }
    problems
}

/// Tags such as hashtags (`#`) and cashtags (`$`): `sigil` starting a word, followed by a
/// character `starts_tag` accepts.
fn count_tags(text: &str, sigil: char, starts_tag: impl Fn(char) -> bool) -> usize {
    let mut count = 0;
    let mut previous: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let at_word_start =
            previous.is_none_or(|p| !(p.is_alphanumeric() || p == '_' || p == sigil));
        if c == sigil && at_word_start && chars.peek().is_some_and(|next| starts_tag(*next)) {
            count += 1;
        }
        previous = Some(c);
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::{Variant, Variants};

    fn image(media_type: MediaType, width: u32, height: u32) -> MediaFacts {
        MediaFacts {
            media_type,
            width: Some(width),
            height: Some(height),
            duration_ms: None,
            size_bytes: 1000,
        }
    }

    fn video(seconds: u64) -> MediaFacts {
        MediaFacts {
            media_type: MediaType::Mp4,
            width: Some(1080),
            height: Some(1920),
            duration_ms: Some(seconds * 1000),
            size_bytes: 1_000_000,
        }
    }

    fn body(content: &str) -> PostBody {
        PostBody { content: content.to_owned(), ..PostBody::default() }
    }

    #[test]
    fn x_takes_one_cashtag() {
        assert!(check_target(Provider::X, &body("Buying $ACME at $5"), &[]).is_empty());
        assert_eq!(
            check_target(Provider::X, &body("$ACME and $TSLA"), &[]),
            ["the text has 2 cashtags; X allows 1"]
        );
    }

    #[test]
    fn x_holds_text_to_280_weighted_characters() {
        assert!(check_target(Provider::X, &body(&"a".repeat(280)), &[]).is_empty());
        let problems = check_target(Provider::X, &body(&"a".repeat(281)), &[]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("281"), "{problems:?}");
        assert!(!check_target(Provider::X, &body(&"字".repeat(141)), &[]).is_empty());
        assert!(!check_target(Provider::X, &body("   "), &[]).is_empty());
    }

    #[test]
    fn x_refuses_byte_order_marks_and_u_ffff() {
        assert_eq!(
            check_target(Provider::X, &body("\u{FEFF}Launch day"), &[]),
            ["the text holds U+FEFF, an invisible character X refuses"]
        );
        let mut threaded = body("first");
        threaded.variants = Variants {
            x: Some(Variant { content: None, thread: vec!["two\u{FFFF}".to_owned()] }),
            ..Variants::default()
        };
        assert_eq!(
            check_target(Provider::X, &threaded, &[]),
            ["thread post 2 holds U+FFFF, an invisible character X refuses"]
        );
        assert!(check_target(Provider::Facebook, &body("\u{FEFF}Launch day"), &[]).is_empty());
    }

    #[test]
    fn x_checks_each_thread_post_and_its_media_mix() {
        let mut threaded = body("first");
        threaded.variants = Variants {
            x: Some(Variant { content: None, thread: vec!["two".to_owned(), "b".repeat(300)] }),
            ..Variants::default()
        };
        let problems = check_target(Provider::X, &threaded, &[]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("thread post 3"), "{problems:?}");

        let jpeg = image(MediaType::Jpeg, 100, 100);
        assert!(check_target(Provider::X, &body(""), &[jpeg; 4]).is_empty());
        assert!(!check_target(Provider::X, &body(""), &[jpeg; 5]).is_empty());
        assert!(!check_target(Provider::X, &body(""), &[video(10), jpeg]).is_empty());
        assert!(!check_target(Provider::X, &body(""), &[video(141)]).is_empty());
        assert!(check_target(Provider::X, &body(""), &[video(140)]).is_empty());
        let large = MediaFacts { size_bytes: 6 * 1024 * 1024, ..jpeg };
        assert_eq!(
            check_target(Provider::X, &body(""), &[large]),
            ["file 1: X takes images of at most 5 MB"]
        );
        assert!(check_target(Provider::Facebook, &body(""), &[large]).is_empty());
    }

    #[test]
    fn instagram_needs_jpeg_or_video_in_its_proportions() {
        let square = image(MediaType::Jpeg, 1080, 1080);
        assert_eq!(
            check_target(Provider::Instagram, &body("caption"), &[]),
            ["an Instagram post needs at least one image or video"]
        );
        assert!(check_target(Provider::Instagram, &body("caption"), &[square]).is_empty());
        assert!(
            check_target(Provider::Instagram, &body(""), &[image(MediaType::Jpeg, 1080, 1350)])
                .is_empty()
        );
        assert!(
            !check_target(Provider::Instagram, &body(""), &[image(MediaType::Jpeg, 1000, 2000)])
                .is_empty()
        );
        assert!(
            !check_target(Provider::Instagram, &body(""), &[image(MediaType::Png, 1080, 1080)])
                .is_empty()
        );
        assert!(!check_target(Provider::Instagram, &body(""), &[square; 11]).is_empty());
        assert!(!check_target(Provider::Instagram, &body(""), &[video(2)]).is_empty());
        assert!(check_target(Provider::Instagram, &body(""), &[video(30)]).is_empty());
        assert!(!check_target(Provider::Instagram, &body(&"c".repeat(2201)), &[square]).is_empty());
    }

    #[test]
    fn instagram_counts_hashtags_at_word_starts() {
        assert_eq!(
            count_tags("#one #two_2 a#not ## #", '#', |c| c.is_alphanumeric() || c == '_'),
            2
        );
        let thirty_one: Vec<String> = (0..31).map(|i| format!("#tag{i}")).collect();
        let problems = check_target(
            Provider::Instagram,
            &body(&thirty_one.join(" ")),
            &[image(MediaType::Jpeg, 1080, 1080)],
        );
        assert_eq!(problems, ["the caption has 31 hashtags; Instagram allows 30"]);
    }

    #[test]
    fn facebook_takes_text_or_media() {
        assert!(check_target(Provider::Facebook, &body("hello"), &[]).is_empty());
        assert!(!check_target(Provider::Facebook, &body(""), &[]).is_empty());
        assert!(
            !check_target(
                Provider::Facebook,
                &body(""),
                &[video(5), image(MediaType::Png, 10, 10)]
            )
            .is_empty()
        );
    }
}
