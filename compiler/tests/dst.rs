//! DST folds and gaps: a play in a repeated (fall-back) hour does not depend
//! on the instant the rotation was compiled at (a property over zones with
//! 1 h, 30 min and 2 h changes, compiled at every hour across the change),
//! `explain` prints UTC offsets on the days whose offset changes, and the
//! DST examples in `playlists/README.md` compile to what they show.

use chrono::{Offset, TimeZone};
use chrono_tz::Tz;
use ledcast_compiler::{self as compiler, Catalog, Model, Source, Window};
use ledcast_protocol::v1 as protocol;
use proptest::prelude::*;

const SITE: &str = include_str!("data/new-york/site.toml");
const MATERIALS: &str = include_str!("data/new-york/materials.toml");
const README: &str = include_str!("../../playlists/README.md");

const HOUR: i64 = 3_600_000;

/// The new-york site moved to `tz`, plus `schedules`.
fn site_in(tz: &str, schedules: &str) -> (Model, Catalog) {
    let site = SITE.replace("America/New_York", tz);
    let (model, diagnostics) =
        compiler::parse(&[("site.toml", site.as_str()), ("schedules.toml", schedules)]);
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    let (entries, problems) =
        compiler::parse_materials("materials.toml", MATERIALS, model.settings.timezone);
    assert!(problems.is_empty(), "{problems:#?}");
    let catalog = compiler::preview_catalog(&entries, &model);
    (model, catalog)
}

/// Where each schedule is on air for the only screen, compiled at `now`:
/// `(from, until, schedule id)`, adjacent pieces of one schedule merged.
fn airtime(model: &Model, catalog: &Catalog, now: i64, horizon_ms: i64) -> Vec<(i64, i64, String)> {
    let window = Window {
        now: protocol::Timestamp(now),
        horizon_ms,
        expires_after_ms: horizon_ms,
    };
    let (compiled, diagnostics) = compiler::compile(model, catalog, window);
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    let mut out: Vec<(i64, i64, String)> = Vec::new();
    for (block, origin) in compiled[0].rotation.blocks.iter().zip(&compiled[0].origins) {
        let Source::Schedule { schedule, .. } = origin.source.as_ref() else {
            continue;
        };
        match out.last_mut() {
            Some(last) if last.1 == block.from.0 && &last.2 == schedule => last.1 = block.until.0,
            _ => out.push((block.from.0, block.until.0, schedule.clone())),
        }
    }
    out
}

fn clip(pieces: &[(i64, i64, String)], from: i64, until: i64) -> Vec<(i64, i64, String)> {
    pieces
        .iter()
        .filter_map(|(s, e, id)| {
            let (s, e) = ((*s).max(from), (*e).min(until));
            (s < e).then(|| (s, e, id.clone()))
        })
        .collect()
}

fn utc(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("test instant")
        .timestamp_millis()
}

fn offset_seconds(tz: Tz, t: i64) -> i32 {
    tz.timestamp_millis_opt(t)
        .single()
        .map_or(0, |d| d.offset().fix().local_minus_utc())
}

