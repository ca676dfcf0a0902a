//! Sample posters drawn by code (anti-fraud themes), for the demo, tests and
//! benchmarks: the project ships no third-party images.
//!
//! Deterministic (a fixed pseudo-random texture, no clock); returns encoded
//! bytes. Not used by the pipeline itself.

use image::{ImageEncoder, Rgb, RgbImage};

use crate::fonts::{glyph, ROW_PX};

/// A poster's look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PosterTheme<'a> {
    /// Large headline (Chinese or Latin).
    pub headline: &'a str,
    /// Smaller line under it.
    pub subline: &'a str,
    /// Top colour of the background gradient.
    pub top: [u8; 3],
    /// Bottom colour of the background gradient.
    pub bottom: [u8; 3],
    /// Headline colour.
    pub ink: [u8; 3],
    /// Photo-like texture (realistic JPEG sizes) or flat colours (small PNGs).
    pub texture: bool,
}

/// Draws a poster of `width`×`height`: a textured gradient (so it
/// compresses like a photo), a banner, a warning sign and two lines of text.
pub fn poster(width: u32, height: u32, theme: &PosterTheme<'_>) -> RgbImage {
    let mut seed: u32 = 0x9E37_79B9;
    let mut img = RgbImage::from_fn(width, height, |_, y| {
        let t = y as f32 / height.max(1) as f32;
        let mix = |a: u8, b: u8| (f32::from(a) * (1.0 - t) + f32::from(b) * t) as u8;
        Rgb([
            mix(theme.top[0], theme.bottom[0]),
            mix(theme.top[1], theme.bottom[1]),
            mix(theme.top[2], theme.bottom[2]),
        ])
    });
    // Photo-like texture: soft blobs plus fine noise.
    for (x, y, p) in img.enumerate_pixels_mut() {
        if !theme.texture {
            break;
        }
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed % 17) as i16 - 8;
        let fx = x as f32 / width as f32;
        let fy = y as f32 / height as f32;
        let blob = ((fx * 9.0).sin() * (fy * 7.0).cos() * 18.0) as i16;
        for c in p.0.iter_mut() {
            *c = (i16::from(*c) + noise + blob).clamp(0, 255) as u8;
        }
    }
    // Banner band across the lower third.
    let band_top = height * 62 / 100;
    let band_bottom = height * 80 / 100;
    for y in band_top..band_bottom {
        for x in 0..width {
            img.put_pixel(x, y, Rgb([200, 16, 24]));
        }
    }
    // Warning triangle, top left.
    let size = (height / 7).min(width / 9);
    let (cx, top) = (width / 16 + size / 2, height / 40);
    for dy in 0..size {
        let half = dy / 2 + 1;
        for dx in 0..=half * 2 {
            let x = cx + dx - half;
            let border = dy + size / 9 >= size || dx < size / 9 || dx + size / 9 > half * 2;
            let colour = if border { [20, 20, 20] } else { [255, 200, 0] };
            if x < width {
                img.put_pixel(x, top + dy, Rgb(colour));
            }
        }
    }
    // Exclamation mark inside the triangle.
    for dy in size * 35 / 100..size * 75 / 100 {
        for dx in 0..size / 12 + 1 {
            img.put_pixel(cx - size / 24 + dx, top + dy, Rgb([20, 20, 20]));
        }
    }
    for dy in size * 80 / 100..size * 88 / 100 {
        for dx in 0..size / 12 + 1 {
            img.put_pixel(cx - size / 24 + dx, top + dy, Rgb([20, 20, 20]));
        }
    }
    let headline_room = width * 9 / 10;
    draw_text(
        &mut img,
        theme.headline,
        headline_room,
        height * 38 / 100,
        height * 26 / 100,
        theme.ink,
    );
    draw_text(
        &mut img,
        theme.subline,
        width * 85 / 100,
        (band_top + band_bottom) / 2,
        (band_bottom - band_top) * 7 / 10,
        [255, 255, 255],
    );
    img
}

/// Draws `text` centred on row `centre_y`, at the largest whole scale whose
/// width fits `max_width` and height fits `max_height`.
fn draw_text(
    img: &mut RgbImage,
    text: &str,
    max_width: u32,
    centre_y: u32,
    max_height: u32,
    ink: [u8; 3],
) {
    let glyphs: Vec<_> = text.chars().filter_map(glyph).collect();
    let text_w: u32 = glyphs.iter().map(|g| g.width).sum();
    if text_w == 0 {
        return;
    }
    let scale = (max_width / text_w).min(max_height / ROW_PX).max(1);
    let left = img.width().saturating_sub(text_w * scale) / 2;
    let top = centre_y.saturating_sub(ROW_PX * scale / 2);
    let mut pen = left;
    for g in glyphs {
        for gy in 0..ROW_PX {
            for gx in 0..g.width {
                if !g.lit(gx, gy) {
                    continue;
                }
                for sy in 0..scale {
                    for sx in 0..scale {
                        let (x, y) = (pen + gx * scale + sx, top + gy * scale + sy);
                        if x < img.width() && y < img.height() {
                            img.put_pixel(x, y, Rgb(ink));
                        }
                    }
                }
            }
        }
        pen += g.width * scale;
    }
}

/// [`poster`] encoded as JPEG at `quality`.
pub fn poster_jpeg(width: u32, height: u32, theme: &PosterTheme<'_>, quality: u8) -> Vec<u8> {
    let img = poster(width, height, theme);
    let mut out = Vec::new();
    // Encoding an in-memory RGB buffer of the right size cannot fail.
    let _ = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).write_image(
        img.as_raw(),
        width,
        height,
        image::ExtendedColorType::Rgb8,
    );
    out
}

/// [`poster`] encoded as PNG.
pub fn poster_png(width: u32, height: u32, theme: &PosterTheme<'_>) -> Vec<u8> {
    let img = poster(width, height, theme);
    let mut out = Vec::new();
    let _ = image::codecs::png::PngEncoder::new(&mut out).write_image(
        img.as_raw(),
        width,
        height,
        image::ExtendedColorType::Rgb8,
    );
    out
}

/// The theme used by the benchmark poster.
pub const BENCH_THEME: PosterTheme<'static> = PosterTheme {
    headline: "谨防电信网络诈骗",
    subline: "不听 不信 不转账",
    top: [18, 40, 96],
    bottom: [60, 110, 170],
    ink: [255, 230, 60],
    texture: true,
};
