//! The page handlers: each loads what its page shows (site-scoped through
//! [`Principal`]), and renders one template. None of them changes state.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use ledcast_protocol::v1 as protocol;
use serde::Deserialize;
use serde_json::{json, Value};

use super::render::{language, render, see_other, Frame, LANG_COOKIE};
use super::words::{self, ScheduleWhen};
use crate::http::{ApiError, AppState, Principal};
use crate::i18n::Lang;
use crate::store::{MaterialFilter, MaterialState, Role, ScreenRow};

/// `?next=` of the login and language routes.
#[derive(Debug, Deserialize)]
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

fn decode_rotation(state: &AppState, envelope: &[u8]) -> Option<protocol::Rotation> {
    let trusted = protocol::TrustedKey::new(state.signing_key.verifying_key());
    protocol::open::<protocol::Rotation>(envelope, &trusted).ok()
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

/// What a rotation shows at `now`: material, media and when it ends.
fn now_playing(
    rotation: &protocol::Rotation,
    now: protocol::Timestamp,
    titles: &HashMap<String, String>,
) -> Value {
    let Some(position) = rotation.position_at(now) else {
        return Value::Null;
    };
    let Some(slot) = rotation.slot(&position) else {
        return Value::Null;
    };
    let media = rotation.media.iter().find(|m| m.sha256 == slot.media);
    json!({
        "material_id": slot.material_id,
        "title": titles.get(&slot.material_id),
        "sha256": slot.media.to_hex(),
        "is_image": media.is_some_and(|m| m.mime.starts_with("image/")),
        "is_warning": slot.is_warning,
        "ends_at": position.slot_ends_at.as_millis(),
        "fallback": position.block.is_none(),
    })
}

/// Everything the screen list shows about one screen.
async fn screen_summary(
    state: &AppState,
    screen: &ScreenRow,
    now: protocol::Timestamp,
    titles: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    let screen_state = state.store.screen_state(&screen.id).await?;
    let rotation = state.store.latest_rotation(&screen.id).await?;
    let playing = rotation
        .as_ref()
        .and_then(|r| decode_rotation(state, &r.envelope))
        .map(|r| now_playing(&r, now, titles))
        .unwrap_or(Value::Null);
    let screenshot = state
        .store
        .screenshots(&screen.id)
        .await?
        .into_iter()
        .next();
    let desired = rotation.as_ref().map(|r| r.version);
    let reported = screen_state.as_ref().and_then(|s| s.rotation_version);
    Ok(json!({
        "screen": screen,
        "status": screen_state.as_ref().map(|s| s.status.as_str()).unwrap_or("never"),
        "last_seen_at": screen_state.as_ref().map(|s| s.last_seen_at),
        "desired_version": desired,
        "reported_version": reported,
        "in_step": desired.is_some() && desired.map(|d| d as i64) == reported,
        "state": screen_state,
        "now_playing": playing,
        "screenshot": screenshot,
    }))
}

async fn site_groups(
    state: &AppState,
    principal: &Principal,
    only_site: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    let now = state.clock.now();
    let sites = state.store.list_sites().await?;
    let screens = state.store.list_screens(principal.site_filter()).await?;
    let titles = material_titles(state).await?;
    let mut groups = Vec::new();
    for site in sites
        .iter()
        .filter(|s| principal.sees_site(&s.id))
        .filter(|s| only_site.is_none_or(|only| only == s.id))
    {
        let mut rows = Vec::new();
        for screen in screens.iter().filter(|s| s.site_id == site.id) {
            rows.push(screen_summary(state, screen, now, &titles).await?);
        }
        let online = rows.iter().filter(|r| r["status"] == "online").count();
        groups.push(json!({"site": site, "screens": rows, "online": online}));
    }
    Ok(groups)
}

/// `GET /ui/screens`.
pub async fn screens(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/screens").await?;
    let groups = site_groups(&state, &principal, None).await?;
    Ok(frame.render("screens.html", json!({"groups": groups, "one_site": false})))
}

/// `GET /ui/sites/{id}`.
pub async fn site(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !state.store.list_sites().await?.iter().any(|s| s.id == id) {
        return Err(ApiError::not_found(
            format!("no site {id:?}"),
            "pick a site from the screens page",
        ));
    }
    if !principal.sees_site(&id) {
        return Err(ApiError::forbidden(
            format!("site {id:?} is not one of your sites"),
            "ask an admin to assign you to that site",
        )
        .said_as("err_other_site", serde_json::json!({})));
    }
    let frame = Frame::new(&state, &principal, &headers, "/ui/screens").await?;
    let groups = site_groups(&state, &principal, Some(&id)).await?;
    Ok(frame.render("screens.html", json!({"groups": groups, "one_site": true})))
}

/// The rotation's blocks over the next seven days, by local day.
fn week_calendar(
    rotation: &protocol::Rotation,
    now: protocol::Timestamp,
    tz: &str,
    titles: &HashMap<String, String>,
) -> Vec<Value> {
    let tz: chrono_tz::Tz = tz.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let Some(start) = chrono::DateTime::from_timestamp_millis(now.as_millis()) else {
        return Vec::new();
    };
    let today = start.with_timezone(&tz).date_naive();
    (0..7)
        .map(|offset| {
            let day = today + chrono::Days::new(offset);
            let bounds = |d: chrono::NaiveDate| {
                d.and_hms_opt(0, 0, 0)
                    .and_then(|t| t.and_local_timezone(tz).earliest())
                    .map(|t| t.timestamp_millis())
                    .unwrap_or(0)
            };
            let (from, until) = (bounds(day), bounds(day + chrono::Days::new(1)));
            let mut entries: Vec<Value> = rotation
                .blocks
                .iter()
                .filter(|b| b.from.as_millis() < until && b.until.as_millis() > from)
                .map(|b| {
                    let mut materials: Vec<&str> = b
                        .slots
                        .iter()
                        .map(|s| {
                            titles
                                .get(&s.material_id)
                                .map_or(s.material_id.as_str(), String::as_str)
                        })
                        .collect();
                    materials.dedup();
                    json!({
                        "from": b.from.as_millis().max(from),
                        "until": b.until.as_millis().min(until),
                        "priority": b.priority,
                        "materials": materials,
                    })
                })
                .collect();
            entries.sort_by_key(|e| e["from"].as_i64());
            json!({
                "date": day.format("%m-%d").to_string(),
                "weekday": day.weekday().num_days_from_monday(),
                "entries": entries,
                "beyond_rotation": from >= rotation.expires_at.as_millis(),
            })
        })
        .collect()
}

/// `GET /ui/screens/{id}`.
pub async fn screen(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let screen = principal.screen(&state, &id).await?;
    let frame = Frame::new(&state, &principal, &headers, "/ui/screens").await?;
    let now = state.clock.now();
    let titles = material_titles(&state).await?;
    let summary = screen_summary(&state, &screen, now, &titles).await?;
    let rotation = state
        .store
        .latest_rotation(&id)
        .await?
        .and_then(|r| decode_rotation(&state, &r.envelope));
    let (calendar, loop_items, expires_at) = match &rotation {
        Some(r) => {
            let position = r.position_at(now);
            let slots: Vec<&protocol::Slot> = match position.as_ref().and_then(|p| p.block) {
                Some(b) => r.blocks[b].slots.iter().collect(),
                None => r.fallback.iter().collect(),
            };
            let items: Vec<Value> = slots
                .iter()
                .map(|s| {
                    json!({
                        "material_id": s.material_id,
                        "title": titles.get(&s.material_id),
                        "seconds": s.duration_ms / 1000,
                        "is_warning": s.is_warning,
                        "sha256": s.media.to_hex(),
                        "is_image": r.media.iter().any(|m| m.sha256 == s.media && m.mime.starts_with("image/")),
                    })
                })
                .collect();
            (
                week_calendar(r, now, &screen.timezone, &titles),
                items,
                Some(r.expires_at.as_millis()),
            )
        }
        None => (Vec::new(), Vec::new(), None),
    };
    let screenshots: Vec<_> = state
        .store
        .screenshots(&id)
        .await?
        .into_iter()
        .take(6)
        .collect();
    let site = state
        .store
        .list_sites()
        .await?
        .into_iter()
        .find(|s| s.id == screen.site_id);
    let brightness = super::brightness::of_screen(&state, &screen).await?;
    Ok(frame.render(
        "screen.html",
        json!({
            "s": summary,
            "site": site,
            "brightness": brightness,
            "calendar": calendar,
            "loop_items": loop_items,
            "expires_at": expires_at,
            "screenshots": screenshots,
        }),
    ))
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

/// Material rows with thumbnail, uploader name and whether the viewer uploaded it.
async fn material_rows(
    state: &AppState,
    principal: &Principal,
    filter: &MaterialFilter,
) -> Result<Vec<Value>, ApiError> {
    let materials = state.store.list_materials(filter).await?;
    let renditions = state.store.list_renditions().await?;
    let names = usernames(state).await?;
    Ok(materials
        .into_iter()
        .map(|m| {
            let thumb = renditions
                .iter()
                .filter(|r| r.material_id == m.id && r.mime.starts_with("image/"))
                .max_by_key(|r| r.width * r.height)
                .map(|r| r.sha256.clone());
            let uploader = names
                .get(&m.uploaded_by)
                .cloned()
                .unwrap_or_else(|| m.uploaded_by.clone());
            let own = m.uploaded_by == principal.user.id;
            json!({"m": m, "thumb": thumb, "uploader": uploader, "own": own})
        })
        .collect())
}

/// `GET /ui/materials`.
pub async fn materials(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/materials").await?;
    let rows = material_rows(&state, &principal, &MaterialFilter::default()).await?;
    let max_mib = state.config.limits.upload_max_bytes / 1_048_576;
    Ok(frame.render(
        "materials.html",
        json!({"materials": rows, "upload_max_mib": max_mib}),
    ))
}

/// `GET /ui/materials/{id}`: the material and its rendition on every profile.
pub async fn material(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let material = state.store.material(&id).await?.ok_or_else(|| {
        ApiError::not_found(
            format!("no material {id:?}"),
            "pick one from the material library",
        )
    })?;
    let frame = Frame::new(&state, &principal, &headers, "/ui/materials").await?;
    let profiles = state.store.list_profiles().await?;
    let screens = state.store.list_screens(None).await?;
    let legibility = crate::legibility::material_report(&state, &id)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let renditions = state.store.list_renditions().await?;
    // One box per profile: the rendition as the panel shows it, or why a
    // person could not read it there.
    let previews: Vec<Value> = legibility
        .iter()
        .map(|l| {
            let r = renditions
                .iter()
                .find(|r| r.material_id == id && r.profile_id == l.profile_id);
            let profile = profiles.iter().find(|p| p.id == l.profile_id);
            let on: Vec<&str> = screens
                .iter()
                .filter(|s| s.profile_id == l.profile_id)
                .map(|s| s.name.as_str())
                .collect();
            // Scale small LED bitmaps up so their pixels can be seen.
            let scale = r.map_or(1, |r| (640 / r.width.max(1)).clamp(1, 8));
            json!({
                "r": r,
                "l": l,
                "profile": profile,
                "is_image": r.is_some_and(|r| r.mime.starts_with("image/")),
                "scale": scale,
                "screens": on,
            })
        })
        .collect();
    let names = usernames(&state).await?;
    let uploader = names.get(&material.uploaded_by).cloned();
    let decider = material
        .decided_by
        .as_ref()
        .and_then(|d| names.get(d).cloned());
    let own = material.uploaded_by == principal.user.id;
    Ok(frame.render(
        "material.html",
        json!({"m": material, "previews": previews, "uploader": uploader, "decider": decider, "own": own}),
    ))
}

fn toml_strings(value: &toml::Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A `[[schedules]]` entry's when, as written.
fn schedule_when(s: &toml::Value) -> ScheduleWhen<'_> {
    ScheduleWhen {
        days: s.get("days").and_then(|v| v.as_str()),
        hours: s.get("hours").and_then(|v| v.as_str()),
        overnight: s
            .get("overnight")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        dates: s
            .get("dates")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .collect(),
        cron: s.get("cron").and_then(|v| v.as_str()),
        duration_seconds: s.get("duration_seconds").and_then(|v| v.as_integer()),
    }
}

/// The stored `[[schedules]]` entry with id `id`, as written.
fn schedule_entry(files: &[crate::store::PlaylistFile], id: &str) -> Option<toml::Value> {
    files
        .iter()
        .filter_map(|f| toml::from_str::<toml::Value>(&f.text).ok())
        .flat_map(|doc| {
            doc.get("schedules")
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default()
        })
        .find(|s| s.get("id").and_then(|v| v.as_str()) == Some(id))
}

/// `GET /ui/playlists`: playlists and schedules as written, plus the builder.
pub async fn playlists(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/playlists").await?;
    let files = state.store.playlist_files().await?;
    let titles = material_titles(&state).await?;
    let thumbs: HashMap<String, String> =
        material_rows(&state, &principal, &MaterialFilter::default())
            .await?
            .into_iter()
            .filter_map(|row| {
                let id = row["m"]["id"].as_str()?.to_owned();
                Some((id, row["thumb"].as_str()?.to_owned()))
            })
            .collect();
    let approvals = state.store.list_schedules().await?;
    let names = usernames(&state).await?;
    let mut playlists = Vec::new();
    let mut schedules = Vec::new();
    for file in &files {
        let Ok(doc) = toml::from_str::<toml::Value>(&file.text) else {
            continue;
        };
        for p in doc
            .get("playlists")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            // Each item as a person sees it: a material's thumbnail and
            // title, or what a query picks in words (raw form beside it).
            let items: Vec<Value> = p
                .get("items")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
                .map(|item| match item.get("material").and_then(|m| m.as_str()) {
                    Some(m) => json!({
                        "material": m,
                        "title": titles.get(m).cloned().unwrap_or_else(|| m.to_owned()),
                        "thumb": thumbs.get(m),
                    }),
                    None => json!({
                        "query": words::query_words(frame.lang, item),
                        "raw": item.to_string(),
                    }),
                })
                .collect();
            playlists.push(json!({
                "id": p.get("id").and_then(|v| v.as_str()),
                "name": p.get("name").and_then(|v| v.as_str()),
                "items": items,
                "file": file.name,
            }));
        }
        for s in doc
            .get("schedules")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let id = s.get("id").and_then(|v| v.as_str()).unwrap_or_default();
            let approval = approvals.iter().find(|a| a.id == id);
            let when = schedule_when(s);
            let raw_when = words::schedule_raw(&when);
            let when_words = words::schedule_words(frame.lang, &when);
            schedules.push(json!({
                "id": id,
                "playlist": s.get("playlist").and_then(|v| v.as_str()),
                "when": when_words.unwrap_or_else(|| raw_when.clone()),
                "when_raw": raw_when,
                "priority": s.get("priority").and_then(|v| v.as_integer()).unwrap_or(0),
                "screens": toml_strings(s, "screens"),
                "tags": toml_strings(s, "tags"),
                "sites": toml_strings(s, "sites"),
                "state": approval.map(|a| a.state.as_str()).unwrap_or("pending"),
                "submitted_by": approval.and_then(|a| names.get(&a.submitted_by)),
                "file": file.name,
            }));
        }
    }
    let materials: Vec<Value> = state
        .store
        .list_materials(&MaterialFilter::default())
        .await?
        .into_iter()
        .filter(|m| matches!(m.state, MaterialState::Approved | MaterialState::Pending))
        .map(|m| json!({"id": m.id, "title": m.title, "kind": m.kind, "state": m.state}))
        .collect();
    let screens = state.store.list_screens(None).await?;
    let mut tags: Vec<String> = screens.iter().flat_map(|s| s.tags.clone()).collect();
    tags.sort();
    tags.dedup();
    let sites = state.store.list_sites().await?;
    let site_names: HashMap<&str, &str> = sites
        .iter()
        .map(|s| (s.id.as_str(), s.name.as_str()))
        .collect();
    let screen_names: HashMap<&str, &str> = screens
        .iter()
        .map(|s| (s.id.as_str(), s.name.as_str()))
        .collect();
    // A new schedule starts below every schedule on screens, so that it
    // never wins over them unless its author raises it (and the check then
    // says where).
    let advice = crate::schedule_impact::priority_advice(&files);
    let priority_help = match advice.range {
        Some((lowest, highest)) => frame
            .lang
            .text("builder_priority_help")
            .replace("{lowest}", &lowest.to_string())
            .replace("{highest}", &highest.to_string())
            .replace("{default}", &advice.default.to_string()),
        None => frame.lang.text("builder_priority_help_none").to_owned(),
    };
    let playlist_names: HashMap<String, String> = playlists
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?.to_owned(), p["name"].as_str()?.to_owned())))
        .collect();
    Ok(frame.render(
        "playlists.html",
        json!({
            "default_priority": advice.default,
            "priority_help": priority_help,
            "site_names": site_names,
            "screen_names": screen_names,
            "playlist_names": playlist_names,
            "playlists": playlists,
            "schedules": schedules,
            "materials": materials,
            "tags": tags,
            "sites": sites,
            "screens": screens,
        }),
    ))
}

