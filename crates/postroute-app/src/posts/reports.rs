//! Nothing fails silently: every outcome the publisher reaches is reported once. Each target
//! that went out, failed or was missed gets its audit entry (`post.published`, `post.failed`,
//! `post.missed`); each post with a target that needs a person (failed, missed, or unknown
//! after reconciliation gave up) gets one email to its author and the workspace's owner and
//! admins, naming every such target, however many retries came before. A target failed
//! because its channel needs reconnecting was named in the channel's own email, so it gets
//! the audit entry alone.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use postroute_domain::{AuditAction, NewAuditEntry, Role, TargetStatus, UserId, WorkspaceId};
use postroute_store::{LOST_TO_RECONNECT, OutcomeReport, Publishing, Store};
use serde_json::json;

use crate::mail::{MailComposer, Template};
use crate::{Refusal, clock};

/// Targets read per pass.
const BATCH: u32 = 64;

/// The longest excerpt of a post's text in an email.
const EXCERPT_CHARS: usize = 80;

/// A post, as an email names it: the start of its text, and its time.
pub fn describe_post(content: &str, scheduled_at: Option<DateTime<Utc>>) -> String {
    let mut excerpt: String = content.chars().take(EXCERPT_CHARS).collect();
    if content.chars().count() > EXCERPT_CHARS {
        excerpt.push('…');
    }
    match scheduled_at {
        Some(at) => format!(
            "“{excerpt}” (due {} UTC)",
            at.to_rfc3339_opts(SecondsFormat::Secs, true).trim_end_matches('Z')
        ),
        None => format!("“{excerpt}”"),
    }
}

/// Reports the outcomes not reported yet; returns how many targets it reported.
pub async fn report_outcomes(
    store: &Store,
    publishing: &Publishing<'_>,
    composer: &MailComposer,
) -> Result<usize, Refusal> {
    let due = publishing.reports_due(BATCH).await?;
    let mut reported = 0;
    let mut people: HashMap<WorkspaceId, Vec<(UserId, String, String)>> = HashMap::new();
    for post in due.chunk_by(|a, b| a.key.workspace == b.key.workspace && a.key.post == b.key.post)
    {
        let workspace = post[0].key.workspace;
        let admins = match people.get(&workspace) {
            Some(admins) => admins.clone(),
            None => {
                let admins: Vec<_> = store
                    .tenant(workspace)
                    .members()
                    .await?
                    .into_iter()
                    .filter(|member| matches!(member.role, Role::Owner | Role::Admin))
                    .map(|member| (member.user_id, member.email, member.name))
                    .collect();
                people.insert(workspace, admins.clone());
                admins
            }
        };
        reported += report_post(publishing, composer, post, admins).await?;
    }
    Ok(reported)
}

/// Reports one post's targets together: their audit entries, and one email if any needs a
/// person.
async fn report_post(
    publishing: &Publishing<'_>,
    composer: &MailComposer,
    targets: &[OutcomeReport],
    admins: Vec<(UserId, String, String)>,
) -> Result<usize, Refusal> {
    let first = &targets[0];
    let audit: Vec<NewAuditEntry> = targets.iter().filter_map(audit_entry).collect();
    let incidents: Vec<String> = targets
        .iter()
        .filter(|target| needs_person(target))
        .map(|target| {
            let what = match target.status {
                TargetStatus::Missed => "missed its time",
                TargetStatus::Unknown => "may or may not have gone out",
                _ => "failed",
            };
            format!(
                "On {} ({}): {what}. {}",
                target.channel_name,
                target.provider.name(),
                target.error.as_deref().unwrap_or("No reason was given.")
            )
        })
        .collect();
    let mut prepared = Vec::new();
    if !incidents.is_empty() {
        let mut recipients = admins;
        if let Some(author) = &first.author
            && !recipients.iter().any(|(user, ..)| *user == author.0)
        {
            recipients.insert(0, author.clone());
        }
        let workspace_id = first.key.workspace.to_string();
        let post_id = first.key.post.to_string();
        let post = describe_post(&first.content, first.scheduled_at);
        for (user, address, name) in &recipients {
            let template = Template::PublishingIncident {
                name,
                workspace_id: &workspace_id,
                workspace: &first.workspace_name,
                post_id: &post_id,
                post: &post,
                targets: &incidents,
            };
            prepared.push(composer.prepare(address, Some(*user), &template)?);
        }
    }
    let now = clock::now();
    let emails: Vec<_> = prepared.iter().map(|email| email.outbox_row(now)).collect();
    let seen: Vec<_> = targets.iter().map(|target| (target.key, target.status)).collect();
    let reported =
        publishing.mark_reported(first.key.workspace, &seen, &audit, &emails, now).await?;
    if !incidents.is_empty() && reported > 0 {
        tracing::warn!(
            workspace.id = display(&first.key.workspace),
            post.id = display(&first.key.post),
            targets = incidents.len(),
            recipients = emails.len(),
            "a post needs a person: told its author and the workspace's owner and admins"
        );
    }
    Ok(reported)
}

/// Whether the target's outcome needs a person, who is emailed. A dead grant is one incident:
/// the channel's email names every post it failed, the one whose call found it included.
fn needs_person(target: &OutcomeReport) -> bool {
    let named_by_channel_email = target.error_code.as_deref() == Some(LOST_TO_RECONNECT)
        || target.error_class.as_deref() == Some("auth_dead");
    matches!(target.status, TargetStatus::Failed | TargetStatus::Missed | TargetStatus::Unknown)
        && !named_by_channel_email
}

/// The audit entry for the target's outcome; unknown has none, since it is not an outcome yet
/// (the person's decision will be).
fn audit_entry(target: &OutcomeReport) -> Option<NewAuditEntry> {
    let action = match target.status {
        TargetStatus::Published => AuditAction::PostPublished,
        TargetStatus::Failed => AuditAction::PostFailed,
        TargetStatus::Missed => AuditAction::PostMissed,
        _ => return None,
    };
    let mut details = json!({
        "channel_id": target.key.channel.to_string(),
        "provider": target.provider.as_str(),
    });
    if let Some(url) = &target.url {
        details["url"] = json!(url);
    }
    if target.status != TargetStatus::Published {
        details["error"] = json!(target.error);
        details["error_class"] = json!(target.error_class);
    }
    Some(NewAuditEntry::by_system(action).target("post", target.key.post).details(details))
}
