//! `pack.toml`: the typed manifest of a library edition and its parser.
//!
//! The parser walks the TOML document itself (via `toml_edit`, which keeps a
//! byte span for every key and value) so that it reports every problem at
//! once, each with `pack.toml:LINE:COLUMN` and a hint — unknown keys
//! (the manifest denies unknown fields), missing keys, wrong types, unknown
//! fraud categories and screen kinds (with a did-you-mean), bad dates and
//! `valid_until <= valid_from`. It does not look at the pack's other files
//! (`crate::open_zip`/`crate::open_dir` check that every `file` exists).

use std::fmt;
use std::ops::Range;

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime};
use serde::Serialize;
use toml_edit::{ImDocument, Item, Table, Value};

/// The manifest's file name at the root of a pack.
pub const MANIFEST_FILE: &str = "pack.toml";

/// The fraud categories a material may name (`category = "…"`), in the
/// county centre's wording. Anything else is refused with a did-you-mean.
pub const FRAUD_CATEGORIES: &[&str] = &[
    "刷单返利",
    "冒充公检法",
    "虚假投资理财",
    "虚假贷款",
    "冒充客服",
    "网络游戏交易",
    "虚假购物",
    "冒充熟人",
    "冒充领导",
    "虚假征信",
    "网络婚恋交友",
    "养老诈骗",
    "通用提示",
];

/// The category slug the playlists use (`category = "…"` in
/// `playlists/materials.toml` and in playlist queries) for each of
/// [`FRAUD_CATEGORIES`], so a pack's materials match the same queries.
pub const CATEGORY_SLUGS: &[(&str, &str)] = &[
    ("刷单返利", "part-time"),
    ("冒充公检法", "impersonation"),
    ("虚假投资理财", "investment"),
    ("虚假贷款", "loan"),
    ("冒充客服", "refund"),
    ("网络游戏交易", "gaming"),
    ("虚假购物", "shopping"),
    ("冒充熟人", "acquaintance"),
    ("冒充领导", "boss"),
    ("虚假征信", "credit"),
    ("网络婚恋交友", "romance"),
    ("养老诈骗", "pension"),
    ("通用提示", "general"),
];

/// The playlists' slug for a pack category (`刷单返利` → `part-time`), if it is one.
pub fn category_slug(category: &str) -> Option<&'static str> {
    CATEGORY_SLUGS
        .iter()
        .find(|(name, _)| *name == category)
        .map(|(_, slug)| *slug)
}

/// The screen kinds a material may target (`screens = [...]`), matching the
/// screen tags of the sites (`playlists/sites.toml`).
pub const SCREEN_KINDS: &[&str] = &["bank-door", "bank-counter", "bank-lobby", "atm", "hall"];

/// Material kinds (`kind = "…"`).
pub const MATERIAL_KINDS: &[&str] = &["poster", "comic", "video", "text"];

/// Dates without a time are read in China Standard Time (UTC+08:00).
const DATE_OFFSET_SECONDS: i32 = 8 * 3600;

/// One problem in `pack.toml`, with where it is and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file, relative to the pack root (`pack.toml`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// How to fix it, if we know.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A parsed, validated `pack.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// Edition id, e.g. `qingyuan-2026-W48`: a lowercase slug, the ISO year and week.
    pub edition: String,
    /// Who issued the edition (e.g. the county anti-fraud centre).
    pub publisher: String,
    /// The day the edition was issued.
    pub issued: NaiveDate,
    /// Sample packs only (the project's own): the day the dates were written
    /// as if it were today. An importer moves the whole edition to its own
    /// day with [`Manifest::moved_to`], so a sample behaves the same on any
    /// date. County packs never set it.
    pub sample_today: Option<NaiveDate>,
    /// The materials, in manifest order.
    pub materials: Vec<MaterialEntry>,
}

