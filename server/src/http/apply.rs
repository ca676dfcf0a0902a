//! `POST /api/v1/apply`: the TOML files of `playlists/` in, the compiler's
//! diagnostics and the per-file diff out; stored and compiled unless
//! `dry_run` or an error. Invalid TOML answers 422 with every diagnostic.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::extract::StrictJson;
use super::{ApiError, AppState, Principal};
use crate::store::{PlaylistFile, Role};

/// `POST /api/v1/apply` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    files: Vec<PlaylistFile>,
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/v1/apply`.
pub async fn apply(
    State(state): State<AppState>,
    principal: Principal,
    StrictJson(body): StrictJson<ApplyRequest>,
) -> Result<Response, ApiError> {
    principal.require(&[Role::Admin, Role::Editor])?;
    for file in &body.files {
        let ok = file.name.ends_with(".toml")
            && !file.name.contains(['/', '\\'])
            && file.name.len() <= 100
            && file.name != crate::compile_cmd::MATERIALS_FILE;
        if !ok {
            return Err(ApiError::bad_request(
                format!("file name {:?} is not a playlist file", file.name),
                "send the *.toml files of playlists/ by bare name (materials are uploaded, not applied)",
            ));
        }
    }
    let outcome =
        crate::service::apply_files(&state, &body.files, &principal.user.id, body.dry_run)
            .await
            .map_err(|e| ApiError::internal(&e))?;
    let errors = outcome.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        let mut error = ApiError::unprocessable(
            format!("{errors} error(s) in the playlist files; nothing was applied"),
            "fix every diagnostic listed (file:line:column, hint) and apply again",
        );
        error.extra = Some(json!({"diagnostics": outcome.diagnostics, "diff": outcome.diff}));
        return Err(error);
    }
    if outcome.applied {
        principal
            .audit(
                &state,
                "playlists.apply",
                "playlists",
                json!({"diff": outcome.diff, "stored": outcome.stored}),
            )
            .await?;
    }
    Ok((StatusCode::OK, Json(outcome)).into_response())
}
