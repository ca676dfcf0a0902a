//! Rendering: the embedded template set (auto-escaped HTML), the page frame
//! every page shares (user, language, CSRF token, navigation, alert banner),
//! the security headers of a page, the embedded static files, and the
//! middleware that answers browsers with HTML instead of JSON errors.

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::Environment;
use serde_json::{json, Value};

use crate::i18n::Lang;

use crate::http::{ApiError, AppState, Principal};
/// Name of the cookie that keeps the chosen language.
pub use crate::i18n::LANG_COOKIE;
use crate::store::Role;

/// The Content-Security-Policy of every page: scripts, styles and images
/// from this server only; no inline script, no framing, forms post here.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("screens.html", include_str!("../../templates/screens.html")),
    ("screen.html", include_str!("../../templates/screen.html")),
    (
        "materials.html",
        include_str!("../../templates/materials.html"),
    ),
    (
        "material.html",
        include_str!("../../templates/material.html"),
    ),
    (
        "playlists.html",
        include_str!("../../templates/playlists.html"),
    ),
    (
        "approvals.html",
        include_str!("../../templates/approvals.html"),
    ),
    ("alerts.html", include_str!("../../templates/alerts.html")),
    (
        "editions.html",
        include_str!("../../templates/editions.html"),
    ),
    ("branch.html", include_str!("../../templates/branch.html")),
    ("reports.html", include_str!("../../templates/reports.html")),
    ("audit.html", include_str!("../../templates/audit.html")),
    ("users.html", include_str!("../../templates/users.html")),
];

/// The template names (for the tests).
#[cfg(test)]
pub fn template_sources() -> &'static [(&'static str, &'static str)] {
    TEMPLATES
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        // `.html` templates escape every `{{ }}` by default.
        env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
        for (name, source) in TEMPLATES {
            if let Err(error) = env.add_template(name, source) {
                tracing::error!(template = name, %error, "template does not parse");
            }
        }
        env.add_filter("dt", format_instant);
        env.add_filter("hm", format_clock);
        env.add_filter("bytes", format_bytes);
        env
    })
}

/// `{{ ms | hm(tz) }}`: `14:05`.
fn format_clock(ms: i64, timezone: Option<String>) -> String {
    let full = format_instant(Some(ms), timezone);
    match full.split_once(' ') {
        Some((_, clock)) => clock.to_owned(),
        None => full,
    }
}

/// `{{ ms | dt }}` / `{{ ms | dt("Asia/Shanghai") }}`: `2026-11-28 14:05`.
fn format_instant(ms: Option<i64>, timezone: Option<String>) -> String {
    let Some(ms) = ms else {
        return "—".to_owned();
    };
    let tz: chrono_tz::Tz = timezone
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(chrono_tz::Asia::Shanghai);
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        None => "—".to_owned(),
    }
}

