//! Is this post on the platform ours? Reconciliation's matching rule (publishing.md C): never
//! "the newest post on the account", always a match on what we sent, inside the window in
//! which our call was made.

use chrono::{DateTime, Utc};
use unicode_normalization::UnicodeNormalization;

/// A post as the account's listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedPost {
    /// The platform's id.
    pub id: String,
    /// Its full text (X: `note_tweet.text` for a long post, whose `text` is cut short).
    pub text: String,
    /// The post it replies to.
    pub replied_to: Option<String>,
    /// Its media keys (X `attachments.media_keys`).
    pub media_keys: Vec<String>,
    /// When it was created, when the listing says.
    pub created_at: Option<DateTime<Utc>>,
}

/// An account's posts since a moment, as far as the platform's listing was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// The posts read, newest first.
    pub posts: Vec<ListedPost>,
    /// Whether the reading reached back past the moment (or to the account's oldest post).
    /// Only a complete listing can prove a post absent: an account busier than the pages read
    /// may hold ours further down, and sending again would post it twice.
    pub complete: bool,
}

/// What we sent, as the listing should show it.
#[derive(Clone, Copy, Debug)]
pub struct Sought<'a> {
    /// The text sent.
    pub text: &'a str,
    /// The post it replied to (a thread's previous part).
    pub reply_to: Option<&'a str>,
    /// The media keys of the files it carried.
    pub media_keys: &'a [String],
    /// The earliest creation time that can be ours: when the call began, less a margin for
    /// the clocks' skew.
    pub not_before: DateTime<Utc>,
}

/// The listed posts that are the one sought, best signal first: the same media keys when it
/// carried files, else the same parent and the same text once normalised. More than one match
/// means it was already published twice; the caller records every id and never deletes one.
pub fn matching<'p>(sought: &Sought<'_>, listed: &'p [ListedPost]) -> Vec<&'p ListedPost> {
    let text = normalise(sought.text);
    listed
        .iter()
        .filter(|post| post.created_at.is_none_or(|created| created >= sought.not_before))
        .filter(|post| post.replied_to.as_deref() == sought.reply_to)
        .filter(|post| {
            if sought.media_keys.is_empty() {
                normalise(&post.text) == text
            } else {
                same_set(&post.media_keys, sought.media_keys)
            }
        })
        .collect()
}

fn same_set(listed: &[String], sent: &[String]) -> bool {
    let mut listed: Vec<&String> = listed.iter().collect();
    let mut sent: Vec<&String> = sent.iter().collect();
    listed.sort();
    sent.sort();
    listed == sent
}

/// Text as two sides can agree on it: X shortens every link to a t.co address and escapes `&`,
/// `<` and `>` as HTML entities, and either side may compose characters differently or trim
/// spaces. Links become one placeholder, entities are unescaped, Unicode is composed (NFC) and
/// runs of whitespace become one space.
pub fn normalise(text: &str) -> String {
    let unescaped = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    let words: Vec<&str> = unescaped
        .split_whitespace()
        .map(|word| if is_link(word) { "<link>" } else { word })
        .collect();
    words.join(" ").nfc().collect()
}

fn is_link(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap_or_default()
    }

    fn listed(id: &str, text: &str, replied_to: Option<&str>, created: i64) -> ListedPost {
        ListedPost {
            id: id.to_owned(),
            text: text.to_owned(),
            replied_to: replied_to.map(str::to_owned),
            media_keys: Vec::new(),
            created_at: Some(at(created)),
        }
    }

    #[test]
    fn text_matches_through_shortened_links_entities_and_spacing() {
        assert_eq!(
            normalise("Ben &amp; Jerry’s  <3\nhttps://t.co/AbC123"),
            normalise("Ben & Jerry’s <3 https://example.com/a?b=c")
        );
        assert_ne!(normalise("launch at noon"), normalise("launch at nine"));
        // Composed and decomposed accents are the same text.
        assert_eq!(normalise("caf\u{e9}"), normalise("cafe\u{301}"));
    }

    #[test]
    fn only_a_post_like_ours_inside_the_window_is_ours() {
        let sought = Sought {
            text: "Our launch is live https://example.com",
            reply_to: None,
            media_keys: &[],
            not_before: at(0) - TimeDelta::seconds(60),
        };
        let posts = [
            // The newest post on the account, but not ours: never taken for it.
            listed("3", "Something else entirely", None, 30),
            // Ours, with X's t.co link.
            listed("2", "Our launch is live https://t.co/xyz", None, 10),
            // The same words long before the call: an older post, not this one.
            listed("1", "Our launch is live https://t.co/old", None, -3600),
            // The same words as a reply: another thread's part.
            listed("4", "Our launch is live https://t.co/xyz", Some("9"), 12),
        ];
        let found: Vec<&str> = matching(&sought, &posts).iter().map(|post| &*post.id).collect();
        assert_eq!(found, ["2"]);
    }

    #[test]
    fn a_thread_part_matches_by_its_parent_and_files_by_their_keys() {
        let part = Sought {
            text: "2/ the details",
            reply_to: Some("100"),
            media_keys: &[],
            not_before: at(0),
        };
        let posts = [listed("101", "2/ the details", Some("100"), 5)];
        assert_eq!(matching(&part, &posts).len(), 1);
        let elsewhere = Sought { reply_to: Some("200"), ..part };
        assert!(matching(&elsewhere, &posts).is_empty());

        let keys = ["3_1".to_owned(), "3_2".to_owned()];
        let with_files =
            Sought { text: "photos", reply_to: None, media_keys: &keys, not_before: at(0) };
        let mut photo_post = listed("7", "photos https://t.co/pic", None, 5);
        photo_post.media_keys = vec!["3_2".to_owned(), "3_1".to_owned()];
        let mut other = photo_post.clone();
        other.id = "8".to_owned();
        other.media_keys = vec!["3_9".to_owned()];
        let posts = [photo_post, other];
        let found: Vec<&str> = matching(&with_files, &posts).iter().map(|post| &*post.id).collect();
        assert_eq!(found, ["7"]);
    }

    #[test]
    fn two_matches_are_both_reported() {
        let sought = Sought { text: "hello", reply_to: None, media_keys: &[], not_before: at(0) };
        let posts = [listed("1", "hello", None, 1), listed("2", "hello", None, 2)];
        assert_eq!(matching(&sought, &posts).len(), 2);
    }
}
