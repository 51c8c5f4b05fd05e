//! Facebook Login and tokens: the dialog, `oauth/access_token` (code, long-lived, app token),
//! `debug_token` and the `appsecret_proof` check.

use super::errors::{dead_token, graph_error, typed_graph_error};
use super::*;

/// The `appsecret_proof` for `token`: hex HMAC-SHA256 of the token keyed with the app secret.
pub fn appsecret_proof(app_secret: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The app token `{app-id}|{app-secret}` needs no exchange; issued tokens are looked up.
pub(super) fn token_info(state: &MetaState, token: &str) -> Option<TokenInfo> {
    if token == format!("{}|{}", state.app_id, state.app_secret) {
        return Some(TokenInfo {
            owner: Owner::App,
            scopes: Vec::new(),
            expires_at: None,
            dead: None,
        });
    }
    state.tokens.get(token).cloned()
}

pub(super) fn check_proof(
    state: &MetaState,
    token: &str,
    info: &TokenInfo,
    params: &HashMap<String, String>,
) -> Option<Response> {
    match params.get("appsecret_proof") {
        Some(proof) if *proof != appsecret_proof(&state.app_secret, token) => {
            Some(typed_graph_error(
                StatusCode::BAD_REQUEST,
                "GraphMethodException",
                100,
                None,
                "Invalid appsecret_proof provided in the API argument",
            ))
        }
        None if state.require_proof && info.owner != Owner::App => Some(typed_graph_error(
            StatusCode::BAD_REQUEST,
            "GraphMethodException",
            100,
            None,
            "API calls from the server require an appsecret_proof argument",
        )),
        _ => None,
    }
}

pub(super) fn debug_token(state: &MetaState, params: &HashMap<String, String>) -> Response {
    let Some(input) = params.get("input_token") else {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            "The parameter input_token is required",
        );
    };
    let Some(info) = token_info(state, input) else {
        let invalid = json!({
            "data": {
                "error": { "code": 190, "message": "Invalid OAuth access token." },
                "is_valid": false,
                "scopes": [],
            },
        });
        return Json(invalid).into_response();
    };
    let kind = match info.owner {
        Owner::User => "USER",
        Owner::Page(_) => "PAGE",
        Owner::App => "APP",
    };
    let mut data = json!({
        "app_id": state.app_id,
        "type": kind,
        "application": "PostRoute (fake)",
        "expires_at": info.expires_at.unwrap_or(0),
        "is_valid": info.dead.is_none() && info.expires_at.is_none_or(|at| at > unix_now()),
        "scopes": info.scopes,
    });
    match &info.owner {
        Owner::User => data["user_id"] = json!(USER_ID),
        Owner::Page(id) => {
            data["profile_id"] = json!(id);
            data["user_id"] = json!(USER_ID);
        }
        Owner::App => {}
    }
    if let Some(subcode) = info.dead {
        data["error"] =
            json!({"code": 190, "subcode": subcode, "message": "Error validating access token."});
    }
    Json(json!({ "data": data })).into_response()
}

/// The Facebook Login permissions the dialog knows (developers.facebook.com, "Permissions
/// Reference"): those a scheduler asks for and their neighbours.
const PERMISSIONS: &[&str] = &[
    "public_profile",
    "email",
    "pages_show_list",
    "pages_manage_posts",
    "pages_read_engagement",
    "pages_manage_engagement",
    "pages_manage_metadata",
    "pages_read_user_content",
    "pages_messaging",
    "publish_video",
    "read_insights",
    "business_management",
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_comments",
    "instagram_manage_insights",
    "instagram_manage_messages",
    "ads_management",
    "ads_read",
];

