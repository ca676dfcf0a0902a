//! Calendar arithmetic: weekday sets, opening-hour ranges, date ranges, cron
//! windows, and their expansion into UTC intervals over a horizon in a
//! screen's time zone (DST gaps and folds included).
//!
//! Pure: every function takes the instants it works on. It knows nothing of
//! playlists or screens.

use chrono::{Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// Milliseconds since the Unix epoch (the same unit as `protocol::v1::Timestamp`).
pub type Millis = i64;

/// A half-open interval `[start, end)` in milliseconds since the epoch.
pub type Interval = (Millis, Millis);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A set of weekdays (bit 0 = Monday … bit 6 = Sunday).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct DaySet(pub u8);

impl DaySet {
    /// Every day of the week.
    pub const ALL: DaySet = DaySet(0x7f);

    /// Whether `weekday` is in the set.
    pub fn contains(self, weekday: chrono::Weekday) -> bool {
        self.0 & (1 << weekday.num_days_from_monday()) != 0
    }
}

fn day_index(name: &str) -> Option<u32> {
    let lower = name.trim().to_ascii_lowercase();
    let short = lower.get(..3)?;
    DAY_NAMES.iter().position(|d| *d == short).map(|i| i as u32)
}

/// Parses `"mon-fri"`, `"sat,sun"`, `"fri-mon"` (wraps), `"daily"`,
/// `"weekdays"`, `"weekends"`.
pub fn parse_days(text: &str) -> Result<DaySet, String> {
    let mut set = 0u8;
    for part in text.split(',') {
        let part = part.trim().to_ascii_lowercase();
        match part.as_str() {
            "daily" | "all" | "every day" => set |= 0x7f,
            "weekdays" => set |= 0x1f,
            "weekends" => set |= 0x60,
            _ => {
                let (first, last) = match part.split_once('-') {
                    Some((a, b)) => (a, b),
                    None => (part.as_str(), part.as_str()),
                };
                let first = day_index(first).ok_or_else(|| bad_day(first))?;
                let last = day_index(last).ok_or_else(|| bad_day(last))?;
                let mut day = first;
                loop {
                    set |= 1 << day;
                    if day == last {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
        }
    }
    if set == 0 {
        return Err("no day given".to_owned());
    }
    Ok(DaySet(set))
}

fn bad_day(word: &str) -> String {
    format!("`{word}` is not a weekday; use mon, tue, wed, thu, fri, sat, sun")
}

/// A daily time range in minutes after local midnight; `end_minute` exceeds
/// 1440 when the range runs past midnight (`overnight = true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// Start, minutes after local midnight (0..1440).
    pub start_minute: u32,
    /// End, minutes after the same midnight (start < end ≤ 2880).
    pub end_minute: u32,
}

/// Why an hours string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoursError {
    /// Not `HH:MM-HH:MM`.
    Syntax(String),
    /// The range ends before it starts and `overnight` was not set.
    CrossesMidnight {
        /// The offending range as written.
        range: String,
    },
    /// Start equals end.
    Empty(String),
}

fn parse_clock(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Parses `"08:30-17:30"` or `"08:30-12:00, 13:30-17:30"`. A range whose end
/// is before its start crosses midnight and needs `overnight`.
pub fn parse_hours(text: &str, overnight: bool) -> Result<Vec<TimeRange>, HoursError> {
    let mut ranges = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let (a, b) = part.split_once('-').ok_or_else(|| {
            HoursError::Syntax(format!("`{part}` is not a range like `08:30-17:30`"))
        })?;
        let start = parse_clock(a).filter(|m| *m < 1440).ok_or_else(|| {
            HoursError::Syntax(format!("`{}` is not a time like `08:30`", a.trim()))
        })?;
        let end = parse_clock(b).ok_or_else(|| {
            HoursError::Syntax(format!("`{}` is not a time like `17:30`", b.trim()))
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

/// An inclusive range of local dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DateRange {
    /// First day (inclusive).
    pub first: NaiveDate,
    /// Last day (inclusive).
    pub last: NaiveDate,
}

impl DateRange {
    /// Whether `date` lies in the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.first <= date && date <= self.last
    }
}

/// Parses `"2026-12-01"` or `"2026-12-24..2026-12-26"`.
pub fn parse_date_range(text: &str) -> Result<DateRange, String> {
    let parse = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| format!("`{}` is not a date like `2026-12-01`", s.trim()))
    };
    let (first, last) = match text.split_once("..") {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let d = parse(text)?;
            (d, d)
        }
    };
    if last < first {
        return Err(format!("`{text}` ends before it starts"));
    }
    Ok(DateRange { first, last })
}

/// The UTC instant of local `date` + `minute` minutes (may exceed a day) in
/// `tz`. A local time that does not exist (DST gap) maps to the end of the
/// gap; an ambiguous one (DST fold) to its first occurrence.
pub fn local_to_utc(tz: Tz, date: NaiveDate, minute: u32) -> Millis {
    let naive = date.and_time(NaiveTime::MIN) + Duration::minutes(i64::from(minute));
    local_naive_to_utc(tz, naive)
}

/// [`local_to_utc`] for a full local date-time.
pub fn local_naive_to_utc(tz: Tz, naive: NaiveDateTime) -> Millis {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.timestamp_millis(),
        LocalResult::Ambiguous(a, b) => a.timestamp_millis().min(b.timestamp_millis()),
        LocalResult::None => {
            // In a DST gap: the first local minute after it.
            let mut probe = naive;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.timestamp_millis();
                }
            }
            naive.and_utc().timestamp_millis()
        }
    }
}

