//! Weekly library packs from the county anti-fraud centre: `pack.toml` plus
//! its materials, as a `.zip` or a directory, turned into a vetted [`Pack`]
//! whose entries are ready for the media pipeline.
//!
//! Pure: it works on bytes the caller has read (`&[u8]` of a zip, or the
//! `(relative path, bytes)` list of a directory). It never touches the file
//! system, the network or the clock, and it does not ingest media (the
//! server passes each [`PackEntry`] to `ledcast_media::ingest`) nor store
//! anything. A zip is vetted from its central directory before a single
//! byte is decompressed: path escapes, symlinks, encryption, duplicate
//! names, entry count, declared sizes and ratio; sizes are enforced again
//! while reading so a lying header cannot get past the limits.

mod central;
pub mod manifest;
pub mod report;

use std::collections::{BTreeSet, HashMap};
use std::io::{Cursor, Read};

use serde::Serialize;

pub use manifest::{
    category_slug, did_you_mean, edition_id_is_valid, parse_manifest, Diagnostic, Manifest,
    MaterialEntry, MaterialKind, MaterialSource, CATEGORY_SLUGS, FRAUD_CATEGORIES, MANIFEST_FILE,
    MATERIAL_KINDS, SCREEN_KINDS,
};
pub use report::{ImportOutcome, ImportReport, ImportRow};

/// Limits applied to a pack before and while reading it. Defaults in one place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackLimits {
    /// Most entries (files and directories) a pack may have.
    pub max_entries: usize,
    /// Largest uncompressed size of one entry, in bytes.
    pub max_entry_bytes: u64,
    /// Largest poster or comic file, in bytes (the media pipeline's
    /// image upload limit): checked against the declared size before the
    /// entry is inflated.
    pub max_image_bytes: u64,
    /// Largest video file, in bytes (the media pipeline's video upload
    /// limit, capped by `max_entry_bytes`), checked the same way.
    pub max_video_bytes: u64,
    /// Largest total uncompressed size of all entries, in bytes.
    pub max_total_bytes: u64,
    /// Largest uncompressed:compressed ratio of one zip entry.
    pub max_ratio: u64,
    /// Largest `pack.toml`, in bytes.
    pub max_manifest_bytes: u64,
}

impl Default for PackLimits {
    fn default() -> PackLimits {
        PackLimits {
            max_entries: 1_000,
            max_entry_bytes: 256 * 1024 * 1024,
            max_image_bytes: 50 * 1024 * 1024,
            max_video_bytes: 500 * 1024 * 1024,
            max_total_bytes: 1024 * 1024 * 1024,
            max_ratio: 100,
            max_manifest_bytes: 1024 * 1024,
        }
    }
}

