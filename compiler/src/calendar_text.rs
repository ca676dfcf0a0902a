//! The calendar's text forms, read (and, for opening hours, written) in one
//! place: day sets (`days = "mon-fri"`, `opening_hours` keys, `周一至周五`),
//! daily time ranges (`"08:30-12:00, 13:30-17:30"`), date ranges, and the
//! opening-hours line the server stores per screen.
//!
//! Every form a person may type is in a table below ([`RANGE_SEPARATORS`],
//! [`LIST_SEPARATORS`], [`DAY_NAMES`], [`DAY_SET_WORDS`], [`CLOSED_WORDS`]);
//! anything else is refused with an error that names the token and where it
//! starts, never read as something else. This module does no calendar
//! arithmetic (see [`crate::calendar`]) and reports no diagnostics itself.

use std::fmt;

use chrono::NaiveDate;

use crate::calendar::{DateRange, DaySet, TimeRange};
use crate::diagnostic::closest;

/// What may join the two ends of a day range or a time range: ASCII and
/// Unicode dashes (the full-width `－` of a Chinese keyboard, the en and em
/// dashes word processors put in, Chinese `——`), tildes (`~`, full-width
/// `～`, wave dash `〜`) and the Chinese words 至 and 到. Longer forms first.
pub const RANGE_SEPARATORS: [&str; 13] = [
    "——", "-", "‐", "‑", "–", "—", "−", "－", "~", "～", "〜", "至", "到",
];

/// What may separate the days of a list: `,`, the full-width `，` and the
/// Chinese enumeration comma `、`.
pub const LIST_SEPARATORS: [&str; 3] = [",", "，", "、"];

/// What may separate the ranges of an `hours` list: `,` and `，`.
pub const HOURS_LIST_SEPARATORS: [&str; 2] = [",", "，"];

/// Every single-day name, with its weekday (0 = Monday … 6 = Sunday).
/// English names are matched without regard to case, and only as whole
/// words (`monkey` is not Monday).
pub const DAY_NAMES: [(&str, u32); 41] = [
    ("mon", 0),
    ("monday", 0),
    ("tue", 1),
    ("tues", 1),
    ("tuesday", 1),
    ("wed", 2),
    ("wednesday", 2),
    ("thu", 3),
    ("thur", 3),
    ("thurs", 3),
    ("thursday", 3),
    ("fri", 4),
    ("friday", 4),
    ("sat", 5),
    ("saturday", 5),
    ("sun", 6),
    ("sunday", 6),
    ("周一", 0),
    ("周二", 1),
    ("周三", 2),
    ("周四", 3),
    ("周五", 4),
    ("周六", 5),
    ("周日", 6),
    ("周天", 6),
    ("星期一", 0),
    ("星期二", 1),
    ("星期三", 2),
    ("星期四", 3),
    ("星期五", 4),
    ("星期六", 5),
    ("星期日", 6),
    ("星期天", 6),
    ("礼拜一", 0),
    ("礼拜二", 1),
    ("礼拜三", 2),
    ("礼拜四", 3),
    ("礼拜五", 4),
    ("礼拜六", 5),
    ("礼拜日", 6),
    ("礼拜天", 6),
];

/// Words for several days at once. `工作日` and `weekdays` are Monday to
/// Friday by the week, not the official working-day calendar (调休 make-up
/// days are not known here: give those as `dates`).
pub const DAY_SET_WORDS: [(&str, DaySet); 9] = [
    ("daily", DaySet::ALL),
    ("every day", DaySet::ALL),
    ("all", DaySet::ALL),
    ("weekdays", DaySet(0x1f)),
    ("weekends", DaySet(0x60)),
    ("每天", DaySet::ALL),
    ("每日", DaySet::ALL),
    ("工作日", DaySet(0x1f)),
    ("周末", DaySet(0x60)),
];

/// Values of an `opening_hours` entry that mean the site is closed that day.
pub const CLOSED_WORDS: [&str; 3] = ["closed", "休息", "关闭"];

