//! Warning text → LED bitmap, laid out for the panel that shows it: one long
//! strip for scrolling screens, or a centred page of wrapped lines for still
//! ones, drawn with the embedded bitmap font at whole-pixel scales and lit
//! in the ink colour on every colour class (a mono panel lights the ink
//! whatever its hue).
//!
//! The glyph size follows the panel ([`glyph_px_for_height`]): the 16 px
//! bitmap on 16–31 px panels, 32 px (crisp ×2) on 32–64 px ones, and above
//! that whole multiples of 16 inside a margin of a tenth of the height. A
//! strip starts and ends with ink (no dark lead-in: the agent enters it at
//! the panel's right edge). A page takes the largest scale at which the
//! text fits, and never one smaller than the panel can show legibly
//! ([`min_legible_glyph_px`]).
//!
//! Does not shape complex scripts or draw missing glyphs as tofu: text is
//! checked first and refused with the missing characters named.

use crate::fonts::{glyph, Glyph, ROW_PX};
use crate::render::{quantise_and_encode, still_rendition, Tone, MAX_STRIP_PX};
use crate::{RenderError, RenderProfile, Rendition};

/// How a text is laid out on a screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextLayout {
    /// One line, as wide as it needs, from its first ink column to its last;
    /// the agent scrolls it.
    Strip,
    /// Wrapped lines centred on the screen, at the largest scale that fits.
    Centered,
}

/// What a person notices about a rendered text, kept with its rendition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextFacts {
    /// Strip or page.
    pub layout: TextLayout,
    /// The em size: height (and width) of a full-width character, pixels.
    pub glyph_px: u32,
    /// Lines on the page (1 for a strip).
    pub lines: u32,
    /// Characters drawn (line breaks not counted).
    pub chars: u32,
}

/// The colour warnings are lit in (red on every colour class).
const INK: [u8; 3] = [255, 0, 0];

/// The smallest glyph drawn: the bitmap font's own 16 px rows.
pub const MIN_GLYPH_PX: u32 = ROW_PX;

/// Characters that may stand in a text without a glyph of their own.
fn is_layout_char(c: char) -> bool {
    c == '\n' || c == '\r' || c == '\t'
}

