//! Compliance from play records, branch confirmations and reports.
//!
//! - `GET /api/v1/compliance`: per screen per local day, computed by
//!   [`crate::compliance`] from the stored play records (never the schedule).
//! - `GET|POST /api/v1/confirmations`: the weekly branch sign-off, append-only;
//!   each entry stores the compliance figures and screenshot hashes it was
//!   based on. `POST /api/v1/confirmations/photos` takes a photo through the
//!   media pipeline.
//! - `GET /api/v1/reports/compliance.{csv,pdf}`: per site or organisation.
//!
//! Branch users see and confirm only their own sites' screens.

use axum::extract::{Multipart, Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use chrono::NaiveDate;
use chrono_tz::Tz;
use ledcast_protocol::v1 as protocol;
use serde::Deserialize;
use serde_json::json;

use super::extract::{StrictJson, StrictQuery};
use super::{limited, route, Access, ApiError, AppState, Principal, Route};
use crate::compliance::{self as calc, ComplianceEntry, DayCompliance, RuleSpec};
use crate::compliance_report::{self as report, ListedConfirmation, Report};
use crate::config::Config;
use crate::store::{ConfirmError, ConfirmationRow, NewConfirmation, ScreenRow};

/// The longest date range one request may ask for, in days.
pub const MAX_RANGE_DAYS: i64 = 62;
/// The largest confirmation photo, in bytes.
pub const PHOTO_MAX_BYTES: u64 = 15 * 1024 * 1024;
/// The longest confirmation note, in characters.
pub const NOTE_MAX_CHARS: usize = 2000;
/// How many of a screen's newest screenshots a confirmation records.
pub const EVIDENCE_SCREENSHOTS: usize = 3;

/// This area's routes (merged into [`super::route_table`]).
pub(crate) fn routes(config: &Config) -> Vec<Route> {
    let json_max = config.limits.json_max_bytes;
    vec![
        route(
            Method::GET,
            "/api/v1/compliance",
            "compliance per screen per local day from play records (?site=&screen=&from=YYYY-MM-DD&to=YYYY-MM-DD)",
            Access::SiteScoped,
            get(get_compliance),
        ),
        route(
            Method::GET,
            "/api/v1/confirmations",
            "branch confirmations, oldest first (?site=&week=2026-W48&screen=)",
            Access::SiteScoped,
            get(list_confirmations),
        ),
        route(
            Method::POST,
            "/api/v1/confirmations",
            "confirm a screen for a week: {screen_id, week, verdict: ok|problem, note, photo_sha256?, corrects?}; append-only",
            Access::SiteScoped,
            limited(post(create_confirmation), json_max),
        ),
        route(
            Method::POST,
            "/api/v1/confirmations/photos",
            "upload a photo for a confirmation (multipart field `file`, an image); returns {sha256}",
            Access::SiteScoped,
            limited(post(upload_photo), PHOTO_MAX_BYTES + 64 * 1024),
        ),
        route(
            Method::GET,
            "/api/v1/confirmations/photos/{sha256}",
            "a confirmation photo (to users who see a site whose confirmation uses it, and its uploader)",
            Access::SiteScoped,
            get(get_photo),
        ),
        route(
            Method::GET,
            "/api/v1/reports/compliance.csv",
            "compliance report as CSV, UTF-8 with BOM (?site=|org=&from=&to=&lang=zh-CN|en)",
            Access::SiteScoped,
            get(report_csv),
        ),
        route(
            Method::GET,
            "/api/v1/reports/compliance.pdf",
            "compliance report as a printable PDF with an embedded Chinese font (?site=|org=&from=&to=&lang=)",
            Access::SiteScoped,
            get(report_pdf),
        ),
    ]
}

/// This area's rows of the route × role matrix test.
#[cfg(test)]
pub(crate) fn matrix_rows() -> Vec<super::tests::MatrixRow> {
    use super::tests::Rule::*;
    vec![
        (
            "GET",
            "/api/v1/compliance",
            "/api/v1/compliance?site=site-a&from=2026-12-01&to=2026-12-02",
            SiteA,
        ),
        (
            "GET",
            "/api/v1/confirmations",
            "/api/v1/confirmations?site=site-a",
            SiteA,
        ),
        // The matrix posts `{}`: refused as malformed before any site is known.
        ("POST", "/api/v1/confirmations", "/api/v1/confirmations", AnyUser),
        (
            "POST",
            "/api/v1/confirmations/photos",
            "/api/v1/confirmations/photos",
            AnyUser,
        ),
        (
            "GET",
            "/api/v1/confirmations/photos/{sha256}",
            "/api/v1/confirmations/photos/SHA",
            AnyUser,
        ),
        (
            "GET",
            "/api/v1/reports/compliance.csv",
            "/api/v1/reports/compliance.csv?site=site-a&from=2026-12-01&to=2026-12-02",
            SiteA,
        ),
        (
            "GET",
            "/api/v1/reports/compliance.pdf",
            "/api/v1/reports/compliance.pdf?site=site-a&from=2026-12-01&to=2026-12-02",
            SiteA,
        ),
    ]
}

fn parse_date(field: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(
            format!("{field}={text:?} is not a date"),
            "write dates as YYYY-MM-DD, e.g. from=2026-11-23&to=2026-11-29",
        )
    })
}

