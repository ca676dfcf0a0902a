//! Renditions, warning text and previews: sizes are exact, colours land in
//! the screen's colour class, and the geometry does what staff expect.

mod common;

use image::GenericImageView;
use ledcast_media::{
    glyph_px_for_height, ingest, judge, load_stored, preview, render, render_many, render_text,
    strip_char_spans, ColorClass, Fit, Limits, Material, RenderError, RenderProfile, Rgb,
    TextLayout,
};

fn profile(width: u32, height: u32, color: ColorClass) -> RenderProfile {
    RenderProfile {
        width,
        height,
        color,
        video: false,
        scroll: false,
    }
}

fn decode(png: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .to_rgb8()
}

fn png_header(png: &[u8]) -> (png::ColorType, png::BitDepth) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let reader = decoder.read_info().unwrap();
    let info = reader.info();
    (info.color_type, info.bit_depth)
}

/// A poster: white background, a red band across the middle, dark text-like bars.
fn poster(w: u32, h: u32) -> Material {
    let bytes = common::png(w, h, |x, y| {
        if y > h * 2 / 5 && y < h * 3 / 5 {
            [220, 20, 20]
        } else if (x / 7) % 3 == 0 && y > h / 10 && y < h / 3 {
            [10, 10, 10]
        } else {
            [250, 250, 250]
        }
    });
    ingest(&bytes, "poster.png", &Limits::default()).unwrap()
}

const PROFILES: [(u32, u32, ColorClass); 7] = [
    (352, 80, ColorClass::Mono),
    (192, 32, ColorClass::Dual),
    (128, 64, ColorClass::Full),
    (128, 16, ColorClass::Mono),
    (1920, 360, ColorClass::Full),
    (1920, 1080, ColorClass::Full),
    (1080, 1920, ColorClass::Full),
];

#[test]
fn every_rendition_is_exactly_the_profile_size_in_its_colour_class() {
    let material = poster(1200, 900);
    for (w, h, color) in PROFILES {
        for fit in [
            Fit::Fit {
                background: Rgb(0, 0, 0),
            },
            Fit::Fill,
            Fit::Stretch,
        ] {
            let r = render(&material, &profile(w, h, color), fit).unwrap();
            let img = decode(&r.bytes);
            assert_eq!(img.dimensions(), (w, h), "{w}x{h} {fit:?}");
            assert_eq!((r.media.width, r.media.height), (w, h));
            assert_eq!(r.media.size_bytes, r.bytes.len() as u64);
            assert_eq!(r.media.mime, "image/png");
            let expected = match color {
                ColorClass::Mono => (png::ColorType::Indexed, png::BitDepth::One),
                ColorClass::Dual => (png::ColorType::Indexed, png::BitDepth::Two),
                ColorClass::Full => (png::ColorType::Rgb, png::BitDepth::Eight),
            };
            assert_eq!(png_header(&r.bytes), expected, "{w}x{h}");
            for p in img.pixels() {
                let ok = match color {
                    ColorClass::Mono => p.0 == [0, 0, 0] || p.0 == [255, 0, 0],
                    ColorClass::Dual => p.0[2] == 0 && p.0.iter().all(|&c| c == 0 || c == 255),
                    ColorClass::Full => true,
                };
                assert!(ok, "{w}x{h} {color:?} has pixel {:?}", p.0);
            }
        }
    }
}

#[test]
fn renditions_are_content_addressed_and_deterministic() {
    let material = poster(800, 600);
    let p = profile(192, 32, ColorClass::Dual);
    let a = render(&material, &p, Fit::Fill).unwrap();
    let b = render(&material, &p, Fit::Fill).unwrap();
    assert_eq!(a, b);
    use sha2::Digest;
    assert_eq!(
        a.media.sha256.0,
        <[u8; 32]>::from(sha2::Sha256::digest(&a.bytes))
    );
    // A material loaded back from its stored bytes renders identically (PNG is lossless).
    let reloaded = load_stored(&material.bytes, &Limits::default()).unwrap();
    assert_eq!(render(&reloaded, &p, Fit::Fill).unwrap(), a);
    // render_many gives the same results as one render per profile, in order.
    let targets: Vec<_> = PROFILES
        .iter()
        .map(|&(w, h, c)| (profile(w, h, c), Fit::Fill))
        .collect();
    let many = render_many(&material, &targets);
    for ((p, fit), got) in targets.iter().zip(many) {
        assert_eq!(got.unwrap(), render(&material, p, *fit).unwrap());
    }
}