/// Why a pack was refused. Each zip-safety refusal is its own variant.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackError {
    /// The bytes are not a zip archive we can read.
    #[error("not a readable zip archive: {reason}")]
    NotAZip {
        /// What is wrong.
        reason: String,
    },
    /// Zip64 records (only needed beyond 4 GiB or 65,535 entries).
    #[error("zip64 archives are not supported; a library pack is far below 4 GiB, re-create it with a plain zip tool")]
    Zip64Unsupported,
    /// An entry name is not UTF-8.
    #[error(
        "entry name `{name}` is not UTF-8; re-create the zip with UTF-8 names (7-Zip: `-mcu=on`)"
    )]
    NonUtf8Name {
        /// The name, lossily decoded.
        name: String,
    },
    /// More entries than the limit (counted from the central directory).
    #[error("pack has {count} entries, more than the limit of {limit}")]
    TooManyEntries {
        /// Entries declared.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// An entry path leaves the pack (`../`, absolute, drive letter, backslash…).
    #[error("entry `{name}` {reason}; refusing the pack (path escape)")]
    UnsafePath {
        /// The entry name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A symbolic-link entry.
    #[error("entry `{name}` is a symbolic link; packs may only contain regular files")]
    SymlinkEntry {
        /// The entry name.
        name: String,
    },
    /// An encrypted entry.
    #[error("entry `{name}` is encrypted; packs must not be password-protected")]
    EncryptedEntry {
        /// The entry name.
        name: String,
    },
    /// A compression method other than stored or deflate.
    #[error("entry `{name}` uses compression method {method}; only stored (0) and deflate (8) are accepted")]
    UnsupportedCompression {
        /// The entry name.
        name: String,
        /// The zip method number.
        method: u16,
    },
    /// Two entries with the same name.
    #[error("entry `{name}` appears more than once")]
    DuplicateName {
        /// The entry name.
        name: String,
    },
    /// One entry is larger than the per-entry limit.
    #[error("entry `{name}` is {size} bytes uncompressed, more than the limit of {limit}")]
    EntryTooLarge {
        /// The entry name.
        name: String,
        /// Its (declared or actual) size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// All entries together exceed the total limit.
    #[error("pack is at least {size} bytes uncompressed, more than the limit of {limit}")]
    TotalTooLarge {
        /// Size reached so far.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Compression ratio above the limit (a zip bomb).
    #[error("entry `{name}` expands {uncompressed} bytes from {compressed} (more than {limit}:1); refusing a likely zip bomb")]
    RatioTooHigh {
        /// The entry name.
        name: String,
        /// Compressed size.
        compressed: u64,
        /// Uncompressed size.
        uncompressed: u64,
        /// The limit.
        limit: u64,
    },
    /// An entry decompressed to more bytes than its header declared.
    #[error("entry `{name}` is larger than its header declares ({declared} bytes); refusing a forged header")]
    SizeMismatch {
        /// The entry name.
        name: String,
        /// Declared size.
        declared: u64,
    },
    /// An entry could not be decompressed (bad data, CRC).
    #[error("entry `{name}` is corrupt: {reason}")]
    CorruptEntry {
        /// The entry name.
        name: String,
        /// The decoder's reason.
        reason: String,
    },
    /// No `pack.toml` at the root (or under the single top directory).
    #[error("no pack.toml at the root of the pack; every pack starts with its manifest")]
    MissingManifest,
    /// `pack.toml` is not UTF-8.
    #[error("pack.toml is not UTF-8; save it as UTF-8")]
    ManifestNotUtf8,
    /// `pack.toml` problems (all of them), and files it names that are missing.
    #[error("pack.toml has {} problem(s):\n{}", .0.len(), render(.0))]
    Manifest(Vec<Diagnostic>),
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A vetted pack: its manifest and every material with its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pack {
    /// The parsed `pack.toml`.
    pub manifest: Manifest,
    /// One entry per `[[material]]`, in manifest order.
    pub entries: Vec<PackEntry>,
    /// Files in the pack that no material names (not read), for the report.
    pub unreferenced: Vec<String>,
}

impl Pack {
    /// Moves a sample pack to `today` (see [`Manifest::move_sample_to`]);
    /// a county pack is not moved. Returns the days moved.
    pub fn move_sample_to(&mut self, today: chrono::NaiveDate) -> i64 {
        let days = self.manifest.move_sample_to(today);
        for entry in &mut self.entries {
            entry.material.move_by(chrono::TimeDelta::days(days));
        }
        days
    }
}

/// One material and its content, ready for `ledcast_media::ingest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackEntry {
    /// The manifest entry.
    pub material: MaterialEntry,
    /// Its content.
    pub content: PackContent,
}

/// A material's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackContent {
    /// A file's bytes; `name` is its path in the pack (the declared name for ingest).
    File {
        /// Path in the pack, relative to its root.
        name: String,
        /// The file's bytes.
        bytes: Vec<u8>,
    },
    /// A warning text from the manifest.
    Text(String),
}

impl PackEntry {
    /// The bytes and declared name to hand to the media pipeline (a text
    /// material is its UTF-8 text, named `TITLE.txt`, slashes replaced by `_`).
    pub fn ingest_input(&self) -> (&[u8], String) {
        match &self.content {
            PackContent::File { name, bytes } => (bytes, name.clone()),
            PackContent::Text(text) => (
                text.as_bytes(),
                format!("{}.txt", self.material.title.replace(['/', '\\'], "_")),
            ),
        }
    }
}

/// Opens a `.zip` pack: vets the central directory, then reads `pack.toml`
/// and the files it names.
pub fn open_zip(bytes: &[u8], limits: &PackLimits) -> Result<Pack, PackError> {
    let central = central::read_central_directory(bytes, limits.max_entries)?;
    let mut seen = BTreeSet::new();
    let mut total: u64 = 0;
    for entry in &central {
        let name = &entry.name;
        manifest::check_relative_path(name).map_err(|reason| PackError::UnsafePath {
            name: name.clone(),
            reason: reason.to_owned(),
        })?;
        if entry
            .unix_mode
            .is_some_and(|mode| mode & 0o170_000 == 0o120_000)
        {
            return Err(PackError::SymlinkEntry { name: name.clone() });
        }
        if entry.flags & 1 != 0 {
            return Err(PackError::EncryptedEntry { name: name.clone() });
        }
        if !seen.insert(name.as_str()) {
            return Err(PackError::DuplicateName { name: name.clone() });
        }
        if name.ends_with('/') {
            continue;
        }
        if entry.method != 0 && entry.method != 8 {
            return Err(PackError::UnsupportedCompression {
                name: name.clone(),
                method: entry.method,
            });
        }
        check_entry_size(name, entry.uncompressed_size, limits)?;
        check_ratio(name, entry.compressed_size, entry.uncompressed_size, limits)?;
        total = total.saturating_add(entry.uncompressed_size);
        if total > limits.max_total_bytes {
            return Err(PackError::TotalTooLarge {
                size: total,
                limit: limits.max_total_bytes,
            });
        }
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|error| PackError::NotAZip {
            reason: error.to_string(),
        })?;
    if archive.len() != central.len() {
        return Err(PackError::NotAZip {
            reason: "the central directory disagrees with itself".to_owned(),
        });
    }
    let index: HashMap<&str, usize> = central
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    let files: Vec<&str> = central
        .iter()
        .filter(|e| !e.name.ends_with('/'))
        .map(|e| e.name.as_str())
        .collect();
    assemble(&files, limits, |name, limit| {
        let i = index[name];
        let entry = &central[i];
        let mut file = archive
            .by_index(i)
            .map_err(|error| PackError::CorruptEntry {
                name: name.to_owned(),
                reason: error.to_string(),
            })?;
        if file.name() != name || file.compressed_size() != entry.compressed_size {
            return Err(PackError::NotAZip {
                reason: format!("local and central records of `{name}` disagree"),
            });
        }
        if entry.uncompressed_size > limit {
            return Err(PackError::EntryTooLarge {
                name: name.to_owned(),
                size: entry.uncompressed_size,
                limit,
            });
        }
        let declared = entry.uncompressed_size;
        let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0).min(1 << 24));
        (&mut file)
            .take(declared + 1)
            .read_to_end(&mut bytes)
            .map_err(|error| PackError::CorruptEntry {
                name: name.to_owned(),
                reason: error.to_string(),
            })?;
        let read = bytes.len() as u64;
        if read > declared {
            return Err(PackError::SizeMismatch {
                name: name.to_owned(),
                declared,
            });
        }
        if read < declared {
            return Err(PackError::CorruptEntry {
                name: name.to_owned(),
                reason: format!("{read} bytes, header declares {declared}"),
            });
        }
        Ok(bytes)
    })
}