impl Manifest {
    /// Moves a sample edition by whole days so that its `sample_today` is
    /// `today`: every date and validity bound moves alike. A county pack,
    /// without `sample_today`, stays as it is. Returns the days moved.
    pub fn move_sample_to(&mut self, today: NaiveDate) -> i64 {
        let Some(written_for) = self.sample_today else {
            return 0;
        };
        let days = today.signed_duration_since(written_for);
        self.sample_today = Some(today);
        self.issued += days;
        for material in &mut self.materials {
            material.move_by(days);
        }
        days.num_days()
    }
}

/// One `[[material]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MaterialEntry {
    /// Its 1-based line in `pack.toml` (the `[[material]]` header), for reports.
    pub line: usize,
    /// What it is.
    pub kind: MaterialKind,
    /// Where its content is: a file in the pack, or the text itself.
    pub source: MaterialSource,
    /// Human title, shown in the library.
    pub title: String,
    /// Fraud category, one of [`FRAUD_CATEGORIES`].
    pub category: String,
    /// Screen kinds it targets, each one of [`SCREEN_KINDS`]; never empty.
    pub screens: Vec<String>,
    /// First instant it may be shown.
    pub valid_from: DateTime<FixedOffset>,
    /// First instant it must no longer be shown (exclusive end; after `valid_from`).
    pub valid_until: DateTime<FixedOffset>,
}

impl MaterialEntry {
    /// Moves its validity by `days` (sample packs, see [`Manifest::move_sample_to`]).
    pub(crate) fn move_by(&mut self, days: chrono::TimeDelta) {
        self.valid_from += days;
        self.valid_until += days;
    }
}

/// What a material is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaterialKind {
    /// A still poster.
    Poster,
    /// A comic (a still image, usually several panels).
    Comic,
    /// A video clip.
    Video,
    /// An SMS-style warning text, carried in the manifest.
    Text,
}

/// Where a material's content is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaterialSource {
    /// A file in the pack, relative to its root, `/`-separated.
    File(String),
    /// The text itself (`kind = "text"`).
    Text(String),
}

/// Parses and validates `pack.toml`, reporting every problem found.
pub fn parse_manifest(source: &str) -> Result<Manifest, Vec<Diagnostic>> {
    let lines = LineIndex::new(source);
    let document = match ImDocument::parse(source) {
        Ok(document) => document,
        Err(error) => {
            let at = error.span().map_or(0, |span| span.start);
            let message = error.message().trim().to_lowercase();
            return Err(vec![lines.diagnostic(
                at,
                format!("invalid toml: {message}"),
                Some("fix the syntax; the rest of the file is checked once it parses".to_owned()),
            )]);
        }
    };
    let mut checker = Checker {
        lines: &lines,
        diagnostics: Vec::new(),
    };
    let root = document.as_table();
    checker.unknown_keys(
        root,
        &["edition", "publisher", "issued", "sample_today", "material"],
        0,
    );
    let edition = checker.string(root, "edition", 0).and_then(|(value, at)| {
        if edition_id_is_valid(&value) {
            Some(value)
        } else {
            checker.error(
                at,
                format!("edition id `{value}` is not of the form `place-YYYY-Www`"),
                Some("use a lowercase slug, the ISO year and week, e.g. `qingyuan-2026-W48`"),
            );
            None
        }
    });
    let publisher = checker.string(root, "publisher", 0);
    let issued = checker.date_only(root, "issued", 0);
    let sample_today = root
        .contains_key("sample_today")
        .then(|| checker.date_only(root, "sample_today", 0))
        .flatten();
    let mut materials = Vec::new();
    match root.get("material") {
        None => checker.error(
            source.len(),
            "no `[[material]]` entries",
            Some("add one `[[material]]` table per poster, comic, video or text"),
        ),
        Some(item) => match item.as_array_of_tables() {
            Some(tables) => {
                for table in tables.iter() {
                    if let Some(material) = checker.material(table) {
                        materials.push(material);
                    }
                }
            }
            None => checker.error(
                item.span().map_or(0, |s| s.start),
                "`material` must be an array of tables",
                Some("write each entry as a `[[material]]` table"),
            ),
        },
    }
    let mut seen_files: Vec<(&str, usize)> = Vec::new();
    for material in &materials {
        if let MaterialSource::File(file) = &material.source {
            if let Some((_, first)) = seen_files.iter().find(|(f, _)| *f == file) {
                let at = lines.offset_of_line(material.line);
                checker.error(
                    at,
                    format!("file `{file}` is already used by the material on line {first}"),
                    Some("list each file once"),
                );
            } else {
                seen_files.push((file, material.line));
            }
        }
    }
    let mut diagnostics = checker.diagnostics;
    diagnostics.sort_by_key(|d| (d.line, d.column));
    match (edition, publisher, issued) {
        (Some(edition), Some((publisher, _)), Some(issued)) if diagnostics.is_empty() => {
            Ok(Manifest {
                edition,
                publisher,
                issued,
                sample_today,
                materials,
            })
        }
        _ => Err(diagnostics),
    }
}

