//! What staff type means what they meant, or is refused at the token:
//! every accepted way to write days and ranges (in `days` and in a site's
//! `opening_hours` keys), refused look-alikes, cron read as ordinary cron
//! (checked against croniter on a table), cron errors that say which field
//! and why, and no "unknown site" cascade from a site's own error.

use chrono::TimeZone;
use chrono_tz::Tz;
use ledcast_compiler::calendar::{expand_cron, DaySet, TimeRange};
use ledcast_compiler::model::When;
use ledcast_compiler::{self as compiler, Diagnostic, Model};

const README: &str = include_str!("../../playlists/README.md");

const BASE: &str = r#"
[settings]
default_playlist = "loop"

[[profiles]]
id = "door"
width = 352
height = 80
color = "mono"

[[sites]]
id = "branch"

[[screens]]
id = "door-1"
site = "branch"
profile = "door"

[[playlists]]
id = "loop"
items = [{ material = "poster" }]
"#;

fn parse(extra: &str) -> (Model, Vec<Diagnostic>) {
    compiler::parse(&[("base.toml", BASE), ("schedules.toml", extra)])
}

fn errors(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{d}\n"))
        .collect()
}

/// `days = text` in a schedule: the day set, or the errors as printed.
fn days(text: &str) -> Result<DaySet, String> {
    let (model, diagnostics) = parse(&format!(
        "[[schedules]]\nid = \"s\"\nplaylist = \"loop\"\nscreens = [\"door-1\"]\ndays = \"{text}\"\n"
    ));
    match model.schedules.first().map(|s| &s.when) {
        Some(When::Calendar { days, .. }) => Ok(*days),
        _ => Err(errors(&diagnostics)),
    }
}

/// `hours = text` in a schedule: the ranges, or the errors as printed.
fn hours(text: &str) -> Result<Vec<TimeRange>, String> {
    let (model, diagnostics) = parse(&format!(
        "[[schedules]]\nid = \"s\"\nplaylist = \"loop\"\nscreens = [\"door-1\"]\nhours = \"{text}\"\n"
    ));
    match model.schedules.first().map(|s| &s.when) {
        Some(When::Calendar { hours, .. }) => Ok(hours.clone()),
        _ => Err(errors(&diagnostics)),
    }
}

/// One `opening_hours` entry `key = value` on the site: its opening hours,
/// or the errors as printed.
fn opening(key: &str, value: &str) -> Result<Vec<(DaySet, Vec<TimeRange>)>, String> {
    let text = BASE.replace(
        "[[sites]]\nid = \"branch\"\n",
        &format!("[[sites]]\nid = \"branch\"\nopening_hours = {{ \"{key}\" = \"{value}\" }}\n"),
    );
    let (model, diagnostics) = compiler::parse(&[("base.toml", text.as_str())]);
    match model.sites.first() {
        Some(site) => Ok(site.opening_hours.clone()),
        None => Err(errors(&diagnostics)),
    }
}

const MON_FRI: DaySet = DaySet(0x1f);

/// Every way to join the two ends of a range.
const RANGE_SEPARATORS: [&str; 13] = [
    "-", "‐", "‑", "–", "—", "——", "−", "－", "~", "～", "〜", "至", "到",
];

/// Every way to separate the days of a list.
const LIST_SEPARATORS: [&str; 3] = [",", "，", "、"];

/// Every name of each weekday, Monday first (English in any case).
const DAY_NAMES: [&[&str]; 7] = [
    &["mon", "Mon", "MONDAY", "monday", "周一", "星期一", "礼拜一"],
    &["tue", "Tues", "tuesday", "周二", "星期二", "礼拜二"],
    &["wed", "Wednesday", "周三", "星期三", "礼拜三"],
    &[
        "thu",
        "thur",
        "Thurs",
        "thursday",
        "周四",
        "星期四",
        "礼拜四",
    ],
    &["fri", "Fri", "friday", "周五", "星期五", "礼拜五"],
    &["sat", "Saturday", "周六", "星期六", "礼拜六"],
    &[
        "sun",
        "SUN",
        "sunday",
        "周日",
        "周天",
        "星期日",
        "星期天",
        "礼拜日",
        "礼拜天",
    ],
];

/// Every word for several days.
const DAY_WORDS: [(&str, DaySet); 9] = [
    ("daily", DaySet::ALL),
    ("every day", DaySet::ALL),
    ("all", DaySet::ALL),
    ("每天", DaySet::ALL),
    ("每日", DaySet::ALL),
    ("weekdays", MON_FRI),
    ("工作日", MON_FRI),
    ("weekends", DaySet(0x60)),
    ("周末", DaySet(0x60)),
];