/// The local date of instant `t` in `tz`.
pub fn local_date(tz: Tz, t: Millis) -> NaiveDate {
    match tz.timestamp_millis_opt(t) {
        LocalResult::Single(d) => d.date_naive(),
        _ => chrono::DateTime::from_timestamp_millis(t)
            .map(|d| d.date_naive())
            .unwrap_or_default(),
    }
}

/// What a calendar `when` looks like, for [`expand_calendar`].
#[derive(Clone, Copy, Debug)]
pub struct CalendarSpec<'a> {
    /// Weekdays on which it applies.
    pub days: DaySet,
    /// If non-empty, only these dates.
    pub dates: &'a [DateRange],
    /// If non-empty, only these hours; else the whole local day.
    pub hours: &'a [TimeRange],
}

/// The UTC intervals within `[from, until)` where `spec` holds in `tz`,
/// sorted and merged.
pub fn expand_calendar(
    spec: CalendarSpec<'_>,
    tz: Tz,
    from: Millis,
    until: Millis,
) -> Vec<Interval> {
    let whole_day = [TimeRange {
        start_minute: 0,
        end_minute: 1440,
    }];
    let hours: &[TimeRange] = if spec.hours.is_empty() {
        &whole_day
    } else {
        spec.hours
    };
    let first = local_date(tz, from) - Duration::days(2);
    let last = local_date(tz, until) + Duration::days(1);
    let mut out = Vec::new();
    let mut date = first;
    while date <= last {
        let applies = spec.days.contains(date.weekday())
            && (spec.dates.is_empty() || spec.dates.iter().any(|r| r.contains(date)));
        if applies {
            for range in hours {
                let start = local_to_utc(tz, date, range.start_minute).max(from);
                let end = local_to_utc(tz, date, range.end_minute).min(until);
                if start < end {
                    out.push((start, end));
                }
            }
        }
        date += Duration::days(1);
    }
    merge(out)
}

/// The most cron occurrences expanded per schedule and horizon.
pub const MAX_CRON_OCCURRENCES: usize = 20_000;

