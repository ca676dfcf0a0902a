//! Warning text → LED bitmap: one long strip for scrolling screens, or a
//! centred, wrapped page for static ones, drawn with the embedded bitmap font
//! at whole-pixel scales (16 px rows, ×2, ×3 … for taller screens), lit in
//! red and quantised like any rendition.
//!
//! Does not shape complex scripts or draw missing glyphs as tofu: text is
//! checked first and refused with the missing characters named.

use crate::fonts::{glyph, Glyph, ROW_PX};
use crate::render::{quantise_and_encode, still_rendition, Tone, MAX_STRIP_PX};
use crate::{RenderError, RenderProfile, Rendition};

/// How a text is laid out on a screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextLayout {
    /// One line, as wide as it needs, starting with `lead_in_px` dark
    /// columns; the agent scrolls it.
    Strip {
        /// Dark columns before the text.
        lead_in_px: u32,
    },
    /// Wrapped lines centred on the screen, at the largest scale that fits.
    Centered,
}

/// The colour warnings are lit in (red on every colour class).
const INK: [u8; 3] = [255, 0, 0];

/// Checks that every character of `text` (line breaks aside) has a glyph.
/// Returns each missing character once, in order of appearance.
pub fn check_glyphs(text: &str) -> Result<(), Vec<char>> {
    let mut missing = Vec::new();
    for c in text.chars() {
        if c == '\n' || c == '\r' || c == '\t' {
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

/// How long a strip takes to scroll across a screen at `px_per_second`: from
/// its first column entering at the right edge until its last column leaves
/// at the left edge, rounded up to a millisecond.
pub fn scroll_duration_ms(strip_width_px: u32, screen_width_px: u32, px_per_second: u32) -> u64 {
    let distance = u64::from(strip_width_px) + u64::from(screen_width_px);
    let speed = u64::from(px_per_second.max(1));
    (distance * 1000).div_ceil(speed)
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
    if profile.height < ROW_PX {
        return Err(RenderError::ScreenTooShort {
            height: profile.height,
            min: ROW_PX,
        });
    }
    match layout {
        TextLayout::Strip { lead_in_px } => strip(text, profile, lead_in_px),
        TextLayout::Centered => centred(text, profile),
    }
}

fn glyphs_of(line: &str) -> Vec<&'static Glyph> {
    line.chars().filter_map(glyph).collect()
}

fn width_of(glyphs: &[&Glyph]) -> u32 {
    glyphs.iter().map(|g| g.width).sum()
}

/// Draws `glyphs` at (`x`, `y`) with each font pixel `scale`×`scale`.
fn draw(canvas: &mut [u8], canvas_w: u32, glyphs: &[&Glyph], x: u32, y: u32, scale: u32) {
    let mut pen = x;
    for g in glyphs {
        for gy in 0..ROW_PX {
            for gx in 0..g.width {
                if !g.lit(gx, gy) {
                    continue;
                }
                for sy in 0..scale {
                    let row = y + gy * scale + sy;
                    for sx in 0..scale {
                        let col = pen + gx * scale + sx;
                        if col < canvas_w {
                            let i = ((row * canvas_w + col) * 3) as usize;
                            if i + 3 <= canvas.len() {
                                canvas[i..i + 3].copy_from_slice(&INK);
                            }
                        }
                    }
                }
            }
        }
        pen += g.width * scale;
    }
}

fn strip(text: &str, profile: &RenderProfile, lead_in_px: u32) -> Result<Rendition, RenderError> {
    let one_line: String = text
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("  ");
    let glyphs = glyphs_of(&one_line);
    let scale = profile.height / ROW_PX;
    let text_px = u64::from(width_of(&glyphs)) * u64::from(scale);
    let total = u64::from(lead_in_px) + text_px;
    if total > u64::from(MAX_STRIP_PX) {
        return Err(RenderError::StripTooWide {
            width_px: total,
            max_px: MAX_STRIP_PX,
        });
    }
    let width = (total as u32).max(1);
    let height = profile.height;
    let mut canvas = vec![0u8; width as usize * height as usize * 3];
    let top = (height - ROW_PX * scale) / 2;
    draw(&mut canvas, width, &glyphs, lead_in_px, top, scale);
    let png = quantise_and_encode(&mut canvas, width, height, profile.color, Tone::Threshold)?;
    Ok(still_rendition(png, width, height, Some(width)))
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
        while line.last().is_some_and(|g| g.rows.iter().all(|r| *r == 0)) {
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

fn centred(text: &str, profile: &RenderProfile) -> Result<Rendition, RenderError> {
    let (w, h) = (profile.width, profile.height);
    let mut scale = h / ROW_PX;
    let lines = loop {
        let lines = wrap(text, w / scale);
        let fits = lines.len() as u32 * ROW_PX * scale <= h
            && lines.iter().all(|l| width_of(l) * scale <= w);
        if fits {
            break lines;
        }
        if scale == 1 {
            return Err(RenderError::TextDoesNotFit {
                lines_needed: lines.len() as u32,
                lines_available: h / ROW_PX,
                line_height: ROW_PX,
                width: w,
                height: h,
            });
        }
        scale -= 1;
    };
    let mut canvas = vec![0u8; w as usize * h as usize * 3];
    let block = lines.len() as u32 * ROW_PX * scale;
    let top = (h - block) / 2;
    for (i, line) in lines.iter().enumerate() {
        let left = (w - width_of(line) * scale) / 2;
        draw(
            &mut canvas,
            w,
            line,
            left,
            top + i as u32 * ROW_PX * scale,
            scale,
        );
    }
    let png = quantise_and_encode(&mut canvas, w, h, profile.color, Tone::Threshold)?;
    Ok(still_rendition(png, w, h, None))
}