fn date_range(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let (from, to) = (parse_date("from", from)?, parse_date("to", to)?);
    if to < from {
        return Err(ApiError::bad_request(
            format!("to={to} is before from={from}"),
            "give from ≤ to",
        ));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::bad_request(
            format!("{from}..{to} is longer than {MAX_RANGE_DAYS} days"),
            format!("ask for at most {MAX_RANGE_DAYS} days at a time"),
        ));
    }
    Ok((from, to))
}

fn forbidden_site(site: &str) -> ApiError {
    ApiError::forbidden(
        format!("site {site:?} is not one of your sites"),
        "ask an admin to assign you to that site",
    )
}

/// The screens a request covers: those of `site` (checked against the
/// principal), of organisation `org`, one `screen`, or all the principal sees.
async fn screens_for(
    state: &AppState,
    principal: &Principal,
    site: Option<&str>,
    org: Option<&str>,
    screen: Option<&str>,
) -> Result<Vec<ScreenRow>, ApiError> {
    if let Some(site) = site {
        if !principal.sees_site(site) {
            return Err(forbidden_site(site));
        }
    }
    let mut screens = state.store.list_screens(principal.site_filter()).await?;
    if let Some(org) = org {
        let sites: Vec<String> = state
            .store
            .list_sites()
            .await?
            .into_iter()
            .filter(|s| s.organisation_id == org)
            .map(|s| s.id)
            .collect();
        screens.retain(|s| sites.contains(&s.site_id));
    }
    if let Some(site) = site {
        screens.retain(|s| s.site_id == site);
    }
    if let Some(screen) = screen {
        let found = principal.screen(state, screen).await?;
        screens.retain(|s| s.id == found.id);
    }
    Ok(screens)
}

fn targets_match(targets: &ledcast_compiler::model::Targets, screen: &ScreenRow) -> bool {
    if targets.screens.iter().any(|s| *s == screen.id) {
        return true;
    }
    if targets.tags.is_empty() && targets.sites.is_empty() {
        return false;
    }
    (targets.tags.is_empty() || targets.tags.iter().any(|t| screen.tags.contains(t)))
        && (targets.sites.is_empty() || targets.sites.contains(&screen.site_id))
}

/// The rules of the applied playlist files, with their targets.
async fn stored_rules(
    state: &AppState,
) -> Result<Vec<ledcast_compiler::model::Rule>, ApiError> {
    let files = state.store.playlist_files().await?;
    let inputs: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f.name.as_str(), f.text.as_str()))
        .collect();
    Ok(ledcast_compiler::parse(&inputs).0.rules)
}

fn rules_for(rules: &[ledcast_compiler::model::Rule], screen: &ScreenRow) -> Vec<RuleSpec> {
    rules
        .iter()
        .filter(|r| targets_match(&r.targets, screen))
        .map(|r| RuleSpec {
            rule_id: r.id.clone(),
            max_gap_seconds: r.max_gap_seconds,
            min_warning_share: r.min_warning_share,
        })
        .collect()
}

fn screen_tz(screen: &ScreenRow) -> Tz {
    screen.timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai)
}

/// Records that started this long before local midnight still count for the day.
const LOOKBACK_MS: i64 = 60 * 60 * 1000;