fn format_bytes(bytes: Option<i64>) -> String {
    let bytes = bytes.unwrap_or(0) as f64;
    if bytes >= 1_048_576.0 {
        format!("{:.1} MiB", bytes / 1_048_576.0)
    } else if bytes >= 1024.0 {
        format!("{:.0} KiB", bytes / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

pub use crate::i18n::language;

/// Renders `template` with `context` (plus `t`, the catalogue, and `lang`)
/// as an HTML response carrying the page headers.
pub fn render(lang: Lang, template: &str, mut context: Value) -> Response {
    if let Value::Object(map) = &mut context {
        map.insert("lang".into(), json!(lang.tag()));
        map.insert(
            "other_lang".into(),
            json!(match lang {
                Lang::ZhCn => "en",
                Lang::En => "zh-CN",
            }),
        );
        map.insert(
            "js_messages".into(),
            json!(lang
                .catalogue()
                .iter()
                .filter(|(k, _)| k.starts_with("js_"))
                .collect::<std::collections::BTreeMap<_, _>>()),
        );
    }
    let env = environment();
    let result = env.get_template(template).and_then(|t| {
        t.render(minijinja::context! {
            t => minijinja::Value::from_serialize(lang.catalogue()),
            ..minijinja::Value::from_serialize(&context)
        })
    });
    match result {
        Ok(html) => page_response(StatusCode::OK, html),
        Err(error) => {
            tracing::error!(template, %error, "template failed");
            page_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "<!doctype html><title>ledcast</title><p>{}</p>",
                    lang.text("error_internal")
                ),
            )
        }
    }
}

fn page_response(status: StatusCode, html: String) -> Response {
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// One navigation entry.
struct NavItem {
    key: &'static str,
    href: &'static str,
}

fn navigation(role: Role) -> Vec<NavItem> {
    let item = |key, href| NavItem { key, href };
    match role {
        Role::Branch => vec![
            item("nav_branch", "/ui/branch"),
            item("nav_screens", "/ui/screens"),
            item("nav_reports", "/ui/reports"),
        ],
        Role::Admin => vec![
            item("nav_screens", "/ui/screens"),
            item("nav_materials", "/ui/materials"),
            item("nav_playlists", "/ui/playlists"),
            item("nav_approvals", "/ui/approvals"),
            item("nav_alerts", "/ui/alerts"),
            item("nav_editions", "/ui/editions"),
            item("nav_reports", "/ui/reports"),
            item("nav_users", "/ui/users"),
            item("nav_audit", "/ui/audit"),
        ],
        Role::Editor | Role::Approver => vec![
            item("nav_screens", "/ui/screens"),
            item("nav_materials", "/ui/materials"),
            item("nav_playlists", "/ui/playlists"),
            item("nav_approvals", "/ui/approvals"),
            item("nav_alerts", "/ui/alerts"),
            item("nav_editions", "/ui/editions"),
            item("nav_reports", "/ui/reports"),
        ],
    }
}

/// The frame of a signed-in page.
pub struct Frame {
    /// The page's language.
    pub lang: Lang,
    /// `base` in the templates: user, role, CSRF token, navigation, alerts.
    pub base: Value,
}

impl Frame {
    /// The frame for `principal` on the page `current` (a navigation href).
    pub async fn new(
        state: &AppState,
        principal: &Principal,
        headers: &HeaderMap,
        current: &str,
    ) -> Result<Frame, ApiError> {
        let lang = language(headers);
        let now = state.clock.now().as_millis();
        let csrf = match &principal.session_key {
            Some(key) => state
                .store
                .session(key, now)
                .await?
                .map(|s| s.csrf_token)
                .unwrap_or_default(),
            None => String::new(),
        };
        let role = principal.role();
        let nav: Vec<Value> = navigation(role)
            .into_iter()
            .map(|n| {
                json!({
                    "label": lang.text(n.key),
                    "href": n.href,
                    "current": n.href == current,
                })
            })
            .collect();
        let alerts = active_alerts_for(state, principal, now).await?;
        Ok(Frame {
            lang,
            base: json!({
                "username": principal.user.username,
                "role": role.as_str(),
                "role_label": lang.text(&format!("role_{}", role.as_str())),
                "is_admin": role == Role::Admin,
                "can_edit": matches!(role, Role::Admin | Role::Editor),
                "can_approve": matches!(role, Role::Admin | Role::Approver),
                "is_branch": role == Role::Branch,
                "user_id": principal.user.id,
                "csrf": csrf,
                "nav": nav,
                "current": current,
                "alerts": alerts,
            }),
        })
    }

    /// Renders `template` inside this frame.
    pub fn render(&self, template: &str, mut context: Value) -> Response {
        if let Value::Object(map) = &mut context {
            map.insert("base".into(), self.base.clone());
        }
        render(self.lang, template, context)
    }
}

/// Running alerts the user should see in the banner: all of them for
/// office roles; for a branch user, those aimed at one of their screens.
async fn active_alerts_for(
    state: &AppState,
    principal: &Principal,
    now: i64,
) -> Result<Vec<Value>, ApiError> {
    let alerts = state.store.list_alerts(Some(now)).await?;
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    let screens = match principal.site_filter() {
        None => None,
        Some(sites) => Some(state.store.list_screens(Some(sites)).await?),
    };
    let strings = |v: &Value, k: &str| -> Vec<String> {
        v[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let visible: Vec<_> = alerts
        .into_iter()
        .filter(|a| match &screens {
            None => true,
            Some(screens) => {
                let (ids, tags, sites) = (
                    strings(&a.targets, "screens"),
                    strings(&a.targets, "tags"),
                    strings(&a.targets, "sites"),
                );
                screens.iter().any(|s| {
                    ids.contains(&s.id)
                        || sites.contains(&s.site_id)
                        || s.tags.iter().any(|t| tags.contains(t))
                })
            }
        })
        .collect();
    let mut shown = Vec::new();
    for alert in visible {
        let title = state
            .store
            .material(&alert.material_id)
            .await?
            .map(|m| m.title);
        shown.push(json!({
            "id": alert.id,
            "material_id": alert.material_id,
            "title": title,
            "until": alert.until,
        }));
    }
    Ok(shown)
}

/// `GET /static/{file}`: the embedded stylesheet and script.
pub async fn static_file(Path(file): Path<String>) -> Response {
    let (body, mime): (&'static str, &'static str) = match file.as_str() {
        "app.js" => (
            include_str!("../../static/app.js"),
            "text/javascript; charset=utf-8",
        ),
        "app.css" => (
            include_str!("../../static/app.css"),
            "text/css; charset=utf-8",
        ),
        _ => {
            return ApiError::not_found(
                format!("no static file {file:?}"),
                "the UI loads /static/app.js and /static/app.css",
            )
            .into_response()
        }
    };
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Whether `path` is a UI page (as opposed to the API, media, static files).
fn is_page(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// For browsers on UI pages: a 401 becomes a redirect to the login page
/// (coming back afterwards), and any other JSON error an HTML page. API
/// clients (no `Accept: text/html`) keep the JSON errors.
pub async fn html_errors(req: Request, next: Next) -> Response {
    let page = is_page(req.uri().path()) && wants_html(req.headers());
    if !page {
        return next.run(req).await;
    }
    let lang = language(req.headers());
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/ui".to_owned());
    let response = next.run(req).await;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        let next = url_encode(&target);
        return Redirect::to(&format!("/login?next={next}")).into_response();
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return response;
    }
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let message = said(lang, &body["message"]);
    let mut html = render(
        lang,
        "error.html",
        json!({
            "status": status.as_u16(),
            "message": message,
            "detail": body["detail"],
            "hint": body["hint"],
            "code": body["error"],
        }),
    );
    *html.status_mut() = status;
    html
}

/// The sentence an error body's `message` (`{key, params}`, see
/// `ApiError::said_as`) says in `lang`, if the catalogue has it.
fn said(lang: Lang, message: &Value) -> Option<String> {
    let key = message["key"].as_str()?;
    let mut text = lang.catalogue().get(&format!("js_{key}"))?.clone();
    if let Some(params) = message["params"].as_object() {
        for (name, value) in params {
            let value = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            text = text.replace(&format!("{{{name}}}"), &value);
        }
    }
    Some(text)
}

/// Percent-encodes everything but unreserved characters and `/`.
pub fn url_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An empty 303 to `location`.
pub fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .body(Body::empty())
        .unwrap_or_default()
}
