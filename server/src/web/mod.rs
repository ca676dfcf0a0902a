//! The web UI for office staff, approvers and bank branches: server-rendered
//! pages in zh-CN (default) and English, all strings from message catalogues
//! (`server/locales/`), templates (`server/templates/`) and static files
//! (`server/static/`) embedded in the binary.
//!
//! Pages only read: every state change is a `fetch` from `static/app.js` to
//! the JSON API with the session's CSRF token in `X-CSRF-Token`, so the API's
//! role, site, two-person and CSRF checks are the only ones there are. Pages
//! sit behind the same [`Access`] gates as the API; a browser (one that
//! accepts `text/html`) is redirected to the login page instead of a JSON 401
//! and shown an HTML page for other errors ([`html_errors`]).
//!
//! It does not build anything at run time from the internet and sends no
//! inline script: the Content-Security-Policy allows scripts from 'self' only.

mod brightness;
mod pages;
mod render;
mod words;

use aide::axum::routing::get_with;
use aide::transform::TransformOperation;
use axum::http::Method;

use crate::config::Config;
use crate::http::docs::{Documented, Page, StaticFile};
use crate::http::{route, Access, Route, ADMIN, STAFF};

pub use crate::i18n::diagnostics::for_builder as diagnostics_for_builder;
pub use crate::i18n::Lang;
pub use render::{html_errors, language};

/// The UI's routes (merged into [`crate::router::route_table`]).
pub fn routes(_config: &Config) -> Vec<Route> {
    use Access::*;
    vec![
        route(
            Method::GET,
            "/",
            "the web UI's front door (redirects to /ui)",
            Public,
            get_with(pages::front_door, redirect),
        ),
        route(
            Method::GET,
            "/login",
            "web UI: login page",
            Public,
            get_with(pages::login, html),
        ),
        route(
            Method::GET,
            "/lang/{lang}",
            "web UI: choose the language (zh-CN or en; ?next=/ui/...)",
            Public,
            get_with(pages::choose_language, redirect),
        ),
        route(
            Method::GET,
            "/static/{file}",
            "web UI: stylesheet and script (embedded)",
            Public,
            get_with(render::static_file, |op| {
                op.response::<200, Documented<StaticFile>>()
            }),
        ),
        route(
            Method::GET,
            "/ui",
            "web UI: home (by role)",
            AnyUser,
            get_with(pages::home, html),
        ),
        route(
            Method::GET,
            "/ui/screens",
            "web UI: screens, grouped by site (branch users: their own)",
            SiteScoped,
            get_with(pages::screens, html),
        ),
        route(
            Method::GET,
            "/ui/sites/{id}",
            "web UI: one site's screens",
            SiteScoped,
            get_with(pages::site, html),
        ),
        route(
            Method::GET,
            "/ui/screens/{id}",
            "web UI: one screen (state, now playing, screenshots, week calendar)",
            SiteScoped,
            get_with(pages::screen, html),
        ),
        route(
            Method::GET,
            "/ui/materials",
            "web UI: material library and upload",
            Roles(STAFF),
            get_with(pages::materials, html),
        ),
        route(
            Method::GET,
            "/ui/materials/{id}",
            "web UI: one material with its LED previews",
            Roles(STAFF),
            get_with(pages::material, html),
        ),
        route(
            Method::GET,
            "/ui/playlists",
            "web UI: playlists and schedules (build, schedule, diagnostics)",
            Roles(STAFF),
            get_with(pages::playlists, html),
        ),
        route(
            Method::GET,
            "/ui/approvals",
            "web UI: approval queue",
            Roles(STAFF),
            get_with(pages::approvals, html),
        ),
        route(
            Method::GET,
            "/ui/alerts",
            "web UI: urgent alerts",
            Roles(STAFF),
            get_with(pages::alerts, html),
        ),
        route(
            Method::GET,
            "/ui/editions",
            "web UI: library editions with their diff",
            Roles(STAFF),
            get_with(pages::editions, html),
        ),
        route(
            Method::GET,
            "/ui/branch",
            "web UI: weekly branch confirmation",
            SiteScoped,
            get_with(pages::branch, html),
        ),
        route(
            Method::GET,
            "/ui/reports",
            "web UI: compliance report downloads",
            SiteScoped,
            get_with(pages::reports, html),
        ),
        route(
            Method::GET,
            "/ui/users",
            "web UI: users (create editors, approvers, branch users)",
            Roles(ADMIN),
            get_with(pages::users, html),
        ),
        route(
            Method::GET,
            "/ui/audit",
            "web UI: audit log",
            Roles(ADMIN),
            get_with(pages::audit, html),
        ),
    ]
}

/// A page's answer in the OpenAPI document (handlers build HTML as a
/// `Response` because they also set headers).
fn html(op: TransformOperation<'_>) -> TransformOperation<'_> {
    op.response::<200, Documented<Page>>()
}

/// A redirect's answer in the OpenAPI document.
fn redirect(op: TransformOperation<'_>) -> TransformOperation<'_> {
    op.response_with::<303, (), _>(|r| r.description("redirect: see Location"))
}

/// The UI's rows of the route × role matrix test.
#[cfg(test)]
pub(crate) fn matrix_rows() -> Vec<crate::http::tests::MatrixRow> {
    use crate::http::tests::Rule::*;
    use crate::http::tests::{ADMIN, STAFF};
    vec![
        ("GET", "/", "/", Public),
        ("GET", "/login", "/login", Public),
        ("GET", "/lang/{lang}", "/lang/en", Public),
        ("GET", "/static/{file}", "/static/app.js", Public),
        ("GET", "/ui", "/ui", AnyUser),
        ("GET", "/ui/screens", "/ui/screens", SiteList),
        ("GET", "/ui/sites/{id}", "/ui/sites/site-a", SiteA),
        ("GET", "/ui/screens/{id}", "/ui/screens/screen-a", SiteA),
        ("GET", "/ui/materials", "/ui/materials", Roles(STAFF)),
        (
            "GET",
            "/ui/materials/{id}",
            "/ui/materials/m1",
            Roles(STAFF),
        ),
        ("GET", "/ui/playlists", "/ui/playlists", Roles(STAFF)),
        ("GET", "/ui/approvals", "/ui/approvals", Roles(STAFF)),
        ("GET", "/ui/alerts", "/ui/alerts", Roles(STAFF)),
        ("GET", "/ui/editions", "/ui/editions", Roles(STAFF)),
        ("GET", "/ui/branch", "/ui/branch", SiteList),
        ("GET", "/ui/reports", "/ui/reports", SiteList),
        ("GET", "/ui/users", "/ui/users", Roles(ADMIN)),
        ("GET", "/ui/audit", "/ui/audit", Roles(ADMIN)),
    ]
}

#[cfg(test)]
mod tests;
