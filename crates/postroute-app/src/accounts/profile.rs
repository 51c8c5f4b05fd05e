//! The caller's own account: profile, password change, sessions, and the GDPR rights of
//! access (export) and erasure.

use chrono::{DateTime, Utc};
use std::net::IpAddr;

use postroute_domain::{
    AuditAction, NewAuditEntry, NewSystemEvent, Password, SessionId, SystemEventKind,
};
use postroute_store::{Erasure, User};
use serde::Serialize;
use serde_json::{Value, json};

use super::registration::parse_name;
use super::{AccountService, AuthSession};
use crate::Refusal;
use crate::auth::Verification;
use crate::{clock, system_events};

/// One of the caller's sessions, as the session list shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    /// Session id.
    #[schema(value_type = String, format = Uuid)]
    pub id: SessionId,
    /// Login time.
    pub created_at: DateTime<Utc>,
    /// Last login or token refresh.
    pub last_used_at: DateTime<Utc>,
    /// The client's User-Agent at login.
    pub user_agent: Option<String>,
    /// The client's address at login.
    pub ip: Option<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

/// Everything stored about the caller (GDPR art. 15).
#[derive(Debug, Serialize)]
pub struct AccountExport {
    /// When the export was made.
    pub exported_at: DateTime<Utc>,
    /// The account.
    pub account: Value,
    /// Every session, ended ones included.
    pub sessions: Vec<Value>,
    /// Emails sent or queued to the caller (bodies are not kept after sending).
    pub emails: Vec<Value>,
    /// Security-relevant events about the caller (failed logins, token reuse).
    pub security_events: Vec<Value>,
}

impl AccountService {
    /// The caller's account.
    pub async fn me(&self, auth: AuthSession) -> Result<User, Refusal> {
        self.store.accounts().find(auth.user).await?.ok_or(Refusal::Unauthorized)
    }

    /// Changes the caller's display name.
    pub async fn rename(&self, auth: AuthSession, name: &str) -> Result<User, Refusal> {
        let name = parse_name(name).map_err(|error| Refusal::invalid("name", error))?;
        self.store
            .accounts()
            .rename(auth.user, &name, clock::now())
            .await?
            .ok_or(Refusal::Unauthorized)
    }

    /// Changes the password after checking the current one, and ends every other session.
    pub async fn change_password(
        &self,
        auth: AuthSession,
        current: &str,
        new: &str,
        ip: IpAddr,
    ) -> Result<(), Refusal> {
        self.confirm_password(auth, current, ip).await?;
        let password = Password::parse(new)
            .map_err(|error| Refusal::invalid("new_password", error.to_string()))?;
        let hash = self.hasher.hash(&password).await?;
        self.store.accounts().change_password(auth.user, &hash, auth.session, clock::now()).await?;
        tracing::info!(user.id = display(&auth.user), "password changed; other sessions ended");
        Ok(())
    }

    /// The caller's live sessions.
    pub async fn sessions(&self, auth: AuthSession) -> Result<Vec<SessionView>, Refusal> {
        let sessions = self.store.sessions().list_live(auth.user, clock::now()).await?;
        Ok(sessions
            .into_iter()
            .map(|session| SessionView {
                current: session.id == auth.session,
                id: session.id,
                created_at: session.created_at,
                last_used_at: session.last_used_at,
                user_agent: session.user_agent,
                ip: session.ip,
            })
            .collect())
    }

    /// Everything stored about the caller.
    pub async fn export(&self, auth: AuthSession) -> Result<AccountExport, Refusal> {
        let user = self.me(auth).await?;
        let sessions = self.store.sessions().list_all(auth.user).await?;
        let emails = self.store.outbox().for_user(auth.user).await?;
        let events = self.store.system_events().for_actor(auth.user).await?;
        Ok(AccountExport {
            exported_at: clock::now(),
            account: json!({
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "email_verified_at": user.email_verified_at,
                "created_at": user.created_at,
                "updated_at": user.updated_at,
                "password": "set; stored only as an Argon2id hash",
            }),
            sessions: sessions
                .into_iter()
                .map(|session| {
                    json!({
                        "id": session.id,
                        "created_at": session.created_at,
                        "last_used_at": session.last_used_at,
                        "expires_at": session.expires_at,
                        "revoked_at": session.revoked_at,
                        "revoked_reason": session.revoked_reason,
                        "user_agent": session.user_agent,
                        "ip": session.ip,
                    })
                })
                .collect(),
            emails: emails
                .into_iter()
                .map(|email| {
                    json!({
                        "id": email.id,
                        "to": email.to_address,
                        "template": email.template,
                        "subject": email.subject,
                        "created_at": email.created_at,
                        "sent_at": email.sent_at,
                    })
                })
                .collect(),
            security_events: events
                .into_iter()
                .map(|event| {
                    json!({
                        "type": event.event_type,
                        "occurred_at": event.occurred_at,
                        "ip": event.ip,
                        "details": event.details,
                    })
                })
                .collect(),
        })
    }

    /// Checks the caller's password before an irreversible action. A mismatch is a security
    /// event: whoever holds this session does not know the password.
    pub async fn confirm_password(
        &self,
        auth: AuthSession,
        password: &str,
        ip: IpAddr,
    ) -> Result<(), Refusal> {
        let user = self.me(auth).await?;
        match self.hasher.verify(password, &user.password_hash).await? {
            Verification::Match { .. } => Ok(()),
            Verification::Mismatch => {
                let event = NewSystemEvent::new(SystemEventKind::PasswordCheckFailed)
                    .actor(auth.user)
                    .ip(ip)
                    .details(json!({ "session_id": auth.session }));
                system_events::record(&self.store, event).await;
                Err(Refusal::WrongPassword)
            }
        }
    }

    /// Erases the caller's account (GDPR art. 17) after checking their password. The
    /// workspaces they own alone go with it; owning one that has other members refuses the
    /// whole erasure, so no workspace is ever left without an owner. One transaction: a
    /// concurrent invite cannot slip in between the check and the delete.
    pub async fn erase(
        &self,
        auth: AuthSession,
        password: &str,
        ip: IpAddr,
    ) -> Result<(), Refusal> {
        self.confirm_password(auth, password, ip).await?;
        let audit = |workspace| {
            NewAuditEntry::new(AuditAction::WorkspaceDeleted, auth.user, ip)
                .target("workspace", workspace)
                .details(json!({ "reason": "owner_erased" }))
        };
        match self.store.accounts().erase(auth.user, clock::now(), audit).await? {
            Erasure::Erased { workspaces_deleted } => {
                tracing::info!(user.id = display(&auth.user), workspaces_deleted, "account erased");
                Ok(())
            }
            Erasure::OwnsTeams(count) => Err(Refusal::Conflict(format!(
                "You own {count} workspace(s) with other members; transfer ownership before erasing your account."
            ))),
            Erasure::NoSuchUser => Err(Refusal::Unauthorized),
        }
    }
}
