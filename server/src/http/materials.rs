//! `POST /api/v1/materials`: a streamed multipart upload (per-route size
//! limit) run through the media pipeline (sniff, validate, re-encode), stored
//! under its SHA-256 with renditions for every known profile. The upload's
//! file name is only metadata: it never reaches a path.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use serde_json::json;

use super::docs::{Created, Status};
use super::{ApiError, AppState, Principal};

/// Fields of the upload form besides `file`.
#[derive(Debug, Default)]
struct Form {
    id: Option<String>,
    title: Option<String>,
    tags: Vec<String>,
    source: String,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    is_warning: Option<bool>,
    /// Store the upload even when a material has the same content.
    allow_duplicate: bool,
}

fn parse_instant(field: &str, text: &str) -> Result<i64, ApiError> {
    if let Ok(ms) = text.trim().parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.timestamp_millis())
        .map_err(|_| {
            ApiError::bad_request(
                format!("{field} {text:?} is not a time"),
                "write times as RFC 3339 (2026-12-07T00:00:00+08:00) or milliseconds since the epoch",
            )
        })
}

fn valid_material_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

/// 409 `duplicate`: the upload's content is already material `existing`,
/// with where to see it. The upload can be repeated with
/// `allow_duplicate=true` to keep a second copy on purpose.
fn duplicate(existing: &crate::store::MaterialRow) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::CONFLICT,
        "duplicate",
        format!(
            "这个文件已经上传过，是素材“{}”（{}） / this file is already material {:?} ({})",
            existing.title, existing.id, existing.title, existing.id
        ),
        "use the existing material, or upload again with allow_duplicate=true to keep a second copy",
    );
    error.extra = Some(json!({
        "existing": {
            "id": existing.id,
            "title": existing.title,
            "state": existing.state,
            "url": format!("/ui/materials/{}", existing.id),
        }
    }));
    error
}

/// 422 `invalid_media` for a refused upload: the pipeline's reason as
/// `detail`, and the same reason as a catalogue key (`js_upload_*`) with
/// its figures, so the clerk reads it in their language.
fn refusal(error: &ledcast_media::IngestError) -> ApiError {
    use ledcast_media::IngestError as E;
    let mib = |bytes: u64| format!("{:.1}", bytes as f64 / (1024.0 * 1024.0));
    let (key, params) = match error {
        E::Empty => ("upload_empty", json!({})),
        E::UnsupportedType { detected } => ("upload_unsupported", json!({ "detected": detected })),
        E::TooLarge { bytes, max, .. } => (
            "upload_too_large",
            json!({ "mib": mib(*bytes), "max_mib": mib(*max) }),
        ),
        E::TooManyPixels {
            width,
            height,
            max_side,
            ..
        } => (
            "upload_too_many_pixels",
            json!({ "width": width, "height": height, "max_side": max_side }),
        ),
        E::DecodeMemory { format, .. } => ("upload_decode_memory", json!({ "format": format })),
        E::Truncated { format, .. } => ("upload_truncated", json!({ "format": format })),
        E::Corrupt { format, .. } | E::Encode { format, .. } => {
            ("upload_corrupt", json!({ "format": format }))
        }
        E::Mp4NotFaststart => ("upload_mp4_not_faststart", json!({})),
        E::Mp4Unplayable { .. } => ("upload_mp4_unplayable", json!({})),
        E::TooLong {
            duration_ms,
            max_ms,
        } => (
            "upload_too_long",
            json!({ "seconds": duration_ms / 1000, "max_minutes": max_ms / 60_000 }),
        ),
        E::UnknownGlyphs { chars } => (
            "upload_unknown_glyphs",
            json!({ "chars": chars.iter().map(|c| format!("“{c}”")).collect::<Vec<_>>().join(" ") }),
        ),
        E::TextTooLong { chars, max } => (
            "upload_text_too_long",
            json!({ "chars": chars, "max": max }),
        ),
    };
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_media",
        error.to_string(),
        "upload a JPEG, PNG, WebP, GIF, MP4 (H.264/H.265) or UTF-8 text file within the limits",
    )
    .said_as(key, params)
}

