//! Library editions in the playlist language (`edition = "current"`), the
//! exact-millisecond expiry cut (inside a block, across a block boundary,
//! and in the fallback, which holds only warnings that never expire), and what a channel (the online-transfer feed)
//! carries at one instant.

mod common;

use common::at;
use ledcast_compiler::{
    self as compiler, Catalog, CatalogMaterial, MaterialKind, Rendition, Window,
};
use ledcast_protocol::v1 as protocol;

const SITE: &str = r#"
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

[[screens]]
id = "door-1"
site = "branch"
profile = "door"
tags = ["bank-door"]

[[playlists]]
id = "warnings"
items = [{ material = "warn" }]
"#;

fn material(id: &str, kind: MaterialKind, edition: Option<&str>) -> CatalogMaterial {
    let mut renditions = std::collections::BTreeMap::new();
    let mut digest = [0u8; 32];
    digest[..id.len().min(32)].copy_from_slice(&id.as_bytes()[..id.len().min(32)]);
    renditions.insert(
        "door".to_owned(),
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
        // like a pack material: the category's slug first, then its name
        tags: vec!["police".into(), "冒充公检法".into(), "county-pack".into()],
        category: Some("police".into()),
        source: edition.map(str::to_owned),
        edition: edition.map(str::to_owned),
        valid_from: None,
        valid_until: None,
        approved: true,
        is_warning: true,
        added_at: 0,
        duration_ms: None,
        renditions,
        refused: Default::default(),
    }
}

fn catalog(current: Option<&str>) -> Catalog {
    Catalog::new(vec![
        material("warn", MaterialKind::Text, None),
        material("w48-poster", MaterialKind::Poster, Some("gaogang-2026-W48")),
        material("w48-text", MaterialKind::Text, Some("gaogang-2026-W48")),
        material("w49-poster", MaterialKind::Poster, Some("gaogang-2026-W49")),
        material("w49-text", MaterialKind::Text, Some("gaogang-2026-W49")),
    ])
    .with_current_edition(current.map(str::to_owned))
}

const EDITION_LOOP: &str = r#"
[[playlists]]
id = "loop"
items = [{ edition = "current", category = "冒充公检法", kind = "poster" }]
"#;

fn played(files: &[(&str, &str)], catalog: &Catalog) -> (Vec<String>, Vec<compiler::Diagnostic>) {
    let (model, diagnostics) = compiler::parse(files);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let window = Window::hours(at("2026-12-01T09:00:00+08:00"), 48, 72);
    let (compiled, diagnostics) = compiler::compile(&model, catalog, window);
    let mut ids: Vec<String> = compiled[0]
        .rotation
        .blocks
        .iter()
        .flat_map(|b| &b.slots)
        .map(|s| s.material_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    (ids, diagnostics)
}

#[test]
fn current_edition_query_follows_the_catalogs_current_edition() {
    let files = [("site.toml", SITE), ("loop.toml", EDITION_LOOP)];
    let (w48, diagnostics) = played(&files, &catalog(Some("gaogang-2026-W48")));
    assert_eq!(w48, ["w48-poster"], "{diagnostics:?}");
    let (w49, _) = played(&files, &catalog(Some("gaogang-2026-W49")));
    assert_eq!(
        w49,
        ["w49-poster"],
        "approving W49 moves the screen to W49's posters at the next compile"
    );
    let (none, diagnostics) = played(&files, &catalog(None));
    assert_eq!(none, Vec::<String>::new(), "no edition current: nothing");
    assert!(
        diagnostics.iter().any(|d| d
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("no library edition is current"))),
        "{diagnostics:?}"
    );
}

