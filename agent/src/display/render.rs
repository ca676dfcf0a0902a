//! Turning what the player shows into RGB frames for a canvas of any size:
//! stills scaled to fit, scroll strips moved by time, and the built-in text
//! drawn with the bitmap font (wrapped when it fits, scrolled when it does not).
//!
//! Pure pixel work: no files, no clock (time arrives as elapsed milliseconds).

use image::{imageops, Rgb, RgbImage};
use ledcast_protocol::v1::scroll;

use super::font::{glyph, unifont_glyph, CELL_HEIGHT, CELL_WIDTH, UNIFONT_ROW_PX};

/// LED red for warnings.
pub const RED: Rgb<u8> = Rgb([255, 0, 0]);
/// LED green for the identify screen.
pub const GREEN: Rgb<u8> = Rgb([0, 255, 0]);
/// Speed of built-in text drawn as a strip `height` px high: the default
/// reading speed for the glyph size the strip uses.
pub fn builtin_scroll_px_per_second(text: &str, height: u32) -> u32 {
    let face = Face::of(text);
    let scale = (height / face.line_height()).max(1);
    scroll::px_per_second(scroll::DEFAULT_CHARS_PER_SECOND, face.line_height() * scale)
}

/// `frame` at `percent` of its brightness: every channel of every pixel
/// scaled (rounded), which is how a plain framebuffer dims an LED panel.
/// 100 (or more) leaves it as it is; 0 is black.
pub fn dim(frame: &RgbImage, percent: u8) -> RgbImage {
    let percent = u32::from(percent.min(100));
    let mut out = frame.clone();
    if percent < 100 {
        for value in out.iter_mut() {
            *value = ((u32::from(*value) * percent + 50) / 100) as u8;
        }
    }
    out
}

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

/// The window of a scroll strip `elapsed_ms` after the slot began: where
/// the strip stands comes from `protocol::v1::scroll` (the first column on
/// the panel's rightmost column at the start, moving left at
/// `px_per_second`, passes repeating), the same function the compiler's
/// slot durations and the server's previews use. Rows are copied as slices:
/// a 1920-wide wall frame costs a few hundred `memcpy`s.
pub fn scroll_window(
    strip: &RgbImage,
    width: u32,
    height: u32,
    px_per_second: u32,
    elapsed_ms: u64,
) -> RgbImage {
    let mut frame = RgbImage::new(width, height);
    if strip.width() == 0 || width == 0 {
        return frame;
    }
    let x0 = scroll::scroll_strip_x(strip.width(), width, px_per_second, elapsed_ms);
    // Strip columns on the panel: [first, last).
    let first = (-x0).max(0);
    let last = (i64::from(strip.width())).min(i64::from(width) - x0);
    if first >= last {
        return frame;
    }
    let (first, last) = (first as usize, last as usize);
    let dest = (x0 + first as i64) as usize;
    let strip_row = strip.width() as usize * 3;
    let frame_row = width as usize * 3;
    let rows = height.min(strip.height()) as usize;
    let (src, dst) = (strip.as_raw(), &mut *frame);
    for y in 0..rows {
        let from = y * strip_row + first * 3;
        let to = y * frame_row + dest * 3;
        let len = (last - first) * 3;
        dst[to..to + len].copy_from_slice(&src[from..from + len]);
    }
    frame
}

/// Which bitmap face draws a text: ASCII uses the 5×7 font, anything else
/// the compiled-in Unifont glyphs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Face {
    Small,
    Unifont,
}

impl Face {
    fn of(text: &str) -> Face {
        if text.is_ascii() {
            Face::Small
        } else {
            Face::Unifont
        }
    }

    /// Line pitch at scale 1.
    fn line_height(self) -> u32 {
        match self {
            Face::Small => CELL_HEIGHT,
            Face::Unifont => UNIFONT_ROW_PX,
        }
    }

    /// Inked rows at scale 1 (for vertical centring).
    fn ink_height(self) -> u32 {
        match self {
            Face::Small => 7,
            Face::Unifont => UNIFONT_ROW_PX,
        }
    }

    /// Advance of `c` at scale 1 (a missing Unifont glyph keeps a full-width gap).
    fn advance(self, c: char) -> u32 {
        match self {
            Face::Small => CELL_WIDTH,
            Face::Unifont => unifont_glyph(c).map_or(16, |g| g.width),
        }
    }

    fn width(self, text: &str) -> u32 {
        text.chars().map(|c| self.advance(c)).sum()
    }

