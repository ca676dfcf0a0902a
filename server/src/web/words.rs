//! What a clerk reads instead of raw forms: instants in a site's time zone
//! in the user's language (`6 Dec 2026 20:27`, and the Chinese form with
//! year, month and day characters) and a schedule's `days`/`hours`/`dates`/
//! `cron` said in words (`Mon–Fri 09:00–17:00`, `Mon–Fri starting 12:00,
//! for 30 min each`; in Chinese "every week Monday to Friday …"). The
//! Chinese examples are in `words_tests.rs`.
//!
//! The forms are read with the compiler's own readers
//! (`ledcast_compiler::calendar_text`, `cron_text`), so what is said is what
//! plays; every word comes from the message catalogue. What cannot be said
//! in words (a cron year, minute lists) is `None`, and the page shows the
//! raw form, which it keeps next to the words anyway.

use std::collections::BTreeSet;

use ledcast_compiler::calendar::{DaySet, TimeRange};
use ledcast_compiler::{calendar_text, cron_text};

use crate::i18n::Lang;

/// `ms` as a local date and time in `timezone` (Asia/Shanghai when unknown),
/// in `lang`'s format (`format_date_time`): `6 Dec 2026 20:27`.
pub fn local_date_time(lang: Lang, ms: i64, timezone: &str) -> String {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) => t
            .with_timezone(&tz)
            .format(lang.text("format_date_time"))
            .to_string(),
        None => "—".to_owned(),
    }
}

/// A schedule's when, as written in its TOML entry.
#[derive(Debug, Default, Clone)]
pub struct ScheduleWhen<'a> {
    /// `days = "mon-fri"`.
    pub days: Option<&'a str>,
    /// `hours = "09:00-17:00"`.
    pub hours: Option<&'a str>,
    /// `overnight = true`.
    pub overnight: bool,
    /// `dates = ["2026-12-20", "2026-12-24..2026-12-26"]`.
    pub dates: Vec<&'a str>,
    /// `cron = "0 0 12 * * Mon-Fri *"`.
    pub cron: Option<&'a str>,
    /// `duration_seconds` of a cron schedule.
    pub duration_seconds: Option<i64>,
}

/// The schedule in words, or `None` where a part cannot be read or said
/// (the caller shows the raw form).
pub fn schedule_words(lang: Lang, when: &ScheduleWhen<'_>) -> Option<String> {
    if let Some(cron) = when.cron {
        return cron_words(lang, cron, when.duration_seconds.unwrap_or(0));
    }
    let days = match when.days {
        Some(text) => calendar_text::parse_days(text).ok()?,
        None => DaySet::ALL,
    };
    let hours = match when.hours {
        Some(text) => calendar_text::parse_hours(text, when.overnight).ok()?,
        None => Vec::new(),
    };
    let mut parts = Vec::new();
    if when.dates.is_empty() {
        parts.push(days_words(lang, days));
    } else {
        let dates: Vec<String> = when
            .dates
            .iter()
            .map(|d| date_range_words(lang, d))
            .collect::<Option<_>>()?;
        parts.push(dates.join(lang.text("words_list_separator")));
        if days != DaySet::ALL {
            parts.push(days_words(lang, days));
        }
    }
    parts.push(if hours.is_empty() {
        lang.text("words_all_day").to_owned()
    } else {
        hours_words(lang, &hours)
    });
    Some(parts.join(" "))
}

/// The raw form of a schedule's when (`mon-fri · 09:00-17:00`), for those
/// who write the TOML.
pub fn schedule_raw(when: &ScheduleWhen<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    parts.extend(when.days.map(str::to_owned));
    parts.extend(when.hours.map(str::to_owned));
    if !when.dates.is_empty() {
        parts.push(when.dates.join(", "));
    }
    if let Some(cron) = when.cron {
        parts.push(format!("cron {cron}"));
        parts.extend(when.duration_seconds.map(|s| format!("{s} s")));
    }
    parts.join(" · ")
}

/// `Mon–Fri`, `Mon, Wed, Fri`, `every day`, `weekends`.
fn days_words(lang: Lang, days: DaySet) -> String {
    let bits = days.0 & 0x7f;
    if bits == 0x7f {
        return lang.text("words_every_day").to_owned();
    }
    if bits == 0x60 {
        return lang.text("days_sat_sun").to_owned();
    }
    let name = |i: u32| lang.text(&format!("weekday_{i}")).to_owned();
    let on: Vec<u32> = (0..7).filter(|i| bits & (1 << i) != 0).collect();
    // One run of three or more days (Monday to Friday) reads as a range.
    let consecutive = on.windows(2).all(|w| w[1] == w[0] + 1);
    let list = if consecutive && on.len() >= 3 {
        lang.text("words_day_range")
            .replace("{from}", &name(on[0]))
            .replace("{until}", &name(on[on.len() - 1]))
    } else {
        on.iter()
            .map(|i| name(*i))
            .collect::<Vec<_>>()
            .join(lang.text("words_list_separator"))
    };
    lang.text("words_weekly").replace("{days}", &list)
}

fn clock(minute: u32) -> String {
    format!("{:02}:{:02}", (minute / 60) % 24, minute % 60)
}

/// `09:00–09:30, 14:00–14:30`; an overnight range says the next day.
fn hours_words(lang: Lang, hours: &[TimeRange]) -> String {
    hours
        .iter()
        .map(|r| {
            let key = if r.end_minute > 1440 {
                "words_hours_overnight"
            } else {
                "words_hours"
            };
            let until = if r.end_minute == 1440 {
                "24:00".to_owned()
            } else {
                clock(r.end_minute)
            };
            lang.text(key)
                .replace("{from}", &clock(r.start_minute))
                .replace("{until}", &until)
        })
        .collect::<Vec<_>>()
        .join(lang.text("words_list_separator"))
}

