//! Which loop of a rotation plays at an instant, and that loop as a
//! [`LoopPlan`] for a controller card. Pure: media bytes come in through a
//! closure, time as `now`.
//!
//! The card is given the loop in effect (a block's, or the fallback's); the
//! agent uploads the next one when the block changes. Video slots are left
//! out (the renditions a card is given are images). When no rotation loop
//! plays, the agent uploads its built-in warnings instead
//! ([`super::builtin_plan`]).

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

/// The loop of `rotation` in effect at `now`, as the player picks it: a
/// block's, else the fallback's (also once the rotation expired); `None`
/// when neither has slots (the built-in warnings play).
pub fn loop_at(rotation: &Rotation, now: Timestamp) -> Option<LoopRef<'_>> {
    let block = if rotation.expires_at <= now {
        None
    } else {
        rotation.slot_at(now).and_then(|p| p.block)
    };
    let (tag, slots) = match block {
        Some(b) => (format!("b{b}"), &rotation.blocks.get(b)?.slots[..]),
        None if rotation.fallback.is_empty() => return None,
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

#[cfg(test)]
mod tests {
    use ledcast_protocol::v1::{Block, MediaRef, ScreenId};

    use super::*;

    fn slot(media: u8, kind: SlotKind, ms: u64) -> Slot {
        Slot {
            media: Sha256([media; 32]),
            duration_ms: ms,
            kind,
            material_id: format!("m{media}"),
            is_warning: media.is_multiple_of(2),
        }
    }

    fn rotation() -> Rotation {
        Rotation {
            screen_id: ScreenId::new("door").unwrap(),
            version: 7,
            issued_at: Timestamp(0),
            expires_at: Timestamp(100_000),
            timezone: "Asia/Shanghai".into(),
            brightness: Vec::new(),
            blocks: vec![Block {
                from: Timestamp(10_000),
                until: Timestamp(50_000),
                priority: 0,
                slots: vec![
                    slot(1, SlotKind::Still, 10_000),
                    slot(2, SlotKind::Video, 30_000),
                    slot(4, SlotKind::Scroll { px_per_second: 32 }, 20_000),
                    slot(1, SlotKind::Still, 5_000),
                ],
            }],
            fallback: vec![slot(6, SlotKind::Still, 10_000)],
            media: [1u8, 2, 4, 6]
                .iter()
                .map(|&m| MediaRef {
                    sha256: Sha256([m; 32]),
                    size_bytes: 1,
                    mime: "image/png".into(),
                    width: 352,
                    height: 80,
                })
                .collect(),
        }
    }

    #[test]
    fn the_loop_in_effect_is_the_blocks_then_the_fallback_then_none() {
        let r = rotation();
        assert_eq!(
            loop_at(&r, Timestamp(20_000)).unwrap().loop_id,
            "door-v7-b0"
        );
        assert_eq!(loop_at(&r, Timestamp(60_000)).unwrap().loop_id, "door-v7-f");
        assert_eq!(
            loop_at(&r, Timestamp(100_000)).unwrap().loop_id,
            "door-v7-f",
            "expired: the fallback, as the player plays it"
        );
        let mut bare = r.clone();
        bare.fallback.clear();
        assert_eq!(loop_at(&bare, Timestamp(60_000)), None, "built-ins play");
    }

    #[test]
    fn a_plan_has_every_still_and_scroll_once_per_file_and_no_video() {
        let r = rotation();
        let looped = loop_at(&r, Timestamp(20_000)).unwrap();
        let plan = plan(&looped, 352, 80, None, |m| Some(vec![m.0[0]; 3])).unwrap();
        let kinds: Vec<(u64, Motion)> = plan
            .items
            .iter()
            .map(|i| (i.duration_ms, i.motion))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (10_000, Motion::Still),
                (20_000, Motion::ScrollLeft { px_per_second: 32 }),
                (5_000, Motion::Still)
            ]
        );
        assert_eq!(plan.files.len(), 2, "the poster shown twice is one file");
        assert_eq!(plan.items[0].file_name, plan.items[2].file_name);
        assert!(plan.items[1].is_warning);
        let missing = super::plan(&looped, 352, 80, None, |_| None).unwrap_err();
        assert_eq!(missing, PlanError::MediaMissing(Sha256([1; 32])));
    }
}
