//! The materials catalog the compiler draws from, and the schema of
//! `playlists/materials.toml` (which sample files under `media/` are
//! materials in the demo).
//!
//! The server builds a [`Catalog`] from its store and the media pipeline's
//! renditions; tests build one by hand; [`preview_catalog`] builds a
//! placeholder one from `materials.toml` for the CLI (its media digests are
//! stand-ins, not content addresses). No file is read here.

use std::collections::BTreeMap;

use ledcast_protocol::v1 as protocol;
use serde::{Deserialize, Serialize};

use crate::diagnostic::{did_you_mean, Diagnostic, LineIndex, Location};
use crate::model::Model;
use crate::parse::datetime_to_millis;

/// The kind of a material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MaterialKind {
    /// A still image.
    Poster,
    /// A video clip.
    Video,
    /// A warning text, rendered to a bitmap (a strip on scrollers).
    Text,
}

/// A material rendered for one profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendition {
    /// The rendition's media (content address, size, type, pixels).
    pub media: protocol::MediaRef,
    /// For text on a scroll profile: the strip's width in pixels.
    pub strip_width_px: Option<u32>,
    /// For a text: its glyph size and length, as the renderer laid it out.
    pub text: Option<TextMetrics>,
    /// For a video: its codec, as the media pipeline probed it; with its
    /// coded size (`media.width` × `media.height`) it is checked against
    /// the profile's player box. `None`: not a video, or not probed (the
    /// placeholder renditions of [`preview_catalog`]), and not checked.
    pub video_codec: Option<crate::model::VideoCodec>,
    /// Why a person could not read it on its panel, as the renderer judged
    /// it (dark, glyphs too small); empty when legible. The scroll speed is
    /// judged by the compiler, which knows the profile's reading speed.
    pub problems: Vec<String>,
}

/// How the renderer laid out a text for one profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextMetrics {
    /// Em size: the height and width of a full-width character, pixels.
    pub glyph_px: u32,
    /// Characters drawn.
    pub chars: u32,
}

/// One material as the compiler sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogMaterial {
    /// Material id (what playlists reference).
    pub id: String,
    /// Poster, video or text.
    pub kind: MaterialKind,
    /// Human title.
    pub title: String,
    /// Tags (fraud categories, pack names) for queries.
    pub tags: Vec<String>,
    /// Fraud category.
    pub category: Option<String>,
    /// Edition / source, e.g. `county pack 2026-W48`.
    pub source: Option<String>,
    /// The library edition the material came in (`gaogang-2026-W48`), for
    /// `edition = "current"` queries; `None` for materials uploaded one by one.
    pub edition: Option<String>,
    /// Not shown before this instant (ms since epoch).
    pub valid_from: Option<i64>,
    /// Not shown from this instant on (ms since epoch).
    pub valid_until: Option<i64>,
    /// Approved by an approver; unapproved material is never compiled in.
    pub approved: bool,
    /// Counts as an anti-fraud warning for rules.
    pub is_warning: bool,
    /// When it was added (ms since epoch), for `newest = N`.
    pub added_at: i64,
    /// A video's own length.
    pub duration_ms: Option<u64>,
    /// Renditions keyed by profile id.
    pub renditions: BTreeMap<String, Rendition>,
    /// Profiles the material could not be rendered for because a person
    /// could not read it there (a text that does not fit a still-only
    /// panel, a panel too low for characters), with the reason.
    pub refused: BTreeMap<String, String>,
}

impl CatalogMaterial {
    /// Whether the material may be shown at `t`.
    pub fn is_live_at(&self, t: i64) -> bool {
        self.approved
            && self.valid_from.is_none_or(|from| from <= t)
            && self.valid_until.is_none_or(|until| t < until)
    }
}

/// Every material the compiler may use, sorted by id, and which library
/// edition is current (what `edition = "current"` queries select).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalog {
    materials: Vec<CatalogMaterial>,
    current_edition: Option<String>,
}

impl Catalog {
    /// A catalog of `materials` (sorted by id; of duplicate ids the first wins).
    pub fn new(mut materials: Vec<CatalogMaterial>) -> Catalog {
        materials.sort_by(|a, b| a.id.cmp(&b.id));
        materials.dedup_by(|b, a| a.id == b.id);
        Catalog {
            materials,
            current_edition: None,
        }
    }

    /// The same catalog with `edition` as the current library edition.
    pub fn with_current_edition(mut self, edition: Option<String>) -> Catalog {
        self.current_edition = edition;
        self
    }

    /// The current library edition, if one was approved.
    pub fn current_edition(&self) -> Option<&str> {
        self.current_edition.as_deref()
    }

