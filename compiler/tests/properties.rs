//! Property tests over random small sites (two time zones, one with DST,
//! calendar, date and cron schedules, rules, alerts, materials entering and
//! leaving validity): every rotation passes `check_structure`, every instant
//! maps to at most one block or else the fallback, every rule holds in every
//! opening window, nothing plays outside its validity or unapproved,
//! compilation is deterministic, and incremental equals full.

mod common;

use std::collections::BTreeMap;

use common::at;
use ledcast_compiler::calendar::{expand_calendar, CalendarSpec};
use ledcast_compiler::{
    self as compiler, verify, Catalog, CatalogMaterial, Changes, MaterialKind, Model, Rendition,
    Window,
};
use ledcast_protocol::v1 as protocol;
use proptest::prelude::*;

const PROFILES: [(&str, u32, u32, &str, bool, bool, bool); 3] = [
    ("strip", 352, 80, "mono", false, true, true),
    ("scroller", 192, 32, "dual", false, true, false),
    ("lobby", 1920, 1080, "full", true, false, true),
];

#[derive(Clone, Debug)]
struct MaterialSpec {
    kind: u8,
    warning: bool,
    approved: bool,
    valid_from_h: Option<i64>,
    valid_until_h: Option<i64>,
    strip_px: u32,
    seconds: u32,
}

#[derive(Clone, Debug)]
enum ItemSpec {
    Material(usize, Option<u32>),
    Query(usize, u32),
}

#[derive(Clone, Debug)]
struct ScheduleSpec {
    playlist: usize,
    target: (u8, usize),
    kind: u8,
    days: u8,
    start_half_hours: u32,
    length_minutes: u32,
    day_offset: i64,
    priority: i32,
}

#[derive(Clone, Debug)]
struct RuleSpec {
    target: (u8, usize),
    gap: Option<u32>,
    share: Option<f64>,
}

#[derive(Clone, Debug)]
struct AlertSpec {
    playlist: usize,
    tag: usize,
    from_h: i64,
    length_h: i64,
}

#[derive(Clone, Debug)]
struct SiteSpec {
    base: usize,
    now_minutes: i64,
    screens: Vec<(usize, usize, u8)>,
    materials: Vec<MaterialSpec>,
    playlists: Vec<Vec<ItemSpec>>,
    schedules: Vec<ScheduleSpec>,
    rules: Vec<RuleSpec>,
    alerts: Vec<AlertSpec>,
}

const BASES: [&str; 3] = [
    "2026-03-27T10:00:00Z",
    "2026-10-23T10:00:00Z",
    "2026-12-30T10:00:00Z",
];

fn material_spec() -> impl Strategy<Value = MaterialSpec> {
    (
        0u8..3,
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.9),
        prop::option::of(-30i64..40),
        prop::option::of(-10i64..60),
        50u32..700,
        5u32..40,
    )
        .prop_map(
            |(kind, warning, approved, valid_from_h, valid_until_h, strip_px, seconds)| {
                MaterialSpec {
                    kind,
                    warning,
                    approved,
                    valid_from_h,
                    valid_until_h,
                    strip_px,
                    seconds,
                }
            },
        )
}

fn item_spec() -> impl Strategy<Value = ItemSpec> {
    prop_oneof![
        3 => (0usize..8, prop::option::of(3u32..90)).prop_map(|(m, s)| ItemSpec::Material(m, s)),
        1 => (0usize..2, 1u32..4).prop_map(|(q, n)| ItemSpec::Query(q, n)),
    ]
}

fn target() -> impl Strategy<Value = (u8, usize)> {
    (0u8..3, 0usize..3)
}

fn site_spec() -> impl Strategy<Value = SiteSpec> {
    (
        0usize..3,
        0i64..(48 * 60 / 7),
        prop::collection::vec((0usize..3, 0usize..2, 0u8..8), 1..6),
        prop::collection::vec(material_spec(), 8),
        prop::collection::vec(prop::collection::vec(item_spec(), 1..5), 4),
        prop::collection::vec(
            (
                0usize..4,
                target(),
                0u8..3,
                1u8..128,
                0u32..48,
                30u32..900,
                -1i64..3,
                0i32..4,
            )
                .prop_map(
                    |(
                        playlist,
                        target,
                        kind,
                        days,
                        start_half_hours,
                        length_minutes,
                        day_offset,
                        priority,
                    )| ScheduleSpec {
                        playlist,
                        target,
                        kind,
                        days,
                        start_half_hours,
                        length_minutes,
                        day_offset,
                        priority,
                    },
                ),
            0..7,
        ),
        prop::collection::vec(
            (
                target(),
                prop::option::of(prop::sample::select(vec![60u32, 120, 300])),
                prop::option::of(prop::sample::select(vec![0.2f64, 0.3, 0.5])),
            )
                .prop_map(|(target, gap, share)| RuleSpec {
                    target,
                    gap: gap.or(if share.is_none() { Some(90) } else { None }),
                    share,
                }),
            0..3,
        ),
        prop::collection::vec(
            (0usize..4, 0usize..3, -5i64..40, 1i64..10).prop_map(
                |(playlist, tag, from_h, length_h)| AlertSpec {
                    playlist,
                    tag,
                    from_h,
                    length_h,
                },
            ),
            0..2,
        ),
    )
        .prop_map(
            |(base, now_steps, screens, materials, playlists, schedules, rules, alerts)| SiteSpec {
                base,
                now_minutes: now_steps * 7,
                screens,
                materials,
                playlists,
                schedules,
                rules,
                alerts,
            },
        )
}

