//! Sample data that behaves the same on any day: the demo site under
//! `playlists/` is written as if "today" were the day its `[settings]`
//! `sample_today` names. [`shift_dates`] moves every date and date-time in a
//! TOML file by whole days, so that a loader can move the sample to the day
//! it is loaded ([`days_to_today`]) and every validity, alert and date range
//! keeps its distance from "now".
//!
//! Pure: text and a day count in, text out; the caller says what today is.
//! Formatting and comments are kept. Real deployments never set
//! `sample_today` and are never shifted.

use chrono::{Datelike, NaiveDate};
use toml_edit::visit_mut::VisitMut;

/// Why a file could not be shifted.
#[derive(Debug, thiserror::Error)]
pub enum ShiftError {
    /// The text is not TOML.
    #[error("not valid TOML: {0}")]
    Parse(String),
    /// A date moved outside what TOML (and chrono) can write.
    #[error("date {0} cannot be moved by {1} days")]
    OutOfRange(String, i64),
}

/// Moves every date (the date part of local and offset date-times too) in
/// `text` by `days`. Times of day and offsets stay as written.
pub fn shift_dates(text: &str, days: i64) -> Result<String, ShiftError> {
    if days == 0 {
        return Ok(text.to_owned());
    }
    let mut document: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| ShiftError::Parse(e.to_string()))?;
    let mut shifter = Shifter { days, error: None };
    shifter.visit_document_mut(&mut document);
    match shifter.error {
        Some(error) => Err(error),
        None => Ok(document.to_string()),
    }
}

/// The `sample_today` of a file's `[settings]` table, if it has one.
pub fn sample_today(text: &str) -> Option<NaiveDate> {
    let document: toml_edit::DocumentMut = text.parse().ok()?;
    let value = document.get("settings")?.get("sample_today")?;
    let date = value.as_datetime()?.date?;
    NaiveDate::from_ymd_opt(i32::from(date.year), date.month.into(), date.day.into())
}

/// The calendar day of `now` in China (UTC+08:00): the day sample data is
/// moved to. The demo site and the sample pack are written in that offset.
pub fn day_in_china(now: ledcast_protocol::v1::Timestamp) -> NaiveDate {
    let offset = chrono::FixedOffset::east_opt(8 * 3600).expect("a valid offset");
    chrono::DateTime::from_timestamp_millis(now.as_millis())
        .unwrap_or_default()
        .with_timezone(&offset)
        .date_naive()
}

/// Days from the sample's `sample_today` to `today` (the loader's own day).
pub fn days_to_today(sample_today: NaiveDate, today: NaiveDate) -> i64 {
    today.signed_duration_since(sample_today).num_days()
}

struct Shifter {
    days: i64,
    error: Option<ShiftError>,
}

impl VisitMut for Shifter {
    fn visit_value_mut(&mut self, node: &mut toml_edit::Value) {
        if let toml_edit::Value::Datetime(formatted) = node {
            let mut datetime = *formatted.value();
            if let Some(date) = datetime.date {
                match move_date(date, self.days) {
                    Some(moved) => {
                        datetime.date = Some(moved);
                        let decor = formatted.decor().clone();
                        let mut replaced = toml_edit::Formatted::new(datetime);
                        *replaced.decor_mut() = decor;
                        *formatted = replaced;
                    }
                    None => {
                        self.error
                            .get_or_insert(ShiftError::OutOfRange(date.to_string(), self.days));
                    }
                }
            }
            return;
        }
        if let toml_edit::Value::String(formatted) = node {
            if let Some(moved) = move_date_string(formatted.value(), self.days) {
                let decor = formatted.decor().clone();
                let mut replaced = toml_edit::Formatted::new(moved);
                *replaced.decor_mut() = decor;
                *formatted = replaced;
            }
            return;
        }
        toml_edit::visit_mut::visit_value_mut(self, node);
    }
}

/// A string that is exactly a date (`2026-12-20`) or a date range
/// (`2026-12-24..2026-12-26`), as schedules' `dates` write them, moved.
fn move_date_string(text: &str, days: i64) -> Option<String> {
    let one = |part: &str| -> Option<String> {
        if part.len() != 10 {
            return None;
        }
        let date = NaiveDate::parse_from_str(part, "%Y-%m-%d").ok()?;
        let moved = date.checked_add_signed(chrono::TimeDelta::try_days(days)?)?;
        Some(moved.format("%Y-%m-%d").to_string())
    };
    match text.split_once("..") {
        Some((from, until)) => Some(format!("{}..{}", one(from)?, one(until)?)),
        None => one(text),
    }
}

fn move_date(date: toml_edit::Date, days: i64) -> Option<toml_edit::Date> {
    let naive = NaiveDate::from_ymd_opt(i32::from(date.year), date.month.into(), date.day.into())?;
    let moved = naive.checked_add_signed(chrono::TimeDelta::try_days(days)?)?;
    Some(toml_edit::Date {
        year: u16::try_from(moved.year()).ok()?,
        month: u8::try_from(moved.month()).ok()?,
        day: u8::try_from(moved.day()).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_date_moves_and_everything_else_stays() {
        let text = "# the sample\n[settings]\nsample_today = 2026-11-30 # written for\n\
                    [[alerts]]\nfrom = 2026-11-18T08:00:00+08:00\nuntil = 2026-12-31T18:00:00+08:00\n\
                    local = 2026-12-31T23:59:00\ntime = 09:30:00\n\
                    dates = [\"2026-12-20\", 2026-12-20, \"2026-12-24..2026-12-26\"]\n\
                    name = \"2026-W48\"\ntitle = \"2026-12-20 前有效\"\n";
        let moved = shift_dates(text, 40).unwrap();
        assert_eq!(
            moved,
            "# the sample\n[settings]\nsample_today = 2027-01-09 # written for\n\
             [[alerts]]\nfrom = 2026-12-28T08:00:00+08:00\nuntil = 2027-02-09T18:00:00+08:00\n\
             local = 2027-02-09T23:59:00\ntime = 09:30:00\n\
             dates = [\"2027-01-29\", 2027-01-29, \"2027-02-02..2027-02-04\"]\n\
             name = \"2026-W48\"\ntitle = \"2026-12-20 前有效\"\n"
        );
        assert_eq!(
            sample_today(&moved),
            Some(NaiveDate::from_ymd_opt(2027, 1, 9).unwrap())
        );
        assert_eq!(shift_dates(&moved, -40).unwrap(), text);
        assert_eq!(shift_dates(text, 0).unwrap(), text);
    }

    #[test]
    fn the_day_in_china_turns_at_16_00_utc() {
        use ledcast_protocol::v1::Timestamp;
        // 2026-12-06T15:59:59Z is 23:59:59 in Shanghai; a second later it is the 7th.
        assert_eq!(
            day_in_china(Timestamp(1_796_572_799_000)),
            NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
        );
        assert_eq!(
            day_in_china(Timestamp(1_796_572_800_000)),
            NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
        );
    }

    #[test]
    fn days_to_today_counts_whole_days_either_way() {
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        assert_eq!(days_to_today(day(11, 30), day(12, 6)), 6);
        assert_eq!(days_to_today(day(11, 30), day(11, 30)), 0);
        assert_eq!(days_to_today(day(12, 6), day(11, 30)), -6);
    }

    #[test]
    fn a_file_that_is_not_toml_is_refused() {
        assert!(matches!(shift_dates("a = ", 3), Err(ShiftError::Parse(_))));
    }
}
