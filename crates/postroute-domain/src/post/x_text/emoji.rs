//! Which runs of code points X counts as one emoji. With config v3 an emoji weighs 2 however many
//! code points build it, so a skin tone, a ZWJ family or a flag must be taken whole; a code point
//! that only looks like part of one (a stray selector, a tone after a face) is counted alone.
//!
//! twitter-text matches Unicode's emoji sequences (UTS #51): keycaps, flags, the three
//! subdivision flags, modifier sequences on modifier bases, presentation selectors, and ZWJ
//! sequences. ZWJ sequences are joined here whenever emoji are joined, not only the recommended
//! ones, and any two regional indicators make a flag.

/// VARIATION SELECTOR-16: asks for emoji presentation.
const VS16: char = '\u{FE0F}';
/// COMBINING ENCLOSING KEYCAP.
const KEYCAP: char = '\u{20E3}';
/// ZERO WIDTH JOINER.
const ZWJ: char = '\u{200D}';
/// WAVING BLACK FLAG, the base of subdivision flags.
const BLACK_FLAG: char = '\u{1F3F4}';
/// The subdivision flags Unicode recommends, as tag letters after the black flag: England,
/// Scotland, Wales. Other tag sequences are not emoji to twitter-text.
const SUBDIVISION_FLAGS: [&str; 3] = ["gbeng", "gbsct", "gbwls"];
/// CANCEL TAG, which ends a tag sequence.
const CANCEL_TAG: char = '\u{E007F}';
/// Tag characters in each recommended subdivision flag.
const SUBDIVISION_TAGS: usize = 6;
/// What a tag letter is above its ASCII letter.
const TAG_OFFSET: u32 = 0xE0000;

/// Code points with Unicode's Emoji property (emoji-data.txt, Unicode 15), apart from the
/// keycap bases and the symbols that are emoji only with VS16 (`©`, `®`, `™`, `♟`).
#[rustfmt::skip]
const EMOJI: &[(u32, u32)] = &[
    (0x203C, 0x203C), (0x2049, 0x2049), (0x2139, 0x2139), (0x2194, 0x2199), (0x21A9, 0x21AA),
    (0x231A, 0x231B), (0x2328, 0x2328), (0x23CF, 0x23CF), (0x23E9, 0x23F3), (0x23F8, 0x23FA),
    (0x24C2, 0x24C2), (0x25AA, 0x25AB), (0x25B6, 0x25B6), (0x25C0, 0x25C0), (0x25FB, 0x25FE),
    (0x2600, 0x2604), (0x260E, 0x260E), (0x2611, 0x2611), (0x2614, 0x2615), (0x2618, 0x2618),
    (0x261D, 0x261D), (0x2620, 0x2620), (0x2622, 0x2623), (0x2626, 0x2626), (0x262A, 0x262A),
    (0x262E, 0x262F), (0x2638, 0x263A), (0x2640, 0x2640), (0x2642, 0x2642), (0x2648, 0x2653),
    (0x2660, 0x2660), (0x2663, 0x2663), (0x2665, 0x2666), (0x2668, 0x2668), (0x267B, 0x267B),
    (0x267E, 0x267F), (0x2692, 0x2697), (0x2699, 0x2699), (0x269B, 0x269C), (0x26A0, 0x26A1),
    (0x26A7, 0x26A7), (0x26AA, 0x26AB), (0x26B0, 0x26B1), (0x26BD, 0x26BE), (0x26C4, 0x26C5),
    (0x26C8, 0x26C8), (0x26CE, 0x26CF), (0x26D1, 0x26D1), (0x26D3, 0x26D4), (0x26E9, 0x26EA),
    (0x26F0, 0x26F5), (0x26F7, 0x26FA), (0x26FD, 0x26FD), (0x2702, 0x2702), (0x2705, 0x2705),
    (0x2708, 0x270D), (0x270F, 0x270F), (0x2712, 0x2712), (0x2714, 0x2714), (0x2716, 0x2716),
    (0x271D, 0x271D), (0x2721, 0x2721), (0x2728, 0x2728), (0x2733, 0x2734), (0x2744, 0x2744),
    (0x2747, 0x2747), (0x274C, 0x274C), (0x274E, 0x274E), (0x2753, 0x2755), (0x2757, 0x2757),
    (0x2763, 0x2764), (0x2795, 0x2797), (0x27A1, 0x27A1), (0x27B0, 0x27B0), (0x27BF, 0x27BF),
    (0x2934, 0x2935), (0x2B05, 0x2B07), (0x2B1B, 0x2B1C), (0x2B50, 0x2B50), (0x2B55, 0x2B55),
    (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299), (0x1F004, 0x1F004),
    (0x1F0CF, 0x1F0CF), (0x1F170, 0x1F171), (0x1F17E, 0x1F17F), (0x1F18E, 0x1F18E),
    (0x1F191, 0x1F19A), (0x1F1E6, 0x1F1FF), (0x1F201, 0x1F202), (0x1F21A, 0x1F21A),
    (0x1F22F, 0x1F22F), (0x1F232, 0x1F23A), (0x1F250, 0x1F251), (0x1F300, 0x1F321),
    (0x1F324, 0x1F393), (0x1F396, 0x1F397), (0x1F399, 0x1F39B), (0x1F39E, 0x1F3F0),
    (0x1F3F3, 0x1F3F5), (0x1F3F7, 0x1F4FD), (0x1F4FF, 0x1F53D), (0x1F549, 0x1F54E),
    (0x1F550, 0x1F567), (0x1F56F, 0x1F570), (0x1F573, 0x1F57A), (0x1F587, 0x1F587),
    (0x1F58A, 0x1F58D), (0x1F590, 0x1F590), (0x1F595, 0x1F596), (0x1F5A4, 0x1F5A5),
    (0x1F5A8, 0x1F5A8), (0x1F5B1, 0x1F5B2), (0x1F5BC, 0x1F5BC), (0x1F5C2, 0x1F5C4),
    (0x1F5D1, 0x1F5D3), (0x1F5DC, 0x1F5DE), (0x1F5E1, 0x1F5E1), (0x1F5E3, 0x1F5E3),
    (0x1F5E8, 0x1F5E8), (0x1F5EF, 0x1F5EF), (0x1F5F3, 0x1F5F3), (0x1F5FA, 0x1F64F),
    (0x1F680, 0x1F6C5), (0x1F6CB, 0x1F6D2), (0x1F6D5, 0x1F6D7), (0x1F6DC, 0x1F6E5),
    (0x1F6E9, 0x1F6E9), (0x1F6EB, 0x1F6EC), (0x1F6F0, 0x1F6F0), (0x1F6F3, 0x1F6FC),
    (0x1F7E0, 0x1F7EB), (0x1F7F0, 0x1F7F0), (0x1F90C, 0x1F93A), (0x1F93C, 0x1F945),
    (0x1F947, 0x1F9FF), (0x1FA70, 0x1FA7C), (0x1FA80, 0x1FA88), (0x1FA90, 0x1FABD),
    (0x1FABF, 0x1FAC5), (0x1FACE, 0x1FADB), (0x1FAE0, 0x1FAE8), (0x1FAF0, 0x1FAF8),
];

