//! X's weighted length (twitter-text configuration v3), which is what X holds to 280: text is
//! normalised to NFC; code points in the Latin, general-punctuation and similar ranges weigh 1,
//! everything else (CJK, most symbols) weighs 2; an emoji, however many code points build it
//! (skin tones, ZWJ families, flags, keycaps), weighs 2; a URL weighs 23 whatever its length,
//! because X shortens it to t.co.
//!
//! URLs are recognised as twitter-text does in outline: with an `http(s)://` scheme, or as a
//! bare domain ending in a common generic TLD or a country code (a one- or two-letter name under
//! a country code counts only with a path, as `t.co/x`). twitter-text's full TLD list and RGI
//! emoji tables are not reproduced: an unusual TLD counts by its characters.

use unicode_normalization::UnicodeNormalization;

/// The most weighted characters a standard X account may post.
pub const X_MAX_WEIGHTED_LENGTH: usize = 280;
/// What a URL weighs: the length of a t.co link.
const URL_WEIGHT: usize = 23;
/// Code point ranges that weigh 1 (twitter-text v3's `ranges`).
const LIGHT_RANGES: [(u32, u32); 4] = [(0, 4351), (8192, 8205), (8208, 8223), (8242, 8247)];
/// Characters that end a URL when they are its last: they are prose, not address.
const URL_TRAILING_PUNCTUATION: &[char] = &['.', ',', ';', ':', '!', '?', ')', '\'', '"'];
/// Characters after which no URL starts (twitter-text's invalid preceding characters).
const NOT_BEFORE_URL: &[char] = &['@', '$', '#', '/', '.', '-', '_'];
/// Generic TLDs recognised in bare domains.
const GENERIC_TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "edu", "gov", "mil", "int", "app", "dev", "xyz", "online",
    "site", "shop", "store", "blog", "news", "page", "tech", "live", "media", "studio", "agency",
    "design", "social", "link", "club", "art", "ai",
];
/// Country-code TLDs (ISO 3166 codes in use as TLDs, with `uk`, `eu`, `ac` and `su`).
const COUNTRY_TLDS: &str = "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi \
    bj bm bn bo br bs bt bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk \
    dm do dz ec ee eg er es et eu fi fj fk fm fo fr ga gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu \
    gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky \
    kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx \
    my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro \
    rs ru rw sa sb sc sd se sg sh si sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th tj tk tl \
    tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw";
/// Most people joined into one emoji by ZWJ (the longest RGI sequences join four).
const MAX_ZWJ_JOINS: usize = 9;
/// Most tag characters after a flag base (subdivision flags use six or seven).
const MAX_TAGS: usize = 32;

/// The weighted length X gives `text`.
pub fn x_weighted_length(text: &str) -> usize {
    let normalized: String = text.nfc().collect();
    let mut length = 0;
    let mut rest = normalized.as_str();
    let mut previous: Option<char> = None;
    while !rest.is_empty() {
        let may_start_url =
            previous.is_none_or(|p| !(p.is_alphanumeric() || NOT_BEFORE_URL.contains(&p)));
        if may_start_url && let Some(url_len) = url_at(rest) {
            length += URL_WEIGHT;
            previous = rest[..url_len].chars().last();
            rest = &rest[url_len..];
            continue;
        }
        let (weight, consumed) = next_unit(rest);
        length += weight;
        previous = rest[..consumed].chars().last();
        rest = &rest[consumed..];
    }
    length
}

/// The byte length of the URL `text` starts with, if it starts with one.
fn url_at(text: &str) -> Option<usize> {
    // A URL is ASCII here: it ends at whitespace or at the first non-ASCII character.
    let end = text.find(|c: char| c.is_whitespace() || !c.is_ascii()).unwrap_or(text.len());
    let candidate = text[..end].trim_end_matches(URL_TRAILING_PUNCTUATION);
    let lower = candidate.to_ascii_lowercase();
    let scheme = ["https://", "http://"].into_iter().find(|scheme| lower.starts_with(scheme));
    if let Some(scheme) = scheme {
        // A scheme with nothing after it is just text.
        return (candidate.len() > scheme.len()).then_some(candidate.len());
    }
    let domain_end = lower.find(['/', '?', '#', ':']).unwrap_or(lower.len());
    let (domain, path) = lower.split_at(domain_end);
    let labels: Vec<&str> = domain.split('.').collect();
    let valid_label = |label: &&str| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if labels.len() < 2 || !labels.iter().all(valid_label) {
        return None;
    }
    let tld = labels[labels.len() - 1];
    let name = labels[labels.len() - 2];
    let has_path = path.starts_with('/');
    let recognised = GENERIC_TLDS.contains(&tld)
        || (COUNTRY_TLDS.split_whitespace().any(|code| code == tld)
            && (name.len() > 2 || has_path));
    recognised.then_some(candidate.len())
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

    #[test]
    fn urls_count_twenty_three_whatever_their_length() {
        let long = format!("https://example.com/{}", "a".repeat(200));
        assert_eq!(x_weighted_length(&long), 23);
        assert_eq!(x_weighted_length("see http://x.io"), 4 + 23);
        assert_eq!(x_weighted_length("(https://example.com/a)."), 1 + 23 + 2);
        assert_eq!(x_weighted_length("https://"), 8, "a bare scheme is text");
        assert_eq!(x_weighted_length("nohttps://example.com"), 21, "not at a word start");
        assert_eq!(x_weighted_length("see:http://a.co/x"), 4 + 23, "after punctuation");
        assert_eq!(x_weighted_length("https://ex.com/日本語"), 23 + 6, "CJK ends a URL");
    }

    #[test]
    fn bare_domains_count_as_urls() {
        assert_eq!(x_weighted_length("Visit acme.io"), 6 + 23);
        assert_eq!(x_weighted_length("example.com/launch."), 23 + 1);
        assert_eq!(
            x_weighted_length("t.co/abc"),
            23,
            "a short name under a country code, with a path"
        );
        assert_eq!(x_weighted_length("t.co"), 4, "without a path it is text");
        assert_eq!(x_weighted_length("e.g. node.js"), 12, "not TLDs");
        assert_eq!(x_weighted_length("me@example.com"), 3 + 11, "no URL after @");
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
