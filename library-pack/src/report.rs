//! The import report shared by `ledcast-server import` and `POST
//! /api/v1/packs`: one row per material (imported, duplicate by hash, or
//! refused with a reason) and the summary line
//! `import edition=ID imported=N duplicates=M refused=K`.
//!
//! It only records outcomes; it does not import anything.

use std::fmt;

use serde::Serialize;

/// What happened to one material.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ImportOutcome {
    /// Stored as new media.
    Imported {
        /// SHA-256 (hex) of the stored media.
        sha256: String,
    },
    /// Already in the library (same content hash); nothing changed.
    Duplicate {
        /// SHA-256 (hex) of the existing media.
        sha256: String,
    },
    /// Not imported.
    Refused {
        /// Why, lowercase (e.g. the media pipeline's error).
        reason: String,
    },
}

/// One material's row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportRow {
    /// The material's title.
    pub title: String,
    /// Its file in the pack, or `text` for a text material.
    pub source: String,
    /// What happened.
    pub outcome: ImportOutcome,
}

/// The result of importing one edition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportReport {
    /// The edition id.
    pub edition: String,
    /// One row per material, in manifest order.
    pub rows: Vec<ImportRow>,
}

impl ImportReport {
    /// An empty report for `edition`.
    pub fn new(edition: impl Into<String>) -> ImportReport {
        ImportReport {
            edition: edition.into(),
            rows: Vec::new(),
        }
    }

    /// Records one material's outcome.
    pub fn push(
        &mut self,
        title: impl Into<String>,
        source: impl Into<String>,
        outcome: ImportOutcome,
    ) {
        self.rows.push(ImportRow {
            title: title.into(),
            source: source.into(),
            outcome,
        });
    }

    /// Materials stored as new.
    pub fn imported(&self) -> usize {
        self.count(|o| matches!(o, ImportOutcome::Imported { .. }))
    }

    /// Materials skipped because the library already had the same content.
    pub fn duplicates(&self) -> usize {
        self.count(|o| matches!(o, ImportOutcome::Duplicate { .. }))
    }

    /// Materials refused.
    pub fn refused(&self) -> usize {
        self.count(|o| matches!(o, ImportOutcome::Refused { .. }))
    }

    /// The per-row table, one line per material (for the terminal).
    pub fn table(&self) -> String {
        let mut out = String::new();
        for row in &self.rows {
            let what = match &row.outcome {
                ImportOutcome::Imported { sha256 } => format!("imported  {}", short(sha256)),
                ImportOutcome::Duplicate { sha256 } => format!("duplicate {}", short(sha256)),
                ImportOutcome::Refused { reason } => format!("refused   {reason}"),
            };
            out.push_str(&format!("{what}  {}  {}\n", row.source, row.title));
        }
        out
    }

    fn count(&self, keep: impl Fn(&ImportOutcome) -> bool) -> usize {
        self.rows.iter().filter(|r| keep(&r.outcome)).count()
    }
}

fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

/// The summary line: `import edition=ID imported=N duplicates=M refused=K`.
impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "import edition={} imported={} duplicates={} refused={}",
            self.edition,
            self.imported(),
            self.duplicates(),
            self.refused()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_counts_each_outcome() {
        let mut report = ImportReport::new("gaogang-2026-W48");
        report.push(
            "a",
            "posters/a.png",
            ImportOutcome::Imported {
                sha256: "ab".repeat(32),
            },
        );
        report.push(
            "b",
            "posters/b.png",
            ImportOutcome::Duplicate {
                sha256: "cd".repeat(32),
            },
        );
        report.push(
            "c",
            "text",
            ImportOutcome::Imported {
                sha256: "ef".repeat(32),
            },
        );
        report.push(
            "d",
            "videos/d.mp4",
            ImportOutcome::Refused {
                reason: "not a video".into(),
            },
        );
        assert_eq!(
            report.to_string(),
            "import edition=gaogang-2026-W48 imported=2 duplicates=1 refused=1"
        );
        assert!(report
            .table()
            .contains("refused   not a video  videos/d.mp4  d"));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["rows"][1]["outcome"]["outcome"], "duplicate");
        assert_eq!(json["rows"][3]["outcome"]["reason"], "not a video");
    }
}
