//! The text and HTML of every email PostRoute sends. Links carry their token in the URL
//! fragment, which browsers never send to a server, so it cannot leak through access logs or
//! Referer headers on the way to the web UI.

use url::Url;

/// A rendered message.
#[derive(Debug)]
pub struct Rendered {
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Every email PostRoute sends.
#[derive(Debug)]
pub enum Template<'a> {
    /// Confirm the address of a new account.
    VerifyEmail {
        /// The account holder's name.
        name: &'a str,
        /// The single-use verification token.
        token: &'a str,
        /// Hours the link stays valid.
        valid_hours: u64,
    },
    /// Somebody asked to reset the password.
    ResetPassword {
        /// The account holder's name.
        name: &'a str,
        /// The single-use reset token.
        token: &'a str,
        /// Minutes the link stays valid.
        valid_minutes: u64,
    },
    /// Somebody tried to register an address that already has an account.
    AccountExists {
        /// The account holder's name.
        name: &'a str,
    },
    /// A channel's platform refused its tokens for good.
    ChannelNeedsReconnect {
        /// The recipient's name.
        name: &'a str,
        /// The workspace's id (for the link).
        workspace_id: &'a str,
        /// The workspace's name.
        workspace: &'a str,
        /// The channel's display name.
        channel: &'a str,
        /// The platform, e.g. `x`.
        provider: &'a str,
        /// The posts that were waiting to go out on it and failed, described.
        posts: &'a [String],
    },
    /// An invitation to join a workspace.
    Invitation {
        /// The workspace's name.
        workspace: &'a str,
        /// Who invited.
        inviter: &'a str,
        /// The role offered.
        role: &'a str,
        /// The single-use invitation token.
        token: &'a str,
        /// Days the link stays valid.
        valid_days: u64,
    },
    /// A post's publishing needs a person: it failed, was missed, or may or may not be out.
    PublishingIncident {
        /// The recipient's name.
        name: &'a str,
        /// The workspace's id (for the link).
        workspace_id: &'a str,
        /// The workspace's name.
        workspace: &'a str,
        /// The post's id (for the link).
        post_id: &'a str,
        /// The post, described.
        post: &'a str,
        /// One line per target that needs attention: channel, what happened, and why.
        targets: &'a [String],
    },
    /// A post was still in review when its time came, so it went back to draft unpublished.
    ApprovalExpired {
        /// The author's name.
        name: &'a str,
        /// The workspace's id (for the link).
        workspace_id: &'a str,
        /// The workspace's name.
        workspace: &'a str,
        /// The post's id (for the link).
        post_id: &'a str,
        /// When it was to be published, RFC 3339 in UTC.
        scheduled_at: &'a str,
    },
}