/// Checks that every character of `text` (line breaks aside) has a glyph.
/// Returns each missing character once, in order of appearance.
pub fn check_glyphs(text: &str) -> Result<(), Vec<char>> {
    let mut missing = Vec::new();
    for c in text.chars() {
        if is_layout_char(c) {
            continue;
        }
        if glyph(c).is_none() && !missing.contains(&c) {
            missing.push(c);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

/// The margin kept above and below text on a panel `px` high: none up to
/// 64 px (the font's own cell spacing suffices), a tenth above that.
fn margin(px: u32) -> u32 {
    if px > 64 {
        px / 10
    } else {
        0
    }
}

/// The margin kept left and right of a page on a panel `px` wide: none up
/// to 256 px, a twentieth above that.
fn side_margin(px: u32) -> u32 {
    if px > 256 {
        px / 20
    } else {
        0
    }
}

/// The em size of one line of text on a panel `height` px high: the largest
/// whole multiple of the 16 px bitmap that fits inside the margins; `None`
/// below 16 px.
pub fn glyph_px_for_height(height: u32) -> Option<u32> {
    let usable = height.saturating_sub(2 * margin(height));
    let scale = usable / ROW_PX;
    (scale >= 1).then_some(scale * ROW_PX)
}

/// The smallest glyph a person can read on a panel `height` px high from
/// where that panel is read: 16 px, and at least an eighth of the height
/// (a 16 px line on a 1080 px lobby screen is lost on it).
pub fn min_legible_glyph_px(height: u32) -> u32 {
    MIN_GLYPH_PX.max(height.div_ceil(8))
}

/// Renders `text` for `profile`.
pub fn render_text(
    text: &str,
    profile: &RenderProfile,
    layout: TextLayout,
) -> Result<Rendition, RenderError> {
    check_glyphs(text).map_err(|chars| RenderError::UnknownGlyphs { chars })?;
    if profile.width == 0 || profile.height == 0 || profile.width > 8192 || profile.height > 8192 {
        return Err(RenderError::BadProfile {
            width: profile.width,
            height: profile.height,
        });
    }
    if glyph_px_for_height(profile.height).is_none() {
        return Err(RenderError::ScreenTooShort {
            height: profile.height,
            min: MIN_GLYPH_PX,
        });
    }
    match layout {
        TextLayout::Strip => strip(text, profile),
        TextLayout::Centered => centred(text, profile),
    }
}

/// Where each character of a strip stands: `(character, first column,
/// width)` in strip pixels, spaces included, in order. The same layout as
/// [`render_text`] with [`TextLayout::Strip`], for tests and previews that
/// follow a character across the panel.
pub fn strip_char_spans(text: &str, height: u32) -> Vec<(char, i64, u32)> {
    let Some(em) = glyph_px_for_height(height) else {
        return Vec::new();
    };
    let scale = em / ROW_PX;
    let line = strip_line(text);
    let glyphs = glyphs_of(&line);
    let (left_trim, _) = ink_extent(&glyphs);
    let mut x = -i64::from(left_trim * scale);
    let mut out = Vec::new();
    for (c, g) in line.chars().filter(|c| glyph(*c).is_some()).zip(&glyphs) {
        out.push((c, x, g.width * scale));
        x += i64::from(g.width * scale);
    }
    out
}

fn glyphs_of(line: &str) -> Vec<&'static Glyph> {
    line.chars().filter_map(glyph).collect()
}

fn width_of(glyphs: &[&Glyph]) -> u32 {
    glyphs.iter().map(|g| g.width).sum()
}

fn has_ink(g: &Glyph) -> bool {
    g.rows.iter().any(|r| *r != 0)
}

/// Font columns before the first ink and after the last, over a line.
fn ink_extent(glyphs: &[&Glyph]) -> (u32, u32) {
    let total = width_of(glyphs);
    let mut first = None;
    let mut last = None;
    let mut x = 0;
    for g in glyphs {
        for gx in 0..g.width {
            if (0..ROW_PX).any(|gy| g.lit(gx, gy)) {
                first.get_or_insert(x + gx);
                last = Some(x + gx);
            }
        }
        x += g.width;
    }
    match (first, last) {
        (Some(f), Some(l)) => (f, total - 1 - l),
        _ => (0, 0),
    }
}

/// Draws `glyphs` at (`x`, `y`) with each font pixel `scale`×`scale`;
/// columns left of 0 or right of the canvas are clipped. Returns the ink
/// pixels drawn.
fn draw(canvas: &mut [u8], canvas_w: u32, glyphs: &[&Glyph], x: i64, y: u32, scale: u32) -> u64 {
    let mut pen = x;
    let mut inked = 0;
    for g in glyphs {
        for gy in 0..ROW_PX {
            for gx in 0..g.width {
                if !g.lit(gx, gy) {
                    continue;
                }
                for sy in 0..scale {
                    let row = y + gy * scale + sy;
                    for sx in 0..scale {
                        let col = pen + i64::from(gx * scale + sx);
                        if col < 0 || col >= i64::from(canvas_w) {
                            continue;
                        }
                        let i = ((u64::from(row) * u64::from(canvas_w) + col as u64) * 3) as usize;
                        if i + 3 <= canvas.len() {
                            canvas[i..i + 3].copy_from_slice(&INK);
                            inked += 1;
                        }
                    }
                }
            }
        }
        pen += i64::from(g.width * scale);
    }
    inked
}

/// The text as one line: paragraphs joined by a full-width gap.
fn strip_line(text: &str) -> String {
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("  ")
}

fn count_chars(text: &str) -> u32 {
    text.chars().filter(|c| !is_layout_char(*c)).count() as u32
}

fn strip(text: &str, profile: &RenderProfile) -> Result<Rendition, RenderError> {
    let line = strip_line(text);
    let glyphs = glyphs_of(&line);
    let em = glyph_px_for_height(profile.height).unwrap_or(MIN_GLYPH_PX);
    let scale = em / ROW_PX;
    let (left_trim, right_trim) = ink_extent(&glyphs);
    let font_px = width_of(&glyphs).saturating_sub(left_trim + right_trim);
    let total = u64::from(font_px) * u64::from(scale);
    if total > u64::from(MAX_STRIP_PX) {
        return Err(RenderError::StripTooWide {
            width_px: total,
            max_px: MAX_STRIP_PX,
        });
    }
    let width = (total as u32).max(1);
    let height = profile.height;
    let mut canvas = vec![0u8; width as usize * height as usize * 3];
    let top = (height - em) / 2;
    let left = -i64::from(left_trim * scale);
    draw(&mut canvas, width, &glyphs, left, top, scale);
    let (png, lit) = quantise_and_encode(&mut canvas, width, height, profile.color, Tone::Ink)?;
    let mut rendition = still_rendition(png, width, height, Some(width), lit);
    rendition.text = Some(TextFacts {
        layout: TextLayout::Strip,
        glyph_px: em,
        lines: 1,
        chars: count_chars(&line),
    });
    Ok(rendition)
}

/// Breaks `text` into lines no wider than `max_px` font pixels: at explicit
/// line breaks, between any two CJK characters, and at spaces between Latin
/// words (a word wider than a line is broken anywhere).
fn wrap(text: &str, max_px: u32) -> Vec<Vec<&'static Glyph>> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line: Vec<&'static Glyph> = Vec::new();
        let mut line_px = 0;
        for token in tokens(paragraph.trim()) {
            let glyphs = glyphs_of(&token);
            let token_px = width_of(&glyphs);
            let is_space = token == " ";
            if line_px + token_px > max_px && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_px = 0;
                if is_space {
                    continue;
                }
            }
            if token_px > max_px {
                for g in glyphs {
                    if line_px + g.width > max_px && !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                        line_px = 0;
                    }
                    line.push(g);
                    line_px += g.width;
                }
            } else {
                line.extend(glyphs);
                line_px += token_px;
            }
        }
        // Trailing spaces do not count for centring.
        while line.last().is_some_and(|g| !has_ink(g)) {
            line.pop();
        }
        lines.push(line);
    }
    lines
}

