//! The agent's two bitmap faces, drawn at integer scales:
//!
//! - a 5×7 font for ASCII (the English built-in warnings, the identify
//!   screen): uppercase, digits and common punctuation;
//! - GNU Unifont 15.0.01 glyphs (16 px rows; 8 px half-width, 16 px
//!   full-width; SIL Open Font License 1.1, see
//!   `media-pipeline/fonts/README.md`) for exactly the characters of the
//!   built-in Chinese warnings, in `builtin_glyphs.hex`, cut from the media
//!   pipeline's subset. A test checks the file against the messages and
//!   regenerates it with `LEDCAST_REGENERATE_GLYPHS=1`.
//!
//! It does not shape or wrap text (see `render`). Rotation content arrives
//! pre-rendered as bitmaps from the server, so no other CJK text is drawn here.

/// Glyph cell width including one column of spacing.
pub const CELL_WIDTH: u32 = 6;
/// Glyph cell height including one row of spacing.
pub const CELL_HEIGHT: u32 = 8;

/// The 7 rows of a glyph, 5 bits each (bit 4 is the leftmost column).
pub fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1E],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ' ' => [0; 7],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        '\'' => [0x0C, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        '!' => [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '/' => [0x01, 0x02, 0x02, 0x04, 0x08, 0x08, 0x10],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
    }
}

/// Row height of the Unifont face.
pub const UNIFONT_ROW_PX: u32 = 16;

/// The Unifont lines (`CODE:HEX`) of the built-in messages' characters.
pub static BUILTIN_GLYPHS_HEX: &str = include_str!("builtin_glyphs.hex");

/// A Unifont glyph: 8 or 16 columns by 16 rows, bit 15 is the leftmost column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WideGlyph {
    /// Advance and bitmap width: 8 or 16.
    pub width: u32,
    /// One word per row, top to bottom.
    pub rows: [u16; 16],
}

/// The compiled-in Unifont glyph of `c`, if the built-in messages use it.
pub fn unifont_glyph(c: char) -> Option<WideGlyph> {
    let code = format!("{:04X}:", u32::from(c));
    let line = BUILTIN_GLYPHS_HEX
        .lines()
        .find(|l| l.starts_with(code.as_str()))?;
    parse_hex_line(line).map(|(_, g)| g)
}

/// Parses one Unifont `.hex` line.
pub fn parse_hex_line(line: &str) -> Option<(u32, WideGlyph)> {
    let (code, bits) = line.split_once(':')?;
    let code = u32::from_str_radix(code, 16).ok()?;
    let (width, digits) = match bits.len() {
        32 => (8, 2),
        64 => (16, 4),
        _ => return None,
    };
    let mut rows = [0u16; 16];
    for (y, row) in rows.iter_mut().enumerate() {
        let chunk = bits.get(y * digits..(y + 1) * digits)?;
        let v = u16::from_str_radix(chunk, 16).ok()?;
        *row = if width == 8 { v << 8 } else { v };
    }
    Some((code, WideGlyph { width, rows }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::player::builtin::MESSAGES;

    /// The characters drawn with Unifont: those of every non-ASCII message.
    fn needed() -> std::collections::BTreeSet<u32> {
        MESSAGES
            .iter()
            .filter(|m| !m.is_ascii())
            .flat_map(|m| m.chars())
            .map(u32::from)
            .collect()
    }

    #[test]
    fn every_builtin_message_has_all_its_glyphs() {
        for message in MESSAGES {
            for c in message.chars() {
                if message.is_ascii() {
                    assert!(c == '?' || glyph(c) != glyph('?'), "{c:?} in {message}");
                } else {
                    assert!(unifont_glyph(c).is_some(), "{c:?} missing for {message}");
                }
            }
        }
    }

    /// The glyph file holds exactly the needed lines of the media pipeline's
    /// Unifont subset; `LEDCAST_REGENERATE_GLYPHS=1` rewrites it.
    #[test]
    fn builtin_glyph_file_matches_the_messages() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let subset =
            std::fs::read_to_string(root.join("../media-pipeline/fonts/unifont-subset.hex"))
                .expect("the media pipeline's Unifont subset");
        let mut expected = String::new();
        for code in needed() {
            let prefix = format!("{code:04X}:");
            let line = subset
                .lines()
                .find(|l| l.starts_with(prefix.as_str()))
                .unwrap_or_else(|| panic!("U+{code:04X} is not in the Unifont subset"));
            expected.push_str(line);
            expected.push('\n');
        }
        if std::env::var_os("LEDCAST_REGENERATE_GLYPHS").is_some() {
            std::fs::write(root.join("src/display/builtin_glyphs.hex"), &expected).unwrap();
            return;
        }
        assert_eq!(
            BUILTIN_GLYPHS_HEX, expected,
            "builtin_glyphs.hex is out of date: run with LEDCAST_REGENERATE_GLYPHS=1"
        );
    }
}