fn now_of(spec: &SiteSpec) -> protocol::Timestamp {
    at(BASES[spec.base]).plus_ms(spec.now_minutes * 60_000)
}

fn iso(t: protocol::Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .expect("instant")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn targets(t: (u8, usize), spec: &SiteSpec) -> String {
    match t.0 {
        0 => format!("tags = [\"t{}\"]", t.1),
        1 => format!("sites = [\"{}\"]", ["sh", "be"][t.1 % 2]),
        _ => format!("screens = [\"s{}\"]", t.1 % spec.screens.len()),
    }
}

fn toml_text(spec: &SiteSpec) -> String {
    let mut out =
        String::from("[settings]\ndefault_playlist = \"p0\"\nwarning_playlist = \"warnings\"\n\n");
    for (id, w, h, color, video, scroll, still) in PROFILES {
        out += &format!("[[profiles]]\nid = \"{id}\"\nwidth = {w}\nheight = {h}\ncolor = \"{color}\"\nvideo = {video}\nscroll = {scroll}\nstill = {still}\n\n");
    }
    out += "[[sites]]\nid = \"sh\"\nopening_hours = { \"mon-fri\" = \"08:30-17:00\", \"sat\" = \"09:00-12:00\" }\n\n";
    out += "[[sites]]\nid = \"be\"\ntimezone = \"Europe/Berlin\"\nopening_hours = { \"mon-sun\" = \"09:00-12:30, 13:00-18:00\" }\n\n";
    for (i, (profile, site, tags)) in spec.screens.iter().enumerate() {
        let tags: Vec<String> = (0..3)
            .filter(|b| tags & (1 << b) != 0)
            .map(|b| format!("\"t{b}\""))
            .collect();
        out += &format!(
            "[[screens]]\nid = \"s{i}\"\nsite = \"{}\"\nprofile = \"{}\"\ntags = [{}]\n\n",
            ["sh", "be"][*site],
            PROFILES[*profile].0,
            tags.join(", ")
        );
    }
    out += "[[playlists]]\nid = \"warnings\"\nitems = [{ material = \"w0\" }, { material = \"w1\" }]\n\n";
    for (p, items) in spec.playlists.iter().enumerate() {
        let items: Vec<String> = items
            .iter()
            .map(|i| match i {
                ItemSpec::Material(m, Some(s)) => {
                    format!("{{ material = \"m{m}\", seconds = {s} }}")
                }
                ItemSpec::Material(m, None) => format!("{{ material = \"m{m}\" }}"),
                ItemSpec::Query(q, n) => format!("{{ tags = [\"q{q}\"], newest = {n} }}"),
            })
            .collect();
        out += &format!(
            "[[playlists]]\nid = \"p{p}\"\nitems = [{}]\n\n",
            items.join(", ")
        );
    }
    let now = now_of(spec);
    for (k, s) in spec.schedules.iter().enumerate() {
        out += &format!(
            "[[schedules]]\nid = \"sched{k}\"\nplaylist = \"p{}\"\n{}\npriority = {}\n",
            s.playlist,
            targets(s.target, spec),
            s.priority
        );
        let start = s.start_half_hours * 30;
        let end = start + s.length_minutes;
        match s.kind {
            2 => {
                out += &format!(
                    "cron = \"0 {} {} * * * *\"\nduration_seconds = {}\n",
                    start % 60,
                    start / 60,
                    s.length_minutes * 60
                )
            }
            kind => {
                let days: Vec<&str> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| s.days & (1 << b) != 0)
                    .map(|(_, d)| *d)
                    .collect();
                out += &format!("days = \"{}\"\n", days.join(","));
                let overnight = end > 1440;
                out += &format!(
                    "hours = \"{:02}:{:02}-{:02}:{:02}\"\novernight = {overnight}\n",
                    start / 60,
                    start % 60,
                    (end % 1440) / 60,
                    end % 60
                );
                if kind == 1 {
                    let day =
                        chrono::DateTime::from_timestamp_millis(now.0 + s.day_offset * 86_400_000)
                            .expect("day")
                            .date_naive();
                    out += &format!("dates = [\"{day}\"]\n");
                }
            }
        }
        out += "\n";
    }
    for (k, r) in spec.rules.iter().enumerate() {
        out += &format!("[[rules]]\nid = \"rule{k}\"\n{}\n", targets(r.target, spec));
        if let Some(g) = r.gap {
            out += &format!("max_gap_seconds = {g}\n");
        }
        if let Some(s) = r.share {
            out += &format!("min_warning_share = {s}\n");
        }
        out += "\n";
    }
    for (k, a) in spec.alerts.iter().enumerate() {
        let from = now.plus_ms(a.from_h * 3_600_000);
        let until = from.plus_ms(a.length_h * 3_600_000);
        out += &format!("[[alerts]]\nid = \"alert{k}\"\nplaylist = \"p{}\"\ntags = [\"t{}\"]\nfrom = {}\nuntil = {}\n\n", a.playlist, a.tag, iso(from), iso(until));
    }
    out
}

