//! What a person can read, per (material, profile): the facts the media
//! pipeline measured on a rendition (glyph size, length, lit LEDs; a
//! video's codec) and its legibility verdict in Chinese and English, kept
//! with the rendition, and turned into the compiler's catalog entry. One
//! description feeds the upload response, the material page, the compiler
//! and compliance. A video the profile's player box cannot decode (its
//! codec or size, `Profile::video_mismatch`) is a problem here too, and a
//! video no profile can play is refused at upload
//! ([`video_playable_nowhere`]).
//!
//! The verdicts themselves come from `ledcast_media::judge`,
//! `judge_refusal`, `check_scroll` and the compiler's
//! `Profile::video_mismatch`; this module only carries them. The words of
//! the video verdicts are the catalogues' (`server/locales/`, `diag_*`).

use ledcast_compiler as compiler;
use ledcast_protocol::v1 as protocol;
use serde::Serialize;

pub use crate::applied::facts::{video_codec, Problem, RenditionFacts};

/// Why `profile`'s player box cannot play a video rendition of `width` ×
/// `height` in `codec`, with what to do, in both languages (`None`: it
/// can; whether the profile plays video at all is the renderer's check).
pub fn video_problem(
    profile: &compiler::model::Profile,
    width: u32,
    height: u32,
    codec: compiler::model::VideoCodec,
) -> Option<Problem> {
    let mismatch = profile.video_mismatch(width, height, codec)?;
    let params = mismatch_params(&mismatch);
    let say = |lang| crate::i18n::diagnostics::said_key(lang, "video_on_profile", &params);
    Some(Problem {
        code: mismatch.key().to_owned(),
        en: say(crate::i18n::Lang::En).unwrap_or_else(|| mismatch.en()),
        zh: say(crate::i18n::Lang::ZhCn).unwrap_or_else(|| mismatch.en()),
    })
}

/// Why no profile of `profiles` can play a `width` × `height` video in
/// `codec`: each profile's reason, in both languages (code
/// `video_playable_nowhere`). `None` when one can, or when there is no
/// profile to judge by (nothing applied yet).
pub fn video_playable_nowhere(
    profiles: &[compiler::model::Profile],
    width: u32,
    height: u32,
    codec: compiler::model::VideoCodec,
) -> Option<Problem> {
    let mut reasons: Vec<Vec<(&str, String)>> = Vec::new();
    for profile in profiles {
        let mut params = vec![("profile", profile.id.clone())];
        if !profile.video {
            params.extend([
                (
                    "why",
                    "a video on a screen that cannot play video".to_owned(),
                ),
                ("why_key", "video_without_video".to_owned()),
            ]);
        } else {
            // A profile whose box decodes it: playable somewhere.
            params.extend(mismatch_params(
                &profile.video_mismatch(width, height, codec)?,
            ));
        }
        reasons.push(params);
    }
    if reasons.is_empty() {
        return None;
    }
    let say = |lang: crate::i18n::Lang| {
        let separator =
            crate::i18n::diagnostics::said_key(lang, "list_separator", &[]).unwrap_or_default();
        let each: Vec<String> = reasons
            .iter()
            .map(|params| {
                crate::i18n::diagnostics::said_key(lang, "video_reason_on", params)
                    .unwrap_or_default()
            })
            .collect();
        crate::i18n::diagnostics::said_key(
            lang,
            "video_playable_nowhere",
            &[("reasons", each.join(&separator))],
        )
        .unwrap_or_default()
    };
    Some(Problem {
        code: "video_playable_nowhere".to_owned(),
        en: say(crate::i18n::Lang::En),
        zh: say(crate::i18n::Lang::ZhCn),
    })
}

/// A mismatch's values for the catalogues' sentences: `why` (English),
/// `why_key`, the video's `codec` and `video_size`, the box's `codecs` and
/// `max_size`.
fn mismatch_params(mismatch: &compiler::model::VideoMismatch) -> Vec<(&'static str, String)> {
    let mut params = vec![
        ("why", mismatch.en()),
        ("why_key", mismatch.key().to_owned()),
    ];
    params.extend(mismatch.params());
    params
}

/// The render target for a compiler profile (the same mapping as the
/// stored profile rows: see `materials::render_profile`).
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