/// Whether `id` is `slug-YYYY-Www` (slug: lowercase ASCII letters, digits
/// and single hyphens; week 01..=53).
pub fn edition_id_is_valid(id: &str) -> bool {
    let Some((rest, week)) = id.rsplit_once("-W") else {
        return false;
    };
    let Some((slug, year)) = rest.rsplit_once('-') else {
        return false;
    };
    let week_ok = week.len() == 2
        && week.bytes().all(|b| b.is_ascii_digit())
        && (1..=53).contains(&week.parse::<u32>().unwrap_or(0));
    let year_ok = year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit());
    let slug_ok = !slug.is_empty()
        && slug.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    week_ok && year_ok && slug_ok
}

/// The closest of `candidates` to `word` (edit distance at most 2, or a
/// prefix/substring match), for did-you-mean hints.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_chars: Vec<char> = word.chars().collect();
    candidates
        .iter()
        .map(|c| {
            let distance = edit_distance(&word_chars, &c.chars().collect::<Vec<_>>());
            let related = !word.is_empty() && (c.contains(word) || word.contains(*c));
            (if related { 0 } else { distance }, *c)
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// Maps byte offsets of one text to 1-based lines and columns.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> LineIndex<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, line_starts }
    }

    /// 1-based (line, column) of byte `offset`.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }

    /// Byte offset of the start of 1-based `line`.
    pub(crate) fn offset_of_line(&self, line: usize) -> usize {
        self.line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len())
    }

    pub(crate) fn diagnostic(
        &self,
        at: usize,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let (line, column) = self.position(at);
        Diagnostic {
            file: MANIFEST_FILE.to_owned(),
            line,
            column,
            message,
            hint,
        }
    }
}

