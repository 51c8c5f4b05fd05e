//! What the fakes share about publishing: the record of what went out, so tests count posts on
//! the "platform" and people watch them arrive, and the faults a test arms for the next
//! irreversible call (a refusal of one class, or "created, then 500" and "created, then
//! timeout", where the post exists but its answer never arrives intact).

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::{Value, json};

/// Where a post was published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    /// X.
    X,
    /// A Facebook Page.
    Facebook,
    /// An Instagram professional account.
    Instagram,
}

impl Platform {
    /// The name the control API and the binary use.
    pub fn name(self) -> &'static str {
        match self {
            Self::X => "x",
            Self::Facebook => "facebook",
            Self::Instagram => "instagram",
        }
    }
}

/// A post that exists on a fake platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedPost {
    /// The platform.
    pub platform: Platform,
    /// The X user, Page or Instagram account it was published as.
    pub account: String,
    /// The platform's id for it (X tweet id, Page `{page}_{post}` id, Instagram media id).
    pub id: String,
    /// Its text or caption.
    pub text: Option<String>,
    /// The media it carries: X media keys, Page photo ids, Instagram media URLs.
    pub media: Vec<String>,
    /// The post it replies to (X threads).
    pub reply_to: Option<String>,
    /// Unix milliseconds when it was created.
    pub published_at_ms: u64,
    /// Deleted since (X `DELETE /2/tweets/:id`); the record keeps it, so a test still sees that it
    /// was published.
    pub deleted: bool,
}

impl PublishedPost {
    /// The control API's JSON for it.
    pub fn to_json(&self) -> Value {
        json!({
            "platform": self.platform.name(),
            "account": self.account,
            "id": self.id,
            "text": self.text,
            "media": self.media,
            "reply_to": self.reply_to,
            "published_at_ms": self.published_at_ms,
            "deleted": self.deleted,
        })
    }

    /// One line for people watching the fakes binary.
    pub fn summary(&self) -> String {
        let mut line = format!("{} {} as {}", self.platform.name(), self.id, self.account);
        if let Some(parent) = &self.reply_to {
            line.push_str(&format!(" replying to {parent}"));
        }
        if !self.media.is_empty() {
            line.push_str(&format!(" with {}", self.media.join(", ")));
        }
        if let Some(text) = &self.text {
            line.push_str(&format!(": {text}"));
        }
        line
    }
}

/// What an armed fault does to the call it catches.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PublishFault {
    /// Refused before anything is created, answered as the platform answers this class; the
    /// details (`status`, `code`, `subcode`, `message`, `reset_in_secs`) are the control body's.
    Refuse { class: String, details: Value },
    /// The post is created, then the answer is a 500.
    CreatedThen500,
    /// The post is created, then no answer comes until the hang is over: the client times out.
    CreatedThenTimeout,
}

#[derive(Clone, Debug)]
struct Armed {
    /// The call it catches (`tweet`, `feed`, `media_publish`, ...), or any irreversible one.
    call: Option<String>,
    fault: PublishFault,
}

/// Faults armed for the next irreversible calls, first armed first caught.
#[derive(Clone, Debug)]
pub(crate) struct PublishFaults {
    armed: VecDeque<Armed>,
    /// How long "created, then timeout" keeps the caller waiting before answering 504.
    pub hang: Duration,
}

impl Default for PublishFaults {
    fn default() -> Self {
        Self { armed: VecDeque::new(), hang: Duration::from_secs(120) }
    }
}

impl PublishFaults {
    /// Applies a control body: `{"fault": "duplicate", "call": "tweet", "times": 2, ...}` arms a
    /// fault (`times` defaults to 1), `{"clear": true}` disarms all, `{"hang_secs": 5}` sets the
    /// hang. `classes` are the platform's refusal classes, `calls` the calls a fault may name.
    pub fn apply(&mut self, body: &Value, classes: &[&str], calls: &[&str]) -> Result<(), String> {
        if body.get("clear").and_then(Value::as_bool) == Some(true) {
            self.armed.clear();
        }
        if let Some(hang) = body.get("hang_secs") {
            self.hang = Duration::from_secs(hang.as_u64().ok_or("hang_secs must be a number")?);
        }
        let Some(class) = body.get("fault") else {
            return Ok(());
        };
        let class = class.as_str().ok_or("fault must be a string")?;
        let fault = match class {
            "created_then_500" => PublishFault::CreatedThen500,
            "created_then_timeout" => PublishFault::CreatedThenTimeout,
            class if classes.contains(&class) => {
                PublishFault::Refuse { class: class.to_owned(), details: body.clone() }
            }
            _ => {
                return Err(format!(
                    "fault must be one of {}, created_then_500, created_then_timeout",
                    classes.join(", ")
                ));
            }
        };
        let call = match body.get("call") {
            None | Some(Value::Null) => None,
            Some(call) => match call.as_str() {
                Some(call) if calls.contains(&call) => Some(call.to_owned()),
                _ => return Err(format!("call must be one of {}", calls.join(", "))),
            },
        };
        let times =
            body.get("times").map_or(Some(1), Value::as_u64).ok_or("times must be a number")?;
        for _ in 0..times {
            self.armed.push_back(Armed { call: call.clone(), fault: fault.clone() });
        }
        Ok(())
    }

    /// The first armed fault that catches `call`, disarmed. A fault that names no call catches
    /// only irreversible ones: container creation or an unpublished photo must be named.
    pub fn take(&mut self, call: &str, irreversible: bool) -> Option<PublishFault> {
        let index = self.armed.iter().position(|armed| match armed.call.as_deref() {
            Some(wanted) => wanted == call,
            None => irreversible,
        })?;
        self.armed.remove(index).map(|armed| armed.fault)
    }

    /// How many faults are still armed.
    pub fn pending(&self) -> usize {
        self.armed.len()
    }
}

/// A detail of a refusal's control body, or its default.
pub(crate) fn detail_u64(details: &Value, name: &str, default: u64) -> u64 {
    details.get(name).and_then(Value::as_u64).unwrap_or(default)
}

/// A text detail of a refusal's control body.
pub(crate) fn detail_text<'a>(details: &'a Value, name: &str) -> Option<&'a str> {
    details.get(name).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_caught_in_order_by_their_call() {
        let mut faults = PublishFaults::default();
        let classes = ["duplicate"];
        let calls = ["tweet", "delete"];
        faults.apply(&json!({"fault": "created_then_500", "times": 2}), &classes, &calls).unwrap();
        faults.apply(&json!({"fault": "duplicate", "call": "delete"}), &classes, &calls).unwrap();
        // A fault that names its call catches it even when the call is reversible...
        assert!(matches!(faults.take("delete", false), Some(PublishFault::Refuse { .. })));
        // ...an unnamed one only an irreversible call, first armed first.
        assert_eq!(faults.take("delete", false), None);
        assert_eq!(faults.take("tweet", true), Some(PublishFault::CreatedThen500));
        assert_eq!(faults.take("delete", true), Some(PublishFault::CreatedThen500));
        assert_eq!(faults.take("tweet", true), None);
        assert!(faults.apply(&json!({"fault": "nonsense"}), &classes, &calls).is_err());
        assert!(
            faults.apply(&json!({"fault": "duplicate", "call": "x"}), &classes, &calls).is_err()
        );
        faults.apply(&json!({"fault": "duplicate"}), &classes, &calls).unwrap();
        faults.apply(&json!({"clear": true, "hang_secs": 3}), &classes, &calls).unwrap();
        assert_eq!((faults.pending(), faults.hang), (0, Duration::from_secs(3)));
    }
}
