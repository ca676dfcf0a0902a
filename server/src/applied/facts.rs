//! What the renderer measured on one rendition, kept with it as JSON
//! (glyph size, lines, lit LEDs, a video's codec) and the legibility
//! problems found, in both languages. The catalog reads them for every
//! compile; [`crate::legibility`] says what they mean to a person.

use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;
use serde::{Deserialize, Serialize};

/// One legibility problem, in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// For a video: its codec as probed (its size is the rendition's).
    /// Video renditions stored before it was recorded are made again.
    #[serde(default)]
    pub video_codec: Option<compiler::model::VideoCodec>,
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
            video_codec: rendition.video_codec.map(video_codec),
        }
    }

    /// Whether facts stored as `json` for a rendition of type `mime` say
    /// all a compile needs (else the rendition is made again): any facts
    /// for a still or a strip, the codec too for a video.
    pub fn complete(json: Option<&str>, mime: &str) -> bool {
        let Some(json) = json else { return false };
        mime != "video/mp4"
            || serde_json::from_str::<RenditionFacts>(json).is_ok_and(|f| f.video_codec.is_some())
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
            video_codec: self.video_codec,
            problems: self.problems.iter().map(|p| p.en.clone()).collect(),
        }
    }
}

/// The compiler's name for a codec the media pipeline probed.
pub fn video_codec(codec: ledcast_media::VideoCodec) -> compiler::model::VideoCodec {
    match codec {
        ledcast_media::VideoCodec::H264 => compiler::model::VideoCodec::H264,
        ledcast_media::VideoCodec::H265 => compiler::model::VideoCodec::H265,
    }
}