/// `GET /ui/approvals`: pending materials, and pending schedules with what
/// approving each would change (computed by [`crate::schedule_impact`]).
pub async fn approvals(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/approvals").await?;
    let lang = frame.lang;
    let filter = MaterialFilter {
        state: Some(MaterialState::Pending),
        ..MaterialFilter::default()
    };
    let materials = material_rows(&state, &principal, &filter).await?;
    let names = usernames(&state).await?;
    let now = state.clock.now();
    let files = state.store.playlist_files().await?;
    let library: HashMap<String, Value> =
        material_rows(&state, &principal, &MaterialFilter::default())
            .await?
            .into_iter()
            .map(|row| {
                let m = &row["m"];
                let id = m["id"].as_str().unwrap_or_default().to_owned();
                let view = json!({"id": id, "title": m["title"], "kind": m["kind"],
                                  "state": m["state"], "thumb": row["thumb"]});
                (id, view)
            })
            .collect();
    let site_names: HashMap<String, String> = state
        .store
        .list_sites()
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let screen_names: HashMap<String, String> = state
        .store
        .list_screens(None)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut schedules = Vec::new();
    for s in state
        .store
        .list_schedules()
        .await?
        .into_iter()
        .filter(|s| s.state == crate::store::ScheduleState::Pending)
    {
        let own = s.submitted_by == principal.user.id;
        let by = names.get(&s.submitted_by).cloned();
        let entry = schedule_entry(&files, &s.id);
        let (when, when_raw) = match &entry {
            Some(entry) => {
                let when = schedule_when(entry);
                let raw = words::schedule_raw(&when);
                (
                    words::schedule_words(lang, &when).unwrap_or_else(|| raw.clone()),
                    raw,
                )
            }
            None => (String::new(), String::new()),
        };
        let impact = crate::schedule_impact::of_pending(&state, &s.id, now)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        let impact = impact.map(|i| impact_view(lang, &i, &library, &site_names, &screen_names));
        schedules.push(json!({"s": s, "own": own, "submitted_by": by,
                              "when": when, "when_raw": when_raw, "impact": impact}));
    }
    Ok(frame.render(
        "approvals.html",
        json!({"materials": materials, "schedules": schedules}),
    ))
}

