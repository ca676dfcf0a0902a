//! The page handlers: each loads what its page shows (site-scoped through
//! [`Principal`]), and renders one template. None of them changes state.

mod admin;
mod approvals;
mod branch;
mod library;
mod screens;

pub use admin::{audit, users};
pub use approvals::{alerts, approvals, editions};
pub use branch::{branch, reports};
pub use library::{material, materials, playlists};
pub use screens::{screen, screens, site};

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::render::{language, render, see_other, LANG_COOKIE};
use crate::http::{ApiError, AppState, Principal};
use crate::i18n::Lang;
use crate::store::{MaterialFilter, Role};

/// `?next=` of the login and language routes.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct NextQuery {
    next: Option<String>,
}

/// A local path to go back to, or `/ui` (never another origin).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.to_owned(),
        _ => "/ui".to_owned(),
    }
}

/// Whether `next` can only mean a path on this server. Browsers drop TAB,
/// CR and LF from URLs and read `\` as `/`, so `/\t/evil` and `/\evil` are
/// other origins: only printable ASCII without backslashes is accepted, no
/// control character or backslash may hide behind a `%XX` escape, and the
/// path must not start with two slashes, written or percent-encoded.
fn is_local_path(next: &str) -> bool {
    let starts_like_another_origin = |path: &str| {
        path.strip_prefix('/')
            .is_none_or(|rest| rest.starts_with(['/', '\\']))
    };
    let decoded = percent_decoded(next);
    next.len() <= 500
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
        && decoded.bytes().all(|b| !b.is_ascii_control() && b != b'\\')
        && !starts_like_another_origin(next)
        && !starts_like_another_origin(&decoded)
}

/// `%XX` escapes decoded once, byte for byte (others kept as written).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /`.
pub async fn front_door() -> Response {
    see_other("/ui")
}

/// `GET /login`.
pub async fn login(headers: HeaderMap, Query(query): Query<NextQuery>) -> Response {
    let lang = language(&headers);
    render(
        lang,
        "login.html",
        json!({"next": safe_next(query.next.as_deref()), "base": Value::Null}),
    )
}

/// `GET /lang/{lang}`: keeps the choice in a cookie and goes back.
pub async fn choose_language(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    Query(query): Query<NextQuery>,
) -> Response {
    let lang = Lang::from_tag(&tag).unwrap_or(Lang::ZhCn);
    let cookie = crate::http::strict_cookie(
        LANG_COOKIE,
        lang.tag().to_owned(),
        false,
        state.config.behind_tls,
        time::Duration::days(365),
    );
    (cookie, see_other(&safe_next(query.next.as_deref()))).into_response()
}

/// `GET /ui`: branch users go to their confirmation page, others to screens.
pub async fn home(principal: Principal) -> Response {
    if principal.role() == Role::Branch {
        see_other("/ui/branch")
    } else {
        see_other("/ui/screens")
    }
}
/// Material titles by id (what people recognise; ids stay in links).
async fn material_titles(state: &AppState) -> Result<HashMap<String, String>, ApiError> {
    Ok(state
        .store
        .list_materials(&MaterialFilter::default())
        .await?
        .into_iter()
        .map(|m| (m.id, m.title))
        .collect())
}

async fn usernames(state: &AppState) -> Result<HashMap<String, String>, ApiError> {
    Ok(state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect())
}
