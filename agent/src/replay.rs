//! A screen's past, replayed: the real [`Player`] plays signed rotations
//! over a stretch of past time on a virtual clock, and what it puts on
//! screen becomes play records, as the driver would journal them. Written
//! to the agent's journal ([`Journal::record_finished`]) they are what an
//! agent that was offline for that time holds: its driver sends them through
//! the server's real MQTT ingest on its next start.
//!
//! The demo (`ledcast-server demo`) gives a fresh install a past week this
//! way, so compliance, reports and the branch page have real content on
//! first run.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use ledcast_protocol::v1::{
    BootId, BridgeEvidence, PlayRecord, ScreenId, Sha256, Timestamp, TrustedKey,
};

use crate::journal::{Journal, JournalError, JournalLimits};
use crate::player::{Action, Input, Player, PlayerConfig, RotationSource};

/// What to replay.
#[derive(Clone, Debug)]
pub struct Past {
    /// The screen.
    pub screen_id: ScreenId,
    /// The server key the rotations are signed with.
    pub server_key: TrustedKey,
    /// Signed rotation envelopes, each with the instant it arrived (at
    /// `from` or later), in arrival order with rising versions.
    pub rotations: Vec<(Timestamp, Vec<u8>)>,
    /// Every media item the rotations name: all of it counts as cached.
    pub media: HashSet<Sha256>,
    /// Stretches when the display was lost (dark: nothing is recorded).
    pub display_lost: Vec<(Timestamp, Timestamp)>,
    /// Start of the replay.
    pub from: Timestamp,
    /// End of the replay: the record on screen then ends as interrupted.
    pub until: Timestamp,
    /// For a bridged screen, the controller family whose card played and
    /// confirmed the loops (records carry confirmed bridge evidence).
    pub bridge_vendor: Option<String>,
    /// How long each built-in fallback message plays (ms).
    pub builtin_slot_ms: u64,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The player refused a rotation (a wrong key, screen or version).
    #[error("rotation refused at {at}: {reason}")]
    Refused {
        /// When it was offered.
        at: Timestamp,
        /// The player's refusal.
        reason: String,
    },
    /// The journal could not be written.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Plays `past` on a fresh [`Player`] of run `boot_id` and returns its play
/// records in order, each ended.
pub fn replay(past: &Past, boot_id: &BootId) -> Result<Vec<PlayRecord>, ReplayError> {
    let mut player = Player::new(PlayerConfig {
        screen_id: past.screen_id.clone(),
        boot_id: boot_id.clone(),
        server_key: past.server_key.clone(),
        highest_version_seen: None,
        video_supported: true,
        switch_window_ms: 0,
        builtin_slot_ms: past.builtin_slot_ms.max(1_000),
        cached: past.media.clone(),
    });
    // Inputs from outside the player, by instant (stable within one).
    let mut inputs: BTreeMap<(i64, usize), Input> = BTreeMap::new();
    for (at, envelope) in &past.rotations {
        let key = (at.as_millis().max(past.from.as_millis()), inputs.len());
        inputs.insert(
            key,
            Input::Rotation {
                envelope: envelope.clone(),
                source: RotationSource::Disk,
            },
        );
    }
    for (lost, back) in &past.display_lost {
        inputs.insert(
            (lost.as_millis(), inputs.len()),
            Input::DisplayLost {
                error: "display cable unplugged".to_owned(),
            },
        );
        inputs.insert((back.as_millis(), inputs.len()), Input::DisplayBack);
    }
    let mut records: Vec<PlayRecord> = Vec::new();
    let mut now = past.from;
    // What arrived at the start goes in before the first frame is chosen.
    while inputs
        .keys()
        .next()
        .is_some_and(|&(at, _)| at <= now.as_millis())
    {
        if let Some((_, input)) = inputs.pop_first() {
            player.handle(now, input);
        }
    }
    player.handle(now, Input::Timer);
    loop {
        drain(&mut player, now, &mut records, past)?;
        let timer = player
            .poll_timeout()
            .map(|t| t.as_millis().max(now.as_millis()));
        let next_input = inputs.keys().next().map(|&(at, _)| at);
        let next = match (timer, next_input) {
            (Some(t), Some(i)) => t.min(i),
            (Some(t), None) => t,
            (None, Some(i)) => i,
            (None, None) => break,
        };
        if next >= past.until.as_millis() {
            break;
        }
        now = Timestamp(next);
        if next_input == Some(next) {
            if let Some((_, input)) = inputs.pop_first() {
                player.handle(now, input);
                continue;
            }
        }
        player.handle(now, Input::Timer);
    }
    now = past.until;
    player.handle(now, Input::Shutdown);
    drain(&mut player, now, &mut records, past)?;
    records.retain(|r| r.ended_at.is_some());
    Ok(records)
}

fn drain(
    player: &mut Player,
    now: Timestamp,
    records: &mut Vec<PlayRecord>,
    past: &Past,
) -> Result<(), ReplayError> {
    while let Some(action) = player.poll_action() {
        match action {
            Action::JournalStart(mut record) => {
                record.bridge = past.bridge_vendor.as_ref().map(|vendor| BridgeEvidence {
                    vendor: vendor.clone(),
                    confirmed: true,
                });
                records.push(record);
            }
            Action::JournalEnd {
                seq,
                ended_at,
                outcome,
            } => {
                if let Some(record) = records.iter_mut().rev().find(|r| r.seq == seq) {
                    record.ended_at = Some(ended_at);
                    record.outcome = outcome;
                }
            }
            Action::Rejected { refusal, .. } => {
                return Err(ReplayError::Refused {
                    at: now,
                    reason: refusal.to_string(),
                })
            }
            _ => {}
        }
    }
    Ok(())
}

/// Replays `past` and writes its records to the journal under `journal_dir`
/// as run `boot_id`, to be sent on the agent's next start. Returns how many
/// records were written.
pub fn journal_past(
    past: &Past,
    journal_dir: &Path,
    boot_id: &BootId,
    limits: JournalLimits,
) -> Result<usize, ReplayError> {
    let records = replay(past, boot_id)?;
    let mut journal = Journal::open(journal_dir, boot_id.clone(), limits)?;
    journal.record_finished(&records)?;
    Ok(records.len())
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use ledcast_protocol::v1::{
        seal, Block, MediaRef, PlayOutcome, Rotation, Slot, SlotKind, Timestamp,
    };

    use super::*;

    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    /// 2026-11-30 00:00 UTC: any fixed instant will do.
    const T0: i64 = 1_796_083_200_000;

    fn slot(n: u8, seconds: u64, is_warning: bool) -> Slot {
        Slot {
            media: Sha256([n; 32]),
            duration_ms: seconds * 1000,
            kind: SlotKind::Still,
            material_id: format!("m{n}"),
            is_warning,
        }
    }

    fn envelope(key: &SigningKey, version: u64, issued_at: i64, slots: Vec<Slot>) -> Vec<u8> {
        let media = slots
            .iter()
            .map(|s| MediaRef {
                sha256: s.media,
                size_bytes: 100,
                mime: "image/png".into(),
                width: 352,
                height: 80,
            })
            .collect();
        let rotation = Rotation {
            screen_id: ScreenId::new("door-1").unwrap(),
            version,
            issued_at: Timestamp(issued_at),
            expires_at: Timestamp(issued_at + 72 * HOUR),
            timezone: "Asia/Shanghai".into(),
            blocks: vec![Block {
                from: Timestamp(issued_at),
                until: Timestamp(issued_at + 48 * HOUR),
                priority: 0,
                slots,
            }],
            fallback: Vec::new(),
            media,
            brightness: Vec::new(),
        };
        seal(&rotation, key)
    }

    fn past(key: &SigningKey) -> Past {
        Past {
            screen_id: ScreenId::new("door-1").unwrap(),
            server_key: TrustedKey::new(key.verifying_key()),
            rotations: vec![
                (
                    Timestamp(T0),
                    envelope(key, 1, T0, vec![slot(1, 20, false), slot(2, 10, true)]),
                ),
                // A new day's rotation arrives at noon: only its poster plays after.
                (
                    Timestamp(T0 + 12 * HOUR),
                    envelope(key, 2, T0 + 12 * HOUR, vec![slot(3, 15, true)]),
                ),
            ],
            media: [1u8, 2, 3].iter().map(|n| Sha256([*n; 32])).collect(),
            display_lost: vec![(
                Timestamp(T0 + 14 * HOUR),
                Timestamp(T0 + 16 * HOUR + 30 * MINUTE),
            )],
            from: Timestamp(T0),
            until: Timestamp(T0 + 24 * HOUR),
            bridge_vendor: None,
            builtin_slot_ms: 10_000,
        }
    }

    /// A day replayed on the real player: the first rotation's loop until
    /// noon, the second's after, nothing while the display was lost, every
    /// record ended, and the records tile the day except that afternoon.
    #[test]
    fn a_replayed_day_follows_its_rotations_and_records_nothing_while_dark() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let past = past(&key);
        let boot = BootId::new("past-1").unwrap();
        let records = replay(&past, &boot).unwrap();
        assert!(records.iter().all(|r| r.ended_at.is_some()));
        let morning: Vec<_> = records
            .iter()
            .filter(|r| r.started_at.as_millis() < T0 + 12 * HOUR)
            .collect();
        // 12 h of a 30 s loop of two posters: 2,880 records.
        assert_eq!(morning.len(), 2880);
        assert_eq!(morning[0].material_id, "m1");
        assert_eq!(morning[1].material_id, "m2");
        assert!(morning.iter().all(|r| r.rotation_version == Some(1)));
        let afternoon: Vec<_> = records
            .iter()
            .filter(|r| r.started_at.as_millis() >= T0 + 12 * HOUR)
            .collect();
        assert!(afternoon
            .iter()
            .all(|r| r.material_id == "m3" && r.rotation_version == Some(2)));
        let dark = (T0 + 14 * HOUR, T0 + 16 * HOUR + 30 * MINUTE);
        for r in &records {
            let (start, end) = (r.started_at.as_millis(), r.ended_at.unwrap().as_millis());
            assert!(
                end <= dark.0 || start >= dark.1,
                "a record while the display was lost: {r:?}"
            );
        }
        // Covered time: the whole day but the 2.5 dark hours.
        let covered: i64 = records
            .iter()
            .map(|r| r.ended_at.unwrap().as_millis() - r.started_at.as_millis())
            .sum();
        assert_eq!(covered, 24 * HOUR - (dark.1 - dark.0));
        let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
        assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    }

    /// The replayed records land in the journal as a finished run: the next
    /// start of the agent (a new boot) sends them with their real ends, not
    /// as interrupted.
    #[test]
    fn a_journaled_past_is_sent_complete_on_the_next_start() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let dir = tempfile::tempdir().unwrap();
        let limits = JournalLimits {
            max_bytes: 64 * 1024 * 1024,
            alarm_percent: 80,
            segment_records: 256,
        };
        let boot = BootId::new("past-1").unwrap();
        let written = journal_past(&past(&key), dir.path(), &boot, limits).unwrap();
        assert!(written > 2000, "{written}");
        let journal = Journal::open(dir.path(), BootId::new("live-1").unwrap(), limits).unwrap();
        assert_eq!(journal.status().pending, written as u64);
        let batch = journal.next_batch(200, None).unwrap().unwrap();
        assert_eq!(batch.boot_id, boot);
        assert_eq!(batch.records.len(), 200);
        assert_eq!(batch.records[0].seq, 1);
        assert!(batch
            .records
            .iter()
            .all(|r| r.outcome == PlayOutcome::Completed && r.ended_at.is_some()));
    }
}