/// Compliance of `screens` for every local day in `[from, to]`, at `now`.
pub async fn compute(
    state: &AppState,
    screens: &[ScreenRow],
    from: NaiveDate,
    to: NaiveDate,
    now: i64,
) -> Result<Vec<ComplianceEntry>, ApiError> {
    let rules = stored_rules(state).await?;
    let mut out = Vec::new();
    for screen in screens {
        let tz = screen_tz(screen);
        let applicable = rules_for(&rules, screen);
        let hours = calc::parse_opening_hours(&screen.opening_hours);
        let mut date = from;
        while date <= to {
            let (start, end) = calc::day_bounds(tz, date);
            let day = match &hours {
                Ok(hours) => {
                    let windows = calc::opening_windows(hours, tz, date);
                    let plays = if windows.is_empty() {
                        Vec::new()
                    } else {
                        state
                            .store
                            .compliance_plays(&screen.id, start - LOOKBACK_MS, end)
                            .await?
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

/// `GET /api/v1/compliance` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceQuery {
    site: Option<String>,
    screen: Option<String>,
    from: String,
    to: String,
}

/// `GET /api/v1/compliance`.
pub async fn get_compliance(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<ComplianceQuery>,
) -> Result<Response, ApiError> {
    let (from, to) = date_range(&query.from, &query.to)?;
    let screens = screens_for(
        &state,
        &principal,
        query.site.as_deref(),
        None,
        query.screen.as_deref(),
    )
    .await?;
    let now = crate::clock::now().as_millis();
    Ok(Json(compute(&state, &screens, from, to, now).await?).into_response())
}

/// `GET /api/v1/confirmations` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationsQuery {
    site: Option<String>,
    week: Option<String>,
    screen: Option<String>,
}

fn with_corrections(rows: Vec<ConfirmationRow>) -> Vec<ListedConfirmation> {
    let by: std::collections::HashMap<String, String> = rows
        .iter()
        .filter_map(|r| r.corrects.clone().map(|c| (c, r.id.clone())))
        .collect();
    rows.into_iter()
        .map(|entry| ListedConfirmation {
            corrected_by: by.get(&entry.id).cloned(),
            entry,
        })
        .collect()
}

/// `GET /api/v1/confirmations`.
pub async fn list_confirmations(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<ConfirmationsQuery>,
) -> Result<Response, ApiError> {
    if let Some(week) = &query.week {
        parse_week(week)?;
    }
    let mut sites: Option<Vec<String>> = principal.site_filter().map(<[String]>::to_vec);
    if let Some(site) = &query.site {
        if !principal.sees_site(site) {
            return Err(forbidden_site(site));
        }
        sites = Some(vec![site.clone()]);
    }
    if let Some(screen) = &query.screen {
        principal.screen(&state, screen).await?;
    }
    let rows = state
        .store
        .confirmations(
            sites.as_deref(),
            query.week.as_deref(),
            query.screen.as_deref(),
        )
        .await?;
    Ok(Json(with_corrections(rows)).into_response())
}

fn parse_week(week: &str) -> Result<(NaiveDate, NaiveDate), ApiError> {
    calc::iso_week_days(week).ok_or_else(|| {
        ApiError::bad_request(
            format!("week {week:?} is not an ISO week"),
            "write weeks as YYYY-Www, e.g. 2026-W48",
        )
    })
}

/// `POST /api/v1/confirmations` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmationBody {
    screen_id: String,
    week: String,
    verdict: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    photo_sha256: Option<String>,
    /// The entry this one corrects; by default the latest of the screen and week.
    #[serde(default)]
    corrects: Option<String>,
}

fn random_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| ApiError::internal(&e))?;
    Ok(format!("cf-{}", hex::encode(bytes)))
}

/// `POST /api/v1/confirmations`.
pub async fn create_confirmation(
    State(state): State<AppState>,
    principal: Principal,
    StrictJson(body): StrictJson<ConfirmationBody>,
) -> Result<Response, ApiError> {
    let screen = principal.screen(&state, &body.screen_id).await?;
    let (monday, sunday) = parse_week(&body.week)?;
    let tz = screen_tz(&screen);
    let now = crate::clock::now().as_millis();
    let today = ledcast_compiler::calendar::local_date(tz, now);
    if monday > today {
        return Err(ApiError::bad_request(
            format!("week {} has not started yet", body.week),
            "confirm a week that has begun",
        ));
    }
    if !matches!(body.verdict.as_str(), "ok" | "problem") {
        return Err(ApiError::bad_request(
            format!("verdict {:?} is neither \"ok\" nor \"problem\"", body.verdict),
            "send verdict \"ok\" (shown as required) or \"problem\" with a note",
        ));
    }
    let note = body.note.trim();
    if body.verdict == "problem" && note.is_empty() {
        return Err(ApiError::bad_request(
            "a problem needs a note saying what is wrong",
            "describe the problem in `note`",
        ));
    }
    if note.chars().count() > NOTE_MAX_CHARS {
        return Err(ApiError::bad_request(
            format!("the note is longer than {NOTE_MAX_CHARS} characters"),
            "shorten the note",
        ));
    }
    if let Some(photo) = &body.photo_sha256 {
        let digest = protocol::Sha256::from_hex(photo).map_err(|e| {
            ApiError::bad_request(
                e.to_string(),
                "use the sha256 returned by POST /api/v1/confirmations/photos",
            )
        })?;
        if !state.screenshots.contains(&digest).await {
            return Err(ApiError::bad_request(
                format!("no uploaded photo {photo}"),
                "upload it first with POST /api/v1/confirmations/photos",
            ));
        }
    }
    // The evidence this confirmation is based on, as of now.
    let days = compute(&state, std::slice::from_ref(&screen), monday, sunday, now).await?;
    let screenshots: Vec<_> = state
        .store
        .screenshots(&screen.id)
        .await?
        .into_iter()
        .take(EVIDENCE_SCREENSHOTS)
        .map(|s| json!({"sha256": s.sha256, "signed_at": s.signed_at, "received_at": s.received_at}))
        .collect();
    let evidence = json!({
        "computed_at": now,
        "compliance": days,
        "screenshots": screenshots,
    });
    let id = random_id()?;
    let (period_from, _) = calc::day_bounds(tz, monday);
    let (_, period_until) = calc::day_bounds(tz, sunday);
    let stored = state
        .store
        .add_confirmation(&NewConfirmation {
            id: &id,
            screen_id: &screen.id,
            site_id: &screen.site_id,
            week: &body.week,
            period_from,
            period_until,
            verdict: &body.verdict,
            note,
            photo_sha256: body.photo_sha256.as_deref(),
            corrects: body.corrects.as_deref(),
            evidence: &evidence,
            confirmed_by: &principal.user.id,
            confirmed_at: now,
        })
        .await
        .map_err(|e| match e {
            ConfirmError::UnknownCorrected(_) => ApiError::not_found(
                e.to_string(),
                "list the week's confirmations with GET /api/v1/confirmations?week=…",
            ),
            ConfirmError::AlreadyCorrected { .. } => ApiError::conflict(
                e.to_string(),
                "leave `corrects` out to correct the latest entry",
            ),
            ConfirmError::Store(e) => ApiError::from(e),
        })?;
    principal
        .audit(
            &state,
            "confirmation.create",
            &stored.id,
            json!({"screen": stored.screen_id, "week": stored.week, "verdict": stored.verdict,
                   "corrects": stored.corrects}),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(stored)).into_response())
}