/// Code points a skin tone may follow (Emoji_Modifier_Base, Unicode 15).
#[rustfmt::skip]
const MODIFIER_BASES: &[(u32, u32)] = &[
    (0x261D, 0x261D), (0x26F7, 0x26F7), (0x26F9, 0x26F9), (0x270A, 0x270D), (0x1F385, 0x1F385),
    (0x1F3C2, 0x1F3C4), (0x1F3C7, 0x1F3C7), (0x1F3CA, 0x1F3CC), (0x1F442, 0x1F443),
    (0x1F446, 0x1F450), (0x1F466, 0x1F469), (0x1F46B, 0x1F46E), (0x1F470, 0x1F478),
    (0x1F47C, 0x1F47C), (0x1F481, 0x1F483), (0x1F485, 0x1F487), (0x1F48F, 0x1F48F),
    (0x1F491, 0x1F491), (0x1F4AA, 0x1F4AA), (0x1F574, 0x1F575), (0x1F57A, 0x1F57A),
    (0x1F590, 0x1F590), (0x1F595, 0x1F596), (0x1F645, 0x1F647), (0x1F64B, 0x1F64F),
    (0x1F6A3, 0x1F6A3), (0x1F6B4, 0x1F6B6), (0x1F6C0, 0x1F6C0), (0x1F6CC, 0x1F6CC),
    (0x1F90C, 0x1F90C), (0x1F90F, 0x1F90F), (0x1F918, 0x1F91F), (0x1F926, 0x1F926),
    (0x1F930, 0x1F939), (0x1F93C, 0x1F93E), (0x1F977, 0x1F977), (0x1F9B5, 0x1F9B6),
    (0x1F9B8, 0x1F9B9), (0x1F9BB, 0x1F9BB), (0x1F9CD, 0x1F9CF), (0x1F9D1, 0x1F9DD),
    (0x1FAC3, 0x1FAC5), (0x1FAF0, 0x1FAF8),
];

