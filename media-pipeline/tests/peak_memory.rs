//! Peak memory of the whole ingest path stays bounded, even when fed every
//! hostile input. One test in its own process, so nothing else inflates
//! VmHWM.

mod common;

use ledcast_media::{ingest, render_many, ColorClass, Fit, Limits, RenderProfile};

#[test]
fn hostile_inputs_and_a_large_poster_stay_within_bounded_memory() {
    let limits = Limits::default();
    let hostile: Vec<(Vec<u8>, &str)> = vec![
        (common::png_claiming(100_000, 100_000), "claim.png"),
        // Would need 288 MB of pixels if decoded.
        (common::png_bomb(6000, 6000), "bomb.png"),
        // Passes the memory cap but not the pixel cap: 8000×6000 RGB (144 MB).
        (common::png_claiming(8000, 6000), "big-claim.png"),
        (common::gif_frames(2000), "anim.gif"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            "x.png",
        ),
        (Vec::new(), "empty"),
    ];
    for (bytes, name) in &hostile {
        let _ = ingest(bytes, name, &limits);
    }
    // A legitimate 3000×2000 photo poster, rendered for five screens.
    let photo = common::jpeg(3000, 2000, |x, y| {
        [(x / 12) as u8, (y / 8) as u8, ((x + y) / 20) as u8]
    });
    let material = ingest(&photo, "photo.jpg", &limits).unwrap();
    let targets: Vec<(RenderProfile, Fit)> = [
        (352, 80, ColorClass::Mono),
        (192, 32, ColorClass::Dual),
        (128, 64, ColorClass::Full),
        (1920, 1080, ColorClass::Full),
        (1080, 1920, ColorClass::Full),
    ]
    .into_iter()
    .map(|(width, height, color)| {
        (
            RenderProfile {
                width,
                height,
                color,
                video: false,
                scroll: false,
            },
            Fit::Fill,
        )
    })
    .collect();
    for r in render_many(&material, &targets) {
        r.unwrap();
    }
    let peak = common::peak_rss_bytes();
    eprintln!("VmHWM = {} MiB", peak / (1024 * 1024));
    // The bomb alone would need 288 MB and the big claim 144 MB; the real
    // poster needs ~18 MB decoded plus the renditions.
    assert!(
        peak < 160 * 1024 * 1024,
        "peak RSS {} MiB",
        peak / (1024 * 1024)
    );
}
