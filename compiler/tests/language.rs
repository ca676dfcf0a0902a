//! The playlist language: every mistake is reported at once with
//! `file:line:column` and a hint (snapshot), and calendar edges (a DST zone,
//! overnight hours, year end) come out right in compiled rotations.

mod common;

use common::at;
use ledcast_compiler::{
    self as compiler, Catalog, CatalogMaterial, MaterialKind, Rendition, Window,
};
use ledcast_protocol::v1 as protocol;

fn check(files: &[(&str, &str)]) -> String {
    let (_, diagnostics) = compiler::parse(files);
    diagnostics.iter().map(|d| format!("{d}\n")).collect()
}

const BASE: &str = r#"
[settings]
default_playlist = "loop"
warning_playlist = "warnings"

[[profiles]]
id = "door"
width = 352
height = 80
color = "mono"
scroll = true

[[sites]]
id = "branch"
opening_hours = { "mon-fri" = "08:30-17:00" }

[[screens]]
id = "door-1"
site = "branch"
profile = "door"
tags = ["bank-door"]

[[playlists]]
id = "loop"
items = [{ material = "poster" }]

[[playlists]]
id = "warnings"
items = [{ material = "warn" }]
"#;

#[test]
fn every_mistake_is_reported_at_once() {
    let mistakes = r#"
[[screens]]
id = "no-profile"
site = "branch"

[[screens]]
id = "door-1"
site = "brnch"
profile = "door"

[[schedules]]
id = "typo-playlist"
playlist = "lop"
tags = ["bank-dor"]
hours = "17:30-08:30"

[[schedules]]
id = "cron-without-duration"
playlist = "loop"
screens = ["door-1"]
cron = "0 0 12 * * Mon-Fri *"

[[schedules]]
id = "bad-days"
playlist = "loop"
sites = ["branch"]
days = "mon-fry"
dates = ["2026-12-31..2026-12-01"]
priority = 99999

[[rules]]
id = "impossible-share"
tags = ["bank-door"]
min_warning_share = 1.5

[[rules]]
id = "asks-nothing"
sites = ["branch"]

[[alerts]]
id = "both"
material = "warn"
playlist = "loop"
tags = ["bank-door"]
until = 2026-12-01T18:00:00+08:00
"#;
    let typo_field =
        "[[profiles]]\nid = \"atm\"\nwidth = 128\nheight = 64\ncolor = \"full\"\nvidoe = true\n";
    let bad_zone = "[[sites]]\nid = \"berlin\"\ntimezone = \"Europe/Berln\"\n";
    insta::assert_snapshot!(check(&[
        ("base.toml", BASE),
        ("mistakes.toml", mistakes),
        ("typo.toml", typo_field),
        ("zone.toml", bad_zone),
    ]));
}

#[test]
fn a_clean_file_set_has_no_diagnostics() {
    assert_eq!(check(&[("base.toml", BASE)]), "");
}

fn material(id: &str, kind: MaterialKind, warning: bool, profile: &str) -> CatalogMaterial {
    let mut renditions = std::collections::BTreeMap::new();
    let mut digest = [0u8; 32];
    digest[..id.len().min(32)].copy_from_slice(&id.as_bytes()[..id.len().min(32)]);
    renditions.insert(
        profile.to_owned(),
        Rendition {
            media: protocol::MediaRef {
                sha256: protocol::Sha256(digest),
                size_bytes: 10,
                mime: "image/png".into(),
                width: 352,
                height: 80,
            },
            strip_width_px: (kind == MaterialKind::Text).then_some(288),
            text: (kind == MaterialKind::Text).then_some(ledcast_compiler::TextMetrics {
                glyph_px: 16,
                chars: 10,
            }),
            video_codec: None,
            problems: Vec::new(),
        },
    );
    CatalogMaterial {
        id: id.into(),
        kind,
        title: id.into(),
        tags: vec![],
        category: None,
        source: None,
        edition: None,
        valid_from: None,
        valid_until: None,
        approved: true,
        is_warning: warning,
        added_at: 0,
        duration_ms: None,
        renditions,
        refused: Default::default(),
    }
}