/// Opens a directory pack from the files the caller read: `(path relative
/// to the pack root with `/` separators, bytes)`. Directories are implied.
pub fn open_dir(files: Vec<(String, Vec<u8>)>, limits: &PackLimits) -> Result<Pack, PackError> {
    if files.len() > limits.max_entries {
        return Err(PackError::TooManyEntries {
            count: files.len(),
            limit: limits.max_entries,
        });
    }
    let mut total: u64 = 0;
    let mut by_name: HashMap<String, Vec<u8>> = HashMap::with_capacity(files.len());
    let mut names = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        manifest::check_relative_path(&name).map_err(|reason| PackError::UnsafePath {
            name: name.clone(),
            reason: reason.to_owned(),
        })?;
        check_entry_size(&name, bytes.len() as u64, limits)?;
        total = total.saturating_add(bytes.len() as u64);
        if total > limits.max_total_bytes {
            return Err(PackError::TotalTooLarge {
                size: total,
                limit: limits.max_total_bytes,
            });
        }
        if by_name.contains_key(&name) {
            return Err(PackError::DuplicateName { name });
        }
        names.push(name.clone());
        by_name.insert(name, bytes);
    }
    let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
    assemble(&names_ref, limits, |name, limit| {
        let bytes = by_name.remove(name).unwrap_or_default();
        if bytes.len() as u64 > limit {
            return Err(PackError::EntryTooLarge {
                name: name.to_owned(),
                size: bytes.len() as u64,
                limit,
            });
        }
        Ok(bytes)
    })
}

fn check_entry_size(name: &str, size: u64, limits: &PackLimits) -> Result<(), PackError> {
    if size > limits.max_entry_bytes {
        return Err(PackError::EntryTooLarge {
            name: name.to_owned(),
            size,
            limit: limits.max_entry_bytes,
        });
    }
    Ok(())
}

