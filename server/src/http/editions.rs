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

use aide::axum::routing::{get, post};
use axum::extract::{Path, State};
use axum::http::Method;
use axum::Json;
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;
use serde::Serialize;
use serde_json::json;

use super::{limited, route, Access, ApiError, AppState, Principal, Route, APPROVE, STAFF};
use crate::approval::{two_person_rule, Submission};
use crate::config::Config;
use crate::packs::{edition_of, EditionView};
use crate::store::{ApproveOutcome, EditionRow, EditionState, StoredWord};

/// This area's routes (merged into [`super::api_routes`]).
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
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EditionListing {
    #[serde(flatten)]
    row: EditionRow,
    /// Materials by state (`pending`, `approved`, `rejected`, `retired`) and `total`.
    counts: BTreeMap<String, usize>,
    /// Materials by kind (`poster`, `video`, `text`).
    kinds: BTreeMap<String, usize>,
}

async fn with_counts(
    state: &AppState,
    rows: Vec<EditionRow>,
) -> Result<Vec<EditionListing>, ApiError> {
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
                *counts.entry(m.state.as_str().to_owned()).or_insert(0) += 1;
                *counts.entry("total".to_owned()).or_insert(0) += 1;
                *kinds.entry(m.kind.as_str().to_owned()).or_insert(0) += 1;
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Editions {
    /// Every imported edition, newest first, with its counts.
    pub editions: Vec<EditionListing>,
}

/// `GET /api/v1/editions/{id}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EditionDetail {
    /// The edition with its counts.
    pub edition: Option<EditionListing>,
    /// Its materials.
    pub materials: Vec<crate::store::MaterialRow>,
}

/// What approving an edition answers.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EditionApproved {
    /// The edition.
    pub id: String,
    /// Always `current`.
    pub state: String,
    /// The edition it replaced, if any.
    pub superseded: Option<String>,
    /// How many of its materials were approved with it.
    pub materials_approved: u64,
    /// What changes on the screens, in words, per language.
    pub summary: BTreeMap<&'static str, String>,
    /// How many screens change.
    pub screens_changed: usize,
    /// The recompile it asked for.
    pub recompile: crate::recompiler::Pending,
}

/// `GET /api/v1/editions`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Editions>, ApiError> {
    let rows = state.store.list_editions().await?;
    let editions = with_counts(&state, rows).await?;
    Ok(Json(Editions { editions }))
}

/// `GET /api/v1/editions/{id}`.
pub async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EditionDetail>, ApiError> {
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
    Ok(Json(EditionDetail { edition, materials }))
}

/// One material entering or leaving a screen.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
pub struct Moved {
    /// Material id.
    pub id: String,
    /// `poster`, `video` or `text`.
    pub kind: &'static str,
    /// Title.
    pub title: String,
}

/// One screen's change.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ScreenChange {
    /// Screen id.
    pub screen: String,
    /// Its name, as people know it (the id when it has none).
    pub screen_name: String,
    /// Materials it stops showing.
    pub out: Vec<Moved>,
    /// Materials it starts showing.
    #[serde(rename = "in")]
    pub in_: Vec<Moved>,
}

/// The rotation diff of approving an edition.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct InOut {
    /// Leaving.
    pub out: usize,
    /// Entering.
    #[serde(rename = "in")]
    pub in_: usize,
}

