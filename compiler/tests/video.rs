//! Videos meet each profile's player box (issue 22, item 2): a codec or a
//! picture size the box cannot decode is left out on that profile with a
//! diagnostic that names the screens and what the box decodes (an error
//! when a playlist names the video, a warning when a query found it), and
//! no rotation there carries it. Profiles say what their box decodes with
//! `video_codecs`, `video_max_width` and `video_max_height` (default
//! 1920×1080 H.264).

mod common;

use std::collections::BTreeMap;

use common::at;
use ledcast_compiler::model::VideoCodec;
use ledcast_compiler::{
    self as compiler, Catalog, CatalogMaterial, Diagnostic, MaterialKind, Rendition, Window,
};
use ledcast_protocol::v1 as protocol;

/// A service hall with a small video box (default decoder) and a lobby
/// player that decodes H.265 up to 4K.
const SITE: &str = r#"
[settings]
default_playlist = "loop"

[[profiles]]
id = "hall-box"
width = 192
height = 96
color = "full"
video = true

[[profiles]]
id = "lobby"
width = 1920
height = 1080
color = "full"
video = true
video_codecs = ["h264", "h265"]
video_max_width = 3840
video_max_height = 2160

[[sites]]
id = "hall"
opening_hours = { "mon-sun" = "08:00-18:00" }

[[screens]]
id = "hall-1"
site = "hall"
profile = "hall-box"

[[screens]]
id = "lobby-1"
site = "hall"
profile = "lobby"
"#;

fn material(
    id: &str,
    kind: MaterialKind,
    size: (u32, u32),
    codec: Option<VideoCodec>,
) -> CatalogMaterial {
    let mut digest = [0u8; 32];
    digest[..id.len()].copy_from_slice(id.as_bytes());
    let renditions: BTreeMap<String, Rendition> = ["hall-box", "lobby"]
        .iter()
        .map(|profile| {
            (
                (*profile).to_owned(),
                Rendition {
                    media: protocol::MediaRef {
                        sha256: protocol::Sha256(digest),
                        size_bytes: 100,
                        mime: if kind == MaterialKind::Video {
                            "video/mp4".into()
                        } else {
                            "image/png".into()
                        },
                        width: size.0,
                        height: size.1,
                    },
                    strip_width_px: None,
                    text: None,
                    video_codec: codec,
                    problems: Vec::new(),
                },
            )
        })
        .collect();
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
        is_warning: true,
        added_at: 0,
        duration_ms: (kind == MaterialKind::Video).then_some(20_000),
        renditions,
        refused: Default::default(),
    }
}

/// Compiles `SITE` with `loop` = `items` over `materials`: the diagnostics
/// and, per screen, the materials its rotation plays.
fn compile(
    items: &str,
    materials: Vec<CatalogMaterial>,
) -> (Vec<Diagnostic>, BTreeMap<String, Vec<String>>) {
    let playlist = format!("[[playlists]]\nid = \"loop\"\nitems = {items}\n");
    let (model, parse_diagnostics) =
        compiler::parse(&[("site.toml", SITE), ("loop.toml", &playlist)]);
    assert!(parse_diagnostics.is_empty(), "{parse_diagnostics:#?}");
    let mut catalog = vec![material("poster", MaterialKind::Poster, (192, 96), None)];
    catalog.extend(materials);
    let (compiled, diagnostics) = compiler::compile(
        &model,
        &Catalog::new(catalog),
        Window::hours(at("2026-12-01T09:00:00+08:00"), 4, 4),
    );
    let played = compiled
        .iter()
        .map(|c| {
            let mut ids: Vec<String> = c
                .rotation
                .blocks
                .iter()
                .flat_map(|b| b.slots.iter().map(|s| s.material_id.clone()))
                .collect();
            ids.dedup();
            (c.rotation.screen_id.as_str().to_owned(), ids)
        })
        .collect();
    (diagnostics, played)
}

fn about<'a>(diagnostics: &'a [Diagnostic], material: &str) -> Vec<&'a Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.message.contains(&format!("`{material}`")))
        .collect()
}

