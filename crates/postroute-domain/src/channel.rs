//! Channels: the social accounts a workspace publishes to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a channel publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// An X (Twitter) account.
    X,
    /// A Facebook Page.
    Facebook,
    /// An Instagram professional account linked to a Facebook Page.
    Instagram,
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 3] = [Self::X, Self::Facebook, Self::Instagram];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::X => "x",
            Self::Facebook => "facebook",
            Self::Instagram => "instagram",
        }
    }

    /// The platform's name, as people write it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::X => "X",
            Self::Facebook => "Facebook",
            Self::Instagram => "Instagram",
        }
    }

    /// Facebook and Instagram connect through one Meta login.
    pub const fn is_meta(self) -> bool {
        matches!(self, Self::Facebook | Self::Instagram)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Not one of x, facebook, instagram.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be one of x, facebook, instagram")]
pub struct UnknownProvider;

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|provider| provider.as_str() == value).ok_or(UnknownProvider)
    }
}

/// Whether a channel can publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// Tokens work.
    Active,
    /// The platform refused our tokens for good (revoked, password changed, app removed):
    /// someone must connect the account again.
    NeedsReconnect,
    /// Disconnected by a member; tokens deleted.
    Disconnected,
}

impl ChannelStatus {
    /// Every status.
    pub const ALL: [ChannelStatus; 3] = [Self::Active, Self::NeedsReconnect, Self::Disconnected];

    /// The stored and serialised name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::NeedsReconnect => "needs_reconnect",
            Self::Disconnected => "disconnected",
        }
    }

    /// Parses the stored name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for provider in Provider::ALL {
            assert_eq!(provider.as_str().parse::<Provider>(), Ok(provider));
        }
        assert!("linkedin".parse::<Provider>().is_err());
        for status in
            [ChannelStatus::Active, ChannelStatus::NeedsReconnect, ChannelStatus::Disconnected]
        {
            assert_eq!(ChannelStatus::parse(status.as_str()), Some(status));
        }
    }
}
