//! The HTTP API: its rows of the one route table ([`api_routes`]; the
//! table, the router and the OpenAPI document are [`crate::router`]'s),
//! the extractors, the access gate and the error type the UI shares.
//!
//! Handlers are thin: extract, check role and site, call the store or a
//! service, map errors through [`ApiError`]. This module never reads the
//! clock directly (it calls [`crate::clock`]) and never opens files by a
//! user-supplied name.

mod agent;
mod alerts;
mod apply;
mod compliance;
pub(crate) mod docs;
pub(crate) mod editions;
mod error;
pub(crate) mod expiry;
pub(crate) mod extract;
pub(crate) mod feed;
mod materials;
mod media;
mod packs;
mod presence;
pub(crate) mod session;
pub(crate) mod system;
mod views;

#[cfg(test)]
pub(crate) mod schema_tests;
#[cfg(test)]
pub(crate) mod tests;
#[cfg(test)]
mod video_tests;

use std::sync::Arc;

use aide::axum::routing::{get, post, post_with, ApiMethodRouter};
use axum::extract::DefaultBodyLimit;
use axum::http::Method;

use crate::config::Config;
use crate::store::Role;

pub use crate::state::AppState;
pub use error::ApiError;
pub use extract::{strict_cookie, ClientAddr, Principal};
pub use session::validate_username;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, media by digest, the agent's rotation fetch, enrollment by code, login).
    Public,
    /// An enrolled device, by signature headers.
    Device,
    /// Any signed-in user (own account, own tokens).
    AnyUser,
    /// Any signed-in user; branch users only for their own sites' data.
    SiteScoped,
    /// Only these roles (admin always included).
    Roles(&'static [Role]),
}

/// One row of the route table.
pub struct Route {
    /// HTTP method.
    pub method: Method,
    /// axum path (`/api/v1/screens/{id}`).
    pub path: &'static str,
    /// One-line description (OpenAPI summary).
    pub summary: &'static str,
    /// Who may call it.
    pub access: Access,
    /// The handler, with what aide reads off its types for OpenAPI.
    pub handler: ApiMethodRouter<AppState>,
}

pub(crate) const EDIT: &[Role] = &[Role::Admin, Role::Editor];
pub(crate) const APPROVE: &[Role] = &[Role::Admin, Role::Approver];
pub(crate) const STAFF: &[Role] = &[Role::Admin, Role::Editor, Role::Approver];
pub(crate) const ADMIN: &[Role] = &[Role::Admin];

/// `handler` with a body limit of `max` bytes, refused early from `Content-Length`.
pub(crate) fn limited(handler: ApiMethodRouter<AppState>, max: u64) -> ApiMethodRouter<AppState> {
    handler
        .layer(DefaultBodyLimit::max(
            usize::try_from(max).unwrap_or(usize::MAX),
        ))
        .layer(axum::middleware::from_fn(move |req, next| {
            extract::refuse_oversized(max, req, next)
        }))
}

/// `handler` run only when one of `gate`'s places is free (see
/// [`extract::wait_for_turn`]).
pub(crate) fn one_at_a_time(
    handler: ApiMethodRouter<AppState>,
    gate: &Arc<tokio::sync::Semaphore>,
    limits: &crate::config::LimitsConfig,
) -> ApiMethodRouter<AppState> {
    let gate = gate.clone();
    let places = limits.uploads_at_once;
    let wait = std::time::Duration::from_secs(limits.upload_wait_seconds);
    handler.layer(axum::middleware::from_fn(move |req, next| {
        extract::wait_for_turn(gate.clone(), places, wait, req, next)
    }))
}

/// One route-table row.
pub(crate) fn route(
    method: Method,
    path: &'static str,
    summary: &'static str,
    access: Access,
    handler: ApiMethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        summary,
        access,
        handler,
    }
}

