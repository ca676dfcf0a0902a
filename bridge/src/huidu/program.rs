//! A [`LoopPlan`] as a Huidu program list (vendor SDK document §2): one
//! program per item, each with a fixed `playControl duration` and one
//! full-panel area holding one image. Program guids are
//! `{loop_id}-{index}`, so `GetCurrentPlayProgramGUID` tells which loop —
//! and which item of it — the card is playing.
//!
//! Durations have one-second resolution on the card (`hh:mm:ss`); item
//! durations are rounded to the nearest second, at least one.

use crate::plan::{LoopPlan, Motion};

use super::xml::Element;

/// Effect ids (vendor `EffectType`).
pub mod effect {
    /// Show at once.
    pub const IMMEDIATE_SHOW: u32 = 0;
    /// Head-to-tail continuous move left (a scroll).
    pub const HT_LEFT_SERIES_MOVE: u32 = 26;
}

/// The program guid of item `index` of `loop_id`.
pub fn program_guid(loop_id: &str, index: usize) -> String {
    format!("{loop_id}-{index}")
}

/// Splits a program guid made by [`program_guid`] back into loop id and index.
pub fn parse_program_guid(guid: &str) -> Option<(&str, usize)> {
    let (loop_id, index) = guid.rsplit_once('-')?;
    Some((loop_id, index.parse().ok()?))
}

/// `hh:mm:ss` of a duration, rounded to the nearest second, at least 1 s.
pub fn hms(duration_ms: u64) -> String {
    let seconds = duration_ms.saturating_add(500) / 1000;
    let seconds = seconds.max(1);
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60
    )
}

/// The card's speed level (0 fastest … 8 slowest) for a scroll speed. The
/// vendor does not say how many pixels a level moves per second; this
/// mapping is an estimate to confirm on a card.
pub fn speed_level(px_per_second: u32) -> u32 {
    match px_per_second {
        96.. => 0,
        64..=95 => 1,
        48..=63 => 2,
        32..=47 => 3,
        24..=31 => 4,
        16..=23 => 5,
        12..=15 => 6,
        8..=11 => 7,
        _ => 8,
    }
}

/// The `<screen>` element for `AddProgram`. `timestamps` must differ from
/// the card's current value: a new value clears every program on the card.
pub fn screen_element(plan: &LoopPlan, timestamps: u64) -> Element {
    let mut screen = Element::new("screen").attr("timeStamps", timestamps.to_string());
    for (index, item) in plan.items.iter().enumerate() {
        let guid = program_guid(&plan.loop_id, index);
        // Stay time in 0.1 s, at most 9999 (the program's duration ends it).
        let stay = (item.duration_ms / 100).clamp(1, 9999);
        let (effect_in, speed, fit) = match item.motion {
            Motion::Still => (effect::IMMEDIATE_SHOW, 0, "stretch"),
            Motion::ScrollLeft { px_per_second } => (
                effect::HT_LEFT_SERIES_MOVE,
                speed_level(px_per_second),
                "center",
            ),
        };
        let image = Element::new("image")
            .attr("guid", format!("{guid}-image"))
            .attr("fit", fit)
            .child(
                Element::new("effect")
                    .attr("in", effect_in.to_string())
                    .attr("inSpeed", speed.to_string())
                    .attr("out", "0")
                    .attr("outSpeed", "0")
                    .attr("duration", stay.to_string()),
            )
            .child(Element::new("file").attr("name", item.file_name.as_str()));
        let area = Element::new("area")
            .attr("alpha", "255")
            .attr("guid", format!("{guid}-area"))
            .child(
                Element::new("rectangle")
                    .attr("x", "0")
                    .attr("y", "0")
                    .attr("width", plan.width.to_string())
                    .attr("height", plan.height.to_string()),
            )
            .child(Element::new("resources").child(image));
        let program = Element::new("program")
            .attr("guid", guid)
            .attr("type", "normal")
            .child(
                Element::new("playControl")
                    .attr("duration", hms(item.duration_ms))
                    .attr("disabled", "false"),
            )
            .child(area);
        screen = screen.child(program);
    }
    screen
}

/// One program as a card holds it (what the emulator keeps and plays).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredProgram {
    /// Program guid.
    pub guid: String,
    /// Its fixed duration in milliseconds (`playControl duration`).
    pub duration_ms: u64,
    /// The image file it shows, if any.
    pub file_name: Option<String>,
    /// Whether it scrolls (a continuous-move effect).
    pub scrolls: bool,
}

/// Reads the programs of an `AddProgram` `<screen>` element. Programs
/// without a usable duration play 10 s (the card's own default is one pass).
pub fn read_screen(screen: &Element) -> Vec<StoredProgram> {
    screen
        .find_all("program")
        .map(|program| {
            let duration_ms = program
                .find("playControl")
                .and_then(|p| p.get("duration"))
                .and_then(super::sdk::parse_hms)
                .map_or(10_000, |s| u64::from(s.max(1)) * 1000);
            let mut images = Vec::new();
            program.descendants("image", &mut images);
            let image = images.first();
            StoredProgram {
                guid: program.get("guid").unwrap_or_default().to_owned(),
                duration_ms,
                file_name: image
                    .and_then(|i| i.find("file"))
                    .and_then(|f| f.get("name"))
                    .map(str::to_owned),
                scrolls: image
                    .and_then(|i| i.find("effect"))
                    .and_then(|e| e.get("in"))
                    .is_some_and(|v| v == effect::HT_LEFT_SERIES_MOVE.to_string()),
            }
        })
        .collect()
}