#[test]
fn every_accepted_form_of_days_and_ranges() {
    for (day, names) in DAY_NAMES.iter().enumerate() {
        for name in *names {
            assert_eq!(days(name), Ok(DaySet(1 << day)), "{name}");
        }
    }
    for (word, set) in DAY_WORDS {
        assert_eq!(days(word), Ok(set), "{word}");
    }
    for separator in RANGE_SEPARATORS {
        for text in [
            format!("mon{separator}fri"),
            format!("Mon {separator} Fri"),
            format!("周一{separator}周五"),
            format!("星期一{separator}星期五"),
            format!("monday{separator}周五"),
        ] {
            assert_eq!(days(&text), Ok(MON_FRI), "{text}");
        }
        // Ranges wrap past Sunday.
        let text = format!("fri{separator}mon");
        assert_eq!(days(&text), Ok(DaySet(0b111_0001)), "{text}");
        // Hours take the same separators.
        let text = format!("08:30{separator}17:30");
        let range = TimeRange {
            start_minute: 510,
            end_minute: 1050,
        };
        assert_eq!(hours(&text), Ok(vec![range]), "{text}");
    }
    for separator in LIST_SEPARATORS {
        for text in [
            format!("sat{separator}sun"),
            format!("周六{separator}周日"),
            format!("周六 {separator} sunday"),
        ] {
            assert_eq!(days(&text), Ok(DaySet(0x60)), "{text}");
        }
        let text = format!("mon{separator}wed-fri");
        assert_eq!(days(&text), Ok(DaySet(0b1_1101)), "{text}");
    }
    assert_eq!(days("周一、周三至周五"), Ok(DaySet(0b1_1101)));
    assert_eq!(
        hours("08:30-12:00，13:30～17:30"),
        Ok(vec![
            TimeRange {
                start_minute: 510,
                end_minute: 720
            },
            TimeRange {
                start_minute: 810,
                end_minute: 1050
            }
        ])
    );
    // Full-width digits are not read as digits.
    assert!(hours("８:３０-17:30").unwrap_err().contains("`８:３０`"));
    assert_eq!(
        hours("08：30-17：30"),
        Ok(vec![TimeRange {
            start_minute: 510,
            end_minute: 1050
        }])
    );
}

#[test]
fn opening_hours_keys_are_read_by_the_same_parser() {
    let nine_to_five = vec![TimeRange {
        start_minute: 540,
        end_minute: 1020,
    }];
    for key in [
        "mon-fri",
        "mon–fri",
        "mon－fri",
        "mon~fri",
        "周一至周五",
        "周一到周五",
        "工作日",
    ] {
        assert_eq!(
            opening(key, "09:00-17:00"),
            Ok(vec![(MON_FRI, nine_to_five.clone())]),
            "{key}"
        );
    }
    assert_eq!(opening("周日", "休息"), Ok(vec![]));
    // Refused at the key's token, not read as Monday only.
    let error = opening("Mon to Fri", "09:00-17:00").unwrap_err();
    assert_eq!(
        error,
        "base.toml:13:24: error: site `branch`: opening_hours key \"Mon to Fri\": `to` is not a day or a separator\n  hint: for the range write `Mon-Fri`; for the two days `Mon,Fri`\n"
    );
}

#[test]
fn anything_else_is_refused_naming_the_token_where_it_is() {
    // (days, the token, its column on the `days = "…"` line, a hint fragment)
    let cases = [
        ("Mon to Fri", "to", 13, "`Mon-Fri`"),
        ("mon/fri", "/", 12, "`mon-fri`"),
        ("mon..fri", "..", 12, "`mon-fri`"),
        ("mon_fri", "_", 12, "`mon-fri`"),
        ("Mon & Fri", "&", 13, "`Mon-Fri`"),
        ("mon→fri", "→", 12, "`mon-fri`"),
        ("monkey", "monkey", 9, "did you mean `monday`?"),
        ("funday", "funday", 9, "did you mean `sunday`?"),
        ("mo-fr", "mo", 9, "did you mean"),
        ("周1至周5", "周1", 9, "did you mean `周一`?"),
        ("mon fri", "fri", 13, "`mon-fri`"),
        ("周一周五", "周五", 11, "`周一至周五`"),
        ("mon-", "-", 12, "has no last day"),
        ("-fri", "-", 9, "mon-fri"),
        ("mon,,fri", ",", 13, "extra separator"),
        ("mon,", ",", 12, "trailing separator"),
        ("mon-wed-fri", "-", 16, "`mon-wed,fri-sat`"),
        ("周一至周末", "周末", 12, "a range joins two single days"),
        ("", "", 9, "周一至周五"),
    ];
    for (text, token, column, hint) in cases {
        let error = days(text).expect_err(text);
        let head = format!("schedules.toml:5:{column}: error: schedule `s`: days: ");
        assert!(error.starts_with(&head), "{text:?}: {error}");
        assert!(
            error.contains(&format!("`{token}`")) || token.is_empty(),
            "{text:?}: {error}"
        );
        assert!(error.contains(hint), "{text:?}: {error}");
        assert_eq!(error.lines().count(), 2, "one error for {text:?}: {error}");
    }
}