#[test]
fn fit_letterboxes_on_the_background_fill_crops_the_centre_stretch_shows_all() {
    // Wide source: left third red, middle green, right third blue.
    let bytes = common::png(300, 100, |x, _| match x / 100 {
        0 => [255, 0, 0],
        1 => [0, 255, 0],
        _ => [0, 0, 255],
    });
    let m = ingest(&bytes, "bands.png", &Limits::default()).unwrap();
    let square = profile(64, 64, ColorClass::Full);
    // Fill: only the green centre is visible.
    let fill = decode(&render(&m, &square, Fit::Fill).unwrap().bytes);
    for x in [2, 32, 61] {
        let p = fill.get_pixel(x, 32).0;
        assert!(p[1] > 200 && p[0] < 40 && p[2] < 40, "fill x={x}: {p:?}");
    }
    // Fit: all three bands, with white bars above and below (gamma keeps 255).
    let fit = decode(
        &render(
            &m,
            &square,
            Fit::Fit {
                background: Rgb(255, 255, 255),
            },
        )
        .unwrap()
        .bytes,
    );
    assert_eq!(fit.get_pixel(32, 2).0, [255, 255, 255]);
    assert_eq!(fit.get_pixel(32, 61).0, [255, 255, 255]);
    assert!(fit.get_pixel(5, 32).0[0] > 200);
    assert!(fit.get_pixel(58, 32).0[2] > 200);
    // Stretch: all three bands, full height.
    let stretch = decode(&render(&m, &square, Fit::Stretch).unwrap().bytes);
    assert!(stretch.get_pixel(5, 2).0[0] > 200);
    assert!(stretch.get_pixel(32, 61).0[1] > 200);
    assert!(stretch.get_pixel(58, 32).0[2] > 200);
}

#[test]
fn dual_maps_red_green_white_and_blue_to_the_panel_colours() {
    let bytes = common::png(40, 10, |x, _| match x / 10 {
        0 => [255, 0, 0],
        1 => [0, 255, 0],
        2 => [255, 255, 255],
        _ => [0, 0, 255],
    });
    let m = ingest(&bytes, "dual.png", &Limits::default()).unwrap();
    let img = decode(
        &render(&m, &profile(40, 10, ColorClass::Dual), Fit::Stretch)
            .unwrap()
            .bytes,
    );
    assert_eq!(img.get_pixel(5, 5).0, [255, 0, 0]);
    assert_eq!(img.get_pixel(15, 5).0, [0, 255, 0]);
    assert_eq!(img.get_pixel(25, 5).0, [255, 255, 0]);
    assert_eq!(img.get_pixel(35, 5).0, [0, 255, 0]);
}

#[test]
fn mono_dithers_photos_and_thresholds_line_art() {
    // A smooth grey ramp is a photo: the middle is a mix of lit and dark LEDs.
    let ramp = common::png(256, 64, |x, _| [x as u8, x as u8, x as u8]);
    let m = ingest(&ramp, "ramp.png", &Limits::default()).unwrap();
    let img = decode(
        &render(&m, &profile(128, 32, ColorClass::Mono), Fit::Stretch)
            .unwrap()
            .bytes,
    );
    let lit_in = |x0: u32, x1: u32| {
        (x0..x1)
            .flat_map(|x| (0..32).map(move |y| (x, y)))
            .filter(|&(x, y)| img.get_pixel(x, y).0[0] == 255)
            .count() as f64
            / f64::from((x1 - x0) * 32)
    };
    let middle = lit_in(56, 72);
    assert!((0.3..0.7).contains(&middle), "middle lit share {middle}");
    assert!(lit_in(0, 8) < 0.1 && lit_in(120, 128) > 0.9);
    // Black/white line art stays crisp: every LED in a solid area agrees.
    let art = common::png(
        128,
        32,
        |x, _| if x < 64 { [0, 0, 0] } else { [255, 255, 255] },
    );
    let m = ingest(&art, "art.png", &Limits::default()).unwrap();
    let img = decode(
        &render(&m, &profile(128, 32, ColorClass::Mono), Fit::Stretch)
            .unwrap()
            .bytes,
    );
    assert!((0..60).all(|x| img.get_pixel(x, 16).0 == [0, 0, 0]));
    assert!((68..128).all(|x| img.get_pixel(x, 16).0 == [255, 0, 0]));
}

