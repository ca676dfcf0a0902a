//! Library editions: the list, the rotation diff before approval, approval
//! (which supersedes the current edition), and the stored daily expiry
//! report's route.
//!
//! - `GET /api/v1/editions` (staff): every imported edition with its state
//!   (`pending` | `current` | `superseded`) and material counts.
//! - `GET /api/v1/editions/{id}/diff` (staff): compiles every screen twice
//!   at the same instant — as things are, and with `{id}` current (its
//!   pending materials counted as approved, the current edition superseded
//!   now) — and compares what each screen would show from now on. Nothing
//!   is stored.
//! - `POST /api/v1/editions/{id}/approve` (approver, admin): two-person rule
//!   (not the importer); the edition becomes current, the previous one is
//!   superseded (its materials retire at that instant, everywhere), the
//!   edition's pending materials are approved, and screens are recompiled.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use axum::Json;
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;
use serde::Serialize;
use serde_json::{json, Value};

use super::{limited, route, Access, ApiError, AppState, Principal, Route, APPROVE, STAFF};
use crate::config::Config;
use crate::packs::{edition_of, EditionView};
use crate::store::{ApproveOutcome, EditionRow, Role};

/// This area's routes (merged into [`super::route_table`]).
pub(crate) fn routes(config: &Config) -> Vec<Route> {
    let json_max = config.limits.json_max_bytes;
    vec![
        route(
            Method::GET,
            "/api/v1/editions",
            "library editions: id, publisher, issued, imported_at, state (pending|current|superseded), counts",
            Access::Roles(STAFF),
            get(list),
        ),
        route(
            Method::GET,
            "/api/v1/editions/{id}",
            "one library edition with its materials",
            Access::Roles(STAFF),
            get(one),
        ),
        route(
            Method::GET,
            "/api/v1/editions/{id}/diff",
            "what approving the edition would change on each screen (compiled, not stored), with a zh-CN and en summary",
            Access::Roles(STAFF),
            get(diff),
        ),
        route(
            Method::POST,
            "/api/v1/editions/{id}/approve",
            "make the edition current (approver, not its importer): supersedes the current one and approves its materials",
            Access::Roles(APPROVE),
            limited(post(approve), json_max),
        ),
        route(
            Method::GET,
            "/api/v1/reports/expiry",
            "the latest daily expiry report (materials expiring within 7 days), produced by the server once a day",
            Access::Roles(STAFF),
            get(super::expiry::latest_report),
        ),
    ]
}

/// This area's rows of the route × role matrix test.
#[cfg(test)]
pub(crate) fn matrix_rows() -> Vec<super::tests::MatrixRow> {
    use super::tests::{Rule::Roles, APPROVE, STAFF};
    vec![
        ("GET", "/api/v1/editions", "/api/v1/editions", Roles(STAFF)),
        (
            "GET",
            "/api/v1/editions/{id}",
            "/api/v1/editions/none",
            Roles(STAFF),
        ),
        (
            "GET",
            "/api/v1/editions/{id}/diff",
            "/api/v1/editions/none/diff",
            Roles(STAFF),
        ),
        (
            "POST",
            "/api/v1/editions/{id}/approve",
            "/api/v1/editions/none/approve",
            Roles(APPROVE),
        ),
        (
            "GET",
            "/api/v1/reports/expiry",
            "/api/v1/reports/expiry",
            Roles(STAFF),
        ),
    ]
}

/// An edition as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct EditionListing {
    #[serde(flatten)]
    row: EditionRow,
    /// Materials by state (`pending`, `approved`, `rejected`, `retired`) and `total`.
    counts: BTreeMap<String, usize>,
    /// Materials by kind (`poster`, `video`, `text`).
    kinds: BTreeMap<String, usize>,
}

async fn with_counts(state: &AppState, rows: Vec<EditionRow>) -> Result<Vec<EditionListing>, ApiError> {
    let materials = state.store.list_materials(&Default::default()).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut counts = BTreeMap::new();
            let mut kinds = BTreeMap::new();
            for m in materials
                .iter()
                .filter(|m| edition_of(&m.tags).as_deref() == Some(row.id.as_str()))
            {
                *counts.entry(m.state.clone()).or_insert(0) += 1;
                *counts.entry("total".to_owned()).or_insert(0) += 1;
                *kinds.entry(m.kind.clone()).or_insert(0) += 1;
            }
            EditionListing { row, counts, kinds }
        })
        .collect())
}

fn unknown_edition(id: &str) -> ApiError {
    ApiError::not_found(
        format!("no edition {id:?}"),
        "list editions with GET /api/v1/editions; import a pack with POST /api/v1/packs",
    )
}