fn catalog(spec: &SiteSpec) -> Catalog {
    let now = now_of(spec).0;
    let hour = 3_600_000;
    let mut materials = Vec::new();
    let mut make = |id: String,
                    kind: MaterialKind,
                    warning: bool,
                    approved: bool,
                    from: Option<i64>,
                    until: Option<i64>,
                    strip: u32,
                    seconds: u32,
                    tags: Vec<String>,
                    n: usize| {
        let mut renditions = BTreeMap::new();
        for (pi, (pid, w, h, _, video, scroll, still)) in PROFILES.iter().enumerate() {
            let fits = match kind {
                MaterialKind::Poster => *still,
                MaterialKind::Video => *video,
                MaterialKind::Text => true,
            };
            if fits {
                let mut digest = [0u8; 32];
                digest[0] = n as u8;
                digest[1] = pi as u8;
                renditions.insert(
                    (*pid).to_owned(),
                    Rendition {
                        media: protocol::MediaRef {
                            sha256: protocol::Sha256(digest),
                            size_bytes: 100,
                            mime: "image/png".into(),
                            width: *w,
                            height: *h,
                        },
                        strip_width_px: (kind == MaterialKind::Text && *scroll).then_some(strip),
                        text: (kind == MaterialKind::Text).then_some(
                            ledcast_compiler::TextMetrics {
                                glyph_px: 16,
                                chars: 10,
                            },
                        ),
                        video_codec: None,
                        problems: Vec::new(),
                    },
                );
            }
        }
        materials.push(CatalogMaterial {
            id,
            kind,
            title: String::new(),
            tags,
            category: None,
            source: None,
            edition: None,
            valid_from: from,
            valid_until: until,
            approved,
            is_warning: warning,
            added_at: n as i64,
            duration_ms: (kind == MaterialKind::Video).then_some(u64::from(seconds) * 1000),
            renditions,
            refused: Default::default(),
        });
    };
    make(
        "w0".into(),
        MaterialKind::Text,
        true,
        true,
        None,
        None,
        200,
        0,
        vec![],
        100,
    );
    make(
        "w1".into(),
        MaterialKind::Poster,
        true,
        true,
        None,
        None,
        0,
        0,
        vec![],
        101,
    );
    for (i, m) in spec.materials.iter().enumerate() {
        let kind = [
            MaterialKind::Poster,
            MaterialKind::Video,
            MaterialKind::Text,
        ][m.kind as usize];
        let from = m.valid_from_h.map(|h| now + h * hour + 17 * 60_000);
        let until = m
            .valid_until_h
            .map(|h| now + h * hour + 5 * 60_000)
            .filter(|u| from.is_none_or(|f| f < *u));
        make(
            format!("m{i}"),
            kind,
            m.warning,
            m.approved,
            from,
            until,
            m.strip_px,
            m.seconds,
            vec![format!("q{}", i % 2)],
            i,
        );
    }
    Catalog::new(materials)
}

fn build(spec: &SiteSpec) -> (Model, Catalog) {
    let text = toml_text(spec);
    let (model, diagnostics) = compiler::parse(&[("site.toml", &text)]);
    assert!(
        diagnostics.iter().all(|d| !d.is_error()),
        "{text}\n{diagnostics:#?}"
    );
    (model, catalog(spec))
}

