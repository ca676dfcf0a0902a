//! A synthetic site shaped like a real deployment, for the compile benchmark
//! and scale tests: `screens` screens across `screens / 10` sites,
//! `screens / 5` distinct schedule entries (mixed days/hours/dates/cron)
//! targeting region tags or site lists so that each screen is matched by
//! about 20 of them, 3 rules, a few alerts, ~200 materials with renditions.
//!
//! Deterministic and pure: the same arguments give the same model. It is
//! not a fixture for behaviour tests (those use `playlists/`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledcast_protocol::v1 as protocol;

use crate::calendar::{DateRange, DaySet, TimeRange};
use crate::catalog::{Catalog, CatalogMaterial, MaterialKind, Rendition};
use crate::compile::Changes;
use crate::diagnostic::Location;
use crate::model::{
    Alert, ColorClass, Item, ItemSource, Model, Playlist, Profile, Query, Rule, Schedule, Screen,
    Settings, Site, Targets, When,
};

/// Schedules per region (each region = 10 sites = 100 screens).
const LAYERS: usize = 20;
const GROUPS: usize = 10;

fn location(what: &str) -> Location {
    Location::file_only(what)
}

fn digest(n: u64) -> protocol::Sha256 {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&(n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i as u64).to_be_bytes());
    }
    protocol::Sha256(out)
}

fn profiles() -> Vec<Profile> {
    let p = |id: &str, width, height, color, video, scroll, still| Profile {
        id: id.to_owned(),
        width,
        height,
        color,
        video,
        video_decoder: Default::default(),
        scroll,
        still,
        scroll_chars_per_second: 3.0,
        brightness: None,
        location: location("synthetic"),
    };
    vec![
        p("door-352x80", 352, 80, ColorClass::Mono, false, true, true),
        p(
            "counter-192x32",
            192,
            32,
            ColorClass::Dual,
            false,
            true,
            false,
        ),
        p("atm-128x64", 128, 64, ColorClass::Full, false, false, true),
        p(
            "lobby-1920x1080",
            1920,
            1080,
            ColorClass::Full,
            true,
            false,
            true,
        ),
        p(
            "hall-1920x360",
            1920,
            360,
            ColorClass::Full,
            true,
            true,
            true,
        ),
    ]
}

const KIND_TAGS: [&str; 5] = ["bank-door", "bank-counter", "atm", "bank-lobby", "hall"];

/// The catalog for [`model`]: standard warnings plus `materials` pack items.
pub fn catalog(model: &Model, now_ms: i64, materials: usize) -> Catalog {
    let hour = 3_600_000;
    let mut out = Vec::new();
    for i in 0..materials + 4 {
        let standard = i < 4;
        let kind = match i % 4 {
            0 | 1 => MaterialKind::Text,
            2 => MaterialKind::Poster,
            _ => MaterialKind::Video,
        };
        let kind = if standard && kind == MaterialKind::Video {
            MaterialKind::Poster
        } else {
            kind
        };
        let id = if standard {
            format!("std-{i}")
        } else {
            format!("m{i:04}")
        };
        let mut renditions = BTreeMap::new();
        for (pi, profile) in model.profiles.iter().enumerate() {
            let fits = match kind {
                MaterialKind::Poster => profile.still,
                MaterialKind::Video => profile.video,
                MaterialKind::Text => true,
            };
            if !fits {
                continue;
            }
            let strip =
                (kind == MaterialKind::Text && profile.scroll).then_some(400 + (i as u32 % 7) * 64);
            renditions.insert(
                profile.id.clone(),
                Rendition {
                    media: protocol::MediaRef {
                        sha256: digest((i * 16 + pi) as u64),
                        size_bytes: 1000 + i as u64,
                        mime: if kind == MaterialKind::Video {
                            "video/mp4"
                        } else {
                            "image/png"
                        }
                        .to_owned(),
                        width: strip.unwrap_or(profile.width),
                        height: profile.height,
                    },
                    strip_width_px: strip,
                    text: (kind == MaterialKind::Text).then_some(crate::catalog::TextMetrics {
                        glyph_px: crate::catalog::estimate_glyph_px(profile.height),
                        chars: 20,
                    }),
                    video_codec: (kind == MaterialKind::Video)
                        .then_some(crate::model::VideoCodec::H264),
                    problems: Vec::new(),
                },
            );
        }
        // Some pack items expire or start within the horizon.
        let (valid_from, valid_until) = match (standard, i % 10) {
            (true, _) => (None, None),
            (false, 3) => (
                Some(now_ms - 48 * hour),
                Some(now_ms + (6 + (i as i64 % 30)) * hour),
            ),
            (false, 7) => (Some(now_ms + (3 + (i as i64 % 20)) * hour), None),
            _ => (Some(now_ms - 72 * hour), None),
        };
        out.push(CatalogMaterial {
            id,
            kind,
            title: format!("material {i}"),
            tags: if standard {
                vec!["standard".into()]
            } else {
                vec!["pack".into(), format!("topic-{}", i % 8)]
            },
            category: Some(format!("topic-{}", i % 8)),
            source: Some("synthetic".into()),
            edition: None,
            refused: Default::default(),
            valid_from,
            valid_until,
            approved: i % 23 != 5,
            is_warning: standard || i % 5 != 0,
            added_at: now_ms - (i as i64) * 60_000,
            duration_ms: (kind == MaterialKind::Video).then_some(20_000 + (i as u64 % 5) * 5_000),
            renditions,
        });
    }
    Catalog::new(out)
}

