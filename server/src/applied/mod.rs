//! The applied model, as every compile and preview reads it: the stored
//! playlist files parsed with only approved schedules (or some counted as
//! approved) and the API's alerts, and the compiler's material catalog
//! built from the store.

use std::collections::BTreeMap;

use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;

use crate::state::AppState;

pub mod editions;
pub mod facts;

pub use editions::{edition_of, EditionView};

/// Builds the compiler's material catalog from the store: non-retired
/// materials, approved ones marked approved, with their renditions, and the
/// library editions as stored (see [`crate::applied::EditionView`]).
pub async fn catalog(state: &AppState) -> anyhow::Result<compiler::Catalog> {
    let editions = crate::applied::EditionView::stored(state).await?;
    catalog_with(state, &editions).await
}

/// [`catalog`] with `editions` in place of the stored ones (the rotation
/// diff before an edition's approval compiles with it as current).
pub async fn catalog_with(
    state: &AppState,
    editions: &crate::applied::EditionView,
) -> anyhow::Result<compiler::Catalog> {
    let materials = state.store.list_materials(&Default::default()).await?;
    let renditions = state.store.list_renditions().await?;
    let scrolling: std::collections::BTreeSet<String> = state
        .store
        .list_profiles()
        .await?
        .into_iter()
        .filter(|p| p.can_scroll)
        .map(|p| p.id)
        .collect();
    let text_materials: std::collections::BTreeSet<String> = materials
        .iter()
        .filter(|m| m.kind == compiler::MaterialKind::Text)
        .map(|m| m.id.clone())
        .collect();
    let mut by_material: BTreeMap<String, BTreeMap<String, compiler::Rendition>> = BTreeMap::new();
    for r in renditions {
        let Ok(sha) = protocol::Sha256::from_hex(&r.sha256) else {
            continue;
        };
        let facts: facts::RenditionFacts = r
            .facts
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok())
            .unwrap_or_default();
        let strip_width_px = (text_materials.contains(&r.material_id)
            && scrolling.contains(&r.profile_id))
        .then(|| u32::try_from(r.width).unwrap_or(0));
        let media = protocol::MediaRef {
            sha256: sha,
            size_bytes: u64::try_from(r.size_bytes).unwrap_or(0),
            mime: r.mime.clone(),
            width: u32::try_from(r.width).unwrap_or(0),
            height: u32::try_from(r.height).unwrap_or(0),
        };
        by_material
            .entry(r.material_id.clone())
            .or_default()
            .insert(
                r.profile_id.clone(),
                facts.catalog_rendition(media, strip_width_px),
            );
    }
    let mut refused: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (material, profile, problem) in state.store.list_rendition_refusals().await? {
        if let Ok(problem) = serde_json::from_str::<facts::Problem>(&problem) {
            refused
                .entry(material)
                .or_default()
                .insert(profile, problem.en);
        }
    }
    let out = materials
        .into_iter()
        .filter(|m| m.state.is_live())
        .map(|m| compiler::CatalogMaterial {
            kind: m.kind,
            renditions: by_material.remove(&m.id).unwrap_or_default(),
            refused: refused.remove(&m.id).unwrap_or_default(),
            approved: editions.approved(&m),
            is_warning: m.is_warning,
            added_at: m.uploaded_at,
            duration_ms: m.duration_ms.and_then(|d| u64::try_from(d).ok()),
            category: m.tags.first().cloned(),
            source: Some(m.source.clone()),
            edition: crate::applied::edition_of(&m.tags),
            valid_from: m.valid_from,
            valid_until: editions.valid_until(&m),
            title: m.title.clone(),
            tags: m.tags.clone(),
            id: m.id,
        })
        .collect();
    Ok(compiler::Catalog::new(out).with_current_edition(editions.current.clone()))
}

/// The stored playlist files parsed as written: every schedule, approved
/// or not, and no API alerts. What describes the files (the playlists and
/// rules lists, a screen's brightness windows, compliance rules, which
/// have no approval step); a compile reads [`stored_model`].
pub async fn as_written(state: &AppState) -> crate::store::StoreResult<compiler::Model> {
    Ok(parse_files(&state.store.playlist_files().await?).0)
}

