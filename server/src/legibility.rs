//! What a person can read, per (material, profile): the facts the media
//! pipeline measured on a rendition (glyph size, length, lit LEDs) and its
//! legibility verdict in Chinese and English, kept with the rendition, and
//! turned into the compiler's catalog entry. One description feeds the
//! upload response, the material page, the compiler and compliance.
//!
//! The verdicts themselves come from `ledcast_media::judge`,
//! `judge_refusal` and `check_scroll`; this module only carries them.

use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;
use serde::{Deserialize, Serialize};

/// One legibility problem, in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `no_lit_pixels`, `glyph_too_small`, `does_not_fit`, `scroll_too_fast`.
    pub code: String,
    /// Plain English, with what to do.
    pub en: String,
    /// Plain Chinese, with what to do.
    #[serde(rename = "zh-CN")]
    pub zh: String,
}

impl From<&ledcast_media::LegibilityProblem> for Problem {
    fn from(p: &ledcast_media::LegibilityProblem) -> Problem {
        Problem {
            code: p.code().to_owned(),
            en: p.en(),
            zh: p.zh(),
        }
    }
}

/// What the renderer measured on one rendition (stored as JSON with it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenditionFacts {
    /// LEDs lit (`None` for video).
    #[serde(default)]
    pub lit_pixels: Option<u64>,
    /// For a text: the em size in pixels.
    #[serde(default)]
    pub glyph_px: Option<u32>,
    /// For a text: lines on the page (1 for a strip).
    #[serde(default)]
    pub lines: Option<u32>,
    /// For a text: characters drawn.
    #[serde(default)]
    pub chars: Option<u32>,
    /// Why a person could not read it on its panel (empty: legible). The
    /// scroll speed is not judged here (it depends on the profile's reading
    /// speed, which may change without a new rendition).
    #[serde(default)]
    pub problems: Vec<Problem>,
}

impl RenditionFacts {
    /// The facts of a fresh rendition for `profile`.
    pub fn of(
        rendition: &ledcast_media::Rendition,
        profile: &ledcast_media::RenderProfile,
    ) -> RenditionFacts {
        RenditionFacts {
            lit_pixels: rendition.lit_pixels,
            glyph_px: rendition.text.as_ref().map(|t| t.glyph_px),
            lines: rendition.text.as_ref().map(|t| t.lines),
            chars: rendition.text.as_ref().map(|t| t.chars),
            problems: ledcast_media::judge(rendition, profile)
                .iter()
                .map(Problem::from)
                .collect(),
        }
    }

    /// The compiler's view of a rendition with these facts.
    pub fn catalog_rendition(
        &self,
        media: protocol::MediaRef,
        strip_width_px: Option<u32>,
    ) -> compiler::Rendition {
        compiler::Rendition {
            media,
            strip_width_px,
            text: match (self.glyph_px, self.chars) {
                (Some(glyph_px), Some(chars)) => Some(compiler::TextMetrics { glyph_px, chars }),
                _ => None,
            },
            problems: self.problems.iter().map(|p| p.en.clone()).collect(),
        }
    }
}

/// The render target for a compiler profile (the same mapping as the
/// stored profile rows: see `service::render_profile`).
pub fn render_profile(profile: &compiler::model::Profile) -> ledcast_media::RenderProfile {
    ledcast_media::RenderProfile {
        width: profile.width,
        height: profile.height,
        color: match profile.color {
            compiler::model::ColorClass::Mono => ledcast_media::ColorClass::Mono,
            compiler::model::ColorClass::Dual => ledcast_media::ColorClass::Dual,
            compiler::model::ColorClass::Full => ledcast_media::ColorClass::Full,
        },
        video: profile.video,
        scroll: profile.scroll,
    }
}

/// The problems of one material on one profile for the upload response and
/// the material page: the stored facts, a refusal, and the scroll speed.
pub fn problems_on(
    facts: Option<&RenditionFacts>,
    refusal: Option<&Problem>,
    profile: &compiler::model::Profile,
) -> Vec<Problem> {
    let mut out: Vec<Problem> = refusal.into_iter().cloned().collect();
    if let Some(facts) = facts {
        out.extend(facts.problems.iter().cloned());
        if profile.scroll {
            if let Some(glyph_px) = facts.glyph_px {
                if let Some(p) = ledcast_media::check_scroll(
                    glyph_px,
                    profile.width,
                    profile.scroll_chars_per_second,
                ) {
                    out.push(Problem::from(&p));
                }
            }
        }
    }
    out
}
