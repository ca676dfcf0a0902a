//! A site from files, as the compiler sees it, with real renditions: the
//! playlist TOML files of a directory, the materials `materials.toml` names
//! (files under a media directory, texts inline) run through the media
//! pipeline, and every rendition for every profile, with its legibility
//! facts. No store, no clock: `compile --explain`, `preview` and the glass
//! test use it, so they see exactly the pixels and durations the server's
//! rotations carry (the server's catalog goes through the same
//! [`RenditionFacts::catalog_rendition`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;

use crate::legibility::{render_profile, Problem, RenditionFacts};

/// The file under `--dir` that lists the demo materials (not a playlist file).
pub const MATERIALS_FILE: &str = "materials.toml";

/// Reads every `*.toml` in `dir` (sorted by name) as `(display name, text)`.
pub fn read_dir_texts(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading playlist directory {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        out.push((path.display().to_string(), text));
    }
    Ok(out)
}

/// The site, compiled inputs and rendered media.
pub struct SiteFiles {
    /// The parsed playlist model.
    pub model: compiler::Model,
    /// Every problem found while reading (parse and materials).
    pub diagnostics: Vec<compiler::Diagnostic>,
    /// The catalog with real renditions.
    pub catalog: compiler::Catalog,
    /// The materials as listed.
    pub entries: Vec<compiler::MaterialEntry>,
    /// Rendition bytes by content address (what an agent downloads).
    pub media: HashMap<protocol::Sha256, Vec<u8>>,
    /// Each rendition by (material id, profile id).
    pub renditions: BTreeMap<(String, String), ledcast_media::Rendition>,
    /// Why a material has no rendition for a profile a person could read.
    pub refusals: BTreeMap<(String, String), Problem>,
    /// Each text material's text as stored (after ingest hygiene).
    pub texts: BTreeMap<String, String>,
}

/// Reads `playlists_dir` (every `*.toml`, `materials.toml` for the
/// materials) and the files it names under `media_dir`, and renders every
/// material for every profile.
pub fn load(playlists_dir: &Path, media_dir: &Path) -> anyhow::Result<SiteFiles> {
    let texts = read_dir_texts(playlists_dir)?;
    let (materials, playlist_files): (Vec<_>, Vec<_>) = texts.iter().partition(|(name, _)| {
        Path::new(name)
            .file_name()
            .is_some_and(|f| f == MATERIALS_FILE)
    });
    if playlist_files.is_empty() {
        anyhow::bail!("no playlist *.toml files in {}", playlists_dir.display());
    }
    let inputs: Vec<(&str, &str)> = playlist_files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let (model, mut diagnostics) = compiler::parse(&inputs);
    let mut entries = Vec::new();
    for (name, text) in &materials {
        let (found, problems) = compiler::parse_materials(name, text, model.settings.timezone);
        entries.extend(found);
        diagnostics.extend(problems);
    }
    let mut site = SiteFiles {
        catalog: compiler::Catalog::default(),
        model,
        diagnostics,
        entries: Vec::new(),
        media: HashMap::new(),
        renditions: BTreeMap::new(),
        refusals: BTreeMap::new(),
        texts: BTreeMap::new(),
    };
    let catalog = compiler::preview_catalog(&entries, &site.model);
    let targets: Vec<(ledcast_media::RenderProfile, ledcast_media::Fit)> = site
        .model
        .profiles
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
    let mut materials: Vec<compiler::CatalogMaterial> = catalog.materials().to_vec();
    for entry in &entries {
        let Some(material) = materials.iter_mut().find(|m| m.id == entry.id) else {
            continue;
        };
        let bytes = match (&entry.file, &entry.text) {
            (Some(file), _) => {
                let path: PathBuf = media_dir.join(file);
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?
            }
            (None, Some(text)) => text.clone().into_bytes(),
            (None, None) => continue,
        };
        let ingested = ledcast_media::ingest(&bytes, &entry.id, &ledcast_media::Limits::default())
            .with_context(|| format!("material {}", entry.id))?;
        if let Some(text) = &ingested.text {
            site.texts.insert(entry.id.clone(), text.clone());
        }
        let chars = ingested
            .text
            .as_deref()
            .map_or(0, |t| t.chars().filter(|c| *c != '\n').count() as u32);
        material.renditions.clear();
        for ((profile, (target, _)), result) in site
            .model
            .profiles
            .iter()
            .zip(&targets)
            .zip(ledcast_media::render_many(&ingested, &targets))
        {
            let key = (entry.id.clone(), profile.id.clone());
            let rendition = match result {
                Ok(r) => r,
                Err(error) => {
                    if let Some(problem) = ledcast_media::judge_refusal(&error, target, chars) {
                        let problem = Problem::from(&problem);
                        material
                            .refused
                            .insert(profile.id.clone(), problem.en.clone());
                        site.refusals.insert(key, problem);
                    }
                    continue;
                }
            };
            let facts = RenditionFacts::of(&rendition, target);
            let strip = (ingested.kind == ledcast_media::MaterialKind::Text && profile.scroll)
                .then_some(rendition.media.width);
            material.renditions.insert(
                profile.id.clone(),
                facts.catalog_rendition(rendition.media.clone(), strip),
            );
            site.media
                .entry(rendition.media.sha256)
                .or_insert_with(|| rendition.bytes.clone());
            site.renditions.insert(key, rendition);
        }
    }
    site.catalog = compiler::Catalog::new(materials);
    site.entries = entries;
    Ok(site)
}
