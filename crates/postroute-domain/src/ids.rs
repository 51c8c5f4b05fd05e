//! Typed identifiers: a `UserId` can never be passed where a `SessionId` is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an id read back from storage.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The id as a UUID, for storage.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(
    /// A PostRoute account.
    UserId
);
typed_id!(
    /// One device login of a user.
    SessionId
);
typed_id!(
    /// One row of the staff-only system event log.
    SystemEventId
);
typed_id!(
    /// One message in the email outbox.
    EmailId
);
typed_id!(
    /// A tenant: a team or agency with its members, channels, media and posts.
    WorkspaceId
);
typed_id!(
    /// An invitation to join a workspace.
    InvitationId
);
typed_id!(
    /// One entry of a workspace's audit log.
    AuditEntryId
);
typed_id!(
    /// A connected social account.
    ChannelId
);
typed_id!(
    /// A file in a workspace's media library.
    MediaId
);
typed_id!(
    /// A post: content for one or more channels, with its approval state and schedule.
    PostId
);
typed_id!(
    /// A Meta login whose Pages or Instagram accounts wait for the user to pick.
    PendingConnectionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered_and_round_trip_through_text() {
        let first = UserId::new();
        let second = UserId::new();
        assert!(first < second, "UUIDv7 ids sort by creation time");
        let parsed: UserId = first.to_string().parse().unwrap();
        assert_eq!(parsed, first);
        assert!("not-a-uuid".parse::<UserId>().is_err());
    }
}
