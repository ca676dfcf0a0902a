//! The daily expiry report: approved materials whose `valid_until` falls
//! within the next days, soonest first, so editors can line up
//! replacements. The running server produces it **once a day** for the
//! next 7 days ([`daily_task`], at `[reports] expiry_hour` local time in
//! `[reports] timezone`): stored (`GET /api/v1/reports/expiry` answers the
//! latest), written to the audit log (`report.expiry`), and POSTed as JSON
//! to `[reports] expiry_webhook_url` when set. One report per local day,
//! even with several replicas (the store keeps the first).
//!
//! It does not retire anything (the compiler already cuts a material at its
//! `valid_until`). The routes are in `http/expiry.rs`.

use chrono::{NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::state::AppState;
use crate::store::MaterialRow;

/// How far ahead the daily report looks.
pub const DAILY_DAYS: u32 = 7;

/// The first instant after `now` (ms) at which the daily report is due:
/// `hour`:00 local time in `tz`, today if still ahead, else tomorrow. On a
/// day where that local time does not exist (a DST gap) it is the first
/// instant after the gap; where it exists twice, the first.
pub fn next_report_at(now: i64, tz: Tz, hour: u32) -> i64 {
    let hour = hour.min(23);
    let Some(utc) = chrono::DateTime::from_timestamp_millis(now) else {
        return now + 86_400_000;
    };
    let today = utc.with_timezone(&tz).date_naive();
    for offset in 0..3 {
        let date = today + chrono::Duration::days(offset);
        let at = report_instant(date, tz, hour);
        if at > now {
            return at;
        }
    }
    now + 86_400_000
}

/// `hour`:00 on local `date` in `tz` (ms), past a DST gap if need be.
fn report_instant(date: chrono::NaiveDate, tz: Tz, hour: u32) -> i64 {
    let mut local = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default());
    for _ in 0..4 {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.timestamp_millis();
        }
        local += chrono::Duration::minutes(30);
    }
    date.and_time(NaiveTime::default())
        .and_utc()
        .timestamp_millis()
}

/// The local day (`YYYY-MM-DD` in `tz`) whose report is due at `now`, if
/// its hour has come (pure).
pub fn due_day(now: i64, tz: Tz, hour: u32) -> Option<String> {
    let local = chrono::DateTime::from_timestamp_millis(now)?.with_timezone(&tz);
    let date = local.date_naive();
    (report_instant(date, tz, hour.min(23)) <= now).then(|| date.format("%Y-%m-%d").to_string())
}

/// The daily report's JSON for `materials` (those expiring in the window,
/// soonest first) produced at `now` for local day `day` (pure).
pub fn daily_report(day: &str, now: i64, materials: &[MaterialRow]) -> Value {
    let (from, until) = window(now, DAILY_DAYS);
    let rows: Vec<Value> = materials
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "title": m.title,
                "kind": m.kind,
                "edition": crate::packs::edition_of(&m.tags),
                "valid_until": m.valid_until,
                "days_left": m.valid_until.map(|u| (u - now).div_euclid(86_400_000)),
            })
        })
        .collect();
    json!({
        "kind": "expiry",
        "day": day,
        "produced_at": now,
        "days": DAILY_DAYS,
        "from": from,
        "until": until,
        "count": rows.len(),
        "summary": {
            "en": format!("{} approved material(s) expire within {DAILY_DAYS} days", rows.len()),
            "zh-CN": format!("{DAILY_DAYS} 天内到期的已审核素材：{} 个", rows.len()),
        },
        "materials": rows,
    })
}

/// Produces, stores, audits and posts the report of the day due at `now`,
/// unless that day already has one. Returns the report when it made one.
pub async fn produce_if_due(state: &AppState, now: i64) -> anyhow::Result<Option<Value>> {
    let reports = &state.config.reports;
    let tz: Tz = reports
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Asia::Shanghai);
    let Some(day) = due_day(now, tz, reports.expiry_hour) else {
        return Ok(None);
    };
    if state
        .store
        .latest_expiry_report()
        .await?
        .is_some_and(|r| r.day >= day)
    {
        return Ok(None);
    }
    let (from, until) = window(now, DAILY_DAYS);
    let materials = state.store.materials_expiring(from, until).await?;
    let report = daily_report(&day, now, &materials);
    if !state.store.store_expiry_report(&day, now, &report).await? {
        return Ok(None);
    }
    state
        .store
        .audit(
            now,
            "system",
            "report.expiry",
            &day,
            &json!({"count": report["count"], "summary": report["summary"]}),
            None,
        )
        .await?;
    if let Some(url) = reports.expiry_webhook_url.clone() {
        let body = report.to_string();
        let posted = tokio::task::spawn_blocking(move || {
            ureq::post(&url)
                .timeout(std::time::Duration::from_secs(10))
                .set("Content-Type", "application/json")
                .send_string(&body)
                .map(|r| r.status())
                .map_err(|e| e.to_string())
        })
        .await?;
        match posted {
            Ok(status) => tracing::info!(day, status, "expiry report posted to the webhook"),
            Err(error) => tracing::warn!(day, %error, "expiry report webhook failed"),
        }
    }
    tracing::info!(day, count = %report["count"], "daily expiry report produced");
    Ok(Some(report))
}

