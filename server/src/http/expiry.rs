//! `GET /api/v1/materials/expiring?days=7`: the daily expiry report —
//! approved materials whose `valid_until` falls within the next N days,
//! soonest first, so editors can line up replacements.
//!
//! It does not retire anything (the compiler already cuts a material at its
//! `valid_until`) and does not send notifications.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::extract::StrictQuery;
use super::{ApiError, AppState};

/// Most days the report looks ahead.
pub const MAX_DAYS: u32 = 366;

/// Query of the report.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiringQuery {
    /// Look-ahead in days (default 7, 1 to [`MAX_DAYS`]).
    days: Option<u32>,
}

/// The report window `[now, now + days)` in ms.
pub fn window(now: i64, days: u32) -> (i64, i64) {
    (now, now.saturating_add(i64::from(days) * 86_400_000))
}

/// `GET /api/v1/materials/expiring` (staff).
pub async fn expiring(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<ExpiringQuery>,
) -> Result<Json<Value>, ApiError> {
    let days = query.days.unwrap_or(7);
    if !(1..=MAX_DAYS).contains(&days) {
        return Err(ApiError::bad_request(
            format!("days={days} is out of range"),
            format!("ask for 1 to {MAX_DAYS} days (default 7)"),
        ));
    }
    let (from, until) = window(crate::clock::now().as_millis(), days);
    let materials = state.store.materials_expiring(from, until).await?;
    Ok(Json(json!({
        "days": days,
        "from": from,
        "until": until,
        "materials": materials,
    })))
}