fn window(spec: &SiteSpec) -> Window {
    Window::hours(now_of(spec), 48, 72)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn rotations_are_valid_compliant_and_honest(spec in site_spec()) {
        let (model, catalog) = build(&spec);
        let w = window(&spec);
        let (compiled, _) = compiler::compile(&model, &catalog, w);
        let end = w.now.0 + w.horizon_ms;
        for c in &compiled {
            let r = &c.rotation;
            prop_assert!(protocol::check_structure(r).is_ok(), "{:?}", protocol::check_structure(r));
            prop_assert!(!r.fallback.is_empty());
            prop_assert!(r.fallback.iter().all(|s| s.is_warning));
            // At most one block at any instant (blocks are sorted and disjoint),
            // all inside the horizon; gaps play the (non-empty) fallback.
            for b in &r.blocks {
                prop_assert!(w.now <= b.from && b.until.0 <= end);
            }
            for pair in r.blocks.windows(2) {
                prop_assert!(pair[0].until <= pair[1].from);
            }
            // Nothing unapproved or outside its validity.
            for b in &r.blocks {
                for s in &b.slots {
                    let m = catalog.get(&s.material_id).expect("material exists");
                    prop_assert!(m.approved);
                    prop_assert!(m.valid_from.is_none_or(|f| f <= b.from.0), "{} before valid_from", m.id);
                    prop_assert!(m.valid_until.is_none_or(|u| b.until.0 <= u), "{} after valid_until", m.id);
                }
            }
            // Every rule holds in every opening window.
            let screen = model.screen(r.screen_id.as_str()).expect("screen");
            let site = &model.sites[screen.site];
            let rules: Vec<_> = model.rules.iter().filter(|rule| rule.targets.matches(screen, &site.id)).collect();
            if rules.is_empty() {
                continue;
            }
            let mut windows = Vec::new();
            for (days, hours) in &site.opening_hours {
                windows.extend(expand_calendar(CalendarSpec { days: *days, dates: &[], hours }, screen.timezone, w.now.0, end));
            }
            for (from, until) in compiler::calendar::merge(windows) {
                let air = verify::airtime(r, from, until);
                prop_assert_eq!(air.blank_ms, 0);
                for rule in &rules {
                    if let Some(gap) = rule.max_gap_seconds {
                        prop_assert!(air.longest_gap_ms <= i64::from(gap) * 1000, "{}: gap {} > {} s in {}..{}", screen.id, air.longest_gap_ms, gap, from, until);
                    }
                    if let Some(share) = rule.min_warning_share {
                        prop_assert!(air.warning_share() + 1e-9 >= share, "{}: share {} < {}", screen.id, air.warning_share(), share);
                    }
                }
            }
        }
        // Deterministic.
        let (again, _) = compiler::compile(&model, &catalog, w);
        prop_assert_eq!(&compiled, &again);
    }

    #[test]
    fn incremental_equals_full(spec in site_spec(), change in 0u8..5, pick in 0usize..8) {
        let (old_model, catalog) = build(&spec);
        let w = window(&spec);
        let (mut previous, _) = compiler::compile(&old_model, &catalog, w);
        let mut edited = spec.clone();
        let mut changes = Changes::default();
        match change {
            0 => {
                let p = pick % 4;
                edited.playlists[p].reverse();
                edited.playlists[p].push(ItemSpec::Material(pick, Some(11)));
                changes.playlists.push(format!("p{p}"));
            }
            1 if !spec.schedules.is_empty() => {
                let k = pick % spec.schedules.len();
                edited.schedules[k].priority += 2;
                edited.schedules[k].start_half_hours = (edited.schedules[k].start_half_hours + 3) % 48;
                changes.schedules.push(format!("sched{k}"));
            }
            2 if !spec.rules.is_empty() => {
                let k = pick % spec.rules.len();
                edited.rules[k].gap = Some(45);
                changes.rules.push(format!("rule{k}"));
            }
            3 => {
                edited.materials[pick].approved = !edited.materials[pick].approved;
                edited.materials[pick].valid_until_h = Some(7);
                changes.materials.push(format!("m{pick}"));
            }
            _ => {
                let k = pick % spec.screens.len();
                edited.screens[k].2 ^= 0b101;
                changes.screens.push(format!("s{k}"));
            }
        }
        let (new_model, new_catalog) = build(&edited);
        let (full, _) = compiler::compile(&new_model, &new_catalog, w);
        compiler::recompile(&mut previous, &old_model, &new_model, &new_catalog, w, &changes);
        prop_assert_eq!(previous, full);
    }
}
