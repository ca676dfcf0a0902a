//! Compliance reports as CSV (UTF-8 with BOM, so Excel in a Chinese locale
//! opens it correctly) and as a printable A4 PDF with the Chinese font
//! embedded (a per-document subset of the fonts in `server/assets/fonts`).
//!
//! Pure: the HTTP layer gathers screens, figures and confirmations; this
//! module only formats them. Strings are the `report_*` keys of
//! `server/locales/` (`crate::i18n`).

mod pdf;

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use serde::Serialize;

use crate::compliance::ComplianceEntry;
use crate::store::{ConfirmationRow, ScreenRow, SiteRow};

/// The UTF-8 byte order mark that starts every CSV report.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A confirmation as listed: the stored entry plus the id of the entry that
/// corrected it (if any).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ListedConfirmation {
    /// The stored entry.
    #[serde(flatten)]
    pub entry: ConfirmationRow,
    /// The later entry that corrects this one.
    pub corrected_by: Option<String>,
}

/// Report language: the server's one [`crate::i18n::Lang`]
/// (`Lang::parse` reads the `lang` query value).
pub use crate::i18n::Lang;

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportInput {
    /// Language.
    pub lang: Lang,
    /// `site` or `org`.
    pub scope_kind: &'static str,
    /// The site or organisation id.
    pub scope_id: String,
    /// All sites (for names).
    pub sites: Vec<SiteRow>,
    /// The screens covered.
    pub screens: Vec<ScreenRow>,
    /// Per screen per day.
    pub entries: Vec<ComplianceEntry>,
    /// Confirmations of those screens in the range.
    pub confirmations: Vec<ListedConfirmation>,
    /// User id → username.
    pub usernames: HashMap<String, String>,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// When (ms).
    pub generated_at: i64,
}

/// A report ready to be written as CSV or PDF.
#[derive(Debug, Clone)]
pub struct Report {
    input: ReportInput,
    tz: Tz,
}

/// One table: a heading, column titles, rows of cells.
pub(crate) struct Table {
    pub heading: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Report {
    /// Wraps the input.
    pub fn new(input: ReportInput) -> Report {
        let tz = input
            .screens
            .first()
            .and_then(|s| s.timezone.parse().ok())
            .unwrap_or(chrono_tz::Asia::Shanghai);
        Report { input, tz }
    }

    /// The message `key` in the report's language (English, then the key, as fallbacks).
    pub fn t(&self, key: &str) -> String {
        self.input
            .lang
            .text_or_english(&format!("report_{key}"))
            .to_owned()
    }

    fn site_name(&self, id: &str) -> String {
        self.input
            .sites
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| id.to_owned(), |s| s.name.clone())
    }

    fn screen_name(&self, id: &str) -> String {
        self.input
            .screens
            .iter()
            .find(|s| s.id == id)
            .map_or_else(|| id.to_owned(), |s| s.name.clone())
    }

    fn local_time(&self, ms: i64) -> String {
        match self.tz.timestamp_millis_opt(ms).single() {
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => String::new(),
        }
    }

    /// Title lines: title, scope, range, generated, time zone.
    pub(crate) fn header_lines(&self) -> Vec<(String, String)> {
        let scope_label = if self.input.scope_kind == "org" {
            self.t("scope_org")
        } else {
            self.t("scope_site")
        };
        let scope_value = if self.input.scope_kind == "site" {
            format!(
                "{} ({})",
                self.site_name(&self.input.scope_id),
                self.input.scope_id
            )
        } else {
            self.input.scope_id.clone()
        };
        vec![
            (self.t("title"), String::new()),
            (scope_label, scope_value),
            (
                self.t("range"),
                format!("{} – {}", self.input.from, self.input.to),
            ),
            (
                self.t("generated"),
                self.local_time(self.input.generated_at),
            ),
            (self.t("timezone"), self.tz.name().to_owned()),
        ]
    }

    fn reasons_text(&self, entry: &ComplianceEntry) -> String {
        let mut seen = Vec::new();
        for r in &entry.day.reasons {
            let mut text = self.t(&format!("reason_{}", r.code));
            if let Some(rule) = &r.rule_id {
                text = format!("{text} ({rule})");
            }
            if !seen.contains(&text) {
                seen.push(text);
            }
        }
        seen.join("; ")
    }

