//! The deterministic playback position (DESIGN.md §4): what a rotation shows
//! at any instant. Shared by the agent, the server's preview and compliance,
//! so all three agree to the millisecond.
//!
//! At `t` the highest-priority block with `from <= t < until` plays (equal
//! priorities: the lower block index, though accepted rotations never
//! overlap at equal priority). The loop position is `(t - from) mod loop_len`.
//! The fallback loop is phased from the Unix epoch, so every screen's
//! fallback is in step too.

use super::time::Timestamp;
use super::types::{Rotation, Slot};

/// The panel's brightness at an instant ([`Rotation::brightness_at`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrightnessAt {
    /// Percent of full brightness, 0 (off) to 100.
    pub percent: u8,
    /// When it next changes (the end of the window in force, or the start
    /// of the next one); `None` when no window lies ahead.
    pub changes_at: Option<Timestamp>,
}

impl BrightnessAt {
    /// Whether the panel is switched off.
    pub fn is_off(&self) -> bool {
        self.percent == 0
    }
}

/// Where playback stands at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotPosition {
    /// Index into `blocks`, or `None` for the fallback loop.
    pub block: Option<usize>,
    /// Index into the block's (or the fallback's) slots.
    pub slot: usize,
    /// Milliseconds since this slot began.
    pub offset_ms: u64,
    /// When this slot began (its natural start in the loop; may precede the block
    /// that cut into it).
    pub slot_started_at: Timestamp,
    /// When this slot ends: its natural end, or earlier if the block ends or a
    /// higher-priority block begins.
    pub slot_ends_at: Timestamp,
}

fn loop_position(
    slots: &[Slot],
    origin: Timestamp,
    t: Timestamp,
) -> Option<(usize, u64, Timestamp)> {
    let loop_len: u64 = slots.iter().map(|s| s.duration_ms).sum();
    if loop_len == 0 {
        return None;
    }
    let elapsed = t.millis_since(origin);
    let mut offset = elapsed.rem_euclid(loop_len as i64) as u64;
    for (index, slot) in slots.iter().enumerate() {
        if offset < slot.duration_ms {
            let slot_start = t.plus_ms(-(offset as i64));
            return Some((index, offset, slot_start));
        }
        offset -= slot.duration_ms;
    }
    None
}