/// `20 Dec 2026` or `24 Dec 2026 to 26 Dec 2026`.
fn date_range_words(lang: Lang, text: &str) -> Option<String> {
    let range = calendar_text::parse_date_range(text).ok()?;
    let day = |d: chrono::NaiveDate| d.format(lang.text("format_date")).to_string();
    Some(if range.first == range.last {
        day(range.first)
    } else {
        lang.text("words_date_range")
            .replace("{from}", &day(range.first))
            .replace("{until}", &day(range.last))
    })
}

/// A cron schedule in words: days, start times, how long each run lasts.
fn cron_words(lang: Lang, text: &str, duration_seconds: i64) -> Option<String> {
    let spec = cron_text::parse_cron(text).ok()?;
    let [seconds, minutes, hours, month_days, months, week_days, years] = &spec.fields;
    // A year, or starts every few seconds, are not said in words.
    if years.is_some() || seconds.as_ref().is_some_and(|s| s != &BTreeSet::from([0])) {
        return None;
    }
    if seconds.is_none() {
        return None;
    }
    let minutes = minutes.as_ref()?;
    let hours: Vec<u32> = match hours {
        Some(h) => h.iter().copied().collect(),
        None => (0..24).collect(),
    };
    let starts = hours.len() * minutes.len();
    if starts == 0 || starts > 6 {
        return None;
    }
    let times: Vec<String> = hours
        .iter()
        .flat_map(|h| minutes.iter().map(move |m| clock(h * 60 + m)))
        .collect();
    let mut parts = Vec::new();
    if let Some(months) = months {
        let list: Vec<String> = months.iter().map(u32::to_string).collect();
        parts.push(
            lang.text("words_months")
                .replace("{months}", &list.join(lang.text("words_list_separator"))),
        );
    }
    if let Some(month_days) = month_days {
        let list: Vec<String> = month_days.iter().map(u32::to_string).collect();
        parts.push(
            lang.text("words_month_days")
                .replace("{days}", &list.join(lang.text("words_list_separator"))),
        );
    }
    match week_days {
        // Cron counts Sunday 0; the calendar counts Monday 0.
        Some(days) => {
            let bits = days.iter().fold(0u8, |bits, d| bits | 1 << ((d + 6) % 7));
            parts.push(days_words(lang, DaySet(bits)));
        }
        None if month_days.is_none() => parts.push(lang.text("words_every_day").to_owned()),
        None => {}
    }
    parts.push(
        lang.text("words_cron_starts")
            .replace("{times}", &times.join(lang.text("words_list_separator"))),
    );
    let minutes_long = duration_seconds / 60;
    let length = if minutes_long >= 60 && minutes_long % 60 == 0 {
        lang.text("words_for_hours")
            .replace("{n}", &(minutes_long / 60).to_string())
    } else if duration_seconds % 60 == 0 {
        lang.text("words_for_minutes")
            .replace("{n}", &minutes_long.to_string())
    } else {
        lang.text("words_for_seconds")
            .replace("{n}", &duration_seconds.to_string())
    };
    Some(format!("{}{length}", parts.join(" ")))
}

/// A playlist item that picks materials by query (`{ tags = [...],
/// category = "…", kind = "video", newest = N, edition = "current" }`), said
/// in words ("Picked automatically: video, tagged #fraud, newest 3"; the
/// Chinese form is checked by `web::tests::playlists_show_thumbnails_…`).
/// `None` when the item is not a query (it names a material) or has a part
/// that cannot be said (the page shows the raw form).
pub fn query_words(lang: Lang, item: &toml::Value) -> Option<String> {
    let table = item.as_table()?;
    if table.contains_key("material") {
        return None;
    }
    const SAID: [&str; 5] = ["kind", "tags", "category", "newest", "edition"];
    // How long each item shows and when it is valid are said with the
    // item, not as part of what it picks.
    const BESIDE: [&str; 3] = ["seconds", "valid_from", "valid_until"];
    if table
        .keys()
        .any(|k| !SAID.contains(&k.as_str()) && !BESIDE.contains(&k.as_str()))
    {
        return None;
    }
    let mut parts = Vec::new();
    for key in SAID {
        let Some(value) = table.get(key) else {
            continue;
        };
        match key {
            "kind" => {
                let kind = value.as_str()?;
                parts.push(lang.catalogue().get(&format!("kind_{kind}"))?.clone());
            }
            "tags" => {
                let tags: Vec<String> = value
                    .as_array()?
                    .iter()
                    .map(|t| t.as_str().map(|t| format!("#{t}")))
                    .collect::<Option<_>>()?;
                parts.push(lang.text("query_tags").replace("{tags}", &tags.join(" ")));
            }
            "category" => parts.push(
                lang.text("query_category")
                    .replace("{category}", value.as_str()?),
            ),
            "newest" => parts.push(
                lang.text("query_newest")
                    .replace("{n}", &value.as_integer()?.to_string()),
            ),
            _ if value.as_str() == Some("current") => {
                parts.push(lang.text("query_edition_current").to_owned())
            }
            _ => return None,
        }
    }
    if parts.is_empty() {
        parts.push(lang.text("query_everything").to_owned());
    }
    Some(
        lang.text("query_picks")
            .replace("{what}", &parts.join(lang.text("query_separator"))),
    )
}

#[cfg(test)]
#[path = "words_tests.rs"]
mod tests;
