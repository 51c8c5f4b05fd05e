//! `/v1/webhooks/{stripe,meta,x}`: deliveries from the platforms, verified before they are read.

use postroute_app::Refusal;
use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::{ApiError, FieldError, Problem};
use crate::state::AppState;
use postroute_app::accounts::RequestContext;
use postroute_app::webhooks::Delivery;

/// Largest delivery accepted.
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

/// The answer to a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct Received {
    /// Always true: the delivery was genuine.
    pub received: bool,
    /// True when this event had arrived before and was not processed again.
    pub duplicate: bool,
}

/// X's CRC answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrcResponse {
    /// `sha256=<base64 HMAC of the crc_token>`.
    pub response_token: String,
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

fn received(delivery: Delivery) -> Json<Received> {
    Json(Received { received: true, duplicate: delivery == Delivery::Duplicate })
}

/// A Stripe event. `Stripe-Signature` is verified over the raw body (and its timestamp must be
/// within five minutes) before anything is read; a replayed event is acknowledged, not
/// processed again.
#[utoipa::path(post, operation_id = "stripe_webhook", path = "/v1/webhooks/stripe", tag = "webhooks",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix time>,v1=<hex HMAC-SHA256>` over `<t>.<body>`")),
    request_body(content = Object, description = "A Stripe event, signed"),
    responses((status = 200, description = "Genuine", body = Received),
              (status = 400, description = "Signature missing, wrong or too old (`invalid_signature`; a critical security event), or a genuine body that is not an event (`malformed_request`)", body = Problem),
              (status = 404, description = "This server has no secret for the provider: the endpoint does not exist (`not_found`)", body = Problem),
              (status = 413, description = "Over 1 MiB (`payload_too_large`)", body = Problem)))]
pub(crate) async fn stripe(
    State(state): State<AppState>,
    context: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>, ApiError> {
    let signature = header_text(&headers, "stripe-signature");
    Ok(received(state.webhooks.stripe(signature, &body, context.ip).await?))
}

/// Meta's subscription check: answers `hub.challenge` when `hub.verify_token` is ours.
#[utoipa::path(get, operation_id = "meta_webhook_verification", path = "/v1/webhooks/meta", tag = "webhooks",
    params(("hub.mode" = String, Query), ("hub.verify_token" = String, Query), ("hub.challenge" = String, Query)),
    responses((status = 200, description = "The challenge, as text", content_type = "text/plain"),
              (status = 403, description = "Wrong token (`forbidden`)", body = Problem),
              (status = 404, description = "This server has no secret for the provider: the endpoint does not exist (`not_found`)", body = Problem)))]
pub(crate) async fn meta_verification(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let challenge = state.webhooks.meta_verification(
        query.get("hub.mode").map(String::as_str),
        query.get("hub.verify_token").map(String::as_str),
        query.get("hub.challenge").map(String::as_str),
    )?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], challenge).into_response())
}

/// A Meta event. `X-Hub-Signature-256` is verified over the raw body first.
#[utoipa::path(post, operation_id = "meta_webhook", path = "/v1/webhooks/meta", tag = "webhooks",
    params(("X-Hub-Signature-256" = String, Header, description = "`sha256=<hex HMAC-SHA256 of the body>`")),
    request_body(content = Object, description = "A Meta event, signed"),
    responses((status = 200, description = "Genuine", body = Received),
              (status = 400, description = "Signature missing or wrong (`invalid_signature`; a critical security event), or a genuine body that is not JSON (`malformed_request`)", body = Problem),
              (status = 404, description = "This server has no secret for the provider: the endpoint does not exist (`not_found`)", body = Problem),
              (status = 413, description = "Over 1 MiB (`payload_too_large`)", body = Problem)))]
pub(crate) async fn meta(
    State(state): State<AppState>,
    context: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>, ApiError> {
    let signature = header_text(&headers, "x-hub-signature-256");
    Ok(received(state.webhooks.meta(signature, &body, context.ip).await?))
}

/// X's CRC check: answers the HMAC of `crc_token` under the consumer secret.
#[utoipa::path(get, operation_id = "x_webhook_crc", path = "/v1/webhooks/x", tag = "webhooks",
    params(("crc_token" = String, Query, pattern = r"^[A-Za-z0-9+/=_-]{1,128}$", description = "X's challenge: a short opaque string")),
    responses((status = 200, description = "The CRC answer", body = CrcResponse),
              (status = 400, description = "A `crc_token` that is not a short opaque string (`malformed_request`)", body = Problem),
              (status = 404, description = "This server has no secret for the provider: the endpoint does not exist (`not_found`)", body = Problem),
              (status = 422, description = "No `crc_token`", body = Problem)))]
pub(crate) async fn x_crc(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<CrcResponse>, ApiError> {
    let token = query.get("crc_token").filter(|token| !token.is_empty()).ok_or_else(|| {
        ApiError(Refusal::Invalid(vec![FieldError::new("crc_token", "is required")]))
    })?;
    Ok(Json(CrcResponse { response_token: state.webhooks.x_crc(token)? }))
}

/// An X event. `x-twitter-webhooks-signature` is verified over the raw body first.
#[utoipa::path(post, operation_id = "x_webhook", path = "/v1/webhooks/x", tag = "webhooks",
    params(("x-twitter-webhooks-signature" = String, Header, description = "`sha256=<base64 HMAC-SHA256 of the body>`")),
    request_body(content = Object, description = "An X account-activity event, signed"),
    responses((status = 200, description = "Genuine", body = Received),
              (status = 400, description = "Signature missing or wrong (`invalid_signature`; a critical security event), or a genuine body that is not JSON (`malformed_request`)", body = Problem),
              (status = 404, description = "This server has no secret for the provider: the endpoint does not exist (`not_found`)", body = Problem),
              (status = 413, description = "Over 1 MiB (`payload_too_large`)", body = Problem)))]
pub(crate) async fn x(
    State(state): State<AppState>,
    context: RequestContext,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Received>, ApiError> {
    let signature = header_text(&headers, "x-twitter-webhooks-signature");
    Ok(received(state.webhooks.x(signature, &body, context.ip).await?))
}
