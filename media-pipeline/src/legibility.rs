//! Legibility is a rule: what a person at the panel can read, judged from a
//! rendition (or from why it could not be made), in plain Chinese and
//! English. The upload response, the material page and the compiler's
//! diagnostics all take their verdicts from here; the reading-time numbers
//! come from `ledcast_protocol::v1::scroll`.
//!
//! Judges only; renders nothing and knows no screens or schedules.

use ledcast_protocol::v1::scroll;

use crate::text::{min_legible_glyph_px, MIN_GLYPH_PX};
use crate::{RenderError, RenderProfile, Rendition, TextLayout};

/// Why a rendition cannot be read on its panel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegibilityProblem {
    /// Not one LED is lit.
    NoLitPixels,
    /// Characters smaller than the panel can show legibly.
    GlyphTooSmall {
        /// The glyph size drawn (0: none fits at all).
        glyph_px: u32,
        /// The smallest legible glyph on this panel.
        min_px: u32,
        /// Panel height.
        height: u32,
    },
    /// A still page cannot hold the text at a legible size.
    DoesNotFit {
        /// Characters in the text.
        chars: u32,
        /// The most that fit.
        max_chars: u32,
        /// Panel size.
        width: u32,
        /// Panel size.
        height: u32,
    },
    /// A scroll moves each character off the panel before it can be read.
    ScrollTooFast {
        /// How long each character is wholly on the panel.
        visible_ms: u64,
        /// The reading time.
        min_ms: u64,
        /// The profile's reading speed.
        chars_per_second: String,
    },
}

impl LegibilityProblem {
    /// A stable code (`no_lit_pixels`, `glyph_too_small`, `does_not_fit`, `scroll_too_fast`).
    pub fn code(&self) -> &'static str {
        match self {
            LegibilityProblem::NoLitPixels => "no_lit_pixels",
            LegibilityProblem::GlyphTooSmall { .. } => "glyph_too_small",
            LegibilityProblem::DoesNotFit { .. } => "does_not_fit",
            LegibilityProblem::ScrollTooFast { .. } => "scroll_too_fast",
        }
    }

    /// The problem in plain English, with what to do.
    pub fn en(&self) -> String {
        match self {
            LegibilityProblem::NoLitPixels => {
                "the screen would stay dark: not one LED is lit (a dark picture on a one-colour screen, or a text with nothing visible); use brighter content or visible characters".into()
            }
            LegibilityProblem::GlyphTooSmall { glyph_px: 0, min_px, height } => format!(
                "the screen is only {height} px high; Chinese characters need at least {min_px} px rows; show this text on a taller screen"
            ),
            LegibilityProblem::GlyphTooSmall { glyph_px, min_px, height } => format!(
                "characters would be {glyph_px} px high, too small to read on a {height} px high screen (at least {min_px} px); shorten the text"
            ),
            LegibilityProblem::DoesNotFit { chars, max_chars, width, height } => format!(
                "{chars} characters do not fit the {width}×{height} screen, which cannot scroll, at a readable size (at most {max_chars}); shorten the text to {max_chars} characters or fewer"
            ),
            LegibilityProblem::ScrollTooFast { visible_ms, min_ms, chars_per_second } => format!(
                "the text scrolls too fast to read: each character is on the screen for {:.1} s, less than {:.1} s (speed {chars_per_second} characters per second); lower scroll_chars_per_second for this profile",
                *visible_ms as f64 / 1000.0,
                *min_ms as f64 / 1000.0
            ),
        }
    }

    /// The problem in plain Chinese, with what to do.
    pub fn zh(&self) -> String {
        match self {
            LegibilityProblem::NoLitPixels => {
                "屏幕会是全黑的：没有一个灯点亮（单色屏上的深色图片，或没有可见字符的文字）；请换用更亮的内容或可见的文字".into()
            }
            LegibilityProblem::GlyphTooSmall { glyph_px: 0, min_px, height } => format!(
                "这块屏只有 {height} 像素高，汉字至少需要 {min_px} 像素；请把这条文字放到更高的屏上"
            ),
            LegibilityProblem::GlyphTooSmall { glyph_px, min_px, height } => format!(
                "字只有 {glyph_px} 像素高，在 {height} 像素高的屏上看不清（至少 {min_px} 像素）；请缩短文字"
            ),
            LegibilityProblem::DoesNotFit { chars, max_chars, width, height } => format!(
                "{chars} 个字放不进 {width}×{height} 的屏（这块屏不能滚动），能看清的最多 {max_chars} 个字；请把文字缩短到 {max_chars} 个字以内"
            ),
            LegibilityProblem::ScrollTooFast { visible_ms, min_ms, chars_per_second } => format!(
                "滚动太快看不清：每个字在屏上只停留 {:.1} 秒，少于 {:.1} 秒（每秒 {chars_per_second} 个字）；请调低该屏型的 scroll_chars_per_second",
                *visible_ms as f64 / 1000.0,
                *min_ms as f64 / 1000.0
            ),
        }
    }
}

/// The problems a person would have reading `rendition` on `profile`
/// (pixels and glyph size; see [`check_scroll`] for the speed).
pub fn judge(rendition: &Rendition, profile: &RenderProfile) -> Vec<LegibilityProblem> {
    let mut problems = Vec::new();
    if rendition.lit_pixels == Some(0) {
        problems.push(LegibilityProblem::NoLitPixels);
    }
    if let Some(text) = &rendition.text {
        let min_px = match text.layout {
            // A strip's glyph follows the height and is as large as it gets.
            TextLayout::Strip => MIN_GLYPH_PX,
            TextLayout::Centered => min_legible_glyph_px(profile.height),
        };
        if text.glyph_px < min_px {
            problems.push(LegibilityProblem::GlyphTooSmall {
                glyph_px: text.glyph_px,
                min_px,
                height: profile.height,
            });
        }
    }
    problems
}

/// The legibility problem behind a text rendition that could not be made,
/// if the reason is one (`chars`: the text's length).
pub fn judge_refusal(
    error: &RenderError,
    profile: &RenderProfile,
    chars: u32,
) -> Option<LegibilityProblem> {
    match error {
        RenderError::ScreenTooShort { height, min } => Some(LegibilityProblem::GlyphTooSmall {
            glyph_px: 0,
            min_px: *min,
            height: *height,
        }),
        RenderError::TextDoesNotFit { max_chars, .. } => Some(LegibilityProblem::DoesNotFit {
            chars,
            max_chars: *max_chars,
            width: profile.width,
            height: profile.height,
        }),
        _ => None,
    }
}

/// Whether a strip with `glyph_px` characters, scrolled over a panel
/// `screen_width_px` wide at `chars_per_second`, keeps each character on
/// the panel for a reading time.
pub fn check_scroll(
    glyph_px: u32,
    screen_width_px: u32,
    chars_per_second: f64,
) -> Option<LegibilityProblem> {
    let speed = scroll::px_per_second(chars_per_second, glyph_px);
    let visible_ms = scroll::char_visible_ms(glyph_px, screen_width_px, speed);
    (visible_ms < scroll::MIN_CHAR_VISIBLE_MS).then(|| LegibilityProblem::ScrollTooFast {
        visible_ms,
        min_ms: scroll::MIN_CHAR_VISIBLE_MS,
        chars_per_second: format!("{chars_per_second}"),
    })
}
