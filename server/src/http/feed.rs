//! The public warning feed for online-transfer pages (issue 10):
//! `GET /api/v1/feed/warnings` (JSON with an `ETag`, `Cache-Control:
//! max-age=300`, `304` on `If-None-Match`, CORS only for
//! `[feed] allowed_origins`) and `GET /embed/warning` (a small HTML page a
//! bank's page can frame; no script, its one `<style>` allowed by hash).
//!
//! The feed is a *channel*: it shows what the schedules targeting tag
//! `online-transfer` play at the request instant (see `docs/warning-feed.md`),
//! keeping only approved, anti-fraud, text materials inside their validity
//! (`valid_from <= now < valid_until`, a superseded edition's materials
//! ending when it was superseded), in playlist order. It does not
//! translate: `zh-CN` is the only language the library carries.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::docs::{Documented, JsonBody, Page};
use super::extract::StrictQuery;
use super::{ApiError, AppState};

/// The only channel: warnings shown next to an online transfer.
pub const CHANNEL: &str = "online-transfer";
/// The only language the library's texts are in.
pub const LANG: &str = "zh-CN";
/// How long browsers and proxies may reuse an answer.
pub const MAX_AGE_SECONDS: u32 = 300;

/// Query of both routes.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedQuery {
    /// `online-transfer` (the default).
    channel: Option<String>,
    /// `zh-CN` (the default).
    lang: Option<String>,
}

/// One warning as the feed shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Warning {
    /// Material id (stable across re-imports).
    pub id: String,
    /// Title.
    pub title: String,
    /// The warning text itself.
    pub text: String,
    /// Fraud category tags.
    pub tags: Vec<String>,
    /// Shown from (ms since the epoch), when bounded.
    pub valid_from: Option<i64>,
    /// Shown until, exclusive (ms since the epoch), when bounded.
    pub valid_until: Option<i64>,
}

/// The feed's JSON body.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Feed {
    /// The channel asked for.
    pub channel: &'static str,
    /// The language of the texts.
    pub lang: &'static str,
    /// Current warnings, in the playlist's order.
    pub warnings: Vec<Warning>,
}

fn check_query(query: &FeedQuery) -> Result<(), ApiError> {
    if let Some(channel) = query.channel.as_deref().filter(|c| *c != CHANNEL) {
        return Err(ApiError::bad_request(
            format!("unknown channel {channel:?}"),
            format!("use channel={CHANNEL}"),
        ));
    }
    if let Some(lang) = query.lang.as_deref().filter(|l| *l != LANG) {
        return Err(ApiError::bad_request(
            format!("no warnings in language {lang:?}"),
            format!("use lang={LANG}; the library's texts are in Simplified Chinese"),
        ));
    }
    Ok(())
}

/// The warnings the `online-transfer` channel carries at `now` (ms): the
/// materials of the playlist its active schedule plays (schedules whose
/// `tags` list `online-transfer`, highest priority wins, as on a screen;
/// see [`ledcast_compiler::channel_at`]) that are approved, anti-fraud
/// warnings, text, and valid at `now` (`valid_from <= now < valid_until`,
/// and not of a superseded library edition). No active schedule: none.
pub async fn current_warnings(state: &AppState, now: i64) -> anyhow::Result<Vec<Warning>> {
    let at = ledcast_protocol::v1::Timestamp(now);
    let Some((model, _)) = crate::applied::stored_model(state, at).await? else {
        return Ok(Vec::new());
    };
    let catalog = crate::applied::catalog(state).await?;
    let on = ledcast_compiler::channel_at(&model, &catalog, CHANNEL, now);
    let mut warnings = Vec::new();
    for id in on.materials {
        let Some(m) = state.store.material(&id).await? else {
            continue;
        };
        let live = catalog.get(&id).is_some_and(|c| c.is_live_at(now));
        let started = m.valid_from.is_none_or(|from| from <= now);
        let not_ended = m.valid_until.is_none_or(|until| now < until);
        if !(live
            && m.is_warning
            && m.kind == crate::store::MaterialKind::Text
            && m.state == crate::store::MaterialState::Approved
            && started
            && not_ended)
        {
            continue;
        }
        let Ok(sha) = ledcast_protocol::v1::Sha256::from_hex(&m.sha256) else {
            continue;
        };
        let bytes = state.media.read(&sha).await?;
        let text = String::from_utf8_lossy(&bytes).trim().to_owned();
        warnings.push(Warning {
            id: m.id,
            title: m.title,
            text,
            tags: m.tags,
            valid_from: m.valid_from,
            valid_until: catalog.get(&id).and_then(|c| c.valid_until),
        });
    }
    Ok(warnings)
}