fn door_catalog() -> Catalog {
    Catalog::new(vec![
        material("poster", MaterialKind::Poster, true, "door"),
        material("warn", MaterialKind::Text, true, "door"),
        material("notice", MaterialKind::Poster, false, "door"),
    ])
}

fn block_edges(
    files: &[(&str, &str)],
    now: protocol::Timestamp,
    hours: i64,
) -> Vec<(String, String, String)> {
    let (model, diagnostics) = compiler::parse(files);
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    let (compiled, diagnostics) =
        compiler::compile(&model, &door_catalog(), Window::hours(now, hours, hours));
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    let utc = |t: protocol::Timestamp| {
        chrono::DateTime::from_timestamp_millis(t.0)
            .expect("instant")
            .format("%m-%d %H:%M")
            .to_string()
    };
    compiled[0]
        .rotation
        .blocks
        .iter()
        .zip(&compiled[0].origins)
        .map(|(b, o)| (utc(b.from), utc(b.until), o.source.playlist().to_owned()))
        .collect()
}

#[test]
fn berlin_dst_spring_forward_keeps_local_hours() {
    let site = BASE.replace(
        "opening_hours = { \"mon-fri\" = \"08:30-17:00\" }",
        "timezone = \"Europe/Berlin\"",
    );
    let schedule = r#"
[[playlists]]
id = "morning"
items = [{ material = "warn" }]

[[schedules]]
id = "morning"
playlist = "morning"
tags = ["bank-door"]
hours = "08:00-10:00"
"#;
    // Saturday 2026-03-28 00:00 CET → Monday: clocks go forward on Sunday 29th.
    let edges = block_edges(
        &[("base.toml", &site), ("s.toml", schedule)],
        at("2026-03-28T00:00:00+01:00"),
        72,
    );
    let morning: Vec<_> = edges
        .iter()
        .filter(|e| e.2 == "morning")
        .map(|e| (e.0.as_str(), e.1.as_str()))
        .collect();
    // 08:00 local is 07:00 UTC in CET, 06:00 UTC in CEST.
    assert_eq!(
        morning,
        vec![
            ("03-28 07:00", "03-28 09:00"),
            ("03-29 06:00", "03-29 08:00"),
            ("03-30 06:00", "03-30 08:00")
        ]
    );
}

#[test]
fn berlin_dst_fall_back_and_an_overnight_window() {
    let site = BASE.replace(
        "opening_hours = { \"mon-fri\" = \"08:30-17:00\" }",
        "timezone = \"Europe/Berlin\"",
    );
    let schedule = r#"
[[playlists]]
id = "night"
items = [{ material = "warn" }]

[[schedules]]
id = "night"
playlist = "night"
tags = ["bank-door"]
days = "sat"
hours = "22:00-04:00"
overnight = true
"#;
    // Saturday 2026-10-24 22:00 CEST → Sunday 04:00 CET: clocks go back at 03:00, so 7 hours.
    let edges = block_edges(
        &[("base.toml", &site), ("s.toml", schedule)],
        at("2026-10-24T12:00:00+02:00"),
        24,
    );
    let night: Vec<_> = edges
        .iter()
        .filter(|e| e.2 == "night")
        .map(|e| (e.0.as_str(), e.1.as_str()))
        .collect();
    assert_eq!(night, vec![("10-24 20:00", "10-25 03:00")]);
}

#[test]
fn year_end_and_month_end_dates() {
    let schedule = r#"
[[playlists]]
id = "new-year"
items = [{ material = "warn" }]

[[schedules]]
id = "new-year"
playlist = "new-year"
tags = ["bank-door"]
dates = ["2026-12-31..2027-01-01"]
hours = "23:00-24:00"
"#;
    let edges = block_edges(
        &[("base.toml", BASE), ("s.toml", schedule)],
        at("2026-12-31T00:00:00+08:00"),
        48,
    );
    let ny: Vec<_> = edges
        .iter()
        .filter(|e| e.2 == "new-year")
        .map(|e| (e.0.as_str(), e.1.as_str()))
        .collect();
    assert_eq!(
        ny,
        vec![
            ("12-31 15:00", "12-31 16:00"),
            ("01-01 15:00", "01-01 16:00")
        ]
    );
}