pub(super) fn dialog(state: &mut MetaState, params: &HashMap<String, String>) -> Response {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    if param("client_id") != state.app_id {
        return (StatusCode::BAD_REQUEST, "Invalid App ID").into_response();
    }
    let Ok(mut redirect) = Url::parse(&param("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "Invalid redirect_uri").into_response();
    };
    if std::mem::take(&mut state.deny_next) {
        redirect
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_code", "200")
            .append_pair("error_reason", "user_denied")
            .append_pair("error_description", "Permissions error")
            .append_pair("state", &param("state"));
        return Redirect::to(redirect.as_str()).into_response();
    }
    // Meta documents commas; clients built on OAuth 2.0 libraries send spaces.
    let scopes: Vec<String> = param("scope")
        .split([',', ' '])
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect();
    let invalid: Vec<&str> =
        scopes.iter().map(String::as_str).filter(|scope| !PERMISSIONS.contains(scope)).collect();
    if !invalid.is_empty() {
        // What the dialog shows the app's developers (the fake's user is one).
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "Invalid Scopes: {}. This message is only shown to developers.",
                invalid.join(", ")
            ),
        )
            .into_response();
    }
    let code = next_token(state, "metacode");
    state.codes.insert(code.clone(), (param("redirect_uri"), scopes));
    redirect.query_pairs_mut().append_pair("code", &code).append_pair("state", &param("state"));
    Redirect::to(redirect.as_str()).into_response()
}

/// The app's credentials: `client_id`/`client_secret` parameters, or HTTP Basic as OAuth 2.0
/// libraries send by default.
pub(super) fn client_credentials(
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> (String, String) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| {
            pair.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    let param = |name: &str| params.get(name).cloned();
    match (param("client_id"), param("client_secret"), basic) {
        (Some(id), Some(secret), _) => (id, secret),
        (_, _, Some(pair)) => pair,
        (id, secret, None) => (id.unwrap_or_default(), secret.unwrap_or_default()),
    }
}

pub(super) fn access_token(
    state: &mut MetaState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Response {
    let param = |name: &str| params.get(name).cloned().unwrap_or_default();
    let (client_id, client_secret) = client_credentials(headers, params);
    if client_id != state.app_id || client_secret != state.app_secret {
        return graph_error(
            StatusCode::BAD_REQUEST,
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    }
    let user_token = |state: &mut MetaState, prefix: &str, lifetime: u64, scopes: Vec<String>| {
        let token = next_token(state, prefix);
        state.tokens.insert(
            token.clone(),
            TokenInfo {
                owner: Owner::User,
                scopes,
                expires_at: Some(unix_now() + lifetime),
                dead: None,
            },
        );
        Json(json!({"access_token": token, "token_type": "bearer", "expires_in": lifetime}))
            .into_response()
    };
    match param("grant_type").as_str() {
        "client_credentials" => {
            let token = format!(
                "{}|{}",
                state.app_id,
                URL_SAFE_NO_PAD.encode(uuid::Uuid::now_v7().as_bytes())
            );
            state.tokens.insert(
                token.clone(),
                TokenInfo { owner: Owner::App, scopes: Vec::new(), expires_at: None, dead: None },
            );
            Json(json!({"access_token": token, "token_type": "bearer"})).into_response()
        }
        "fb_exchange_token" => {
            let Some(short) = state.tokens.get(&param("fb_exchange_token")).cloned() else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    190,
                    None,
                    "Invalid OAuth access token.",
                );
            };
            if short.owner != Owner::User {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    190,
                    None,
                    "Invalid OAuth access token.",
                );
            }
            if let Some(refused) = dead_token(&short) {
                return refused;
            }
            user_token(state, "EAALONG", 5_183_944, short.scopes)
        }
        "" | "authorization_code" => match state.codes.remove(&param("code")) {
            Some((redirect_uri, scopes)) if redirect_uri == param("redirect_uri") => {
                user_token(state, "EAASHORT", 5183, scopes)
            }
            Some(_) => graph_error(
                StatusCode::BAD_REQUEST,
                100,
                Some(36008),
                "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
            ),
            None => graph_error(
                StatusCode::BAD_REQUEST,
                100,
                Some(36009),
                "This authorization code has been used.",
            ),
        },
        other => graph_error(
            StatusCode::BAD_REQUEST,
            100,
            None,
            &format!("Unsupported grant_type: {other}"),
        ),
    }
}