#[test]
fn edition_misuse_is_reported_with_a_hint() {
    let pinned = r#"
[[playlists]]
id = "loop"
items = [
  { edition = "gaogang-2026-W48", kind = "poster" },
  { material = "warn", edition = "current" },
]
"#;
    let (_, diagnostics) = compiler::parse(&[("site.toml", SITE), ("loop.toml", pinned)]);
    let text: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    let all = text.join("\n");
    assert!(
        all.contains("loop.toml:5:3")
            && all.contains(r#"edition = "gaogang-2026-W48": only "current" is supported"#)
            && all.contains(r#"tags = ["edition:gaogang-2026-W48"]"#),
        "{all}"
    );
    assert!(
        all.contains("loop.toml:6:3") && all.contains("names a material and an edition"),
        "{all}"
    );
}

/// The material id playing at `t` on the first screen.
fn at_instant(rotation: &protocol::Rotation, t: i64) -> Option<String> {
    let position = rotation.position_at(protocol::Timestamp(t))?;
    rotation.slot(&position).map(|s| s.material_id.clone())
}

fn compile_one(files: &[(&str, &str)], catalog: &Catalog) -> protocol::Rotation {
    let (model, diagnostics) = compiler::parse(files);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let window = Window::hours(at("2026-12-01T09:00:00+08:00"), 48, 72);
    let (compiled, diagnostics) = compiler::compile(&model, catalog, window);
    assert!(
        diagnostics
            .iter()
            .all(|d| d.severity != compiler::Severity::Error),
        "{diagnostics:?}"
    );
    compiled.into_iter().next().expect("a rotation").rotation
}

/// Asserts `id` plays in the minute before `cut` and never from `cut` to
/// `cut + 10 min` (sampled every 250 ms, and at `cut` itself).
fn assert_cut_at(rotation: &protocol::Rotation, id: &str, cut: i64) {
    let before = (cut - 60_000..cut)
        .step_by(250)
        .chain([cut - 1])
        .any(|t| at_instant(rotation, t).as_deref() == Some(id));
    assert!(before, "{id} plays in the minute before its valid_until");
    for t in (cut..cut + 600_000).step_by(250) {
        assert_ne!(
            at_instant(rotation, t).as_deref(),
            Some(id),
            "{id} still shown at {t} (valid_until {cut})"
        );
    }
    for b in &rotation.blocks {
        if b.slots.iter().any(|s| s.material_id == id) {
            assert!(b.until.0 <= cut, "a block with {id} runs past {cut}");
        }
    }
}

#[test]
fn a_material_is_cut_at_the_exact_millisecond_inside_a_block_and_across_a_boundary() {
    let files = [
        ("site.toml", SITE),
        (
            "loop.toml",
            r#"
[[playlists]]
id = "loop"
items = [{ material = "mid" }, { material = "edge" }, { material = "warn", seconds = 3 }]

[[playlists]]
id = "evening"
items = [{ material = "mid" }, { material = "edge" }, { material = "warn", seconds = 3 }]

[[schedules]]
id = "evening"
playlist = "evening"
tags = ["bank-door"]
hours = "18:00-23:00"
"#,
        ),
    ];
    // `mid` plays in the default block, then across the 18:00 boundary into
    // the evening block, and ends at 18:30:00.001 inside it; `edge` ends
    // exactly at the 18:00 boundary.
    let mid_cut = at("2026-12-01T18:30:00.001+08:00").0;
    let edge_cut = at("2026-12-01T18:00:00+08:00").0;
    let mut mid = material("mid", MaterialKind::Poster, None);
    mid.valid_until = Some(mid_cut);
    let mut edge = material("edge", MaterialKind::Poster, None);
    edge.valid_until = Some(edge_cut);
    let catalog = Catalog::new(vec![material("warn", MaterialKind::Text, None), mid, edge]);
    let rotation = compile_one(&files, &catalog);
    let boundary = edge_cut;
    assert!(
        rotation.blocks.iter().any(|b| b.from.0 == boundary),
        "a block starts at 18:00"
    );
    let plays_mid_after_boundary = (boundary..mid_cut)
        .step_by(500)
        .any(|t| at_instant(&rotation, t).as_deref() == Some("mid"));
    assert!(
        plays_mid_after_boundary,
        "mid continues in the evening block"
    );
    assert_cut_at(&rotation, "mid", mid_cut);
    assert_cut_at(&rotation, "edge", edge_cut);
}

#[test]
fn the_fallback_never_carries_a_warning_that_expires_before_the_rotation() {
    let site = SITE.replace(
        r#"items = [{ material = "warn" }]"#,
        r#"items = [{ material = "warn" }, { material = "short-warn" }, { material = "long-warn" }]"#,
    );
    let files = [
        ("site.toml", site.as_str()),
        (
            "loop.toml",
            r#"
[[playlists]]
id = "loop"
items = [{ material = "warn" }]
"#,
        ),
    ];
    let mut short = material("short-warn", MaterialKind::Text, None);
    // valid past the 48 h horizon but not until the rotation expires (72 h)
    let short_cut = at("2026-12-03T21:00:00.500+08:00").0;
    short.valid_until = Some(short_cut);
    // valid a month past the rotation's expiry: an agent offline for longer
    // keeps playing the fallback, and a slot carries no validity
    let mut long = material("long-warn", MaterialKind::Text, None);
    long.valid_until = Some(at("2027-01-01T00:00:00+08:00").0);
    let catalog = Catalog::new(vec![
        material("warn", MaterialKind::Text, None),
        short,
        long,
    ]);
    let rotation = compile_one(&files, &catalog);
    assert!(
        rotation
            .fallback
            .iter()
            .all(|s| s.material_id != "short-warn" && s.material_id != "long-warn"),
        "the fallback plays after the horizon and, offline, after the rotation expires: only warnings that never expire"
    );
    assert!(rotation.fallback.iter().any(|s| s.material_id == "warn"));
    let horizon_end = rotation.blocks.last().expect("blocks").until.0;
    for t in (horizon_end..rotation.expires_at.0).step_by(60_000) {
        assert_ne!(at_instant(&rotation, t).as_deref(), Some("short-warn"));
    }
}

#[test]
fn a_channel_carries_its_active_schedules_live_materials_only() {
    let files = [
        ("site.toml", SITE),
        (
            "transfer.toml",
            r#"
[[playlists]]
id = "loop"
items = [{ material = "warn" }]

[[playlists]]
id = "transfer"
items = [{ edition = "current", kind = "text" }, { material = "warn" }]

[[playlists]]
id = "transfer-night"
items = [{ material = "night" }]

[[schedules]]
id = "transfer-day"
playlist = "transfer"
tags = ["online-transfer"]
hours = "08:00-20:00"
priority = 10

[[schedules]]
id = "transfer-all-day"
playlist = "transfer-night"
tags = ["online-transfer"]
priority = 1
"#,
        ),
    ];
    let (model, diagnostics) = compiler::parse(&files);
    assert!(
        diagnostics.is_empty(),
        "a channel tag needs no screen: {diagnostics:?}"
    );
    let mut catalog = catalog(Some("gaogang-2026-W49")).materials().to_vec();
    let cut = at("2026-12-01T12:00:00+08:00").0;
    catalog
        .iter_mut()
        .find(|m| m.id == "w49-text")
        .expect("w49-text")
        .valid_until = Some(cut);
    let mut night = material("night", MaterialKind::Text, None);
    night.approved = false;
    catalog.push(night);
    let catalog = Catalog::new(catalog).with_current_edition(Some("gaogang-2026-W49".into()));

    let noon_minus = compiler::channel_at(&model, &catalog, "online-transfer", cut - 1);
    assert_eq!(noon_minus.schedule.as_deref(), Some("transfer-day"));
    assert_eq!(
        noon_minus.materials,
        ["w49-text", "warn"],
        "the current edition's text, not W48's"
    );
    let noon = compiler::channel_at(&model, &catalog, "online-transfer", cut);
    assert_eq!(noon.materials, ["warn"], "gone at its valid_until exactly");
    let night = compiler::channel_at(
        &model,
        &catalog,
        "online-transfer",
        at("2026-12-01T21:00:00+08:00").0,
    );
    assert_eq!(night.schedule.as_deref(), Some("transfer-all-day"));
    assert!(night.materials.is_empty(), "an unapproved text never shows");
    let other = compiler::channel_at(&model, &catalog, "atm-screen-feed", cut);
    assert_eq!(other, compiler::ChannelNow::default());
}