/// The instants in 2026 where `tz` changes its UTC offset, to the minute,
/// with the offsets before and after.
fn changes_2026(tz: Tz) -> Vec<(i64, i32, i32)> {
    let mut out = Vec::new();
    let mut t = utc("2026-01-01T00:00:00Z");
    let end = utc("2027-01-01T00:00:00Z");
    while t < end {
        let (before, after) = (offset_seconds(tz, t), offset_seconds(tz, t + HOUR));
        if before != after {
            let (mut lo, mut hi) = (t, t + HOUR);
            while hi - lo > 60_000 {
                let mid = lo + (hi - lo) / 2 / 60_000 * 60_000;
                if offset_seconds(tz, mid) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push((hi, before, after));
        }
        t += HOUR;
    }
    out
}

#[test]
fn the_issue_example_plays_in_both_repeated_hours_whenever_compiled() {
    // New York falls back on Sunday 2026-11-01 at 02:00 EDT (06:00Z) to 01:00 EST.
    let schedule = r#"
[[schedules]]
id = "fold"
playlist = "news"
screens = ["ny-door"]
cron = "0 15 1 * * * *"
duration_seconds = 600
"#;
    let (model, catalog) = site_in("America/New_York", schedule);
    let edt = (
        utc("2026-11-01T05:15:00Z"),
        utc("2026-11-01T05:25:00Z"),
        "fold".to_owned(),
    );
    let est = (
        utc("2026-11-01T06:15:00Z"),
        utc("2026-11-01T06:25:00Z"),
        "fold".to_owned(),
    );
    let early = airtime(&model, &catalog, utc("2026-11-01T04:00:00Z"), 12 * HOUR);
    assert_eq!(early, vec![edt, est.clone()]);
    // Compiled at 05:50Z (01:50 EDT): the 01:15 EST play is still ahead.
    let late = airtime(&model, &catalog, utc("2026-11-01T05:50:00Z"), 12 * HOUR);
    assert_eq!(late, vec![est]);
}

/// Zones with a 1 h change (New York, London, Berlin, Santiago), a 30 min
/// one (Lord Howe), a 1 h change at 02:45 (Chatham) and a 2 h one (Troll).
const ZONES: [&str; 7] = [
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Antarctica/Troll",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Compiles the same inputs at every hour from 26 h before a DST
    /// change to 26 h after it: what plays after each compile instant is
    /// what a compile long before showed for that time.
    #[test]
    fn plays_after_the_compile_instant_do_not_depend_on_it(
        zone in 0usize..ZONES.len(),
        which in 0usize..2,
        hour_delta in -1i64..=1,
        minute in 0u32..60,
        step in prop::option::of(prop_oneof![Just(5u32), Just(15), Just(20)]),
        duration_minutes in 1u32..100,
        hours_start in 0u32..(4 * 60),
        hours_length in 10u32..(3 * 60),
    ) {
        let name = ZONES[zone];
        let tz: Tz = name.parse().expect("zone");
        let changes = changes_2026(tz);
        prop_assume!(changes.len() > which);
        let (change, before, _) = changes[which];
        // The wall-clock hour the change happens in, ± one hour.
        let local_hour = (change + i64::from(before) * 1000 - 1).div_euclid(HOUR).rem_euclid(24);
        let hour = (local_hour + hour_delta).rem_euclid(24);
        let minutes = match step {
            Some(step) => format!("{}/{step}", minute % step),
            None => minute.to_string(),
        };
        let minute_of = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        let schedules = format!(
            "[[schedules]]\nid = \"cron\"\nplaylist = \"news\"\nscreens = [\"ny-door\"]\n\
             cron = \"0 {minutes} {hour} * * * *\"\nduration_seconds = {}\npriority = 2\n\n\
             [[schedules]]\nid = \"hours\"\nplaylist = \"news\"\nscreens = [\"ny-door\"]\n\
             hours = \"{}-{}\"\npriority = 1\n",
            duration_minutes * 60,
            minute_of(hours_start),
            minute_of(hours_start + hours_length),
        );
        let (model, catalog) = site_in(name, &schedules);
        let horizon = 24 * HOUR;
        let first = change - 26 * HOUR;
        let reference = airtime(&model, &catalog, first - 4 * HOUR, 60 * HOUR + horizon);
        for k in 0..=52 {
            let now = first + k * HOUR;
            let got = airtime(&model, &catalog, now, horizon);
            prop_assert_eq!(
                &got,
                &clip(&reference, now, now + horizon),
                "{} compiled at {}",
                name,
                chrono::DateTime::from_timestamp_millis(now).expect("instant")
            );
        }
    }
}

fn explain_at(tz: &str, schedules: &str, now: &str, hours: i64) -> String {
    let (model, catalog) = site_in(tz, schedules);
    let window = Window::hours(protocol::Timestamp(utc(now)), hours, hours);
    let (compiled, _) = compiler::compile(&model, &catalog, window);
    compiler::explain(&model, &catalog, &compiled[0])
}

#[test]
fn explain_prints_offsets_on_days_whose_offset_changes() {
    let schedule = r#"
[[schedules]]
id = "fold"
playlist = "news"
screens = ["ny-door"]
cron = "0 15 1 * * * *"
duration_seconds = 600
"#;
    let text = explain_at(
        "America/New_York",
        schedule,
        "2026-10-31T00:00:00-04:00",
        72,
    );
    for line in [
        "2026-11-01 Sun 01:15:00 UTC-04:00 → 2026-11-01 Sun 01:25:00 UTC-04:00",
        "2026-11-01 Sun 01:15:00 UTC-05:00 → 2026-11-01 Sun 01:25:00 UTC-05:00",
        "2026-10-31 Sat 01:15:00 → 2026-10-31 Sat 01:25:00",
        "2026-11-02 Mon 01:15:00 → 2026-11-02 Mon 01:25:00",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    // The default playlist's block that spans the change day.
    assert!(
        text.contains("2026-11-01 Sun 01:25:00 UTC-04:00 → 2026-11-01 Sun 01:15:00 UTC-05:00"),
        "{text}"
    );
    // A zone without DST: never an offset.
    let text = explain_at("Asia/Shanghai", schedule, "2026-10-31T00:00:00+08:00", 72);
    assert!(!text.contains("UTC+"), "{text}");
}

/// Each `<!-- explain-example at="…" hours="…" -->` in playlists/README.md is
/// followed by a ```toml block (schedules for the new-york site) and a
/// ```text block: every line of the text is in the screen's explain.
#[test]
fn the_readme_dst_examples_compile_to_what_they_show() {
    let mut examples = 0;
    for (start, _) in README.match_indices("<!-- explain-example ") {
        let rest = &README[start..];
        let header = &rest[..rest.find("-->").expect("comment end")];
        let attribute = |key: &str| -> &str {
            let from = header.find(&format!("{key}=\"")).expect(key) + key.len() + 2;
            &header[from..from + header[from..].find('"').expect("quote")]
        };
        let block = |fence: &str| -> &str {
            let open = rest.find(fence).expect(fence) + fence.len();
            &rest[open..open + rest[open..].find("```").expect("fence end")]
        };
        let (toml, expected) = (block("```toml\n"), block("```text\n"));
        let hours: i64 = attribute("hours").parse().expect("hours");
        let text = explain_at("America/New_York", toml, attribute("at"), hours);
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                text.lines().any(|l| l.trim_end() == line.trim_end()),
                "README example at {}: {line:?} is not in\n{text}",
                attribute("at")
            );
        }
        examples += 1;
    }
    assert!(
        examples >= 4,
        "{examples} explain examples found in playlists/README.md"
    );
}
