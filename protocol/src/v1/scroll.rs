//! How a warning text moves and how long its slot lasts: the one place that
//! turns a reading speed into pixels per second, a strip into a pass, and a
//! text into a slot duration. The compiler (slot durations, legibility
//! rules), `explain`, the stored rotation, the agent (where the strip is on
//! the panel) and the UI previews all call these functions, so they cannot
//! disagree.
//!
//! A scroll pass: at the slot's start the strip's first column is already on
//! the panel's rightmost column (no dark lead-in), the strip moves left at
//! `px_per_second`, and the pass ends when its last column has left the
//! leftmost one. Agents built before this module start one column further
//! right and end one column later; the difference is one pixel's time.
//!
//! Pure arithmetic: no clock, no pixels.

/// The reading speed a profile gets when it names none: full-width
/// characters (汉字) per second. Half-width characters (Latin letters,
/// digits) move at the same pixel speed, so two of them pass per character.
pub const DEFAULT_CHARS_PER_SECOND: f64 = 3.0;

/// A scroll must keep every full-width character wholly on the panel at
/// least this long, or the text is not legible (the reading-time rule).
pub const MIN_CHAR_VISIBLE_MS: u64 = 1_000;

/// Pixels per second that move `chars_per_second` full-width characters of
/// `glyph_px` (the em size) across a panel; at least 1.
pub fn px_per_second(chars_per_second: f64, glyph_px: u32) -> u32 {
    let px = (chars_per_second.max(0.0) * f64::from(glyph_px)).round();
    if px.is_finite() && px >= 1.0 {
        px.min(f64::from(u32::MAX)) as u32
    } else {
        1
    }
}

/// One pass of a strip `strip_width_px` wide over a panel `screen_width_px`
/// wide at `px_per_second`: from its first column on the panel's rightmost
/// column until its last column has left the panel, rounded up to a
/// millisecond (at least 1 ms).
pub fn scroll_pass_ms(strip_width_px: u32, screen_width_px: u32, px_per_second: u32) -> u64 {
    let travel = u64::from(strip_width_px) + u64::from(screen_width_px.max(1)) - 1;
    let speed = u64::from(px_per_second.max(1));
    (travel * 1000).div_ceil(speed).max(1)
}

/// The panel column (may be negative or past the right edge) where the
/// strip's first column stands `elapsed_ms` after the slot began. Passes
/// repeat: a slot longer than one pass starts the next one at once.
pub fn scroll_strip_x(
    strip_width_px: u32,
    screen_width_px: u32,
    px_per_second: u32,
    elapsed_ms: u64,
) -> i64 {
    let pass = scroll_pass_ms(strip_width_px, screen_width_px, px_per_second);
    let into_pass = elapsed_ms % pass;
    let moved = into_pass * u64::from(px_per_second.max(1)) / 1000;
    i64::from(screen_width_px.max(1)) - 1 - moved as i64
}

/// How long one full-width character of `glyph_px` stays wholly on a panel
/// `screen_width_px` wide when the strip moves at `px_per_second` (0 when
/// the glyph is wider than the panel).
pub fn char_visible_ms(glyph_px: u32, screen_width_px: u32, px_per_second: u32) -> u64 {
    let room = u64::from(screen_width_px.saturating_sub(glyph_px));
    room * 1000 / u64::from(px_per_second.max(1))
}

/// The time a person needs to read a still page of `chars` characters at
/// `chars_per_second`, rounded up to a second.
pub fn reading_ms(chars: u32, chars_per_second: f64) -> u64 {
    let cps = if chars_per_second.is_finite() && chars_per_second > 0.0 {
        chars_per_second
    } else {
        DEFAULT_CHARS_PER_SECOND
    };
    let seconds = (f64::from(chars) / cps).ceil();
    (seconds.min(86_400.0) as u64) * 1000
}

/// How a text slot is shown, as far as its duration is concerned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TextSlotLayout {
    /// A strip moving across the panel.
    Scroll {
        /// Strip width in pixels.
        strip_width_px: u32,
        /// Panel width in pixels.
        screen_width_px: u32,
        /// Speed (see [`px_per_second`]).
        px_per_second: u32,
    },
    /// A still page of wrapped lines.
    Page {
        /// Characters on the page (line breaks not counted).
        chars: u32,
        /// Reading speed.
        chars_per_second: f64,
    },
}

