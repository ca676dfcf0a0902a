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

use aide::axum::routing::{get, post};
use axum::extract::{Multipart, Path, State};
use axum::http::{header, Method, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use chrono::NaiveDate;
use ledcast_protocol::v1 as protocol;
use serde::Deserialize;
use serde_json::json;

use super::docs::{Created, Csv, Documented, Pdf, Photo, Status};
use super::extract::{StrictJson, StrictQuery};
use super::{limited, route, Access, ApiError, AppState, Principal, Route};
use crate::compliance::evaluate::{self, compute, screen_tz, Confirm};
use crate::compliance::{self as calc};
use crate::compliance_report::{self as report, ListedConfirmation, Report};
use crate::config::Config;
use crate::store::{BranchVerdict, ConfirmError, ConfirmationRow, ScreenRow, StoredWord};

/// The longest date range one request may ask for, in days.
pub const MAX_RANGE_DAYS: i64 = 62;
/// The largest confirmation photo, in bytes.
pub const PHOTO_MAX_BYTES: u64 = 15 * 1024 * 1024;
/// The longest confirmation note, in characters.
pub const NOTE_MAX_CHARS: usize = 2000;

/// This area's routes (merged into [`super::api_routes`]).
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
        (
            "POST",
            "/api/v1/confirmations",
            "/api/v1/confirmations",
            AnyUser,
        ),
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
    .said_as("err_other_site", serde_json::json!({}))
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

/// `GET /api/v1/compliance` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
) -> Result<Json<Vec<crate::compliance::ComplianceEntry>>, ApiError> {
    let (from, to) = date_range(&query.from, &query.to)?;
    let screens = screens_for(
        &state,
        &principal,
        query.site.as_deref(),
        None,
        query.screen.as_deref(),
    )
    .await?;
    let now = state.clock.now().as_millis();
    Ok(Json(compute(&state, &screens, from, to, now).await?))
}

