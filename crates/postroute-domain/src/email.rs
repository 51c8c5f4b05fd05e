//! Email addresses that parse themselves: what reaches the domain is a plausible address with
//! a normalised lookup key.

use std::fmt;

/// Longest address accepted (RFC 5321's path limit minus the angle brackets).
pub const MAX_EMAIL_LENGTH: usize = 254;
const MAX_LOCAL_PART_LENGTH: usize = 64;

/// Why a string is not an acceptable email address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Empty after trimming.
    #[error("is required")]
    Empty,
    /// Longer than 254 characters, or a local part over 64.
    #[error("is too long")]
    TooLong,
    /// Contains characters outside printable ASCII. Internationalised addresses are refused
    /// on purpose: look-alike letters, invisible and bidirectional characters cannot sneak in.
    #[error("must contain only printable ASCII characters")]
    NotAscii,
    /// Not `local@domain.tld`.
    #[error("is not an email address")]
    Malformed,
}

/// A syntactically valid email address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    /// As the user typed it (trimmed): where mail is sent.
    address: String,
    /// Lower-cased: the key that makes `Ada@Example.com` and `ada@example.com` one account.
    normalized: String,
}

impl Email {
    /// Parses user input.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let address = input.trim();
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        if !address.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(EmailError::NotAscii);
        }
        if address.len() > MAX_EMAIL_LENGTH {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = address.rsplit_once('@').ok_or(EmailError::Malformed)?;
        if local.len() > MAX_LOCAL_PART_LENGTH {
            return Err(EmailError::TooLong);
        }
        if local.is_empty() || local.contains('@') || !is_domain(domain) {
            return Err(EmailError::Malformed);
        }
        Ok(Self { address: address.to_owned(), normalized: address.to_ascii_lowercase() })
    }

    /// The address to send mail to.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The lookup key.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// A form safe for logs: first character of the local part and the domain.
    pub fn redacted(&self) -> String {
        let (local, domain) = self.address.rsplit_once('@').unwrap_or(("", ""));
        format!("{}***@{domain}", local.chars().next().unwrap_or('*'))
    }
}

/// Labels of letters, digits and inner hyphens, at least two of them.
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
        })
}

/// Addresses are personal data: `Debug` shows only the redacted form.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_keep_their_case_and_normalise_for_lookup() {
        let email = Email::parse("  Ada.Lovelace+posts@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+posts@Example.COM");
        assert_eq!(email.normalized(), "ada.lovelace+posts@example.com");
        assert_eq!(email.redacted(), "A***@Example.COM");
        assert!(!format!("{email:?}").contains("Lovelace"));
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for input in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada@exa mple.com",
            "ada@-example.com",
            "ada@example..com",
            "a b@example.com",
        ] {
            assert!(Email::parse(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn unicode_tricks_are_refused() {
        for input in [
            "ad\u{0430}@example.com",  // Cyrillic a
            "ada\u{200b}@example.com", // zero-width space
            "ada@exam\u{202e}elp.com", // right-to-left override
            "ｅxample@example.com",    // fullwidth e
            "ada@example.com\u{0000}", // NUL
            "ada\n@example.com",       // newline (header injection)
        ] {
            assert_eq!(Email::parse(input), Err(EmailError::NotAscii), "{input:?}");
        }
    }

    #[test]
    fn length_limits_hold() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::TooLong));
        let long = format!("a@{}.com", "b".repeat(260));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }
}
