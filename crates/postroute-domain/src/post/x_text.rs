//! X's weighted length, which X holds to 280: twitter-text 3.1.0's count with its configuration
//! v3. The text is normalised to NFC; code points in the Latin, general-punctuation and similar
//! ranges weigh 1, everything else (CJK, most symbols) weighs 2; an emoji, however many code
//! points build it (skin tones, ZWJ families, flags, keycaps), weighs 2; a link weighs 23
//! whatever its length, because X shortens it to t.co.
//!
//! Which text is a link follows twitter-text's extractor and its TLD lists exactly (see
//! [`url`]), so that `acme.co.uk` counts as the link X makes of it and `file.txt` does not.

mod host;
mod punycode;
mod tlds;
mod url;

use unicode_normalization::UnicodeNormalization;

/// The most weighted characters a standard X account may post.
pub const X_MAX_WEIGHTED_LENGTH: usize = 280;
/// What a link counts as: the length of a t.co link.
const TRANSFORMED_URL_LENGTH: usize = 23;
/// Code point ranges that weigh 1 (twitter-text v3's `ranges`).
const LIGHT_RANGES: [(u32, u32); 4] = [(0, 4351), (8192, 8205), (8208, 8223), (8242, 8247)];
/// Characters that make X refuse the whole text (twitter-text's invalid characters).
const REFUSED_CHARACTERS: [char; 3] = ['\u{FFFE}', '\u{FEFF}', '\u{FFFF}'];
/// Most people joined into one emoji by ZWJ (the longest RGI sequences join four).
const MAX_ZWJ_JOINS: usize = 9;
/// Most tag characters after a flag base (subdivision flags use six or seven).
const MAX_TAGS: usize = 32;

/// The weighted length X gives `text`.
pub fn x_weighted_length(text: &str) -> usize {
    let chars: Vec<char> = text.nfc().collect();
    let normalized: String = chars.iter().collect();
    let mut urls = url::find_urls(&chars).into_iter().peekable();
    let mut length = 0;
    let mut at = 0;
    let mut byte = 0;
    while at < chars.len() {
        if let Some(link) = urls.next_if(|link| link.start == at) {
            length += TRANSFORMED_URL_LENGTH;
            // A link is never empty, but the count must move on whatever it is given.
            let end = link.end.max(at + 1);
            byte += chars[at..end].iter().map(|c| c.len_utf8()).sum::<usize>();
            at = end;
            continue;
        }
        let (weight, consumed) = next_unit(&normalized[byte..]);
        length += weight;
        at += normalized[byte..byte + consumed].chars().count();
        byte += consumed;
    }
    length
}

/// Whether `c` is one of the characters X refuses; no link holds one.
fn is_refused(c: char) -> bool {
    REFUSED_CHARACTERS.contains(&c)
}

/// The weight and byte length of the next counted unit: an emoji sequence, or one code point.
fn next_unit(text: &str) -> (usize, usize) {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return (0, 0);
    };
    let rest = chars.as_str();
    let after_first = first.len_utf8();
    // A flag: two regional indicators.
    if is_regional_indicator(first) {
        return match rest.chars().next() {
            Some(second) if is_regional_indicator(second) => (2, after_first + second.len_utf8()),
            _ => (2, after_first),
        };
    }
    // A keycap: digit, `#` or `*`, an optional emoji selector, U+20E3.
    if first.is_ascii_digit() || first == '#' || first == '*' {
        let selector = usize::from(rest.starts_with('\u{FE0F}')) * '\u{FE0F}'.len_utf8();
        if rest[selector..].starts_with('\u{20E3}') {
            return (2, after_first + selector + '\u{20E3}'.len_utf8());
        }
        return (1, after_first);
    }
    // A pictograph, or any symbol asked to look like one (U+FE0F, as in ©️ or ▶️).
    let is_modifier =
        matches!(u32::from(first), 0xFE00..=0xFE0F | 0x200D | 0x20E3 | 0xE0000..=0xE007F);
    if is_pictographic(first) || (!is_modifier && rest.starts_with('\u{FE0F}')) {
        let mut end = after_first + component_tail(first, rest);
        for _ in 0..MAX_ZWJ_JOINS {
            let Some(joined) = text[end..].strip_prefix('\u{200D}') else { break };
            match joined.chars().next() {
                Some(next) if is_pictographic(next) => {
                    let tail = component_tail(next, &joined[next.len_utf8()..]);
                    end += '\u{200D}'.len_utf8() + next.len_utf8() + tail;
                }
                _ => break,
            }
        }
        return (2, end);
    }
    (char_weight(first), after_first)
}

/// The bytes after `base` that belong to its emoji: one presentation selector, one skin tone, and
/// a flag's tag characters.
fn component_tail(base: char, rest: &str) -> usize {
    let mut end = 0;
    let mut chars = rest.chars().peekable();
    if let Some(&c) = chars.peek()
        && matches!(c, '\u{FE0E}' | '\u{FE0F}')
    {
        end += c.len_utf8();
        chars.next();
    }
    if let Some(&c) = chars.peek()
        && matches!(u32::from(c), 0x1F3FB..=0x1F3FF)
    {
        end += c.len_utf8();
        chars.next();
    }
    if base == '\u{1F3F4}' {
        for _ in 0..=MAX_TAGS {
            match chars.next() {
                Some(c) if matches!(u32::from(c), 0xE0020..=0xE007E) => end += c.len_utf8(),
                Some(c) if u32::from(c) == 0xE007F => {
                    end += c.len_utf8();
                    break;
                }
                _ => break,
            }
        }
    }
    end
}

fn char_weight(c: char) -> usize {
    let code = u32::from(c);
    if LIGHT_RANGES.iter().any(|&(low, high)| (low..=high).contains(&code)) { 1 } else { 2 }
}

fn is_pictographic(c: char) -> bool {
    matches!(u32::from(c), 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF)
}

fn is_regional_indicator(c: char) -> bool {
    matches!(u32::from(c), 0x1F1E6..=0x1F1FF)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn emoji_sequences_are_bounded() {
        assert_eq!(x_weighted_length("©\u{FE0F}"), 2, "text symbol in emoji presentation");
        assert_eq!(x_weighted_length("▶\u{FE0F}"), 2);
        let selectors = format!("🙂{}", "\u{FE0F}".repeat(10));
        assert_eq!(
            x_weighted_length(&selectors),
            2 + 9 * 2,
            "only one selector belongs to the emoji"
        );
        assert_eq!(
            x_weighted_length("🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}"),
            2,
            "England"
        );
    }
}
