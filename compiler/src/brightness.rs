//! The brightness schedule of a panel (issue 22, item 4): how bright it is
//! by day, how bright during its night hours, and when it is switched off.
//!
//! Written on a profile, or on one screen to override its profile's
//! (`playlists/README.md`):
//!
//! ```toml
//! brightness = { day = 100, night = 30, night_hours = "20:00-07:00", off_hours = "01:00-05:00" }
//! ```
//!
//! [`read`] checks what was written and says every problem at once;
//! [`windows`] turns a schedule into concrete `protocol::v1::BrightnessWindow`s
//! in the screen's time zone over a stretch of time the caller gives (the
//! rotation's validity), so the agent needs no time-zone logic. Off wins
//! over night, night over day; full brightness (100 %) needs no window.
//! Pure: no clock, no I/O; diagnostics are made by [`crate::parse`].

use chrono_tz::Tz;
use ledcast_protocol::v1 as protocol;
use serde::Deserialize;
use toml::Spanned;

use crate::calendar::{expand_calendar, CalendarSpec, DaySet, Interval, Millis, TimeRange};
use crate::calendar_text::{parse_hours, HoursError};

/// A panel's brightness schedule, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brightness {
    /// Percent of full brightness outside the night and off hours (1–100).
    pub day_percent: u8,
    /// Percent during `night_hours` (1–100).
    pub night_percent: u8,
    /// Daily night ranges in the screen's local time (may run past midnight).
    pub night_hours: Vec<TimeRange>,
    /// Daily ranges in which the panel is off (dark, nothing recorded as shown).
    pub off_hours: Vec<TimeRange>,
}

/// `brightness = { … }` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBrightness {
    day: Option<Spanned<i64>>,
    night: Option<Spanned<i64>>,
    night_hours: Option<Spanned<String>>,
    off_hours: Option<Spanned<String>>,
}