/// Loop slots shown per loop on the approval page (the rest are counted).
const LOOP_SLOTS_SHOWN: usize = 12;

/// A schedule's impact as the approval page shows it: sentences in `lang`,
/// material titles and previews, loops as strips of LED previews.
fn impact_view(
    lang: Lang,
    impact: &crate::schedule_impact::ScheduleImpact,
    library: &HashMap<String, Value>,
    site_names: &HashMap<String, String>,
    screen_names: &HashMap<String, String>,
) -> Value {
    use crate::schedule_impact::{LoopSource, LoopView, NamedScreen};
    let material = |id: &str| {
        library
            .get(id)
            .cloned()
            .unwrap_or_else(|| json!({"id": id, "title": id, "state": "approved"}))
    };
    let source_words = |source: &LoopSource| {
        let key = match source.kind {
            "schedule" => "impact_source_schedule",
            "default" => "impact_source_default",
            "alert" => "impact_source_alert",
            _ => "impact_source_fallback",
        };
        lang.text(key)
            .replace("{name}", &source.playlist_name)
            .replace(
                "{priority}",
                &source.priority.map(|p| p.to_string()).unwrap_or_default(),
            )
    };
    let loop_view = |view: &LoopView| {
        let slots: Vec<Value> = view
            .slots
            .iter()
            .take(LOOP_SLOTS_SHOWN)
            .map(|slot| {
                let m = material(&slot.material);
                json!({"material": slot.material, "title": m["title"], "media": slot.media,
                       "is_image": slot.is_image, "is_warning": slot.is_warning,
                       "inserted": slot.inserted, "seconds": slot.seconds})
            })
            .collect();
        json!({
            "label": source_words(&view.source),
            "kind": view.source.kind,
            "slots": slots,
            "more": view.slots.len().saturating_sub(LOOP_SLOTS_SHOWN),
            "seconds": view.slots.iter().map(|s| s.seconds).sum::<u64>(),
        })
    };
    // Screens by site: "Site A: door, lobby; Site B: atm" (in the catalogue's words).
    let list = |screens: &[NamedScreen]| {
        let mut sites: Vec<(&str, Vec<&str>)> = Vec::new();
        for s in screens {
            match sites.iter_mut().find(|(site, _)| *site == s.site_name) {
                Some((_, names)) => names.push(&s.name),
                None => sites.push((&s.site_name, vec![&s.name])),
            }
        }
        sites
            .iter()
            .map(|(site, names)| {
                lang.text("impact_site_screens")
                    .replace("{site}", site)
                    .replace("{screens}", &names.join(lang.text("words_list_separator")))
            })
            .collect::<Vec<_>>()
            .join(lang.text("impact_sites_separator"))
    };
    let hours = |ms: i64| {
        let hours = ms as f64 / 3_600_000.0;
        if (hours - hours.round()).abs() < 0.05 {
            format!("{hours:.0}")
        } else {
            format!("{hours:.1}")
        }
    };
    let outranks = impact.outranks.as_ref().map(|o| {
        json!({
            "text": lang
                .text("impact_outranks")
                .replace("{priority}", &impact.priority.to_string())
                .replace("{highest}", &o.highest.to_string()),
            "screens": list(&o.screens),
        })
    });
    let screens: Vec<Value> = impact
        .screens
        .iter()
        .filter(|s| !s.changes.is_empty() || s.fails_after)
        .map(|s| {
            let changes: Vec<Value> = s
                .changes
                .iter()
                .map(|c| {
                    json!({
                        "from": words::local_date_time(lang, c.from, &s.timezone),
                        "span": lang
                            .text("impact_span")
                            .replace("{hours}", &hours(c.duration_ms)),
                        "before": loop_view(&c.before),
                        "after": loop_view(&c.after),
                    })
                })
                .collect();
            let replaces: Vec<String> = s.replaces.iter().map(source_words).collect();
            json!({
                "id": s.screen.id,
                "name": s.screen.name,
                "site_name": s.screen.site_name,
                "changes": changes,
                "replaces": replaces.join(lang.text("words_list_separator")),
                "fails_after": s.fails_after,
            })
        })
        .collect();
    let unchanged: Vec<NamedScreen> = impact
        .screens
        .iter()
        .filter(|s| s.changes.is_empty() && !s.fails_after)
        .map(|s| s.screen.clone())
        .collect();
    let targets: Vec<String> = impact
        .targets
        .sites
        .iter()
        .map(|id| site_names.get(id).cloned().unwrap_or_else(|| id.clone()))
        .chain(impact.targets.tags.iter().map(|t| format!("#{t}")))
        .chain(
            impact
                .targets
                .screens
                .iter()
                .map(|id| screen_names.get(id).cloned().unwrap_or_else(|| id.clone())),
        )
        .collect();
    json!({
        "playlist": impact.playlist,
        "playlist_name": impact.playlist_name,
        "priority": impact.priority,
        "targets": targets,
        "materials": impact.materials.iter().map(|id| material(id)).collect::<Vec<_>>(),
        "pending_materials": impact.pending_materials.len(),
        "pending_text": lang
            .text("impact_pending_materials")
            .replace("{n}", &impact.pending_materials.len().to_string()),
        "outranks": outranks,
        "screens": screens,
        "screens_targeted": impact.screens.len(),
        "unchanged": list(&unchanged),
        "unchanged_count": unchanged.len(),
        "summary": lang
            .text("impact_summary")
            .replace("{changed}", &screens.len().to_string())
            .replace("{targeted}", &impact.screens.len().to_string()),
    })
}