/// Material ids each screen shows from `from` on (blocks still running at
/// `from`, and the fallback).
fn shown_from(
    compiled: &[compiler::CompiledScreen],
    from: i64,
) -> BTreeMap<String, BTreeSet<String>> {
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
pub fn summary(
    screens_changed: usize,
    totals: &BTreeMap<&'static str, InOut>,
) -> BTreeMap<&'static str, String> {
    let order = [
        ("poster", "poster", "海报"),
        ("video", "video", "视频"),
        ("text", "text", "文字提示"),
    ];
    let mut en = Vec::new();
    let mut zh = Vec::new();
    for (kind, singular, zh_name) in order {
        if let Some(c) = totals.get(kind).filter(|c| c.out + c.in_ > 0) {
            let s = if c.out == 1 { "" } else { "s" };
            en.push(format!("{} {singular}{s} out, {} in", c.out, c.in_));
            zh.push(format!("{zh_name}下线 {} 个、上线 {} 个", c.out, c.in_));
        }
    }
    let screens_en = if screens_changed == 1 {
        "screen changes"
    } else {
        "screens change"
    };
    let (en, zh) = if screens_changed == 0 {
        ("no screen changes".to_owned(), "没有屏幕会变化".to_owned())
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
    let model = crate::applied::stored_model(state, now).await?;
    let before_catalog = crate::applied::catalog_with(state, &stored).await?;
    let after_catalog = crate::applied::catalog_with(state, &after_view).await?;
    let (before, after, compiled) = match &model {
        None => (BTreeMap::new(), BTreeMap::new(), 0),
        Some((model, _)) => {
            let r = &state.config.rotations;
            let window = compiler::Window::hours(
                crate::recompiler::compile_instant(now),
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
            kind: m.map_or("poster", |m| m.kind.as_str()),
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
        let screen_name = model
            .as_ref()
            .and_then(|(m, _)| m.screens.iter().find(|s| s.id.as_str() == screen.as_str()))
            .map(|s| s.name.clone())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| screen.clone());
        screens.push(ScreenChange {
            screen: screen.clone(),
            screen_name,
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
    if row.state == EditionState::Superseded {
        return Err(ApiError::conflict(
            format!("edition {id:?} is superseded"),
            "a superseded edition cannot become current again; import a newer edition",
        ));
    }
    let diff = rotation_diff(&state, &id, state.clock.now())
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(diff))
}

/// `POST /api/v1/editions/{id}/approve`.
pub async fn approve(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<EditionApproved>, ApiError> {
    let row = state
        .store
        .edition(&id)
        .await?
        .ok_or_else(|| unknown_edition(&id))?;
    two_person_rule(Submission::Edition, &row.imported_by, &principal.user.id)?;
    let now = state.clock.now();
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
            format!("edition {id:?} is {}, not pending", row.state.as_str()),
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
    let ticket = crate::recompiler::request(&state, "edition approved");
    Ok(Json(EditionApproved {
        id,
        state: "current".to_owned(),
        superseded,
        materials_approved,
        summary: diff.summary,
        screens_changed: diff.screens_changed,
        recompile: crate::recompiler::pending(ticket),
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{header, Method, Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::store::testing::backends;
    use crate::store::Role;

    /// A door screen (full colour, stills and scroll) whose default loop is
    /// the current edition's posters and texts for bank doors.
    const SITE: &str = r#"
[settings]
timezone = "Asia/Shanghai"
default_playlist = "loop"

[[profiles]]
id = "door"
width = 352
height = 80
color = "full"
scroll = true

[[sites]]
id = "branch"

[[screens]]
id = "door-1"
name = "Main door"
site = "branch"
profile = "door"
tags = ["bank-door"]

[[screens]]
id = "door-2"
site = "branch"
profile = "door"
tags = ["bank-door"]

[[playlists]]
id = "loop"
items = [
  { edition = "current", kind = "poster", tags = ["screen:bank-door"] },
  { edition = "current", kind = "text" },
]

[[playlists]]
id = "transfer"
items = [
  { edition = "current", kind = "text" },
  { material = "gaogang-2026-W48-005" },
]

[[schedules]]
id = "transfer-always"
playlist = "transfer"
tags = ["online-transfer"]
"#;

    /// A second edition: two new warning texts (new content, new hashes).
    const W49: &str = r#"
edition = "gaogang-2026-W49"
publisher = "泰州市高港区反诈中心"
issued = 2026-11-30

[[material]]
kind = "text"
title = "陌生链接不要点"
category = "刷单返利"
text = "陌生人发来的链接、二维码不要点，不要下载陌生APP！"
screens = ["bank-door"]
valid_from = 2026-11-23
valid_until = 2026-12-20

[[material]]
kind = "text"
title = "安全账户是骗局"
category = "冒充公检法"
text = "公检法没有“安全账户”，要求转账的都是诈骗！"
screens = ["bank-door"]
valid_from = 2026-11-23
valid_until = 2026-12-20
"#;

    async fn users(state: &AppState) {
        crate::http::tests::add_users(
            &state.store,
            &[
                ("editor", Role::Editor, vec![]),
                ("approver", Role::Approver, vec![]),
                ("approver2", Role::Approver, vec![]),
            ],
        )
        .await;
    }

    async fn call(state: &AppState, method: Method, uri: &str, actor: &str) -> (StatusCode, Value) {
        let method_name = method.to_string();
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer token-{actor}"))
            .body(Body::empty())
            .unwrap();
        let response = crate::router::app(state.clone())
            .oneshot(request)
            .await
            .unwrap();
        state.compile_lock.settle_all().await;
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        crate::http::schema_tests::check(&method_name, uri, status.as_u16(), &content_type, &bytes);
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn sample_w48() -> ledcast_pack::Pack {
        let zip = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../media/packs/gaogang-2026-W48.zip"
        ))
        .unwrap();
        ledcast_pack::open_zip(&zip, &ledcast_pack::PackLimits::default()).unwrap()
    }

    fn ids(moved: &[Moved]) -> Vec<&str> {
        moved.iter().map(|m| m.id.as_str()).collect()
    }

    #[tokio::test]
    async fn approving_an_edition_shows_its_diff_first_then_supersedes_the_current_one() {
        for db in backends().await {
            let dir = tempfile::tempdir().unwrap();
            let state = crate::http::tests::test_state(&db.store, dir.path()).await;
            users(&state).await;
            let files = [crate::store::PlaylistFile {
                name: "site.toml".into(),
                text: SITE.into(),
            }];
            let applied = crate::apply::apply_files(&state, &files, "editor", false)
                .await
                .unwrap();
            assert!(applied.applied, "{:?}", applied.diagnostics);
            assert!(state
                .store
                .decide_schedule(
                    "transfer-always",
                    crate::store::Verdict::Approved,
                    "approver",
                    1
                )
                .await
                .unwrap());
            crate::packs::import_pack(&state, &sample_w48(), "editor", |_, _, _| {})
                .await
                .unwrap();

            let (status, listed) = call(&state, Method::GET, "/api/v1/editions", "approver").await;
            assert_eq!(status, StatusCode::OK);
            let w48 = &listed["editions"][0];
            assert_eq!(w48["id"], "gaogang-2026-W48");
            assert_eq!(w48["state"], "pending");
            assert_eq!(w48["publisher"], "泰州市高港区反诈中心");
            assert_eq!(w48["issued"], "2026-11-23");
            assert_eq!(w48["counts"]["pending"], 6, "{listed}");
            assert_eq!(w48["kinds"]["text"], 2, "{listed}");

            // Inside the sample pack's validity (Monday 2026-11-30 10:00 CST).
            let monday = protocol::Timestamp(1_796_004_000_000);
            let diff = rotation_diff(&state, "gaogang-2026-W48", monday)
                .await
                .unwrap();
            assert_eq!(diff.screens_compiled, 2);
            assert_eq!(diff.screens_changed, 2, "{diff:?}");
            let door = &diff.screens[0];
            assert_eq!(door.screen, "door-1");
            // People read the screen's name; a screen without one, its id.
            assert_eq!(door.screen_name, "Main door");
            assert_eq!(diff.screens[1].screen_name, "door-2");
            assert!(door.out.is_empty());
            // bank-door posters: refund-task (001) and fake-police (003); texts 005, 006
            assert_eq!(
                ids(&door.in_),
                [
                    "gaogang-2026-W48-001",
                    "gaogang-2026-W48-003",
                    "gaogang-2026-W48-005",
                    "gaogang-2026-W48-006"
                ]
            );
            assert_eq!(
                diff.summary["en"],
                "2 screens change: 0 posters out, 2 in; 0 texts out, 2 in"
            );
            assert_eq!(
                diff.summary["zh-CN"],
                "2 块屏幕将变化：海报下线 0 个、上线 2 个；文字提示下线 0 个、上线 2 个"
            );
            assert_eq!(
                state
                    .store
                    .edition("gaogang-2026-W48")
                    .await
                    .unwrap()
                    .unwrap()
                    .state,
                EditionState::Pending,
                "the diff stores nothing"
            );
            let (status, body) = call(
                &state,
                Method::GET,
                "/api/v1/editions/gaogang-2026-W48/diff",
                "editor",
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            assert!(body["summary"]["zh-CN"].is_string() && body["summary"]["en"].is_string());

            // Two-person rule: the importer may not approve.
            let (status, body) = call(
                &state,
                Method::POST,
                "/api/v1/editions/gaogang-2026-W48/approve",
                "editor",
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
            let mut w49 = ledcast_pack::open_dir(
                vec![("pack.toml".into(), W49.as_bytes().to_vec())],
                &ledcast_pack::PackLimits::default(),
            )
            .unwrap();
            w49.manifest.edition = "gaogang-2026-W49".into();
            // approver imports W49, so approver may not approve it (approver2 may)
            crate::packs::import_pack(&state, &w49, "approver", |_, _, _| {})
                .await
                .unwrap();
            let (status, body) = call(
                &state,
                Method::POST,
                "/api/v1/editions/gaogang-2026-W48/approve",
                "approver",
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["materials_approved"], 6);
            let (status, _) = call(
                &state,
                Method::POST,
                "/api/v1/editions/gaogang-2026-W48/approve",
                "approver2",
            )
            .await;
            assert_eq!(status, StatusCode::CONFLICT, "approving twice");
            assert_eq!(
                state.store.current_edition().await.unwrap().unwrap().id,
                "gaogang-2026-W48"
            );

            // Before W49's approval: W48's posters and texts leave, W49's texts come.
            let diff = rotation_diff(&state, "gaogang-2026-W49", monday)
                .await
                .unwrap();
            assert_eq!(diff.supersedes.as_deref(), Some("gaogang-2026-W48"));
            let door = &diff.screens[0];
            assert_eq!(
                ids(&door.out),
                [
                    "gaogang-2026-W48-001",
                    "gaogang-2026-W48-003",
                    "gaogang-2026-W48-005",
                    "gaogang-2026-W48-006"
                ]
            );
            assert_eq!(
                ids(&door.in_),
                ["gaogang-2026-W49-001", "gaogang-2026-W49-002"]
            );
            assert_eq!(
                diff.summary["en"],
                "2 screens change: 2 posters out, 0 in; 2 texts out, 2 in"
            );
            let (status, body) = call(
                &state,
                Method::POST,
                "/api/v1/editions/gaogang-2026-W49/approve",
                "approver",
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "W49's importer: {body}");
            let (status, body) = call(
                &state,
                Method::POST,
                "/api/v1/editions/gaogang-2026-W49/approve",
                "approver2",
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["superseded"], "gaogang-2026-W48");
            let w48 = state
                .store
                .edition("gaogang-2026-W48")
                .await
                .unwrap()
                .unwrap();
            assert_eq!(w48.state, EditionState::Superseded);
            assert_eq!(w48.superseded_by.as_deref(), Some("gaogang-2026-W49"));

            // Superseded materials retire everywhere: even a playlist naming
            // one directly no longer gets it, from the instant of supersession.
            let catalog = crate::applied::catalog(&state).await.unwrap();
            assert_eq!(catalog.current_edition(), Some("gaogang-2026-W49"));
            let old = catalog.get("gaogang-2026-W48-001").unwrap();
            assert_eq!(old.valid_until, w48.superseded_at);
            assert!(old.is_live_at(w48.superseded_at.unwrap() - 1));
            assert!(!old.is_live_at(w48.superseded_at.unwrap()));
            // The warning feed follows: W49's texts, and W48-005 (named
            // directly) until the instant W48 was superseded, not after.
            let cut = w48.superseded_at.unwrap();
            let feed = |t: i64| {
                let state = state.clone();
                async move {
                    crate::http::feed::current_warnings(&state, t)
                        .await
                        .unwrap()
                        .into_iter()
                        .map(|w| w.id)
                        .collect::<BTreeSet<_>>()
                }
            };
            let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
            assert_eq!(
                feed(cut - 1).await,
                ids(&[
                    "gaogang-2026-W49-001",
                    "gaogang-2026-W49-002",
                    "gaogang-2026-W48-005"
                ])
            );
            assert_eq!(
                feed(cut).await,
                ids(&["gaogang-2026-W49-001", "gaogang-2026-W49-002"]),
                "a superseded edition's text leaves the feed at that instant"
            );
            let (_, listed) = call(&state, Method::GET, "/api/v1/editions", "editor").await;
            let states: Vec<(&str, &str)> = listed["editions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["id"].as_str().unwrap(), e["state"].as_str().unwrap()))
                .collect();
            assert_eq!(
                states,
                [
                    ("gaogang-2026-W49", "current"),
                    ("gaogang-2026-W48", "superseded")
                ]
            );
            let (status, _) = call(
                &state,
                Method::GET,
                "/api/v1/editions/gaogang-2026-W48/diff",
                "editor",
            )
            .await;
            assert_eq!(status, StatusCode::CONFLICT);
            db.finish().await;
        }
    }

    #[tokio::test]
    async fn the_daily_expiry_report_is_made_once_per_day_stored_and_audited() {
        for db in backends().await {
            let dir = tempfile::tempdir().unwrap();
            let state = crate::http::tests::test_state(&db.store, dir.path()).await;
            users(&state).await;
            let (status, _) = call(&state, Method::GET, "/api/v1/reports/expiry", "editor").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "no report yet");
            // 2026-11-28 08:00 CST, after the default 07:00 report hour
            let now = 1_795_824_000_000;
            let day = 86_400_000;
            for (id, until) in [("soon", now + 3 * day), ("later", now + 8 * day)] {
                let meta = crate::materials::MaterialMeta {
                    id: id.into(),
                    title: format!("title {id}"),
                    tags: vec!["冒充客服".into()],
                    source: "test".into(),
                    valid_from: Some(now - day),
                    valid_until: Some(until),
                    is_warning: true,
                };
                crate::materials::import_material(
                    &state,
                    "w.txt",
                    format!("提醒 {id}").into_bytes(),
                    meta,
                    "editor",
                )
                .await
                .unwrap();
                assert!(state
                    .store
                    .decide_material(
                        id,
                        crate::store::MaterialState::Pending,
                        crate::store::MaterialState::Approved,
                        "approver",
                        now
                    )
                    .await
                    .unwrap());
            }
            assert!(
                crate::expiry::produce_if_due(&state, now - 2 * 3_600_000)
                    .await
                    .unwrap()
                    .is_none(),
                "06:00: not due yet"
            );
            let report = crate::expiry::produce_if_due(&state, now)
                .await
                .unwrap()
                .expect("due at 08:00");
            assert_eq!(report["day"], "2026-11-28");
            assert_eq!(report["count"], 1);
            assert_eq!(report["materials"][0]["id"], "soon");
            assert!(
                crate::expiry::produce_if_due(&state, now + 3_600_000)
                    .await
                    .unwrap()
                    .is_none(),
                "once a day"
            );
            let (status, latest) =
                call(&state, Method::GET, "/api/v1/reports/expiry", "approver").await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(latest["day"], "2026-11-28");
            assert_eq!(latest["report"]["materials"][0]["id"], "soon");
            let audit = state.store.audit_log(10, None).await.unwrap();
            assert!(
                audit
                    .iter()
                    .any(|a| a.action == "report.expiry" && a.target == "2026-11-28"),
                "{audit:?}"
            );
            let tomorrow = crate::expiry::produce_if_due(&state, now + day)
                .await
                .unwrap()
                .expect("the next day's report");
            assert_eq!(tomorrow["day"], "2026-11-29");
            db.finish().await;
        }
    }

    #[tokio::test]
    async fn the_daily_expiry_report_is_posted_to_the_configured_webhook() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let db = crate::store::testing::sqlite().await;
        let dir = tempfile::tempdir().unwrap();
        let mut state = crate::http::tests::test_state(&db.store, dir.path()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = (*state.config).clone();
        config.reports.expiry_webhook_url = Some(format!("http://{addr}/hook"));
        state.config = Arc::new(config);
        let received = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request);
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length: usize = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if request.len() >= head_end + 4 + length || n == 0 {
                        break;
                    }
                }
            }
            socket
                .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(request).unwrap()
        });
        let now = 1_795_824_000_000; // 2026-11-28 08:00 CST
        let report = crate::expiry::produce_if_due(&state, now)
            .await
            .unwrap()
            .expect("due");
        let request = tokio::time::timeout(std::time::Duration::from_secs(10), received)
            .await
            .expect("the webhook was called")
            .unwrap();
        assert!(request.starts_with("POST /hook HTTP/1.1"), "{request}");
        assert!(request
            .to_ascii_lowercase()
            .contains("content-type: application/json"));
        let body = &request[request.find("\r\n\r\n").unwrap() + 4..];
        let posted: Value = serde_json::from_str(body).unwrap();
        assert_eq!(posted, report);
        assert_eq!(posted["day"], "2026-11-28");
        db.finish().await;
    }

    #[test]
    fn the_summary_speaks_both_languages() {
        let totals = BTreeMap::from([
            ("poster", InOut { out: 12, in_: 14 }),
            ("text", InOut { out: 0, in_: 0 }),
        ]);
        let s = summary(37, &totals);
        assert_eq!(s["en"], "37 screens change: 12 posters out, 14 in");
        assert_eq!(s["zh-CN"], "37 块屏幕将变化：海报下线 12 个、上线 14 个");
        let one = summary(1, &BTreeMap::from([("video", InOut { out: 1, in_: 0 })]));
        assert_eq!(one["en"], "1 screen changes: 1 video out, 0 in");
        let none = summary(0, &BTreeMap::new());
        assert_eq!(none["en"], "no screen changes");
    }
}
