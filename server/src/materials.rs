//! Materials in: media ingest (checks and renditions through the media
//! pipeline), storing an ingested material, importing one material or a
//! `materials.toml` file, and making every missing rendition.

use anyhow::Context;
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;

use crate::state::AppState;

/// A render target for the media pipeline from a stored profile.
pub fn render_profile(profile: &crate::store::ProfileRow) -> ledcast_media::RenderProfile {
    ledcast_media::RenderProfile {
        width: profile.width,
        height: profile.height,
        color: match profile.color_class.as_str() {
            "mono" => ledcast_media::ColorClass::Mono,
            "dual" => ledcast_media::ColorClass::Dual,
            _ => ledcast_media::ColorClass::Full,
        },
        video: profile.can_play_video,
        scroll: profile.can_scroll,
    }
}

/// Makes every missing (material, profile) rendition the profile can show,
/// storing its bytes content-addressed with what the renderer measured and
/// judged ([`crate::legibility::RenditionFacts`]). Renditions made before
/// the legibility rules (no facts), and video renditions stored before
/// their codec was recorded, are made again; an old one that lit no
/// LED is listed as illegible media first, so compliance never counts its
/// plays. A text that cannot be rendered legibly for a profile is recorded
/// with the reason. Returns how many renditions were made.
pub async fn ensure_renditions(state: &AppState) -> anyhow::Result<usize> {
    let profiles = state.store.list_profiles().await?;
    let materials = state.store.list_materials(&Default::default()).await?;
    let renditions = state.store.list_renditions().await?;
    let judged: std::collections::BTreeSet<(String, String)> = renditions
        .iter()
        .filter(|r| crate::legibility::RenditionFacts::complete(r.facts.as_deref(), &r.mime))
        .map(|r| (r.material_id.clone(), r.profile_id.clone()))
        .collect();
    let refused: std::collections::BTreeSet<(String, String)> = state
        .store
        .list_rendition_refusals()
        .await?
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let mut made = 0;
    for material in materials
        .iter()
        .filter(|m| m.state != crate::store::MaterialState::Retired)
    {
        let missing: Vec<&crate::store::ProfileRow> = profiles
            .iter()
            .filter(|p| {
                let key = (material.id.clone(), p.id.clone());
                !judged.contains(&key) && !refused.contains(&key)
            })
            .collect();
        if missing.is_empty() {
            continue;
        }
        let Ok(sha) = protocol::Sha256::from_hex(&material.sha256) else {
            continue;
        };
        let bytes = state
            .media
            .read(&sha)
            .await
            .with_context(|| format!("reading stored material {}", material.id))?;
        // Renditions made before the legibility rules: judge what they showed.
        let mut outdated: Vec<(String, Vec<u8>)> = Vec::new();
        for old in renditions.iter().filter(|r| {
            r.material_id == material.id
                && r.facts.is_none()
                && r.mime == "image/png"
                && missing.iter().any(|p| p.id == r.profile_id)
        }) {
            if let Ok(old_sha) = protocol::Sha256::from_hex(&old.sha256) {
                if let Ok(png) = state.media.read(&old_sha).await {
                    outdated.push((old.sha256.clone(), png));
                }
            }
        }
        let targets: Vec<(ledcast_media::RenderProfile, ledcast_media::Fit)> = missing
            .iter()
            .map(|p| {
                (
                    render_profile(p),
                    ledcast_media::Fit::Fit {
                        background: ledcast_media::Rgb(0, 0, 0),
                    },
                )
            })
            .collect();
        let (results, dark_before) = tokio::task::spawn_blocking(move || {
            let dark: Vec<String> = outdated
                .into_iter()
                .filter(|(_, png)| ledcast_media::lit_pixels(png).is_ok_and(|lit| lit == 0))
                .map(|(sha, _)| sha)
                .collect();
            let limits = ledcast_media::Limits::default();
            let results = ledcast_media::load_stored(&bytes, &limits).map(|m| {
                let chars = m
                    .text
                    .as_deref()
                    .map_or(0, |t| t.chars().filter(|c| *c != '\n').count() as u32);
                (ledcast_media::render_many(&m, &targets), targets, chars)
            });
            (results, dark)
        })
        .await?;
        let now = crate::clock::now().as_millis();
        for old in &dark_before {
            state
                .store
                .mark_media_illegible(
                    old,
                    "no lit pixels (rendered before the legibility rules)",
                    now,
                )
                .await?;
        }
        let (results, targets, chars) = match results {
            Ok(results) => results,
            Err(error) => {
                tracing::warn!(material = %material.id, %error, "stored material no longer loads");
                continue;
            }
        };
        for ((profile, (target, _)), result) in missing.iter().zip(&targets).zip(results) {
            let rendition = match result {
                Ok(r) => r,
                Err(error) => {
                    match ledcast_media::judge_refusal(&error, target, chars) {
                        Some(problem) => {
                            let problem = crate::legibility::Problem::from(&problem);
                            tracing::info!(material = %material.id, profile = %profile.id, problem = %problem.en, "no legible rendition");
                            state
                                .store
                                .upsert_rendition_refusal(
                                    &material.id,
                                    &profile.id,
                                    &serde_json::to_string(&problem)?,
                                )
                                .await?;
                        }
                        None => {
                            tracing::debug!(material = %material.id, profile = %profile.id, %error, "no rendition")
                        }
                    }
                    continue;
                }
            };
            let facts = crate::legibility::RenditionFacts::of(&rendition, target);
            if let Some(problem) = facts.problems.first() {
                state
                    .store
                    .mark_media_illegible(&rendition.media.sha256.to_hex(), &problem.en, now)
                    .await?;
            }
            store_rendition(state, &material.id, &profile.id, &rendition, &facts).await?;
            made += 1;
        }
    }
    Ok(made)
}