/// `GET /ui/alerts`.
pub async fn alerts(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/alerts").await?;
    let now = state.clock.now().as_millis();
    let running = state.store.list_alerts(Some(now)).await?;
    let materials: Vec<Value> = state
        .store
        .list_materials(&MaterialFilter::default())
        .await?
        .into_iter()
        .filter(|m| m.state == MaterialState::Approved)
        .map(|m| json!({"id": m.id, "title": m.title, "kind": m.kind}))
        .collect();
    let screens = state.store.list_screens(None).await?;
    let mut tags: Vec<String> = screens.iter().flat_map(|s| s.tags.clone()).collect();
    tags.sort();
    tags.dedup();
    let sites = state.store.list_sites().await?;
    Ok(frame.render(
        "alerts.html",
        json!({"running": running, "materials": materials, "tags": tags, "sites": sites, "screens": screens,
               // The form's default end, from the server's clock (not the browser's).
               "default_until": now + 2 * 3_600_000}),
    ))
}

/// `GET /ui/editions`: the page; the list and diffs come from the editions API.
pub async fn editions(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/editions").await?;
    Ok(frame.render("editions.html", json!({})))
}

/// The ISO week of `now` in China (`2026-W48`) and its Monday..Sunday.
fn this_week(now: protocol::Timestamp) -> (String, String, String) {
    let today = chrono::DateTime::from_timestamp_millis(now.as_millis())
        .unwrap_or_default()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    week_of(today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday())))
}