/// How days are written, for hints.
pub const DAYS_EXAMPLES: &str =
    "write days like \"mon-fri\", \"sat,sun\", \"周一至周五\", \"工作日\" (every accepted form: playlists/README.md)";

/// Why a days text was refused: what is wrong, the token, where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaysError {
    /// What is wrong, naming the token (lowercase, no trailing period).
    pub message: String,
    /// The offending token as written (empty when the text is empty).
    pub token: String,
    /// Byte offset of the token in the text.
    pub offset: usize,
    /// How to write it instead.
    pub hint: String,
    /// The message's key (see [`crate::diagnostic::MessageKey`]): its
    /// values are `token` and, where the message names a second word, `other`.
    pub key: &'static str,
    /// The second word the message names (the day before, the day after),
    /// or empty.
    pub other: String,
}

impl fmt::Display for DaysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DayToken {
    Day(u32),
    Set(DaySet),
    Range,
    List,
    Unknown,
}

/// `(kind, byte offset, text)` of each token of a days text.
fn day_tokens(text: &str) -> Vec<(DayToken, usize, &str)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let Some(c) = rest.chars().next() else { break };
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let found = LIST_SEPARATORS
            .iter()
            .find(|s| rest.starts_with(**s))
            .map(|s| (DayToken::List, s.len()))
            .or_else(|| {
                RANGE_SEPARATORS
                    .iter()
                    .find(|s| rest.starts_with(**s))
                    .map(|s| (DayToken::Range, s.len()))
            })
            .or_else(|| word_at(rest));
        let (kind, len) = found.unwrap_or_else(|| {
            // An unknown token: a run of letters and digits, or of other marks.
            let word = c.is_alphanumeric();
            let len = rest
                .char_indices()
                .find(|&(k, ch)| {
                    k > 0
                        && (ch.is_whitespace()
                            || ch.is_alphanumeric() != word
                            || LIST_SEPARATORS
                                .iter()
                                .chain(RANGE_SEPARATORS.iter())
                                .any(|s| rest[k..].starts_with(*s)))
                })
                .map_or(rest.len(), |(k, _)| k);
            (DayToken::Unknown, len)
        });
        out.push((kind, i, &rest[..len]));
        i += len;
    }
    out
}

/// The longest day name or day-set word at the start of `rest`.
fn word_at(rest: &str) -> Option<(DayToken, usize)> {
    let names = DAY_NAMES.iter().map(|&(w, d)| (w, DayToken::Day(d)));
    let sets = DAY_SET_WORDS.iter().map(|&(w, s)| (w, DayToken::Set(s)));
    names
        .chain(sets)
        .filter(|(w, _)| {
            rest.get(..w.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(w))
                // An English word must end where the word ends (`monkey`).
                && !(w.is_ascii()
                    && rest[w.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphanumeric()))
        })
        .max_by_key(|(w, _)| w.len())
        .map(|(w, kind)| (kind, w.len()))
}