/// `POST /api/v1/confirmations/photos`: multipart `file`, an image run
/// through the media pipeline and kept privately (like screenshots).
pub async fn upload_photo(
    State(state): State<AppState>,
    principal: Principal,
    mut multipart: Multipart,
) -> Result<Response, ApiError> {
    let limit = PHOTO_MAX_BYTES;
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit, "the photo")
        } else {
            ApiError::bad_request(
                e.body_text(),
                "send multipart/form-data with a `file` field",
            )
        }
    };
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let declared = field.file_name().unwrap_or("photo").to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(ApiError::too_large(limit, "the photo"));
            }
            bytes.extend_from_slice(&chunk);
        }
        file = Some((declared, bytes));
    }
    let Some((declared, bytes)) = file else {
        return Err(ApiError::bad_request(
            "no `file` field in the upload",
            "send the photo as multipart/form-data field `file`",
        ));
    };
    let ingested = crate::service::ingest_media(&declared, bytes)
        .await
        .map_err(|e| match e {
            crate::service::ImportError::Media(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_media",
                e.to_string(),
                "upload a JPEG, PNG, WebP or GIF photo within the limits",
            ),
            crate::service::ImportError::Store(e) => ApiError::from(e),
            crate::service::ImportError::Other(e) => ApiError::internal(&e),
        })?;
    if ingested.kind != ledcast_media::MaterialKind::Poster {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_media",
            "a confirmation photo must be an image",
            "upload a JPEG, PNG, WebP or GIF photo",
        ));
    }
    let digest = state
        .screenshots
        .put(&ingested.bytes)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    principal
        .audit(
            &state,
            "confirmation.photo",
            &digest.to_hex(),
            json!({"bytes": ingested.bytes.len()}),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "sha256": digest.to_hex(),
            "mime": ingested.mime,
            "width": ingested.width,
            "height": ingested.height,
            "size_bytes": ingested.bytes.len(),
        })),
    )
        .into_response())
}

