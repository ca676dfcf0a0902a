//! Importing a weekly library pack (issue 10): every entry of a vetted
//! [`ledcast_pack::Pack`] goes through the media pipeline and is stored as a
//! *pending* material with a stable id (`{edition}-{nnn}`, the 1-based
//! manifest position), so importing the same pack twice changes nothing.
//! An entry is a duplicate when its id already exists or when a material
//! with the same stored SHA-256 does (tags: see [`material_tags`]); it is refused with the pipeline's (or
//! the store's) reason otherwise.
//!
//! The edition itself is recorded as `pending` (once: a re-import keeps the
//! first importer, who may not approve it).
//!
//! It does not read files, unpack zips (that is `ledcast_pack`), approve
//! anything, or draw progress (the caller gets a callback per entry).

use ledcast_pack::{ImportOutcome, ImportReport, MaterialSource, Pack, PackEntry};

use crate::materials::{self, ImportError, MaterialMeta};
use crate::state::AppState;

/// The tag every pack material carries (the demo playlists' queries select
/// `tags = ["county-pack"]`, like the county materials in `materials.toml`).
pub const PACK_TAG: &str = "county-pack";

/// The stable material id of the `index`-th (0-based) entry of `edition`.
pub fn material_id(edition: &str, index: usize) -> String {
    format!("{edition}-{:03}", index + 1)
}

/// The tags recorded for an entry: first the playlists' slug for its fraud
/// category (the compiler reads the first tag as the category, so a playlist
/// query `category = "loan"` picks up `虚假贷款`), then the category itself,
/// [`PACK_TAG`], `edition:{id}` and `screen:{kind}` per target kind.
pub fn material_tags(edition: &str, entry: &PackEntry) -> Vec<String> {
    let m = &entry.material;
    let mut tags = Vec::new();
    if let Some(slug) = ledcast_pack::category_slug(&m.category) {
        tags.push(slug.to_owned());
    }
    tags.push(m.category.clone());
    tags.push(PACK_TAG.to_owned());
    tags.push(format!("edition:{edition}"));
    tags.extend(m.screens.iter().map(|s| format!("screen:{s}")));
    tags
}

pub use crate::applied::editions::{edition_of, EditionView};

fn source_label(entry: &PackEntry) -> String {
    match &entry.material.source {
        MaterialSource::File(name) => name.clone(),
        MaterialSource::Text(_) => "text".to_owned(),
    }
}

/// Imports every entry of `pack` as a pending material uploaded by
/// `uploader_id`, calling `progress(done, total, title)` after each entry,
/// then makes the renditions of what was stored. Store failures other than
/// an entry's own insert abort with an error.
pub async fn import_pack(
    state: &AppState,
    pack: &Pack,
    uploader_id: &str,
    mut progress: impl FnMut(usize, usize, &str),
) -> anyhow::Result<ImportReport> {
    // The project's sample edition is written for one day; it moves to
    // today so that it shows the same on any date (county packs never move).
    // (Only a sample is copied: county packs can be large.)
    let moved_sample;
    let pack = if pack.manifest.sample_today.is_some() {
        let mut sample = pack.clone();
        let today = ledcast_compiler::sample_dates::day_in_china(state.clock.now());
        let days = sample.move_sample_to(today);
        tracing::info!(edition = %sample.manifest.edition, days, %today, "sample edition: dates moved to today");
        moved_sample = sample;
        &moved_sample
    } else {
        pack
    };
    let edition = &pack.manifest.edition;
    state
        .store
        .record_edition(
            edition,
            &pack.manifest.publisher,
            &pack.manifest.issued.format("%Y-%m-%d").to_string(),
            uploader_id,
            state.clock.now().as_millis(),
        )
        .await?;
    let mut report = ImportReport::new(edition.clone());
    let total = pack.entries.len();
    for (index, entry) in pack.entries.iter().enumerate() {
        let outcome = import_entry(state, edition, index, entry, uploader_id).await?;
        report.push(entry.material.title.clone(), source_label(entry), outcome);
        progress(index + 1, total, &entry.material.title);
    }
    if report.imported() > 0 {
        materials::ensure_renditions(state).await?;
    }
    Ok(report)
}

async fn import_entry(
    state: &AppState,
    edition: &str,
    index: usize,
    entry: &PackEntry,
    uploader_id: &str,
) -> anyhow::Result<ImportOutcome> {
    let id = material_id(edition, index);
    if let Some(existing) = state.store.material(&id).await? {
        return Ok(ImportOutcome::Duplicate {
            sha256: existing.sha256,
        });
    }
    let (bytes, declared_name) = entry.ingest_input();
    let ingested = match materials::ingest_media(&declared_name, bytes.to_vec()).await {
        Ok(ingested) => ingested,
        Err(error) => {
            return Ok(ImportOutcome::Refused {
                reason: error.to_string(),
            })
        }
    };
    let sha256 = crate::digest::sha256_hex(&ingested.bytes);
    if state.store.material_by_sha256(&sha256).await?.is_some() {
        return Ok(ImportOutcome::Duplicate { sha256 });
    }
    let m = &entry.material;
    let meta = MaterialMeta {
        id,
        title: m.title.clone(),
        tags: material_tags(edition, entry),
        source: edition.to_owned(),
        valid_from: Some(m.valid_from.timestamp_millis()),
        valid_until: Some(m.valid_until.timestamp_millis()),
        is_warning: true,
    };
    match materials::store_ingested(state, &ingested, meta, uploader_id).await {
        Ok(row) => Ok(ImportOutcome::Imported { sha256: row.sha256 }),
        Err(ImportError::Other(reason)) => Err(anyhow::anyhow!(reason)),
        Err(error) => Ok(ImportOutcome::Refused {
            reason: error.to_string(),
        }),
    }
}
