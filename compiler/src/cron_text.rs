//! The cron language of `cron = "…"` in a schedule: seven fields, seconds
//! first and year last (`0 0 12 * * Mon-Fri *`; the year may be left out),
//! read field by field into explicit sets and handed to the `cron` crate
//! (which walks the calendar) in its own numbering.
//!
//! Day-of-week follows ordinary cron (crontab(5), croniter): 0 and 7 are
//! Sunday, 1 is Monday … 6 is Saturday, and the names Sun…Sat; the `cron`
//! crate itself counts 1 = Sunday, so its numbers are never passed through.
//! Day-of-month and day-of-week are combined with AND (`0 0 12 13 * Fri *` is
//! Friday the 13th only), unlike Unix cron's OR; [`CronSpec::either_day`]
//! lets the parser say so. A five-field Unix line is refused with its exact
//! seven-field equivalent. Every error names the field, says why, and shows
//! the nearest valid expression.
//!
//! Ranges may wrap (`Fri-Mon`, hours `22-2`); `N/step` runs from N to the
//! field's end; `L`, `W` and `#` are not supported. Nothing here reads a
//! clock or knows a time zone.

use std::collections::BTreeSet;
use std::fmt;

use crate::calendar_text::DAY_NAMES;
use crate::diagnostic::closest;

/// The fields, in order, as messages name them.
pub const FIELD_NAMES: [&str; 7] = [
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
    "year",
];

/// The field list for hints.
pub const FIELDS_HINT: &str =
    "seven fields: second minute hour day-of-month month day-of-week year, e.g. \"0 0 12 * * Mon-Fri *\"";

const MONTH_NAMES: [(&str, u32); 24] = [
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("may", 5),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("sept", 9),
];

const WEEKDAY_NAMES: [(&str, u32); 17] = [
    ("sun", 0),
    ("mon", 1),
    ("tue", 2),
    ("wed", 3),
    ("thu", 4),
    ("fri", 5),
    ("sat", 6),
    ("sunday", 0),
    ("monday", 1),
    ("tuesday", 2),
    ("wednesday", 3),
    ("thursday", 4),
    ("friday", 5),
    ("saturday", 6),
    ("tues", 2),
    ("thur", 4),
    ("thurs", 4),
];

/// The short English name of ordinary-cron weekday `d` (0 = Sunday).
const SHORT_WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Unix shorthands and their seven-field meaning.
const SHORTHANDS: [(&str, &str); 7] = [
    ("@yearly", "0 0 0 1 1 * *"),
    ("@annually", "0 0 0 1 1 * *"),
    ("@monthly", "0 0 0 1 * * *"),
    ("@weekly", "0 0 0 * * 0 *"),
    ("@daily", "0 0 0 * * * *"),
    ("@midnight", "0 0 0 * * * *"),
    ("@hourly", "0 0 * * * * *"),
];

struct Field {
    min: u32,
    /// The largest value (day-of-week: 7, another Sunday).
    max: u32,
    /// The end of `*` and of `N/step` (day-of-week: 6).
    top: u32,
    names: &'static [(&'static str, u32)],
    /// `?` stands for `*` (the two day fields).
    any: bool,
    /// A range may run past the end back to the start (`22-2`).
    wraps: bool,
}

impl Field {
    const fn numbers(min: u32, max: u32) -> Field {
        Field {
            min,
            max,
            top: max,
            names: &[],
            any: false,
            wraps: true,
        }
    }
}

/// The fields in order (see [`FIELD_NAMES`]).
const FIELDS: [Field; 7] = [
    Field::numbers(0, 59),
    Field::numbers(0, 59),
    Field::numbers(0, 23),
    Field {
        any: true,
        ..Field::numbers(1, 31)
    },
    Field {
        names: &MONTH_NAMES,
        ..Field::numbers(1, 12)
    },
    Field {
        top: 6,
        names: &WEEKDAY_NAMES,
        any: true,
        ..Field::numbers(0, 7)
    },
    Field {
        wraps: false,
        ..Field::numbers(1970, 2099)
    },
];

const DAY_OF_MONTH: usize = 3;
const MONTH: usize = 4;
const DAY_OF_WEEK: usize = 5;