fn check_ratio(
    name: &str,
    compressed: u64,
    uncompressed: u64,
    limits: &PackLimits,
) -> Result<(), PackError> {
    if uncompressed > compressed.max(1).saturating_mul(limits.max_ratio) {
        return Err(PackError::RatioTooHigh {
            name: name.to_owned(),
            compressed,
            uncompressed,
            limit: limits.max_ratio,
        });
    }
    Ok(())
}

/// Finds the root (`pack.toml` at the top, or under the single top-level
/// directory every file shares), parses the manifest, checks that every
/// named file exists and reads those files with `read(name, limit)`.
fn assemble(
    files: &[&str],
    limits: &PackLimits,
    mut read: impl FnMut(&str, u64) -> Result<Vec<u8>, PackError>,
) -> Result<Pack, PackError> {
    let prefix = pack_root(files).ok_or(PackError::MissingManifest)?;
    let manifest_name = format!("{prefix}{MANIFEST_FILE}");
    let manifest_bytes = read(&manifest_name, limits.max_manifest_bytes)?;
    if manifest_bytes.len() as u64 > limits.max_manifest_bytes {
        return Err(PackError::EntryTooLarge {
            name: manifest_name,
            size: manifest_bytes.len() as u64,
            limit: limits.max_manifest_bytes,
        });
    }
    let text = String::from_utf8(manifest_bytes).map_err(|_| PackError::ManifestNotUtf8)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let manifest = parse_manifest(text).map_err(PackError::Manifest)?;

    let relative: Vec<&str> = files
        .iter()
        .filter_map(|f| f.strip_prefix(prefix.as_str()))
        .filter(|f| *f != MANIFEST_FILE)
        .collect();
    let lines = manifest::LineIndex::new(text);
    let mut missing = Vec::new();
    for material in &manifest.materials {
        if let MaterialSource::File(file) = &material.source {
            if !relative.contains(&file.as_str()) {
                let at = text
                    .get(lines.offset_of_line(material.line)..)
                    .and_then(|rest| rest.find(file.as_str()))
                    .map_or(lines.offset_of_line(material.line), |i| {
                        lines.offset_of_line(material.line) + i
                    });
                let hint = match did_you_mean(file, &relative) {
                    Some(close) => {
                        format!("did you mean `{close}`? add the file to the pack or fix the path")
                    }
                    None => "add the file to the pack or fix the path".to_owned(),
                };
                missing.push(lines.diagnostic(
                    at,
                    format!("file `{file}` is not in the pack"),
                    Some(hint),
                ));
            }
        }
    }
    if !missing.is_empty() {
        return Err(PackError::Manifest(missing));
    }
    let mut used = BTreeSet::new();
    let mut entries = Vec::with_capacity(manifest.materials.len());
    for material in &manifest.materials {
        let content = match &material.source {
            MaterialSource::Text(text) => PackContent::Text(text.clone()),
            MaterialSource::File(file) => {
                used.insert(file.as_str());
                // The kind's own limit, checked against the declared size
                // before anything is inflated: a 250 MiB "poster" is refused
                // here, not after it has been decompressed into memory.
                let kind_limit = match material.kind {
                    MaterialKind::Video => limits.max_video_bytes,
                    MaterialKind::Poster | MaterialKind::Comic | MaterialKind::Text => {
                        limits.max_image_bytes
                    }
                };
                let limit = kind_limit.min(limits.max_entry_bytes);
                let bytes = read(&format!("{prefix}{file}"), limit)?;
                PackContent::File {
                    name: file.clone(),
                    bytes,
                }
            }
        };
        entries.push(PackEntry {
            material: material.clone(),
            content,
        });
    }
    let unreferenced = relative
        .iter()
        .filter(|f| !used.contains(**f))
        .map(|f| (*f).to_owned())
        .collect();
    Ok(Pack {
        manifest,
        entries,
        unreferenced,
    })
}

/// `""` when `pack.toml` is at the top; `"dir/"` when every file is under
/// one top directory that holds `pack.toml`; `None` otherwise.
fn pack_root(files: &[&str]) -> Option<String> {
    if files.contains(&MANIFEST_FILE) {
        return Some(String::new());
    }
    let first = files.first()?;
    let (top, _) = first.split_once('/')?;
    let prefix = format!("{top}/");
    let all_under = files.iter().all(|f| f.starts_with(&prefix));
    let has_manifest = files.contains(&format!("{prefix}{MANIFEST_FILE}").as_str());
    (all_under && has_manifest).then_some(prefix)
}
