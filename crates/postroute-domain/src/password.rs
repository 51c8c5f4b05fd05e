//! Passwords that parse themselves: long enough, not absurdly long, not on the list of
//! passwords every attacker tries first.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// Fewest characters accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Most characters accepted: hashing cost must not be the client's to choose.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Passwords of acceptable length that appear in public breach corpora, lower-cased.
static COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// Why a password is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Under 12 characters.
    #[error("must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// Over 128 characters.
    #[error("must be at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    /// On the shipped list of common passwords, or one character repeated.
    #[error("is too common; choose a password that is not on lists of leaked passwords")]
    TooCommon,
}

/// A password acceptable for a new credential. Never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks a new password. Existing passwords (at login) are not parsed: a rule added
    /// later must not lock anybody out.
    pub fn parse(input: &str) -> Result<Self, PasswordError> {
        let input = normalize_password(input);
        let input = input.as_str();
        let chars = input.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        if is_common(input) {
            return Err(PasswordError::TooCommon);
        }
        Ok(Self(input.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The form a password is hashed and checked in: Unicode NFKC (NIST SP 800-63B), so that the
/// same password typed on two keyboards (a precomposed `é` or `e` + combining accent, a
/// full-width digit) is the same password.
pub fn normalize_password(input: &str) -> String {
    input.nfkc().collect()
}

fn is_common(input: &str) -> bool {
    let lowered = input.to_lowercase();
    let mut chars = lowered.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return true;
    }
    COMMON_PASSWORDS.lines().map(str::trim).any(|common| common == lowered)
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_normalised_before_anything_else() {
        let composed = Password::parse("caf\u{e9} au lait tous les matins").unwrap();
        let decomposed = Password::parse("cafe\u{301} au lait tous les matins").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(normalize_password("\u{ff11}\u{ff12}"), "12", "full-width digits");
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(Password::parse("short"), Err(PasswordError::TooShort));
        assert_eq!(Password::parse("ééééééééééé"), Err(PasswordError::TooShort)); // 11 chars, 22 bytes
        assert!(Password::parse("correct horse battery").is_ok());
        assert_eq!(Password::parse(&"xy".repeat(65)), Err(PasswordError::TooLong));
        assert!(Password::parse(&"xy".repeat(64)).is_ok());
    }

    #[test]
    fn common_and_repetitive_passwords_are_refused() {
        for common in
            ["password1234", "Password1234", "QWERTYUIOP123", "aaaaaaaaaaaaaaaa", "123456789012"]
        {
            assert_eq!(Password::parse(common), Err(PasswordError::TooCommon), "{common}");
        }
    }

    #[test]
    fn the_secret_never_appears_in_debug_output() {
        let password = Password::parse("a very private phrase").unwrap();
        assert_eq!(format!("{password:?}"), "Password([redacted])");
    }

    #[test]
    fn the_shipped_list_only_holds_passwords_the_length_rule_would_let_through() {
        for line in COMMON_PASSWORDS.lines() {
            let chars = line.chars().count();
            assert!((MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars), "{line:?}");
            assert_eq!(line, line.to_lowercase(), "{line:?} must be lower-case");
        }
    }
}
