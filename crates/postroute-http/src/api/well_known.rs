//! `/.well-known/security.txt` (RFC 9116): where to report a vulnerability.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{Duration, SecondsFormat, Utc};

/// RFC 9116 asks for an `Expires` less than a year ahead; the file is rendered per request so
/// it never goes stale.
const EXPIRES_AFTER_DAYS: i64 = 180;

/// The security contact file.
#[utoipa::path(get, path = "/.well-known/security.txt", tag = "operations",
    responses((status = 200, description = "RFC 9116 security contact", content_type = "text/plain")))]
pub async fn security_txt(State(state): State<AppState>) -> impl IntoResponse {
    let http = &state.config.http;
    let expires = (Utc::now() + Duration::days(EXPIRES_AFTER_DAYS))
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let canonical = http.public_url.join("/.well-known/security.txt").map(|url| url.to_string());
    let mut body = format!(
        "Contact: {contact}\nExpires: {expires}\nPreferred-Languages: en\n",
        contact = http.security_contact,
    );
    if let Ok(canonical) = canonical {
        body.push_str(&format!("Canonical: {canonical}\n"));
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}