    /// All materials, sorted by id.
    pub fn materials(&self) -> &[CatalogMaterial] {
        &self.materials
    }

    /// The material with id `id`.
    pub fn get(&self, id: &str) -> Option<&CatalogMaterial> {
        self.materials
            .binary_search_by(|m| m.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.materials[i])
    }
}

/// One `[[materials]]` entry of `materials.toml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterialEntry {
    /// Material id.
    pub id: String,
    /// Poster, video or text.
    pub kind: MaterialKind,
    /// The sample file, relative to `media/` (texts may omit it and give `text`).
    pub file: Option<String>,
    /// Human title.
    pub title: String,
    /// The warning text itself (text materials).
    pub text: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Category.
    pub category: Option<String>,
    /// Source / edition.
    pub source: Option<String>,
    /// Validity start (ms).
    pub valid_from: Option<i64>,
    /// Validity end (ms, exclusive).
    pub valid_until: Option<i64>,
    /// Approved.
    pub approved: bool,
    /// Counts as a warning (default true: anti-fraud content).
    pub warning: bool,
    /// When added (ms).
    pub added_at: i64,
    /// A video's length in seconds.
    pub duration_seconds: Option<u32>,
    /// Where it was written.
    pub location: Location,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaterialsFile {
    #[serde(default)]
    materials: Vec<toml::Spanned<RawMaterial>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMaterial {
    id: String,
    kind: MaterialKind,
    file: Option<String>,
    title: String,
    text: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    category: Option<String>,
    source: Option<String>,
    valid_from: Option<toml::value::Datetime>,
    valid_until: Option<toml::value::Datetime>,
    #[serde(default = "yes")]
    approved: bool,
    #[serde(default = "yes")]
    warning: bool,
    added: toml::value::Datetime,
    duration_seconds: Option<u32>,
}

fn yes() -> bool {
    true
}

/// Parses `materials.toml` (`[[materials]]` entries); local date-times
/// without an offset are read in `timezone`. Reports every problem found.
pub fn parse_materials(
    file_name: &str,
    text: &str,
    timezone: chrono_tz::Tz,
) -> (Vec<MaterialEntry>, Vec<Diagnostic>) {
    let index = LineIndex::new(file_name, text);
    let mut diagnostics = Vec::new();
    let raw: RawMaterialsFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(error) => {
            diagnostics.push(crate::parse::toml_error_diagnostic(&index, &error));
            return (Vec::new(), diagnostics);
        }
    };
    let mut entries: Vec<MaterialEntry> = Vec::new();
    for spanned in raw.materials {
        let location = index.location(spanned.span().start);
        let raw = spanned.into_inner();
        let mut instant = |value: Option<toml::value::Datetime>, field: &str| {
            value.and_then(|v| match datetime_to_millis(&v, timezone) {
                Ok(ms) => Some(ms),
                Err(message) => {
                    diagnostics.push(
                        Diagnostic::error(
                            &location,
                            format!("material `{}`: {field}: {message}", raw.id),
                        )
                        .with_hint("write e.g. 2026-12-01T00:00:00+08:00"),
                    );
                    None
                }
            })
        };
        let valid_from = instant(raw.valid_from, "valid_from");
        let valid_until = instant(raw.valid_until, "valid_until");
        let added_at = instant(Some(raw.added), "added").unwrap_or(0);
        if entries.iter().any(|e| e.id == raw.id) {
            diagnostics.push(Diagnostic::error(
                &location,
                format!("material `{}` is defined twice", raw.id),
            ));
            continue;
        }
        if raw.kind == MaterialKind::Video && raw.duration_seconds.unwrap_or(0) == 0 {
            diagnostics.push(
                Diagnostic::error(&location, format!("video `{}` has no duration", raw.id))
                    .with_hint("add duration_seconds = <its length>"),
            );
            continue;
        }
        if raw.kind == MaterialKind::Text && raw.text.is_none() {
            diagnostics.push(
                Diagnostic::error(&location, format!("text material `{}` has no text", raw.id))
                    .with_hint("add text = \"…\""),
            );
            continue;
        }
        if raw.kind != MaterialKind::Text && raw.file.is_none() {
            diagnostics.push(
                Diagnostic::error(&location, format!("material `{}` names no file", raw.id))
                    .with_hint("add file = \"posters/….png\" (relative to media/)"),
            );
            continue;
        }
        if let (Some(from), Some(until)) = (valid_from, valid_until) {
            if until <= from {
                diagnostics.push(Diagnostic::error(
                    &location,
                    format!("material `{}` expires before it becomes valid", raw.id),
                ));
                continue;
            }
        }
        entries.push(MaterialEntry {
            id: raw.id,
            kind: raw.kind,
            file: raw.file,
            title: raw.title,
            text: raw.text,
            tags: raw.tags,
            category: raw.category,
            source: raw.source,
            valid_from,
            valid_until,
            approved: raw.approved,
            warning: raw.warning,
            added_at,
            duration_seconds: raw.duration_seconds,
            location,
        });
    }
    (entries, diagnostics)
}