/// Splits into breakable units: runs of ASCII letters/digits stay together,
/// everything else (CJK, punctuation, spaces) is its own unit. Closing
/// punctuation sticks to the character before it.
fn tokens(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || (c.is_ascii_punctuation() && !word.is_empty()) {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        let closing = "，。！？；：、）》」』”’,.!?;:)".contains(c);
        match out.last_mut() {
            Some(prev) if closing && prev != " " => prev.push(c),
            _ => out.push(c.to_string()),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A page layout: scale, lines and the gap between lines (font pixels).
struct Page {
    scale: u32,
    lines: Vec<Vec<&'static Glyph>>,
    gap: u32,
}

/// The largest scale at which `text` fits the panel inside its margins, not
/// below the smallest legible glyph.
fn page_layout(text: &str, profile: &RenderProfile) -> Result<Page, RenderError> {
    let (w, h) = (profile.width, profile.height);
    let usable_w = w.saturating_sub(2 * side_margin(w)).max(1);
    let usable_h = h.saturating_sub(2 * margin(h)).max(1);
    let min_scale = min_legible_glyph_px(h).div_ceil(ROW_PX);
    let max_scale = (usable_h / ROW_PX).max(1);
    let mut scale = max_scale;
    loop {
        let lines = wrap(text, usable_w / scale);
        let n = lines.len() as u32;
        let fits_wide = lines.iter().all(|l| width_of(l) * scale <= usable_w);
        if fits_wide && n * ROW_PX * scale <= usable_h {
            // A blank font row between lines when there is room for it.
            let gap = u32::from(n > 1 && n * ROW_PX * scale + (n - 1) * 2 * scale <= usable_h) * 2;
            return Ok(Page { scale, lines, gap });
        }
        if scale <= min_scale || scale == 1 {
            let glyph_px = ROW_PX * scale;
            let per_line = (usable_w / glyph_px).max(1);
            let lines_available = (usable_h / glyph_px).max(1);
            return Err(RenderError::TextDoesNotFit {
                lines_needed: n,
                lines_available,
                line_height: glyph_px,
                width: w,
                height: h,
                max_chars: per_line * lines_available,
            });
        }
        scale -= 1;
    }
}

fn centred(text: &str, profile: &RenderProfile) -> Result<Rendition, RenderError> {
    let (w, h) = (profile.width, profile.height);
    let Page { scale, lines, gap } = page_layout(text, profile)?;
    let mut canvas = vec![0u8; w as usize * h as usize * 3];
    let pitch = (ROW_PX + gap) * scale;
    let block = lines.len() as u32 * pitch - gap * scale;
    let top = (h - block) / 2;
    for (i, line) in lines.iter().enumerate() {
        let left = (w - width_of(line) * scale) / 2;
        draw(
            &mut canvas,
            w,
            line,
            i64::from(left),
            top + i as u32 * pitch,
            scale,
        );
    }
    let (png, lit) = quantise_and_encode(&mut canvas, w, h, profile.color, Tone::Ink)?;
    let mut rendition = still_rendition(png, w, h, None, lit);
    rendition.text = Some(TextFacts {
        layout: TextLayout::Centered,
        glyph_px: ROW_PX * scale,
        lines: lines.len() as u32,
        chars: count_chars(text),
    });
    Ok(rendition)
}
