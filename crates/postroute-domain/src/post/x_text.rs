//! X's weighted length, which X holds to 280: twitter-text 3.1.0's count with its configuration
//! v3. The text is normalised to NFC; a code point in the Latin, general-punctuation and similar
//! ranges weighs 1, anything else (CJK, most symbols) 2; an emoji weighs 2 however many code
//! points build it; a link weighs 23 whatever its length, because X shortens it to t.co.
//!
//! Which text is a link follows twitter-text's extractor and its TLD lists exactly (see
//! [`url`]), so that `acme.co.uk` counts as the link X makes of it and `file.txt` does not.

mod emoji;
mod host;
mod punycode;
mod tlds;
mod url;

#[cfg(test)]
mod conformance;

use unicode_normalization::UnicodeNormalization;

/// The most weighted characters a standard X account may post.
pub const X_MAX_WEIGHTED_LENGTH: usize = 280;
/// What a link counts as: the length of a t.co link.
const TRANSFORMED_URL_LENGTH: usize = 23;
/// Characters that make X refuse the whole text (twitter-text's invalid characters).
const REFUSED_CHARACTERS: [char; 3] = ['\u{FFFE}', '\u{FEFF}', '\u{FFFF}'];

/// A twitter-text weighting configuration. Weights are scaled by `scale`, as in its JSON.
#[derive(Debug)]
struct Weighting {
    /// Code point ranges, inclusive, and what each of their code points weighs.
    ranges: &'static [(u32, u32, usize)],
    /// What any other code point, and an emoji, weighs.
    default_weight: usize,
    scale: usize,
    /// Whether an emoji sequence counts once rather than code point by code point.
    emoji_parsing: bool,
}

/// twitter-text's `config/v3.json`, the configuration X applies.
const V3: Weighting = Weighting {
    ranges: &[(0, 4351, 100), (8192, 8205, 100), (8208, 8223, 100), (8242, 8247, 100)],
    default_weight: 200,
    scale: 100,
    emoji_parsing: true,
};

/// The weighted length X gives `text`.
pub fn x_weighted_length(text: &str) -> usize {
    weighted_length(text, &V3)
}

/// The first character in `text` that makes X refuse it, if any.
pub(crate) fn x_refused_character(text: &str) -> Option<char> {
    text.chars().find(|&c| is_refused(c))
}

/// Whether `c` is one of the characters X refuses; no link holds one.
fn is_refused(c: char) -> bool {
    REFUSED_CHARACTERS.contains(&c)
}

