//! Read routes over sites, screens, evidence and materials (site-scoped for
//! branch users), the material approval routes (two-person rule) and export.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use ledcast_protocol::v1 as protocol;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::docs::{Documented, Png};
use super::extract::StrictQuery;
use super::{ApiError, AppState, Principal};
use crate::approval::{two_person_rule, Submission};
use crate::recompiler::Pending;
use crate::store::{
    DeviceKeyRow, MaterialFilter, MaterialRow, PlayDay, PlaylistFile, ProfileRow, RenditionRow,
    ScheduleRow, ScreenPresence, ScreenRow, ScreenStateRow, ScreenshotRow, SiteRow, StoredWord,
    Verdict,
};

/// `GET /api/v1/sites`.
pub async fn list_sites(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<SiteRow>>, ApiError> {
    let sites = state.store.list_sites().await?;
    let sites: Vec<_> = sites
        .into_iter()
        .filter(|s| principal.sees_site(&s.id))
        .collect();
    Ok(Json(sites))
}

/// `GET /api/v1/profiles`.
pub async fn list_profiles(
    State(state): State<AppState>,
) -> Result<Json<Vec<ProfileRow>>, ApiError> {
    Ok(Json(state.store.list_profiles().await?))
}

/// One row of `GET /api/v1/screens`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScreenListing {
    /// The screen as configured.
    pub screen: ScreenRow,
    /// The newest rotation version the server made for it.
    pub desired_version: Option<u64>,
    /// The version its agent last said it plays.
    pub reported_version: Option<u64>,
    /// `online`, `offline`, or `never` (never heard from).
    pub status: ScreenPresence,
    /// When its agent was last heard from (ms since the epoch).
    pub last_seen_at: Option<i64>,
}

/// `GET /api/v1/screens`: screens with desired vs reported version.
pub async fn list_screens(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<Vec<ScreenListing>>, ApiError> {
    let screens = state.store.list_screens(principal.site_filter()).await?;
    let versions = state.store.screen_versions().await?;
    let out: Vec<_> = screens
        .into_iter()
        .map(|screen| {
            let v = versions.iter().find(|v| v.screen_id == screen.id);
            ScreenListing {
                screen,
                desired_version: v.and_then(|v| v.desired_version),
                reported_version: v.and_then(|v| v.reported_version),
                status: v.map_or(ScreenPresence::Never, |v| v.status),
                last_seen_at: v.and_then(|v| v.last_seen_at),
            }
        })
        .collect();
    Ok(Json(out))
}

/// `GET /api/v1/screens/{id}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScreenDetail {
    /// The screen as configured.
    pub screen: ScreenRow,
    /// What its agent last reported, if it ever did.
    pub state: Option<ScreenStateRow>,
    /// Its device key, once enrolled.
    pub enrolled: Option<Enrolled>,
    /// Its newest rotation.
    pub rotation: Option<RotationSummary>,
}

/// A screen's enrolled device key.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Enrolled {
    /// `ed25519:…`.
    pub key_id: String,
    /// When (ms since the epoch).
    pub enrolled_at: i64,
}

/// A screen's newest rotation, with its signed content decoded.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RotationSummary {
    /// Version (rises with every change).
    pub version: u64,
    /// When it was made (ms).
    pub issued_at: i64,
    /// When an agent stops trusting it (ms).
    pub expires_at: i64,
    /// SHA-256 of the signed envelope.
    pub envelope_sha256: String,
    /// The rotation, when its signature checks out.
    pub content: Option<protocol::Rotation>,
}

