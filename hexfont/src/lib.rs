//! GNU Unifont's `.hex` format: one glyph per line, `CODE:BITS`, 16 rows
//! of 8 columns (32 hex digits) or 16 columns (64 hex digits). The media
//! pipeline renders warning texts with it on the server and the agent
//! draws its built-in warnings with it, from the same parser.
//!
//! Pure: no I/O, no allocation per glyph.

/// Row height of a Unifont glyph, in pixels.
pub const ROW_PX: u32 = 16;

/// One glyph: 8 or 16 columns by 16 rows, bit 15 is the leftmost column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Glyph {
    /// Advance and bitmap width: 8 or 16.
    pub width: u32,
    /// One word per row, top to bottom.
    pub rows: [u16; 16],
}

impl Glyph {
    /// Whether the pixel at column `x`, row `y` is lit.
    pub fn lit(&self, x: u32, y: u32) -> bool {
        x < self.width && y < ROW_PX && self.rows[y as usize] & (0x8000 >> x) != 0
    }
}

/// Parses one `.hex` line into its code point and glyph; `None` for a line
/// that is not one (a comment, a wrong length, a bad digit).
pub fn parse_line(line: &str) -> Option<(u32, Glyph)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_and_full_width_lines_parse_and_others_do_not() {
        // 'A' (half width) and 中 (full width), the lines of media-pipeline/fonts/unifont-subset.hex.
        let (code, a) = parse_line("0041:0000000018242442427E424242420000").unwrap();
        assert_eq!((code, a.width), (0x41, 8));
        assert!(a.lit(3, 4) && !a.lit(0, 4), "the top of the A");
        let (code, zh) =
            parse_line("4E2D:01000100010001003FF8210821082108210821083FF821080100010001000100")
                .unwrap();
        assert_eq!((code, zh.width), (0x4E2D, 16));
        assert!(zh.lit(7, 0) && !zh.lit(8, 0), "the stroke's top");
        assert!(!zh.lit(16, 0), "nothing right of the cell");
        for bad in [
            "",
            "0041",
            "0041:00",
            "zz41:0000000018242442427E424242420000",
            "0041:000000001824244242XX424242420000",
        ] {
            assert_eq!(parse_line(bad), None, "{bad:?}");
        }
    }
}
