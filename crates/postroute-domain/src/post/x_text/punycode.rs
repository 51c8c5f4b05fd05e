//! A host label as DNS has to carry it: ASCII as it is, anything else as `xn--` and its RFC 3492
//! Punycode. twitter-text holds each label of a link's host to 63 characters in that form, so a
//! non-Latin host name that reads short can still be too long to be a link.

/// The full stops that also end a label (ideographic, fullwidth, halfwidth), as in IDNA.
const LABEL_SEPARATORS: [char; 3] = ['\u{3002}', '\u{FF0E}', '\u{FF61}'];
/// What marks an encoded label.
const ACE_PREFIX: &str = "xn--";
// RFC 3492 §5 parameters.
const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;

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

/// The Punycode of `input`, without the `xn--` prefix. `None` on arithmetic overflow, which only
/// labels far longer than any host allows can reach.
fn encode(input: &[char]) -> Option<String> {
    let points: Vec<u32> = input.iter().map(|&c| u32::from(c)).collect();
    let mut output: String = input.iter().filter(|c| c.is_ascii()).collect();
    let basic = u32::try_from(output.len()).ok()?;
    if basic > 0 {
        output.push('-');
    }
    let total = u32::try_from(points.len()).ok()?;
    let (mut n, mut delta, mut bias, mut handled) = (INITIAL_N, 0_u32, INITIAL_BIAS, basic);
    while handled < total {
        let next = points.iter().copied().filter(|&point| point >= n).min()?;
        delta = delta.checked_add((next - n).checked_mul(handled + 1)?)?;
        n = next;
        for &point in &points {
            if point < n {
                delta = delta.checked_add(1)?;
            }
            if point == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = threshold(k, bias);
                    if q < t {
                        break;
                    }
                    output.push(digit(t + (q - t) % (BASE - t))?);
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                output.push(digit(q)?);
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(output)
}

fn threshold(k: u32, bias: u32) -> u32 {
    if k <= bias {
        T_MIN
    } else if k >= bias + T_MAX {
        T_MAX
    } else {
        k - bias
    }
}

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / DAMP } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

fn digit(value: u32) -> Option<char> {
    match value {
        0..=25 => char::from_u32(u32::from('a') + value),
        26..=35 => char::from_u32(u32::from('0') + value - 26),
        _ => None,
    }
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