/// Parses a set of weekdays: single days, ranges (`mon-fri`, `fri-mon`
/// wraps, `周一至周五`), lists (`sat,sun`, `周六、周日`) and the words of
/// [`DAY_SET_WORDS`]. See the tables above for every accepted form.
pub fn parse_days(text: &str) -> Result<DaySet, DaysError> {
    let tokens = day_tokens(text);
    let refuse =
        |k: usize, key: (&'static str, &str), message: String, hint: String| -> DaysError {
            let (_, offset, token) =
                tokens
                    .get(k)
                    .copied()
                    .unwrap_or((DayToken::List, text.len(), ""));
            DaysError {
                message,
                token: token.to_owned(),
                offset,
                hint,
                key: key.0,
                other: key.1.to_owned(),
            }
        };
    if tokens.is_empty() {
        return Err(refuse(
            0,
            ("days_none", ""),
            "no day given".to_owned(),
            DAYS_EXAMPLES.to_owned(),
        ));
    }
    let mut set = 0u8;
    let mut k = 0;
    while k < tokens.len() {
        // One item: a day set word, a day, or day–separator–day.
        let (kind, _, token) = tokens[k];
        match kind {
            DayToken::Set(days) => {
                set |= days.0;
                k += 1;
            }
            DayToken::Day(first) => {
                let mut last = first;
                k += 1;
                if let Some(&(DayToken::Range, _, separator)) = tokens.get(k) {
                    match tokens.get(k + 1) {
                        Some(&(DayToken::Day(end), _, _)) => {
                            last = end;
                            k += 2;
                        }
                        Some(&(DayToken::Set(_), _, word)) => {
                            return Err(refuse(
                                k + 1,
                                ("days_range_of_set", ""),
                                format!("`{word}` is several days; a range joins two single days"),
                                format!(
                                    "write the range between two days, e.g. `{token}{separator}{}`",
                                    if word.is_ascii() { "sun" } else { "周日" }
                                ),
                            ));
                        }
                        Some(_) => return Err(unknown_or_misplaced(&tokens, k + 1, refuse)),
                        None => {
                            return Err(refuse(
                                k,
                                ("days_range_no_end", token),
                                format!("`{separator}` after `{token}` has no last day"),
                                format!(
                                    "e.g. `{token}{separator}{}`",
                                    if token.is_ascii() { "fri" } else { "周五" }
                                ),
                            ));
                        }
                    }
                }
                let mut day = first;
                loop {
                    set |= 1 << day;
                    if day == last {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
            _ => return Err(unknown_or_misplaced(&tokens, k, refuse)),
        }
        // After an item: the end, or a list separator and another item.
        match tokens.get(k) {
            None => break,
            Some(&(DayToken::List, _, separator)) => {
                if k + 1 == tokens.len() {
                    return Err(refuse(
                        k,
                        ("days_trailing_separator", ""),
                        format!("`{separator}` is not followed by a day"),
                        "remove the trailing separator".to_owned(),
                    ));
                }
                k += 1;
            }
            Some(_) => return Err(unknown_or_misplaced(&tokens, k, refuse)),
        }
    }
    Ok(DaySet(set))
}

/// The error for token `k`, which is not where an item (or a separator
/// after one) could be.
fn unknown_or_misplaced(
    tokens: &[(DayToken, usize, &str)],
    k: usize,
    refuse: impl Fn(usize, (&'static str, &str), String, String) -> DaysError,
) -> DaysError {
    let (kind, _, token) = tokens[k];
    let previous = k.checked_sub(1).map(|p| tokens[p]);
    let next = tokens.get(k + 1).copied();
    match kind {
        DayToken::Unknown => {
            // `Mon to Fri`, `mon..fri`, `mon/fri`: a range written another way.
            if let (Some((DayToken::Day(_), _, a)), Some((DayToken::Day(_), _, b))) =
                (previous, next)
            {
                let dash = if a.is_ascii() { "-" } else { "至" };
                return refuse(
                    k,
                    ("days_not_a_day", ""),
                    format!("`{token}` is not a day or a separator"),
                    format!("for the range write `{a}{dash}{b}`; for the two days `{a},{b}`"),
                );
            }
            let names = DAY_NAMES
                .iter()
                .map(|(w, _)| *w)
                .chain(DAY_SET_WORDS.iter().map(|(w, _)| *w));
            let hint = match closest(&token.to_lowercase(), names) {
                Some(best) => format!("did you mean `{best}`?"),
                None => DAYS_EXAMPLES.to_owned(),
            };
            refuse(
                k,
                ("days_not_a_day", ""),
                format!("`{token}` is not a day or a separator"),
                hint,
            )
        }
        DayToken::Day(_) | DayToken::Set(_) => {
            let before = previous.map_or("", |p| p.2);
            let dash = if before.is_ascii() { "-" } else { "至" };
            refuse(
                k,
                ("days_no_separator", before),
                format!("`{token}` follows `{before}` without a separator"),
                format!(
                    "for the range write `{before}{dash}{token}`; for a list `{before},{token}`"
                ),
            )
        }
        DayToken::Range => match (previous, next) {
            (Some((DayToken::Day(_), _, _)), Some((DayToken::Day(_), _, _))) => refuse(
                k,
                ("days_second_range", ""),
                format!("a second `{token}`: a range has two ends"),
                "write several ranges as a list, e.g. `mon-wed,fri-sat`".to_owned(),
            ),
            (Some((DayToken::Set(_), _, word)), _) => refuse(
                k,
                ("days_range_of_set_word", word),
                format!("`{word}` is several days; a range joins two single days"),
                DAYS_EXAMPLES.to_owned(),
            ),
            _ => refuse(
                k,
                ("days_nothing_before", ""),
                format!("`{token}` has no day before it"),
                DAYS_EXAMPLES.to_owned(),
            ),
        },
        DayToken::List => refuse(
            k,
            ("days_nothing_before", ""),
            format!("`{token}` has no day before it"),
            "remove the extra separator".to_owned(),
        ),
    }
}

/// Why an hours string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoursError {
    /// A part that is not `HH:MM-HH:MM`.
    NotARange {
        /// The part as written.
        part: String,
    },
    /// A start or end that is not a time.
    NotATime {
        /// The side as written.
        value: String,
        /// A time to write instead (`08:30` for a start, `17:30` for an end).
        example: &'static str,
    },
    /// The range ends before it starts and `overnight` was not set.
    CrossesMidnight {
        /// The offending range as written.
        range: String,
    },
    /// Start equals end.
    Empty(String),
}

impl fmt::Display for HoursError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HoursError::NotARange { part } => {
                write!(f, "`{part}` is not a range like `08:30-17:30`")
            }
            HoursError::NotATime { value, example } => {
                write!(f, "`{value}` is not a time like `{example}`")
            }
            HoursError::CrossesMidnight { range } => {
                write!(f, "`{range}` crosses midnight")
            }
            HoursError::Empty(range) => write!(f, "`{range}` is empty"),
        }
    }
}

/// `HH:MM` (or `H:MM`; the full-width `：` too) as minutes after midnight.
fn parse_clock(text: &str) -> Option<u32> {
    let text = text.trim();
    let (h, m) = text.split_once(':').or_else(|| text.split_once('：'))?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Splits `text` at the first range separator: `(start, end)`.
fn split_range(text: &str) -> Option<(&str, &str)> {
    text.char_indices().find_map(|(i, _)| {
        RANGE_SEPARATORS
            .iter()
            .find(|s| text[i..].starts_with(**s))
            .map(|s| (&text[..i], &text[i + s.len()..]))
    })
}

/// Parses `"08:30-17:30"` or `"08:30-12:00, 13:30-17:30"` (any of the
/// [`RANGE_SEPARATORS`] between the times; `,` or `，` between ranges). A
/// range whose end is before its start crosses midnight and needs
/// `overnight`.
pub fn parse_hours(text: &str, overnight: bool) -> Result<Vec<TimeRange>, HoursError> {
    let mut ranges = Vec::new();
    for part in text.split(|c| HOURS_LIST_SEPARATORS.iter().any(|s| s.starts_with(c))) {
        let part = part.trim();
        let (a, b) = split_range(part).ok_or_else(|| HoursError::NotARange {
            part: part.to_owned(),
        })?;
        let start = parse_clock(a)
            .filter(|m| *m < 1440)
            .ok_or_else(|| HoursError::NotATime {
                value: a.trim().to_owned(),
                example: "08:30",
            })?;
        let end = parse_clock(b).ok_or_else(|| HoursError::NotATime {
            value: b.trim().to_owned(),
            example: "17:30",
        })?;
        // "…-00:00" means until midnight.
        let end = if end == 0 { 1440 } else { end };
        if end == start {
            return Err(HoursError::Empty(part.to_owned()));
        }
        let end = if end < start {
            if !overnight {
                return Err(HoursError::CrossesMidnight {
                    range: part.to_owned(),
                });
            }
            end + 1440
        } else {
            end
        };
        ranges.push(TimeRange {
            start_minute: start,
            end_minute: end,
        });
    }
    Ok(ranges)
}

/// Why a date or date range was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateRangeError {
    /// Not `YYYY-MM-DD`.
    NotADate {
        /// The date as written.
        value: String,
    },
    /// The last day is before the first.
    Backwards {
        /// The range as written.
        range: String,
    },
}

impl fmt::Display for DateRangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateRangeError::NotADate { value } => {
                write!(f, "`{value}` is not a date like `2026-12-01`")
            }
            DateRangeError::Backwards { range } => write!(f, "`{range}` ends before it starts"),
        }
    }
}