/// The ISO week starting on `monday`, its Monday and its Sunday.
fn week_of(monday: chrono::NaiveDate) -> (String, String, String) {
    let iso = monday.iso_week();
    let sunday = monday + chrono::Days::new(6);
    (
        format!("{}-W{:02}", iso.year(), iso.week()),
        monday.format("%Y-%m-%d").to_string(),
        sunday.format("%Y-%m-%d").to_string(),
    )
}

/// `?week=2026-W49` on the branch page.
#[derive(Debug, Deserialize)]
pub struct WeekQuery {
    week: Option<String>,
}

/// The week the branch page shows: the one asked for when it has begun,
/// else this week; with the weeks before and after it (none after this week).
fn shown_week(
    now: protocol::Timestamp,
    asked: Option<&str>,
) -> ((String, String, String), String, Option<String>) {
    let this = this_week(now);
    let this_monday = chrono::NaiveDate::parse_from_str(&this.1, "%Y-%m-%d").unwrap_or_default();
    let monday = asked
        .and_then(crate::compliance::iso_week_days)
        .map(|(monday, _)| monday)
        .filter(|monday| *monday <= this_monday)
        .unwrap_or(this_monday);
    let previous = week_of(monday - chrono::Days::new(7)).0;
    let next = (monday < this_monday).then(|| week_of(monday + chrono::Days::new(7)).0);
    (week_of(monday), previous, next)
}

