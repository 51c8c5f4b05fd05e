//! Host names as twitter-text 3.1.0 reads them in a link: labels of anything but ASCII
//! punctuation and spaces, joined by `.` (`-` within a label, `_` too but not in the last one),
//! ending in a TLD from its lists or `xn--…` that no ASCII letter or digit, `@`, `+` or `-`
//! follows. Where several readings fit, twitter-text takes the one with the most labels.

use std::ops::Range;

use super::is_refused;
use super::tlds::{COUNTRY, GENERIC, LONGEST_TLD_CHARS};

/// The start of a Punycode label, which may also stand for a TLD.
pub(super) const PUNYCODE_PREFIX: &str = "xn--";
/// ASCII punctuation that ends a host label (`"` and `` ` `` do not, as in twitter-text).
const HOST_PUNCTUATION: [char; 30] = [
    '!', '\'', '#', '%', '&', '(', ')', '*', '+', ',', '\\', '-', '.', '/', ':', ';', '<', '=',
    '>', '?', '@', '[', ']', '^', '_', '{', '|', '}', '~', '$',
];

/// Where hosts end, worked out once per text so that trying a link at every position stays
/// linear.
pub(super) struct Hosts<'t> {
    text: &'t [char],
    /// For each index, where the run of label characters from it ends.
    run_end: Vec<usize>,
    /// For each index, how many `_` come before it.
    underscores: Vec<usize>,
    /// For each index just after a `.`, where the host starting there ends.
    host_end_after_dot: Vec<Option<usize>>,
}

impl<'t> Hosts<'t> {
    pub(super) fn new(text: &'t [char]) -> Self {
        let n = text.len();
        let mut run_end = vec![n; n + 1];
        for i in (0..n).rev() {
            run_end[i] = if is_label_char(text[i]) { run_end[i + 1] } else { i };
        }
        let mut underscores = vec![0; n + 1];
        for (i, &c) in text.iter().enumerate() {
            underscores[i + 1] = underscores[i] + usize::from(c == '_');
        }
        let mut hosts = Self { text, run_end, underscores, host_end_after_dot: vec![None; n + 1] };
        for i in (1..=n).rev() {
            if text[i - 1] == '.' {
                let end = hosts.find_host_end(i);
                hosts.host_end_after_dot[i] = end;
            }
        }
        hosts
    }

    /// Where the host starting at `start` ends: the most labels that still end in a TLD.
    pub(super) fn host_end(&self, start: usize) -> Option<usize> {
        if start > 0 && self.text[start - 1] == '.' {
            return self.host_end_after_dot[start];
        }
        self.find_host_end(start)
    }

    fn find_host_end(&self, start: usize) -> Option<usize> {
        let end = self.run_end[start];
        let is_label = end > start
            && is_host_char(self.text[start])
            && is_host_char(self.text[end - 1])
            && self.text.get(end) == Some(&'.');
        if !is_label {
            return None;
        }
        let next = end + 1;
        self.host_end_after_dot[next].or_else(|| {
            let may_be_last = self.underscores[end] == self.underscores[start];
            if may_be_last { tld_end(self.text, next, self.text.len()) } else { None }
        })
    }
}

/// The ASCII (and accented Latin) host names within a host, as the links they make without a
/// scheme: found left to right, each with the most labels that still end in a TLD.
pub(super) fn ascii_hosts(text: &[char], host: Range<usize>) -> Vec<Range<usize>> {
    let Range { start: base, end: limit } = host;
    let width = limit - base;
    let mut run_end = vec![width; width + 1];
    for i in (0..width).rev() {
        run_end[i] = if is_ascii_label_char(text[base + i]) { run_end[i + 1] } else { i };
    }
    let name_end = |at: usize, after_dot: &[Option<usize>]| {
        let end = run_end[at];
        if end == at || end >= width || text[base + end] != '.' {
            return None;
        }
        let next = end + 1;
        after_dot[next].or_else(|| tld_end(text, base + next, limit).map(|tld| tld - base))
    };
    let mut after_dot = vec![None; width + 1];
    for i in (1..=width).rev() {
        if text[base + i - 1] == '.' {
            let end = name_end(i, &after_dot);
            after_dot[i] = end;
        }
    }
    let mut names = Vec::new();
    let mut at = 0;
    while at < width {
        match name_end(at, &after_dot) {
            Some(end) => {
                names.push(base + at..base + end);
                at = end;
            }
            None => at += 1,
        }
    }
    names
}