/// The synthetic model with `screens` screens (a multiple of 100 works best);
/// `today` is the local date the horizon starts on.
pub fn model(screens: usize, today: NaiveDate) -> Model {
    let tz = chrono_tz::Asia::Shanghai;
    let site_count = screens.div_ceil(10).max(1);
    let regions = site_count.div_ceil(10).max(1);
    let sites: Vec<Site> = (0..site_count)
        .map(|s| Site {
            id: format!("site-{s:05}"),
            name: format!("branch {s}"),
            organisation: format!("bank {}", s % 7),
            timezone: tz,
            opening_hours: vec![
                (
                    DaySet(0x1f),
                    vec![TimeRange {
                        start_minute: 510,
                        end_minute: 1020,
                    }],
                ),
                (
                    DaySet(0x20),
                    vec![TimeRange {
                        start_minute: 540,
                        end_minute: 720,
                    }],
                ),
            ],
            location: location("synthetic"),
        })
        .collect();
    let profile_list = profiles();
    let mut screen_list: Vec<Screen> = (0..screens)
        .map(|i| {
            let site = i / 10;
            let kind = i % 5;
            Screen {
                id: protocol::ScreenId::new(&format!("s{i:06}"))
                    .unwrap_or_else(|_| unreachable!("synthetic ids are valid")),
                name: format!("screen {i}"),
                site,
                profile: kind,
                tags: vec![KIND_TAGS[kind].to_owned(), format!("region-{}", site / 10)],
                timezone: tz,
                brightness: None,
                location: location("synthetic"),
            }
        })
        .collect();
    for s in &mut screen_list {
        s.tags.sort();
    }
    screen_list.sort_by(|a, b| a.id.cmp(&b.id));

    // Playlists: warning, default, and LAYERS × GROUPS schedule playlists.
    let material = |n: usize| ItemSource::Material(format!("m{:04}", 4 + n % 200));
    let item = |source| Item {
        source,
        seconds: None,
        valid_from: None,
        valid_until: None,
        location: location("synthetic"),
    };
    let mut playlists = vec![
        Playlist {
            id: "standard-warnings".into(),
            name: "standard".into(),
            items: (0..4)
                .map(|i| item(ItemSource::Material(format!("std-{i}"))))
                .collect(),
            location: location("synthetic"),
        },
        Playlist {
            id: "default".into(),
            name: "default".into(),
            items: vec![
                item(ItemSource::Material("std-0".into())),
                item(ItemSource::Query(Query {
                    tags: vec!["pack".into()],
                    newest: Some(4),
                    ..Query::default()
                })),
            ],
            location: location("synthetic"),
        },
    ];
    for layer in 0..LAYERS {
        for group in 0..GROUPS {
            let n = layer * GROUPS + group;
            let mut items: Vec<Item> = (0..4).map(|k| item(material(n * 7 + k * 13))).collect();
            items.push(item(ItemSource::Query(Query {
                tags: vec!["pack".into(), format!("topic-{}", n % 8)],
                newest: Some(3),
                ..Query::default()
            })));
            if n.is_multiple_of(3) {
                items[1].seconds = Some(8);
            }
            playlists.push(Playlist {
                id: playlist_id(layer, group),
                name: format!("playlist {n}"),
                items,
                location: location("synthetic"),
            });
        }
    }
    let playlist_index = |id: &str| playlists.iter().position(|p| p.id == id).unwrap_or(0);

    // Schedules: screens/5 of them, LAYERS per region.
    let schedule_count = (screens / 5).max(1);
    let mut schedules = Vec::with_capacity(schedule_count);
    for j in 0..schedule_count {
        let region = j % regions;
        let layer = (j / regions) % LAYERS;
        let group = region % GROUPS;
        let targets = if j % 3 == 0 {
            let first = region * 10;
            Targets {
                sites: (first..(first + 10).min(site_count))
                    .map(|s| format!("site-{s:05}"))
                    .collect(),
                ..Targets::default()
            }
        } else {
            Targets {
                tags: vec![format!("region-{region}")],
                ..Targets::default()
            }
        };
        let start = (6 + (j % 12) as u32) * 60 + (j % 4) as u32 * 15;
        let when = match layer % 4 {
            0 => When::Calendar {
                days: DaySet(0x1f),
                dates: vec![],
                hours: vec![TimeRange {
                    start_minute: start,
                    end_minute: start + 120,
                }],
            },
            1 => When::Calendar {
                days: DaySet::ALL,
                dates: vec![],
                hours: vec![TimeRange {
                    start_minute: start,
                    end_minute: start + 240 + (j % 5) as u32 * 30,
                }],
            },
            2 => When::Calendar {
                days: DaySet::ALL,
                dates: vec![DateRange {
                    first: today,
                    last: today.succ_opt().unwrap_or(today),
                }],
                hours: vec![
                    TimeRange {
                        start_minute: start,
                        end_minute: start + 60,
                    },
                    TimeRange {
                        start_minute: start + 300,
                        end_minute: start + 330,
                    },
                ],
            },
            _ => When::Cron {
                schedule: Box::new(
                    crate::cron_text::parse_cron(&format!(
                        "0 {} {},{} * * {} *",
                        j % 60,
                        7 + j % 5,
                        13 + j % 6,
                        if j % 2 == 0 { "Mon-Fri" } else { "*" }
                    ))
                    .unwrap_or_else(|_| unreachable!("synthetic cron parses"))
                    .schedule,
                ),
                duration_seconds: 900 + (j % 4) as u32 * 300,
            },
        };
        schedules.push(Schedule {
            id: format!("sched-{j:05}"),
            playlist: playlist_index(&playlist_id(layer, group)),
            targets,
            when,
            priority: (layer % 7) as i32,
            location: location("synthetic"),
        });
    }
    let rules = vec![
        Rule {
            id: "doors".into(),
            targets: Targets {
                tags: vec!["bank-door".into()],
                ..Targets::default()
            },
            max_gap_seconds: Some(120),
            min_warning_share: Some(0.3),
            location: location("synthetic"),
        },
        Rule {
            id: "counters".into(),
            targets: Targets {
                tags: vec!["bank-counter".into()],
                ..Targets::default()
            },
            max_gap_seconds: Some(180),
            min_warning_share: None,
            location: location("synthetic"),
        },
        Rule {
            id: "lobbies".into(),
            targets: Targets {
                tags: vec!["bank-lobby".into(), "hall".into()],
                ..Targets::default()
            },
            max_gap_seconds: None,
            min_warning_share: Some(0.25),
            location: location("synthetic"),
        },
    ];
    let day_ms = |d: NaiveDate, hour: u32| crate::calendar::local_to_utc(tz, d, hour * 60);
    let alerts = vec![
        Alert {
            id: "alert-active".into(),
            playlist: 0,
            targets: Targets {
                tags: vec!["region-0".into()],
                ..Targets::default()
            },
            from: Some(day_ms(today, 10)),
            until: day_ms(today, 12),
            location: location("synthetic"),
        },
        Alert {
            id: "alert-expired".into(),
            playlist: 0,
            targets: Targets {
                tags: vec!["hall".into()],
                ..Targets::default()
            },
            from: None,
            until: day_ms(today, 0) - 86_400_000,
            location: location("synthetic"),
        },
        Alert {
            id: "alert-tomorrow".into(),
            playlist: 0,
            targets: Targets {
                tags: vec!["atm".into()],
                ..Targets::default()
            },
            from: Some(day_ms(today, 33)),
            until: day_ms(today, 35),
            location: location("synthetic"),
        },
    ];
    Model {
        settings: Settings {
            timezone: tz,
            default_playlist: Some(1),
            warning_playlist: Some(0),
            still_seconds: 10,
            scroll_chars_per_second: 3.0,
            location: location("synthetic"),
        },
        profiles: profile_list,
        sites,
        screens: screen_list,
        playlists,
        schedules,
        rules,
        alerts,
    }
}

fn playlist_id(layer: usize, group: usize) -> String {
    format!("pl-{layer:02}-{group}")
}

/// The benchmark's incremental change: playlist `pl-00-0` edited (its
/// items reordered and one duration changed). It is used by the schedules
/// of every tenth region, so it touches about 10 % of the screens.
pub fn edit_one_playlist(model: &Model) -> (Model, Changes) {
    let mut edited = model.clone();
    let id = playlist_id(0, 0);
    if let Some(p) = edited.playlists.iter_mut().find(|p| p.id == id) {
        p.items.reverse();
        p.items[0].seconds = Some(17);
    }
    (
        edited,
        Changes {
            playlists: vec![id],
            ..Changes::default()
        },
    )
}