impl Template<'_> {
    /// The name stored with the outbox row.
    pub fn name(&self) -> &'static str {
        match self {
            Self::VerifyEmail { .. } => "verify_email",
            Self::ResetPassword { .. } => "reset_password",
            Self::AccountExists { .. } => "account_exists",
            Self::Invitation { .. } => "invitation",
            Self::ChannelNeedsReconnect { .. } => "channel_needs_reconnect",
            Self::ApprovalExpired { .. } => "approval_expired",
            Self::PublishingIncident { .. } => "publishing_incident",
        }
    }

    /// Renders the message with links under `public_url`.
    pub fn render(&self, public_url: &Url) -> Rendered {
        let link = |path: &str, token: Option<&str>| {
            let mut url = public_url.join(path).unwrap_or_else(|_| public_url.clone());
            url.set_fragment(token.map(|token| format!("token={token}")).as_deref());
            url.to_string()
        };
        match *self {
            Self::VerifyEmail { name, token, valid_hours } => {
                let url = link("/verify-email", Some(token));
                message(
                    "Confirm your email address for PostRoute",
                    name,
                    &[&format!(
                        "Confirm your email address to start using PostRoute. The link is valid for {valid_hours} hours and works once."
                    )],
                    Some(("Confirm email address", &url)),
                    "If you did not create a PostRoute account, ignore this email.",
                )
            }
            Self::ResetPassword { name, token, valid_minutes } => {
                let url = link("/reset-password", Some(token));
                message(
                    "Reset your PostRoute password",
                    name,
                    &[&format!(
                        "Somebody asked to reset the password of your PostRoute account. The link is valid for {valid_minutes} minutes and works once. Resetting signs you out everywhere."
                    )],
                    Some(("Choose a new password", &url)),
                    "If you did not ask for this, ignore this email: your password stays as it is.",
                )
            }
            Self::Invitation { workspace, inviter, role, token, valid_days } => {
                let url = link("/invitations/accept", Some(token));
                message(
                    &format!("{inviter} invited you to {workspace} on PostRoute"),
                    "there",
                    &[&format!(
                        "{inviter} invited you to join the workspace {workspace} on PostRoute as {role}. The invitation is valid for {valid_days} days and works once, for this email address."
                    )],
                    Some(("Accept the invitation", &url)),
                    "If you did not expect this, ignore this email.",
                )
            }
            Self::ChannelNeedsReconnect {
                name,
                workspace_id,
                workspace,
                channel,
                provider,
                posts,
            } => {
                let url = link(&format!("/workspaces/{workspace_id}/channels"), None);
                let mut paragraphs = vec![format!(
                    "{provider} no longer accepts PostRoute's access to {channel} in the workspace {workspace} (the access was revoked, the password changed, or the app was removed). Nothing more can be published to it until someone connects it again."
                )];
                if !posts.is_empty() {
                    paragraphs.push(format!(
                        "These posts were waiting to go out on {channel} and were not published; once the channel is connected again, retry each of them: {}",
                        posts.join("; ")
                    ));
                }
                let paragraphs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
                message(
                    &format!("Reconnect {channel} in {workspace}"),
                    name,
                    &paragraphs,
                    Some(("Reconnect the channel", &url)),
                    "You receive this because you are an owner or admin of the workspace, or wrote one of these posts.",
                )
            }
            Self::ApprovalExpired { name, workspace_id, workspace, post_id, scheduled_at } => {
                let url = link(&format!("/workspaces/{workspace_id}/posts/{post_id}"), None);
                message(
                    &format!("Your post in {workspace} was not published"),
                    name,
                    &[&format!(
                        "Your post was to go out at {scheduled_at} (UTC), but nobody had \
                         approved it by then, so it was not published. It is back in your drafts \
                         in {workspace}: submit it again with a new time."
                    )],
                    Some(("Open the post", &url)),
                    "You receive this because you wrote the post.",
                )
            }
            Self::PublishingIncident { name, workspace_id, workspace, post_id, post, targets } => {
                let url = link(&format!("/workspaces/{workspace_id}/posts/{post_id}"), None);
                let mut paragraphs =
                    vec![format!("A post in {workspace} needs your attention: {post}.")];
                paragraphs.extend(targets.iter().cloned());
                paragraphs.push(
                    "Open the post to retry it, to mark it published if you find it on the platform, or to leave it unpublished. PostRoute never sends it again by itself when it cannot tell whether it went out."
                        .to_owned(),
                );
                let paragraphs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
                message(
                    &format!("A post in {workspace} was not published"),
                    name,
                    &paragraphs,
                    Some(("Open the post", &url)),
                    "You receive this because you wrote the post or are an owner or admin of the workspace.",
                )
            }
            Self::AccountExists { name } => {
                let url = link("/forgot-password", None);
                message(
                    "Someone tried to sign up with your email address",
                    name,
                    &[
                        "Somebody tried to create a PostRoute account with this email address, which already has one. If it was you, sign in instead; if you forgot your password, reset it.",
                    ],
                    Some(("Reset your password", &url)),
                    "If it was not you, ignore this email: nothing has changed.",
                )
            }
        }
    }
}

fn message(
    subject: &str,
    name: &str,
    paragraphs: &[&str],
    action: Option<(&str, &str)>,
    footer: &str,
) -> Rendered {
    let mut text = format!("Hello {name},\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>Hello {},</p>",
        escape_html(name)
    );
    for paragraph in paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", escape_html(paragraph)));
    }
    if let Some((label, url)) = action {
        text.push_str(&format!("{label}: {url}\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape_html(url),
            escape_html(label)
        ));
    }
    text.push_str(footer);
    text.push_str("\n\n— PostRoute\n");
    html.push_str(&format!("<p>{}</p><p>— PostRoute</p></body></html>", escape_html(footer)));
    Rendered { subject: subject.to_owned(), text, html }
}

/// Names are user input: they must never become markup.
fn escape_html(input: &str) -> String {
    let mut escaped = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_travel_in_the_fragment_and_names_are_escaped() {
        let public_url = Url::parse("https://postroute.example").unwrap();
        let rendered =
            Template::VerifyEmail { name: "<script>x</script>", token: "abc123", valid_hours: 24 }
                .render(&public_url);
        assert!(rendered.text.contains("https://postroute.example/verify-email#token=abc123"));
        assert!(rendered.html.contains("&lt;script&gt;"));
        assert!(!rendered.html.contains("<script>"));
    }
}