/// One thing wrong with a written schedule: where (a byte span of the
/// file), what, and how to fix it.
#[derive(Debug)]
pub(crate) struct Problem {
    /// Byte span in the file.
    pub span: std::ops::Range<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

const PERCENT_HINT: &str =
    "write a whole percent from 1 to 100 (30 suits a street at night); to switch the panel off use off_hours = \"01:00-05:00\"";
const HOURS_HINT: &str =
    "write daily hours like \"20:00-07:00\" (a range may run past midnight; several: \"12:00-13:00, 20:00-07:00\")";

/// Checks a written schedule. `owner` names the profile or screen in messages.
pub(crate) fn read(raw: &Spanned<RawBrightness>, owner: &str) -> Result<Brightness, Vec<Problem>> {
    let whole = raw.span();
    let raw = raw.get_ref();
    let mut problems = Vec::new();
    let mut percent = |value: &Option<Spanned<i64>>, key: &str| -> Option<u8> {
        let value = value.as_ref()?;
        match u8::try_from(*value.get_ref()) {
            Ok(p) if (1..=100).contains(&p) => Some(p),
            _ => {
                problems.push(Problem {
                    span: value.span(),
                    message: format!(
                        "{owner}: brightness.{key} = {} is not a brightness from 1 to 100 %",
                        value.get_ref()
                    ),
                    hint: PERCENT_HINT.to_owned(),
                });
                None
            }
        }
    };
    let day = percent(&raw.day, "day");
    let night = percent(&raw.night, "night");
    let mut hours = |value: &Option<Spanned<String>>, key: &str| -> Vec<TimeRange> {
        let Some(value) = value else {
            return Vec::new();
        };
        match parse_hours(value.get_ref(), true) {
            Ok(ranges) => ranges,
            Err(error) => {
                let message = match error {
                    error @ (HoursError::NotARange { .. } | HoursError::NotATime { .. }) => {
                        error.to_string()
                    }
                    HoursError::Empty(range) => format!("`{range}` is empty"),
                    HoursError::CrossesMidnight { range } => format!("`{range}` crosses midnight"),
                };
                problems.push(Problem {
                    span: value.span(),
                    message: format!("{owner}: brightness.{key}: {message}"),
                    hint: HOURS_HINT.to_owned(),
                });
                Vec::new()
            }
        }
    };
    let night_hours = hours(&raw.night_hours, "night_hours");
    let off_hours = hours(&raw.off_hours, "off_hours");
    match (&raw.night, &raw.night_hours) {
        (Some(night), None) => problems.push(Problem {
            span: night.span(),
            message: format!("{owner}: brightness.night is given without night_hours"),
            hint: "say when night is, e.g. night_hours = \"20:00-07:00\"".to_owned(),
        }),
        (None, Some(hours)) => problems.push(Problem {
            span: hours.span(),
            message: format!("{owner}: brightness.night_hours is given without night"),
            hint: "say how bright the panel is at night, e.g. night = 30 (percent)".to_owned(),
        }),
        _ => {}
    }
    if raw.day.is_none() && raw.night.is_none() && raw.off_hours.is_none() {
        problems.push(Problem {
            span: whole,
            message: format!("{owner}: brightness says nothing"),
            hint: "write e.g. brightness = { day = 100, night = 30, night_hours = \"20:00-07:00\" }, or remove it".to_owned(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Brightness {
        day_percent: day.unwrap_or(100),
        night_percent: night.unwrap_or(100),
        night_hours,
        off_hours,
    })
}

/// The schedule as concrete windows within `[from, until)` in `tz`: sorted,
/// disjoint; no window where the panel is at 100 %. A night or off range
/// that starts or ends in a DST gap moves to the gap's end, and one in a
/// fold means the first occurrence ([`crate::calendar`]).
pub fn windows(
    schedule: &Brightness,
    tz: Tz,
    from: Millis,
    until: Millis,
) -> Vec<protocol::BrightnessWindow> {
    let expand = |hours: &[TimeRange]| -> Vec<Interval> {
        if hours.is_empty() || from >= until {
            return Vec::new();
        }
        let spec = CalendarSpec {
            days: DaySet::ALL,
            dates: &[],
            hours,
        };
        expand_calendar(spec, tz, from, until)
    };
    let off = expand(&schedule.off_hours);
    let night = subtract(&expand(&schedule.night_hours), &off);
    let mut out: Vec<protocol::BrightnessWindow> = Vec::new();
    let mut push = |intervals: &[Interval], percent: u8| {
        out.extend(
            intervals
                .iter()
                .map(|&(start, end)| protocol::BrightnessWindow {
                    from: protocol::Timestamp(start),
                    until: protocol::Timestamp(end),
                    percent,
                }),
        );
    };
    if schedule.day_percent < 100 && from < until {
        let day = subtract(&subtract(&[(from, until)], &night), &off);
        push(&day, schedule.day_percent);
    }
    if schedule.night_percent < 100 {
        push(&night, schedule.night_percent);
    }
    push(&off, 0);
    out.sort_by_key(|w| w.from);
    out
}

/// `a` without `b` (both sorted and merged).
fn subtract(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    for &(mut start, end) in a {
        for &(cut_start, cut_end) in b {
            if cut_end <= start || cut_start >= end {
                continue;
            }
            if cut_start > start {
                out.push((start, cut_start));
            }
            start = start.max(cut_end);
        }
        if start < end {
            out.push((start, end));
        }
    }
    out
}

/// Daily ranges as a person reads them: `20:00–07:00, 12:00–13:00`.
pub fn hours_text(ranges: &[TimeRange]) -> String {
    let minute = |m: u32| format!("{:02}:{:02}", (m / 60) % 24, m % 60);
    ranges
        .iter()
        .map(|r| format!("{}–{}", minute(r.start_minute), minute(r.end_minute)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::TimeRange;

    fn utc(text: &str) -> Millis {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    fn schedule() -> Brightness {
        Brightness {
            day_percent: 100,
            night_percent: 30,
            night_hours: parse_hours("20:00-07:00", true).unwrap(),
            off_hours: parse_hours("01:00-05:00", true).unwrap(),
        }
    }

    /// The windows as `(from, until, percent)` in RFC 3339 UTC.
    fn check(schedule: &Brightness, tz: Tz, from: &str, until: &str) -> Vec<(String, String, u8)> {
        let text = |t: protocol::Timestamp| {
            chrono::DateTime::from_timestamp_millis(t.0)
                .unwrap()
                .format("%Y-%m-%dT%H:%MZ")
                .to_string()
        };
        windows(schedule, tz, utc(from), utc(until))
            .into_iter()
            .map(|w| (text(w.from), text(w.until), w.percent))
            .collect()
    }

    fn w(from: &str, until: &str, percent: u8) -> (String, String, u8) {
        (from.to_owned(), until.to_owned(), percent)
    }

    #[test]
    fn shanghai_night_runs_across_midnight_with_the_off_hours_cut_out() {
        // Compiled at 2026-11-30 10:00 Shanghai (02:00Z), valid 72 h.
        let got = check(
            &schedule(),
            chrono_tz::Asia::Shanghai,
            "2026-11-30T02:00:00Z",
            "2026-12-03T02:00:00Z",
        );
        // Shanghai is UTC+8 all year: 20:00 = 12:00Z, 01:00 = 17:00Z,
        // 05:00 = 21:00Z, 07:00 = 23:00Z.
        assert_eq!(
            got,
            vec![
                w("2026-11-30T12:00Z", "2026-11-30T17:00Z", 30),
                w("2026-11-30T17:00Z", "2026-11-30T21:00Z", 0),
                w("2026-11-30T21:00Z", "2026-11-30T23:00Z", 30),
                w("2026-12-01T12:00Z", "2026-12-01T17:00Z", 30),
                w("2026-12-01T17:00Z", "2026-12-01T21:00Z", 0),
                w("2026-12-01T21:00Z", "2026-12-01T23:00Z", 30),
                w("2026-12-02T12:00Z", "2026-12-02T17:00Z", 30),
                w("2026-12-02T17:00Z", "2026-12-02T21:00Z", 0),
                w("2026-12-02T21:00Z", "2026-12-02T23:00Z", 30),
            ]
        );
    }

    #[test]
    fn a_window_begun_before_the_compile_instant_is_clipped_to_it() {
        // Compiled at 03:00 Shanghai: inside the off hours, then night till 07:00.
        let got = check(
            &schedule(),
            chrono_tz::Asia::Shanghai,
            "2026-11-29T19:00:00Z",
            "2026-11-30T04:00:00Z",
        );
        assert_eq!(
            got,
            vec![
                w("2026-11-29T19:00Z", "2026-11-29T21:00Z", 0),
                w("2026-11-29T21:00Z", "2026-11-29T23:00Z", 30),
            ]
        );
    }

    #[test]
    fn a_dimmed_day_fills_the_rest_and_full_brightness_needs_no_window() {
        let mut dimmed = schedule();
        dimmed.day_percent = 80;
        dimmed.off_hours.clear();
        let got = check(
            &dimmed,
            chrono_tz::Asia::Shanghai,
            "2026-11-30T02:00:00Z",
            "2026-11-30T23:30:00Z",
        );
        assert_eq!(
            got,
            vec![
                w("2026-11-30T02:00Z", "2026-11-30T12:00Z", 80),
                w("2026-11-30T12:00Z", "2026-11-30T23:00Z", 30),
                w("2026-11-30T23:00Z", "2026-11-30T23:30Z", 80),
            ]
        );
        let full = Brightness {
            day_percent: 100,
            night_percent: 100,
            night_hours: vec![TimeRange {
                start_minute: 1200,
                end_minute: 1860,
            }],
            off_hours: Vec::new(),
        };
        assert!(check(
            &full,
            chrono_tz::Asia::Shanghai,
            "2026-11-30T02:00:00Z",
            "2026-12-03T02:00:00Z"
        )
        .is_empty());
    }

    #[test]
    fn berlin_windows_follow_the_spring_forward_night() {
        // 2026-03-29 02:00 CET → 03:00 CEST. The night of the 28th starts at
        // 20:00 CET (19:00Z) and ends at 07:00 CEST (05:00Z); the off hours
        // run from 01:00 CET (00:00Z) to 05:00 CEST (03:00Z): three real hours.
        let got = check(
            &schedule(),
            chrono_tz::Europe::Berlin,
            "2026-03-28T12:00:00Z",
            "2026-03-29T12:00:00Z",
        );
        assert_eq!(
            got,
            vec![
                w("2026-03-28T19:00Z", "2026-03-29T00:00Z", 30),
                w("2026-03-29T00:00Z", "2026-03-29T03:00Z", 0),
                w("2026-03-29T03:00Z", "2026-03-29T05:00Z", 30),
            ]
        );
    }

    #[test]
    fn hours_read_back_as_written() {
        assert_eq!(hours_text(&schedule().night_hours), "20:00–07:00");
        let two = parse_hours("12:00-13:00, 22:00-00:00", true).unwrap();
        assert_eq!(hours_text(&two), "12:00–13:00, 22:00–00:00");
    }
}