/// `GET /api/v1/editions`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let rows = state.store.list_editions().await?;
    let editions = with_counts(&state, rows).await?;
    Ok(Json(json!({ "editions": editions })))
}

/// `GET /api/v1/editions/{id}`.
pub async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let row = state
        .store
        .edition(&id)
        .await?
        .ok_or_else(|| unknown_edition(&id))?;
    let edition = with_counts(&state, vec![row]).await?.pop();
    let materials: Vec<_> = state
        .store
        .list_materials(&Default::default())
        .await?
        .into_iter()
        .filter(|m| edition_of(&m.tags).as_deref() == Some(id.as_str()))
        .collect();
    Ok(Json(json!({ "edition": edition, "materials": materials })))
}

/// One material entering or leaving a screen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Moved {
    /// Material id.
    pub id: String,
    /// `poster`, `video` or `text`.
    pub kind: &'static str,
    /// Title.
    pub title: String,
}

/// One screen's change.
#[derive(Debug, Clone, Serialize)]
pub struct ScreenChange {
    /// Screen id.
    pub screen: String,
    /// Materials it stops showing.
    pub out: Vec<Moved>,
    /// Materials it starts showing.
    #[serde(rename = "in")]
    pub in_: Vec<Moved>,
}

/// The rotation diff of approving an edition.
#[derive(Debug, Clone, Serialize)]
pub struct RotationDiff {
    /// The edition that would become current.
    pub edition: String,
    /// The edition it would supersede.
    pub supersedes: Option<String>,
    /// The instant compared (ms): what screens show from here on.
    pub at: i64,
    /// Screens compiled.
    pub screens_compiled: usize,
    /// Screens whose materials change.
    pub screens_changed: usize,
    /// Per changed screen, sorted by id.
    pub screens: Vec<ScreenChange>,
    /// Distinct materials out / in across all screens, by kind.
    pub totals: BTreeMap<&'static str, InOut>,
    /// One sentence per language (`zh-CN`, `en`).
    pub summary: BTreeMap<&'static str, String>,
}

/// Counts of distinct materials leaving and entering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InOut {
    /// Leaving.
    pub out: usize,
    /// Entering.
    #[serde(rename = "in")]
    pub in_: usize,
}

fn kind_name(kind: compiler::MaterialKind) -> &'static str {
    match kind {
        compiler::MaterialKind::Poster => "poster",
        compiler::MaterialKind::Video => "video",
        compiler::MaterialKind::Text => "text",
    }
}

/// Material ids each screen shows from `from` on (blocks still running at
/// `from`, and the fallback).
fn shown_from(compiled: &[compiler::CompiledScreen], from: i64) -> BTreeMap<String, BTreeSet<String>> {
    compiled
        .iter()
        .map(|c| {
            let r = &c.rotation;
            let ids = r
                .blocks
                .iter()
                .filter(|b| b.until.0 > from)
                .flat_map(|b| &b.slots)
                .chain(&r.fallback)
                .map(|s| s.material_id.clone())
                .collect();
            (r.screen_id.as_str().to_owned(), ids)
        })
        .collect()
}