    /// Whether the pixel (x, y) of `c`'s cell is lit.
    fn lit(self, c: char, x: u32, y: u32) -> bool {
        match self {
            Face::Small => x < 5 && y < 7 && glyph(c)[y as usize] & (0x10 >> x) != 0,
            Face::Unifont => unifont_glyph(c).is_some_and(|g| {
                x < g.width && y < UNIFONT_ROW_PX && g.rows[y as usize] & (0x8000 >> x) != 0
            }),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn draw_text(
    frame: &mut RgbImage,
    face: Face,
    text: &str,
    x0: i64,
    y0: i64,
    scale: u32,
    color: Rgb<u8>,
) {
    let mut cx = x0;
    for c in text.chars() {
        let advance = face.advance(c);
        for row in 0..face.ink_height() {
            for col in 0..advance {
                if !face.lit(c, col, row) {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let x = cx + i64::from(col * scale + dx);
                        let y = y0 + i64::from(row * scale + dy);
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
        cx += i64::from(advance * scale);
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

/// Chinese text broken between any two characters into lines at most
/// `max_width` pixels wide (scale 1); a punctuation mark never starts a line.
fn wrap_chars(text: &str, max_width: u32) -> Vec<String> {
    let face = Face::Unifont;
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut width = 0;
    for c in text.chars() {
        let advance = face.advance(c);
        if advance > max_width {
            return Vec::new();
        }
        if width + advance > max_width {
            let mut next = String::new();
            if "，、。！？：；”）".contains(c) {
                // Carry the previous character down with the punctuation.
                if let Some(last) = line.pop() {
                    next.push(last);
                }
            }
            lines.push(std::mem::take(&mut line));
            width = face.width(&next);
            line = next;
        }
        if line.is_empty() && c == ' ' {
            continue;
        }
        line.push(c);
        width += advance;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines
        .iter()
        .any(|l| l.is_empty() || face.width(l) > max_width)
    {
        return Vec::new();
    }
    lines
}

/// The text's layout on a canvas: wrapped lines at the largest scale that
/// fits, or `None` when it must scroll.
fn layout(text: &str, width: u32, height: u32) -> Option<(u32, Vec<String>)> {
    let face = Face::of(text);
    (1..=16u32).rev().find_map(|scale| {
        let max_width = width / scale;
        let rows = (height / (face.line_height() * scale)) as usize;
        if max_width == 0 || rows == 0 {
            return None;
        }
        let lines = match face {
            Face::Small => wrap(text, (max_width / CELL_WIDTH) as usize),
            Face::Unifont => wrap_chars(text, max_width),
        };
        (!lines.is_empty() && lines.len() <= rows).then_some((scale, lines))
    })
}

/// Whether `text` needs scrolling on this canvas.
pub fn text_scrolls(text: &str, width: u32, height: u32) -> bool {
    layout(text, width, height).is_none()
}

/// `text` as one line on a strip of the canvas height (what scrolls).
pub fn text_strip(text: &str, height: u32, color: Rgb<u8>) -> RgbImage {
    let face = Face::of(text);
    let scale = (height / face.line_height()).max(1);
    let strip_width = face.width(text) * scale;
    let mut strip = RgbImage::new(strip_width.max(1), height);
    let y = i64::from(height.saturating_sub(face.ink_height() * scale) / 2);
    draw_text(&mut strip, face, text, 0, y, scale, color);
    strip
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
    let face = Face::of(text);
    let mut frame = RgbImage::new(width, height);
    match layout(text, width, height) {
        Some((scale, lines)) => {
            let pitch = face.line_height() * scale;
            let block_height = lines.len() as u32 * pitch;
            let mut top = i64::from(height.saturating_sub(block_height) / 2);
            if face == Face::Small {
                top += i64::from(scale / 2);
            }
            for (i, line) in lines.iter().enumerate() {
                let line_width = face.width(line) * scale;
                let left = i64::from(width.saturating_sub(line_width) / 2);
                let y = top + i64::from(i as u32 * pitch);
                draw_text(&mut frame, face, line, left, y, scale, color);
            }
        }
        None => {
            let strip = text_strip(text, height, color);
            return scroll_window(
                &strip,
                width,
                height,
                builtin_scroll_px_per_second(text, height),
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
        for text in crate::player::builtin::MESSAGES {
            for (w, h) in [
                (352, 80),
                (192, 32),
                (128, 16),
                (96, 16),
                (64, 16),
                (1920, 360),
                (1080, 1920),
                (64, 8),
            ] {
                let frame = text_frame(text, w, h, RED, 3_000);
                assert_eq!((frame.width(), frame.height()), (w, h));
                assert!(lit(&frame) > 20, "{w}x{h} shows {text}");
            }
            assert!(!text_scrolls(text, 352, 80), "{text} fits 352x80");
            assert!(text_scrolls(text, 128, 16), "{text} scrolls on 128x16");
        }
    }

    /// Each Chinese message drawn glyph by glyph: every character's cell
    /// has ink (no missing glyph drawn as a gap), on the 352×80 strip and
    /// scrolled through a 64×16 and a 96×16 mono profile.
    #[test]
    fn chinese_builtin_messages_render_every_glyph() {
        let chinese: Vec<&str> = crate::player::builtin::MESSAGES
            .into_iter()
            .filter(|m| !m.is_ascii())
            .collect();
        assert!(chinese.len() >= 4);
        for text in chinese {
            // Wrapped on 352x80: two lines at double size, all ink present.
            let (scale, lines) = layout(text, 352, 80).unwrap();
            assert_eq!(lines.concat(), text.replace(' ', ""));
            assert!(scale >= 2, "{text}: drawn large on 352x80");
            for height in [16, 80] {
                let strip = text_strip(text, height, RED);
                let scale = (height / 16).max(1);
                let mut x = 0;
                for c in text.chars() {
                    let glyph = unifont_glyph(c).unwrap_or_else(|| panic!("{c:?} missing"));
                    let cell_width = glyph.width * scale;
                    let inked = (x..x + cell_width)
                        .any(|cx| (0..height).any(|y| strip.get_pixel(cx, y).0 != [0, 0, 0]));
                    assert!(inked || c == ' ', "{c:?} of {text} drew nothing");
                    x += cell_width;
                }
                assert_eq!(strip.width(), x);
            }
            for width in [64, 96] {
                assert!(text_scrolls(text, width, 16));
                // Over the scroll the whole strip passes: frames change and show ink.
                let strip = text_strip(text, 16, RED);
                let travel_ms = scroll::scroll_pass_ms(
                    strip.width(),
                    width,
                    builtin_scroll_px_per_second(text, 16),
                );
                let mut shown = 0;
                let mut t = 0;
                while t < travel_ms {
                    if lit(&text_frame(text, width, 16, RED, t)) > 0 {
                        shown += 1;
                    }
                    t += 500;
                }
                assert!(shown as u64 >= travel_ms / 500 - 2, "{text} on {width}x16");
            }
        }
    }

    #[test]
    fn a_scroll_strip_starts_on_the_right_edge_and_moves_with_time() {
        let mut strip = RgbImage::new(100, 10);
        for y in 0..10 {
            strip.put_pixel(0, y, RED);
        }
        // At t=0 the strip's first column is already on the rightmost one
        // (no dark lead-in); after 1 s at 20 px/s it has moved 20 px.
        let frame = scroll_window(&strip, 50, 10, 20, 0);
        assert_eq!(*frame.get_pixel(49, 5), RED);
        assert_eq!(lit(&frame), 10);
        let frame = scroll_window(&strip, 50, 10, 20, 1000);
        assert_eq!(*frame.get_pixel(29, 5), RED);
        assert_eq!(lit(&frame), 10);
        let frame = scroll_window(&strip, 50, 10, 20, 2000);
        assert_eq!(*frame.get_pixel(9, 5), RED);
        // Row copies agree with the protocol's geometry pixel for pixel.
        let mut strip = RgbImage::new(37, 10);
        for (x, y, p) in strip.enumerate_pixels_mut() {
            *p = Rgb([(x * 7) as u8, (y * 20) as u8, 1]);
        }
        for t in (0..4_000).step_by(77) {
            let frame = scroll_window(&strip, 50, 10, 20, t);
            let x0 = scroll::scroll_strip_x(37, 50, 20, t);
            for (x, y, p) in frame.enumerate_pixels() {
                let sx = i64::from(x) - x0;
                let want = if (0..37).contains(&sx) {
                    *strip.get_pixel(sx as u32, y)
                } else {
                    Rgb([0, 0, 0])
                };
                assert_eq!(*p, want, "t={t} x={x}");
            }
        }
    }

    #[test]
    fn stills_are_scaled_to_the_canvas() {
        let img = RgbImage::from_pixel(10, 5, RED);
        let out = fit(img, 352, 80);
        assert_eq!((out.width(), out.height()), (352, 80));
        assert_eq!(lit(&out), 352 * 80);
    }
}
