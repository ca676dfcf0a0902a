//! The material library (list, one material with its LED previews) and the
//! playlists page (build, schedule, diagnostics).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::{material_titles, usernames};
use crate::http::{ApiError, AppState, Principal};
use crate::store::{MaterialFilter, MaterialState};
use crate::web::render::Frame;
use crate::web::words::{self, ScheduleWhen};

/// Material rows with thumbnail, uploader name and whether the viewer uploaded it.
pub(super) async fn material_rows(
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
pub(super) fn schedule_when(s: &toml::Value) -> ScheduleWhen<'_> {
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
pub(super) fn schedule_entry(
    files: &[crate::store::PlaylistFile],
    id: &str,
) -> Option<toml::Value> {
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