/// This week's confirmations by screen, oldest first, as a clerk reads
/// them: who by name, when in the site's time zone and the user's language.
async fn confirmation_lines(
    state: &AppState,
    principal: &Principal,
    frame: &Frame,
    week: &str,
) -> Result<HashMap<String, Vec<Value>>, ApiError> {
    let rows = state
        .store
        .confirmations(principal.site_filter(), Some(week), None)
        .await?;
    let names = usernames(state).await?;
    let zones: HashMap<String, String> = state
        .store
        .list_screens(principal.site_filter())
        .await?
        .into_iter()
        .map(|s| (s.id, s.timezone))
        .collect();
    let mut lines: HashMap<String, Vec<Value>> = HashMap::new();
    for row in rows {
        let zone = zones
            .get(&row.screen_id)
            .map_or("Asia/Shanghai", String::as_str);
        lines.entry(row.screen_id.clone()).or_default().push(json!({
            "verdict": row.verdict,
            "by": names.get(&row.confirmed_by).unwrap_or(&row.confirmed_by),
            "at": words::local_date_time(frame.lang, row.confirmed_at, zone),
            "note": row.note,
        }));
    }
    Ok(lines)
}

/// `GET /ui/branch`: a branch user's weekly confirmation page, this week
/// or an earlier one (`?week=2026-W49`).
pub async fn branch(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Query(query): Query<WeekQuery>,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/branch").await?;
    let groups = site_groups(&state, &principal, None).await?;
    let ((week, from, to), previous, next) = shown_week(state.clock.now(), query.week.as_deref());
    let confirmations = confirmation_lines(&state, &principal, &frame, &week).await?;
    Ok(frame.render(
        "branch.html",
        json!({"groups": groups, "week": week, "from": from, "to": to,
               "previous_week": previous, "next_week": next, "confirmations": confirmations}),
    ))
}

/// `GET /ui/reports`: download links per site (and per organisation for staff).
pub async fn reports(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let frame = Frame::new(&state, &principal, &headers, "/ui/reports").await?;
    let sites: Vec<_> = state
        .store
        .list_sites()
        .await?
        .into_iter()
        .filter(|s| principal.sees_site(&s.id))
        .collect();
    let mut organisations: Vec<String> = if principal.role() == Role::Branch {
        Vec::new()
    } else {
        sites.iter().map(|s| s.organisation_id.clone()).collect()
    };
    organisations.sort();
    organisations.dedup();
    let (week, from, to) = this_week(state.clock.now());
    Ok(frame.render(
        "reports.html",
        json!({"sites": sites, "organisations": organisations, "week": week, "from": from, "to": to}),
    ))
}

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
#[derive(Debug, Deserialize)]
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
                "at": super::words::local_date_time(lang, e.at, timezone),
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
                super::words::local_date_time(lang, n.as_i64().unwrap_or_default(), timezone)
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
