//! The OpenAPI document, generated from the handlers' annotations.

use axum::Json;
use utoipa::OpenApi;

use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{
    admin, auth, channels, health, me, media, posts, problem, webhooks, well_known, workspaces,
};

/// PostRoute's HTTP API.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "PostRoute API",
        version = "1",
        description = "Plan, review, schedule and publish social-media posts. Errors are \
                       application/problem+json (RFC 9457) with a stable `code`."
    ),
    paths(
        health::healthz, health::readyz, well_known::security_txt, openapi_json,
        auth::register, auth::verify_email, auth::resend_verification, auth::login, auth::refresh,
        auth::logout, auth::logout_all, auth::sessions, auth::end_session,
        auth::request_password_reset, auth::confirm_password_reset,
        me::me, me::update_me, me::change_password, me::export, me::erase,
        workspaces::create, workspaces::list, workspaces::get, workspaces::update, workspaces::delete,
        workspaces::members, workspaces::change_role, workspaces::remove_member,
        workspaces::transfer_ownership, workspaces::invite, workspaces::invitations,
        workspaces::revoke_invitation, workspaces::audit_log, workspaces::accept,
        channels::list, channels::connect, channels::disconnect, channels::pending, channels::choose,
                channels::callback, channels::complete,
        media::list, media::upload, media::get, media::content, media::delete, media::public_link,
                media::public_content,
        posts::list, posts::create, posts::get, posts::update, posts::delete, posts::submit,
                posts::approve, posts::reject, posts::schedule, posts::cancel,
                admin::events, admin::users, admin::revoke_sessions,
        webhooks::stripe, webhooks::meta_verification, webhooks::meta, webhooks::x_crc, webhooks::x,
    ),
    components(schemas(problem::Problem, problem::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Probes and service metadata"),
        (name = "auth", description = "Registration, sign-in, sessions, password reset"),
        (name = "account", description = "The caller's own account"),
        (name = "workspaces", description = "Workspaces, members, invitations, audit log"),
                (name = "channels", description = "Connected social accounts"),
        (name = "media", description = "The media library posts attach"),
                (name = "posts", description = "Posts, their review and their schedule"),
                (name = "staff", description = "PostRoute staff only: the system event log and accounts"),
        (name = "webhooks", description = "Deliveries from Stripe, Meta and X, verified before they are read"),
    ),
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme the authenticated operations name.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The document as pretty JSON, as checked in at `docs/openapi.json`.
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
}