/// The summary sentences for `screens_changed` and `totals` (pure).
pub fn summary(screens_changed: usize, totals: &BTreeMap<&'static str, InOut>) -> BTreeMap<&'static str, String> {
    let order = [("poster", "posters", "海报"), ("video", "videos", "视频"), ("text", "texts", "文字提示")];
    let mut en = Vec::new();
    let mut zh = Vec::new();
    for (kind, plural, zh_name) in order {
        if let Some(c) = totals.get(kind).filter(|c| c.out + c.in_ > 0) {
            en.push(format!("{} {plural} out, {} in", c.out, c.in_));
            zh.push(format!("{zh_name}下线 {} 个、上线 {} 个", c.out, c.in_));
        }
    }
    let screens_en = if screens_changed == 1 { "screen changes" } else { "screens change" };
    let (en, zh) = if screens_changed == 0 {
        (
            "no screen changes".to_owned(),
            "没有屏幕会变化".to_owned(),
        )
    } else {
        (
            format!("{screens_changed} {screens_en}: {}", en.join("; ")),
            format!("{screens_changed} 块屏幕将变化：{}", zh.join("；")),
        )
    };
    BTreeMap::from([("en", en), ("zh-CN", zh)])
}

/// Compiles with `edition` current (nothing stored) and compares with how
/// things are, at the same instant `now`.
pub async fn rotation_diff(
    state: &AppState,
    edition: &str,
    now: protocol::Timestamp,
) -> anyhow::Result<RotationDiff> {
    let stored = EditionView::stored(state).await?;
    let supersedes = stored.current.clone().filter(|c| c != edition);
    let after_view = stored.clone().approving(edition, now.as_millis());
    let model = crate::service::stored_model(state, now).await?;
    let before_catalog = crate::service::catalog_with(state, &stored).await?;
    let after_catalog = crate::service::catalog_with(state, &after_view).await?;
    let (before, after, compiled) = match &model {
        None => (BTreeMap::new(), BTreeMap::new(), 0),
        Some((model, _)) => {
            let r = &state.config.rotations;
            let window = compiler::Window::hours(
                crate::service::compile_instant(now),
                r.horizon_hours,
                r.expires_after_hours,
            );
            let (b, _) = compiler::compile(model, &before_catalog, window);
            let (a, _) = compiler::compile(model, &after_catalog, window);
            (
                shown_from(&b, now.as_millis()),
                shown_from(&a, now.as_millis()),
                model.screens.len(),
            )
        }
    };
    let describe = |id: &str| {
        let m = after_catalog.get(id).or_else(|| before_catalog.get(id));
        Moved {
            id: id.to_owned(),
            kind: m.map_or("poster", |m| kind_name(m.kind)),
            title: m.map(|m| m.title.clone()).unwrap_or_default(),
        }
    };
    let empty = BTreeSet::new();
    let mut screens = Vec::new();
    let mut out_all: BTreeSet<Moved> = BTreeSet::new();
    let mut in_all: BTreeSet<Moved> = BTreeSet::new();
    let ids: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    for screen in ids {
        let b = before.get(screen).unwrap_or(&empty);
        let a = after.get(screen).unwrap_or(&empty);
        let out: Vec<Moved> = b.difference(a).map(|id| describe(id)).collect();
        let in_: Vec<Moved> = a.difference(b).map(|id| describe(id)).collect();
        if out.is_empty() && in_.is_empty() {
            continue;
        }
        out_all.extend(out.iter().cloned());
        in_all.extend(in_.iter().cloned());
        screens.push(ScreenChange {
            screen: screen.clone(),
            out,
            in_,
        });
    }
    let mut totals: BTreeMap<&'static str, InOut> = BTreeMap::new();
    for m in &out_all {
        totals.entry(m.kind).or_default().out += 1;
    }
    for m in &in_all {
        totals.entry(m.kind).or_default().in_ += 1;
    }
    Ok(RotationDiff {
        edition: edition.to_owned(),
        supersedes,
        at: now.as_millis(),
        screens_compiled: compiled,
        screens_changed: screens.len(),
        summary: summary(screens.len(), &totals),
        screens,
        totals,
    })
}

/// `GET /api/v1/editions/{id}/diff`.
pub async fn diff(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RotationDiff>, ApiError> {
    let row = state
        .store
        .edition(&id)
        .await?
        .ok_or_else(|| unknown_edition(&id))?;
    if row.state == "superseded" {
        return Err(ApiError::conflict(
            format!("edition {id:?} is superseded"),
            "a superseded edition cannot become current again; import a newer edition",
        ));
    }
    let diff = rotation_diff(&state, &id, crate::clock::now())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(diff))
}

/// `POST /api/v1/editions/{id}/approve`.
pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    principal.require(&[Role::Admin, Role::Approver])?;
    let row = state
        .store
        .edition(&id)
        .await?
        .ok_or_else(|| unknown_edition(&id))?;
    if row.imported_by == principal.user.id {
        return Err(ApiError::forbidden(
            "you imported this edition, so you cannot approve it",
            "ask another approver (two-person rule)",
        ));
    }
    let now = crate::clock::now();
    // The diff is what the audit log records as the reason screens changed.
    let diff = rotation_diff(&state, &id, now)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let outcome = state
        .store
        .approve_edition(&id, &principal.user.id, now.as_millis())
        .await?;
    let ApproveOutcome::Approved {
        superseded,
        materials_approved,
    } = outcome
    else {
        return Err(ApiError::conflict(
            format!("edition {id:?} is {}, not pending", row.state),
            "only a pending edition can be approved",
        ));
    };
    principal
        .audit(
            &state,
            "edition.approve",
            &id,
            json!({
                "superseded": superseded,
                "materials_approved": materials_approved,
                "screens_changed": diff.screens_changed,
                "summary": diff.summary,
            }),
        )
        .await?;
    crate::service::request_recompile(&state, "edition approved").await;
    Ok((
        StatusCode::OK,
        Json(json!({
            "id": id,
            "state": "current",
            "superseded": superseded,
            "materials_approved": materials_approved,
            "summary": diff.summary,
            "screens_changed": diff.screens_changed,
        })),
    ))
}
