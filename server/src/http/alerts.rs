//! Urgent alerts: a material shown on targets from now until `until`,
//! pre-empting every schedule; ending one early recompiles at once.
//! The material must exist and not be retired (the compiler only plays
//! approved ones and says so in its diagnostics).

use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::docs::{Created, Status};
use super::extract::StrictJson;
use super::{ApiError, AppState, Principal};
use crate::recompiler::Pending;
use crate::store::AlertRow;

/// Targets of an alert.
#[derive(Debug, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertTargets {
    #[serde(default)]
    screens: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    sites: Vec<String>,
}

/// `POST /api/v1/alerts` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAlert {
    material_id: String,
    targets: AlertTargets,
    /// End, ms since the epoch.
    until: i64,
}

/// `POST /api/v1/alerts` (editor, admin).
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    StrictJson(body): StrictJson<CreateAlert>,
) -> Result<Created<AlertStarted>, ApiError> {
    let now = state.clock.now().as_millis();
    if body.until <= now {
        return Err(ApiError::bad_request(
            "until is not in the future",
            "give the end as milliseconds since the epoch, after now",
        ));
    }
    let t = &body.targets;
    if t.screens.is_empty() && t.tags.is_empty() && t.sites.is_empty() {
        return Err(ApiError::bad_request(
            "an alert needs at least one target",
            "name screens, tags or sites in targets",
        ));
    }
    match state.store.material(&body.material_id).await? {
        Some(m) if m.state.is_live() => {}
        _ => return Err(ApiError::bad_request(
            format!("no usable material {:?}", body.material_id),
            "upload the alert's text or poster first (POST /api/v1/materials) and have it approved",
        )),
    }
    let alert = AlertRow {
        id: crate::auth::random_hex::<6>(),
        material_id: body.material_id,
        targets: serde_json::to_value(&body.targets).unwrap_or_default(),
        starts_at: now,
        until: body.until,
        created_by: principal.user.id.clone(),
        created_at: now,
        ended_at: None,
    };
    state.store.insert_alert(&alert).await?;
    principal
        .audit(
            &state,
            "alert.create",
            &alert.id,
            json!({"material_id": alert.material_id, "targets": alert.targets, "until": alert.until}),
        )
        .await?;
    let ticket = crate::recompiler::request(&state, "alert created");
    Ok(Status(AlertStarted {
        alert,
        recompile: crate::recompiler::pending(ticket),
    }))
}

/// A started alert: the stored alert and the recompile that puts it on glass.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct AlertStarted {
    /// The alert as stored.
    #[serde(flatten)]
    pub alert: AlertRow,
    /// The recompile it asked for.
    pub recompile: Pending,
}

/// An ended alert.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct AlertEnded {
    /// Its id.
    pub id: String,
    /// When it ended (ms since the epoch).
    pub ended_at: i64,
    /// The recompile that takes it off the screens.
    pub recompile: Pending,
}

/// `GET /api/v1/alerts`: the active alerts.
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<AlertRow>>, ApiError> {
    let now = state.clock.now().as_millis();
    Ok(Json(state.store.list_alerts(Some(now)).await?))
}

/// `POST /api/v1/alerts/{id}/end`.
pub async fn end(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<AlertEnded>, ApiError> {
    let now = state.clock.now().as_millis();
    if !state.store.end_alert(&id, now).await? {
        return Err(ApiError::not_found(
            format!("no running alert {id:?}"),
            "list them with GET /api/v1/alerts",
        ));
    }
    principal.audit(&state, "alert.end", &id, json!({})).await?;
    let ticket = crate::recompiler::request(&state, "alert ended");
    Ok(Json(AlertEnded {
        id,
        ended_at: now,
        recompile: crate::recompiler::pending(ticket),
    }))
}

/// `GET /api/v1/recompile`: how far the recompiler got (the alert and
/// approval responses name the ticket to wait for).
pub async fn recompile_progress(
    State(state): State<AppState>,
) -> Json<crate::recompiler::Progress> {
    Json(state.compile_lock.progress())
}
