//! OAuth 2.0 with PKCE: the authorize page, the token endpoint (codes, refreshes that rotate
//! and may narrow the scopes) and revocation (platforms.md 1.1).

use super::*;

/// Every OAuth 2.0 scope X documents; the authorize page refuses any other.
pub(super) const KNOWN_SCOPES: &[&str] = &[
    "tweet.read",
    "tweet.write",
    "tweet.moderate.write",
    "users.email",
    "users.read",
    "follows.read",
    "follows.write",
    "offline.access",
    "space.read",
    "mute.read",
    "mute.write",
    "like.read",
    "like.write",
    "list.read",
    "list.write",
    "block.read",
    "block.write",
    "bookmark.read",
    "bookmark.write",
    "media.write",
    "dm.read",
    "dm.write",
];

pub(super) fn scopes_of(text: &str) -> Vec<String> {
    text.split(' ').filter(|scope| !scope.is_empty()).map(str::to_owned).collect()
}

pub(super) async fn authorize(
    State(shared): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    let scopes = scopes_of(&param("scope"));
    if param("response_type") != "code"
        || param("client_id") != state.client_id
        || !["S256", "plain"].contains(&param("code_challenge_method").as_str())
        || param("code_challenge").is_empty()
        || scopes.is_empty()
        || scopes.iter().any(|scope| !KNOWN_SCOPES.contains(&scope.as_str()))
    {
        // X shows an error page and never redirects a malformed request back.
        return (StatusCode::BAD_REQUEST, "Something went wrong: invalid authorization request")
            .into_response();
    }
    let Ok(mut redirect) = Url::parse(&param("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "invalid redirect_uri").into_response();
    };
    if std::mem::take(&mut state.deny_next) {
        redirect
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &param("state"));
        return Redirect::to(redirect.as_str()).into_response();
    }
    let code = next_token(&mut state, "code_");
    let grant = Grant {
        account: state.account.clone(),
        redirect_uri: param("redirect_uri"),
        challenge: param("code_challenge"),
        plain: param("code_challenge_method") == "plain",
        scopes,
        issued_at: Instant::now(),
    };
    state.codes.insert(code.clone(), grant);
    redirect.query_pairs_mut().append_pair("state", &param("state")).append_pair("code", &code);
    Redirect::to(redirect.as_str()).into_response()
}

/// Issues tokens for exactly the scopes granted: a refresh token only with `offline.access`.
pub(super) fn issue(state: &mut XState, account: XFakeAccount, scopes: Vec<String>) -> Response {
    let access = next_token(state, "xat_");
    state.access.insert(
        access.clone(),
        Issued { account: account.clone(), scopes: scopes.clone(), expired: false },
    );
    state.issued.push(access.clone());
    let mut body = json!({
        "token_type": "bearer",
        "expires_in": 7200,
        "access_token": access,
        "scope": scopes.join(" "),
    });
    if scopes.iter().any(|scope| scope == "offline.access") {
        let refresh = next_token(state, "xrt_");
        state.refresh.insert(refresh.clone(), RefreshGrant { account, scopes });
        state.issued.push(refresh.clone());
        body["refresh_token"] = Value::String(refresh);
    }
    Json(body).into_response()
}

pub(super) fn authenticated_client(state: &XState, headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", state.client_id, state.client_secret))
    );
    headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok())
        == Some(expected.as_str())
}

/// Narrows a grant to the scopes a refresh asks for; `None` when it asks for one not granted.
pub(super) fn narrowed(granted: &[String], asked: &str) -> Option<Vec<String>> {
    let asked = scopes_of(asked);
    if asked.is_empty() {
        return Some(granted.to_vec());
    }
    asked.iter().all(|scope| granted.contains(scope)).then_some(asked)
}

pub(super) async fn token(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    if let Some(status) = state.token_outage.or(state.faults.outage) {
        return problem(status, "Service Unavailable");
    }
    if !authenticated_client(&state, &headers) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let field = |name: &str| form.get(name).cloned().unwrap_or_default();
    match field("grant_type").as_str() {
        "authorization_code" => {
            let invalid_code = || {
                oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the authorization code was invalid.",
                )
            };
            let Some(grant) = state.codes.remove(&field("code")) else {
                return invalid_code();
            };
            state.verifiers.push(field("code_verifier"));
            let verifier = field("code_verifier");
            let challenge = if grant.plain {
                verifier
            } else {
                URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
            };
            if grant.redirect_uri != field("redirect_uri")
                || grant.challenge != challenge
                || grant.issued_at.elapsed() > CODE_LIFETIME
            {
                return invalid_code();
            }
            issue(&mut state, grant.account, grant.scopes)
        }
        "refresh_token" => {
            let presented = field("refresh_token");
            if state.revoked_refresh.contains(&presented) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Refresh token has been revoked.",
                );
            }
            let Some(grant) = state.refresh.get(&presented).cloned() else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Value passed for the token was invalid.",
                );
            };
            // RFC 6749 6: a refresh may narrow the scopes, never widen them. The token
            // survives a refused request, as nothing was issued for it.
            let Some(scopes) = narrowed(&grant.scopes, &field("scope")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "The requested scope is invalid, unknown, or exceeds the scope granted.",
                );
            };
            state.refresh.remove(&presented);
            state.refreshes += 1;
            issue(&mut state, grant.account, scopes)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type.",
        ),
    }
}

pub(super) async fn revoke(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    delay(&shared).await;
    let mut state = lock(&shared);
    if let Some(status) = state.faults.outage {
        return problem(status, "Service Unavailable");
    }
    if !authenticated_client(&state, &headers) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Missing valid authorization header",
        );
    }
    let token = form.get("token").cloned().unwrap_or_default();
    state.access.remove(&token);
    state.refresh.remove(&token);
    state.revocations.push(token);
    Json(json!({"revoked": true})).into_response()
}