/// The server's background task: produces the daily report when due
/// (also right after start if today's is due and missing), then sleeps
/// until [`next_report_at`] (at most an hour at a time, so a changed
/// clock is noticed).
pub async fn daily_task(state: AppState, stopping: tokio::sync::watch::Receiver<bool>) {
    let tz: Tz = state
        .config
        .reports
        .timezone
        .parse()
        .unwrap_or(chrono_tz::Asia::Shanghai);
    loop {
        let now = state.clock.now().as_millis();
        if let Err(error) = produce_if_due(&state, now).await {
            tracing::warn!(%error, "could not produce the daily expiry report");
        }
        let now = state.clock.now().as_millis();
        let wait = (next_report_at(now, tz, state.config.reports.expiry_hour) - now)
            .clamp(1_000, 3_600_000);
        let wait = std::time::Duration::from_millis(u64::try_from(wait).unwrap_or(1_000));
        if !crate::clock::pause(&stopping, wait).await {
            return;
        }
    }
}

/// The report window `[now, now + days)` in ms.
pub fn window(now: i64, days: u32) -> (i64, i64) {
    (now, now.saturating_add(i64::from(days) * 86_400_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn the_daily_report_is_due_at_the_local_hour_once_a_day() {
        let shanghai = chrono_tz::Asia::Shanghai;
        assert_eq!(
            next_report_at(ms("2026-11-28T06:59:59.999+08:00"), shanghai, 7),
            ms("2026-11-28T07:00:00+08:00"),
            "later today"
        );
        assert_eq!(
            next_report_at(ms("2026-11-28T07:00:00+08:00"), shanghai, 7),
            ms("2026-11-29T07:00:00+08:00"),
            "at the instant itself: the next one is tomorrow"
        );
        assert_eq!(
            next_report_at(ms("2026-12-31T23:30:00+08:00"), shanghai, 7),
            ms("2027-01-01T07:00:00+08:00"),
            "across the year end"
        );
        // A DST zone: 02:00 does not exist on 2026-03-08 in New York.
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            next_report_at(ms("2026-03-08T00:00:00-05:00"), ny, 2),
            ms("2026-03-08T03:00:00-04:00"),
            "the first instant after the gap"
        );
        assert_eq!(
            next_report_at(ms("2026-11-01T00:30:00-04:00"), ny, 1),
            ms("2026-11-01T01:00:00-04:00"),
            "the first of a repeated hour"
        );
        assert_eq!(due_day(ms("2026-11-28T06:59:59+08:00"), shanghai, 7), None);
        assert_eq!(
            due_day(ms("2026-11-28T07:00:00+08:00"), shanghai, 7).as_deref(),
            Some("2026-11-28")
        );
        assert_eq!(
            due_day(ms("2026-11-28T23:59:59+08:00"), shanghai, 7).as_deref(),
            Some("2026-11-28"),
            "still today's report (the day, in the report's zone)"
        );
    }

    #[test]
    fn the_daily_report_lists_what_it_is_given_with_days_left() {
        let now = ms("2026-11-28T07:00:00+08:00");
        let row = |id: &str, until: i64| MaterialRow {
            id: id.into(),
            sha256: String::new(),
            kind: crate::store::MaterialKind::Poster,
            title: format!("title {id}"),
            tags: vec!["edition:gaogang-2026-W48".into()],
            source: "gaogang-2026-W48".into(),
            mime: "image/png".into(),
            size_bytes: 1,
            width: None,
            height: None,
            duration_ms: None,
            valid_from: None,
            valid_until: Some(until),
            state: crate::store::MaterialState::Approved,
            uploaded_by: "editor".into(),
            uploaded_at: 0,
            decided_by: None,
            decided_at: None,
            is_warning: true,
        };
        let report = daily_report(
            "2026-11-28",
            now,
            &[
                row("a", now + 3_600_000),
                row("b", now + 6 * 86_400_000 + 1),
            ],
        );
        assert_eq!(report["day"], "2026-11-28");
        assert_eq!(report["days"], 7);
        assert_eq!(report["until"], now + 7 * 86_400_000);
        assert_eq!(report["count"], 2);
        assert_eq!(report["materials"][0]["days_left"], 0);
        assert_eq!(report["materials"][1]["days_left"], 6);
        assert_eq!(report["materials"][0]["edition"], "gaogang-2026-W48");
        assert_eq!(
            report["summary"]["en"],
            "2 approved material(s) expire within 7 days"
        );
    }
}