#[test]
fn a_rule_no_warning_can_satisfy_is_an_error_and_no_rotation() {
    let rules = "[[rules]]\nid = \"doors\"\ntags = [\"bank-door\"]\nmax_gap_seconds = 60\n";
    let (model, diagnostics) = compiler::parse(&[("base.toml", BASE), ("rules.toml", rules)]);
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    // The only warning material has no rendition for this profile.
    let catalog = Catalog::new(vec![
        material("poster", MaterialKind::Poster, true, "door"),
        material("warn", MaterialKind::Text, true, "other-profile"),
    ]);
    let (compiled, diagnostics) = compiler::compile(
        &model,
        &catalog,
        Window::hours(at("2026-12-01T09:00:00+08:00"), 48, 72),
    );
    assert!(compiled.is_empty());
    let rendered: String = diagnostics.iter().map(|d| format!("{d}\n")).collect();
    insta::assert_snapshot!(rendered);
}

#[test]
fn items_a_profile_cannot_show_are_skipped_with_a_diagnostic() {
    let playlists = r#"
[[playlists]]
id = "mixed"
items = [{ material = "clip" }, { material = "poster" }, { material = "ghost" }]

[[schedules]]
id = "mixed"
playlist = "mixed"
tags = ["bank-door"]
"#;
    let (model, _) = compiler::parse(&[("base.toml", BASE), ("p.toml", playlists)]);
    let mut clip = material("clip", MaterialKind::Video, true, "door");
    clip.duration_ms = Some(30_000);
    let mut catalog = door_catalog().materials().to_vec();
    catalog.push(clip);
    let (compiled, diagnostics) = compiler::compile(
        &model,
        &Catalog::new(catalog),
        Window::hours(at("2026-12-01T09:00:00+08:00"), 4, 4),
    );
    let slots: Vec<&str> = compiled[0].rotation.blocks[0]
        .slots
        .iter()
        .map(|s| s.material_id.as_str())
        .collect();
    assert_eq!(slots, vec!["poster"]);
    let rendered: String = diagnostics.iter().map(|d| format!("{d}\n")).collect();
    insta::assert_snapshot!(rendered);
}

#[test]
fn a_scroll_lasts_one_pass_at_the_reading_speed() {
    // "warn" is a 288 px strip of 16 px characters on a 352 px door at the
    // default 3 characters per second (48 px/s): its first column starts on
    // the panel's last one and its last column leaves column 0 after
    // (288 + 352 - 1) px, 13.3125 s.
    let (model, _) = compiler::parse(&[("base.toml", BASE)]);
    let (compiled, _) = compiler::compile(
        &model,
        &door_catalog(),
        Window::hours(at("2026-12-01T09:00:00+08:00"), 1, 1),
    );
    let fallback = &compiled[0].rotation.fallback;
    assert_eq!(fallback.len(), 1);
    assert_eq!(fallback[0].duration_ms, 13_313);
    assert_eq!(
        fallback[0].kind,
        protocol::SlotKind::Scroll { px_per_second: 48 }
    );
}

