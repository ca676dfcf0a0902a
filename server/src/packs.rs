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

use std::collections::BTreeMap;

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

/// The edition a material came in, from its `edition:{id}` tag.
pub fn edition_of(tags: &[String]) -> Option<String> {
    tags.iter()
        .find_map(|t| t.strip_prefix("edition:"))
        .map(str::to_owned)
}

/// How library editions shape the compiler's catalog: which edition is
/// current (`edition = "current"` items), which were superseded and when
/// (their materials retire then, everywhere: the catalog ends their
/// validity at that instant), and — for the diff before an approval — an
/// edition whose pending materials count as approved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EditionView {
    /// The current edition.
    pub current: Option<String>,
    /// Superseded editions and when they were superseded (ms).
    pub superseded: BTreeMap<String, i64>,
    /// An edition whose pending materials are treated as approved.
    pub approving: Option<String>,
}

impl EditionView {
    /// The editions as stored.
    pub async fn stored(state: &AppState) -> anyhow::Result<EditionView> {
        let mut view = EditionView::default();
        for e in state.store.list_editions().await? {
            match e.state {
                crate::store::EditionState::Current => view.current = Some(e.id),
                crate::store::EditionState::Superseded => {
                    view.superseded
                        .insert(e.id, e.superseded_at.unwrap_or(i64::MIN));
                }
                crate::store::EditionState::Pending => {}
            }
        }
        Ok(view)
    }

    /// The view after approving `edition` at `now` (nothing stored).
    pub fn approving(mut self, edition: &str, now: i64) -> EditionView {
        if let Some(previous) = self.current.take().filter(|c| c != edition) {
            self.superseded.insert(previous, now);
        }
        self.superseded.remove(edition);
        self.current = Some(edition.to_owned());
        self.approving = Some(edition.to_owned());
        self
    }

    /// Whether the compiler may use `m` (approved, or pending in the
    /// edition being approved).
    pub fn approved(&self, m: &crate::store::MaterialRow) -> bool {
        m.state == crate::store::MaterialState::Approved
            || (m.state == crate::store::MaterialState::Pending
                && self.approving.is_some()
                && edition_of(&m.tags) == self.approving
                && m.source == *self.approving.as_deref().unwrap_or_default())
    }

    /// `m`'s end of validity: its `valid_until`, or when its edition was
    /// superseded if that is earlier.
    pub fn valid_until(&self, m: &crate::store::MaterialRow) -> Option<i64> {
        let superseded = edition_of(&m.tags).and_then(|e| self.superseded.get(&e).copied());
        match (m.valid_until, superseded) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

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
