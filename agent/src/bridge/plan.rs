//! Which loop of a rotation plays at an instant, and that loop as a
//! [`LoopPlan`] for a controller card. Pure: media bytes come in through a
//! closure, time as `now`.
//!
//! The card is given the loop in effect (a block's, or the fallback's); the
//! agent uploads the next one when the block changes. Video slots are left
//! out (the renditions a card is given are images); built-in warnings are
//! not uploaded (the card keeps its last loop while the agent has none).

use ledcast_bridge::{Brightness, BrightnessEntry, LoopPlan, Motion, PlanFile, PlanItem};
use ledcast_protocol::v1::{Rotation, Sha256, Slot, SlotKind, Timestamp};

use crate::config::BrightnessStep;

/// The loop in effect at an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopRef<'a> {
    /// `{screen}-v{version}-b{block}` or `{screen}-v{version}-f` (fallback).
    pub loop_id: String,
    /// Its slots.
    pub slots: &'a [Slot],
}

/// The loop of `rotation` in effect at `now` (`None`: nothing plays from it).
pub fn loop_at(rotation: &Rotation, now: Timestamp) -> Option<LoopRef<'_>> {
    if rotation.expires_at <= now {
        return None;
    }
    let position = rotation.position_at(now)?;
    let (tag, slots) = match position.block {
        Some(b) => (format!("b{b}"), &rotation.blocks.get(b)?.slots[..]),
        None => ("f".to_owned(), &rotation.fallback[..]),
    };
    Some(LoopRef {
        loop_id: format!(
            "{}-v{}-{tag}",
            rotation.screen_id.as_str(),
            rotation.version
        ),
        slots,
    })
}

/// Why a loop cannot be planned yet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A still or scroll slot's media is not cached (yet).
    #[error("media {0} of the loop is not cached yet")]
    MediaMissing(Sha256),
    /// Nothing in the loop can go to a card (only videos).
    #[error("the loop has no still or scroll slot a controller card can play")]
    Nothing,
}

/// The brightness schedule of the config, if any.
pub fn brightness(steps: &[BrightnessStep]) -> Option<Brightness> {
    (!steps.is_empty()).then(|| Brightness {
        entries: steps
            .iter()
            .map(|s| BrightnessEntry {
                start: s.start.clone(),
                percent: s.percent,
            })
            .collect(),
    })
}

/// The loop as a plan for a `width`×`height` card.
pub fn plan(
    looped: &LoopRef<'_>,
    width: u32,
    height: u32,
    brightness: Option<Brightness>,
    mut media: impl FnMut(&Sha256) -> Option<Vec<u8>>,
) -> Result<LoopPlan, PlanError> {
    let mut items = Vec::new();
    let mut files: Vec<PlanFile> = Vec::new();
    for slot in looped.slots {
        let motion = match slot.kind {
            SlotKind::Still => Motion::Still,
            SlotKind::Scroll { px_per_second } => Motion::ScrollLeft { px_per_second },
            SlotKind::Video => continue,
        };
        let hex = slot.media.to_hex();
        let name = PlanFile::new(&hex, Vec::new()).name;
        if !files.iter().any(|f| f.name == name) {
            let bytes = media(&slot.media).ok_or(PlanError::MediaMissing(slot.media))?;
            files.push(PlanFile::new(&hex, bytes));
        }
        items.push(PlanItem {
            file_name: name,
            duration_ms: slot.duration_ms,
            motion,
            material_id: slot.material_id.clone(),
            is_warning: slot.is_warning,
        });
    }
    if items.is_empty() {
        return Err(PlanError::Nothing);
    }
    Ok(LoopPlan {
        loop_id: looped.loop_id.clone(),
        width,
        height,
        items,
        files,
        brightness,
    })
}
