//! Which loop of a rotation plays at an instant, and that loop as a
//! [`LoopPlan`] for a controller card. Pure: media bytes come in through a
//! closure, time as `now`.
//!
//! The card is given the loop in effect (a block's, or the fallback's); the
//! agent uploads the next one when the block changes. Video slots are left
//! out (the renditions a card is given are images). When no rotation loop
//! plays, the agent uploads its built-in warnings instead
//! ([`super::builtin_plan`]). [`card_brightness`] says which brightness the
//! card should have at an instant.

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

/// The brightness the card should have now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardBrightness {
    /// What to put on the card; `None`: leave the card's own setting alone.
    pub brightness: Option<Brightness>,
    /// The rotation switches the panel off now, which a card cannot do
    /// through the bridge: `brightness` is its lowest level, 1 %.
    pub off_requested: bool,
}

/// The card's brightness at `now`. While the current rotation has
/// brightness windows the card follows them: the level in force now
/// ([`Rotation::brightness_at`], as the agent's own display), sent as one
/// level all day and changed at each edge, so the card needs no time zone
/// (percent 0, off, becomes 1 %). Without windows (or without a rotation)
/// the card gets the installer's schedule from the config, if any.
pub fn card_brightness(
    rotation: Option<&Rotation>,
    now: Timestamp,
    steps: &[BrightnessStep],
) -> CardBrightness {
    if let Some(rotation) = rotation.filter(|r| !r.brightness.is_empty()) {
        let percent = rotation.brightness_at(now).percent;
        return CardBrightness {
            brightness: Some(Brightness::all_day(percent.max(1))),
            off_requested: percent == 0,
        };
    }
    CardBrightness {
        brightness: (!steps.is_empty()).then(|| Brightness {
            entries: steps
                .iter()
                .map(|s| BrightnessEntry {
                    start: s.start.clone(),
                    percent: s.percent,
                })
                .collect(),
        }),
        off_requested: false,
    }
}

/// The loop as a plan for a `width`×`height` card.
pub fn plan(
    looped: &LoopRef<'_>,
    width: u32,
    height: u32,
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
        // The bridge adds the brightness it wants on the card.
        brightness: None,
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
    fn the_card_follows_the_rotations_windows_else_the_config_else_is_left_alone() {
        use ledcast_protocol::v1::BrightnessWindow;
        let config = [
            BrightnessStep {
                start: "07:00".into(),
                percent: 80,
            },
            BrightnessStep {
                start: "19:30".into(),
                percent: 40,
            },
        ];
        let mut r = rotation();
        r.brightness = vec![
            BrightnessWindow {
                from: Timestamp(20_000),
                until: Timestamp(30_000),
                percent: 30,
            },
            BrightnessWindow {
                from: Timestamp(30_000),
                until: Timestamp(40_000),
                percent: 0,
            },
        ];
        let level = |t| {
            let b = card_brightness(Some(&r), Timestamp(t), &config);
            (
                b.brightness.and_then(|b| b.all_day_percent()),
                b.off_requested,
            )
        };
        assert_eq!(level(10_000), (Some(100), false), "before the window: full");
        assert_eq!(level(20_000), (Some(30), false), "the night level");
        assert_eq!(level(29_999), (Some(30), false));
        assert_eq!(
            level(30_000),
            (Some(1), true),
            "off: the lowest level, said"
        );
        assert_eq!(level(40_000), (Some(100), false), "after: full again");

        let schedule = |r: Option<&Rotation>| card_brightness(r, Timestamp(25_000), &config);
        let plain = rotation();
        let from_config = schedule(Some(&plain)).brightness.unwrap();
        assert_eq!(
            from_config
                .entries
                .iter()
                .map(|e| (e.start.as_str(), e.percent))
                .collect::<Vec<_>>(),
            vec![("07:00", 80), ("19:30", 40)],
            "no windows: the installer's schedule"
        );
        assert_eq!(schedule(None).brightness, Some(from_config));
        let none = card_brightness(Some(&plain), Timestamp(25_000), &[]);
        assert_eq!(
            none.brightness, None,
            "nothing asked: the card is left alone"
        );
    }

    #[test]
    fn a_plan_has_every_still_and_scroll_once_per_file_and_no_video() {
        let r = rotation();
        let looped = loop_at(&r, Timestamp(20_000)).unwrap();
        let plan = plan(&looped, 352, 80, |m| Some(vec![m.0[0]; 3])).unwrap();
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
        let missing = super::plan(&looped, 352, 80, |_| None).unwrap_err();
        assert_eq!(missing, PlanError::MediaMissing(Sha256([1; 32])));
    }
}
