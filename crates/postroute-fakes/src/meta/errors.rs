//! Graph's error bodies: types by code, dead tokens, throttling with its usage headers.

use super::*;

/// Graph's error type for a code: object and method errors are `GraphMethodException`, the rest
/// (tokens, parameters, throttling) `OAuthException`.
pub(super) fn error_type(code: i64, subcode: Option<i64>) -> &'static str {
    match (code, subcode) {
        (100, Some(33)) => "GraphMethodException",
        _ => "OAuthException",
    }
}

/// Graph's error body.
pub fn graph_error(status: StatusCode, code: i64, subcode: Option<i64>, message: &str) -> Response {
    typed_graph_error(status, error_type(code, subcode), code, subcode, message)
}

pub(super) fn typed_graph_error(
    status: StatusCode,
    kind: &str,
    code: i64,
    subcode: Option<i64>,
    message: &str,
) -> Response {
    let transient = matches!(code, 1 | 2 | 4 | 17 | 32 | 341 | 613);
    let mut error = json!({
        "message": message,
        "type": kind,
        "code": code,
        "is_transient": transient,
        "fbtrace_id": "AfakeTrace01",
    });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

pub(super) fn unsupported(method: &Method, object: &str) -> Response {
    let verb = if method == Method::POST { "post" } else { "get" };
    graph_error(
        StatusCode::BAD_REQUEST,
        100,
        Some(33),
        &format!(
            "Unsupported {verb} request. Object with ID '{object}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
    )
}

pub(super) fn dead_token(info: &TokenInfo) -> Option<Response> {
    let expired = info.expires_at.is_some_and(|at| at <= unix_now());
    let message = match (info.dead, expired) {
        (Some(460), _) => {
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."
        }
        (Some(458), _) => "Error validating access token: The user has not authorized application.",
        (Some(463), _) | (None, true) => {
            "Error validating access token: Session has expired on Tuesday, 01-Dec-26 12:00:00 PST. The current time is Tuesday, 01-Dec-26 13:00:00 PST."
        }
        (Some(_), _) => "Error validating access token.",
        (None, false) => return None,
    };
    let subcode = info.dead.unwrap_or(463);
    Some(graph_error(StatusCode::BAD_REQUEST, 190, Some(subcode), message))
}

/// Graph's throttling answer, with the usage header that says when access comes back.
pub(super) fn throttled(code: i64, seconds_left: u64) -> Response {
    let message = match code {
        17 => "(#17) User request limit reached",
        32 => "(#32) Page request limit reached",
        613 => "(#613) Calls to this api have exceeded the rate limit.",
        _ => "(#4) Application request limit reached",
    };
    let mut response = graph_error(StatusCode::BAD_REQUEST, code, None, message);
    let minutes = seconds_left.div_ceil(60);
    let headers = response.headers_mut();
    let usage = json!({"call_count": 100, "total_cputime": 100, "total_time": 100}).to_string();
    let business = json!({
        "501": [{
            "type": "pages",
            "call_count": 100,
            "total_cputime": 100,
            "total_time": 100,
            "estimated_time_to_regain_access": minutes,
        }],
    })
    .to_string();
    if let Ok(value) = usage.parse() {
        headers.insert("x-app-usage", value);
    }
    if let Ok(value) = business.parse() {
        headers.insert("x-business-use-case-usage", value);
    }
    response
}

/// Graph reports the app's usage on every answer.
pub(super) fn with_usage(mut response: Response) -> Response {
    if let Ok(value) = r#"{"call_count":1,"total_cputime":1,"total_time":1}"#.parse() {
        response.headers_mut().insert("x-app-usage", value);
    }
    response
}

/// Page and Instagram calls report the business use case's usage, keyed by the Page or account
/// (publishing.md B.3); a throttling answer has already said more and keeps its own.
pub(super) fn with_business_usage(mut response: Response, id: &str, kind: &str) -> Response {
    if response.headers().contains_key("x-business-use-case-usage") {
        return response;
    }
    let usage = json!({
        id: [{
            "type": kind,
            "call_count": 1,
            "total_cputime": 1,
            "total_time": 1,
            "estimated_time_to_regain_access": 0,
        }],
    })
    .to_string();
    if let Ok(value) = usage.parse() {
        response.headers_mut().insert("x-business-use-case-usage", value);
    }
    response
}
