//! Reading the audit log: owners and admins, on plans that include it, page by page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use postroute_domain::{AuditAction, AuditEntryId, UserId};
use postroute_store::{AuditCursor, AuditEntry, AuditFilter};

use super::{Caller, WorkspaceService, plan_required};
use crate::Refusal;

/// One page of the audit log.
#[derive(Debug)]
pub struct AuditPage {
    /// Entries, newest first.
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
}

/// The raw query of `GET .../audit-log`.
#[derive(Debug, Default)]
pub struct AuditQuery<'a> {
    /// Page size (1..=100).
    pub limit: u32,
    /// From the previous page.
    pub cursor: Option<&'a str>,
    /// Only this action.
    pub action: Option<&'a str>,
    /// Only this actor's user id.
    pub actor: Option<&'a str>,
    /// RFC 3339 lower bound.
    pub since: Option<&'a str>,
    /// RFC 3339 upper bound (exclusive).
    pub until: Option<&'a str>,
}

fn encode_cursor(entry: &AuditEntry) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", entry.occurred_at.to_rfc3339(), entry.id))
}

fn decode_cursor(cursor: &str) -> Option<AuditCursor> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (time, id) = decoded.split_once('|')?;
    Some(AuditCursor {
        occurred_at: DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc),
        id: id.parse::<AuditEntryId>().ok()?,
    })
}

impl WorkspaceService {
    /// A page of the audit log. Refused (402) on plans without it.
    pub async fn audit_log(
        &self,
        caller: &Caller,
        query: AuditQuery<'_>,
    ) -> Result<AuditPage, Refusal> {
        if !caller.workspace.plan.entitlements().audit_log {
            return Err(plan_required("The audit log", caller.workspace.plan));
        }
        let mut invalid = Vec::new();
        let time = |field: &'static str,
                    value: Option<&str>,
                    invalid: &mut Vec<(&'static str, String)>| {
            value.and_then(|value| match DateTime::parse_from_rfc3339(value) {
                Ok(time) => Some(time.with_timezone(&Utc)),
                Err(_) => {
                    invalid.push((field, "must be an RFC 3339 timestamp".to_owned()));
                    None
                }
            })
        };
        let filter = AuditFilter {
            action: query.action.and_then(|action| {
                AuditAction::parse(action).or_else(|| {
                    invalid.push(("action", format!("unknown action `{action}`")));
                    None
                })
            }),
            actor: query.actor.and_then(|actor| {
                actor.parse::<UserId>().ok().or_else(|| {
                    invalid.push(("actor", "must be a user id".to_owned()));
                    None
                })
            }),
            since: time("since", query.since, &mut invalid),
            until: time("until", query.until, &mut invalid),
        };
        let cursor = query.cursor.and_then(|cursor| {
            decode_cursor(cursor).or_else(|| {
                invalid.push(("cursor", "is not a cursor this API issued".to_owned()));
                None
            })
        });
        if !invalid.is_empty() {
            return Err(Refusal::invalid_fields(invalid));
        }
        let mut entries = self
            .store
            .tenant(caller.workspace.id)
            .audit_log(&filter, cursor, query.limit + 1)
            .await?;
        let next_cursor = if entries.len() > query.limit as usize {
            entries.truncate(query.limit as usize);
            entries.last().map(encode_cursor)
        } else {
            None
        };
        Ok(AuditPage { entries, next_cursor })
    }
}
