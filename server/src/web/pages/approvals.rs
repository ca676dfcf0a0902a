//! The approval queue (with what approving a schedule would change), urgent
//! alerts and library editions.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

use super::library::{material_rows, schedule_entry, schedule_when};
use super::usernames;
use crate::http::{ApiError, AppState, Principal};
use crate::i18n::Lang;
use crate::store::{MaterialFilter, MaterialState};
use crate::web::render::Frame;
use crate::web::words;

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