/// `GET /api/v1/confirmations/photos/{sha256}`.
pub async fn get_photo(
    State(state): State<AppState>,
    principal: Principal,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    let digest = protocol::Sha256::from_hex(&sha).map_err(|e| {
        ApiError::bad_request(e.to_string(), "use a photo_sha256 from a confirmation")
    })?;
    let visible = state
        .store
        .confirmations(principal.site_filter(), None, None)
        .await?
        .into_iter()
        .any(|c| c.photo_sha256.as_deref() == Some(sha.as_str()));
    if !visible || !state.screenshots.contains(&digest).await {
        return Err(ApiError::not_found(
            format!("no confirmation photo {sha} that you may see"),
            "list confirmations with GET /api/v1/confirmations",
        ));
    }
    let bytes = tokio::fs::read(state.screenshots.path_of(&digest))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let mime = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"GIF8") {
        "image/gif"
    } else if bytes.len() >= 12 && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else {
        "image/png"
    };
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, max-age=86400"),
        ],
        bytes,
    )
        .into_response())
}

/// Report query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    site: Option<String>,
    org: Option<String>,
    from: String,
    to: String,
    lang: Option<String>,
}

async fn build_report(
    state: &AppState,
    principal: &Principal,
    query: &ReportQuery,
) -> Result<Report, ApiError> {
    let (from, to) = date_range(&query.from, &query.to)?;
    let (scope_kind, scope_id) = match (&query.site, &query.org) {
        (Some(site), None) => ("site", site.clone()),
        (None, Some(org)) => ("org", org.clone()),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of site= or org=",
                "e.g. /api/v1/reports/compliance.csv?site=icbc-gaogang&from=2026-11-23&to=2026-11-29",
            ))
        }
    };
    let sites = state.store.list_sites().await?;
    if scope_kind == "org" && !sites.iter().any(|s| s.organisation_id == scope_id) {
        return Err(ApiError::not_found(
            format!("no organisation {scope_id:?}"),
            "list sites (and their organisation_id) with GET /api/v1/sites",
        ));
    }
    let screens = screens_for(
        state,
        principal,
        query.site.as_deref(),
        query.org.as_deref(),
        None,
    )
    .await?;
    let now = crate::clock::now().as_millis();
    let entries = compute(state, &screens, from, to, now).await?;
    let screen_ids: Vec<String> = screens.iter().map(|s| s.id.clone()).collect();
    let tz = screens
        .first()
        .map(screen_tz)
        .unwrap_or(chrono_tz::Asia::Shanghai);
    let (range_from, _) = calc::day_bounds(tz, from);
    let (_, range_until) = calc::day_bounds(tz, to);
    let confirmations = state
        .store
        .confirmations_between(&screen_ids, range_from, range_until)
        .await?;
    let users = state.store.list_users().await?;
    let lang = report::Lang::parse(query.lang.as_deref());
    Ok(Report::new(report::ReportInput {
        lang,
        scope_kind,
        scope_id,
        sites,
        screens,
        entries,
        confirmations: with_corrections(confirmations),
        usernames: users.into_iter().map(|u| (u.id, u.username)).collect(),
        from,
        to,
        generated_at: now,
    }))
}

fn attachment(name: &str, ext: &str, query: &ReportQuery) -> String {
    let scope = query
        .site
        .as_deref()
        .or(query.org.as_deref())
        .unwrap_or("all");
    let safe: String = scope
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{name}-{safe}-{}-{}.{ext}\"",
        query.from.replace(|c: char| !c.is_ascii_digit() && c != '-', ""),
        query.to.replace(|c: char| !c.is_ascii_digit() && c != '-', "")
    )
}

/// `GET /api/v1/reports/compliance.csv`.
pub async fn report_csv(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let report = build_report(&state, &principal, &query).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                attachment("compliance", "csv", &query),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        report.csv(),
    )
        .into_response())
}

/// `GET /api/v1/reports/compliance.pdf`.
pub async fn report_pdf(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let report = build_report(&state, &principal, &query).await?;
    let pdf = tokio::task::spawn_blocking(move || report.pdf())
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                attachment("compliance", "pdf", &query),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        pdf,
    )
        .into_response())
}