/// How one material reads on one profile, for the upload response and the
/// material page.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ProfileLegibility {
    /// The profile.
    pub profile_id: String,
    /// Panel size.
    pub width: u32,
    /// Panel size.
    pub height: u32,
    /// The screens with this profile.
    pub screens: Vec<String>,
    /// The rendition shown there, if one could be made.
    pub sha256: Option<String>,
    /// Glyph size of a text, pixels.
    pub glyph_px: Option<u32>,
    /// For a scrolling text: its reading speed and how long each character
    /// stays wholly on the panel.
    pub chars_per_second: Option<f64>,
    /// See `chars_per_second`.
    pub char_visible_ms: Option<u64>,
    /// True when a person can read it there.
    pub legible: bool,
    /// Why not, in both languages.
    pub problems: Vec<Problem>,
}

/// How `material_id` reads on every profile: the stored facts and refusals,
/// judged with each profile's reading speed from the stored playlists.
pub async fn material_report(
    state: &crate::state::AppState,
    material_id: &str,
) -> anyhow::Result<Vec<ProfileLegibility>> {
    let profiles = state.store.list_profiles().await?;
    let screens = state.store.list_screens(None).await?;
    let model = crate::applied::stored_model(state, crate::clock::now())
        .await?
        .map(|(m, _)| m);
    let renditions: Vec<crate::store::RenditionRow> = state
        .store
        .list_renditions()
        .await?
        .into_iter()
        .filter(|r| r.material_id == material_id)
        .collect();
    let refusals: Vec<(String, Problem)> = state
        .store
        .list_rendition_refusals()
        .await?
        .into_iter()
        .filter(|(m, _, _)| m == material_id)
        .filter_map(|(_, p, json)| serde_json::from_str(&json).ok().map(|problem| (p, problem)))
        .collect();
    let mut out = Vec::new();
    for row in &profiles {
        let rendition = renditions.iter().find(|r| r.profile_id == row.id);
        let refusal = refusals.iter().find(|(p, _)| *p == row.id).map(|(_, x)| x);
        if rendition.is_none() && refusal.is_none() {
            continue;
        }
        let facts: Option<RenditionFacts> = rendition
            .and_then(|r| r.facts.as_deref())
            .and_then(|f| serde_json::from_str(f).ok());
        let profile = model
            .as_ref()
            .and_then(|m| m.profiles.iter().find(|p| p.id == row.id).cloned())
            .unwrap_or_else(|| compiler::model::Profile {
                id: row.id.clone(),
                width: row.width,
                height: row.height,
                color: compiler::model::ColorClass::Full,
                video: row.can_play_video,
                video_decoder: Default::default(),
                scroll: row.can_scroll,
                still: true,
                scroll_chars_per_second: protocol::scroll::DEFAULT_CHARS_PER_SECOND,
                brightness: None,
                location: compiler::Location::file_only(""),
            });
        let mut problems = problems_on(facts.as_ref(), refusal, &profile);
        if let (Some(r), Some(codec)) = (rendition, facts.as_ref().and_then(|f| f.video_codec)) {
            problems.extend(video_problem(
                &profile,
                u32::try_from(r.width).unwrap_or(u32::MAX),
                u32::try_from(r.height).unwrap_or(u32::MAX),
                codec,
            ));
        }
        let scrolling = profile.scroll && facts.as_ref().is_some_and(|f| f.glyph_px.is_some());
        let glyph_px = facts.as_ref().and_then(|f| f.glyph_px);
        out.push(ProfileLegibility {
            profile_id: row.id.clone(),
            width: row.width,
            height: row.height,
            screens: screens
                .iter()
                .filter(|s| s.profile_id == row.id)
                .map(|s| s.id.clone())
                .collect(),
            sha256: rendition.map(|r| r.sha256.clone()),
            glyph_px,
            chars_per_second: scrolling.then_some(profile.scroll_chars_per_second),
            char_visible_ms: glyph_px.filter(|_| scrolling).map(|g| {
                protocol::scroll::char_visible_ms(
                    g,
                    profile.width,
                    protocol::scroll::px_per_second(profile.scroll_chars_per_second, g),
                )
            }),
            legible: problems.is_empty() && rendition.is_some(),
            problems,
        });
    }
    Ok(out)
}