#[test]
fn a_warning_strip_runs_from_its_first_ink_to_its_last() {
    // 192×32 dual: Unifont 16 at ×2; four hanzi of 16 px → 128 px of cells,
    // trimmed to the columns that carry ink.
    let p = RenderProfile {
        scroll: true,
        ..profile(192, 32, ColorClass::Dual)
    };
    let r = render_text("谨防诈骗", &p, TextLayout::Strip).unwrap();
    let width = r.strip_width_px.unwrap();
    assert!((118..=128).contains(&width), "{width}");
    let img = decode(&r.bytes);
    assert_eq!(img.dimensions(), (width, 32));
    // No dark lead-in: the first and the last column carry ink, in red.
    for x in [0, width - 1] {
        assert!(
            (0..32).any(|y| img.get_pixel(x, y).0 == [255, 0, 0]),
            "column {x}"
        );
    }
    let lit = img.pixels().filter(|p| p.0 == [255, 0, 0]).count();
    assert!(lit > 200, "{lit} lit LEDs");
    assert_eq!(r.lit_pixels, Some(lit as u64));
    let facts = r.text.unwrap();
    assert_eq!((facts.glyph_px, facts.lines, facts.chars), (32, 1, 4));
    // Latin is half width: "SCAM" is 4 × 8 px at ×2, less its side bearings.
    let r = render_text("SCAM", &p, TextLayout::Strip).unwrap();
    assert!((52..=64).contains(&r.strip_width_px.unwrap()));
    // The character spans describe the same strip: the first one starts at
    // or before column 0, each follows the last.
    let spans = strip_char_spans("谨防诈骗", 32);
    assert_eq!(spans.len(), 4);
    assert!(spans[0].1 <= 0 && spans[3].1 + i64::from(spans[3].2) >= i64::from(width));
    assert!(spans
        .windows(2)
        .all(|w| w[0].1 + i64::from(w[0].2) == w[1].1));
}

/// Mono is one lit colour on dark: the ink is lit whatever its hue (pure
/// red has a luminance of 77; the old threshold of 128 left every mono text
/// black), on every mono size and both layouts.
#[test]
fn mono_text_is_lit_ink_on_dark_on_every_mono_profile() {
    for (w, h, scroll) in [
        (352, 80, true),
        (64, 16, true),
        (128, 16, true),
        (128, 32, true),
        (64, 32, false),
        (128, 64, false),
    ] {
        let p = RenderProfile {
            scroll,
            ..profile(w, h, ColorClass::Mono)
        };
        let m = ingest("谨防诈骗".as_bytes(), "w.txt", &Limits::default()).unwrap();
        let r = render(&m, &p, Fit::Fill).unwrap();
        let img = decode(&r.bytes);
        let lit = img.pixels().filter(|p| p.0 == [255, 0, 0]).count();
        assert!(lit > 40, "{w}x{h}: {lit} lit LEDs");
        assert_eq!(r.lit_pixels, Some(lit as u64), "{w}x{h}");
        assert!(judge(&r, &p).is_empty(), "{w}x{h}: {:?}", judge(&r, &p));
    }
}

#[test]
fn glyph_size_follows_the_panel_height_with_margins() {
    for (height, glyph) in [
        (12, None),
        (16, Some(16)),
        (24, Some(16)),
        (32, Some(32)),
        (64, Some(64)),
        (80, Some(64)),
        (360, Some(288)),
        (1080, Some(864)),
    ] {
        assert_eq!(glyph_px_for_height(height), glyph, "{height} px panel");
    }
}

#[test]
fn centred_text_wraps_to_the_largest_scale_that_fits() {
    let p = profile(128, 64, ColorClass::Full);
    let r = render_text("警惕电信诈骗不转账", &p, TextLayout::Centered).unwrap();
    let img = decode(&r.bytes);
    assert_eq!(img.dimensions(), (128, 64));
    // Nine hanzi at ×1 would be one 144 px line: too wide. At ×2 (32 px
    // glyphs) two lines of four hold only eight, so it falls back to ×1:
    // 8 per line → two lines with a blank font row between, centred.
    let facts = r.text.unwrap();
    assert_eq!((facts.glyph_px, facts.lines, facts.chars), (16, 2, 9));
    let lit_rows: Vec<u32> = (0..64)
        .filter(|&y| (0..128).any(|x| img.get_pixel(x, y).0 != [0, 0, 0]))
        .collect();
    assert!(
        *lit_rows.first().unwrap() >= 12 && *lit_rows.last().unwrap() < 52,
        "{lit_rows:?}"
    );
    // Short text gets big: two hanzi at ×4 = 128 px wide on 128×64.
    let r = render_text("防骗", &p, TextLayout::Centered).unwrap();
    let img = decode(&r.bytes);
    let lit_rows = (0..64)
        .filter(|&y| (0..128).any(|x| img.get_pixel(x, y).0 != [0, 0, 0]))
        .count();
    assert!(lit_rows > 40, "{lit_rows} lit rows");
    // A tall lobby screen: several large centred lines, never a 16 px one.
    let lobby = profile(1920, 1080, ColorClass::Full);
    let text = "公检法机关不会通过电话办案，更不会要求转账到“安全账户”！";
    let facts = render_text(text, &lobby, TextLayout::Centered)
        .unwrap()
        .text
        .unwrap();
    assert!(facts.lines >= 2 && facts.glyph_px >= 135, "{facts:?}");
}