struct Checker<'a> {
    lines: &'a LineIndex<'a>,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, at: usize, message: impl Into<String>, hint: Option<&str>) {
        self.diagnostics.push(
            self.lines
                .diagnostic(at, message.into(), hint.map(str::to_owned)),
        );
    }

    fn error_with(&mut self, at: usize, message: String, hint: Option<String>) {
        self.diagnostics
            .push(self.lines.diagnostic(at, message, hint));
    }

    fn unknown_keys(&mut self, table: &Table, allowed: &[&str], fallback: usize) {
        for (key, _) in table.iter() {
            if allowed.contains(&key) {
                continue;
            }
            let at = table
                .key(key)
                .and_then(|k| k.span())
                .map_or(fallback, |s| s.start);
            let hint = match did_you_mean(key, allowed) {
                Some(close) => format!(
                    "did you mean `{close}`? allowed keys: {}",
                    allowed.join(", ")
                ),
                None => format!("allowed keys: {}", allowed.join(", ")),
            };
            self.error_with(at, format!("unknown key `{key}`"), Some(hint));
        }
    }

    fn value<'t>(
        &mut self,
        table: &'t Table,
        key: &str,
        fallback: usize,
    ) -> Option<(&'t Value, usize)> {
        match table.get(key) {
            None => {
                self.error(
                    fallback,
                    format!("missing key `{key}`"),
                    Some(&format!("add `{key} = …`")),
                );
                None
            }
            Some(item) => match item {
                Item::Value(value) => Some((value, value.span().map_or(fallback, |s| s.start))),
                other => {
                    let at = other.span().map_or(fallback, |s| s.start);
                    self.error(at, format!("`{key}` must be a value, not a table"), None);
                    None
                }
            },
        }
    }

    fn string(&mut self, table: &Table, key: &str, fallback: usize) -> Option<(String, usize)> {
        let (value, at) = self.value(table, key, fallback)?;
        match value.as_str() {
            Some(text) if !text.trim().is_empty() => Some((text.to_owned(), at)),
            Some(_) => {
                self.error(at, format!("`{key}` is empty"), None);
                None
            }
            None => {
                self.error(
                    at,
                    format!("`{key}` must be a string, found {}", value.type_name()),
                    Some(&format!("quote it: `{key} = \"…\"`")),
                );
                None
            }
        }
    }

    fn date_only(&mut self, table: &Table, key: &str, fallback: usize) -> Option<NaiveDate> {
        let (value, at) = self.value(table, key, fallback)?;
        let text = match value {
            Value::Datetime(d) => d.value().to_string(),
            Value::String(s) => s.value().clone(),
            other => {
                self.error(
                    at,
                    format!("`{key}` must be a date, found {}", other.type_name()),
                    Some("write a date like `2026-11-23`"),
                );
                return None;
            }
        };
        match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                self.error(
                    at,
                    format!("`{key}` = `{text}` is not a date"),
                    Some("write a date like `2026-11-23`"),
                );
                None
            }
        }
    }

    /// A validity bound: an RFC 3339 date-time with offset, or a date (read
    /// in UTC+08:00; as an end, the whole day is included).
    fn instant(
        &mut self,
        table: &Table,
        key: &str,
        fallback: usize,
        is_end: bool,
    ) -> Option<(DateTime<FixedOffset>, usize)> {
        let (value, at) = self.value(table, key, fallback)?;
        let text = match value {
            Value::Datetime(d) => d.value().to_string(),
            Value::String(s) => s.value().clone(),
            other => {
                self.error(
                    at,
                    format!(
                        "`{key}` must be a date or date-time, found {}",
                        other.type_name()
                    ),
                    Some("write `2026-11-23` or `2026-11-23T08:00:00+08:00`"),
                );
                return None;
            }
        };
        match parse_instant(&text, is_end) {
            Ok(instant) => Some((instant, at)),
            Err(hint) => {
                self.error(
                    at,
                    format!("`{key}` = `{text}` is not a valid time"),
                    Some(hint),
                );
                None
            }
        }
    }

    fn material(&mut self, table: &Table) -> Option<MaterialEntry> {
        let start = table.span().map_or(0, |s| s.start);
        let (line, _) = self.lines.position(start);
        self.unknown_keys(
            table,
            &[
                "kind",
                "file",
                "text",
                "title",
                "category",
                "screens",
                "valid_from",
                "valid_until",
            ],
            start,
        );
        let kind = self
            .string(table, "kind", start)
            .and_then(|(kind, at)| match kind.as_str() {
                "poster" => Some(MaterialKind::Poster),
                "comic" => Some(MaterialKind::Comic),
                "video" => Some(MaterialKind::Video),
                "text" => Some(MaterialKind::Text),
                other => {
                    let hint = hint_for(other, MATERIAL_KINDS, "kinds");
                    self.error_with(at, format!("unknown material kind `{other}`"), Some(hint));
                    None
                }
            });
        let source = match kind {
            Some(MaterialKind::Text) => {
                if let Some(span) = key_span(table, "file") {
                    self.error(
                        span.start,
                        "a text material has no `file`",
                        Some("remove `file`; put the words in `text = \"…\"`"),
                    );
                }
                self.string(table, "text", start)
                    .map(|(text, _)| MaterialSource::Text(text))
            }
            Some(_) => {
                if let Some(span) = key_span(table, "text") {
                    self.error(
                        span.start,
                        "only `kind = \"text\"` materials carry `text`",
                        Some("remove `text`, or set `kind = \"text\"` and drop `file`"),
                    );
                }
                self.string(table, "file", start).and_then(|(file, at)| match check_relative_path(&file) {
                    Ok(()) => Some(MaterialSource::File(file)),
                    Err(reason) => {
                        self.error(at, format!("file `{file}` {reason}"), Some("give a path relative to the pack root with `/` separators, e.g. `posters/refund.png`"));
                        None
                    }
                })
            }
            None => None,
        };
        let title = self.string(table, "title", start).map(|(t, _)| t);
        let category = self
            .string(table, "category", start)
            .and_then(|(category, at)| {
                if FRAUD_CATEGORIES.contains(&category.as_str()) {
                    Some(category)
                } else {
                    let hint = hint_for(&category, FRAUD_CATEGORIES, "categories");
                    self.error_with(
                        at,
                        format!("unknown fraud category `{category}`"),
                        Some(hint),
                    );
                    None
                }
            });
        let screens = self.screens(table, start);
        let from = self.instant(table, "valid_from", start, false);
        let until = self.instant(table, "valid_until", start, true);
        if let (Some((from, _)), Some((until, at))) = (&from, &until) {
            if until <= from {
                self.error(
                    *at,
                    format!("`valid_until` ({until}) is not after `valid_from` ({from})"),
                    Some("a material must be valid for some time: move `valid_until` later"),
                );
                return None;
            }
        }
        Some(MaterialEntry {
            line,
            kind: kind?,
            source: source?,
            title: title?,
            category: category?,
            screens: screens?,
            valid_from: from?.0,
            valid_until: until?.0,
        })
    }

    fn screens(&mut self, table: &Table, fallback: usize) -> Option<Vec<String>> {
        let (value, at) = self.value(table, "screens", fallback)?;
        let Some(array) = value.as_array() else {
            self.error(
                at,
                format!(
                    "`screens` must be an array of strings, found {}",
                    value.type_name()
                ),
                Some("write `screens = [\"bank-door\", \"hall\"]`"),
            );
            return None;
        };
        if array.is_empty() {
            self.error(
                at,
                "`screens` is empty",
                Some(&format!(
                    "name at least one of: {}",
                    SCREEN_KINDS.join(", ")
                )),
            );
            return None;
        }
        let mut screens = Vec::new();
        let mut ok = true;
        for element in array.iter() {
            let element_at = element.span().map_or(at, |s| s.start);
            match element.as_str() {
                Some(kind) if SCREEN_KINDS.contains(&kind) => {
                    if !screens.iter().any(|s| s == kind) {
                        screens.push(kind.to_owned());
                    }
                }
                Some(kind) => {
                    ok = false;
                    let hint = hint_for(kind, SCREEN_KINDS, "screen kinds");
                    self.error_with(
                        element_at,
                        format!("unknown screen kind `{kind}`"),
                        Some(hint),
                    );
                }
                None => {
                    ok = false;
                    self.error(
                        element_at,
                        format!("screen kinds are strings, found {}", element.type_name()),
                        None,
                    );
                }
            }
        }
        ok.then_some(screens)
    }
}

