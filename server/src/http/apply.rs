//! `POST /api/v1/apply`: the TOML files of `playlists/` in, the compiler's
//! diagnostics and the per-file diff out; stored and compiled unless
//! `dry_run` or an error. Invalid TOML answers 422 with every diagnostic.
//! Each diagnostic also comes said in the user's language (`text`,
//! `hint_text`: the language cookie, zh-CN by default), and the diagnostics
//! of `own_file` (the file the user is editing) come first, and `impact`
//! says, per schedule of `own_file`, what approving it would change
//! ([`crate::schedule_impact::Summary`]): where its priority beats every
//! other schedule, which screens change, what it replaces.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::extract::StrictJson;
use super::{ApiError, AppState, Principal};
use crate::store::PlaylistFile;

/// `POST /api/v1/apply` body.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    files: Vec<PlaylistFile>,
    #[serde(default)]
    dry_run: bool,
    /// The file the user is editing (the web builder's): its diagnostics
    /// are listed first.
    #[serde(default)]
    own_file: Option<String>,
}

/// `POST /api/v1/apply`.
pub async fn apply(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    StrictJson(body): StrictJson<ApplyRequest>,
) -> Result<Json<Applied>, ApiError> {
    let lang = crate::i18n::language(&headers);
    for file in &body.files {
        let ok = file.name.ends_with(".toml")
            && !file.name.contains(['/', '\\'])
            && file.name.len() <= 100
            && file.name != crate::site_files::MATERIALS_FILE;
        if !ok {
            return Err(ApiError::bad_request(
                format!("file name {:?} is not a playlist file", file.name),
                "send the *.toml files of playlists/ by bare name (materials are uploaded, not applied)",
            ));
        }
    }
    let outcome = crate::apply::apply_files(&state, &body.files, &principal.user.id, body.dry_run)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let diagnostics =
        crate::i18n::diagnostics::for_builder(lang, &outcome.diagnostics, body.own_file.as_deref());
    let errors = outcome.diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        let mut error = ApiError::unprocessable(
            format!("{errors} error(s) in the playlist files; nothing was applied"),
            "fix every diagnostic listed (file:line:column, hint) and apply again",
        );
        error.extra = Some(json!({"diagnostics": diagnostics, "diff": outcome.diff}));
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
    // What approving the builder's own schedules would change, before
    // anyone approves them (issue 19, point 3).
    let impact = match body.own_file.as_deref() {
        Some(own) => crate::schedule_impact::of_file(&state, &body.files, own, state.clock.now())
            .await
            .map_err(|e| ApiError::internal(&e))?,
        None => Vec::new(),
    };
    Ok(Json(Applied {
        applied: outcome.applied,
        diff: outcome.diff,
        diagnostics,
        stored: outcome.stored,
        pending_schedules: outcome.pending_schedules,
        impact: impact.iter().map(|i| i.summary()).collect(),
    }))
}

/// What `POST /api/v1/apply` answers.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Applied {
    /// True when the files were stored (not a dry run, no errors).
    pub applied: bool,
    /// Per-file changes against the stored set.
    pub diff: Vec<crate::apply::FileChange>,
    /// Every diagnostic, said in the user's language, the edited file's first.
    pub diagnostics: Vec<serde_json::Value>,
    /// Rotation versions stored, per screen.
    pub stored: Vec<(String, u64)>,
    /// Schedules that are new or changed and wait for an approver.
    pub pending_schedules: Vec<String>,
    /// Per schedule of the edited file: what approving it would change.
    pub impact: Vec<crate::schedule_impact::Summary>,
}
