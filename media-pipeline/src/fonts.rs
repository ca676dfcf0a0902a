//! The embedded LED font: a subset of GNU Unifont 15.0.01 (16 px rows; 8 px
//! wide for Latin, 16 px for CJK), used under the SIL Open Font License 1.1
//! (see `fonts/README.md`).
//!
//! Only parses the embedded `.hex` subset once; no file system, no outline
//! rasterising.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Row height of the bitmap font, in pixels.
pub(crate) const ROW_PX: u32 = 16;

/// One glyph: up to 16 columns by 16 rows, bit 15 is the leftmost column.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Glyph {
    /// Advance and bitmap width: 8 or 16.
    pub(crate) width: u32,
    /// One word per row, top to bottom.
    pub(crate) rows: [u16; 16],
}

impl Glyph {
    pub(crate) fn lit(&self, x: u32, y: u32) -> bool {
        x < self.width && y < ROW_PX && self.rows[y as usize] & (0x8000 >> x) != 0
    }
}

static HEX: &str = include_str!("../fonts/unifont-subset.hex");

fn table() -> &'static HashMap<u32, Glyph> {
    static TABLE: OnceLock<HashMap<u32, Glyph>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = HashMap::with_capacity(23_000);
        for line in HEX.lines() {
            if let Some(glyph) = parse_line(line) {
                map.insert(glyph.0, glyph.1);
            }
        }
        map
    })
}

fn parse_line(line: &str) -> Option<(u32, Glyph)> {
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
    Some((code, Glyph { width, rows }))
}

/// The glyph for `c`, if the font has it.
pub(crate) fn glyph(c: char) -> Option<&'static Glyph> {
    table().get(&(c as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_latin_and_common_hanzi_but_not_emoji() {
        assert_eq!(glyph('A').map(|g| g.width), Some(8));
        assert_eq!(glyph('骗').map(|g| g.width), Some(16));
        assert_eq!(glyph('，').map(|g| g.width), Some(16));
        assert!(glyph('😀').is_none());
        assert!(glyph('\u{20000}').is_none());
        // 'A' has ink, space has none.
        let a = glyph('A').unwrap();
        assert!((0..8).any(|x| (0..16).any(|y| a.lit(x, y))));
        let space = glyph(' ').unwrap();
        assert!(!(0..8).any(|x| (0..16).any(|y| space.lit(x, y))));
    }
}