/// Parses `"2026-12-01"` or `"2026-12-24..2026-12-26"`.
pub fn parse_date_range(text: &str) -> Result<DateRange, DateRangeError> {
    let parse = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| DateRangeError::NotADate {
            value: s.trim().to_owned(),
        })
    };
    let (first, last) = match text.split_once("..") {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let d = parse(text)?;
            (d, d)
        }
    };
    if last < first {
        return Err(DateRangeError::Backwards {
            range: text.to_owned(),
        });
    }
    Ok(DateRange { first, last })
}

/// Opening hours: the weekdays and the daily ranges a site is open.
pub type OpeningHours = Vec<(DaySet, Vec<TimeRange>)>;

/// Why one opening-hours entry was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpeningError {
    /// The days (the key) do not parse.
    Days(DaysError),
    /// The hours (the value) do not parse.
    Hours(HoursError),
}

impl fmt::Display for OpeningError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpeningError::Days(e) => write!(f, "days: {e}"),
            OpeningError::Hours(e) => write!(f, "hours: {e}"),
        }
    }
}

/// One opening-hours entry, `days` → `hours` (`"mon-fri"` →
/// `"08:30-12:00, 13:30-17:00"`, or one of [`CLOSED_WORDS`]). `Ok(None)`:
/// closed those days. The playlist files' `opening_hours` keys and the
/// server's stored line are both read with this function.
pub fn parse_opening_entry(
    days: &str,
    hours: &str,
) -> Result<Option<(DaySet, Vec<TimeRange>)>, OpeningError> {
    let days = parse_days(days).map_err(OpeningError::Days)?;
    if CLOSED_WORDS.contains(&hours.trim()) {
        return Ok(None);
    }
    let ranges = parse_hours(hours, false).map_err(OpeningError::Hours)?;
    Ok(Some((days, ranges)))
}

