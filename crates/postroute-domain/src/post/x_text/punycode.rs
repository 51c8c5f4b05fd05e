//! A host label as DNS has to carry it: ASCII as it is, anything else as `xn--` and its RFC 3492
//! Punycode. twitter-text holds each label of a link's host to 63 characters in that form, so a
//! non-Latin host name that reads short can still be too long to be a link.

/// The full stops that also end a label (ideographic, fullwidth, halfwidth), as in IDNA.
const LABEL_SEPARATORS: [char; 3] = ['\u{3002}', '\u{FF0E}', '\u{FF61}'];
/// What marks an encoded label.
const ACE_PREFIX: &str = "xn--";

/// How many characters the label between two `.` takes in its ASCII form, counting the `.` an
/// IDNA full stop inside it becomes. `None` when it cannot be encoded.
pub(super) fn ascii_label_len(label: &[char]) -> Option<usize> {
    let mut total = 0;
    for (index, part) in label.split(|c| LABEL_SEPARATORS.contains(c)).enumerate() {
        total += usize::from(index > 0);
        total += if part.iter().all(|&c| u32::from(c) < 0x7F) {
            part.len()
        } else {
            ACE_PREFIX.len() + encode(part)?.len()
        };
    }
    Some(total)
}

/// The Punycode of `input`, without the `xn--` prefix (RFC 3492, from `idna`). `None` on
/// arithmetic overflow, which only labels far longer than any host allows can reach.
fn encode(input: &[char]) -> Option<String> {
    idna::punycode::encode(input)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on None")]

    use super::*;

    fn encoded(text: &str) -> String {
        encode(&text.chars().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn encodes_the_rfc_3492_samples() {
        // RFC 3492 §7.1 (A), (B) and (L).
        let arabic = "\u{644}\u{64A}\u{647}\u{645}\u{627}\u{628}\u{62A}\u{643}\u{644}\u{645}\
                      \u{648}\u{634}\u{639}\u{631}\u{628}\u{64A}\u{61F}";
        assert_eq!(encoded(arabic), "egbpdaj6bu4bxfgehfvwxn");
        assert_eq!(encoded("他们为什么不说中文"), "ihqwcrb4cv8a8dqg056pqjye");
        assert_eq!(encoded("3年B組金八先生"), "3B-ww4c5e180e575a65lsy2b");
        assert_eq!(encoded("bücher"), "bcher-kva");
    }

    #[test]
    fn measures_labels_as_dns_carries_them() {
        let len = |text: &str| ascii_label_len(&text.chars().collect::<Vec<_>>());
        assert_eq!(len("example"), Some(7), "ASCII stays as it is");
        assert_eq!(len("bücher"), Some("xn--bcher-kva".len()));
        assert_eq!(len("ab\u{3002}cd"), Some(5), "an ideographic full stop ends a label");
    }
}
