//! Diagnostics: what is wrong, where (`file:line:column`), and a hint.
//! A diagnostic may also carry its message as a key with named values
//! ([`MessageKey`]) so a user interface can say it in the user's language;
//! the English `message` and `hint` stay, for the CLI and for interfaces
//! that do not know the key.
//!
//! Also the small text helpers diagnostics need: byte offset → line/column
//! and "did you mean" suggestions by edit distance. This module never decides
//! whether something is wrong; the parser and the compiler do.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something that was done on the user's behalf (e.g. warnings interleaved).
    Info,
    /// Something skipped or suspicious; compilation still produced output.
    Warning,
    /// Something that must be fixed; the affected entity (or screen) is left out.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A place in an input text: file name as given, 1-based line and column
/// (column counted in characters).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Location {
    /// The file name the text was given under (e.g. `schedules.toml`).
    pub file: String,
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column in characters; 0 when unknown.
    pub column: u32,
}

impl Location {
    /// A location that only names a file (line and column unknown).
    pub fn file_only(file: &str) -> Location {
        Location {
            file: file.to_owned(),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// What a diagnostic says as a message key and named values, e.g. key
/// `hours_not_a_time` with `value = "2000"`, `example = "17:30"`. Keys are
/// snake_case; the conventional parameters are `owner_kind` + `owner` (the
/// entity the message is about: `schedule` and its id), `kind` (a kind of
/// entity), and `did_you_mean` or `known` (the suggestion of an unknown
/// reference's hint). Values are ids and text as the user wrote them.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MessageKey {
    /// The message's key.
    pub key: String,
    /// Its values by name.
    pub params: BTreeMap<String, String>,
}

/// One problem (or one thing the compiler did), with a hint to fix it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Diagnostic {
    /// Where: file, line, column.
    pub location: Location,
    /// How serious.
    pub severity: Severity,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// How to fix it, if we know.
    pub hint: Option<String>,
    /// The message as a key with values (serialised as `key` and
    /// `params` beside `message`), when it has one.
    #[serde(flatten)]
    pub keyed: Option<MessageKey>,
}

impl Diagnostic {
    /// An error at `location`.
    pub fn error(location: &Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, location, message)
    }

    /// A warning at `location`.
    pub fn warning(location: &Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, location, message)
    }

    /// An informational note at `location`.
    pub fn info(location: &Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Info, location, message)
    }

    fn new(severity: Severity, location: &Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            location: location.clone(),
            severity,
            message: message.into(),
            hint: None,
            keyed: None,
        }
    }

    /// The same diagnostic with its message key and values.
    pub fn with_key<K: Into<String>, V: Into<String>>(
        mut self,
        key: &str,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> Diagnostic {
        self.set_key(key, params);
        self
    }

    /// Gives this diagnostic its message key and values.
    pub fn set_key<K: Into<String>, V: Into<String>>(
        &mut self,
        key: &str,
        params: impl IntoIterator<Item = (K, V)>,
    ) -> &mut Diagnostic {
        self.keyed = Some(MessageKey {
            key: key.to_owned(),
            params: params
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        });
        self
    }

    /// The same diagnostic with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// The same diagnostic with a hint, if there is one.
    pub fn with_optional_hint(mut self, hint: Option<String>) -> Diagnostic {
        self.hint = hint;
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.severity, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Maps byte offsets of one text to lines and columns.
#[derive(Clone, Debug)]
pub struct LineIndex {
    file: String,
    text_line_starts: Vec<usize>,
    text: String,
}

impl LineIndex {
    /// Indexes `text`, known as `file`.
    pub fn new(file: &str, text: &str) -> LineIndex {
        let mut text_line_starts = vec![0];
        text_line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex {
            file: file.to_owned(),
            text_line_starts,
            text: text.to_owned(),
        }
    }

    /// The location of byte `offset`.
    pub fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = match self.text_line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.text_line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Location {
            file: self.file.clone(),
            line: line as u32 + 1,
            column: column as u32 + 1,
        }
    }

    /// The location of byte `offset` of the string `value`, whose TOML
    /// source (a bare key, or a one-line quoted string) spans `span`. Where
    /// the source is not the value as written (escapes, multi-line strings),
    /// the location of the whole value.
    pub fn location_in_value(
        &self,
        span: std::ops::Range<usize>,
        value: &str,
        offset: usize,
    ) -> Location {
        let raw = self.text.get(span.clone()).unwrap_or("");
        let inner = [("\"", "\""), ("'", "'")]
            .iter()
            .find_map(|(open, close)| raw.strip_prefix(open)?.strip_suffix(close));
        if raw == value {
            self.location(span.start + offset)
        } else if inner == Some(value) && offset <= value.len() {
            self.location(span.start + 1 + offset)
        } else {
            self.location(span.start)
        }
    }

    /// The file name.
    pub fn file(&self) -> &str {
        &self.file
    }
}

/// Levenshtein distance in characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b_chars: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b_chars.len()).collect();
    let mut current = vec![0; b_chars.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b_chars.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b_chars.len()]
}

/// The closest of `candidates` to `wanted`, if close enough to be a typo.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(wanted, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// What [`did_you_mean`] says, as message parameters: `did_you_mean`
/// (the closest candidate) or `known` (up to 8 that exist, comma-separated);
/// nothing when none exists.
pub fn suggestion_params<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> Vec<(&'static str, String)> {
    if let Some(best) = closest(wanted, candidates.clone()) {
        return vec![("did_you_mean", best.to_owned())];
    }
    let mut known: Vec<&str> = candidates.into_iter().collect();
    known.sort_unstable();
    known.dedup();
    if known.is_empty() {
        return Vec::new();
    }
    let more = if known.len() > 8 { ", …" } else { "" };
    let shown: Vec<&str> = known.into_iter().take(8).collect();
    vec![("known", format!("{}{more}", shown.join(", ")))]
}

/// "did you mean `x`?" for the closest candidate, else a list of what exists.
pub fn did_you_mean<'a>(
    kind: &str,
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str> + Clone,
) -> String {
    if let Some(best) = closest(wanted, candidates.clone()) {
        return format!("did you mean `{best}`?");
    }
    let mut known: Vec<&str> = candidates.into_iter().collect();
    known.sort_unstable();
    known.dedup();
    if known.is_empty() {
        return format!("no {kind} is defined yet");
    }
    let shown: Vec<String> = known.iter().take(8).map(|k| format!("`{k}`")).collect();
    let more = if known.len() > 8 { ", …" } else { "" };
    format!("known {kind}s: {}{more}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_by_hand() {
        assert_eq!(edit_distance("bank-dor", "bank-door"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("柜台", "柜台屏"), 1);
    }

    #[test]
    fn suggestions() {
        let known = ["bank-door", "bank-counter", "atm"];
        assert_eq!(
            did_you_mean("tag", "bank-dor", known),
            "did you mean `bank-door`?"
        );
        assert_eq!(
            did_you_mean("tag", "zzzzzzzzz", known),
            "known tags: `atm`, `bank-counter`, `bank-door`"
        );
    }

    #[test]
    fn line_columns_count_characters() {
        let index = LineIndex::new("a.toml", "x = 1\n名字 = \"y\"\n");
        assert_eq!(index.location(0).line, 1);
        let loc = index.location("x = 1\n名字 ".len());
        assert_eq!((loc.line, loc.column), (2, 4));
    }
}
