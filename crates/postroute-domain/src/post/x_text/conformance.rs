//! twitter-text's own length cases, from `conformance/validate.yml` of twitter-text 3.1.0
//! (github.com/twitter/twitter-text): every case of its three weighted-counter sections, each
//! run under the configuration twitter-text runs it with, and the `lengths` section that older
//! releases of the file carried for configuration v1. A case whose text is long and regular is
//! built rather than spelt out; its UTF-16 length is checked against the case's display range,
//! so a text built wrong fails.

use super::{V3, Weighting, X_MAX_WEIGHTED_LENGTH, weighted_length, x_refused_character};

/// `config/v2.json`: v3 without emoji parsing.
const V2: Weighting = Weighting { emoji_parsing: false, ..V3 };
/// `config/v1.json`: every code point weighs 1, a link 23, up to 140.
const V1: Weighting = Weighting { ranges: &[], default_weight: 1, scale: 1, emoji_parsing: false };
const V1_MAX_WEIGHTED_LENGTH: usize = 140;

struct Case {
    description: &'static str,
    text: String,
    weighted_length: usize,
    /// Whether twitter-text calls the text valid, where the case says.
    valid: Option<bool>,
    /// The case's `displayRangeEnd`: the text's UTF-16 length less one.
    display_range_end: Option<usize>,
}

fn case(
    description: &'static str,
    text: impl Into<String>,
    weighted_length: usize,
    valid: bool,
    display_range_end: usize,
) -> Case {
    Case {
        description,
        text: text.into(),
        weighted_length,
        valid: Some(valid),
        display_range_end: Some(display_range_end),
    }
}

const POEM: &str = "故人西辞黄鹤楼，烟花三月下扬州。孤帆远影碧空尽，唯见长江天际流。朱雀桥边野草花，乌衣巷口夕阳斜。旧时王谢堂前燕，飞入寻常百姓家。朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。泪湿罗巾梦不成，夜深前殿按歌声。红颜未老恩先断，斜倚薰笼坐到明。独在异乡为异客，每逢佳节倍思亲。遥知兄弟登高处，遍插茱萸少一人。";
const FAMILY: &str = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}";
const KANA: &str = "あいうえおかきくけこ";

fn dashes(groups: usize) -> String {
    "xxxxxxxxxx-".repeat(groups)
}

/// The long-URL case: three links whose single host label is "somesuperlongurl" 249 times
/// (which is what the case's 12,076 UTF-16 units come to), then a short one.
fn long_labels() -> String {
    let long = format!("https://{}.com/foo", "somesuperlongurl".repeat(249));
    format!(
        "Long url with invalid domain labels and a short url: {long} {long} {long} https://validurl.com"
    )
}

