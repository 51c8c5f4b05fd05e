//! What PostRoute staff may do (S-LOG-2): read the system event log, look accounts up, end an
//! account's sessions. Staff status is read from the account on every request, so a withdrawal
//! takes effect at once; it is granted and withdrawn only from the command line.

use crate::Refusal;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use postroute_domain::{Email, NewSystemEvent, SystemEventId, SystemEventKind, UserId};
use postroute_store::{Store, StoredSystemEvent, SystemEventFilter};
use serde_json::json;

use crate::{clock, system_events};

/// An account as staff see it: never its password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountSummary {
    /// Its id.
    pub id: UserId,
    /// Its address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// When the address was confirmed.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Whether it is staff.
    pub is_staff: bool,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Sessions live now.
    pub live_sessions: usize,
}

/// The staff service.
#[derive(Debug, Clone)]
pub struct StaffService {
    store: Store,
}

impl StaffService {
    /// Wires the service.
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// Lets `user` in when the account is staff now; everyone else (signed out included) is
    /// refused.
    pub async fn admit(&self, user: Option<UserId>) -> Result<UserId, Refusal> {
        match user {
            Some(user)
                if self
                    .store
                    .accounts()
                    .find(user)
                    .await?
                    .is_some_and(|account| account.is_staff) =>
            {
                Ok(user)
            }
            _ => Err(Refusal::NotFound),
        }
    }

    /// Records a refused attempt: an `admin_access_denied` event naming what was tried.
    pub async fn record_denial(&self, user: Option<UserId>, ip: IpAddr, attempted: &str) {
        let mut event = NewSystemEvent::new(SystemEventKind::AdminAccessDenied)
            .ip(ip)
            .details(json!({ "attempted": attempted }));
        if let Some(user) = user {
            event = event.actor(user);
        }
        system_events::record(&self.store, event).await;
    }

    /// The event log, newest first.
    pub async fn events(
        &self,
        filter: &SystemEventFilter,
        after: Option<SystemEventId>,
        limit: u32,
    ) -> Result<Vec<StoredSystemEvent>, Refusal> {
        Ok(self.store.system_events().list(filter, after, limit).await?)
    }

    /// The account registered with `email`, if any (as a list, so that a search by another key
    /// can join it later without changing the answer's shape).
    pub async fn accounts_by_email(&self, email: &str) -> Result<Vec<AccountSummary>, Refusal> {
        let email =
            Email::parse(email).map_err(|error| Refusal::invalid("email", error.to_string()))?;
        let Some(user) = self.store.accounts().find_by_email(email.normalized()).await? else {
            return Ok(Vec::new());
        };
        let live_sessions = self.store.sessions().list_live(user.id, clock::now()).await?.len();
        Ok(vec![AccountSummary {
            id: user.id,
            email: user.email,
            name: user.name,
            email_verified_at: user.email_verified_at,
            is_staff: user.is_staff,
            created_at: user.created_at,
            live_sessions,
        }])
    }

    /// Ends every session of `user` at once (their next request is refused), recorded as a
    /// security event naming the staff member. Returns how many sessions ended.
    pub async fn revoke_sessions(
        &self,
        staff: UserId,
        ip: IpAddr,
        user: UserId,
    ) -> Result<u64, Refusal> {
        if self.store.accounts().find(user).await?.is_none() {
            return Err(Refusal::NotFound);
        }
        let ended = self.store.sessions().end_all(user, "revoked_by_staff", clock::now()).await?;
        let event = NewSystemEvent::new(SystemEventKind::SessionsRevokedByStaff)
            .actor(staff)
            .ip(ip)
            .details(json!({ "user_id": user, "sessions": ended }));
        system_events::record(&self.store, event).await;
        Ok(ended)
    }
}

/// Grants (`true`) or withdraws staff status for the account registered with `email`, and
/// records it; `UnknownAccount` when there is none. For `postroute admin grant-staff` and
/// `revoke-staff`.
pub async fn set_staff(store: &Store, email: &str, staff: bool) -> Result<(), Refusal> {
    let email =
        Email::parse(email).map_err(|error| Refusal::invalid("email", error.to_string()))?;
    let accounts = store.accounts();
    let Some(user) = accounts.find_by_email(email.normalized()).await? else {
        return Err(Refusal::NotFound);
    };
    accounts.set_staff(email.normalized(), staff).await?;
    let kind = if staff { SystemEventKind::StaffGranted } else { SystemEventKind::StaffRevoked };
    // The operator at the command line is not an account: the event names whom it concerns.
    let event =
        NewSystemEvent::new(kind).details(json!({ "user_id": user.id, "via": "command line" }));
    system_events::record(store, event).await;
    Ok(())
}
