//! The branch pages: the weekly confirmation and the compliance reports.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Datelike;
use ledcast_protocol::v1 as protocol;
use serde::Deserialize;
use serde_json::{json, Value};

use super::screens::site_groups;
use super::usernames;
use crate::http::{ApiError, AppState, Principal};
use crate::store::Role;
use crate::web::render::Frame;
use crate::web::words;

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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
