//! The staff-only system event log: what happened, how bad it is, and whether it is security-relevant.
//!
//! Each kind carries its own severity and security class, so the people who write an event
//! cannot disagree about how it is classified (S-LOG-2).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::UserId;

/// How urgently staff should look at an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Routine, kept for context.
    Info,
    /// Worth a look when it repeats.
    Warning,
    /// Somebody should look now.
    Critical,
}

impl Severity {
    /// Every severity, mildest first.
    pub const ALL: [Severity; 3] = [Self::Info, Self::Warning, Self::Critical];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }

    /// Parses the stored name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "info" => Some(Self::Info),
            "warning" => Some(Self::Warning),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

/// How long ordinary (non-security) events are kept: a year (S-LOG-2). Security events are
/// kept forever.
pub const ORDINARY_EVENT_RETENTION_DAYS: i64 = 365;

/// Every kind of system event PostRoute writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemEventKind {
    /// A login attempt failed (unknown email, wrong password, unverified email).
    LoginFailed,
    /// A signed-in user's password re-check failed (changing the password, erasing the
    /// account): someone holding a session is guessing the password.
    PasswordCheckFailed,
    /// A rotated refresh token was presented again: all of the user's sessions were revoked.
    RefreshTokenReused,
    /// A client exceeded a rate limit.
    RateLimited,
    /// A webhook arrived with a missing or wrong signature.
    WebhookSignatureInvalid,
    /// Somebody who is not staff tried a staff endpoint.
    AdminAccessDenied,
    /// A staff member ended every session of a user.
    SessionsRevokedByStaff,
    /// An account was made staff (`postroute admin grant-staff`).
    StaffGranted,
    /// An account stopped being staff (`postroute admin revoke-staff`).
    StaffRevoked,
    /// X answered 402: the app's credits are spent, and X publishing is paused for every
    /// workspace until they are topped up.
    XCreditsDepleted,
    /// Reconciliation found a post on its platform more than once: it was published twice.
    /// Every id is recorded, none is deleted; an operator looks into how.
    PublishedTwice,
    /// An operator resumed a provider's paused publishing (`postroute admin
    /// resume-publishing`).
    PublishingResumed,
}

impl SystemEventKind {
    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LoginFailed => "login_failed",
            Self::PasswordCheckFailed => "password_check_failed",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::RateLimited => "rate_limited",
            Self::WebhookSignatureInvalid => "webhook_signature_invalid",
            Self::AdminAccessDenied => "admin_access_denied",
            Self::SessionsRevokedByStaff => "sessions_revoked_by_staff",
            Self::StaffGranted => "staff_granted",
            Self::StaffRevoked => "staff_revoked",
            Self::XCreditsDepleted => "x_credits_depleted",
            Self::PublishedTwice => "published_twice",
            Self::PublishingResumed => "publishing_resumed",
        }
    }

    /// How severe an event of this kind is.
    pub const fn severity(self) -> Severity {
        match self {
            Self::RateLimited => Severity::Info,
            Self::LoginFailed
            | Self::PasswordCheckFailed
            | Self::AdminAccessDenied
            | Self::SessionsRevokedByStaff
            | Self::StaffRevoked => Severity::Warning,
            Self::StaffGranted | Self::XCreditsDepleted | Self::PublishedTwice => {
                Severity::Critical
            }
            Self::PublishingResumed => Severity::Warning,
            Self::RefreshTokenReused | Self::WebhookSignatureInvalid => Severity::Critical,
        }
    }

    /// Security events are kept forever; the others expire after a year.
    ///
    /// Rate-limit trips are high-volume noise on their own; the failed logins behind a
    /// credential-endpoint trip are recorded separately and are security events.
    pub const fn is_security(self) -> bool {
        !matches!(
            self,
            Self::RateLimited
                | Self::XCreditsDepleted
                | Self::PublishingResumed
                | Self::PublishedTwice
        )
    }
}

/// A system event about to be written.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSystemEvent {
    /// What happened.
    pub kind: SystemEventKind,
    /// The user who caused it, when known.
    pub actor: Option<UserId>,
    /// The client address, when the event came from a request.
    pub ip: Option<IpAddr>,
    /// Kind-specific facts; never a secret, a password or a full email address.
    pub details: serde_json::Value,
}

impl NewSystemEvent {
    /// An event of `kind` with no actor, address or details yet.
    pub fn new(kind: SystemEventKind) -> Self {
        Self { kind, actor: None, ip: None, details: serde_json::Value::Object(Default::default()) }
    }

    /// Names the user who caused the event.
    pub fn actor(mut self, user: UserId) -> Self {
        self.actor = Some(user);
        self
    }

    /// Records the client address.
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip);
        self
    }

    /// Attaches kind-specific facts.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_routine_kinds_are_outside_the_security_class() {
        assert!(SystemEventKind::LoginFailed.is_security());
        assert!(SystemEventKind::RefreshTokenReused.is_security());
        assert!(!SystemEventKind::RateLimited.is_security());
        assert_eq!(SystemEventKind::RefreshTokenReused.severity(), Severity::Critical);
    }

    #[test]
    fn severity_names_round_trip() {
        for severity in [Severity::Info, Severity::Warning, Severity::Critical] {
            assert_eq!(Severity::parse(severity.as_str()), Some(severity));
        }
        assert_eq!(Severity::parse("loud"), None);
    }
}