    fn rules_text(&self, entry: &ComplianceEntry) -> String {
        entry
            .day
            .rules
            .iter()
            .map(|r| {
                let holds = match r.holds {
                    Some(true) => self.t("holds_true"),
                    Some(false) => self.t("holds_false"),
                    None => self.t("holds_null"),
                };
                format!("{}: {holds}", r.rule_id)
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn status_text(&self, entry: &ComplianceEntry) -> String {
        self.t(&format!("status_{}", entry.day.status.as_str()))
    }

    fn sorted_entries(&self) -> Vec<&ComplianceEntry> {
        let mut entries: Vec<&ComplianceEntry> = self.input.entries.iter().collect();
        entries.sort_by(|a, b| {
            (&a.site_id, &a.screen_id, &a.date).cmp(&(&b.site_id, &b.screen_id, &b.date))
        });
        entries
    }

    /// The daily table, full detail (CSV).
    pub(crate) fn days_table(&self) -> Table {
        let s = self.t("col_seconds");
        let columns = vec![
            self.t("col_site_id"),
            self.t("col_site"),
            self.t("col_screen_id"),
            self.t("col_screen"),
            self.t("col_date"),
            self.t("col_status"),
            format!("{}{s}", self.t("col_opening")),
            format!("{}{s}", self.t("col_online")),
            format!("{}{s}", self.t("col_missing")),
            format!("{}{s}", self.t("col_gap")),
            self.t("col_share"),
            self.t("col_records"),
            self.t("col_evidence_until"),
            self.t("col_received_until"),
            self.t("col_rules"),
            self.t("col_reasons"),
            self.t("col_reason_codes"),
        ];
        let rows = self
            .sorted_entries()
            .into_iter()
            .map(|e| {
                vec![
                    e.site_id.clone(),
                    self.site_name(&e.site_id),
                    e.screen_id.clone(),
                    self.screen_name(&e.screen_id),
                    e.date.clone(),
                    self.status_text(e),
                    e.day.opening_seconds.to_string(),
                    e.day.online_seconds.to_string(),
                    e.day.missing_seconds.to_string(),
                    e.day
                        .longest_gap_seconds
                        .map(|g| g.to_string())
                        .unwrap_or_default(),
                    e.day
                        .warning_share
                        .map(|w| format!("{:.1}%", w * 100.0))
                        .unwrap_or_default(),
                    e.day.records.to_string(),
                    e.day
                        .evidence_until
                        .map(|t| self.local_time(t))
                        .unwrap_or_default(),
                    e.day
                        .received_until
                        .map(|t| self.local_time(t))
                        .unwrap_or_default(),
                    self.rules_text(e),
                    self.reasons_text(e),
                    e.day
                        .reasons
                        .iter()
                        .map(|r| r.code)
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .collect();
        Table {
            heading: self.t("section_days"),
            columns,
            rows,
        }
    }

    /// The confirmations table.
    pub(crate) fn confirmations_table(&self) -> Table {
        let columns = vec![
            self.t("col_week"),
            self.t("col_site"),
            self.t("col_screen_id"),
            self.t("col_screen"),
            self.t("col_verdict"),
            self.t("col_note"),
            self.t("col_by"),
            self.t("col_at"),
            self.t("col_id"),
            self.t("col_corrects"),
            self.t("col_corrected_by"),
            self.t("col_photo"),
        ];
        let rows = self
            .input
            .confirmations
            .iter()
            .map(|c| {
                let e = &c.entry;
                vec![
                    e.week.clone(),
                    self.site_name(&e.site_id),
                    e.screen_id.clone(),
                    self.screen_name(&e.screen_id),
                    self.t(&format!("verdict_{}", e.verdict.as_str())),
                    e.note.clone(),
                    self.input
                        .usernames
                        .get(&e.confirmed_by)
                        .cloned()
                        .unwrap_or_else(|| e.confirmed_by.clone()),
                    self.local_time(e.confirmed_at),
                    e.id.clone(),
                    e.corrects.clone().unwrap_or_default(),
                    c.corrected_by.clone().unwrap_or_default(),
                    e.photo_sha256.clone().unwrap_or_default(),
                ]
            })
            .collect();
        Table {
            heading: self.t("section_confirmations"),
            columns,
            rows,
        }
    }

    /// Status counts (compliant, non-compliant, unknown).
    pub(crate) fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        for e in &self.input.entries {
            *counts.entry(e.day.status.as_str()).or_insert(0) += 1;
        }
        counts
    }

    /// The summary: the label, then "compliant 3", "non-compliant 1", "unknown 2".
    pub(crate) fn summary_cells(&self) -> Vec<String> {
        let counts = self.counts();
        let mut cells = vec![self.t("summary")];
        cells.extend(["compliant", "non_compliant", "unknown"].iter().map(|k| {
            format!(
                "{} {}",
                self.t(&format!("status_{k}")),
                counts.get(k).copied().unwrap_or(0)
            )
        }));
        cells
    }

    /// The summary as one line: "Total: compliant 3, non-compliant 1, unknown 2".
    pub(crate) fn summary(&self) -> String {
        let cells = self.summary_cells();
        format!("{}: {}", cells[0], cells[1..].join(", "))
    }

    /// The CSV report: BOM, then the daily table with its column titles as
    /// the first row, so a spreadsheet sorts, filters and imports it as it
    /// opens; after a blank line the confirmations table, then the title
    /// lines (scope, range, generated, time zone) and the summary. CRLF
    /// line ends (RFC 4180).
    ///
    /// The title goes last rather than only into the file name: the name
    /// (`compliance-{scope}-{from}-{to}.csv`) is lost when a file is renamed
    /// or forwarded, and the time zone and generation time are part of the
    /// evidence.
    pub fn csv(&self) -> Vec<u8> {
        let mut out = BOM.to_vec();
        let mut line = |cells: &[String]| {
            let text: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.extend_from_slice(text.join(",").as_bytes());
            out.extend_from_slice(b"\r\n");
        };
        let days = self.days_table();
        line(&days.columns);
        for row in &days.rows {
            line(row);
        }
        let confirmations = self.confirmations_table();
        line(&[]);
        line(std::slice::from_ref(&confirmations.heading));
        line(&confirmations.columns);
        for row in &confirmations.rows {
            line(row);
        }
        line(&[]);
        for (label, value) in self.header_lines() {
            line(&[label, value]);
        }
        line(&self.summary_cells());
        out
    }

    /// The PDF report (A4 landscape).
    pub fn pdf(&self) -> Result<Vec<u8>, String> {
        pdf::render(self)
    }
}

/// One CSV cell: quoted when it holds a comma, quote or line break; a cell
/// that a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, tab, CR
/// first) gets a leading apostrophe, since notes and names are user input.
pub fn csv_cell(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
pub(crate) mod tests;