/// Stores one rendition's bytes and records it with its facts.
pub async fn store_rendition(
    state: &AppState,
    material_id: &str,
    profile_id: &str,
    rendition: &ledcast_media::Rendition,
    facts: &crate::legibility::RenditionFacts,
) -> anyhow::Result<()> {
    let digest = state.media.put(&rendition.bytes).await?;
    anyhow::ensure!(
        digest == rendition.media.sha256,
        "rendition digest mismatch for {material_id}/{profile_id}"
    );
    let now = state.clock.now().as_millis();
    state
        .store
        .register_media(
            &digest.to_hex(),
            &rendition.media.mime,
            rendition.bytes.len() as u64,
            now,
        )
        .await?;
    state
        .store
        .upsert_rendition(&crate::store::RenditionRow {
            material_id: material_id.to_owned(),
            profile_id: profile_id.to_owned(),
            sha256: digest.to_hex(),
            size_bytes: rendition.bytes.len() as i64,
            mime: rendition.media.mime.clone(),
            width: i64::from(rendition.media.width),
            height: i64::from(rendition.media.height),
            facts: Some(serde_json::to_string(facts)?),
        })
        .await?;
    Ok(())
}

/// Metadata of a material to import.
#[derive(Debug, Clone)]
pub struct MaterialMeta {
    /// Material id (playlists refer to it).
    pub id: String,
    /// Title.
    pub title: String,
    /// Category tags.
    pub tags: Vec<String>,
    /// Origin.
    pub source: String,
    /// Validity start (ms).
    pub valid_from: Option<i64>,
    /// Validity end (ms).
    pub valid_until: Option<i64>,
    /// Counts as an anti-fraud warning.
    pub is_warning: bool,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The media pipeline refused the bytes (user-facing message).
    #[error("{0}")]
    Media(ledcast_media::IngestError),
    /// A video no screen profile can play (what each profile's player box
    /// lacks, in Chinese and English).
    #[error("{} / {}", .0.zh, .0.en)]
    Unplayable(crate::legibility::Problem),
    /// The store refused (e.g. the id exists).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Anything else (I/O).
    #[error("{0}")]
    Other(String),
}

/// Runs bytes through the media pipeline, stores the re-encoded material
/// under its SHA-256 (state `pending`, uploaded by `uploader_id`) and makes
/// its renditions. Returns the row, renditions made and the pipeline's notes.
pub async fn import_material(
    state: &AppState,
    declared_name: &str,
    bytes: Vec<u8>,
    meta: MaterialMeta,
    uploader_id: &str,
) -> Result<(crate::store::MaterialRow, usize, Vec<String>), ImportError> {
    let ingested = ingest_media(declared_name, bytes).await?;
    let notes = ingested.notes.clone();
    let material = store_ingested(state, &ingested, meta, uploader_id).await?;
    let made = ensure_renditions(state)
        .await
        .map_err(|e| ImportError::Other(e.to_string()))?;
    Ok((material, made, notes))
}

/// Runs bytes through the media pipeline (sniff, validate, re-encode) on a
/// blocking thread; nothing is stored.
pub async fn ingest_media(
    declared_name: &str,
    bytes: Vec<u8>,
) -> Result<ledcast_media::Material, ImportError> {
    let name = declared_name.to_owned();
    tokio::task::spawn_blocking(move || {
        ledcast_media::ingest(&bytes, &name, &ledcast_media::Limits::default())
    })
    .await
    .map_err(|e| ImportError::Other(e.to_string()))?
    .map_err(ImportError::Media)
}

