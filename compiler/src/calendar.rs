//! Calendar arithmetic: weekday sets, opening-hour ranges, date ranges, cron
//! windows, and their expansion into UTC intervals over a horizon in a
//! screen's time zone (DST gaps and folds included).
//!
//! Pure: every function takes the instants it works on. It knows nothing of
//! playlists or screens, and does not read text: the written forms of days,
//! hours and dates are [`crate::calendar_text`], cron is [`crate::cron_text`].
//!
//! DST, as `playlists/README.md` documents it: a calendar range whose start
//! or end falls in a spring-forward gap starts (ends) at the gap's end; a
//! local time that occurs twice in a fall-back fold means its first
//! occurrence, so `hours = "00:30-01:30"` ends at the first 01:30. A cron
//! start in a gap does not happen; a cron start in a fold happens twice
//! (once in each offset), whatever instant the rotation is compiled at.

use chrono::{
    Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
};
use chrono_tz::Tz;

/// Milliseconds since the Unix epoch (the same unit as `protocol::v1::Timestamp`).
pub type Millis = i64;

/// A half-open interval `[start, end)` in milliseconds since the epoch.
pub type Interval = (Millis, Millis);

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

/// A daily time range in minutes after local midnight; `end_minute` exceeds
/// 1440 when the range runs past midnight (`overnight = true`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// Start, minutes after local midnight (0..1440).
    pub start_minute: u32,
    /// End, minutes after the same midnight (start < end ≤ 2880).
    pub end_minute: u32,
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

/// The largest fall-back fold to look back over (Antarctica/Troll turns its
/// clocks back two hours; other zones one hour or 30 minutes).
const FOLD_LOOKBACK_MS: Millis = 3 * 3_600_000;

/// The UTC intervals within `[from, until)` covered by `[start, start +
/// duration_ms)` for every cron occurrence `start` in `tz`, sorted and
/// merged. The second value is true when [`MAX_CRON_OCCURRENCES`] cut it short.
///
/// The result does not depend on `from` beyond the clipping. The cron
/// crate walks local wall-clock time from where it starts, so a walk begun
/// shortly before (or inside) a fall-back fold — the wall clock about to go
/// back past a start's wall-clock time — would miss that start's second
/// occurrence. Where the offset changes within [`FOLD_LOOKBACK_MS`] of the
/// walk's start, the walk therefore begins that much earlier, and what
/// ended before `from` is dropped. Inside a fold the crate yields both
/// occurrences of a wall-clock time before the next one (01:00 EDT,
/// 01:00 EST, 01:01 EDT, …), so near a change at `until` the walk also goes
/// on past `until` before it stops.
pub fn expand_cron(
    schedule: &cron::Schedule,
    duration_ms: Millis,
    tz: Tz,
    from: Millis,
    until: Millis,
) -> (Vec<Interval>, bool) {
    let offset_at = |t: Millis| {
        chrono::DateTime::from_timestamp_millis(t)
            .map(|d| tz.offset_from_utc_datetime(&d.naive_utc()).fix())
    };
    let changes = |a: Millis, b: Millis| offset_at(a) != offset_at(b);
    let mut begin_ms = from - duration_ms - 1;
    if changes(begin_ms - FOLD_LOOKBACK_MS, begin_ms + FOLD_LOOKBACK_MS) {
        begin_ms -= FOLD_LOOKBACK_MS;
    }
    let stop = if changes(until - FOLD_LOOKBACK_MS, until + FOLD_LOOKBACK_MS) {
        until + FOLD_LOOKBACK_MS
    } else {
        until
    };
    let Some(begin) = chrono::DateTime::from_timestamp_millis(begin_ms) else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    let mut truncated = false;
    for occurrence in schedule.after(&begin.with_timezone(&tz)) {
        let start = occurrence.timestamp_millis();
        if start >= stop {
            break;
        }
        if start >= until {
            continue;
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
    use crate::calendar_text::{parse_date_range, parse_days, parse_hours};

    fn utc(text: &str) -> Millis {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp_millis()
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
