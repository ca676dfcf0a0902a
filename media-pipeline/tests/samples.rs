//! The committed sample materials under `media/` go through the pipeline,
//! and their previews are what the pipeline makes today.

use std::path::PathBuf;

use ledcast_media::{
    ingest, preview, render, ColorClass, Fit, Limits, MaterialKind, RenderProfile, Rgb, VideoCodec,
};

fn media_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../media")
}

fn files(sub: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(media_dir().join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_none_or(|e| e != "sh"))
        .collect();
    out.sort();
    out
}

#[test]
fn every_sample_material_is_accepted_as_what_it_is() {
    let limits = Limits::default();
    let posters = files("posters");
    assert!(posters.len() >= 8, "{posters:?}");
    for path in posters {
        let m = ingest(&std::fs::read(&path).unwrap(), "x", &limits).unwrap();
        assert_eq!(m.kind, MaterialKind::Poster, "{}", path.display());
    }
    for path in files("texts") {
        let m = ingest(&std::fs::read(&path).unwrap(), "x", &limits).unwrap();
        assert_eq!(m.kind, MaterialKind::Text, "{}", path.display());
    }
    let mut durations = Vec::new();
    for path in files("videos") {
        let m = ingest(&std::fs::read(&path).unwrap(), "x", &limits).unwrap();
        assert_eq!(m.kind, MaterialKind::Video);
        assert_eq!(m.video_codec, Some(VideoCodec::H264));
        assert_eq!((m.width, m.height), (480, 270));
        durations.push(m.duration_ms.unwrap());
    }
    // hall-drama (90 s) and w48-pension (30 s), as playlists/materials.toml says.
    assert_eq!(durations, vec![90_000, 30_000]);
}

/// Whether two PNGs decode to the same size and pixels. (Compare pixels,
/// not bytes: the deflate backend, chosen by feature unification across the
/// workspace, changes the compressed bytes but never the image.)
fn same_pixels(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (
        image::load_from_memory(a).unwrap(),
        image::load_from_memory(b).unwrap(),
    );
    a.width() == b.width()
        && a.height() == b.height()
        && a.to_rgba8().as_raw() == b.to_rgba8().as_raw()
}

#[test]
fn committed_previews_match_what_the_pipeline_makes() {
    let limits = Limits::default();
    let door = RenderProfile {
        width: 352,
        height: 80,
        color: ColorClass::Mono,
        video: false,
        scroll: false,
    };
    let poster = std::fs::read(media_dir().join("posters/std-96110.png")).unwrap();
    let m = ingest(&poster, "std-96110", &limits).unwrap();
    let r = render(
        &m,
        &door,
        Fit::Fit {
            background: Rgb(0, 0, 0),
        },
    )
    .unwrap();
    let committed = std::fs::read(media_dir().join("previews/std-96110@352x80-mono.png")).unwrap();
    assert!(
        same_pixels(
            &preview(&r.bytes, ColorClass::Mono, 1408).unwrap(),
            &committed
        ),
        "regenerate with: cargo run -p ledcast-media --example make_samples -- media"
    );
    let counter = RenderProfile {
        width: 192,
        height: 32,
        color: ColorClass::Dual,
        video: false,
        scroll: true,
    };
    let text = std::fs::read(media_dir().join("texts/counter-text-refund.txt")).unwrap();
    let m = ingest(&text, "t", &limits).unwrap();
    let r = render(&m, &counter, Fit::Fill).unwrap();
    // 18 characters of 32 px, no dark lead-in: the strip starts with ink.
    let width = r.strip_width_px.unwrap();
    assert!(width <= 18 * 32 && width > 17 * 32, "{width}");
    let committed =
        std::fs::read(media_dir().join("previews/counter-text-refund@192x32-dual-strip.png"))
            .unwrap();
    assert!(same_pixels(
        &preview(&r.bytes, ColorClass::Dual, 4096).unwrap(),
        &committed
    ));
}