/// Where the TLD starting at `at` ends: the longest generic one, else the longest country one,
/// else a Punycode one. `limit` is where the text being matched ends.
fn tld_end(text: &[char], at: usize, limit: usize) -> Option<usize> {
    // No TLD holds an ASCII character other than a letter, so none can reach past one.
    let most = text[at..limit]
        .iter()
        .take(LONGEST_TLD_CHARS)
        .take_while(|c| c.is_ascii_alphabetic() || !c.is_ascii())
        .count();
    let mut lowered = String::new();
    let mut ends = Vec::with_capacity(most);
    for &c in &text[at..at + most] {
        lowered.push(lowercase(c));
        ends.push(lowered.len());
    }
    for list in [GENERIC, COUNTRY] {
        for chars in (1..=most).rev() {
            if tld_may_end(text, at + chars, limit)
                && list.binary_search(&&lowered[..ends[chars - 1]]).is_ok()
            {
                return Some(at + chars);
            }
        }
    }
    if !starts_with_ascii(&text[at..limit], PUNYCODE_PREFIX, true) {
        return None;
    }
    let body = text[at + PUNYCODE_PREFIX.len()..limit]
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || c == '-')
        .count();
    (body > 0).then_some(at + PUNYCODE_PREFIX.len() + body)
}

/// A TLD may not run on into an ASCII letter or digit, `@`, `+` or `-`.
fn tld_may_end(text: &[char], at: usize, limit: usize) -> bool {
    at == limit || !(text[at].is_ascii_alphanumeric() || matches!(text[at], '@' | '+' | '-'))
}

/// Whether `text` starts with the ASCII `prefix`.
pub(super) fn starts_with_ascii(text: &[char], prefix: &str, ignore_case: bool) -> bool {
    text.len() >= prefix.len()
        && text
            .iter()
            .zip(prefix.chars())
            .all(|(&c, p)| if ignore_case { c.eq_ignore_ascii_case(&p) } else { c == p })
}

/// TLDs match in any case; a character whose lower case is longer is compared as it is.
fn lowercase(c: char) -> char {
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

/// Whether a link may start after `c`.
pub(super) fn may_precede(c: char) -> bool {
    is_direction_mark(c)
        || !(c.is_ascii_alphanumeric()
            || matches!(c, '@' | '\u{FF20}' | '$' | '#' | '\u{FF03}')
            || is_refused(c))
}

fn is_host_char(c: char) -> bool {
    !(HOST_PUNCTUATION.contains(&c) || is_space(c) || is_refused(c) || is_direction_mark(c))
}

fn is_label_char(c: char) -> bool {
    is_host_char(c) || c == '-' || c == '_'
}

fn is_ascii_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || is_latin_accent(c)
}

fn is_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{D}'
            | ' '
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{180E}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{61C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The accented Latin letters and combining marks twitter-text lets into ASCII host names and
/// paths.
pub(super) fn is_latin_accent(c: char) -> bool {
    matches!(
        c,
        '\u{C0}'..='\u{D6}'
            | '\u{D8}'..='\u{F6}'
            | '\u{F8}'..='\u{24F}'
            | '\u{253}'
            | '\u{254}'
            | '\u{256}'
            | '\u{257}'
            | '\u{259}'
            | '\u{25B}'
            | '\u{263}'
            | '\u{268}'
            | '\u{26F}'
            | '\u{272}'
            | '\u{289}'
            | '\u{28B}'
            | '\u{2BB}'
            | '\u{300}'..='\u{36F}'
            | '\u{1E00}'..='\u{1EFF}'
    )
}