fn key_span(table: &Table, key: &str) -> Option<Range<usize>> {
    table.key(key).and_then(|k| k.span())
}

fn hint_for(word: &str, candidates: &[&str], what: &str) -> String {
    match did_you_mean(word, candidates) {
        Some(close) => format!(
            "did you mean `{close}`? known {what}: {}",
            candidates.join(", ")
        ),
        None => format!("known {what}: {}", candidates.join(", ")),
    }
}

/// Why `path` is not a safe relative pack path, if it is not.
pub(crate) fn check_relative_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("is empty");
    }
    if path.contains('\\') {
        return Err("contains a backslash");
    }
    if path.contains('\0') {
        return Err("contains a NUL byte");
    }
    if path.starts_with('/') {
        return Err("is an absolute path");
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return Err("starts with a drive letter");
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    for component in trimmed.split('/') {
        match component {
            "" => return Err("has an empty path component"),
            "." | ".." => return Err("has a `.` or `..` component (path escape)"),
            _ => {}
        }
    }
    Ok(())
}

fn parse_instant(text: &str, is_end: bool) -> Result<DateTime<FixedOffset>, &'static str> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Ok(instant);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let offset = FixedOffset::east_opt(DATE_OFFSET_SECONDS).ok_or("bad offset")?;
        let day = if is_end {
            date.checked_add_days(Days::new(1))
                .ok_or("date out of range")?
        } else {
            date
        };
        return day
            .and_time(NaiveTime::MIN)
            .and_local_timezone(offset)
            .single()
            .ok_or("date out of range");
    }
    if text.contains('T') || text.contains(' ') {
        return Err("a date-time needs an offset: write `2026-11-23T08:00:00+08:00`");
    }
    Err("write a date `2026-11-23` or an RFC 3339 date-time `2026-11-23T08:00:00+08:00`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_one_distinct_slug() {
        assert_eq!(CATEGORY_SLUGS.len(), FRAUD_CATEGORIES.len());
        for category in FRAUD_CATEGORIES {
            assert!(category_slug(category).is_some(), "{category}");
        }
        let mut slugs: Vec<_> = CATEGORY_SLUGS.iter().map(|(_, s)| s).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), FRAUD_CATEGORIES.len());
        assert_eq!(category_slug("刷单返利"), Some("part-time"));
        assert_eq!(category_slug("investment"), None);
    }

    #[test]
    fn edition_ids() {
        assert!(edition_id_is_valid("qingyuan-2026-W48"));
        assert!(edition_id_is_valid("gao-gang2-2026-W01"));
        assert!(!edition_id_is_valid("Qingyuan-2026-W48"));
        assert!(!edition_id_is_valid("qingyuan-2026-W54"));
        assert!(!edition_id_is_valid("qingyuan-2026-48"));
        assert!(!edition_id_is_valid("-2026-W48"));
        assert!(!edition_id_is_valid("a--b-2026-W48"));
    }

    #[test]
    fn a_date_end_includes_the_whole_day_in_china_time() {
        let from = parse_instant("2026-11-23", false).unwrap();
        let until = parse_instant("2026-11-29", true).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-11-23T00:00:00+08:00");
        assert_eq!(until.to_rfc3339(), "2026-11-30T00:00:00+08:00");
        assert!(parse_instant("2026-11-23T08:00:00", false).is_err());
    }

    #[test]
    fn did_you_mean_finds_close_categories() {
        assert_eq!(did_you_mean("刷单反利", FRAUD_CATEGORIES), Some("刷单返利"));
        assert_eq!(
            did_you_mean("投资理财", FRAUD_CATEGORIES),
            Some("虚假投资理财")
        );
        assert_eq!(did_you_mean("bank-dor", SCREEN_KINDS), Some("bank-door"));
        assert_eq!(did_you_mean("xyzzy-plugh", SCREEN_KINDS), None);
    }

    #[test]
    fn paths() {
        assert!(check_relative_path("posters/a.png").is_ok());
        for bad in [
            "../evil",
            "a/../../b",
            "/etc/passwd",
            "C:/x",
            "a\\b",
            "a//b",
            "./a",
            "",
        ] {
            assert!(check_relative_path(bad).is_err(), "{bad}");
        }
    }
}