/// Opening hours as the server stores them on a screen:
/// `mon,tue,wed,thu,fri 08:30-12:00,13:30-17:30; sat 09:00-12:00`
/// (days without a space, then the hours; empty = never open). Read back
/// with [`parse_opening_hours`].
pub fn opening_hours_text(hours: &[(DaySet, Vec<TimeRange>)]) -> String {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let minute = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    hours
        .iter()
        .map(|(days, ranges)| {
            let days: Vec<&str> = (0..7)
                .filter(|i| days.0 & (1 << i) != 0)
                .map(|i| DAYS[i])
                .collect();
            let ranges: Vec<String> = ranges
                .iter()
                .map(|r| format!("{}-{}", minute(r.start_minute), minute(r.end_minute)))
                .collect();
            let ranges = if ranges.is_empty() {
                "closed".to_owned()
            } else {
                ranges.join(",")
            };
            format!("{} {ranges}", days.join(","))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads the line [`opening_hours_text`] writes, entry by entry with
/// [`parse_opening_entry`].
pub fn parse_opening_hours(text: &str) -> Result<OpeningHours, String> {
    let mut out = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (days, hours) = part
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("`{part}` is not `DAYS HH:MM-HH:MM`"))?;
        if let Some(entry) =
            parse_opening_entry(days, hours).map_err(|e| format!("`{part}`: {e}"))?
        {
            out.push(entry);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backticked forms of the README table row that starts `| {row} |`.
    fn readme_row(row: &str) -> Vec<&'static str> {
        const README: &str = include_str!("../../playlists/README.md");
        let line = README
            .lines()
            .find(|l| l.starts_with(&format!("| {row} |")))
            .unwrap_or_else(|| panic!("playlists/README.md has no row `{row}`"));
        line.split('`').skip(1).step_by(2).collect()
    }

    fn sorted(mut v: Vec<&str>) -> Vec<&str> {
        v.sort_unstable();
        v
    }

    #[test]
    fn the_readme_lists_exactly_the_accepted_forms() {
        let weekdays = [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ];
        for (day, row) in weekdays.iter().enumerate() {
            let code: Vec<&str> = DAY_NAMES
                .iter()
                .filter(|(_, d)| *d as usize == day)
                .map(|(n, _)| *n)
                .collect();
            assert_eq!(sorted(readme_row(row)), sorted(code), "{row}");
        }
        assert_eq!(
            sorted(readme_row("range separators")),
            sorted(RANGE_SEPARATORS.to_vec())
        );
        assert_eq!(
            sorted(readme_row("list separators")),
            sorted(LIST_SEPARATORS.to_vec())
        );
        assert_eq!(
            sorted(readme_row("day words")),
            sorted(DAY_SET_WORDS.iter().map(|(w, _)| *w).collect())
        );
        assert_eq!(sorted(readme_row("closed")), sorted(CLOSED_WORDS.to_vec()));
    }

    #[test]
    fn days_parse() {
        assert_eq!(parse_days("mon-fri").unwrap(), DaySet(0x1f));
        assert_eq!(parse_days("sat, sun").unwrap(), DaySet(0x60));
        assert_eq!(parse_days("fri-mon").unwrap(), DaySet(0b111_0001));
        assert!(parse_days("funday").unwrap_err().message.contains("funday"));
    }

    #[test]
    fn hours_refuse_midnight_crossing_unless_overnight() {
        assert_eq!(
            parse_hours("17:30-08:30", false),
            Err(HoursError::CrossesMidnight {
                range: "17:30-08:30".into()
            })
        );
        let r = parse_hours("22:00-06:00", true).unwrap();
        assert_eq!((r[0].start_minute, r[0].end_minute), (1320, 1800));
        assert_eq!(
            parse_hours("08:00-24:00", false).unwrap()[0].end_minute,
            1440
        );
    }

    #[test]
    fn the_stored_opening_hours_line_reads_back() {
        let hours = vec![
            (
                DaySet(0b11111),
                vec![
                    TimeRange {
                        start_minute: 510,
                        end_minute: 720,
                    },
                    TimeRange {
                        start_minute: 810,
                        end_minute: 1050,
                    },
                ],
            ),
            (
                DaySet(0b100000),
                vec![TimeRange {
                    start_minute: 540,
                    end_minute: 720,
                }],
            ),
        ];
        let text = opening_hours_text(&hours);
        assert_eq!(
            text,
            "mon,tue,wed,thu,fri 08:30-12:00,13:30-17:30; sat 09:00-12:00"
        );
        assert_eq!(parse_opening_hours(&text).unwrap(), hours);
        assert!(parse_opening_hours("").unwrap().is_empty());
        assert_eq!(
            parse_opening_hours("sun closed; mon–fri 09:00-10:00").unwrap(),
            vec![(
                DaySet(0x1f),
                vec![TimeRange {
                    start_minute: 540,
                    end_minute: 600
                }]
            )]
        );
        assert!(parse_opening_hours("someday 09:00-10:00").is_err());
    }
}
