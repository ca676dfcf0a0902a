//! The embedded LED font: a subset of GNU Unifont 15.0.01 (16 px rows; 8 px
//! wide for Latin, 16 px for CJK), used under the SIL Open Font License 1.1
//! (see `fonts/README.md`).
//!
//! Only parses the embedded `.hex` subset once; no file system, no outline
//! rasterising.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Row height of the bitmap font, in pixels.
pub(crate) const ROW_PX: u32 = ledcast_hexfont::ROW_PX;

/// One glyph: up to 16 columns by 16 rows (the shared `.hex` parser's).
pub(crate) use ledcast_hexfont::Glyph;

static HEX: &str = include_str!("../fonts/unifont-subset.hex");

fn table() -> &'static HashMap<u32, Glyph> {
    static TABLE: OnceLock<HashMap<u32, Glyph>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut map = HashMap::with_capacity(23_000);
        for line in HEX.lines() {
            if let Some(glyph) = ledcast_hexfont::parse_line(line) {
                map.insert(glyph.0, glyph.1);
            }
        }
        map
    })
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