fn etag_of(body: &[u8]) -> String {
    format!("\"{}\"", &crate::digest::sha256_hex(body)[..32])
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// `Access-Control-Allow-Origin` for a configured origin, nothing otherwise.
fn allow_origin(state: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    state
        .config
        .feed
        .allowed_origins
        .iter()
        .any(|allowed| allowed.trim_end_matches('/') == origin)
        .then(|| HeaderValue::from_str(origin).ok())
        .flatten()
}

/// Sends `body` with the cache headers, or 304 when the client has it.
fn cached(
    request_headers: &HeaderMap,
    content_type: &'static str,
    body: Vec<u8>,
    extra: Vec<(header::HeaderName, HeaderValue)>,
) -> Response {
    let etag = etag_of(&body);
    let mut response = if not_modified(request_headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={MAX_AGE_SECONDS}"))
            .unwrap_or(HeaderValue::from_static("max-age=300")),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    for (name, value) in extra {
        headers.insert(name, value);
    }
    response
}

/// `GET /api/v1/feed/warnings` (public).
pub async fn warnings(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<FeedQuery>,
    headers: HeaderMap,
) -> Result<Documented<JsonBody<Feed>>, ApiError> {
    check_query(&query)?;
    let now = state.clock.now().as_millis();
    let feed = Feed {
        channel: CHANNEL,
        lang: LANG,
        warnings: current_warnings(&state, now)
            .await
            .map_err(|e| ApiError::internal(&e))?,
    };
    let body = serde_json::to_vec(&feed).map_err(|e| ApiError::internal(&e))?;
    let mut extra = Vec::new();
    if let Some(origin) = allow_origin(&state, &headers) {
        extra.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin));
        extra.push((
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("ETag"),
        ));
    }
    Ok(Documented::new(cached(
        &headers,
        "application/json",
        body,
        extra,
    )))
}

/// The embed page's only style (allowed by its hash in the CSP).
const EMBED_STYLE: &str = "body{margin:0;font:16px/1.5 system-ui,'PingFang SC','Microsoft YaHei',sans-serif;color:#7a1d00;background:#fff8e6}\
ul{list-style:none;margin:0;padding:.5em .75em;border-left:4px solid #d93a00}\
li{margin:.25em 0}strong{display:block}";

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The embed page for `warnings` (pure).
pub fn embed_html(warnings: &[Warning]) -> String {
    let mut items = String::new();
    for w in warnings {
        items.push_str(&format!(
            "<li><strong>{}</strong>{}</li>",
            escape_html(&w.title),
            escape_html(&w.text)
        ));
    }
    if warnings.is_empty() {
        items.push_str("<li>谨防电信网络诈骗：不听、不信、不转账。</li>");
    }
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>反诈提醒</title><style>{EMBED_STYLE}</style></head>\
         <body><ul aria-label=\"反诈提醒\">{items}</ul></body></html>"
    )
}

/// The embed page's Content-Security-Policy: nothing but its own style;
/// framed only by the configured origins.
pub fn embed_csp(allowed_origins: &[String]) -> String {
    let hash = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(EMBED_STYLE.as_bytes()));
    let origins: Vec<&str> = allowed_origins
        .iter()
        .map(|o| o.trim_end_matches('/'))
        .filter(|o| is_origin(o))
        .collect();
    let ancestors = if origins.is_empty() {
        "'none'".to_owned()
    } else {
        origins.join(" ")
    };
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    )
}

/// `scheme://host[:port]` with nothing a CSP could be bent by.
fn is_origin(origin: &str) -> bool {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    })
}

/// `GET /embed/warning` (public).
pub async fn embed(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<FeedQuery>,
    headers: HeaderMap,
) -> Result<Documented<Page>, ApiError> {
    check_query(&query)?;
    let now = state.clock.now().as_millis();
    let warnings = current_warnings(&state, now)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let csp = embed_csp(&state.config.feed.allowed_origins);
    let csp = HeaderValue::from_str(&csp).map_err(|e| ApiError::internal(&e))?;
    Ok(Documented::new(cached(
        &headers,
        "text/html; charset=utf-8",
        embed_html(&warnings).into_bytes(),
        vec![(header::CONTENT_SECURITY_POLICY, csp)],
    )))
}

/// Test support: applies a tiny site whose `online-transfer` channel plays
/// the `冒充客服` texts all day, and the `刷单返利` texts (higher priority)
/// on 2030-01-01 only; approves both schedules.
#[cfg(test)]
pub(crate) async fn apply_test_channel(state: &AppState) {
    let text = r#"
[settings]
timezone = "Asia/Shanghai"

[[playlists]]
id = "transfer"
items = [{ tags = ["冒充客服"], kind = "text" }]

[[playlists]]
id = "transfer-2030"
items = [{ tags = ["刷单返利"], kind = "text" }]

[[schedules]]
id = "transfer-always"
playlist = "transfer"
tags = ["online-transfer"]

[[schedules]]
id = "transfer-new-year-2030"
playlist = "transfer-2030"
tags = ["online-transfer"]
dates = ["2030-01-01"]
priority = 50
"#;
    let files = [crate::store::PlaylistFile {
        name: "transfer.toml".into(),
        text: text.into(),
    }];
    let outcome = crate::apply::apply_files(state, &files, "editor", false)
        .await
        .unwrap();
    assert!(outcome.applied, "{:?}", outcome.diagnostics);
    for id in ["transfer-always", "transfer-new-year-2030"] {
        assert!(state
            .store
            .decide_schedule(id, crate::store::Verdict::Approved, "approver", 1)
            .await
            .unwrap());
    }
}