/// `GET /api/v1/confirmations` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
) -> Result<Json<Vec<ListedConfirmation>>, ApiError> {
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
    Ok(Json(with_corrections(rows)))
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
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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

/// `POST /api/v1/confirmations`.
pub async fn create_confirmation(
    State(state): State<AppState>,
    principal: Principal,
    StrictJson(body): StrictJson<ConfirmationBody>,
) -> Result<Created<ConfirmationRow>, ApiError> {
    let screen = principal.screen(&state, &body.screen_id).await?;
    let (monday, _) = parse_week(&body.week)?;
    let tz = screen_tz(&screen);
    let now = state.clock.now().as_millis();
    let today = ledcast_compiler::calendar::local_date(tz, now);
    if monday > today {
        return Err(ApiError::bad_request(
            format!("week {} has not started yet", body.week),
            "confirm a week that has begun",
        ));
    }
    let Some(verdict) = BranchVerdict::parse(&body.verdict) else {
        return Err(ApiError::bad_request(
            format!(
                "verdict {:?} is neither \"ok\" nor \"problem\"",
                body.verdict
            ),
            "send verdict \"ok\" (shown as required) or \"problem\" with a note",
        ));
    };
    let note = body.note.trim();
    if verdict == BranchVerdict::Problem && note.is_empty() {
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
        let for_this_site = state
            .store
            .confirmation_photo_is_for_site(&digest.to_hex(), &screen.site_id)
            .await?;
        if !for_this_site || !state.screenshots.contains(&digest).await {
            return Err(ApiError::bad_request(
                format!("no photo {photo} uploaded for this screen's site"),
                "upload the photo first with POST /api/v1/confirmations/photos, then use the sha256 it returns",
            ));
        }
    }
    let stored = evaluate::confirm(
        &state,
        &Confirm {
            screen: &screen,
            week: &body.week,
            monday,
            verdict,
            note,
            photo_sha256: body.photo_sha256.as_deref(),
            corrects: body.corrects.as_deref(),
            by: &principal.user.id,
            now,
        },
    )
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
    Ok(Status(stored))
}

/// `POST /api/v1/confirmations/photos`: multipart `file`, an image run
/// through the media pipeline and kept privately (like screenshots).
pub async fn upload_photo(
    State(state): State<AppState>,
    principal: Principal,
    mut multipart: Multipart,
) -> Result<Created<PhotoStored>, ApiError> {
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
    let ingested = crate::materials::ingest_media(&declared, bytes)
        .await
        .map_err(|e| match e {
            crate::materials::ImportError::Media(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_media",
                e.to_string(),
                "upload a JPEG, PNG, WebP or GIF photo within the limits",
            ),
            crate::materials::ImportError::Store(e) => ApiError::from(e),
            other @ (crate::materials::ImportError::Unplayable(_)
            | crate::materials::ImportError::Other(_)) => ApiError::internal(&other),
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
    // The photo belongs to the uploader's sites: only their confirmations
    // may attach it (and so make it visible).
    let sites = match principal.site_filter() {
        Some(sites) => sites.to_vec(),
        None => vec!["*".to_owned()],
    };
    state
        .store
        .record_confirmation_photo(
            &digest.to_hex(),
            &sites,
            &principal.user.id,
            state.clock.now().as_millis(),
        )
        .await?;
    principal
        .audit(
            &state,
            "confirmation.photo",
            &digest.to_hex(),
            json!({"bytes": ingested.bytes.len()}),
        )
        .await?;
    Ok(Status(PhotoStored {
        sha256: digest.to_hex(),
        mime: ingested.mime.to_owned(),
        width: ingested.width,
        height: ingested.height,
        size_bytes: ingested.bytes.len(),
    }))
}

/// A stored confirmation photo.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct PhotoStored {
    /// Its SHA-256: name it as a confirmation's `photo_sha256`.
    pub sha256: String,
    /// Its type after the re-encode.
    pub mime: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size in bytes.
    pub size_bytes: usize,
}

/// `GET /api/v1/confirmations/photos/{sha256}`.
pub async fn get_photo(
    State(state): State<AppState>,
    principal: Principal,
    Path(sha): Path<String>,
) -> Result<Documented<Photo>, ApiError> {
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
    let bytes = state
        .screenshots
        .read(&digest)
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
    Ok(Documented::new(
        (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, "private, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
    ))
}

/// Report query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
        _ => return Err(ApiError::bad_request(
            "give exactly one of site= or org=",
            "e.g. /api/v1/reports/compliance.csv?site=icbc-gaogang&from=2026-11-23&to=2026-11-29",
        )),
    };
    let sites = state.store.list_sites().await?;
    if scope_kind == "site"
        && principal.sees_site(&scope_id)
        && !sites.iter().any(|s| s.id == scope_id)
    {
        return Err(ApiError::not_found(
            format!("no site {scope_id:?}"),
            "list sites with GET /api/v1/sites",
        ));
    }
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
    let now = state.clock.now().as_millis();
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
        query
            .from
            .replace(|c: char| !c.is_ascii_digit() && c != '-', ""),
        query
            .to
            .replace(|c: char| !c.is_ascii_digit() && c != '-', "")
    )
}

