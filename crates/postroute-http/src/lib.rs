//! The HTTP face of PostRoute: the edge every request passes through, the extractors that put
//! policy in handler signatures, the JSON API's handlers under `api/`, and the one place where
//! a service's refusal becomes problem+json. It holds no rules of its own: handlers call the
//! services of `postroute-app`.

mod api;
mod database;
pub mod edge;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
mod rate_limit_headers;
mod state;
pub mod transport;

pub use state::AppState;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{any, delete, get, patch, post};
use tower_http::timeout::TimeoutLayer;

/// The largest JSON bodies the routes take: a post write, and a webhook delivery.
pub(crate) use api::posts::POST_BODY_LIMIT;
pub(crate) use api::webhooks::WEBHOOK_BODY_LIMIT;
use api::{
    admin, auth, channels, health, me, media, posts, slots, webhooks, well_known, workspaces,
};
use postroute_app::rate_limit::{Counting, Quota};
use rate_limit::RequestLimit;

/// The whole API behind its edge layers.
pub fn router(state: AppState) -> Router {
    let config = state.config.clone();
    let limits = &config.rate_limits;
    let limit = |quota: Quota| RequestLimit {
        limiter: state.limiter.clone(),
        quota,
        store: state.store.clone(),
    };
    let global_limit = limits.enabled.then(|| {
        limit(Quota {
            name: "requests",
            burst: limits.requests_per_minute,
            period: Duration::from_secs(60),
            counting: Counting::Refill,
        })
    });
    let credential_limit = rate_limit::credential_limit(&state);

    // Login, registration, verification and password reset share one brute-force bucket
    // (S-AUTH-7), checked before the handler parses a body or hashes anything.
    let mut credentials = Router::new()
        .route("/v1/auth/register", post(auth::register))
        .route("/v1/auth/verify-email", post(auth::verify_email))
        .route("/v1/auth/verify-email/resend", post(auth::resend_verification))
        .route("/v1/auth/login", post(auth::login))
        .route("/v1/auth/password-reset/request", post(auth::request_password_reset))
        .route("/v1/auth/password-reset/confirm", post(auth::confirm_password_reset));
    if let Some(credential_limit) = credential_limit {
        credentials =
            credentials.route_layer(from_fn_with_state(credential_limit, rate_limit::enforce));
    }

    let routes = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/.well-known/security.txt", get(well_known::security_txt))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .merge(credentials)
        .route("/v1/auth/refresh", post(auth::refresh))
        .route("/v1/auth/logout", post(auth::logout))
        .route("/v1/auth/logout-all", post(auth::logout_all))
        .route("/v1/auth/sessions", get(auth::sessions))
        .route("/v1/auth/sessions/{id}", delete(auth::end_session))
        .route("/v1/me", get(me::me).patch(me::update_me).delete(me::erase))
        .route("/v1/me/password", post(me::change_password))
        .route("/v1/me/export", get(me::export))
        .route("/v1/workspaces", get(workspaces::list).post(workspaces::create))
        .route(
            "/v1/workspaces/{workspace_id}",
            get(workspaces::get).patch(workspaces::update).delete(workspaces::delete),
        )
        .route("/v1/workspaces/{workspace_id}/members", get(workspaces::members))
        .route(
            "/v1/workspaces/{workspace_id}/members/{user_id}",
            patch(workspaces::change_role).delete(workspaces::remove_member),
        )
        .route(
            "/v1/workspaces/{workspace_id}/transfer-ownership",
            post(workspaces::transfer_ownership),
        )
        .route(
            "/v1/workspaces/{workspace_id}/invitations",
            get(workspaces::invitations).post(workspaces::invite),
        )
        .route(
            "/v1/workspaces/{workspace_id}/invitations/{invitation_id}",
            delete(workspaces::revoke_invitation),
        )
        .route("/v1/workspaces/{workspace_id}/audit-log", get(workspaces::audit_log))
        .route("/v1/invitations/accept", post(workspaces::accept))
        .route("/v1/workspaces/{workspace_id}/channels", get(channels::list))
        .route("/v1/workspaces/{workspace_id}/channels/connect", post(channels::connect))
        .route("/v1/workspaces/{workspace_id}/channels/{channel_id}", delete(channels::disconnect))
        .route(
            "/v1/workspaces/{workspace_id}/channels/pending/{pending_id}",
            get(channels::pending).post(channels::choose),
        )
        .route("/v1/oauth/{provider}/callback", get(channels::callback))
        .route("/v1/oauth/{provider}/complete", post(channels::complete))
        .route("/v1/workspaces/{workspace_id}/media", get(media::list))
        .route(
            "/v1/workspaces/{workspace_id}/media/{media_id}",
            get(media::get).delete(media::delete),
        )
        .route("/v1/workspaces/{workspace_id}/media/{media_id}/content", get(media::content))
        .route(
            "/v1/workspaces/{workspace_id}/media/{media_id}/public-link",
            post(media::public_link),
        )
        .route("/v1/public/media/{workspace_id}/{media_id}", get(media::public_content))
        // Every method on every staff path goes through the staff check: a wrong method or an
        // unknown path under /v1/admin answers 404 like the rest, never a revealing 405, and
        // without the `Allow` header a method router would add (so `any`).
        .route("/v1/admin/events", any(admin::events))
        .route("/v1/admin/users", any(admin::users))
        .route("/v1/admin/users/{user_id}/revoke-sessions", any(admin::revoke_sessions))
        .route(
            "/v1/webhooks/stripe",
            post(webhooks::stripe).layer(DefaultBodyLimit::max(webhooks::WEBHOOK_BODY_LIMIT)),
        )
        .route(
            "/v1/webhooks/meta",
            get(webhooks::meta_verification).merge(
                post(webhooks::meta).layer(DefaultBodyLimit::max(webhooks::WEBHOOK_BODY_LIMIT)),
            ),
        )
        .route(
            "/v1/webhooks/x",
            get(webhooks::x_crc).merge(
                post(webhooks::x).layer(DefaultBodyLimit::max(webhooks::WEBHOOK_BODY_LIMIT)),
            ),
        )
        .route("/v1/admin", any(admin::unmatched))
        .route("/v1/admin/{*rest}", any(admin::unmatched))
        // A post and its variants can outgrow the 64 KiB JSON limit in scripts that take several
        // bytes a character.
        .route(
            "/v1/workspaces/{workspace_id}/posts",
            get(posts::list)
                .merge(post(posts::create).layer(DefaultBodyLimit::max(posts::POST_BODY_LIMIT))),
        )
        .route(
            "/v1/workspaces/{workspace_id}/posts/{post_id}",
            get(posts::get)
                .merge(patch(posts::update).layer(DefaultBodyLimit::max(posts::POST_BODY_LIMIT)))
                .delete(posts::delete),
        )
        .route("/v1/workspaces/{workspace_id}/posts/{post_id}/submit", post(posts::submit))
        .route("/v1/workspaces/{workspace_id}/posts/{post_id}/approve", post(posts::approve))
        .route("/v1/workspaces/{workspace_id}/posts/{post_id}/reject", post(posts::reject))
        .route("/v1/workspaces/{workspace_id}/posts/{post_id}/schedule", post(posts::schedule))
        .route("/v1/workspaces/{workspace_id}/posts/{post_id}/cancel", post(posts::cancel))
        .route("/v1/workspaces/{workspace_id}/posts/{post_id}/queue", post(posts::queue))
        .route(
            "/v1/workspaces/{workspace_id}/posts/{post_id}/publish-now",
            post(posts::publish_now),
        )
        .route(
            "/v1/workspaces/{workspace_id}/posts/{post_id}/targets/{channel_id}/retry",
            post(posts::retry_target),
        )
        .route(
            "/v1/workspaces/{workspace_id}/posts/{post_id}/targets/{channel_id}/mark-published",
            post(posts::mark_target_published),
        )
        .route(
            "/v1/workspaces/{workspace_id}/posts/{post_id}/targets/{channel_id}/dismiss",
            post(posts::dismiss_target),
        )
        .route(
            "/v1/workspaces/{workspace_id}/channels/{channel_id}/slots",
            get(slots::get).put(slots::put),
        )
        .route_layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.http.request_timeout_secs),
        ))
        // Uploads stream up to 50 MiB: their own body limit and a longer deadline.
        .route(
            "/v1/workspaces/{workspace_id}/media",
            post(media::upload)
                .route_layer(DefaultBodyLimit::max(
                    usize::try_from(media::UPLOAD_BODY_LIMIT).unwrap_or(usize::MAX),
                ))
                .route_layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(config.http.upload_timeout_secs),
                )),
        )
        .layer(from_fn_with_state(state.store.clone(), database::fail_fast_while_away));
    // Metrics need no database, so they answer even while it is away.
    let routes =
        if config.metrics.on_public_listener { routes.merge(metrics::routes()) } else { routes };
    let routes = routes.route_layer(from_fn(metrics::label_route)).with_state(state);
    edge::wrap(routes, &config.http, global_limit)
}
