//! The refusals every operation shares, added to the document in one pass, and the one shape
//! every refusal has: `application/problem+json` with the `Problem` schema.
//!
//! Handlers' annotations list what is particular to them (a 409 for a state conflict, a 402
//! for a plan limit). What follows from the kind of route is added here, from facts the
//! document already records, each a consequence of an extractor or an edge layer:
//!
//! | fact in the document | why | statuses |
//! |---|---|---|
//! | any operation | the deadline layer, the panic catcher | 408, 500 |
//! | any but the probes | the per-address budget (`rate_limit::enforce`) | 429 |
//! | any that reads storage | the database or the media store can be down | 503 |
//! | declares `bearer` | `AuthSession` | 401 |
//! | has an id in its path | ids are parsed and looked up; other tenants' are hidden | 404 |
//! | has a JSON body | `JsonBody` | 400, 413, 415, 422 |
//! | has a `limit` parameter | `ListQuery` checks paging | 422 |

use utoipa::Modify;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};

use crate::problem::PROBLEM_JSON;

/// Paths the per-address budget never throttles (`rate_limit::UNLIMITED_PATHS`).
const UNTHROTTLED: [&str; 2] = crate::rate_limit::UNLIMITED_PATHS;

/// Paths answered from memory alone: no dependency can make them unavailable.
const WITHOUT_STORAGE: [&str; 3] = ["/healthz", "/.well-known/security.txt", "/v1/openapi.json"];

/// Operations whose body is read raw, to verify a signature over its bytes before anything
/// parses it: a body that is not JSON is a bad signature (400), never a 415 or 422.
pub const RAW_BODIES: [&str; 3] = ["stripe_webhook", "meta_webhook", "x_webhook"];

/// One shared refusal: its status, the name of its component in `#/components/responses`
/// and why it happens.
#[derive(Clone, Copy, Debug)]
struct Refusal {
    status: u16,
    name: &'static str,
    why: &'static str,
}

const TIMEOUT: Refusal = Refusal {
    status: 408,
    name: "RequestTimeout",
    why: "The request did not arrive or finish in time (`request_timeout`).",
};
const INTERNAL: Refusal = Refusal {
    status: 500,
    name: "InternalError",
    why: "An unexpected failure (`internal_error`); the log has the request id.",
};
const RATE_LIMITED: Refusal = Refusal {
    status: 429,
    name: "RateLimited",
    why: "Too many requests (`rate_limited`); `Retry-After` says when to try again.",
};
const UNAVAILABLE: Refusal = Refusal {
    status: 503,
    name: "ServiceUnavailable",
    why: "The database or the media store is unavailable; retry later (`service_unavailable`).",
};
const UNAUTHORIZED: Refusal = Refusal {
    status: 401,
    name: "Unauthorized",
    why: "Missing, malformed, expired or revoked access token (`unauthorized`).",
};
const NOT_FOUND: Refusal = Refusal {
    status: 404,
    name: "NotFound",
    why: "No such resource, or one the caller may not know exists: another workspace's, or a \
          workspace the caller is not a member of (`not_found`).",
};
const MALFORMED: Refusal = Refusal {
    status: 400,
    name: "MalformedBody",
    why: "The body is not well-formed JSON (`malformed_request`).",
};
const TOO_LARGE: Refusal = Refusal {
    status: 413,
    name: "PayloadTooLarge",
    why: "The body is larger than this operation accepts (`payload_too_large`).",
};
const NOT_JSON: Refusal = Refusal {
    status: 415,
    name: "UnsupportedMediaType",
    why: "The body is not `application/json` (`unsupported_media_type`).",
};
const INVALID_BODY: Refusal = Refusal {
    status: 422,
    name: "ValidationFailed",
    why: "A field is missing, of the wrong type, unknown or against its rules; `errors` names \
          each (`validation_failed`).",
};
const INVALID_PAGE: Refusal = Refusal {
    status: 422,
    name: "InvalidPage",
    why: "`limit` outside 1..100, or a `cursor` this list did not hand out \
          (`validation_failed`).",
};

const EVERY: [Refusal; 11] = [
    TIMEOUT,
    INTERNAL,
    RATE_LIMITED,
    UNAVAILABLE,
    UNAUTHORIZED,
    NOT_FOUND,
    MALFORMED,
    TOO_LARGE,
    NOT_JSON,
    INVALID_BODY,
    INVALID_PAGE,
];

/// Adds the shared refusals to every operation and gives every refusal the problem shape.
#[derive(Debug)]
pub struct Refusals {
    /// Whether a missing or bad token is a 401. The staff area answers 404 instead: it does
    /// not reveal that it exists.
    pub unauthorized: bool,
}