/// A parsed cron expression.
#[derive(Clone, Debug)]
pub struct CronSpec {
    /// The schedule, in the `cron` crate's own numbering.
    pub schedule: cron::Schedule,
    /// When both day-of-month and day-of-week are restricted (both must
    /// hold): the two expressions that together run on either day, as Unix
    /// cron would read the one.
    pub either_day: Option<[String; 2]>,
    /// Each field's values in ordinary numbering (day-of-week 0 = Sunday …
    /// 6 = Saturday), in [`FIELD_NAMES`] order; `None` where every value is
    /// allowed (`*`, or a year left out). For saying the schedule in words.
    pub fields: [Option<BTreeSet<u32>>; 7],
}

/// Why a cron expression was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronError {
    /// What is wrong, naming the field and the token (lowercase, no period).
    pub message: String,
    /// Byte offset of the offending field or token in the expression.
    pub offset: usize,
    /// How to fix it: the nearest valid expression where there is one.
    pub hint: String,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// One problem inside a field: message, offset within the field, and the
/// field's text with the problem repaired (`None`: no sensible repair).
#[derive(Debug)]
struct FieldProblem {
    why: String,
    offset: usize,
    repaired: Option<String>,
    extra_hint: Option<String>,
}

/// Parses a cron expression (see the module documentation). All problems
/// are returned at once, each with the nearest valid expression.
pub fn parse_cron(text: &str) -> Result<CronSpec, Vec<CronError>> {
    let trimmed = text.trim();
    let lead = text.len() - text.trim_start().len();
    if trimmed.starts_with('@') {
        let lower = trimmed.to_ascii_lowercase();
        return match SHORTHANDS.iter().find(|(s, _)| *s == lower) {
            Some((_, expanded)) => parse_cron(expanded),
            None => Err(vec![CronError {
                message: format!("`{trimmed}` is not a cron shorthand"),
                offset: lead,
                hint: format!(
                    "use one of {}, or {FIELDS_HINT}",
                    SHORTHANDS.map(|(s, _)| format!("`{s}`")).join(", ")
                ),
            }]),
        };
    }
    let words: Vec<(usize, &str)> = split_fields(text);
    match words.len() {
        6 | 7 => {}
        5 => return Err(vec![unix_line(&words, lead)]),
        n => {
            return Err(vec![CronError {
                message: format!(
                    "cron has {n} field(s); it needs seven (the year may be left out)"
                ),
                offset: lead,
                hint: FIELDS_HINT.to_owned(),
            }])
        }
    }
    let mut sets: Vec<BTreeSet<u32>> = Vec::new();
    let mut problems: Vec<(usize, FieldProblem)> = Vec::new();
    for (index, &(_, word)) in words.iter().enumerate() {
        match parse_field(index, word) {
            Ok(set) => sets.push(set),
            Err(problem) => {
                problems.push((index, problem));
                sets.push(BTreeSet::new());
            }
        }
    }
    if !problems.is_empty() {
        let nearest = nearest_valid(&words);
        return Err(problems
            .into_iter()
            .map(|(index, problem)| {
                let hint = match (problem.extra_hint, &nearest) {
                    (Some(extra), Some(valid)) => {
                        format!("{extra}; nearest valid form: `{valid}`")
                    }
                    (Some(extra), None) => extra,
                    (None, Some(valid)) => format!("nearest valid form: `{valid}`"),
                    (None, None) => FIELDS_HINT.to_owned(),
                };
                CronError {
                    message: format!(
                        "{} field `{}`: {}",
                        FIELD_NAMES[index], words[index].1, problem.why
                    ),
                    offset: words[index].0 + problem.offset,
                    hint,
                }
            })
            .collect());
    }
    // `30 2` (30 February) would never start: say so rather than play nothing.
    let longest_month = sets[MONTH]
        .iter()
        .map(|m| match m {
            2 => 29,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        })
        .max()
        .unwrap_or(31);
    if sets[DAY_OF_MONTH].iter().all(|d| *d > longest_month) {
        let (at, field) = words[DAY_OF_MONTH];
        let days: Vec<String> = sets[DAY_OF_MONTH].iter().map(u32::to_string).collect();
        return Err(vec![CronError {
            message: format!(
                "day-of-month field `{field}`: no month of `{}` has day {}, so it never starts",
                words[MONTH].1,
                days.join(", ")
            ),
            offset: at,
            hint: format!(
                "the months of `{}` have at most {longest_month} days",
                words[MONTH].1
            ),
        }]);
    }
    let full = |index: usize| {
        let f = &FIELDS[index];
        sets[index].len() as u32 == f.top - f.min + 1
    };
    let either_day = (!full(DAY_OF_MONTH) && !full(DAY_OF_WEEK)).then(|| {
        let with = |day_field: usize| {
            let mut fields: Vec<&str> = words.iter().map(|w| w.1).collect();
            fields[day_field] = "*";
            fields.join(" ")
        };
        [with(DAY_OF_WEEK), with(DAY_OF_MONTH)]
    });
    // The cron crate's numbering: day-of-week 1 = Sunday … 7 = Saturday.
    let crate_fields: Vec<String> = (0..7)
        .map(|index| {
            if index == 6 && words.len() == 6 || full(index) {
                return "*".to_owned();
            }
            let shift = u32::from(index == DAY_OF_WEEK);
            sets[index]
                .iter()
                .map(|v| (v + shift).to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let schedule = crate_fields
        .join(" ")
        .parse::<cron::Schedule>()
        .map_err(|error| {
            vec![CronError {
                message: format!("cron `{trimmed}` is not usable: {error}"),
                offset: lead,
                hint: FIELDS_HINT.to_owned(),
            }]
        })?;
    let fields: [Option<BTreeSet<u32>>; 7] = std::array::from_fn(|index| {
        let absent = index == 6 && words.len() == 6;
        (!absent && !full(index)).then(|| {
            // Sunday written as 7 is Sunday 0.
            sets[index]
                .iter()
                .map(|v| if index == DAY_OF_WEEK { v % 7 } else { *v })
                .collect()
        })
    });
    Ok(CronSpec {
        schedule,
        either_day,
        fields,
    })
}

/// The whitespace-separated fields with their byte offsets.
fn split_fields(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

/// The refusal of a five-field Unix line, with its exact equivalent.
fn unix_line(words: &[(usize, &str)], lead: usize) -> CronError {
    let [minute, hour, dom, month, dow] = [0, 1, 2, 3, 4].map(|i| words[i].1);
    let unix = words.iter().map(|w| w.1).collect::<Vec<_>>().join(" ");
    let restricted = |f: &str| f != "*" && f != "?";
    let hint = if restricted(dom) && restricted(dow) {
        format!(
            "Unix cron runs when either day field matches, ledcast only when both do; for the Unix meaning write two schedules: `0 {minute} {hour} {dom} {month} * *` and `0 {minute} {hour} * {month} {dow} *`"
        )
    } else {
        format!(
            "the same schedule here is `0 {minute} {hour} {dom} {month} {dow} *` (seven fields: a second first, a year last)"
        )
    };
    CronError {
        message: format!(
            "`{unix}` is a five-field Unix cron line (minute hour day-of-month month day-of-week)"
        ),
        offset: lead,
        hint,
    }
}

/// The expression with every bad field repaired, if each can be.
fn nearest_valid(words: &[(usize, &str)]) -> Option<String> {
    let mut fields: Vec<String> = words.iter().map(|w| w.1.to_owned()).collect();
    for _ in 0..8 {
        let mut changed = false;
        for index in 0..fields.len() {
            if let Err(problem) = parse_field(index, &fields[index]) {
                // `5#3`: the third Friday is day-of-month 15-21 and Friday.
                if let Some((day, nth)) = nth_weekday(&fields[index]).filter(|_| {
                    index == DAY_OF_WEEK && matches!(fields[DAY_OF_MONTH].as_str(), "*" | "?")
                }) {
                    fields[DAY_OF_MONTH] = format!("{}-{}", 7 * nth - 6, 7 * nth);
                    fields[index] = day;
                } else {
                    fields[index] = problem.repaired?;
                }
                changed = true;
            }
        }
        if !changed {
            return Some(fields.join(" "));
        }
    }
    None
}

/// `Fri#3` / `5#3` → (`Fri` / `5`, 3).
fn nth_weekday(field: &str) -> Option<(String, u32)> {
    let (day, nth) = field.split_once('#')?;
    if day.contains([',', '-', '/']) {
        return None;
    }
    let nth: u32 = nth.parse().ok().filter(|n| (1..=5).contains(n))?;
    Some((day.to_owned(), nth))
}

/// Parses field `index` into its set of values (ordinary numbering).
fn parse_field(index: usize, text: &str) -> Result<BTreeSet<u32>, FieldProblem> {
    let field = &FIELDS[index];
    let mut set = BTreeSet::new();
    let mut offset = 0;
    let items: Vec<&str> = text.split(',').collect();
    for (k, item) in items.iter().enumerate() {
        // The whole field with item `k` replaced (`None`: left out).
        let with_item = |replacement: Option<&str>| -> String {
            let mut all: Vec<&str> = items.clone();
            match replacement {
                Some(r) => all[k] = r,
                None => {
                    all.remove(k);
                }
            }
            if all.is_empty() {
                "*".to_owned()
            } else {
                all.join(",")
            }
        };
        let problem = |why: String, at: usize, repaired: Option<String>| FieldProblem {
            why,
            offset: offset + at,
            repaired,
            extra_hint: None,
        };
        let from_value =
            |p: ValueProblem, at: usize, rebuild: &dyn Fn(&str) -> String| FieldProblem {
                why: p.why,
                offset: offset + at,
                repaired: p.repaired.map(|r| with_item(Some(&rebuild(&r)))),
                extra_hint: p.hint,
            };
        if item.is_empty() {
            return Err(problem(
                "an empty item between commas".to_owned(),
                0,
                Some(with_item(None)),
            ));
        }
        let (body, step_text) = match item.split_once('/') {
            Some((body, step)) => (body, Some(step)),
            None => (*item, None),
        };
        let span = field.top - field.min + 1;
        let step = match step_text.map(|s| (s, s.parse::<u32>())) {
            None => 1,
            Some((_, Ok(0))) => {
                return Err(problem(
                    "a step of 0 never advances".to_owned(),
                    body.len() + 1,
                    Some(with_item(Some(&format!("{body}/1")))),
                ))
            }
            Some((_, Ok(n))) if n > span => {
                return Err(problem(
                    format!("a step of {n} is longer than the field ({span} values)"),
                    body.len() + 1,
                    Some(with_item(Some(&format!("{body}/{span}")))),
                ))
            }
            Some((_, Ok(n))) => n,
            Some((s, Err(_))) => {
                return Err(problem(
                    format!("`{s}` is not a step (a whole number)"),
                    body.len() + 1,
                    Some(with_item(Some(body))),
                ))
            }
        };
        let suffix = &item[body.len()..];
        let (first, last) = if body == "*" || body == "?" {
            if body == "?" && !field.any {
                return Err(problem(
                    "`?` stands only for day-of-month or day-of-week".to_owned(),
                    0,
                    Some(with_item(Some(&format!("*{suffix}")))),
                ));
            }
            (field.min, field.top)
        } else {
            let (a, b) = match body.split_once('-') {
                Some((a, b)) => (a, Some(b)),
                None => (body, None),
            };
            let a_value = value(index, a).map_err(|p| {
                let rebuild = |r: &str| match b {
                    Some(b) => format!("{r}-{b}{suffix}"),
                    None => format!("{r}{suffix}"),
                };
                from_value(p, 0, &rebuild)
            })?;
            match b {
                None if step_text.is_some() => (a_value, field.top.max(a_value)),
                None => (a_value, a_value),
                Some(b) => {
                    let b_value = value(index, b).map_err(|p| {
                        let rebuild = |r: &str| format!("{a}-{r}{suffix}");
                        from_value(p, a.len() + 1, &rebuild)
                    })?;
                    if b_value < a_value && !field.wraps {
                        return Err(problem(
                            format!("the range `{body}` ends before it starts"),
                            0,
                            Some(with_item(Some(&format!("{b}-{a}{suffix}")))),
                        ));
                    }
                    (a_value, b_value)
                }
            }
        };
        // Day-of-week 7 is Sunday; `7-2` runs Sunday to Tuesday.
        let first = if index == DAY_OF_WEEK && first == 7 && last < 7 {
            0
        } else {
            first
        };
        let sequence: Vec<u32> = if first <= last {
            (first..=last).collect()
        } else {
            (first..=field.top).chain(field.min..=last).collect()
        };
        for v in sequence.into_iter().step_by(step as usize) {
            set.insert(if index == DAY_OF_WEEK { v % 7 } else { v });
        }
        offset += item.len() + 1;
    }
    Ok(set)
}

/// Why a value was refused: why, the nearest valid value, a further hint.
struct ValueProblem {
    why: String,
    repaired: Option<String>,
    hint: Option<String>,
}

fn refused(why: String, repaired: Option<String>) -> ValueProblem {
    ValueProblem {
        why,
        repaired,
        hint: None,
    }
}

/// One value of field `index`: a number in range or a name.
fn value(index: usize, text: &str) -> Result<u32, ValueProblem> {
    let field = &FIELDS[index];
    let name = FIELD_NAMES[index];
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        let n: u32 = text.parse().unwrap_or(u32::MAX);
        if n < field.min || n > field.max {
            let clamped = n.clamp(field.min, field.max);
            return Err(refused(
                format!("{n} is out of range {}–{}", field.min, field.max),
                Some(clamped.to_string()),
            ));
        }
        return Ok(n);
    }
    if let Some(&(_, v)) = field
        .names
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(text))
    {
        return Ok(v);
    }
    // Quartz's `L`, `5L`, `15W`, `LW` and `5#3`.
    let special = text.trim_end_matches(['L', 'l', 'W', 'w']);
    let quartz = text.contains('#')
        || (special.len() < text.len() && special.bytes().all(|b| b.is_ascii_digit()));
    if quartz {
        let (why, hint) = if text.contains('#') {
            (
                "`#` (the nth weekday of a month) is not supported",
                "e.g. the third Friday is day-of-month 15-21 with day-of-week Fri (both must hold)",
            )
        } else if text.ends_with(['W', 'w']) {
            (
                "`W` (the nearest weekday) is not supported",
                "list the dates in a calendar schedule (dates = [...]) instead",
            )
        } else {
            (
                "`L` (last) is not supported",
                "list the dates in a calendar schedule (dates = [...]) instead",
            )
        };
        return Err(ValueProblem {
            why: why.to_owned(),
            repaired: None,
            hint: Some(hint.to_owned()),
        });
    }
    if index == DAY_OF_WEEK {
        // 周一 and the other Chinese names: the English name is nearest.
        if let Some(&(_, d)) = DAY_NAMES.iter().find(|(n, _)| *n == text) {
            let english = SHORT_WEEKDAYS[((d + 1) % 7) as usize];
            return Err(refused(
                format!("cron takes English day names (Sun…Sat) or 0–7, not `{text}`"),
                Some(english.to_owned()),
            ));
        }
    }
    if field.names.is_empty() {
        return Err(refused(
            format!(
                "`{text}` is not a number from {} to {}",
                field.min, field.max
            ),
            None,
        ));
    }
    let best = closest(
        &text.to_ascii_lowercase(),
        field.names.iter().map(|(n, _)| *n),
    );
    let shown = if index == DAY_OF_WEEK {
        "Sun, Mon, Tue, Wed, Thu, Fri, Sat or 0–7 (0 and 7 are Sunday)"
    } else {
        "Jan…Dec or 1–12"
    };
    Err(refused(
        format!("`{text}` is not a {name} (use {shown})"),
        best.map(|b| {
            let mut c = b.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> (String, String) {
        let errors = parse_cron(text).expect_err(text);
        (errors[0].message.clone(), errors[0].hint.clone())
    }

    #[test]
    fn fields_become_sets_in_ordinary_numbering() {
        assert_eq!(parse_field(5, "1-5").unwrap(), (1..=5).collect());
        assert_eq!(parse_field(5, "0").unwrap(), [0].into());
        assert_eq!(parse_field(5, "7").unwrap(), [0].into());
        assert_eq!(parse_field(5, "5-7").unwrap(), [5, 6, 0].into());
        assert_eq!(parse_field(5, "Fri-Mon").unwrap(), [5, 6, 0, 1].into());
        assert_eq!(parse_field(5, "*/2").unwrap(), [0, 2, 4, 6].into());
        assert_eq!(parse_field(2, "22-2").unwrap(), [22, 23, 0, 1, 2].into());
        assert_eq!(parse_field(1, "0/15").unwrap(), [0, 15, 30, 45].into());
    }

    #[test]
    fn errors_name_the_field_and_the_nearest_valid_form() {
        let (message, hint) = error("0 0 25 * * * *");
        assert_eq!(message, "hour field `25`: 25 is out of range 0–23");
        assert_eq!(hint, "nearest valid form: `0 0 23 * * * *`");
        let (message, hint) = error("0 0 12 * * Mnd-Fri *");
        assert!(
            message.starts_with("day-of-week field `Mnd-Fri`"),
            "{message}"
        );
        assert_eq!(hint, "nearest valid form: `0 0 12 * * Mon-Fri *`");
        let (_, hint) = error("0 0 12 * * 周一-周五 *");
        assert_eq!(hint, "nearest valid form: `0 0 12 * * Mon-Fri *`");
        let (_, hint) = error("0 0 12 * * Fri#3 *");
        assert!(hint.ends_with("`0 0 12 15-21 * Fri *`"), "{hint}");
    }
}
