//! Fuzzes `ingest` with arbitrary bytes: it must return Ok or a typed error,
//! never panic, hang or allocate past its limits. Accepted images are also
//! rendered for a small mono and a dual profile, and previewed.
#![no_main]

use ledcast_media::{ingest, preview, render, ColorClass, Fit, Limits, RenderProfile, Rgb};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Tighter caps than production so the fuzzer explores instead of decoding
    // big (legitimate) images.
    let limits = Limits {
        max_pixels: 4_000_000,
        max_side_px: 4096,
        max_decode_bytes: 64 * 1024 * 1024,
        ..Limits::default()
    };
    let Ok(material) = ingest(data, "fuzz.bin", &limits) else {
        return;
    };
    for (width, height, color) in [(64, 16, ColorClass::Mono), (48, 32, ColorClass::Dual)] {
        let profile = RenderProfile {
            width,
            height,
            color,
            video: false,
            scroll: true,
        };
        if let Ok(r) = render(
            &material,
            &profile,
            Fit::Fit {
                background: Rgb(0, 0, 0),
            },
        ) {
            assert_eq!(r.media.height, height);
            if r.strip_width_px.is_none() {
                assert_eq!(r.media.width, width);
            }
            let _ = preview(&r.bytes, color, 256);
        }
    }
});