fn weighted_length(text: &str, weighting: &Weighting) -> usize {
    let chars: Vec<char> = text.nfc().collect();
    let mut urls = url::find_urls(&chars).into_iter().peekable();
    let mut scaled = 0;
    let mut at = 0;
    while at < chars.len() {
        if let Some(link) = urls.next_if(|link| link.start == at) {
            scaled += TRANSFORMED_URL_LENGTH * weighting.scale;
            // A link is never empty, but the count must move on whatever it is given.
            at = link.end.max(at + 1);
            continue;
        }
        if weighting.emoji_parsing
            && let Some(len) = emoji::sequence_len(&chars, at)
        {
            scaled += weighting.default_weight;
            at += len;
            continue;
        }
        let code = u32::from(chars[at]);
        scaled += weighting
            .ranges
            .iter()
            .find(|&&(low, high, _)| (low..=high).contains(&code))
            .map_or(weighting.default_weight, |&(_, _, weight)| weight);
        at += 1;
    }
    scaled / weighting.scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_characters_x_refuses() {
        assert_eq!(x_refused_character("a\u{FEFF}b"), Some('\u{FEFF}'));
        assert_eq!(x_refused_character("plain \u{202A}text"), None);
    }

    #[test]
    fn latin_text_counts_one_per_character() {
        assert_eq!(x_weighted_length("hello world"), 11);
        assert_eq!(x_weighted_length(&"a".repeat(280)), 280);
        assert_eq!(x_weighted_length("café"), 4);
        // Decomposed é is normalised to one code point first.
        assert_eq!(x_weighted_length("cafe\u{301}"), 4);
    }

    #[test]
    fn cjk_counts_two() {
        assert_eq!(x_weighted_length("日本語"), 6);
        assert_eq!(x_weighted_length(&"字".repeat(140)), 280);
    }

    #[test]
    fn emoji_sequences_count_two_each() {
        assert_eq!(x_weighted_length("🙂"), 2);
        assert_eq!(x_weighted_length("👍🏽"), 2, "skin tone");
        assert_eq!(x_weighted_length("👨\u{200D}👩\u{200D}👧"), 2, "ZWJ family");
        assert_eq!(x_weighted_length("🇬🇧🇫🇷"), 4, "two flags");
        assert_eq!(x_weighted_length("1\u{FE0F}\u{20E3}"), 2, "keycap");
        assert_eq!(x_weighted_length("❤\u{FE0F} ok"), 5);
        assert_eq!(x_weighted_length("©\u{FE0F}"), 2, "text symbol in emoji presentation");
        assert_eq!(x_weighted_length("©"), 1, "© alone is Latin-1 text");
        assert_eq!(x_weighted_length("▶\u{FE0F}"), 2);
        let selectors = format!("🙂{}", "\u{FE0F}".repeat(10));
        assert_eq!(x_weighted_length(&selectors), 2 + 9 * 2, "a stray selector counts alone");
        assert_eq!(x_weighted_length("a\u{FE0F}"), 3, "a selector does not make a letter an emoji");
        let england = "🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}";
        assert_eq!(x_weighted_length(england), 2);
    }

    // Issue 10, point 15: domains under second-level country names are links to X.
    #[test]
    fn second_level_country_domains_are_links() {
        assert_eq!(x_weighted_length("acme.co.uk"), 23);
        assert_eq!(x_weighted_length("example.co.jp/path"), 23);
        assert_eq!(x_weighted_length("shop.com.au"), 23);
        assert_eq!(x_weighted_length("Order at shop.com.au today"), 9 + 23 + 6);
        assert_eq!(x_weighted_length("ACME.CO.UK"), 23, "TLDs match in any case");
    }

    #[test]
    fn names_without_a_listed_tld_are_text() {
        assert_eq!(x_weighted_length("file.txt"), 8);
        assert_eq!(x_weighted_length("a.b"), 3);
        assert_eq!(x_weighted_length("e.g. node.js"), 12);
        assert_eq!(x_weighted_length("tar.bz2"), 7, "a TLD may not run on into a digit");
        assert_eq!(x_weighted_length("domain.com-more"), 15, "nor into a hyphen");
    }

    #[test]
    fn urls_count_twenty_three_whatever_their_length() {
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert_eq!(x_weighted_length(&long), 23);
        assert_eq!(x_weighted_length("see http://x.io"), 4 + 23);
        assert_eq!(x_weighted_length("(https://example.com/a)."), 1 + 23 + 2);
        assert_eq!(x_weighted_length("https://"), 8, "a bare scheme is text");
        assert_eq!(x_weighted_length("nohttps://example.com"), 21, "not within a word");
        assert_eq!(x_weighted_length("see:http://a.co/x"), 4 + 23, "after punctuation");
        assert_eq!(x_weighted_length("https://ex.com/日本語"), 23 + 6, "CJK ends a path");
        assert_eq!(x_weighted_length("http://ex.com/wiki/Primer_(film)"), 23);
        assert_eq!(x_weighted_length("http://t.co/abc-def"), 23 + 4, "t.co ends after its slug");
    }

    #[test]
    fn bare_domains_count_as_urls() {
        assert_eq!(x_weighted_length("Visit acme.io"), 6 + 23);
        assert_eq!(x_weighted_length("example.com/launch."), 23 + 1);
        assert_eq!(x_weighted_length("t.co"), 23, "a country code needs no path");
        assert_eq!(x_weighted_length("me@example.com"), 3 + 11, "no URL after @");
        assert_eq!(x_weighted_length("/example.com"), 12, "no URL after a slash");
        assert_eq!(x_weighted_length("これはexample.comです"), 6 + 23 + 4);
        assert_eq!(x_weighted_length("ああ.com"), 8, "a non-Latin host needs a scheme");
        assert_eq!(x_weighted_length("http://ああ.com"), 23);
    }
}
