//! Administration: users and the audit log.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{ApiError, AppState, Principal};
use crate::i18n::Lang;
use crate::web::render::Frame;

/// `GET /ui/users` (admins): the accounts and a form to create one.
pub async fn users(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/users").await?;
    let users = state.store.list_users().await?;
    let sites = state.store.list_sites().await?;
    let locks = crate::http::session::login_locks(&state).await?;
    let site_names: HashMap<&str, &str> = sites
        .iter()
        .map(|s| (s.id.as_str(), s.name.as_str()))
        .collect();
    Ok(frame.render(
        "users.html",
        json!({"users": users, "sites": sites, "site_names": site_names, "locks": locks,
               "me": principal.user.id}),
    ))
}

/// `GET /ui/audit` query: paging and the two filters (empty = all).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AuditQuery {
    before: Option<i64>,
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
}

/// Entries per audit page.
const AUDIT_PAGE: i64 = 100;

/// `GET /ui/audit` (admins).
pub async fn audit(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/audit").await?;
    let lang = frame.lang;
    let (actor, action) = (query.actor.trim(), query.action.trim());
    let entries = state
        .store
        .audit_log_filtered(
            AUDIT_PAGE,
            query.before,
            (!actor.is_empty()).then_some(actor),
            (!action.is_empty()).then_some(action),
        )
        .await?;
    let older = (entries.len() == usize::try_from(AUDIT_PAGE).unwrap_or(usize::MAX))
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let timezone = state.config.reports.timezone.as_str();
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "at": crate::web::words::local_date_time(lang, e.at, timezone),
                "actor": e.actor,
                "action": action_words(lang, &e.action),
                "action_key": e.action,
                "target": e.target,
                "detail": detail_pairs(lang, &e.detail, timezone),
                "remote_addr": e.remote_addr,
            })
        })
        .collect();
    let (actors, actions) = state.store.audit_facets().await?;
    let actions: Vec<Value> = actions
        .iter()
        .map(|a| json!({"key": a, "words": action_words(lang, a)}))
        .collect();
    let filter =
        serde_urlencoded::to_string([("actor", actor), ("action", action)]).unwrap_or_default();
    Ok(frame.render(
        "audit.html",
        json!({
            "entries": rows,
            "older": older,
            "actors": actors,
            "actions": actions,
            "actor": actor,
            "action": action,
            "filter": filter,
        }),
    ))
}

/// An audit action in the page's language (`alert.create` → "Urgent alert published"),
/// or the action itself when the catalogue has no words for it.
fn action_words(lang: Lang, action: &str) -> String {
    let key = format!("audit_do_{}", action.replace(['.', '-'], "_"));
    match lang.text(&key) {
        text if text == key => action.to_owned(),
        text => text.to_owned(),
    }
}

/// An audit entry's detail (JSON text) as `key: value` lines, with
/// instants (`until`, `…_at`) as local dates and lists joined; the text
/// itself when it is not a JSON object.
fn detail_pairs(lang: Lang, detail: &str, timezone: &str) -> Vec<String> {
    fn words(lang: Lang, key: &str, value: &Value, timezone: &str) -> String {
        let instant_key = ["until", "from", "at"].contains(&key) || key.ends_with("_at");
        match value {
            Value::String(s) => s.clone(),
            Value::Number(n)
                if instant_key && n.as_i64().is_some_and(|ms| ms > 1_000_000_000_000) =>
            {
                crate::web::words::local_date_time(lang, n.as_i64().unwrap_or_default(), timezone)
            }
            Value::Array(items) => items
                .iter()
                .map(|v| words(lang, key, v, timezone))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Object(map) => map
                .iter()
                .filter(|(_, v)| !matches!(v, Value::Array(a) if a.is_empty()) && !v.is_null())
                .map(|(k, v)| format!("{k} {}", words(lang, k, v, timezone)))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        }
    }
    match serde_json::from_str::<Value>(detail) {
        Ok(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", words(lang, k, v, timezone)))
            .collect(),
        Ok(Value::Null) => Vec::new(),
        _ if detail.trim().is_empty() || detail.trim() == "{}" => Vec::new(),
        _ => vec![detail.to_owned()],
    }
}