/// The duration of a text slot: the one function the compiler, `explain`,
/// the UI and the glass test use.
///
/// - A scroll lasts whole passes, so every character crosses the panel:
///   one pass, or as many as `requested_ms` needs (rounded up).
/// - A page lasts `requested_ms` (else `default_still_ms`), but never less
///   than its reading time ([`reading_ms`]).
pub fn text_slot_duration_ms(
    layout: TextSlotLayout,
    requested_ms: Option<u64>,
    default_still_ms: u64,
) -> u64 {
    match layout {
        TextSlotLayout::Scroll {
            strip_width_px,
            screen_width_px,
            px_per_second,
        } => {
            let pass = scroll_pass_ms(strip_width_px, screen_width_px, px_per_second);
            let passes = requested_ms.map_or(1, |r| r.div_ceil(pass).max(1));
            pass.saturating_mul(passes)
        }
        TextSlotLayout::Page {
            chars,
            chars_per_second,
        } => requested_ms
            .unwrap_or(default_still_ms)
            .max(reading_ms(chars, chars_per_second))
            .max(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_starts_with_the_first_column_on_the_panel_and_ends_when_the_last_leaves() {
        // 100 px strip, 50 px panel, 20 px/s: travel 149 px = 7.45 s.
        let pass = scroll_pass_ms(100, 50, 20);
        assert_eq!(pass, 7_450);
        assert_eq!(scroll_strip_x(100, 50, 20, 0), 49);
        assert_eq!(scroll_strip_x(100, 50, 20, 1_000), 29);
        // Just before the end the last column (x + 99) is on column 0.
        assert_eq!(scroll_strip_x(100, 50, 20, pass - 1) + 99, 0);
        // The next pass starts over.
        assert_eq!(scroll_strip_x(100, 50, 20, pass), 49);
    }

    #[test]
    fn every_instant_of_a_pass_shows_part_of_the_strip() {
        for (strip, width, speed) in [(1, 1, 1), (7, 352, 192), (2000, 192, 96), (9000, 1920, 864)]
        {
            let pass = scroll_pass_ms(strip, width, speed);
            for t in (0..pass)
                .step_by((pass / 997).max(1) as usize)
                .chain([pass - 1])
            {
                let x = scroll_strip_x(strip, width, speed, t);
                let first_on = x.max(0);
                let last_on = (x + i64::from(strip) - 1).min(i64::from(width) - 1);
                assert!(
                    first_on <= last_on,
                    "{strip}/{width}/{speed} at {t} ms: x={x}"
                );
            }
        }
    }

    #[test]
    fn reading_speed_sets_pixels_and_the_time_a_character_is_on_the_panel() {
        assert_eq!(px_per_second(3.0, 64), 192);
        assert_eq!(px_per_second(0.0, 64), 1);
        // Door strip: 352 px wide, 64 px glyphs at 3 chars/s: 1.5 s wholly visible.
        assert_eq!(char_visible_ms(64, 352, 192), 1_500);
        assert_eq!(char_visible_ms(400, 352, 192), 0);
    }

    #[test]
    fn text_slots_last_whole_passes_or_their_reading_time() {
        let scroll = TextSlotLayout::Scroll {
            strip_width_px: 100,
            screen_width_px: 50,
            px_per_second: 20,
        };
        assert_eq!(text_slot_duration_ms(scroll, None, 10_000), 7_450);
        assert_eq!(text_slot_duration_ms(scroll, Some(1_000), 10_000), 7_450);
        assert_eq!(text_slot_duration_ms(scroll, Some(8_000), 10_000), 14_900);
        let page = TextSlotLayout::Page {
            chars: 29,
            chars_per_second: 3.0,
        };
        assert_eq!(text_slot_duration_ms(page, None, 10_000), 10_000);
        assert_eq!(text_slot_duration_ms(page, None, 5_000), 10_000);
        assert_eq!(text_slot_duration_ms(page, Some(20_000), 5_000), 20_000);
    }
}
