//! Turning what the player shows into RGB frames for a canvas of any size:
//! stills scaled to fit, scroll strips moved by time, and the built-in text
//! drawn with the bitmap font (wrapped when it fits, scrolled when it does not).
//!
//! Pure pixel work: no files, no clock (time arrives as elapsed milliseconds).

use image::{imageops, Rgb, RgbImage};

use super::font::{glyph, CELL_HEIGHT, CELL_WIDTH};

/// LED red for warnings.
pub const RED: Rgb<u8> = Rgb([255, 0, 0]);
/// LED green for the identify screen.
pub const GREEN: Rgb<u8> = Rgb([0, 255, 0]);
/// Speed of built-in text that does not fit and scrolls.
pub const BUILTIN_SCROLL_PX_PER_SECOND: u32 = 32;

/// Scales an image to the canvas (nearest neighbour: LED renditions are
/// already native size; this only guards against a mismatch).
pub fn fit(image: RgbImage, width: u32, height: u32) -> RgbImage {
    if image.width() == width && image.height() == height {
        return image;
    }
    imageops::resize(
        &image,
        width.max(1),
        height.max(1),
        imageops::FilterType::Nearest,
    )
}

/// Scales a strip to the canvas height, keeping its aspect ratio.
pub fn fit_height(strip: RgbImage, height: u32) -> RgbImage {
    if strip.height() == height || strip.height() == 0 {
        return strip;
    }
    let width = (u64::from(strip.width()) * u64::from(height) / u64::from(strip.height())).max(1);
    imageops::resize(
        &strip,
        width as u32,
        height.max(1),
        imageops::FilterType::Nearest,
    )
}

/// The window of a scroll strip `elapsed_ms` after the slot began: the strip
/// enters from the right edge and moves left at `px_per_second`, looping.
pub fn scroll_window(
    strip: &RgbImage,
    width: u32,
    height: u32,
    px_per_second: u32,
    elapsed_ms: u64,
) -> RgbImage {
    let mut frame = RgbImage::new(width, height);
    let travel = u64::from(strip.width()) + u64::from(width);
    if travel == 0 {
        return frame;
    }
    let moved = elapsed_ms.saturating_mul(u64::from(px_per_second)) / 1000 % travel;
    // Strip column shown at canvas column 0.
    let first = moved as i64 - i64::from(width);
    for x in 0..width {
        let sx = first + i64::from(x);
        if sx < 0 || sx >= i64::from(strip.width()) {
            continue;
        }
        for y in 0..height.min(strip.height()) {
            frame.put_pixel(x, y, *strip.get_pixel(sx as u32, y));
        }
    }
    frame
}

fn draw_text(frame: &mut RgbImage, text: &str, x0: i64, y0: i64, scale: u32, color: Rgb<u8>) {
    for (i, c) in text.chars().enumerate() {
        let rows = glyph(c);
        let cx = x0 + i as i64 * i64::from(CELL_WIDTH * scale);
        for (row, bits) in rows.iter().enumerate() {
            for col in 0..5u32 {
                if bits & (0x10 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = cx + i64::from(col * scale + dx);
                        let y = y0 + i64::from(row as u32 * scale + dy);
                        if x >= 0
                            && y >= 0
                            && (x as u32) < frame.width()
                            && (y as u32) < frame.height()
                        {
                            frame.put_pixel(x as u32, y as u32, color);
                        }
                    }
                }
            }
        }
    }
}

