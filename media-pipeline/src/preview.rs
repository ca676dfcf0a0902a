//! LED preview: a rendition PNG upscaled so that each LED becomes a round-ish
//! dot on a dark board with a visible grid, which is what staff need to judge
//! legibility at 192×32.
//!
//! Only for people: previews are never sent to screens.

use image::{ImageFormat, RgbImage};

use crate::render::{encode_png_with, inverse_gamma_lut};
use crate::{ColorClass, RenderError};

/// How many LEDs a rendition PNG lights (pixels that are not black), for
/// judging renditions stored before their facts were kept.
pub fn lit_pixels(rendition_png: &[u8]) -> Result<u64, RenderError> {
    let image = image::load_from_memory_with_format(rendition_png, ImageFormat::Png)
        .map_err(|e| RenderError::NotARendition {
            detail: e.to_string(),
        })?
        .to_rgb8();
    Ok(image.pixels().filter(|p| p.0 != [0, 0, 0]).count() as u64)
}

/// Upscales a rendition PNG (as made by [`crate::render`] or
/// [`crate::render_text`]) to at most `max_width_px` wide, each LED drawn as
/// a block of `pitch` × `pitch` pixels with a dark gap between LEDs when the
/// pitch is 3 or more. `full` renditions are shown through the inverse LED
/// gamma, as a viewer perceives them. Returns a PNG.
pub fn preview(
    rendition_png: &[u8],
    color: ColorClass,
    max_width_px: u32,
) -> Result<Vec<u8>, RenderError> {
    let not = |detail: String| RenderError::NotARendition { detail };
    let mut reader =
        image::ImageReader::with_format(std::io::Cursor::new(rendition_png), ImageFormat::Png);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(256 * 1024 * 1024);
    limits.max_image_width = Some(70_000);
    limits.max_image_height = Some(8192);
    reader.limits(limits);
    let source = reader.decode().map_err(|e| not(e.to_string()))?.to_rgb8();
    let (w, h) = source.dimensions();
    let pitch = (max_width_px / w.max(1)).clamp(1, 16);
    // Keep the preview itself reasonable.
    let pitch = pitch
        .min((16_384 / w.max(1)).max(1))
        .min((8192 / h.max(1)).max(1));
    let lut = inverse_gamma_lut();
    let unlit = [28u8, 22, 22];
    let gap = [6u8, 6, 6];
    let mut out = RgbImage::from_pixel(w * pitch, h * pitch, image::Rgb(gap));
    for (x, y, p) in source.enumerate_pixels() {
        let mut c = p.0;
        if color == ColorClass::Full {
            c = [lut[c[0] as usize], lut[c[1] as usize], lut[c[2] as usize]];
        }
        if c == [0, 0, 0] {
            c = unlit;
        }
        for dy in 0..pitch {
            for dx in 0..pitch {
                let on_grid = pitch >= 3 && (dx == pitch - 1 || dy == pitch - 1);
                // Round the LED: drop the block's corners at larger pitches.
                let corner =
                    pitch >= 6 && (dx == 0 || dx == pitch - 2) && (dy == 0 || dy == pitch - 2);
                if !on_grid && !corner {
                    out.put_pixel(x * pitch + dx, y * pitch + dy, image::Rgb(c));
                }
            }
        }
    }
    let (ow, oh) = out.dimensions();
    // Previews are for people, not the hot path: compress hard (the grid
    // pattern compresses well only with filtering and a slower deflate).
    encode_png_with(
        out.as_raw(),
        ow,
        oh,
        png::ColorType::Rgb,
        png::BitDepth::Eight,
        None,
        png::Compression::High,
    )
}