/// `POST /api/v1/materials` (editor, admin).
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    mut multipart: Multipart,
) -> Result<Created<Uploaded>, ApiError> {
    let limit = state.config.limits.upload_max_bytes;
    let mut form = Form::default();
    let mut file: Option<(String, Vec<u8>)> = None;
    let multipart_error = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit, "the upload")
        } else {
            ApiError::bad_request(
                e.body_text(),
                "send multipart/form-data with a `file` field",
            )
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let declared = field.file_name().unwrap_or("upload").to_owned();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if (bytes.len() + chunk.len()) as u64 > limit {
                    return Err(ApiError::too_large(limit, "the upload"));
                }
                bytes.extend_from_slice(&chunk);
            }
            file = Some((declared, bytes));
            continue;
        }
        let value = field.text().await.map_err(multipart_error)?;
        match name.as_str() {
            "id" => form.id = Some(value.trim().to_owned()),
            "title" => form.title = Some(value.trim().to_owned()),
            "tags" => {
                form.tags = value
                    .split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect()
            }
            "source" => form.source = value.trim().to_owned(),
            "valid_from" => form.valid_from = Some(parse_instant("valid_from", &value)?),
            "valid_until" => form.valid_until = Some(parse_instant("valid_until", &value)?),
            "warning" => {
                form.is_warning = Some(match value.trim() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    other => {
                        return Err(ApiError::bad_request(
                            format!("warning {other:?} is not true or false"),
                            "send warning=false for notices that are not anti-fraud warnings",
                        ))
                    }
                })
            }
            "allow_duplicate" => form.allow_duplicate = matches!(value.trim(), "true" | "1" | "yes"),
            other => {
                return Err(ApiError::bad_request(
                    format!("unknown form field {other:?}"),
                    "use file, id, title, tags (comma-separated), source, valid_from, valid_until, warning, allow_duplicate",
                ))
            }
        }
    }
    let Some((declared_name, bytes)) = file else {
        return Err(ApiError::bad_request(
            "no `file` field in the upload",
            "attach the material as the `file` field",
        ));
    };
    let id = form
        .id
        .unwrap_or_else(|| format!("m-{}", crate::auth::random_hex::<6>()));
    if !valid_material_id(&id) {
        return Err(ApiError::bad_request(
            format!("material id {id:?} is not 1 to 64 characters of a-z, 0-9, '-', '_', '.'"),
            "choose an id like w48-investment (playlists refer to materials by id)",
        ));
    }
    if let (Some(from), Some(until)) = (form.valid_from, form.valid_until) {
        if until <= from {
            return Err(ApiError::bad_request(
                "valid_until is not after valid_from",
                "swap or fix the dates",
            ));
        }
    }
    let meta = crate::materials::MaterialMeta {
        id: id.clone(),
        title: form
            .title
            .filter(|t| !t.is_empty())
            .unwrap_or(declared_name.clone()),
        tags: form.tags,
        source: form.source,
        valid_from: form.valid_from,
        valid_until: form.valid_until,
        is_warning: form.is_warning.unwrap_or(true),
    };
    let import_error = |e: crate::materials::ImportError| match e {
        crate::materials::ImportError::Media(e) => refusal(&e),
        crate::materials::ImportError::Unplayable(problem) => {
            let mut error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "video_unplayable",
                format!("{} / {}", problem.zh, problem.en),
                crate::i18n::diagnostics::said_key(
                    crate::i18n::Lang::En,
                    "video_playable_nowhere_hint",
                    &[],
                )
                .unwrap_or_default(),
            );
            error.extra = Some(json!({ "problem": problem }));
            // said_as adds its sentence beside `problem`.
            error.said_as(
                "upload_video_unplayable",
                json!({ "why_zh": problem.zh, "why_en": problem.en }),
            )
        }
        crate::materials::ImportError::Store(e) => ApiError::from(e),
        crate::materials::ImportError::Other(e) => ApiError::internal(&e),
    };
    let ingested = crate::materials::ingest_media(&declared_name, bytes)
        .await
        .map_err(import_error)?;
    // The same content (the same stored bytes) is already a material: say
    // which, before a second copy with its own approval and airtime exists.
    if !form.allow_duplicate {
        let sha256 = ingested.sha256.to_hex();
        if let Some(existing) = state.store.material_by_sha256(&sha256).await? {
            return Err(duplicate(&existing));
        }
    }
    let notes = ingested.notes.clone();
    let material = crate::materials::store_ingested(&state, &ingested, meta, &principal.user.id)
        .await
        .map_err(import_error)?;
    let renditions = crate::materials::ensure_renditions(&state)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let kind = material.kind;
    principal
        .audit(
            &state,
            "material.upload",
            &id,
            json!({"sha256": material.sha256, "kind": kind}),
        )
        .await?;
    // How it reads on every screen profile: problems in Chinese and English,
    // so nothing is skipped silently (a text too long for a still-only panel).
    let legibility = crate::legibility::material_report(&state, &id)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Status(Uploaded {
        material,
        renditions_made: renditions,
        notes,
        legibility,
    }))
}

/// An uploaded material, waiting for approval.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Uploaded {
    /// The stored material.
    pub material: crate::store::MaterialRow,
    /// How many renditions (one per screen profile) were made.
    pub renditions_made: usize,
    /// What the ingest changed or noticed (e.g. re-encoded, trimmed).
    pub notes: Vec<String>,
    /// How it reads on every screen profile.
    pub legibility: Vec<crate::legibility::ProfileLegibility>,
}