/// `GET /api/v1/reports/compliance.csv`.
pub async fn report_csv(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<ReportQuery>,
) -> Result<Documented<Csv>, ApiError> {
    let report = build_report(&state, &principal, &query).await?;
    Ok(Documented::new(
        (
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
            .into_response(),
    ))
}

/// `GET /api/v1/reports/compliance.pdf`.
pub async fn report_pdf(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<ReportQuery>,
) -> Result<Documented<Pdf>, ApiError> {
    let report = build_report(&state, &principal, &query).await?;
    let pdf = tokio::task::spawn_blocking(move || report.pdf())
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Documented::new(
        (
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
            .into_response(),
    ))
}

#[cfg(test)]
mod tests {
    //! The API against hand-made play records, on SQLite and (with
    //! `LEDCAST_TEST_DATABASE_URL`) PostgreSQL.

    use axum::body::Body;
    use axum::http::{header, Method, Request, StatusCode};
    use ledcast_protocol::v1 as protocol;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use crate::http::AppState;
    use crate::store::testing::{backends, TestDb};
    use crate::store::{PlaylistFile, ProfileRow, Role, ScreenRow, SiteRow};

    const MIN: i64 = 60_000;

    struct H {
        state: AppState,
        db: Option<TestDb>,
        _dir: tempfile::TempDir,
    }

    impl H {
        async fn new(db: TestDb) -> H {
            let dir = tempfile::tempdir().unwrap();
            let state = crate::http::tests::test_state(&db.store, dir.path()).await;
            let h = H {
                state,
                db: Some(db),
                _dir: dir,
            };
            h.seed().await;
            h
        }

        fn name(&self) -> &'static str {
            self.db.as_ref().map_or("?", |d| d.name)
        }

        async fn finish(mut self) {
            if let Some(db) = self.db.take() {
                db.finish().await;
            }
        }

        /// Sites a and b (organisation `bank`), screens `screen-a` and
        /// `screen-b` tagged `door`, open 09:00-10:00 every day (Shanghai);
        /// rule `r-door`: gap ≤ 300 s, warnings ≥ 15 %.
        async fn seed(&self) {
            let store = &self.state.store;
            for (site, name) in [("site-a", "工商银行高港支行"), ("site-b", "农业银行")]
            {
                store
                    .upsert_site(
                        &SiteRow {
                            id: site.into(),
                            organisation_id: "bank".into(),
                            name: name.into(),
                        },
                        1,
                    )
                    .await
                    .unwrap();
            }
            store
                .upsert_profile(&ProfileRow {
                    id: "door".into(),
                    width: 352,
                    height: 80,
                    color_class: "mono".into(),
                    can_play_video: false,
                    can_scroll: true,
                })
                .await
                .unwrap();
            for (screen, site) in [("screen-a", "site-a"), ("screen-b", "site-b")] {
                store
                    .upsert_screen(
                        &ScreenRow {
                            id: screen.into(),
                            site_id: site.into(),
                            name: format!("门口屏 {screen}"),
                            profile_id: "door".into(),
                            tags: vec!["door".into()],
                            timezone: "Asia/Shanghai".into(),
                            opening_hours: "mon,tue,wed,thu,fri,sat,sun 09:00-10:00".into(),
                        },
                        1,
                    )
                    .await
                    .unwrap();
            }
            store
                .replace_playlist_files(
                    &[PlaylistFile {
                        name: "rules.toml".into(),
                        text: "[[rules]]\nid = \"r-door\"\ntags = [\"door\"]\n\
                               max_gap_seconds = 300\nmin_warning_share = 0.15\n"
                            .into(),
                    }],
                    "admin",
                    1,
                )
                .await
                .unwrap();
            crate::http::tests::add_users(
                store,
                &[
                    ("admin", Role::Admin, vec![]),
                    ("editor", Role::Editor, vec![]),
                    ("branch-a", Role::Branch, vec!["site-a".to_owned()]),
                    ("branch-b", Role::Branch, vec!["site-b".to_owned()]),
                ],
            )
            .await;
        }

        async fn send(
            &self,
            method: Method,
            uri: &str,
            actor: &str,
            body: Option<Value>,
        ) -> (StatusCode, Vec<u8>) {
            let method_name = method.to_string();
            let path = uri.to_owned();
            let builder = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer token-{actor}"));
            let request = match body {
                Some(b) => builder
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(b.to_string()))
                    .unwrap(),
                None => builder.body(Body::empty()).unwrap(),
            };
            let response = crate::router::app(self.state.clone())
                .oneshot(request)
                .await
                .unwrap();
            // What a change asked of the recompiler is on the rotations.
            self.state.compile_lock.settle_all().await;
            let status = response.status();
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec();
            crate::http::schema_tests::check(
                method_name.as_str(),
                &path,
                status.as_u16(),
                &content_type,
                &bytes,
            );
            (status, bytes)
        }

        async fn json(
            &self,
            method: Method,
            uri: &str,
            actor: &str,
            body: Option<Value>,
        ) -> (StatusCode, Value) {
            let (status, bytes) = self.send(method, uri, actor, body).await;
            (
                status,
                serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            )
        }

        async fn plays(&self, screen: &str, boot: &str, records: Vec<(i64, i64, bool)>) {
            let records: Vec<protocol::PlayRecord> = records
                .into_iter()
                .enumerate()
                .map(|(i, (from, until, warning))| protocol::PlayRecord {
                    seq: i as u64 + 1,
                    media: protocol::Sha256::from_hex(&"ab".repeat(32)).unwrap(),
                    material_id: if warning { "warn" } else { "ad" }.into(),
                    rotation_version: Some(1),
                    is_warning: warning,
                    started_at: protocol::Timestamp(from),
                    ended_at: Some(protocol::Timestamp(until)),
                    outcome: protocol::PlayOutcome::Completed,
                    clock_suspect: false,
                    bridge: None,
                })
                .collect();
            let batch = protocol::PlayBatch {
                screen_id: protocol::ScreenId::new(screen).unwrap(),
                boot_id: protocol::BootId::new(boot).unwrap(),
                first_seq: 1,
                last_seq: records.len() as u64,
                records,
            };
            let received = batch.records.last().map_or(0, |r| r.started_at.0) + 5_000;
            self.state
                .store
                .insert_play_batch(screen, &batch, protocol::Timestamp(received))
                .await
                .unwrap();
        }
    }

    /// 2025-12-01 + `day` days, `hour`:`minute` in Shanghai (UTC+8).
    fn at(day: i64, hour: i64, minute: i64) -> i64 {
        let midnight = chrono::NaiveDate::from_ymd_opt(2025, 12, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
            - 8 * 60 * MIN;
        midnight + day * 24 * 60 * MIN + (hour * 60 + minute) * MIN
    }

    /// `ad` minutes of advert then `warn` minutes of warning, repeated.
    fn timeline(from: i64, until: i64, ad: f64, warn: f64) -> Vec<(i64, i64, bool)> {
        let mut out = Vec::new();
        let mut t = from;
        let mut warning = false;
        while t < until {
            let len = ((if warning { warn } else { ad }) * MIN as f64) as i64;
            let e = (t + len).min(until);
            out.push((t, e, warning));
            t = e;
            warning = !warning;
        }
        out
    }

    /// Five days of screen-a: compliant, gap too long, share too low, no
    /// records, records stopping at 09:30. Screen-b: day 0 compliant.
    async fn five_days(h: &H) {
        h.plays(
            "screen-a",
            "boot-0",
            timeline(at(0, 8, 50), at(0, 10, 10), 4.0, 1.0),
        )
        .await;
        h.plays(
            "screen-a",
            "boot-1",
            timeline(at(1, 8, 51), at(1, 10, 10), 9.0, 1.0),
        )
        .await;
        h.plays(
            "screen-a",
            "boot-2",
            timeline(at(2, 8, 55), at(2, 10, 10), 4.5, 0.5),
        )
        .await;
        h.plays(
            "screen-a",
            "boot-4",
            timeline(at(4, 8, 50), at(4, 9, 30), 4.0, 1.0),
        )
        .await;
        h.plays(
            "screen-b",
            "boot-b",
            timeline(at(0, 8, 50), at(0, 10, 10), 4.0, 1.0),
        )
        .await;
    }

    #[tokio::test]
    async fn compliance_comes_from_play_records_and_is_site_scoped() {
        for db in backends().await {
            let h = H::new(db).await;
            five_days(&h).await;
            let uri = "/api/v1/compliance?site=site-a&from=2025-12-01&to=2025-12-05";
            let (status, body) = h.json(Method::GET, uri, "admin", None).await;
            assert_eq!(status, StatusCode::OK, "{}: {body}", h.name());
            let days = body.as_array().unwrap();
            assert_eq!(days.len(), 5, "{body}");
            let statuses: Vec<&str> = days.iter().map(|d| d["status"].as_str().unwrap()).collect();
            assert_eq!(
                statuses,
                [
                    "compliant",
                    "non_compliant",
                    "non_compliant",
                    "unknown",
                    "unknown"
                ],
                "{}: {body:#}",
                h.name()
            );
            let d0 = &days[0];
            assert_eq!(d0["screen_id"], "screen-a");
            assert_eq!(d0["site_id"], "site-a");
            assert_eq!(d0["date"], "2025-12-01");
            assert_eq!(d0["opening_seconds"], 3600);
            assert_eq!(d0["online_seconds"], 3600);
            assert_eq!(d0["longest_gap_seconds"], 240);
            assert!((d0["warning_share"].as_f64().unwrap() - 0.2).abs() < 1e-6);
            assert_eq!(d0["records"], 24);
            assert_eq!(d0["evidence_until"], at(0, 10, 10));
            assert_eq!(
                d0["rules"],
                json!([{"rule_id": "r-door", "max_gap_seconds": 300,
                        "min_warning_share": 0.15, "holds": true}])
            );
            let codes = |d: &Value| -> Vec<String> {
                d["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["code"].as_str().unwrap().to_owned())
                    .collect()
            };
            assert_eq!(codes(&days[1]), ["gap_too_long", "share_too_low"]);
            assert_eq!(days[1]["longest_gap_seconds"], 540);
            assert_eq!(codes(&days[2]), ["share_too_low"]);
            assert_eq!(codes(&days[3]), ["no_records"]);
            assert_eq!(days[3]["rules"][0]["holds"], Value::Null);
            assert_eq!(codes(&days[4]), ["missing_evidence", "evidence_behind"]);

            // Branch users: only their own sites.
            let (status, _) = h.json(Method::GET, uri, "branch-b", None).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let all = "/api/v1/compliance?from=2025-12-01&to=2025-12-01";
            for (actor, screens) in [
                ("branch-a", vec!["screen-a"]),
                ("branch-b", vec!["screen-b"]),
                ("editor", vec!["screen-a", "screen-b"]),
            ] {
                let (status, body) = h.json(Method::GET, all, actor, None).await;
                assert_eq!(status, StatusCode::OK);
                let seen: Vec<&str> = body
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["screen_id"].as_str().unwrap())
                    .collect();
                assert_eq!(seen, screens, "{actor}");
            }
            let (status, _) = h
                .json(
                    Method::GET,
                    "/api/v1/compliance?screen=screen-a&from=2025-12-01&to=2025-12-01",
                    "branch-b",
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let (status, _) = h
                .json(
                    Method::GET,
                    "/api/v1/compliance?from=2025-12-01&to=2026-12-01",
                    "admin",
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "a year at once is refused");
            h.finish().await;
        }
    }

    #[tokio::test]
    async fn confirmations_are_site_scoped_append_only_and_keep_their_evidence() {
        for db in backends().await {
            let h = H::new(db).await;
            five_days(&h).await;
            let shot = h
                .state
                .screenshots
                .put(b"png bytes")
                .await
                .unwrap()
                .to_hex();
            h.state
                .store
                .add_screenshot("screen-a", &shot, 9, at(0, 9, 0), at(0, 9, 1), 5)
                .await
                .unwrap();
            let body = |verdict: &str, note: &str| json!({"screen_id": "screen-a", "week": "2025-W49", "verdict": verdict, "note": note});
            // Another site's branch user cannot confirm.
            let (status, refused) = h
                .json(
                    Method::POST,
                    "/api/v1/confirmations",
                    "branch-b",
                    Some(body("ok", "")),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
            // The own branch can.
            let (status, first) = h
                .json(
                    Method::POST,
                    "/api/v1/confirmations",
                    "branch-a",
                    Some(body("ok", "")),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{}: {first}", h.name());
            assert_eq!(first["confirmed_by"], "branch-a");
            assert_eq!(first["verdict"], "ok");
            assert_eq!(first["site_id"], "site-a");
            let evidence_days = first["evidence"]["compliance"].as_array().unwrap();
            assert_eq!(evidence_days.len(), 7, "one entry per day of the week");
            assert_eq!(evidence_days[0]["date"], "2025-12-01");
            assert_eq!(evidence_days[0]["status"], "compliant");
            assert_eq!(evidence_days[1]["status"], "non_compliant");
            assert_eq!(first["evidence"]["screenshots"][0]["sha256"], shot);
            // A problem needs a note; verdicts are ok|problem; weeks must have begun.
            for (bad, why) in [
                (body("problem", " "), "problem without a note"),
                (body("maybe", "x"), "unknown verdict"),
                (
                    json!({"screen_id": "screen-a", "week": "2099-W01", "verdict": "ok", "note": ""}),
                    "future week",
                ),
                (
                    json!({"screen_id": "screen-a", "week": "2025-49", "verdict": "ok", "note": ""}),
                    "not a week",
                ),
            ] {
                let (status, _) = h
                    .json(Method::POST, "/api/v1/confirmations", "branch-a", Some(bad))
                    .await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{why}");
            }
            // A correction is a new entry naming the earlier one.
            let (status, second) = h
                .json(
                    Method::POST,
                    "/api/v1/confirmations",
                    "admin",
                    Some(body("problem", "周二黑屏 <script>")),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{second}");
            assert_eq!(second["corrects"], first["id"]);
            // Correcting the already corrected entry is refused.
            let mut again = body("ok", "");
            again["corrects"] = first["id"].clone();
            let (status, _) = h
                .json(
                    Method::POST,
                    "/api/v1/confirmations",
                    "branch-a",
                    Some(again),
                )
                .await;
            assert_eq!(status, StatusCode::CONFLICT);
            // Nothing edits or deletes an entry.
            for method in [Method::PUT, Method::PATCH, Method::DELETE] {
                let uri = format!("/api/v1/confirmations/{}", first["id"].as_str().unwrap());
                let (status, _) = h.send(method.clone(), &uri, "admin", Some(json!({}))).await;
                assert!(
                    status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED,
                    "{method} answered {status}"
                );
                let (status, _) = h
                    .send(
                        method.clone(),
                        "/api/v1/confirmations",
                        "admin",
                        Some(json!({})),
                    )
                    .await;
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            }
            let (status, listed) = h
                .json(
                    Method::GET,
                    "/api/v1/confirmations?site=site-a&week=2025-W49",
                    "branch-a",
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            let listed = listed.as_array().unwrap();
            assert_eq!(listed.len(), 2);
            assert_eq!(listed[0]["id"], first["id"]);
            assert_eq!(listed[0]["note"], "", "the first entry is unchanged");
            assert_eq!(listed[0]["verdict"], "ok");
            assert_eq!(listed[0]["corrected_by"], second["id"]);
            assert_eq!(listed[1]["corrected_by"], Value::Null);
            // The other branch sees none of it.
            let (status, _) = h
                .json(
                    Method::GET,
                    "/api/v1/confirmations?site=site-a",
                    "branch-b",
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let (status, theirs) = h
                .json(Method::GET, "/api/v1/confirmations", "branch-b", None)
                .await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(theirs, json!([]));
            h.finish().await;
        }
    }

    #[tokio::test]
    async fn reports_are_csv_with_bom_and_pdf_with_the_font() {
        for db in backends().await {
            let h = H::new(db).await;
            five_days(&h).await;
            let (status, _) = h
                .json(
                    Method::POST,
                    "/api/v1/confirmations",
                    "branch-a",
                    Some(json!({"screen_id": "screen-a", "week": "2025-W49",
                                "verdict": "problem", "note": "周二提示间隔太长"})),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED);
            let csv_uri =
                "/api/v1/reports/compliance.csv?site=site-a&from=2025-12-01&to=2025-12-05";
            let (status, csv) = h.send(Method::GET, csv_uri, "branch-a", None).await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&csv));
            assert!(csv.starts_with(crate::compliance_report::BOM));
            let text = String::from_utf8(csv[3..].to_vec()).unwrap();
            let rows: Vec<&str> = text
                .split("\r\n")
                .filter(|l| l.starts_with("site-a,"))
                .collect();
            assert_eq!(rows.len(), 5, "{text}");
            assert!(rows[0].starts_with(
                "site-a,工商银行高港支行,screen-a,门口屏 screen-a,2025-12-01,合规,3600,3600,0,240,20.0%,24,"
            ), "{}", rows[0]);
            assert!(rows[1].contains(",2025-12-02,不合规,"), "{}", rows[1]);
            assert!(
                rows[3].contains(",2025-12-04,无法判定,3600,0,3600,"),
                "{}",
                rows[3]
            );
            assert!(
                text.contains("\r\n2025-W49,工商银行高港支行,screen-a,门口屏 screen-a,有问题,周二提示间隔太长,branch-a,"),
                "{text}"
            );
            assert!(!text.contains("screen-b"));
            let (status, _) = h.send(Method::GET, csv_uri, "branch-b", None).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            let (status, _) = h
                .send(
                    Method::GET,
                    "/api/v1/reports/compliance.csv?site=nowhere&from=2025-12-01&to=2025-12-01",
                    "admin",
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            // Per organisation: both sites, for staff.
            let (status, csv) = h
                .send(
                    Method::GET,
                    "/api/v1/reports/compliance.csv?org=bank&from=2025-12-01&to=2025-12-01&lang=en",
                    "editor",
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            let text = String::from_utf8(csv[3..].to_vec()).unwrap();
            assert!(
                text.contains("site-a,") && text.contains("site-b,"),
                "{text}"
            );
            assert!(text.contains(",2025-12-01,compliant,"), "{text}");
            // A branch user's organisation report covers only their sites.
            let (status, csv) = h
                .send(
                    Method::GET,
                    "/api/v1/reports/compliance.csv?org=bank&from=2025-12-01&to=2025-12-01",
                    "branch-b",
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            let text = String::from_utf8(csv[3..].to_vec()).unwrap();
            assert!(
                !text.contains("site-a") && text.contains("site-b,"),
                "{text}"
            );

            let (status, pdf) = h
                .send(
                    Method::GET,
                    "/api/v1/reports/compliance.pdf?site=site-a&from=2025-12-01&to=2025-12-05",
                    "branch-a",
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
            crate::compliance_report::tests::check_pdf_structure(&pdf);
            let fonts = crate::compliance_report::tests::embedded_fonts(&pdf);
            assert_eq!(fonts.len(), 2, "Latin and Chinese fonts embedded");
            for font in &fonts {
                ttf_parser::Face::parse(font, 0).expect("embedded font parses");
            }
            let (status, _) = h
                .send(
                    Method::GET,
                    "/api/v1/reports/compliance.pdf?site=site-a&from=2025-12-01&to=2025-12-05",
                    "branch-b",
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            h.finish().await;
        }
    }

    /// `LEDCAST_COMPLIANCE_BENCH_DAYS=31 cargo test -p ledcast-server --lib
    /// compliance_bench -- --nocapture`: one screen, 10-second items from
    /// 08:00 to 18:00 (3,600 records a day), open 09:00-10:00; times the
    /// JSON, CSV and PDF answers for the whole range. Skipped without the variable.
    #[tokio::test]
    async fn compliance_bench() {
        let Some(days) = std::env::var("LEDCAST_COMPLIANCE_BENCH_DAYS")
            .ok()
            .and_then(|d| d.parse::<i64>().ok())
        else {
            return;
        };
        let h = H::new(crate::store::testing::sqlite().await).await;
        for day in 0..days {
            let all = timeline(at(day, 8, 0), at(day, 18, 0), 1.0 / 6.0, 1.0 / 6.0);
            for (i, chunk) in all.chunks(500).enumerate() {
                h.plays("screen-a", &format!("boot-{day}-{i}"), chunk.to_vec())
                    .await;
            }
        }
        let to = chrono::NaiveDate::from_ymd_opt(2025, 12, 1).unwrap()
            + chrono::Duration::days(days - 1);
        for what in [
            "compliance?site=site-a&",
            "reports/compliance.csv?site=site-a&",
            "reports/compliance.pdf?site=site-a&",
        ] {
            let uri = format!("/api/v1/{what}from=2025-12-01&to={to}");
            #[allow(clippy::disallowed_methods)]
            let started = std::time::Instant::now();
            let (status, body) = h.send(Method::GET, &uri, "admin", None).await;
            assert_eq!(status, StatusCode::OK);
            eprintln!(
                "compliance bench: {days} days x 3600 records: GET {uri} -> {} bytes in {:?}",
                body.len(),
                started.elapsed()
            );
        }
        h.finish().await;
    }

    #[tokio::test]
    async fn photos_go_through_the_media_pipeline_and_stay_private() {
        let h = H::new(crate::store::testing::sqlite().await).await;
        let upload = |bytes: &[u8], actor: &str| {
            let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n\r\n".to_vec();
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n--XyZ--\r\n");
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/confirmations/photos")
                .header(header::AUTHORIZATION, format!("Bearer token-{actor}"))
                .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
                .body(Body::from(body))
                .unwrap()
        };
        let send = |req: Request<Body>| {
            let app = crate::router::app(h.state.clone());
            async move {
                let r = app.oneshot(req).await.unwrap();
                let s = r.status();
                let b = axum::body::to_bytes(r.into_body(), usize::MAX)
                    .await
                    .unwrap();
                (
                    s,
                    serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null),
                )
            }
        };
        let photo = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../media/posters/w48-refund.png"
        ))
        .unwrap();
        let (status, body) = send(upload(&photo, "branch-a")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let sha = body["sha256"].as_str().unwrap().to_owned();
        let (status, body) = send(upload(b"<svg onload=alert(1)>", "branch-a")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        // Not on the public media route, and not to users without a confirmation using it.
        let (status, _) = h
            .send(Method::GET, &format!("/media/{sha}"), "admin", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let photo_uri = format!("/api/v1/confirmations/photos/{sha}");
        let (status, _) = h.send(Method::GET, &photo_uri, "branch-a", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, body) = h
            .json(
                Method::POST,
                "/api/v1/confirmations",
                "branch-a",
                Some(
                    json!({"screen_id": "screen-a", "week": "2025-W49", "verdict": "problem",
                            "note": "见照片", "photo_sha256": sha}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["photo_sha256"], sha);
        let (status, bytes) = h.send(Method::GET, &photo_uri, "branch-a", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(!bytes.is_empty());
        let (status, _) = h.send(Method::GET, &photo_uri, "branch-b", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Another site's photo by digest (issue 17): branch-b may not attach
        // site-a's photo to its own confirmation, so it never gets to see it.
        let (status, body) = h
            .json(
                Method::POST,
                "/api/v1/confirmations",
                "branch-b",
                Some(
                    json!({"screen_id": "screen-b", "week": "2025-W49", "verdict": "problem",
                            "note": "借用别人的照片", "photo_sha256": sha}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|m| m.contains("this screen's site")),
            "{body}"
        );
        let (status, _) = h.send(Method::GET, &photo_uri, "branch-b", None).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "branch-b still may not see it"
        );
        // branch-b's own upload of the same picture is its own, and attaches.
        let (status, body) = send(upload(&photo, "branch-b")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (status, body) = h
            .json(
                Method::POST,
                "/api/v1/confirmations",
                "branch-b",
                Some(
                    json!({"screen_id": "screen-b", "week": "2025-W49", "verdict": "problem",
                            "note": "自己拍的", "photo_sha256": sha}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        h.finish().await;
    }
}