/// Legibility is a rule: a text nobody can read on a profile is left out
/// there with an error naming the screens (a playlist named it), and is
/// never warning airtime.
#[test]
fn illegible_text_is_an_error_and_no_warning_airtime() {
    let playlists = r#"
[[playlists]]
id = "texts"
items = [{ material = "poster" }, { material = "dark" }, { material = "long" }]

[[schedules]]
id = "texts"
playlist = "texts"
tags = ["bank-door"]
"#;
    let (model, _) = compiler::parse(&[("base.toml", BASE), ("p.toml", playlists)]);
    let mut dark = material("dark", MaterialKind::Text, true, "door");
    dark.renditions.get_mut("door").unwrap().problems =
        vec!["the screen would stay dark: not one LED is lit".into()];
    let mut long = material("long", MaterialKind::Text, true, "door");
    long.renditions.clear();
    long.refused.insert(
        "door".into(),
        "42 characters do not fit the 352×80 screen".into(),
    );
    let mut catalog = door_catalog().materials().to_vec();
    catalog.extend([dark, long]);
    let (compiled, diagnostics) = compiler::compile(
        &model,
        &Catalog::new(catalog),
        Window::hours(at("2026-12-01T09:00:00+08:00"), 4, 4),
    );
    let errors: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].contains("`dark` cannot be read on profile `door` (screens door-1)"),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`long`") && e.contains("42 characters")),
        "{errors:#?}"
    );
    // Neither plays; the warnings that remain are the legible ones.
    for c in &compiled {
        for block in &c.rotation.blocks {
            assert!(block
                .slots
                .iter()
                .all(|s| s.material_id != "dark" && s.material_id != "long"));
        }
    }
}

/// A profile whose reading speed moves characters off the panel before
/// they can be read gets an error for its scrolls.
#[test]
fn a_scroll_too_fast_to_read_is_an_error() {
    let fast = BASE.replace(
        "scroll = true\n",
        "scroll = true\nscroll_chars_per_second = 10\n",
    );
    let (model, parse_diagnostics) = compiler::parse(&[("base.toml", &fast)]);
    assert!(parse_diagnostics.is_empty(), "{parse_diagnostics:#?}");
    let (_, diagnostics) = compiler::compile(
        &model,
        &door_catalog(),
        Window::hours(at("2026-12-01T09:00:00+08:00"), 4, 4),
    );
    // 16 px glyphs at 10 per second (160 px/s) on a 352 px door: each is
    // wholly on the panel for (352 - 16) / 160 = 2.1 s: readable.
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    let narrow = fast.replace("width = 352", "width = 64");
    let (model, _) = compiler::parse(&[("base.toml", &narrow)]);
    let (_, diagnostics) = compiler::compile(
        &model,
        &door_catalog(),
        Window::hours(at("2026-12-01T09:00:00+08:00"), 4, 4),
    );
    // On a 64 px panel: (64 - 16) / 160 = 0.3 s.
    assert!(
        diagnostics
            .iter()
            .any(|d| d.is_error() && d.message.contains("0.3 s, less than the 1.0 s")),
        "{diagnostics:#?}"
    );
}

/// The brightness windows of the first screen's rotation, in the screen's
/// local time: `("12-01 20:00", "12-02 01:00", 30)`.
fn brightness_windows(
    files: &[(&str, &str)],
    now: protocol::Timestamp,
    tz: chrono_tz::Tz,
) -> Vec<(String, String, u8)> {
    let (model, diagnostics) = compiler::parse(files);
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    let (compiled, diagnostics) =
        compiler::compile(&model, &door_catalog(), Window::hours(now, 48, 72));
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    let local = |t: protocol::Timestamp| {
        chrono::DateTime::from_timestamp_millis(t.0)
            .expect("instant")
            .with_timezone(&tz)
            .format("%m-%d %H:%M")
            .to_string()
    };
    compiled[0]
        .rotation
        .brightness
        .iter()
        .map(|w| (local(w.from), local(w.until), w.percent))
        .collect()
}

fn bw(from: &str, until: &str, percent: u8) -> (String, String, u8) {
    (from.to_owned(), until.to_owned(), percent)
}