/// The cases both weighted sections share, with one section's emoji and punctuation cases.
fn shared_cases(
    normalisation: Vec<Case>,
    emoji: [usize; 3],
    punctuation: (&'static str, &'static str, usize),
) -> Vec<Case> {
    let mut cases = vec![
        case("Regular Tweet with url", "Hi http://test.co", 26, true, 16),
        case("Just url", "http://test.co", 23, true, 13),
        case(
            "Long tweet, overflow at char index 280",
            format!("285 chars-{}", dashes(25)),
            285,
            false,
            284,
        ),
        case(
            "Long tweet with url in the middle, overflow at char index 284",
            format!("285 chars- http://www.twitter.com/jack {}", dashes(24)),
            299,
            false,
            302,
        ),
        case(
            "Long tweet with url at the end, overflow at char index 265",
            format!("{} http://www.twitter.com/jack ", dashes(24)),
            289,
            false,
            292,
        ),
        case(
            "10 url string, no overflow",
            "https://www.twitter.com/aloha ".repeat(10),
            240,
            true,
            299,
        ),
        case("160 CJK char, overflow at char index 140", POEM, 320, false, 159),
        case(
            "160 emoji char, overflow at char index 140",
            "\u{1F637}".repeat(160),
            320,
            false,
            319,
        ),
        case(
            "3 latin char + 160 CJK char, overflow at char index 141",
            format!("the{POEM}"),
            323,
            false,
            162,
        ),
    ];
    cases.extend(normalisation);
    let [mix, bmp, tones] = emoji;
    cases.extend([
        case(
            "282 chars with a normalized character within valid range but outside 280",
            format!("282 chars-{}xxxxxA\u{301}x", dashes(24)),
            281,
            false,
            281,
        ),
        case(
            "Count a mix of single byte single word, and double word unicode characters",
            format!("H\u{1F431}\u{263A}{FAMILY}"),
            mix,
            true,
            14,
        ),
        case("Count unicode emoji chars inside the basic multilingual plane", "😷👾😡🔥💩", bmp, true, 9),
        case(
            "Count unicode emoji chars outside the basic multilingual plane with skin tone modifiers",
            "\u{1F64B}\u{1F3FD}\u{1F468}\u{200D}\u{1F3A4}",
            tones,
            true,
            8,
        ),
    ]);
    let (description, spaces, length) = punctuation;
    cases.push(case(
        description,
        format!(
            "This is a tweet with general punctuation characters: {spaces} ‐ ‑ ‒ – — ― ‖  ‗ ‘ ’ ‚ ‛ “ ” „ ‟ ′ ″ ‴ ‵ ‶ ‷"
        ),
        length,
        true,
        length - 1,
    ));
    cases.extend([
        case("Handle long url with invalid domain labels and short url", long_labels(), 12_079, false, 12_075),
        case(
            "Handle a 64 character domain without protocol",
            format!("{}s.com", "randomurl".repeat(7)),
            68,
            true,
            67,
        ),
        case(
            "Do not allow > 140 CJK characters by virtue of CJK chars greater than 63 punycode encoded chars in the host",
            format!("{} http://{}あいう.com", KANA.repeat(12), KANA.repeat(5)),
            358,
            false,
            184,
        ),
        case(
            "Allow > 140 CJK characters by virtue of CJK chars less than 63 punycode encoded chars in the host",
            format!("{} http://{}あい.com", KANA.repeat(12), KANA.repeat(5)),
            264,
            true,
            183,
        ),
    ]);
    cases
}

/// `WeightedTweetsCounterTest`, run with config v2.
fn weighted_tweets_counter_test() -> Vec<Case> {
    let normalisation = vec![
        case("'Á' is normalized into 1 char", "A\u{301}B", 2, true, 2),
        case("שּׁ is normalized into 3 chars", "A\u{FB2C}", 4, true, 1),
    ];
    let punctuation = (
        "Handle General Punctuation Characters with visible spaces(u2000-200A)",
        "\u{2000}\u{2001}\u{2002}\u{2003}\u{2004}\u{2005}\u{2006}\u{2007}\u{2008}\u{2009}\u{200A}\u{200B}\u{200C}\u{200D}",
        112,
    );
    shared_cases(normalisation, [16, 10, 9], punctuation)
}

/// `WeightedTweetsWithDiscountedEmojiCounterTest` and `UnicodeDirectionalMarkerCounterTest`,
/// both run with config v3.
fn v3_counter_tests() -> Vec<Case> {
    let punctuation = (
        "Handle General Punctuation Characters with visible spaces(u2000-200A), no ZWJ/ZWNJ",
        "\u{2000}\u{2001}\u{2002}\u{2003}\u{2004}\u{2005}\u{2006}\u{2007}\u{2008}\u{2009}\u{200A}\u{200B}",
        110,
    );
    let mut cases = shared_cases(Vec::new(), [7, 10, 4], punctuation);
    let england = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
    cases.extend([
        case("140 family emoji", FAMILY.repeat(140), 280, true, 1539),
        case(
            "Emoji with a leading character in the latin range is counted as 2",
            "1\u{20E3}",
            2,
            true,
            1,
        ),
        case(
            "Unicode 10.0 emoji",
            format!("Unicode 10.0 emoji: \u{1F92A}; \u{1F9D5}; \u{1F9D5}\u{1F3FE}; {england}"),
            34,
            true,
            47,
        ),
        case(
            "Unicode 9.0 emoji",
            "Unicode 9.0 emoji: \u{1F920}; \u{1F483}; \u{1F483}\u{1F3FE}",
            29,
            true,
            30,
        ),
        // UnicodeDirectionalMarkerCounterTest.
        case("Handle invalid characters", "ABC\u{202A}\u{FFFF}ABC\u{FFFE}", 12, false, 8),
        case(
            "Tweet text containing directional characters should be considered valid",
            "\u{2066}\u{202A}http://foobar.پاکستان/\u{202C}\u{2069}",
            31,
            true,
            25,
        ),
    ]);
    cases
}