/// Stores already-ingested media under its SHA-256 and inserts the material
/// (state `pending`). Makes no renditions (call [`ensure_renditions`]).
/// A video that no profile of the applied playlist files can play is
/// refused ([`ImportError::Unplayable`]) and nothing is stored.
pub async fn store_ingested(
    state: &AppState,
    ingested: &ledcast_media::Material,
    meta: MaterialMeta,
    uploader_id: &str,
) -> Result<crate::store::MaterialRow, ImportError> {
    if let Some(codec) = ingested.video_codec {
        let model = crate::applied::stored_model(state, state.clock.now())
            .await
            .map_err(|e| ImportError::Other(e.to_string()))?;
        let profiles = model.map(|(m, _)| m.profiles).unwrap_or_default();
        if let Some(problem) = crate::legibility::video_playable_nowhere(
            &profiles,
            ingested.width,
            ingested.height,
            crate::legibility::video_codec(codec),
        ) {
            return Err(ImportError::Unplayable(problem));
        }
    }
    let digest = state
        .media
        .put(&ingested.bytes)
        .await
        .map_err(|e| ImportError::Other(e.to_string()))?;
    let now = state.clock.now().as_millis();
    state
        .store
        .register_media(
            &digest.to_hex(),
            &ingested.mime,
            ingested.bytes.len() as u64,
            now,
        )
        .await?;
    let kind = match ingested.kind {
        ledcast_media::MaterialKind::Poster => crate::store::MaterialKind::Poster,
        ledcast_media::MaterialKind::Video => crate::store::MaterialKind::Video,
        ledcast_media::MaterialKind::Text => crate::store::MaterialKind::Text,
    };
    let material = crate::store::MaterialRow {
        id: meta.id,
        sha256: digest.to_hex(),
        kind,
        title: meta.title,
        tags: meta.tags,
        source: meta.source,
        mime: ingested.mime.clone(),
        size_bytes: ingested.bytes.len() as i64,
        width: (ingested.width > 0).then_some(i64::from(ingested.width)),
        height: (ingested.height > 0).then_some(i64::from(ingested.height)),
        duration_ms: ingested.duration_ms.and_then(|d| i64::try_from(d).ok()),
        valid_from: meta.valid_from,
        valid_until: meta.valid_until,
        state: crate::store::MaterialState::Pending,
        uploaded_by: uploader_id.to_owned(),
        uploaded_at: now,
        decided_by: None,
        decided_at: None,
        is_warning: meta.is_warning,
    };
    state.store.insert_material(&material).await?;
    Ok(material)
}

/// Imports the materials a `materials.toml` lists (files relative to
/// `media_dir`, texts inline), approving the approved ones as `approver_id`.
/// Already-present ids are skipped. Returns `(imported, skipped, problems)`.
pub async fn import_materials_file(
    state: &AppState,
    materials_toml: &str,
    media_dir: &std::path::Path,
    uploader_id: &str,
    approver_id: &str,
) -> anyhow::Result<(usize, usize, Vec<String>)> {
    let (entries, diagnostics) = compiler::parse_materials(
        compile_cmd_materials_name(),
        materials_toml,
        chrono_tz::Asia::Shanghai,
    );
    let mut problems: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    let (mut imported, mut skipped) = (0, 0);
    for entry in entries {
        if state.store.material(&entry.id).await?.is_some() {
            skipped += 1;
            continue;
        }
        let (name, bytes) = match (&entry.file, &entry.text) {
            (Some(file), _) => {
                let relative = std::path::Path::new(file);
                if relative
                    .components()
                    .any(|c| !matches!(c, std::path::Component::Normal(_)))
                {
                    problems.push(format!(
                        "{}: file {file:?} must stay inside the media directory",
                        entry.id
                    ));
                    continue;
                }
                let path = media_dir.join(relative);
                match tokio::fs::read(&path).await {
                    Ok(bytes) => (file.clone(), bytes),
                    Err(e) => {
                        problems.push(format!("{}: reading {}: {e}", entry.id, path.display()));
                        continue;
                    }
                }
            }
            (None, Some(text)) => (format!("{}.txt", entry.id), text.clone().into_bytes()),
            (None, None) => {
                problems.push(format!("{}: neither file nor text", entry.id));
                continue;
            }
        };
        let meta = MaterialMeta {
            id: entry.id.clone(),
            title: entry.title.clone(),
            tags: entry
                .tags
                .iter()
                .cloned()
                .chain(entry.category.clone())
                .collect(),
            source: entry.source.clone().unwrap_or_default(),
            valid_from: entry.valid_from,
            valid_until: entry.valid_until,
            is_warning: entry.warning,
        };
        match import_material(state, &name, bytes, meta, uploader_id).await {
            Ok(_) => imported += 1,
            Err(e) => {
                problems.push(format!("{}: {e}", entry.id));
                continue;
            }
        }
        if entry.approved {
            state
                .store
                .decide_material(
                    &entry.id,
                    crate::store::MaterialState::Pending,
                    crate::store::MaterialState::Approved,
                    approver_id,
                    state.clock.now().as_millis(),
                )
                .await?;
        }
    }
    Ok((imported, skipped, problems))
}

fn compile_cmd_materials_name() -> &'static str {
    crate::site_files::MATERIALS_FILE
}