#[test]
fn a_profile_brightness_becomes_windows_in_the_screen_zone_across_midnight() {
    let dimmed = BASE.replace(
        "scroll = true\n",
        "scroll = true\nbrightness = { day = 100, night = 30, night_hours = \"20:00-07:00\", off_hours = \"01:00-05:00\" }\n",
    );
    // Tuesday 2026-12-01 10:00 Shanghai; the rotation is valid for 72 h.
    let got = brightness_windows(
        &[("base.toml", &dimmed)],
        at("2026-12-01T10:00:00+08:00"),
        chrono_tz::Asia::Shanghai,
    );
    let mut expected = Vec::new();
    for (day, next) in [("12-01", "12-02"), ("12-02", "12-03"), ("12-03", "12-04")] {
        expected.push(bw(&format!("{day} 20:00"), &format!("{next} 01:00"), 30));
        expected.push(bw(&format!("{next} 01:00"), &format!("{next} 05:00"), 0));
        expected.push(bw(&format!("{next} 05:00"), &format!("{next} 07:00"), 30));
    }
    assert_eq!(got, expected);
    // Without a brightness the rotation carries no windows (and its JSON
    // no field: old agents see the same bytes as before).
    let (model, _) = compiler::parse(&[("base.toml", BASE)]);
    let (compiled, _) = compiler::compile(
        &model,
        &door_catalog(),
        Window::hours(at("2026-12-01T10:00:00+08:00"), 48, 72),
    );
    assert!(compiled[0].rotation.brightness.is_empty());
    let json = serde_json::to_string(&compiled[0].rotation).unwrap();
    assert!(!json.contains("brightness"), "{json}");
}

#[test]
fn a_screen_brightness_overrides_its_profile_and_follows_berlin_dst() {
    let files = BASE
        .replace(
            "scroll = true\n",
            "scroll = true\nbrightness = { night = 50, night_hours = \"22:00-06:00\" }\n",
        )
        .replace(
            "tags = [\"bank-door\"]\n",
            "tags = [\"bank-door\"]\ntimezone = \"Europe/Berlin\"\nbrightness = { day = 90, night = 20, night_hours = \"20:00-07:00\" }\n",
        );
    // Saturday 2026-03-28 12:00 CET; clocks go forward on Sunday at 02:00.
    let got = brightness_windows(
        &[("base.toml", &files)],
        at("2026-03-28T12:00:00+01:00"),
        chrono_tz::Europe::Berlin,
    );
    assert_eq!(
        &got[..4],
        &[
            bw("03-28 12:00", "03-28 20:00", 90),
            // Ten real hours: the night of the spring-forward loses one.
            bw("03-28 20:00", "03-29 07:00", 20),
            bw("03-29 07:00", "03-29 20:00", 90),
            bw("03-29 20:00", "03-30 07:00", 20),
        ]
    );
    let (model, _) = compiler::parse(&[("base.toml", &files)]);
    let (compiled, _) = compiler::compile(
        &model,
        &door_catalog(),
        Window::hours(at("2026-03-28T12:00:00+01:00"), 48, 72),
    );
    let night = &compiled[0].rotation.brightness[1];
    assert_eq!(night.until.0 - night.from.0, 10 * 3_600_000);
}

#[test]
fn brightness_mistakes_are_reported_at_once_with_their_place() {
    let files = BASE.replace(
        "scroll = true\n",
        "scroll = true\nbrightness = { day = 0, night = 130, night_hours = \"20:00-7\", off_hours = \"02:00-02:00\" }\n",
    ) + "\n[[screens]]\nid = \"door-3\"\nsite = \"branch\"\nprofile = \"door\"\nbrightness = { night = 30 }\n";
    let typo = "[[screens]]\nid = \"door-2\"\nsite = \"branch\"\nprofile = \"door\"\nbrightness = { night_hours = \"20:00-07:00\", dim = 3 }\n";
    let report = check(&[("base.toml", &files), ("typo.toml", typo)]);
    for expected in [
        "base.toml:12:22: error: profile `door`: brightness.day = 0 is not a brightness from 1 to 100 %",
        "to switch the panel off use off_hours",
        "base.toml:12:33: error: profile `door`: brightness.night = 130 is not a brightness from 1 to 100 %",
        "error: profile `door`: brightness.night_hours: `7` is not a time like `17:30`",
        "error: profile `door`: brightness.off_hours: `02:00-02:00` is empty",
        "typo.toml:5:45: error: unknown field `dim`, expected one of `day`, `night`, `night_hours`, `off_hours`",
        "base.toml:36:24: error: screen `door-3`: brightness.night is given without night_hours",
        "night_hours = \"20:00-07:00\"",
    ] {
        assert!(report.contains(expected), "{expected}\n---\n{report}");
    }
}

