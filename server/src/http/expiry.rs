//! `GET /api/v1/materials/expiring?days=7`: the expiry report on demand,
//! and `GET /api/v1/reports/expiry`: the latest daily one
//! ([`crate::expiry`] produces it).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::extract::StrictQuery;
use super::{ApiError, AppState};
use crate::expiry::window;

/// Most days the report looks ahead.
pub const MAX_DAYS: u32 = 366;

/// Query of the report.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpiringQuery {
    /// Look-ahead in days (default 7, 1 to [`MAX_DAYS`]).
    days: Option<u32>,
}

/// The report: approved materials whose `valid_until` falls in the window.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Expiring {
    /// The look-ahead asked for.
    pub days: u32,
    /// Window start (ms since the epoch).
    pub from: i64,
    /// Window end (ms).
    pub until: i64,
    /// The materials, soonest first.
    pub materials: Vec<crate::store::MaterialRow>,
}

/// `GET /api/v1/materials/expiring` (staff).
pub async fn expiring(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<ExpiringQuery>,
) -> Result<Json<Expiring>, ApiError> {
    let days = query.days.unwrap_or(7);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_request(
            format!("days={days} is out of range"),
            format!("ask for 1 to {MAX_DAYS} days (default 7)"),
        ));
    }
    let (from, until) = window(state.clock.now().as_millis(), days);
    let materials = state.store.materials_expiring(from, until).await?;
    Ok(Json(Expiring {
        days,
        from,
        until,
        materials,
    }))
}

/// `GET /api/v1/reports/expiry` (staff): the latest stored daily report.
pub async fn latest_report(
    State(state): State<AppState>,
) -> Result<Json<crate::store::ExpiryReportRow>, ApiError> {
    match state.store.latest_expiry_report().await? {
        Some(row) => Ok(Json(row)),
        None => Err(ApiError::not_found(
            "no daily expiry report yet",
            "the running server produces one each day shortly after midnight (server time zone); GET /api/v1/materials/expiring?days=7 answers now",
        )),
    }
}