#[test]
fn text_that_cannot_be_shown_is_refused_with_a_reason() {
    let tiny = profile(64, 16, ColorClass::Mono);
    let e = render_text(
        "警惕电信网络诈骗，陌生来电不轻信",
        &tiny,
        TextLayout::Centered,
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            RenderError::TextDoesNotFit {
                lines_available: 1,
                max_chars: 4,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("at most 4 characters"), "{e}");
    let short = profile(128, 12, ColorClass::Mono);
    let e = render_text("防骗", &short, TextLayout::Centered).unwrap_err();
    assert_eq!(
        e,
        RenderError::ScreenTooShort {
            height: 12,
            min: 16
        }
    );
    let e = render_text("防骗😀", &tiny, TextLayout::Centered).unwrap_err();
    assert_eq!(
        e,
        RenderError::UnknownGlyphs {
            chars: vec!['😀']
        }
    );
}

#[test]
fn text_materials_scroll_on_scrollers_and_centre_elsewhere() {
    let m = ingest("谨防诈骗".as_bytes(), "w.txt", &Limits::default()).unwrap();
    let scroller = RenderProfile {
        scroll: true,
        ..profile(352, 80, ColorClass::Mono)
    };
    let r = render(&m, &scroller, Fit::Fill).unwrap();
    // ×4 on an 80 px screen (8 px margins): 4 × 16 × 4 = 256 px of cells,
    // no lead-in.
    let width = r.strip_width_px.unwrap();
    assert!((236..=256).contains(&width), "{width}");
    let r = render(&m, &profile(128, 64, ColorClass::Full), Fit::Fill).unwrap();
    assert_eq!(r.strip_width_px, None);
    assert_eq!(decode(&r.bytes).dimensions(), (128, 64));
}

#[test]
fn video_passes_through_on_video_screens_and_is_refused_elsewhere() {
    let m = ingest(
        &common::mp4(1920, 1080, 15_000, true),
        "clip.mp4",
        &Limits::default(),
    )
    .unwrap();
    let wall = RenderProfile {
        video: true,
        ..profile(1920, 1080, ColorClass::Full)
    };
    let r = render(&m, &wall, Fit::Fill).unwrap();
    assert_eq!(r.bytes, m.bytes);
    assert_eq!(r.media.sha256, m.sha256);
    assert_eq!(r.media.mime, "video/mp4");
    // What the screen's player box must decode (checked against its profile).
    assert_eq!(
        (r.media.width, r.media.height, r.video_codec),
        (1920, 1080, Some(ledcast_media::VideoCodec::H264))
    );
    let e = render(&m, &profile(192, 32, ColorClass::Dual), Fit::Fill).unwrap_err();
    assert_eq!(
        e,
        RenderError::VideoNotSupported {
            width: 192,
            height: 32
        }
    );
}

#[test]
fn preview_upscales_with_a_visible_grid() {
    let m = poster(400, 100);
    let r = render(&m, &profile(192, 32, ColorClass::Dual), Fit::Fill).unwrap();
    let png = preview(&r.bytes, ColorClass::Dual, 1920).unwrap();
    let img = image::load_from_memory(&png).unwrap();
    // 1920 / 192 = 10 px per LED.
    assert_eq!(img.dimensions(), (1920, 320));
    let rgb = img.to_rgb8();
    // The last row and column of every LED block is the dark grid.
    for (x, y) in [(9, 5), (19, 5), (5, 9), (1919, 319)] {
        assert_eq!(rgb.get_pixel(x, y).0, [6, 6, 6], "grid at {x},{y}");
    }
    // LED centres carry the rendition's colours (or the unlit LED grey).
    let source = decode(&r.bytes);
    for (lx, ly) in [(0, 0), (100, 16), (191, 31)] {
        let expected = match source.get_pixel(lx, ly).0 {
            [0, 0, 0] => [28, 22, 22],
            c => c,
        };
        assert_eq!(rgb.get_pixel(lx * 10 + 4, ly * 10 + 4).0, expected);
    }
    assert!(matches!(
        preview(b"not a png", ColorClass::Mono, 800),
        Err(RenderError::NotARendition { .. })
    ));
}
