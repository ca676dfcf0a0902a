//! Compliance evaluated from the store: the rules of the applied playlist
//! files, each screen's play records around its opening hours (judged by
//! the pure [`super::evaluate_day`]), and the branch's weekly confirmation
//! with the evidence it was based on. Knows nothing of HTTP: the API
//! (`http/compliance.rs`), the reports and the demo call it.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde_json::json;

use super::{self as calc, ComplianceEntry, DayCompliance, RuleSpec};
use crate::state::AppState;
use crate::store::{
    BranchVerdict, ConfirmError, ConfirmationRow, NewConfirmation, ScreenRow, StoreResult,
};

/// How many of a screen's newest screenshots a confirmation records.
pub const EVIDENCE_SCREENSHOTS: usize = 3;

/// The rules of the applied playlist files, with their targets.
async fn stored_rules(state: &AppState) -> StoreResult<Vec<ledcast_compiler::model::Rule>> {
    Ok(crate::applied::as_written(state).await?.rules)
}

fn rules_for(rules: &[ledcast_compiler::model::Rule], screen: &ScreenRow) -> Vec<RuleSpec> {
    rules
        .iter()
        .filter(|r| {
            r.targets
                .applies_to(&screen.id, &screen.tags, &screen.site_id)
        })
        .map(|r| RuleSpec {
            rule_id: r.id.clone(),
            max_gap_seconds: r.max_gap_seconds,
            min_warning_share: r.min_warning_share,
        })
        .collect()
}

/// The screen's time zone (Shanghai when its stored zone does not parse).
pub fn screen_tz(screen: &ScreenRow) -> Tz {
    screen.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

/// Records from this long before opening to this long after closing are read.
const LOOKBACK_MS: i64 = 60 * 60 * 1000;

/// Compliance of `screens` for every local day in `[from, to]`, at `now`.
pub async fn compute(
    state: &AppState,
    screens: &[ScreenRow],
    from: NaiveDate,
    to: NaiveDate,
    now: i64,
) -> StoreResult<Vec<ComplianceEntry>> {
    let rules = stored_rules(state).await?;
    let mut out = Vec::new();
    for screen in screens {
        let tz = screen_tz(screen);
        let applicable = rules_for(&rules, screen);
        let hours = ledcast_compiler::calendar_text::parse_opening_hours(&screen.opening_hours);
        let mut date = from;
        while date <= to {
            let day = match &hours {
                Ok(hours) => {
                    let windows = calc::opening_windows(hours, tz, date);
                    // Only records around the opening hours matter.
                    let plays = match (windows.first(), windows.last()) {
                        (Some(first), Some(last)) => {
                            state
                                .store
                                .compliance_plays(
                                    &screen.id,
                                    first.0 - LOOKBACK_MS,
                                    last.1 + LOOKBACK_MS,
                                )
                                .await?
                        }
                        _ => Vec::new(),
                    };
                    calc::evaluate_day(&windows, &plays, &applicable, now)
                }
                Err(problem) => unreadable_hours(&applicable, problem),
            };
            out.push(ComplianceEntry {
                screen_id: screen.id.clone(),
                site_id: screen.site_id.clone(),
                date: date.format("%Y-%m-%d").to_string(),
                day,
            });
            date += chrono::Duration::days(1);
        }
    }
    Ok(out)
}

fn unreadable_hours(rules: &[RuleSpec], problem: &str) -> DayCompliance {
    DayCompliance {
        status: calc::Status::Unknown,
        opening_seconds: 0,
        online_seconds: 0,
        missing_seconds: 0,
        longest_gap_seconds: None,
        warning_share: None,
        records: 0,
        evidence_until: None,
        received_until: None,
        rules: rules
            .iter()
            .map(|r| calc::RuleOutcome {
                rule_id: r.rule_id.clone(),
                max_gap_seconds: r.max_gap_seconds,
                min_warning_share: r.min_warning_share,
                holds: None,
            })
            .collect(),
        reasons: vec![calc::Reason {
            code: "opening_hours_unreadable",
            message: format!("the screen's opening hours cannot be read: {problem}"),
            rule_id: None,
            value: None,
            limit: None,
        }],
    }
}

/// A branch's weekly confirmation of one screen, checked by the caller
/// (the week has begun, the verdict is `ok` or `problem` with a note, the
/// photo was uploaded for the screen's site).
#[derive(Debug, Clone, Copy)]
pub struct Confirm<'a> {
    /// The screen.
    pub screen: &'a ScreenRow,
    /// ISO week, `2026-W48`.
    pub week: &'a str,
    /// Its Monday (the caller parsed `week`).
    pub monday: NaiveDate,
    /// Shown as required, or a problem (with a note).
    pub verdict: BranchVerdict,
    /// What the branch wrote.
    pub note: &'a str,
    /// A photo uploaded with `POST /api/v1/confirmations/photos`.
    pub photo_sha256: Option<&'a str>,
    /// The entry this one corrects.
    pub corrects: Option<&'a str>,
    /// The confirming user's id.
    pub by: &'a str,
    /// Now (ms).
    pub now: i64,
}

/// Stores a confirmation with the evidence it is based on as of `now`: the
/// week's compliance figures and the screen's newest screenshots.
pub async fn confirm(state: &AppState, c: &Confirm<'_>) -> Result<ConfirmationRow, ConfirmError> {
    let (monday, sunday) = (c.monday, c.monday + chrono::Duration::days(6));
    let days = compute(state, std::slice::from_ref(c.screen), monday, sunday, c.now).await?;
    let screenshots: Vec<_> = state
        .store
        .screenshots(&c.screen.id)
        .await?
        .into_iter()
        .take(EVIDENCE_SCREENSHOTS)
        .map(
            |s| json!({"sha256": s.sha256, "signed_at": s.signed_at, "received_at": s.received_at}),
        )
        .collect();
    let evidence = json!({
        "computed_at": c.now,
        "compliance": days,
        "screenshots": screenshots,
    });
    let id = format!("cf-{}", crate::auth::random_hex::<8>());
    let tz = screen_tz(c.screen);
    let (period_from, _) = calc::day_bounds(tz, monday);
    let (_, period_until) = calc::day_bounds(tz, sunday);
    state
        .store
        .add_confirmation(&NewConfirmation {
            id: &id,
            screen_id: &c.screen.id,
            site_id: &c.screen.site_id,
            week: c.week,
            period_from,
            period_until,
            verdict: c.verdict,
            note: c.note,
            photo_sha256: c.photo_sha256,
            corrects: c.corrects,
            evidence: &evidence,
            confirmed_by: c.by,
            confirmed_at: c.now,
        })
        .await
}