/// The API's routes (the UI's are [`crate::web::routes`]; the router and
/// the OpenAPI document take both, see [`crate::router`]).
pub fn api_routes(config: &Config) -> Vec<Route> {
    use Access::*;
    let json_max = config.limits.json_max_bytes;
    // Material uploads and pack imports share a few places (issue 17, item 8).
    let heavy = Arc::new(tokio::sync::Semaphore::new(
        config.limits.uploads_at_once.max(1) as usize,
    ));
    let mut table = vec![
        route(
            Method::GET,
            "/healthz",
            "liveness",
            Public,
            get(system::healthz),
        ),
        route(
            Method::GET,
            "/readyz",
            "readiness (database reachable)",
            Public,
            get(system::readyz),
        ),
        route(
            Method::GET,
            "/metrics",
            "Prometheus metrics",
            Public,
            get(system::metrics),
        ),
        route(
            Method::GET,
            "/media/{sha256}",
            "media by content address (GET and HEAD, Range, immutable)",
            Public,
            get(media::get_media),
        ),
        route(
            Method::GET,
            "/api/v1/feed/warnings",
            "current approved warning texts for online-transfer pages (?channel=online-transfer&lang=zh-CN; ETag, max-age=300, CORS for [feed] allowed_origins)",
            Public,
            get(feed::warnings),
        ),
        route(
            Method::GET,
            "/embed/warning",
            "the current warnings as a small HTML page to frame (no script; framed only by [feed] allowed_origins)",
            Public,
            get(feed::embed),
        ),
        route(
            Method::POST,
            "/api/v1/login",
            "log in: session cookie + CSRF token",
            Public,
            limited(post(session::login), 16 * 1024),
        ),
        route(
            Method::POST,
            "/api/v1/logout",
            "end the session",
            AnyUser,
            limited(post(session::logout), json_max),
        ),
        route(
            Method::GET,
            "/api/v1/me",
            "who am I, with role and sites",
            AnyUser,
            get(session::me),
        ),
        route(
            Method::GET,
            "/api/v1/tokens",
            "my API tokens",
            AnyUser,
            get(session::list_tokens),
        ),
        route(
            Method::POST,
            "/api/v1/tokens",
            "create an API token for scripts (shown once)",
            AnyUser,
            limited(post(session::create_token), json_max),
        ),
        route(
            Method::DELETE,
            "/api/v1/tokens/{id}",
            "revoke one of my API tokens",
            AnyUser,
            aide::axum::routing::delete(session::revoke_token),
        ),
        route(
            Method::GET,
            "/api/v1/users",
            "list users",
            Roles(ADMIN),
            get(session::list_users),
        ),
        route(
            Method::POST,
            "/api/v1/users",
            "create a user (password generated and shown once)",
            Roles(ADMIN),
            limited(post(session::create_user), json_max),
        ),
        route(
            Method::POST,
            "/api/v1/users/{id}/unlock",
            "lift a user's login locks (after too many wrong passwords)",
            Roles(ADMIN),
            post(session::unlock_user),
        ),
        route(
            Method::POST,
            "/api/v1/users/{id}/disable",
            "disable a user: no login; sessions and API tokens refused at once (not oneself)",
            Roles(ADMIN),
            post(session::disable_user),
        ),
        route(
            Method::POST,
            "/api/v1/users/{id}/enable",
            "enable a disabled user again",
            Roles(ADMIN),
            post(session::enable_user),
        ),
        route(
            Method::POST,
            "/api/v1/users/{id}/password",
            "reset a user's password (a new one generated and shown once; sessions end)",
            Roles(ADMIN),
            post(session::reset_password),
        ),
        route(
            Method::GET,
            "/api/v1/audit",
            "the audit log, newest first",
            Roles(ADMIN),
            get(session::audit),
        ),
        route(
            Method::GET,
            "/api/v1/sites",
            "sites (branch users: their own)",
            SiteScoped,
            get(views::list_sites),
        ),
        route(
            Method::GET,
            "/api/v1/profiles",
            "screen profiles",
            SiteScoped,
            get(views::list_profiles),
        ),
        route(
            Method::GET,
            "/api/v1/screens",
            "screens with desired vs reported version (branch users: their own)",
            SiteScoped,
            get(views::list_screens),
        ),
        route(
            Method::GET,
            "/api/v1/screens/{id}",
            "one screen: state, versions, current rotation",
            SiteScoped,
            get(views::get_screen),
        ),
        route(
            Method::GET,
            "/api/v1/screens/{id}/plays",
            "raw play records of a screen (?from=&until= ms)",
            SiteScoped,
            get(views::screen_plays),
        ),
        route(
            Method::GET,
            "/api/v1/play-days",
            "per-screen-per-day play aggregates (?site=|?screen=, from=, until= YYYY-MM-DD)",
            SiteScoped,
            get(views::play_days),
        ),
        route(
            Method::GET,
            "/api/v1/screens/{id}/screenshots",
            "a screen's latest screenshots",
            SiteScoped,
            get(views::list_screenshots),
        ),
        route(
            Method::GET,
            "/api/v1/screens/{id}/screenshots/{sha256}",
            "one screenshot (PNG)",
            SiteScoped,
            get(views::get_screenshot),
        ),
        route(
            Method::POST,
            "/api/v1/screens/{id}/enrollment",
            "one-time enrollment code for a screen (10 min, single use)",
            Roles(ADMIN),
            limited(post(agent::create_enrollment), json_max),
        ),
        route(
            Method::POST,
            "/api/v1/screens/{id}/commands",
            "send a signed command (screenshot, resync, identify) to a screen",
            Roles(EDIT),
            limited(post(agent::send_command), json_max),
        ),
        route(
            Method::POST,
            "/api/v1/enroll",
            "agent: exchange an enrollment code for identity and broker credentials",
            Public,
            limited(post(agent::enroll), 16 * 1024),
        ),
        route(
            Method::GET,
            "/api/v1/screens/{id}/rotation",
            "agent: the current signed rotation envelope",
            Public,
            get(agent::get_rotation),
        ),
        route(
            Method::POST,
            "/api/v1/screens/{id}/screenshots",
            "agent: upload a device-signed PNG screenshot",
            Device,
            limited(
                post_with(agent::upload_screenshot, |op| {
                    docs::raw_body(op, "image/png", "the screenshot, a PNG signed by the device key")
                }),
                config.limits.screenshot_max_bytes,
            ),
        ),
        route(
            Method::POST,
            "/api/v1/materials",
            "upload a material (multipart: file, id, title, tags, source, valid_from, valid_until)",
            Roles(EDIT),
            limited(
                one_at_a_time(post(materials::upload), &heavy, &config.limits),
                config.limits.upload_max_bytes,
            ),
        ),
        route(
            Method::POST,
            "/api/v1/packs",
            "import a weekly library pack (body: the .zip, application/zip); answers the import report",
            Roles(EDIT),
            limited(
                one_at_a_time(
                    post_with(packs::upload, |op| {
                        docs::raw_body(op, "application/zip", "the weekly library pack, as the .zip file")
                    }),
                    &heavy,
                    &config.limits,
                ),
                config.limits.upload_max_bytes,
            ),
        ),
        route(
            Method::GET,
            "/api/v1/materials",
            "materials (?state=&tag=&kind=)",
            Roles(STAFF),
            get(views::list_materials),
        ),
        route(
            Method::GET,
            "/api/v1/materials/expiring",
            "daily report: approved materials whose valid_until is within the next ?days= (default 7)",
            Roles(STAFF),
            get(expiry::expiring),
        ),
        route(
            Method::GET,
            "/api/v1/materials/{id}",
            "one material with its renditions",
            Roles(STAFF),
            get(views::get_material),
        ),
        route(
            Method::POST,
            "/api/v1/materials/{id}/approve",
            "approve a material (not your own upload)",
            Roles(APPROVE),
            limited(post(views::approve_material), json_max),
        ),
        route(
            Method::POST,
            "/api/v1/materials/{id}/reject",
            "reject a material (not your own upload)",
            Roles(APPROVE),
            limited(post(views::reject_material), json_max),
        ),
        route(
            Method::POST,
            "/api/v1/materials/{id}/retire",
            "retire a material from every future rotation",
            Roles(EDIT),
            limited(post(views::retire_material), json_max),
        ),
        route(
            Method::POST,
            "/api/v1/apply",
            "apply the playlists/ TOML files (dry_run shows diff and diagnostics)",
            Roles(EDIT),
            limited(post(apply::apply), config.limits.apply_max_bytes),
        ),
        route(
            Method::POST,
            "/api/v1/alerts",
            "start an urgent alert (material, targets, until) that pre-empts everything",
            Roles(EDIT),
            limited(post(alerts::create), json_max),
        ),
        route(
            Method::GET,
            "/api/v1/alerts",
            "the running alerts",
            Roles(STAFF),
            get(alerts::list),
        ),
        route(
            Method::GET,
            "/api/v1/recompile",
            "how far the screens' rotations are recompiled after a change (requested, done, running, last)",
            Roles(STAFF),
            get(alerts::recompile_progress),
        ),
        route(
            Method::POST,
            "/api/v1/alerts/{id}/end",
            "end an alert early",
            Roles(EDIT),
            limited(post(alerts::end), json_max),
        ),
        route(
            Method::GET,
            "/api/v1/playlists",
            "the applied playlists",
            Roles(STAFF),
            get(views::list_playlists),
        ),
        route(
            Method::GET,
            "/api/v1/rules",
            "the applied compliance rules",
            Roles(STAFF),
            get(views::list_rules),
        ),
        route(
            Method::GET,
            "/api/v1/schedules",
            "schedules with their approval state (unapproved ones stay out of rotations)",
            Roles(STAFF),
            get(views::list_schedules),
        ),
        route(
            Method::POST,
            "/api/v1/schedules/{id}/approve",
            "approve a schedule (not one you applied)",
            Roles(APPROVE),
            limited(post(views::approve_schedule), json_max),
        ),
        route(
            Method::POST,
            "/api/v1/schedules/{id}/reject",
            "reject a schedule (not one you applied)",
            Roles(APPROVE),
            limited(post(views::reject_schedule), json_max),
        ),
        route(
            Method::GET,
            "/api/v1/export",
            "the playlists/ TOML files, verbatim",
            Roles(STAFF),
            get(views::export),
        ),
    ];
    // Each area lists its own routes (kept apart so the areas grow independently).
    table.extend(presence::routes(config));
    table.extend(compliance::routes(config));
    table.extend(editions::routes(config));
    table
}
