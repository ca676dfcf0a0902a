//! `POST /api/v1/packs`: a weekly library pack uploaded as the zip bytes
//! (`application/zip`, size-limited like material uploads), vetted by
//! `ledcast_pack` before anything is extracted, then imported exactly like
//! `ledcast-server import` ([`crate::packs::import_pack`]). Answers the
//! import report as JSON. A refused pack writes nothing.
//!
//! It does not stream progress (the UI polls nothing yet) and never turns an
//! entry name into a path.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::json;

use super::{ApiError, AppState, Principal};

/// `POST /api/v1/packs` (editor, admin).
pub async fn upload(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Imported>, ApiError> {
    let limit = state.config.limits.upload_max_bytes;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/zip") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("content type {content_type:?} is not application/zip"),
            "send the pack's .zip bytes as the body with Content-Type: application/zip",
        ));
    }
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(limit, "the pack")
        } else {
            ApiError::bad_request(e.body_text(), "send the pack's .zip bytes as the body")
        }
    })?;
    let pack = tokio::task::spawn_blocking(move || {
        ledcast_pack::open_zip(&bytes, &ledcast_pack::PackLimits::default())
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_pack",
            e.to_string(),
            "fix the pack as described (see docs/pack-format.md); nothing was imported",
        )
    })?;
    let report = crate::packs::import_pack(&state, &pack, &principal.user.id, |_, _, _| {})
        .await
        .map_err(|e| ApiError::internal(&e))?;
    principal
        .audit(
            &state,
            "pack.import",
            &report.edition,
            json!({
                "imported": report.imported(),
                "duplicates": report.duplicates(),
                "refused": report.refused(),
            }),
        )
        .await?;
    Ok(Json(Imported {
        imported: report.imported(),
        duplicates: report.duplicates(),
        refused: report.refused(),
        summary: report.to_string(),
        edition: report.edition,
        rows: report.rows,
        unreferenced: pack.unreferenced,
    }))
}

/// What a pack import answers.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Imported {
    /// The edition the pack is (`gaogang-2026-W48`).
    pub edition: String,
    /// Materials new to the library.
    pub imported: usize,
    /// Materials the library already had.
    pub duplicates: usize,
    /// Materials refused (each row says why).
    pub refused: usize,
    /// One line for people.
    pub summary: String,
    /// One row per material in the pack.
    pub rows: Vec<ledcast_pack::ImportRow>,
    /// Files in the zip no manifest entry names.
    pub unreferenced: Vec<String>,
}