/// The UTC intervals within `[from, until)` covered by `[start, start +
/// duration_ms)` for every cron occurrence `start` in `tz`, sorted and
/// merged. The second value is true when [`MAX_CRON_OCCURRENCES`] cut it short.
pub fn expand_cron(
    schedule: &cron::Schedule,
    duration_ms: Millis,
    tz: Tz,
    from: Millis,
    until: Millis,
) -> (Vec<Interval>, bool) {
    let Some(begin) = chrono::DateTime::from_timestamp_millis(from - duration_ms - 1) else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    let mut truncated = false;
    for occurrence in schedule.after(&begin.with_timezone(&tz)) {
        let start = occurrence.timestamp_millis();
        if start >= until {
            break;
        }
        if out.len() >= MAX_CRON_OCCURRENCES {
            truncated = true;
            break;
        }
        let (s, e) = (start.max(from), (start + duration_ms).min(until));
        if s < e {
            out.push((s, e));
        }
    }
    (merge(out), truncated)
}

/// Sorts intervals and merges overlapping or touching ones.
pub fn merge(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort_unstable();
    let mut out: Vec<Interval> = Vec::with_capacity(intervals.len());
    for (s, e) in intervals {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Millis {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn days_parse() {
        assert_eq!(parse_days("mon-fri").unwrap(), DaySet(0x1f));
        assert_eq!(parse_days("sat, sun").unwrap(), DaySet(0x60));
        assert_eq!(parse_days("fri-mon").unwrap(), DaySet(0b111_0001));
        assert!(parse_days("funday").unwrap_err().contains("funday"));
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
    fn berlin_spring_forward_day_is_23_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        // Sunday 2026-03-29: clocks jump 02:00 → 03:00.
        let spec = CalendarSpec {
            days: DaySet::ALL,
            dates: &[],
            hours: &[],
        };
        let got = expand_calendar(
            CalendarSpec {
                dates: &[parse_date_range("2026-03-29").unwrap()],
                ..spec
            },
            tz,
            utc("2026-03-27T00:00:00Z"),
            utc("2026-04-02T00:00:00Z"),
        );
        assert_eq!(
            got,
            vec![(utc("2026-03-28T23:00:00Z"), utc("2026-03-29T22:00:00Z"))]
        );
        // 02:30 does not exist that day: it maps to 03:00 CEST = 01:00 UTC.
        let day = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(local_to_utc(tz, day, 150), utc("2026-03-29T01:00:00Z"));
    }

    #[test]
    fn berlin_fall_back_day_is_25_hours() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let got = expand_calendar(
            CalendarSpec {
                days: parse_days("sun").unwrap(),
                dates: &[parse_date_range("2026-10-25").unwrap()],
                hours: &[],
            },
            tz,
            utc("2026-10-20T00:00:00Z"),
            utc("2026-10-30T00:00:00Z"),
        );
        assert_eq!(
            got,
            vec![(utc("2026-10-24T22:00:00Z"), utc("2026-10-25T23:00:00Z"))]
        );
    }

    #[test]
    fn overnight_range_runs_into_next_day_across_year_end() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let got = expand_calendar(
            CalendarSpec {
                days: DaySet::ALL,
                dates: &[parse_date_range("2026-12-31").unwrap()],
                hours: &parse_hours("22:00-02:00", true).unwrap(),
            },
            tz,
            utc("2026-12-30T00:00:00Z"),
            utc("2027-01-03T00:00:00Z"),
        );
        assert_eq!(
            got,
            vec![(utc("2026-12-31T14:00:00Z"), utc("2026-12-31T18:00:00Z"))]
        );
    }

    #[test]
    fn cron_windows_in_local_time() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let schedule: cron::Schedule = "0 0 12 * * Mon-Fri *".parse().unwrap();
        let (got, truncated) = expand_cron(
            &schedule,
            30 * 60_000,
            tz,
            utc("2026-12-04T04:10:00Z"), // Friday 12:10 local: inside the first window
            utc("2026-12-08T00:00:00Z"),
        );
        assert!(!truncated);
        assert_eq!(
            got,
            vec![
                (utc("2026-12-04T04:10:00Z"), utc("2026-12-04T04:30:00Z")),
                (utc("2026-12-07T04:00:00Z"), utc("2026-12-07T04:30:00Z")),
            ]
        );
    }
}