/// `lengths`, run with config v1.
fn lengths() -> Vec<Case> {
    let length = |description, text: &str, weighted_length| Case {
        description,
        text: text.to_owned(),
        weighted_length,
        valid: None,
        display_range_end: None,
    };
    vec![
        length("Count the number of characters", "This is a test.", 15),
        length("Count a URL starting with http:// as 23 characters", "http://test.com", 23),
        length("Count a URL starting with https:// as 23 characters", "https://test.com", 23),
        length("Count a URL without protocol as 23 characters", "test.com", 23),
        length(
            "Count multiple URLs correctly",
            "Test https://test.com test https://test.com test.com test",
            86,
        ),
        length(
            "Count unicode chars outside the basic multilingual plane (double word)",
            "\u{10000}\u{10FFFF}",
            2,
        ),
        length("Count unicode chars inside the basic multilingual plane", "저찀쯿쿿", 4),
        length(
            "Count a mix of single byte single word, and double word unicode characters",
            "H\u{1F431}☺",
            3,
        ),
    ]
}

/// Every way `cases` differ from twitter-text under `weighting`, as readable lines.
fn mismatches(cases: &[Case], weighting: &Weighting, max: usize) -> Vec<String> {
    let mut found = Vec::new();
    for case in cases {
        let length = weighted_length(&case.text, weighting);
        if length != case.weighted_length {
            found.push(format!(
                "{}: counted {length}, expected {}",
                case.description, case.weighted_length
            ));
        }
        let valid = length > 0 && length <= max && x_refused_character(&case.text).is_none();
        if case.valid.is_some_and(|expected| expected != valid) {
            found.push(format!("{}: valid is {valid}", case.description));
        }
        let display_end = case.text.encode_utf16().count().checked_sub(1);
        if case.display_range_end.is_some_and(|expected| Some(expected) != display_end) {
            found.push(format!(
                "{}: the text is not the case's ({display_end:?})",
                case.description
            ));
        }
    }
    found
}

// Issue 10, point 15: X's count, case for case.
#[test]
fn config_v3_sections_match_twitter_text() {
    let cases = v3_counter_tests();
    assert_eq!(cases.len(), 22 + 2, "every case of both v3 sections");
    assert_eq!(mismatches(&cases, &V3, X_MAX_WEIGHTED_LENGTH), Vec::<String>::new());
    for case in &cases {
        assert_eq!(
            super::x_weighted_length(&case.text),
            case.weighted_length,
            "{}",
            case.description
        );
    }
}

#[test]
fn config_v2_section_matches_twitter_text() {
    let cases = weighted_tweets_counter_test();
    assert_eq!(cases.len(), 20, "every case of WeightedTweetsCounterTest");
    assert_eq!(mismatches(&cases, &V2, X_MAX_WEIGHTED_LENGTH), Vec::<String>::new());
}

#[test]
fn config_v1_lengths_match_twitter_text() {
    let cases = lengths();
    assert_eq!(cases.len(), 8, "every case of lengths");
    assert_eq!(mismatches(&cases, &V1, V1_MAX_WEIGHTED_LENGTH), Vec::<String>::new());
}