/// How many code points of `text` from `at` make one emoji, if one starts there.
pub(super) fn sequence_len(text: &[char], at: usize) -> Option<usize> {
    let first = *text.get(at)?;
    let after = |offset: usize| text.get(at + offset).copied();
    match first {
        '#' | '*' | '0'..='9' => {
            let selector = usize::from(after(1) == Some(VS16));
            (after(1 + selector) == Some(KEYCAP)).then_some(2 + selector)
        }
        '\u{A9}' | '\u{AE}' | '\u{2122}' | '\u{265F}' => (after(1) == Some(VS16)).then_some(2),
        c if is_regional_indicator(c) => {
            Some(if after(1).is_some_and(is_regional_indicator) { 2 } else { 1 })
        }
        c if in_table(EMOJI, c) => Some(zwj_sequence_len(text, at)),
        _ => None,
    }
}

/// An emoji and the emoji joined to it by ZWJ.
fn zwj_sequence_len(text: &[char], at: usize) -> usize {
    let mut end = at + element_len(text, at);
    while text.get(end) == Some(&ZWJ)
        && text.get(end + 1).is_some_and(|&c| in_table(EMOJI, c) && !is_regional_indicator(c))
    {
        end += 1 + element_len(text, end + 1);
    }
    end - at
}

/// One emoji: its code point, a presentation selector, and a skin tone when it takes one; or a
/// recommended subdivision flag.
fn element_len(text: &[char], at: usize) -> usize {
    let base = text.get(at).copied();
    if base == Some(BLACK_FLAG)
        && let Some(len) = subdivision_flag_len(&text[at + 1..])
    {
        return 1 + len;
    }
    let mut len = 1;
    if text.get(at + len) == Some(&VS16) {
        len += 1;
    }
    if base.is_some_and(|c| in_table(MODIFIER_BASES, c))
        && text.get(at + len).is_some_and(|&c| is_skin_tone(c))
    {
        len += 1;
    }
    len
}

/// The tag characters of a recommended subdivision flag at the start of `tags`: five tag
/// letters and the cancel tag.
fn subdivision_flag_len(tags: &[char]) -> Option<usize> {
    let (&last, letters) = tags.get(..SUBDIVISION_TAGS)?.split_last()?;
    let letters: String = letters
        .iter()
        .map(|&c| char::from_u32(u32::from(c).checked_sub(TAG_OFFSET)?))
        .collect::<Option<_>>()?;
    (last == CANCEL_TAG && SUBDIVISION_FLAGS.contains(&letters.as_str()))
        .then_some(SUBDIVISION_TAGS)
}

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let code = u32::from(c);
    table
        .binary_search_by(|&(low, high)| {
            if high < code {
                std::cmp::Ordering::Less
            } else if low > code {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn is_regional_indicator(c: char) -> bool {
    matches!(u32::from(c), 0x1F1E6..=0x1F1FF)
}

fn is_skin_tone(c: char) -> bool {
    matches!(u32::from(c), 0x1F3FB..=0x1F3FF)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn len(text: &str) -> Option<usize> {
        sequence_len(&text.chars().collect::<Vec<_>>(), 0)
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        for table in [EMOJI, MODIFIER_BASES] {
            assert!(table.iter().all(|(low, high)| low <= high));
            assert!(table.windows(2).all(|pair| pair[0].1 < pair[1].0));
        }
    }

    #[test]
    fn takes_whole_sequences_and_nothing_more() {
        assert_eq!(len("👍🏽!"), Some(2), "tone on a modifier base");
        assert_eq!(len("🐱🏽"), Some(1), "a tone after a cat is an emoji of its own");
        assert_eq!(len("1\u{20E3}"), Some(2), "keycap without a selector");
        assert_eq!(len("1"), None);
        assert_eq!(len("©"), None, "© is text unless asked to be an emoji");
        assert_eq!(len("©\u{FE0F}"), Some(2));
        assert_eq!(len("🏳\u{FE0F}\u{200D}🌈"), Some(4), "rainbow flag");
        assert_eq!(len("😀\u{200D}a"), Some(1), "a ZWJ before text joins nothing");
        let texas = "🏴\u{E0075}\u{E0073}\u{E0074}\u{E0078}\u{E007F}";
        assert_eq!(len(texas), Some(1), "not a recommended subdivision flag");
        assert_eq!(len("a"), None);
    }
}