/// The issue's case: a 1920×1080 H.265 clip scheduled to a 192×96 hall
/// box whose player decodes only H.264.
#[test]
fn an_h265_clip_named_for_a_box_that_decodes_only_h264_is_an_error_and_left_out_there() {
    let clip = material(
        "clip",
        MaterialKind::Video,
        (1920, 1080),
        Some(VideoCodec::H265),
    );
    let (diagnostics, played) = compile(
        r#"[{ material = "clip" }, { material = "poster" }]"#,
        vec![clip],
    );
    let found = about(&diagnostics, "clip");
    assert_eq!(found.len(), 1, "{diagnostics:#?}");
    let d = found[0];
    assert!(d.is_error(), "{d}");
    assert_eq!(
        d.message,
        "playlist `loop`: video `clip` cannot be played on profile `hall-box` (screens hall-1): \
         it is H.265 video and the player box decodes only H.264; it is left out there"
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("re-export it as H.264 of at most 1920×1080 and upload it again, or schedule it only on screens whose player box decodes it")
    );
    let keyed = d.keyed.as_ref().expect("a message key for the catalogues");
    assert_eq!(keyed.key, "video_not_decodable");
    assert_eq!(keyed.params["why_key"], "video_codec");
    assert_eq!(keyed.params["screens"], "hall-1");
    assert_eq!(played["hall-1"], ["poster"], "the hall box never gets it");
    assert!(
        played["lobby-1"].contains(&"clip".to_owned()),
        "the lobby player decodes H.265: {played:?}"
    );
}

/// A 4K H.264 clip is too large for the default box; a query that finds it
/// warns (the playlist still applies) and leaves it out there; a portrait
/// 1080×1920 clip fits a 1920×1080 decoder either way round.
#[test]
fn a_clip_larger_than_the_box_decodes_is_left_out_and_a_query_warns() {
    let big = material(
        "big",
        MaterialKind::Video,
        (3840, 2160),
        Some(VideoCodec::H264),
    );
    let portrait = material(
        "portrait",
        MaterialKind::Video,
        (1080, 1920),
        Some(VideoCodec::H264),
    );
    let (diagnostics, played) = compile(
        r#"[{ kind = "video" }, { material = "poster" }]"#,
        vec![big, portrait],
    );
    let found = about(&diagnostics, "big");
    assert_eq!(found.len(), 1, "{diagnostics:#?}");
    assert!(!found[0].is_error(), "a query's find is a warning");
    assert!(
        found[0].message.contains(
            "video `big` cannot be played on profile `hall-box` (screens hall-1): \
             it is 3840×2160 pixels and the player box decodes at most 1920×1080"
        ),
        "{}",
        found[0]
    );
    assert_eq!(
        found[0].keyed.as_ref().unwrap().params["why_key"],
        "video_too_large"
    );
    assert!(
        about(&diagnostics, "portrait").is_empty(),
        "{diagnostics:#?}"
    );
    assert!(!played["hall-1"].contains(&"big".to_owned()), "{played:?}");
    assert!(played["hall-1"].contains(&"portrait".to_owned()));
    assert!(played["lobby-1"].contains(&"big".to_owned()));
}

/// What a profile's box decodes is checked where it is written.
#[test]
fn a_profile_says_what_its_player_box_decodes_or_is_told_why_not() {
    let profile = |extra: &str| {
        format!("[[profiles]]\nid = \"p\"\nwidth = 192\nheight = 96\ncolor = \"full\"\n{extra}")
    };
    let messages = |extra: &str| -> Vec<String> {
        compiler::parse(&[("p.toml", &profile(extra))])
            .1
            .iter()
            .map(|d| d.to_string())
            .collect()
    };
    let (model, diagnostics) = compiler::parse(&[(
        "p.toml",
        &profile("video = true\nvideo_codecs = [\"h265\"]\nvideo_max_width = 1280\nvideo_max_height = 720\n"),
    )]);
    assert!(
        diagnostics
            .iter()
            .all(|d| !d.message.contains("profile `p`")),
        "{diagnostics:#?}"
    );
    let decoder = &model.profiles[0].video_decoder;
    assert_eq!(
        (
            decoder.max_width,
            decoder.max_height,
            decoder.codecs.clone()
        ),
        (1280, 720, vec![VideoCodec::H265])
    );
    assert!(messages("video = true\nvideo_codecs = [\"vp9\"]\n")
        .iter()
        .any(|m| m.contains("error") && m.contains("vp9")));
    assert!(messages("video = true\nvideo_max_width = 0\n")
        .iter()
        .any(|m| m.contains("video_max_width and video_max_height must not be 0")));
    assert!(messages("video = true\nvideo_codecs = []\n")
        .iter()
        .any(|m| m.contains("video_codecs is empty")));
    assert!(messages("video_codecs = [\"h264\"]\n")
        .iter()
        .any(|m| m.starts_with("p.toml") && m.contains("have no effect without video = true")));
}
