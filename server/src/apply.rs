//! Applying playlist files: validate with the compiler, store them verbatim,
//! mirror sites/profiles/screens into the store and recompile; and reading
//! a playlists directory from disk.

use anyhow::Context;
use ledcast_compiler as compiler;

use crate::digest::sha256_hex;
use crate::state::AppState;

use crate::applied::catalog;
use crate::materials::ensure_renditions;
use crate::recompiler::{compile_instant, recompile};

/// One file's change in an apply.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct FileChange {
    /// File name.
    pub name: String,
    /// `added`, `removed`, `changed` or `unchanged`.
    pub change: &'static str,
}

/// What an apply did (or would do, in a dry run).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ApplyOutcome {
    /// True when the files were stored (not a dry run, no errors).
    pub applied: bool,
    /// Per-file changes against the stored set.
    pub diff: Vec<FileChange>,
    /// Every diagnostic of parse and compile (file:line:column, hint).
    pub diagnostics: Vec<compiler::Diagnostic>,
    /// Rotation versions stored.
    pub stored: Vec<(String, u64)>,
    /// Schedules that are new or changed and wait for an approver (they
    /// are left out of rotations until approved).
    pub pending_schedules: Vec<String>,
}

/// Validates playlist files with the compiler; unless `dry_run` or there
/// are errors, stores them verbatim, mirrors sites/profiles/screens into
/// the store and recompiles. Audit is the caller's.
pub async fn apply_files(
    state: &AppState,
    files: &[crate::store::PlaylistFile],
    actor: &str,
    dry_run: bool,
) -> anyhow::Result<ApplyOutcome> {
    let started = crate::clock::monotonic();
    let stored_files = state.store.playlist_files().await?;
    let mut diff: Vec<FileChange> = files
        .iter()
        .map(|f| FileChange {
            name: f.name.clone(),
            change: match stored_files.iter().find(|s| s.name == f.name) {
                None => "added",
                Some(s) if s.text == f.text => "unchanged",
                Some(_) => "changed",
            },
        })
        .collect();
    for old in &stored_files {
        if !files.iter().any(|f| f.name == old.name) {
            diff.push(FileChange {
                name: old.name.clone(),
                change: "removed",
            });
        }
    }
    let (model, mut diagnostics) = crate::applied::parse_files(files);
    let now = state.clock.now();
    if !dry_run {
        // Profiles first, so materials get renditions for them before the catalog is built.
        for profile in &model.profiles {
            state.store.upsert_profile(&profile_row(profile)).await?;
        }
        ensure_renditions(state).await?;
    }
    let catalog = catalog(state).await?;
    let rotations = &state.config.rotations;
    let window = compiler::Window::hours(
        compile_instant(now),
        rotations.horizon_hours,
        rotations.expires_after_hours,
    );
    let checked_ms = started.elapsed().as_millis();
    let (_, compile_diagnostics) = compiler::compile(&model, &catalog, window);
    tracing::debug!(
        checked_ms,
        compiled_ms = started.elapsed().as_millis(),
        "apply check timings (cumulative)"
    );
    diagnostics.extend(compile_diagnostics);
    let has_errors = diagnostics.iter().any(|d| d.is_error());
    if dry_run || has_errors {
        return Ok(ApplyOutcome {
            applied: false,
            diff,
            diagnostics,
            stored: Vec::new(),
            pending_schedules: Vec::new(),
        });
    }
    let now_ms = now.as_millis();
    state
        .store
        .replace_playlist_files(files, actor, now_ms)
        .await?;
    let fingerprints: Vec<(String, String, String)> = model
        .schedules
        .iter()
        .map(|s| {
            let playlist = model
                .playlists
                .get(s.playlist)
                .map(|p| p.id.clone())
                .unwrap_or_default();
            let fingerprint = format!("{:?}", (&playlist, &s.targets, &s.when, s.priority));
            (s.id.clone(), playlist, sha256_hex(fingerprint.as_bytes()))
        })
        .collect();
    let pending_schedules = state
        .store
        .sync_schedules(&fingerprints, actor, now_ms)
        .await?;
    for site in &model.sites {
        state
            .store
            .upsert_site(
                &crate::store::SiteRow {
                    id: site.id.clone(),
                    organisation_id: site.organisation.clone(),
                    name: site.name.clone(),
                },
                now_ms,
            )
            .await?;
    }
    let screens: Vec<crate::store::ScreenRow> = model
        .screens
        .iter()
        .filter_map(|screen| {
            let site = model.sites.get(screen.site)?;
            let profile = model.profiles.get(screen.profile)?;
            Some(crate::store::ScreenRow {
                id: screen.id.as_str().to_owned(),
                site_id: site.id.clone(),
                name: screen.name.clone(),
                profile_id: profile.id.clone(),
                tags: screen.tags.clone(),
                timezone: screen.timezone.name().to_owned(),
                opening_hours: compiler::calendar_text::opening_hours_text(&site.opening_hours),
            })
        })
        .collect();
    state.store.upsert_screens(&screens, now_ms).await?;
    let stored_ms = started.elapsed().as_millis();
    let report = recompile(state, now).await?;
    tracing::debug!(
        screens = model.screens.len(),
        stored_ms,
        total_ms = started.elapsed().as_millis(),
        "apply timings (cumulative)"
    );
    Ok(ApplyOutcome {
        applied: true,
        diff,
        diagnostics,
        stored: report.stored,
        pending_schedules,
    })
}

fn profile_row(profile: &compiler::model::Profile) -> crate::store::ProfileRow {
    crate::store::ProfileRow {
        id: profile.id.clone(),
        width: profile.width,
        height: profile.height,
        color_class: format!("{:?}", profile.color).to_lowercase(),
        can_play_video: profile.video,
        can_scroll: profile.scroll,
    }
}

/// The `*.toml` files of a playlists directory, except `materials.toml`.
pub fn read_playlist_dir(dir: &std::path::Path) -> anyhow::Result<Vec<crate::store::PlaylistFile>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !name.ends_with(".toml") || name == crate::site_files::MATERIALS_FILE {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        files.push(crate::store::PlaylistFile { name, text });
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if files.is_empty() {
        anyhow::bail!("no playlist *.toml files in {}", dir.display());
    }
    Ok(files)
}
