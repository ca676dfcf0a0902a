//! The media pipeline (pure CPU: no network, no database, no file system, no
//! clock).
//!
//! Bytes in, validated and re-encoded material out ([`ingest`]); renditions at
//! a screen profile's native size quantised to its colour class ([`render`]);
//! warning texts rendered to LED bitmaps with embedded bitmap CJK fonts
//! ([`render_text`], [`check_glyphs`]); whether a person can read a
//! rendition on its panel ([`judge`], [`check_scroll`]); and LED previews
//! with a visible pixel grid ([`preview`]). Storing, naming files and serving them is the server's
//! job; this crate never sees a path.

mod fonts;
mod ingest;
mod legibility;
mod mp4;
mod preview;
mod render;
pub mod samples;
mod sniff;
mod text;

pub use ingest::{ingest, load_stored, IngestError, Limits, Material, MaterialKind, VideoCodec};
pub use legibility::{check_scroll, judge, judge_refusal, LegibilityProblem};
pub use preview::{lit_pixels, preview};
pub use render::{
    render, render_many, ColorClass, Fit, RenderError, RenderProfile, Rendition, Rgb, LED_GAMMA,
};
pub use text::{
    check_glyphs, glyph_px_for_height, min_legible_glyph_px, render_text, strip_char_spans,
    TextFacts, TextLayout, MIN_GLYPH_PX,
};
