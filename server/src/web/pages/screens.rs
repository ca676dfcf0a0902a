//! Screens and sites: the fleet by site, one site, one screen with what it
//! plays now, its screenshots and its week.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Datelike;
use ledcast_protocol::v1 as protocol;
use serde_json::{json, Value};

use super::material_titles;
use crate::http::{ApiError, AppState, Principal};
use crate::store::{ScreenPresence, ScreenRow};
use crate::web::render::Frame;

fn decode_rotation(state: &AppState, envelope: &[u8]) -> Option<protocol::Rotation> {
    let trusted = protocol::TrustedKey::new(state.signing_key.verifying_key());
    protocol::open::<protocol::Rotation>(envelope, &trusted).ok()
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

/// Everything the screen list shows about one screen, and its presence
/// (for counting).
async fn screen_summary(
    state: &AppState,
    screen: &ScreenRow,
    now: protocol::Timestamp,
    titles: &HashMap<String, String>,
) -> Result<(ScreenPresence, Value), ApiError> {
    let screen_state = state.store.screen_state(&screen.id).await?;
    let presence = screen_state
        .as_ref()
        .map_or(ScreenPresence::Never, |s| s.status);
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
    let summary = json!({
        "screen": screen,
        "status": presence,
        "last_seen_at": screen_state.as_ref().map(|s| s.last_seen_at),
        "desired_version": desired,
        "reported_version": reported,
        "in_step": desired.is_some() && desired.map(|d| d as i64) == reported,
        "state": screen_state,
        "now_playing": playing,
        "screenshot": screenshot,
    });
    Ok((presence, summary))
}

pub(super) async fn site_groups(
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
        let (mut rows, mut online) = (Vec::new(), 0);
        for screen in screens.iter().filter(|s| s.site_id == site.id) {
            let (presence, summary) = screen_summary(state, screen, now, &titles).await?;
            online += usize::from(presence == ScreenPresence::Online);
            rows.push(summary);
        }
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
    let (_, summary) = screen_summary(&state, &screen, now, &titles).await?;
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
    let brightness = crate::web::brightness::of_screen(&state, &screen).await?;
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