/// One row of `data/croniter_table.json`.
#[derive(serde::Deserialize)]
struct CroniterRow {
    expression: String,
    timezone: String,
    start: String,
    occurrences: Vec<String>,
}

#[derive(serde::Deserialize)]
struct CroniterTable {
    rows: Vec<CroniterRow>,
}

/// The first `n` starts after `start` of cron `expression` in `tz`, as the
/// compiler expands them.
fn starts(expression: &str, tz: &str, start: i64, until: i64) -> Result<Vec<i64>, String> {
    let text = format!(
        "[[schedules]]\nid = \"s\"\nplaylist = \"loop\"\nscreens = [\"door-1\"]\ncron = \"{expression}\"\nduration_seconds = 1\n"
    );
    let (model, diagnostics) = parse(&text);
    let Some(When::Cron { schedule, .. }) = model.schedules.first().map(|s| &s.when) else {
        return Err(errors(&diagnostics));
    };
    let tz: Tz = tz.parse().map_err(|_| "zone".to_owned())?;
    // 1 ms windows from just after `start`: croniter's "next after".
    let (intervals, truncated) = expand_cron(schedule, 1, tz, start + 1, until);
    assert!(!truncated);
    Ok(intervals.iter().map(|i| i.0).collect())
}

#[test]
fn cron_reads_like_croniter_on_the_table() {
    let table: CroniterTable =
        serde_json::from_str(include_str!("data/croniter_table.json")).expect("table");
    assert!(table.rows.len() >= 150);
    let instant = |text: &str| {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("instant")
            .timestamp_millis()
    };
    let mut wrong = Vec::new();
    for row in &table.rows {
        let expected: Vec<i64> = row.occurrences.iter().map(|t| instant(t)).collect();
        let until = expected.last().copied().unwrap_or_default() + 1;
        let got = starts(&row.expression, &row.timezone, instant(&row.start), until);
        if got.as_ref() != Ok(&expected) {
            let tz: Tz = row.timezone.parse().expect("zone");
            let show = |ts: &[i64]| -> Vec<String> {
                ts.iter()
                    .take(4)
                    .map(|t| {
                        tz.timestamp_millis_opt(*t)
                            .unwrap()
                            .format("%a %F %T")
                            .to_string()
                    })
                    .collect()
            };
            wrong.push(format!(
                "{} in {}: croniter {:?}…, ledcast {:?}",
                row.expression,
                row.timezone,
                show(&expected),
                got.as_deref().map(show)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows differ:\n{}",
        wrong.len(),
        table.rows.len(),
        wrong.join("\n")
    );
}

#[test]
fn day_of_week_numbers_are_ordinary_cron() {
    // Tuesday 2026-12-01 00:00 Shanghai; a week of noons.
    let from = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00+08:00")
        .expect("instant")
        .timestamp_millis();
    let weekdays = |expression: &str| -> Vec<String> {
        let tz: Tz = "Asia/Shanghai".parse().expect("zone");
        starts(expression, "Asia/Shanghai", from, from + 7 * 86_400_000)
            .expect(expression)
            .iter()
            .map(|t| {
                tz.timestamp_millis_opt(*t)
                    .unwrap()
                    .format("%a")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        weekdays("0 0 12 * * 1-5 *"),
        ["Tue", "Wed", "Thu", "Fri", "Mon"]
    );
    assert_eq!(weekdays("0 0 12 * * 0 *"), ["Sun"]);
    assert_eq!(weekdays("0 0 12 * * 7 *"), ["Sun"]);
    assert_eq!(weekdays("0 0 12 * * 6 *"), ["Sat"]);
    assert_eq!(
        weekdays("0 0 12 * * Mon-Fri *"),
        ["Tue", "Wed", "Thu", "Fri", "Mon"]
    );
}

/// The diagnostics (every severity) of a schedule with `cron = expression`.
fn cron_diagnostics(expression: &str) -> String {
    let (_, diagnostics) = parse(&format!(
        "[[schedules]]\nid = \"noon\"\nplaylist = \"loop\"\nscreens = [\"door-1\"]\ncron = \"{expression}\"\nduration_seconds = 600\n"
    ));
    diagnostics
        .iter()
        .filter(|d| d.location.file == "schedules.toml")
        .map(|d| format!("{d}\n"))
        .collect()
}

#[test]
fn cron_errors_name_the_field_why_and_the_nearest_valid_form() {
    let cases = [
        (
            "0 0 25 * * * *",
            "schedules.toml:5:13: error: schedule `noon`: cron `0 0 25 * * * *`: hour field `25`: 25 is out of range 0–23\n  hint: nearest valid form: `0 0 23 * * * *`\n",
        ),
        (
            "0 0 12 * * 8 *",
            "schedules.toml:5:20: error: schedule `noon`: cron `0 0 12 * * 8 *`: day-of-week field `8`: 8 is out of range 0–7\n  hint: nearest valid form: `0 0 12 * * 7 *`\n",
        ),
        (
            "0 0 12 * * Mnd-Fri *",
            "schedules.toml:5:20: error: schedule `noon`: cron `0 0 12 * * Mnd-Fri *`: day-of-week field `Mnd-Fri`: `Mnd` is not a day-of-week (use Sun, Mon, Tue, Wed, Thu, Fri, Sat or 0–7 (0 and 7 are Sunday))\n  hint: nearest valid form: `0 0 12 * * Mon-Fri *`\n",
        ),
        (
            "0 0 12 * * 周一-周五 *",
            "schedules.toml:5:20: error: schedule `noon`: cron `0 0 12 * * 周一-周五 *`: day-of-week field `周一-周五`: cron takes English day names (Sun…Sat) or 0–7, not `周一`\n  hint: nearest valid form: `0 0 12 * * Mon-Fri *`\n",
        ),
        (
            "0 */0 9-17 * * * *",
            "schedules.toml:5:13: error: schedule `noon`: cron `0 */0 9-17 * * * *`: minute field `*/0`: a step of 0 never advances\n  hint: nearest valid form: `0 */1 9-17 * * * *`\n",
        ),
        (
            "0 ? 12 * * * *",
            "schedules.toml:5:11: error: schedule `noon`: cron `0 ? 12 * * * *`: minute field `?`: `?` stands only for day-of-month or day-of-week\n  hint: nearest valid form: `0 * 12 * * * *`\n",
        ),
        (
            "0 0 12 * * Fri#3 *",
            "schedules.toml:5:20: error: schedule `noon`: cron `0 0 12 * * Fri#3 *`: day-of-week field `Fri#3`: `#` (the nth weekday of a month) is not supported\n  hint: e.g. the third Friday is day-of-month 15-21 with day-of-week Fri (both must hold); nearest valid form: `0 0 12 15-21 * Fri *`\n",
        ),
        (
            "0 0 12 L * * *",
            "schedules.toml:5:16: error: schedule `noon`: cron `0 0 12 L * * *`: day-of-month field `L`: `L` (last) is not supported\n  hint: list the dates in a calendar schedule (dates = [...]) instead\n",
        ),
        (
            "0 0 12 * * * 2030-2026",
            "schedules.toml:5:22: error: schedule `noon`: cron `0 0 12 * * * 2030-2026`: year field `2030-2026`: the range `2030-2026` ends before it starts\n  hint: nearest valid form: `0 0 12 * * * 2026-2030`\n",
        ),
        (
            "0 0 12 * * * * *",
            "schedules.toml:5:9: error: schedule `noon`: cron `0 0 12 * * * * *`: cron has 8 field(s); it needs seven (the year may be left out)\n  hint: seven fields: second minute hour day-of-month month day-of-week year, e.g. \"0 0 12 * * Mon-Fri *\"\n",
        ),
        (
            "0 0 12 30 2 * *",
            "schedules.toml:5:16: error: schedule `noon`: cron `0 0 12 30 2 * *`: day-of-month field `30`: no month of `2` has day 30, so it never starts\n  hint: the months of `2` have at most 29 days\n",
        ),
        // Two bad fields: both reported, one nearest form.
        (
            "0 61 25 * * * *",
            "schedules.toml:5:11: error: schedule `noon`: cron `0 61 25 * * * *`: minute field `61`: 61 is out of range 0–59\n  hint: nearest valid form: `0 59 23 * * * *`\nschedules.toml:5:14: error: schedule `noon`: cron `0 61 25 * * * *`: hour field `25`: 25 is out of range 0–23\n  hint: nearest valid form: `0 59 23 * * * *`\n",
        ),
    ];
    let mut wrong = Vec::new();
    for (expression, expected) in cases {
        let got = cron_diagnostics(expression);
        if got != expected {
            wrong.push(format!("{expression}:\n{got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_five_field_unix_line_is_refused_with_its_exact_seven_field_form() {
    assert_eq!(
        cron_diagnostics("0 12 * * 1-5"),
        "schedules.toml:5:9: error: schedule `noon`: cron `0 12 * * 1-5`: `0 12 * * 1-5` is a five-field Unix cron line (minute hour day-of-month month day-of-week)\n  hint: the same schedule here is `0 0 12 * * 1-5 *` (seven fields: a second first, a year last)\n"
    );
    // Unix reads the two day fields with OR: no one expression is the same.
    assert_eq!(
        cron_diagnostics("30 8 1,15 * mon"),
        "schedules.toml:5:9: error: schedule `noon`: cron `30 8 1,15 * mon`: `30 8 1,15 * mon` is a five-field Unix cron line (minute hour day-of-month month day-of-week)\n  hint: Unix cron runs when either day field matches, ledcast only when both do; for the Unix meaning write two schedules: `0 30 8 1,15 * * *` and `0 30 8 * * mon *`\n"
    );
    // The suggested form is accepted and means the same.
    assert_eq!(cron_diagnostics("0 0 12 * * 1-5 *"), "");
}

#[test]
fn both_day_fields_restricted_is_said() {
    assert_eq!(
        cron_diagnostics("0 0 12 13 * Fri *"),
        "schedules.toml:5:8: info: schedule `noon`: cron `0 0 12 13 * Fri *` starts only on days that match both day-of-month and day-of-week\n  hint: that is how ledcast reads it (`0 0 12 13 * Fri *` is Friday the 13th only); Unix cron would start on either day: for that, write two schedules, `0 0 12 13 * * *` and `0 0 12 * * Fri *`\n"
    );
}

#[test]
fn an_error_on_a_site_or_playlist_does_not_cascade() {
    let files = r#"
[[sites]]
id = "site-b"
timezone = "Europe/Berln"

[[screens]]
id = "door-b"
site = "site-b"
profile = "door"

[[playlists]]
id = "broken"
items = []

[[schedules]]
id = "uses-both"
playlist = "broken"
screens = ["door-b"]
sites = ["site-b"]

[[schedules]]
id = "still-fine"
playlist = "loop"
screens = ["door-b", "door-1"]
sites = ["site-b"]
"#;
    let (model, diagnostics) = parse(files);
    assert_eq!(
        errors(&diagnostics),
        "schedules.toml:4:12: error: site `site-b`: unknown time zone `Europe/Berln`\n  hint: did you mean `Europe/Berlin`?\nschedules.toml:11:1: error: playlist `broken` has no items\n  hint: add items = [{ material = \"…\" }]\n"
    );
    // A schedule naming a broken screen or site keeps its other targets.
    assert!(model.schedules.iter().any(|s| s.id == "still-fine"));
    // A typo is still an unknown site.
    let (_, diagnostics) =
        parse("[[screens]]\nid = \"door-c\"\nsite = \"site-a\"\nprofile = \"door\"\n");
    assert!(errors(&diagnostics).contains("unknown site `site-a`"));
}

/// The error examples in playlists/README.md are what the compiler says.
#[test]
fn the_readme_error_examples_are_real() {
    let days_error = {
        let (_, diagnostics) = parse(
            "# counter screens\n\n[[schedules]]\nid = \"counter-week\"\nplaylist = \"loop\"\nscreens = [\"door-1\"]\ndays = \"Mon to Fri\"\n",
        );
        errors(&diagnostics)
    };
    for example in [
        days_error,
        cron_diagnostics("0 12 * * 1-5"),
        cron_diagnostics("0 0 25 * * * *"),
    ] {
        assert!(!example.is_empty());
        assert!(
            README.contains(&example),
            "not in playlists/README.md:\n{example}"
        );
    }
}