/// `files` parsed by the compiler (stored ones, or a builder's proposal).
pub fn parse_files(
    files: &[crate::store::PlaylistFile],
) -> (compiler::Model, Vec<compiler::Diagnostic>) {
    let inputs: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.name.as_str(), f.text.as_str()))
        .collect();
    compiler::parse(&inputs)
}

/// The stored playlist files parsed, with only approved schedules and the
/// API's alerts active at `now`; `None` when no files are stored.
pub async fn stored_model(
    state: &AppState,
    now: protocol::Timestamp,
) -> anyhow::Result<Option<(compiler::Model, Vec<compiler::Diagnostic>)>> {
    let files = state.store.playlist_files().await?;
    model_of(state, &files, now, &[]).await
}

/// The model a compile of `files` makes at `now`: only approved schedules,
/// plus those in `counted_approved` as if an approver had approved them
/// (what approving them would put on air: [`crate::schedule_impact`]),
/// the last approved version of every other schedule waiting for
/// approval, and the API's alerts; `None` when `files` is empty.
pub async fn model_of(
    state: &AppState,
    files: &[crate::store::PlaylistFile],
    now: protocol::Timestamp,
    counted_approved: &[&str],
) -> anyhow::Result<Option<(compiler::Model, Vec<compiler::Diagnostic>)>> {
    if files.is_empty() {
        return Ok(None);
    }
    let (mut model, diagnostics) = parse_files(files);
    let approved: Vec<String> = state
        .store
        .list_schedules()
        .await?
        .into_iter()
        .filter(|s| s.state == crate::store::ScheduleState::Approved)
        .map(|s| s.id)
        .collect();
    model
        .schedules
        .retain(|s| approved.contains(&s.id) || counted_approved.contains(&s.id.as_str()));
    // A schedule whose change waits for approval (or was rejected) keeps
    // its last approved version on air, playing today's version of the
    // playlist it named then (unless it is counted approved: then its new
    // version replaces it).
    for (id, files) in state.store.previously_approved_schedules().await? {
        if counted_approved.contains(&id.as_str()) {
            continue;
        }
        let (old, _) = parse_files(&files);
        let Some(schedule) = old.schedules.iter().find(|s| s.id == id) else {
            continue;
        };
        let Some(playlist_id) = old.playlists.get(schedule.playlist).map(|p| &p.id) else {
            continue;
        };
        match model.playlists.iter().position(|p| &p.id == playlist_id) {
            Some(playlist) => model.schedules.push(compiler::model::Schedule {
                playlist,
                ..schedule.clone()
            }),
            None => tracing::warn!(
                schedule = %id,
                playlist = %playlist_id,
                "the approved version of a schedule names a playlist that no longer exists; it is off air until the change is approved"
            ),
        }
    }
    add_api_alerts(state, &mut model, now).await?;
    Ok(Some((model, diagnostics)))
}

/// Adds the live API alerts to the model: each gets a one-item playlist
/// `api-alert:<id>` of its material, pre-empting everything on its targets.
async fn add_api_alerts(
    state: &AppState,
    model: &mut compiler::Model,
    now: protocol::Timestamp,
) -> anyhow::Result<()> {
    for alert in state.store.list_alerts(Some(now.as_millis())).await? {
        let list = |key: &str| -> Vec<String> {
            alert.targets[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        model.playlists.push(compiler::model::Playlist {
            id: format!("api-alert:{}", alert.id),
            name: format!("alert {}", alert.id),
            items: vec![compiler::model::Item {
                source: compiler::model::ItemSource::Material(alert.material_id.clone()),
                seconds: None,
                valid_from: None,
                valid_until: None,
                location: Default::default(),
            }],
            location: Default::default(),
        });
        model.alerts.push(compiler::model::Alert {
            id: format!("api-{}", alert.id),
            playlist: model.playlists.len() - 1,
            targets: compiler::model::Targets {
                screens: list("screens"),
                tags: list("tags"),
                sites: list("sites"),
            },
            from: Some(alert.starts_at),
            until: alert.until,
            location: Default::default(),
        });
    }
    Ok(())
}