/// `GET /api/v1/screens/{id}`: the screen, its state and current rotation (decoded).
pub async fn get_screen(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<ScreenDetail>, ApiError> {
    let screen = principal.screen(&state, &id).await?;
    let screen_state = state.store.screen_state(&id).await?;
    let rotation = state.store.latest_rotation(&id).await?;
    let trusted = protocol::TrustedKey::new(state.signing_key.verifying_key());
    let decoded = rotation
        .as_ref()
        .and_then(|r| protocol::open::<protocol::Rotation>(&r.envelope, &trusted).ok());
    let enrolled: Option<DeviceKeyRow> = state.store.device_key(&id).await?;
    Ok(Json(ScreenDetail {
        screen,
        state: screen_state,
        enrolled: enrolled.map(|k| Enrolled {
            key_id: k.key_id,
            enrolled_at: k.enrolled_at,
        }),
        rotation: rotation.map(|r| RotationSummary {
            version: r.version,
            issued_at: r.issued_at,
            expires_at: r.expires_at,
            envelope_sha256: r.envelope_sha256,
            content: decoded,
        }),
    }))
}

/// `GET /api/v1/screens/{id}/plays` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaysQuery {
    from: Option<i64>,
    until: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/screens/{id}/plays`.
pub async fn screen_plays(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    StrictQuery(query): StrictQuery<PlaysQuery>,
) -> Result<Json<Vec<protocol::PlayRecord>>, ApiError> {
    principal.screen(&state, &id).await?;
    let records = state
        .store
        .play_records(
            &id,
            query.from.unwrap_or(0),
            query.until.unwrap_or(i64::MAX),
            query.limit.unwrap_or(1000).clamp(1, 10_000),
        )
        .await?;
    Ok(Json(records))
}

/// `GET /api/v1/play-days` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlayDaysQuery {
    site: Option<String>,
    screen: Option<String>,
    from: String,
    until: String,
}

/// `GET /api/v1/play-days`: aggregates for one screen or one site's screens.
pub async fn play_days(
    State(state): State<AppState>,
    principal: Principal,
    StrictQuery(query): StrictQuery<PlayDaysQuery>,
) -> Result<Json<Vec<PlayDay>>, ApiError> {
    let screens: Vec<String> = match (&query.screen, &query.site) {
        (Some(screen), None) => vec![principal.screen(&state, screen).await?.id],
        (None, Some(site)) => {
            if !principal.sees_site(site) {
                return Err(ApiError::forbidden(
                    format!("site {site:?} is not one of your sites"),
                    "ask an admin to assign you to that site",
                )
                .said_as("err_other_site", serde_json::json!({})));
            }
            state
                .store
                .list_screens(Some(std::slice::from_ref(site)))
                .await?
                .into_iter()
                .map(|s| s.id)
                .collect()
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of screen= or site=",
                "e.g. /api/v1/play-days?site=icbc-gaogang&from=2026-12-01&until=2026-12-07",
            ))
        }
    };
    for day in [&query.from, &query.until] {
        if chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_err() {
            return Err(ApiError::bad_request(
                format!("{day:?} is not a date"),
                "write dates as YYYY-MM-DD",
            ));
        }
    }
    Ok(Json(
        state
            .store
            .play_days(&screens, &query.from, &query.until)
            .await?,
    ))
}

/// `GET /api/v1/screens/{id}/screenshots`.
pub async fn list_screenshots(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Vec<ScreenshotRow>>, ApiError> {
    principal.screen(&state, &id).await?;
    Ok(Json(state.store.screenshots(&id).await?))
}

/// `GET /api/v1/screens/{id}/screenshots/{sha256}`.
pub async fn get_screenshot(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Documented<Png>, ApiError> {
    principal.screen(&state, &id).await?;
    let digest = protocol::Sha256::from_hex(&sha).map_err(|e| {
        ApiError::bad_request(e.to_string(), "use a sha256 from the screenshot list")
    })?;
    let listed = state
        .store
        .screenshots(&id)
        .await?
        .into_iter()
        .any(|s| s.sha256 == sha);
    if !listed {
        return Err(ApiError::not_found(
            format!("no screenshot {sha} for screen {id:?}"),
            "list them with GET /api/v1/screens/{id}/screenshots",
        ));
    }
    let bytes = state
        .screenshots
        .read(&digest)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Documented::new(
        (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "private, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
    ))
}

/// `GET /api/v1/materials` query.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterialsQuery {
    state: Option<String>,
    tag: Option<String>,
    kind: Option<String>,
}

/// `GET /api/v1/materials`.
pub async fn list_materials(
    State(state): State<AppState>,
    StrictQuery(query): StrictQuery<MaterialsQuery>,
) -> Result<Json<Vec<MaterialRow>>, ApiError> {
    // A word that names no state or kind matches no material, as before.
    let (Some(state_filter), Some(kind_filter)) = (
        filter_word(query.state.as_deref()),
        filter_word(query.kind.as_deref()),
    ) else {
        return Ok(Json(Vec::new()));
    };
    let filter = MaterialFilter {
        state: state_filter,
        tag: query.tag,
        kind: kind_filter,
    };
    Ok(Json(state.store.list_materials(&filter).await?))
}

/// A query's word as a filter: `Some(None)` when absent, `None` when it
/// names no value.
fn filter_word<T: StoredWord>(text: Option<&str>) -> Option<Option<T>> {
    match text {
        None => Some(None),
        Some(text) => T::parse(text).map(Some),
    }
}

/// `GET /api/v1/materials/{id}`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MaterialDetail {
    /// The material.
    pub material: MaterialRow,
    /// Its renditions, one per screen profile it was fitted to.
    pub renditions: Vec<RenditionRow>,
}

/// `GET /api/v1/materials/{id}`.
pub async fn get_material(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MaterialDetail>, ApiError> {
    let material = state
        .store
        .material(&id)
        .await?
        .ok_or_else(|| unknown_material(&id))?;
    let renditions: Vec<_> = state
        .store
        .list_renditions()
        .await?
        .into_iter()
        .filter(|r| r.material_id == id)
        .collect();
    Ok(Json(MaterialDetail {
        material,
        renditions,
    }))
}

fn unknown_material(id: &str) -> ApiError {
    ApiError::not_found(
        format!("no material {id:?}"),
        "list materials with GET /api/v1/materials",
    )
}

async fn decide(
    state: &AppState,
    principal: &Principal,
    id: &str,
    verdict: Verdict,
) -> Result<Json<Decided>, ApiError> {
    let material = state
        .store
        .material(id)
        .await?
        .ok_or_else(|| unknown_material(id))?;
    two_person_rule(
        Submission::Material,
        &material.uploaded_by,
        &principal.user.id,
    )?;
    let now = state.clock.now().as_millis();
    if !state
        .store
        .decide_material(
            id,
            crate::store::MaterialState::Pending,
            verdict.material_state(),
            &principal.user.id,
            now,
        )
        .await?
    {
        return Err(ApiError::conflict(
            format!(
                "material {id:?} is {}, not pending",
                material.state.as_str()
            ),
            "only pending materials can be approved or rejected",
        ));
    }
    principal
        .audit(
            state,
            &format!("material.{}", verdict.as_str()),
            id,
            json!({}),
        )
        .await?;
    let ticket = crate::recompiler::request(state, "material decision");
    Ok(Json(Decided {
        id: id.to_owned(),
        state: verdict.as_str().to_owned(),
        recompile: crate::recompiler::pending(ticket),
    }))
}

/// What an approval, a rejection or a retirement answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Decided {
    /// The material's or schedule's id.
    pub id: String,
    /// Its state now: `approved`, `rejected` or `retired`.
    pub state: String,
    /// The recompile it asked for (rotations follow within seconds).
    pub recompile: Pending,
}

/// `POST /api/v1/materials/{id}/approve`.
pub async fn approve_material(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Decided>, ApiError> {
    decide(&state, &principal, &id, Verdict::Approved).await
}

/// `POST /api/v1/materials/{id}/reject`.
pub async fn reject_material(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Decided>, ApiError> {
    decide(&state, &principal, &id, Verdict::Rejected).await
}

/// `POST /api/v1/materials/{id}/retire`.
pub async fn retire_material(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Decided>, ApiError> {
    let now = state.clock.now().as_millis();
    if !state.store.retire_material(&id, now).await? {
        return Err(unknown_material(&id)
            .with_detail(format!("no material {id:?} that is not already retired")));
    }
    principal
        .audit(&state, "material.retire", &id, json!({}))
        .await?;
    let ticket = crate::recompiler::request(&state, "material retired");
    Ok(Json(Decided {
        id,
        state: crate::store::MaterialState::Retired.as_str().to_owned(),
        recompile: crate::recompiler::pending(ticket),
    }))
}

/// `GET /api/v1/export`: the stored playlist files, verbatim.
pub async fn export(State(state): State<AppState>) -> Result<Json<Export>, ApiError> {
    Ok(Json(Export {
        files: state.store.playlist_files().await?,
    }))
}

/// `GET /api/v1/export`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Export {
    /// Every stored playlist file, name and text.
    pub files: Vec<PlaylistFile>,
}

/// `GET /api/v1/schedules`: approval state of every schedule.
pub async fn list_schedules(
    State(state): State<AppState>,
) -> Result<Json<Vec<ScheduleRow>>, ApiError> {
    Ok(Json(state.store.list_schedules().await?))
}

async fn decide_schedule(
    state: &AppState,
    principal: &Principal,
    id: &str,
    verdict: Verdict,
) -> Result<Json<Decided>, ApiError> {
    let schedules = state.store.list_schedules().await?;
    let schedule = schedules.iter().find(|s| s.id == id).ok_or_else(|| {
        ApiError::not_found(
            format!("no schedule {id:?}"),
            "list schedules with GET /api/v1/schedules",
        )
    })?;
    two_person_rule(
        Submission::Schedule,
        &schedule.submitted_by,
        &principal.user.id,
    )?;
    let now = state.clock.now().as_millis();
    if !state
        .store
        .decide_schedule(id, verdict, &principal.user.id, now)
        .await?
    {
        return Err(ApiError::conflict(
            format!(
                "schedule {id:?} is {}, not pending",
                schedule.state.as_str()
            ),
            "only pending schedules can be approved or rejected; apply a change to resubmit",
        ));
    }
    principal
        .audit(
            state,
            &format!("schedule.{}", verdict.as_str()),
            id,
            json!({}),
        )
        .await?;
    let ticket = crate::recompiler::request(state, "schedule decision");
    Ok(Json(Decided {
        id: id.to_owned(),
        state: verdict.as_str().to_owned(),
        recompile: crate::recompiler::pending(ticket),
    }))
}

/// `POST /api/v1/schedules/{id}/approve`.
pub async fn approve_schedule(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Decided>, ApiError> {
    decide_schedule(&state, &principal, &id, Verdict::Approved).await
}

/// `POST /api/v1/schedules/{id}/reject`.
pub async fn reject_schedule(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<Decided>, ApiError> {
    decide_schedule(&state, &principal, &id, Verdict::Rejected).await
}

/// A rule's or playlist's targets.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TargetsView {
    /// Screen ids.
    pub screens: Vec<String>,
    /// Screen tags.
    pub tags: Vec<String>,
    /// Site ids.
    pub sites: Vec<String>,
}

fn targets_view(t: &ledcast_compiler::model::Targets) -> TargetsView {
    TargetsView {
        screens: t.screens.clone(),
        tags: t.tags.clone(),
        sites: t.sites.clone(),
    }
}

/// One applied playlist.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlaylistView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its items in order.
    pub items: Vec<PlaylistItemView>,
    /// `file:line` where it is defined.
    pub defined_at: String,
}

/// One item of a playlist.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PlaylistItemView {
    /// A material by id, or a query over the library.
    pub source: ItemSourceView,
    /// Seconds on screen.
    pub seconds: Option<u32>,
    /// When it starts playing (ms since the epoch).
    pub valid_from: Option<i64>,
    /// When it stops (ms since the epoch).
    pub valid_until: Option<i64>,
}

/// Where an item's material comes from.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemSourceView {
    /// One material, by id.
    Material(String),
    /// The library's materials that fit.
    Query(QueryView),
}

/// A playlist item's query.
#[derive(Debug, Serialize, JsonSchema)]
pub struct QueryView {
    /// Tags a material must carry.
    pub tags: Vec<String>,
    /// Its category.
    pub category: Option<String>,
    /// `poster`, `video` or `text`.
    pub kind: Option<String>,
    /// Only the newest N.
    pub newest: Option<u32>,
}

/// `GET /api/v1/playlists`: the applied playlists (read from the stored files).
pub async fn list_playlists(
    State(state): State<AppState>,
) -> Result<Json<Vec<PlaylistView>>, ApiError> {
    let model = crate::applied::as_written(&state).await?;
    let out: Vec<_> = model
        .playlists
        .iter()
        .map(|p| PlaylistView {
            id: p.id.clone(),
            name: p.name.clone(),
            items: p
                .items
                .iter()
                .map(|item| PlaylistItemView {
                    source: match &item.source {
                        ledcast_compiler::model::ItemSource::Material(id) => {
                            ItemSourceView::Material(id.clone())
                        }
                        ledcast_compiler::model::ItemSource::Query(q) => {
                            ItemSourceView::Query(QueryView {
                                tags: q.tags.clone(),
                                category: q.category.clone(),
                                kind: q.kind.map(|k| format!("{k:?}").to_lowercase()),
                                newest: q.newest,
                            })
                        }
                    },
                    seconds: item.seconds,
                    valid_from: item.valid_from,
                    valid_until: item.valid_until,
                })
                .collect(),
            defined_at: p.location.to_string(),
        })
        .collect();
    Ok(Json(out))
}

/// One applied compliance rule.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RuleView {
    /// Its id.
    pub id: String,
    /// The screens it holds to account.
    pub targets: TargetsView,
    /// The longest stretch without a warning it allows.
    pub max_gap_seconds: Option<u32>,
    /// The least share of time warnings must have (0–1).
    pub min_warning_share: Option<f64>,
    /// `file:line` where it is defined.
    pub defined_at: String,
}

/// `GET /api/v1/rules`: the applied compliance rules.
pub async fn list_rules(State(state): State<AppState>) -> Result<Json<Vec<RuleView>>, ApiError> {
    let model = crate::applied::as_written(&state).await?;
    let out: Vec<_> = model
        .rules
        .iter()
        .map(|r| RuleView {
            id: r.id.clone(),
            targets: targets_view(&r.targets),
            max_gap_seconds: r.max_gap_seconds,
            min_warning_share: r.min_warning_share,
            defined_at: r.location.to_string(),
        })
        .collect();
    Ok(Json(out))
}