impl Modify for Refusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut used = Vec::new();
        for (path, item) in &mut openapi.paths.paths {
            for operation in operations(item) {
                for refusal in self.shared(path, operation) {
                    if add(operation, refusal)
                        && !used.iter().any(|seen: &Refusal| seen.name == refusal.name)
                    {
                        used.push(refusal);
                    }
                }
                for (status, response) in &mut operation.responses.responses {
                    if let (Ok(code), RefOr::T(response)) = (status.parse::<u16>(), response)
                        && code >= 400
                    {
                        as_problem(code, response);
                    }
                }
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        for refusal in used {
            let mut response = ResponseBuilder::new().description(refusal.why).build();
            as_problem(refusal.status, &mut response);
            components.responses.insert(refusal.name.to_owned(), response.into());
        }
    }
}

impl Refusals {
    /// The refusals `operation` on `path` answers whatever its handler does.
    fn shared(&self, path: &str, operation: &Operation) -> Vec<Refusal> {
        let mut refusals = vec![TIMEOUT, INTERNAL];
        if !UNTHROTTLED.contains(&path) {
            refusals.push(RATE_LIMITED);
        }
        if !WITHOUT_STORAGE.contains(&path) && path != "/readyz" {
            refusals.push(UNAVAILABLE);
        }
        if self.unauthorized && declares_bearer(operation) {
            refusals.push(UNAUTHORIZED);
        }
        let parameters = operation.parameters.as_deref().unwrap_or_default();
        if parameters.iter().any(|parameter| {
            parameter.parameter_in == ParameterIn::Path
                && (parameter.name == "id" || parameter.name.ends_with("_id"))
        }) {
            refusals.push(NOT_FOUND);
        }
        if has_json_body(operation) {
            refusals.extend([MALFORMED, TOO_LARGE, NOT_JSON, INVALID_BODY]);
        }
        if parameters.iter().any(|parameter| {
            parameter.parameter_in == ParameterIn::Query && parameter.name == "limit"
        }) {
            refusals.push(INVALID_PAGE);
        }
        refusals
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn declares_bearer(operation: &Operation) -> bool {
    operation.security.iter().flatten().any(|requirement| {
        serde_json::to_value(requirement)
            .ok()
            .and_then(|value| value.as_object().map(|schemes| schemes.contains_key("bearer")))
            .unwrap_or(false)
    })
}

fn has_json_body(operation: &Operation) -> bool {
    let raw = operation.operation_id.as_deref().is_some_and(|id| RAW_BODIES.contains(&id));
    !raw && operation
        .request_body
        .as_ref()
        .is_some_and(|body| body.content.keys().any(|media| media == "application/json"))
}

/// Documents `refusal` on `operation`: as a reference to the shared response, or, where the
/// handler documents the status already, as one more reason after its own. Says whether the
/// shared response is referred to.
fn add(operation: &mut Operation, refusal: Refusal) -> bool {
    let responses = &mut operation.responses.responses;
    let status = refusal.status.to_string();
    match responses.get_mut(&status) {
        Some(RefOr::T(response)) => {
            if !response.description.contains(refusal.why) {
                let existing = response.description.trim_end().trim_end_matches('.');
                response.description = format!("{existing}. Or: {}", refusal.why);
            }
            false
        }
        Some(RefOr::Ref(existing)) => {
            // Two shared reasons for one status (a JSON body and paging): say both.
            let name = existing.ref_location.rsplit('/').next().unwrap_or_default().to_owned();
            let first = EVERY.into_iter().find(|shared| shared.name == name);
            if let Some(first) = first.filter(|first| first.name != refusal.name) {
                let why = format!("{} Or: {}", first.why, refusal.why);
                responses.insert(status, ResponseBuilder::new().description(why).into());
            }
            false
        }
        None => {
            let location = format!("#/components/responses/{}", refusal.name);
            responses.insert(status, RefOr::Ref(Ref::new(location)));
            true
        }
    }
}

/// Every refusal is a problem document, whatever the annotation said; some carry headers
/// that tell the client what to do next.
fn as_problem(status: u16, response: &mut Response) {
    response.content.clear();
    response.content.insert(
        PROBLEM_JSON.to_owned(),
        ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
    );
    let header = |description: &str, schema_type: Type| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(schema_type))
            .description(Some(description))
            .build()
    };
    match status {
        401 => {
            response
                .headers
                .insert("WWW-Authenticate".to_owned(), header("Always `Bearer`.", Type::String));
        }
        429 => {
            for (name, description) in [
                ("Retry-After", "Seconds until a retry can succeed."),
                ("RateLimit-Limit", "Requests the exhausted limit allows per window."),
                ("RateLimit-Remaining", "Requests left in the window: 0."),
                ("RateLimit-Reset", "Seconds until the window frees a request."),
            ] {
                response.headers.insert(name.to_owned(), header(description, Type::Integer));
            }
        }
        416 => {
            response.headers.insert(
                "Content-Range".to_owned(),
                header("`bytes */{size}`: the file's size.", Type::String),
            );
        }
        _ => {}
    }
}