impl Rotation {
    /// The index of the block that plays at `t`, if any.
    pub fn block_at(&self, t: Timestamp) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (index, block) in self.blocks.iter().enumerate() {
            if block.from <= t && t < block.until {
                match best {
                    Some(b) if self.blocks[b].priority >= block.priority => {}
                    _ => best = Some(index),
                }
            }
        }
        best
    }

    /// The slot a block plays at `t`; `None` when no block covers `t` (the
    /// fallback plays then: see [`Rotation::fallback_at`]).
    pub fn slot_at(&self, t: Timestamp) -> Option<SlotPosition> {
        let block_index = self.block_at(t)?;
        let block = &self.blocks[block_index];
        let (slot, offset_ms, slot_started_at) = loop_position(&block.slots, block.from, t)?;
        let natural_end = slot_started_at.plus_ms(block.slots[slot].duration_ms as i64);
        Some(SlotPosition {
            block: Some(block_index),
            slot,
            offset_ms,
            slot_started_at,
            slot_ends_at: self.cut_at_next_boundary(t, natural_end),
        })
    }

    /// The fallback slot at `t` (phased from the Unix epoch); `None` if the
    /// rotation has no fallback (the agent's built-in one plays then).
    pub fn fallback_at(&self, t: Timestamp) -> Option<SlotPosition> {
        let (slot, offset_ms, slot_started_at) = loop_position(&self.fallback, Timestamp(0), t)?;
        let natural_end = slot_started_at.plus_ms(self.fallback[slot].duration_ms as i64);
        Some(SlotPosition {
            block: None,
            slot,
            offset_ms,
            slot_started_at,
            slot_ends_at: self.cut_at_next_boundary(t, natural_end),
        })
    }

    /// What plays at `t`: a block's slot, else the fallback's.
    pub fn position_at(&self, t: Timestamp) -> Option<SlotPosition> {
        self.slot_at(t).or_else(|| self.fallback_at(t))
    }

    /// The panel's brightness at `t`: the first window containing `t`, else
    /// full (100 %). Windows a server sends are sorted and disjoint; if
    /// they were not, the first one listed wins and nothing panics.
    pub fn brightness_at(&self, t: Timestamp) -> BrightnessAt {
        let current = self
            .brightness
            .iter()
            .find(|w| w.from <= t && t < w.until && w.from < w.until);
        let percent = current.map_or(100, |w| w.percent.min(100));
        let next_start = self
            .brightness
            .iter()
            .filter(|w| w.from > t && w.from < w.until)
            .map(|w| w.from)
            .min();
        let changes_at = match (current.map(|w| w.until), next_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        BrightnessAt {
            percent,
            changes_at,
        }
    }

    /// The slot a position refers to.
    pub fn slot(&self, position: &SlotPosition) -> Option<&Slot> {
        match position.block {
            Some(b) => self.blocks.get(b)?.slots.get(position.slot),
            None => self.fallback.get(position.slot),
        }
    }

    /// The first block boundary after `t`, if one comes before `limit`; else `limit`.
    fn cut_at_next_boundary(&self, t: Timestamp, limit: Timestamp) -> Timestamp {
        self.blocks
            .iter()
            .flat_map(|b| [b.from, b.until])
            .filter(|&edge| edge > t && edge < limit)
            .min()
            .unwrap_or(limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::{Block, MediaRef, ScreenId, Sha256, SlotKind};

    fn slot(n: u8, duration_ms: u64) -> Slot {
        Slot {
            media: Sha256([n; 32]),
            duration_ms,
            kind: SlotKind::Still,
            material_id: format!("m{n}"),
            is_warning: n.is_multiple_of(2),
        }
    }

    fn rotation(blocks: Vec<Block>, fallback: Vec<Slot>) -> Rotation {
        let mut media: Vec<MediaRef> = Vec::new();
        for s in blocks
            .iter()
            .flat_map(|b| b.slots.iter())
            .chain(fallback.iter())
        {
            if !media.iter().any(|m| m.sha256 == s.media) {
                media.push(MediaRef {
                    sha256: s.media,
                    size_bytes: 10,
                    mime: "image/png".into(),
                    width: 352,
                    height: 80,
                });
            }
        }
        Rotation {
            screen_id: ScreenId::new("s1").unwrap(),
            version: 1,
            issued_at: Timestamp(0),
            expires_at: Timestamp(1_000_000),
            timezone: "Asia/Shanghai".into(),
            blocks,
            fallback,
            media,
            brightness: Vec::new(),
        }
    }

    #[test]
    fn brightness_is_full_outside_windows_and_changes_at_their_edges() {
        use crate::v1::BrightnessWindow;
        let mut r = rotation(Vec::new(), vec![slot(1, 1000)]);
        let full = BrightnessAt {
            percent: 100,
            changes_at: None,
        };
        assert_eq!(r.brightness_at(Timestamp(5)), full, "no windows: full");
        let window = |from, until, percent| BrightnessWindow {
            from: Timestamp(from),
            until: Timestamp(until),
            percent,
        };
        r.brightness = vec![
            window(100, 400, 30),
            window(200, 300, 0),
            window(500, 600, 255),
        ];
        let b = |t| {
            let at = r.brightness_at(Timestamp(t));
            (at.percent, at.changes_at.map(|c| c.0))
        };
        assert_eq!(b(0), (100, Some(100)));
        assert_eq!(b(100), (30, Some(200)), "a later window's start cuts");
        assert_eq!(b(399), (30, Some(400)), "the first window listed wins");
        assert_eq!(b(400), (100, Some(500)));
        assert_eq!(b(550), (100, Some(600)), "above 100 reads as 100");
        assert_eq!(b(600), (100, None));
        r.brightness = vec![window(10, 20, 0)];
        assert!(r.brightness_at(Timestamp(10)).is_off());
        assert!(!r.brightness_at(Timestamp(20)).is_off());
    }

    fn at(r: &Rotation, t: i64) -> (Option<usize>, usize, u64, i64, i64) {
        let p = r.position_at(Timestamp(t)).expect("something plays");
        (
            p.block,
            p.slot,
            p.offset_ms,
            p.slot_started_at.0,
            p.slot_ends_at.0,
        )
    }

    #[test]
    fn loop_positions_by_hand() {
        // Block [1000, 9500): slots 1 s, 2 s, 3 s → loop of 6 s starting at 1000.
        let r = rotation(
            vec![Block {
                from: Timestamp(1000),
                until: Timestamp(9500),
                priority: 0,
                slots: vec![slot(1, 1000), slot(2, 2000), slot(3, 3000)],
            }],
            vec![slot(9, 5000)],
        );
        assert_eq!(at(&r, 1000), (Some(0), 0, 0, 1000, 2000)); // block edge
        assert_eq!(at(&r, 1999), (Some(0), 0, 999, 1000, 2000));
        assert_eq!(at(&r, 2000), (Some(0), 1, 0, 2000, 4000));
        assert_eq!(at(&r, 4500), (Some(0), 2, 500, 4000, 7000));
        assert_eq!(at(&r, 7000), (Some(0), 0, 0, 7000, 8000)); // loop wrap
                                                               // Slot 1 of the second loop would end at 10000: the block ends at 9500.
        assert_eq!(at(&r, 9499), (Some(0), 1, 1499, 8000, 9500));
        // After the block: the fallback, phased from the epoch (5 s loop).
        assert_eq!(at(&r, 9500), (None, 0, 4500, 5000, 10_000));
        assert_eq!(at(&r, 999), (None, 0, 999, 0, 1000)); // cut by the block start
    }

    #[test]
    fn higher_priority_block_preempts_and_resumes_in_phase() {
        let r = rotation(
            vec![
                Block {
                    from: Timestamp(0),
                    until: Timestamp(100_000),
                    priority: 0,
                    slots: vec![slot(1, 10_000), slot(2, 10_000)],
                },
                Block {
                    from: Timestamp(15_000),
                    until: Timestamp(25_000),
                    priority: 10,
                    slots: vec![slot(4, 4000)],
                },
            ],
            vec![],
        );
        assert_eq!(at(&r, 12_000), (Some(0), 1, 2000, 10_000, 15_000)); // cut by the alert
        assert_eq!(at(&r, 15_000), (Some(1), 0, 0, 15_000, 19_000));
        assert_eq!(at(&r, 24_000), (Some(1), 0, 1000, 23_000, 25_000)); // cut by its own end
                                                                        // Resumes where the wall clock says, not where it stopped.
        assert_eq!(at(&r, 25_000), (Some(0), 0, 5000, 20_000, 30_000));
    }

    #[test]
    fn gap_without_fallback_is_none_and_with_fallback_is_fallback() {
        let blocks = vec![Block {
            from: Timestamp(0),
            until: Timestamp(1000),
            priority: 0,
            slots: vec![slot(1, 500)],
        }];
        let r = rotation(blocks.clone(), vec![]);
        assert_eq!(r.position_at(Timestamp(1500)), None);
        assert!(r.slot_at(Timestamp(500)).is_some());
        let r = rotation(blocks, vec![slot(2, 300), slot(4, 700)]);
        assert_eq!(at(&r, 1500), (None, 1, 200, 1300, 2000));
        assert_eq!(
            r.slot(&r.position_at(Timestamp(1500)).unwrap())
                .unwrap()
                .material_id,
            "m4"
        );
    }

    #[test]
    fn before_epoch_times_still_work() {
        let r = rotation(vec![], vec![slot(2, 1000)]);
        assert_eq!(at(&r, -1), (None, 0, 999, -1000, 0));
    }
}