#[test]
fn off_hours_inside_opening_hours_of_a_screen_under_a_rule_are_an_error() {
    let rule = "\n[[rules]]\nid = \"gap\"\ntags = [\"bank-door\"]\nmax_gap_seconds = 60\n";
    let off_at_noon = BASE.replace(
        "scroll = true\n",
        "scroll = true\nbrightness = { off_hours = \"12:00-13:00\" }\n",
    ) + rule;
    let (model, diagnostics) = compiler::parse(&[("base.toml", &off_at_noon)]);
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    let now = at("2026-12-01T10:00:00+08:00");
    let (compiled, diagnostics) =
        compiler::compile(&model, &door_catalog(), Window::hours(now, 48, 72));
    assert!(compiled.is_empty(), "no rotation");
    let text: String = diagnostics.iter().map(|d| format!("{d}\n")).collect();
    assert!(
        text.contains("screen `door-1` is under a rule but its brightness off_hours (12:00–13:00) switch it off while site `branch` is open (e.g. 2026-12-01 12:00); no rotation"),
        "{text}"
    );
    // At night, outside opening hours, the same rule is content.
    let off_at_night = off_at_noon.replace("12:00-13:00", "01:00-05:00");
    let (model, _) = compiler::parse(&[("base.toml", &off_at_night)]);
    let (compiled, diagnostics) =
        compiler::compile(&model, &door_catalog(), Window::hours(now, 48, 72));
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{diagnostics:#?}"
    );
    assert_eq!(compiled[0].rotation.brightness.len(), 3);
    // A changed brightness recompiles the profile's screens.
    let (old, _) = compiler::parse(&[("base.toml", BASE)]);
    let changes = compiler::Changes::between(&old, &model);
    assert_eq!(changes.profiles, vec!["door".to_owned()]);
}

/// Issue 19, point 1: the mistakes a clerk makes in the web builder carry
/// a message key with values, so the UI can say them in Chinese; the
/// English message stays as it was.
#[test]
fn builder_mistakes_carry_a_message_key_with_values() {
    let builder = r#"
[[playlists]]
id = "mine"
items = [{ material = "poster" }]

[[schedules]]
id = "mine-schedule"
playlist = "mien"
tags = ["bank-door"]
hours = "08:00-2000"
dates = ["2026-13-01"]
priority = 20000
"#;
    let (_, diagnostics) = compiler::parse(&[("base.toml", BASE), ("ui-mine.toml", builder)]);
    let keyed: Vec<(String, Vec<(String, String)>)> = diagnostics
        .iter()
        .filter(|d| d.location.file == "ui-mine.toml")
        .map(|d| {
            let keyed = d.keyed.as_ref().unwrap_or_else(|| panic!("no key: {d}"));
            (
                keyed.key.clone(),
                keyed
                    .params
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        })
        .collect();
    let owner = |more: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> =
            [("owner", "mine-schedule"), ("owner_kind", "schedule")]
                .iter()
                .chain(more)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        params.sort();
        params
    };
    assert_eq!(
        keyed,
        vec![
            (
                "unknown_playlist".to_owned(),
                owner(&[("did_you_mean", "mine"), ("id", "mien")])
            ),
            (
                "hours_not_a_time".to_owned(),
                owner(&[("example", "17:30"), ("value", "2000")])
            ),
            (
                "dates_not_a_date".to_owned(),
                owner(&[("value", "2026-13-01")])
            ),
            (
                "priority_out_of_range".to_owned(),
                owner(&[("max", "10000"), ("priority", "20000")])
            ),
        ]
    );
    let hours = diagnostics
        .iter()
        .find(|d| {
            d.keyed
                .as_ref()
                .is_some_and(|k| k.key == "hours_not_a_time")
        })
        .unwrap();
    assert_eq!(
        hours.message,
        "schedule `mine-schedule`: `2000` is not a time like `17:30`"
    );
}