/// Estimated em size of one line of text on a panel `height` pixels tall
/// (the media pipeline's rule: whole multiples of 16 px inside a margin of
/// a tenth above 64 px). Only for [`preview_catalog`]; the server and the
/// CLI use the renderer's own figures.
pub fn estimate_glyph_px(height: u32) -> u32 {
    let margin = if height > 64 { height / 10 } else { 0 };
    ((height - 2 * margin) / 16).max(1) * 16
}

/// Estimated width in pixels of `text` rendered one line high on a panel
/// `height` pixels tall (CJK glyphs square, others half width). Only for
/// [`preview_catalog`]; the media pipeline reports the real width.
pub fn estimate_strip_width_px(text: &str, height: u32) -> u32 {
    let row = estimate_glyph_px(height);
    text.chars()
        .map(|c| if c.is_ascii() { row / 2 } else { row })
        .sum::<u32>()
        .max(1)
}

fn placeholder_digest(material: &str, profile: &str) -> protocol::Sha256 {
    // FNV-1a over the names, spread over 32 bytes: a stable stand-in for a
    // content address in previews, never a real one.
    let mut out = [0u8; 32];
    for (chunk_index, chunk) in out.chunks_mut(8).enumerate() {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325 ^ chunk_index as u64;
        for byte in material.bytes().chain([0]).chain(profile.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        chunk.copy_from_slice(&hash.to_be_bytes());
    }
    protocol::Sha256(out)
}

/// A catalog for previews and the CLI: every entry gets a placeholder
/// rendition for each profile whose capabilities fit its kind (posters on
/// still-capable profiles, videos on video profiles, texts everywhere, as a
/// strip on scroll profiles). Unknown material references in playlists are
/// reported by the compiler, not here.
pub fn preview_catalog(entries: &[MaterialEntry], model: &Model) -> Catalog {
    let materials = entries
        .iter()
        .map(|entry| {
            let mut renditions = BTreeMap::new();
            for profile in &model.profiles {
                let fits = match entry.kind {
                    MaterialKind::Poster => profile.still,
                    MaterialKind::Video => profile.video,
                    MaterialKind::Text => true,
                };
                if !fits {
                    continue;
                }
                let mime = match entry.kind {
                    MaterialKind::Video => "video/mp4",
                    _ => "image/png",
                };
                let text = entry.text.as_deref().unwrap_or("");
                let strip_width_px = (entry.kind == MaterialKind::Text && profile.scroll)
                    .then(|| estimate_strip_width_px(text, profile.height));
                let metrics = (entry.kind == MaterialKind::Text).then(|| TextMetrics {
                    glyph_px: if profile.scroll {
                        estimate_glyph_px(profile.height)
                    } else {
                        16
                    },
                    chars: text.chars().filter(|c| *c != '\n').count() as u32,
                });
                renditions.insert(
                    profile.id.clone(),
                    Rendition {
                        media: protocol::MediaRef {
                            sha256: placeholder_digest(&entry.id, &profile.id),
                            size_bytes: 1,
                            mime: mime.to_owned(),
                            width: strip_width_px.unwrap_or(profile.width),
                            height: profile.height,
                        },
                        strip_width_px,
                        text: metrics,
                        video_codec: None,
                        problems: Vec::new(),
                    },
                );
            }
            CatalogMaterial {
                id: entry.id.clone(),
                kind: entry.kind,
                title: entry.title.clone(),
                tags: entry.tags.clone(),
                category: entry.category.clone(),
                source: entry.source.clone(),
                edition: None,
                valid_from: entry.valid_from,
                valid_until: entry.valid_until,
                approved: entry.approved,
                is_warning: entry.warning,
                added_at: entry.added_at,
                duration_ms: entry.duration_seconds.map(|s| u64::from(s) * 1000),
                renditions,
                refused: BTreeMap::new(),
            }
        })
        .collect();
    Catalog::new(materials)
}

/// "unknown material `x` — did you mean `y`?" for compile diagnostics.
pub(crate) fn unknown_material_hint(catalog: &Catalog, id: &str) -> String {
    did_you_mean(
        "material",
        id,
        catalog.materials.iter().map(|m| m.id.as_str()),
    )
}