/// Words wrapped into lines of at most `columns` characters.
fn wrap(text: &str, columns: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if word.len() > columns {
            return Vec::new();
        }
        if line.is_empty() {
            line = word.to_owned();
        } else if line.len() + 1 + word.len() <= columns {
            line.push(' ');
            line.push_str(word);
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.to_owned();
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The text's layout on a canvas: wrapped lines at the largest scale that
/// fits, or `None` when it must scroll.
fn layout(text: &str, width: u32, height: u32) -> Option<(u32, Vec<String>)> {
    (1..=16u32).rev().find_map(|scale| {
        let columns = (width / (CELL_WIDTH * scale)) as usize;
        let rows = (height / (CELL_HEIGHT * scale)) as usize;
        if columns == 0 || rows == 0 {
            return None;
        }
        let lines = wrap(text, columns);
        (!lines.is_empty() && lines.len() <= rows).then_some((scale, lines))
    })
}

/// Whether `text` needs scrolling on this canvas.
pub fn text_scrolls(text: &str, width: u32, height: u32) -> bool {
    layout(text, width, height).is_none()
}

/// Draws `text` on a black canvas: centred and wrapped if it fits, else a
/// one-line strip scrolled by `elapsed_ms`.
pub fn text_frame(
    text: &str,
    width: u32,
    height: u32,
    color: Rgb<u8>,
    elapsed_ms: u64,
) -> RgbImage {
    let mut frame = RgbImage::new(width, height);
    match layout(text, width, height) {
        Some((scale, lines)) => {
            let block_height = lines.len() as u32 * CELL_HEIGHT * scale;
            let top = i64::from(height.saturating_sub(block_height) / 2) + i64::from(scale / 2);
            for (i, line) in lines.iter().enumerate() {
                let line_width = line.chars().count() as u32 * CELL_WIDTH * scale;
                let left = i64::from(width.saturating_sub(line_width) / 2);
                let y = top + i64::from(i as u32 * CELL_HEIGHT * scale);
                draw_text(&mut frame, line, left, y, scale, color);
            }
        }
        None => {
            let scale = (height / CELL_HEIGHT).max(1);
            let strip_width = text.chars().count() as u32 * CELL_WIDTH * scale;
            let mut strip = RgbImage::new(strip_width.max(1), height);
            let y = i64::from(height.saturating_sub(7 * scale) / 2);
            draw_text(&mut strip, text, 0, y, scale, color);
            return scroll_window(
                &strip,
                width,
                height,
                BUILTIN_SCROLL_PX_PER_SECOND,
                elapsed_ms,
            );
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(frame: &RgbImage) -> usize {
        frame.pixels().filter(|p| p.0 != [0, 0, 0]).count()
    }

    #[test]
    fn builtin_text_is_visible_on_every_screen_profile() {
        let text = crate::player::builtin::MESSAGES[0];
        for (w, h) in [
            (352, 80),
            (192, 32),
            (128, 16),
            (1920, 360),
            (1080, 1920),
            (64, 8),
        ] {
            let frame = text_frame(text, w, h, RED, 3_000);
            assert_eq!((frame.width(), frame.height()), (w, h));
            assert!(lit(&frame) > 20, "{w}x{h} shows text");
        }
        assert!(!text_scrolls(text, 352, 80));
        assert!(text_scrolls(text, 128, 16));
    }

    #[test]
    fn a_scroll_strip_enters_from_the_right_and_moves_with_time() {
        let mut strip = RgbImage::new(100, 10);
        for y in 0..10 {
            strip.put_pixel(0, y, RED);
        }
        // At t=0 nothing is visible yet; after 1 s at 20 px/s, column 0 of
        // the strip sits 20 px from the right edge.
        assert_eq!(lit(&scroll_window(&strip, 50, 10, 20, 0)), 0);
        let frame = scroll_window(&strip, 50, 10, 20, 1000);
        assert_eq!(*frame.get_pixel(30, 5), RED);
        assert_eq!(lit(&frame), 10);
        let frame = scroll_window(&strip, 50, 10, 20, 2000);
        assert_eq!(*frame.get_pixel(10, 5), RED);
    }

    #[test]
    fn stills_are_scaled_to_the_canvas() {
        let img = RgbImage::from_pixel(10, 5, RED);
        let out = fit(img, 352, 80);
        assert_eq!((out.width(), out.height()), (352, 80));
        assert_eq!(lit(&out), 352 * 80);
    }
}
