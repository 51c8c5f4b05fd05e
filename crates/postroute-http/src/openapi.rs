//! The OpenAPI documents, generated from the handlers' annotations: the public one, served at
//! `/v1/openapi.json`, and the staff area's, which is not served (the staff routes answer 404
//! to everyone else and their document does not announce them either).

mod refusals;
pub mod schemas;

use axum::Json;
use utoipa::OpenApi;

use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

pub use refusals::{RAW_BODIES, Refusals};

/// A bad token is a 401 on the public routes.
const PUBLIC_REFUSALS: Refusals = Refusals { unauthorized: true };
/// The staff area answers 404 to everyone who is not staff, token or no token.
const STAFF_REFUSALS: Refusals = Refusals { unauthorized: false };

use crate::api::{
    admin, auth, channels, health, me, media, posts, slots, webhooks, well_known, workspaces,
};
use crate::problem;

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
                channels::callback, channels::complete, slots::get, slots::put,
        media::list, media::upload, media::get, media::content, media::delete, media::public_link,
                media::public_content,
        posts::list, posts::create, posts::get, posts::update, posts::delete, posts::submit,
                posts::approve, posts::reject, posts::schedule, posts::cancel, posts::queue,
                posts::publish_now, posts::retry_target, posts::mark_target_published,
                posts::dismiss_target,
        webhooks::stripe, webhooks::meta_verification, webhooks::meta, webhooks::x_crc, webhooks::x,
    ),
    components(
        // Schemas that only parameters name: utoipa collects those of bodies by itself.
        schemas(
            problem::Problem, problem::FieldError, schemas::ETag, schemas::VersionETag, schemas::AuditAction,
            schemas::PostStatus, schemas::Provider,
        ),
        responses(schemas::MediaFile, schemas::MediaRange),
    ),
    modifiers(&BearerAuth, &PUBLIC_REFUSALS),
    tags(
        (name = "operations", description = "Probes and service metadata"),
        (name = "auth", description = "Registration, sign-in, sessions, password reset"),
        (name = "account", description = "The caller's own account"),
        (name = "workspaces", description = "Workspaces, members, invitations, audit log"),
                (name = "channels", description = "Connected social accounts"),
        (name = "media", description = "The media library posts attach"),
                (name = "posts", description = "Posts, their review and their schedule"),
        (name = "webhooks", description = "Deliveries from Stripe, Meta and X, verified before they are read"),
    ),
)]
pub struct ApiDoc;

/// The staff area, for PostRoute's own tools. Not served: to anyone who is not staff these
/// routes answer 404, as if they did not exist.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "PostRoute staff API",
        version = "1",
        description = "PostRoute staff only. Anyone else, signed in or not, gets 404 and leaves an \
                       `admin_access_denied` system event. Errors are application/problem+json."
    ),
    paths(admin::events, admin::users, admin::revoke_sessions),
    components(schemas(problem::Problem, problem::FieldError)),
    modifiers(&BearerAuth, &STAFF_REFUSALS),
    tags((name = "staff", description = "The system event log and accounts")),
)]
pub struct StaffApiDoc;

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
    pretty(&ApiDoc::openapi())
}

/// The staff document as pretty JSON, as checked in at `docs/openapi-staff.json`.
pub fn staff_document() -> String {
    pretty(&StaffApiDoc::openapi())
}

fn pretty(document: &utoipa::openapi::OpenApi) -> String {
    document.to_pretty_json().unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
}
