//! Scripted tests: whole days of playback in milliseconds, driven only by
//! inputs and the player's own timeouts.

use std::collections::HashSet;

use ed25519_dalek::SigningKey;
use ledcast_protocol::v1::{
    seal, Ack, Block, BootId, Command, CommandAction, MediaRef, PlayOutcome, Rotation, ScreenId,
    Sha256, Slot, SlotKind, Timestamp, TrustedKey,
};

use super::*;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn server_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn screen() -> ScreenId {
    ScreenId::new("door-1").unwrap()
}

fn slot(n: u8, duration_ms: u64, is_warning: bool) -> Slot {
    Slot {
        media: Sha256([n; 32]),
        duration_ms,
        kind: SlotKind::Still,
        material_id: format!("m{n}"),
        is_warning,
    }
}

fn rotation(version: u64, issued_at: i64, blocks: Vec<Block>, fallback: Vec<Slot>) -> Rotation {
    let mut media: Vec<MediaRef> = Vec::new();
    for s in blocks
        .iter()
        .flat_map(|b| b.slots.iter())
        .chain(fallback.iter())
    {
        if !media.iter().any(|m| m.sha256 == s.media) {
            media.push(MediaRef {
                sha256: s.media,
                size_bytes: 100,
                mime: "image/png".into(),
                width: 352,
                height: 80,
            });
        }
    }
    Rotation {
        screen_id: screen(),
        version,
        issued_at: Timestamp(issued_at),
        expires_at: Timestamp(issued_at + 3 * DAY),
        timezone: "Asia/Shanghai".into(),
        blocks,
        fallback,
        media,
        brightness: Vec::new(),
    }
}

fn all_day(from: i64, slots: Vec<Slot>) -> Block {
    Block {
        from: Timestamp(from),
        until: Timestamp(from + 2 * DAY),
        priority: 0,
        slots,
    }
}

fn config(cached: &[u8]) -> PlayerConfig {
    PlayerConfig {
        screen_id: screen(),
        boot_id: BootId::new("boot-1").unwrap(),
        server_key: TrustedKey::new(server_key().verifying_key()),
        highest_version_seen: None,
        video_supported: false,
        switch_window_ms: HOUR,
        builtin_slot_ms: 10_000,
        cached: cached.iter().map(|&n| Sha256([n; 32])).collect(),
    }
}

fn envelope(r: &Rotation) -> Input {
    Input::Rotation {
        envelope: seal(r, &server_key()),
        source: RotationSource::Mqtt,
    }
}

/// Everything observable from a scripted run.
#[derive(Default, Debug)]
struct Log {
    shows: Vec<Showing>,
    starts: Vec<PlayRecord>,
    ends: Vec<(u64, Timestamp, PlayOutcome)>,
    fetches: Vec<Sha256>,
    persisted: Vec<Persist>,
    rejected: Vec<Refusal>,
    acked: Vec<(BootId, u64)>,
    refused: Vec<v1::RefusedRecord>,
    other: Vec<Action>,
}

fn drain(player: &mut Player, log: &mut Log) {
    while let Some(action) = player.poll_action() {
        match action {
            Action::Show(s) => log.shows.push(s),
            Action::JournalStart(r) => {
                // The start record always precedes its Show.
                log.starts.push(r);
            }
            Action::JournalEnd {
                seq,
                ended_at,
                outcome,
            } => log.ends.push((seq, ended_at, outcome)),
            Action::Fetch { media } => log.fetches.push(media.sha256),
            Action::Persist(p) => log.persisted.push(p),
            Action::Rejected { refusal, .. } => log.rejected.push(refusal),
            Action::Acked {
                boot_id,
                upto_seq,
                refused,
            } => {
                log.acked.push((boot_id, upto_seq));
                log.refused.extend(refused);
            }
            other => log.other.push(other),
        }
    }
}

/// Runs the player's timers from `from` to `until` (exclusive).
fn run_until(player: &mut Player, log: &mut Log, until: i64) {
    while let Some(t) = player.poll_timeout() {
        if t.0 >= until {
            break;
        }
        player.handle(t, Input::Timer);
        drain(player, log);
    }
}

fn media_of(s: &Showing) -> Option<u8> {
    match &s.content {
        Content::Media { media, .. } => Some(media.0[0]),
        _ => None,
    }
}

#[test]
fn a_whole_day_plays_every_slot_in_order_and_records_each_exactly_once() {
    let start = 1_000 * DAY;
    let r = rotation(
        1,
        start,
        vec![all_day(
            start,
            vec![slot(1, 10_000, true), slot(2, 20_000, false)],
        )],
        vec![],
    );
    let mut player = Player::new(config(&[1, 2]));
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&r));
    drain(&mut player, &mut log);
    run_until(&mut player, &mut log, start + DAY);

    // 24 h / 30 s loop = 2880 loops of 2 slots.
    assert_eq!(log.shows.len(), 2 * 2880);
    assert!(log.shows.iter().all(|s| !s.fallback));
    for pair in log.shows.windows(2) {
        assert_ne!(media_of(&pair[0]), media_of(&pair[1]));
        assert_eq!(pair[0].ends_at, pair[1].started_at, "no gap between items");
    }
    // Every start has exactly one completed end, seq 1..=n in order.
    let seqs: Vec<u64> = log.starts.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        log.ends.len(),
        log.starts.len() - 1,
        "the last item is still on screen"
    );
    assert!(log.ends.iter().all(|e| e.2 == PlayOutcome::Completed));
    let warnings = log.starts.iter().filter(|r| r.is_warning).count();
    assert_eq!(warnings, 2880);
    assert!(log.fetches.is_empty(), "everything was cached");
}

#[test]
fn without_any_rotation_the_builtin_fallback_plays_and_state_is_stale() {
    let mut player = Player::new(config(&[]));
    let mut log = Log::default();
    player.handle(Timestamp(0), Input::Timer);
    drain(&mut player, &mut log);
    run_until(&mut player, &mut log, 60_000);
    assert_eq!(log.shows.len(), 6);
    assert!(log
        .shows
        .iter()
        .all(|s| matches!(s.content, Content::Builtin { .. }) && s.fallback));
    assert!(player.status().stale);
    assert!(log
        .starts
        .iter()
        .all(|r| r.is_warning && r.rotation_version.is_none()));
}

#[test]
fn new_rotation_switches_only_after_its_media_is_cached() {
    let start = 500 * DAY;
    let old = rotation(
        1,
        start,
        vec![all_day(start, vec![slot(1, 10_000, true)])],
        vec![],
    );
    let new = rotation(
        2,
        start + HOUR,
        vec![all_day(
            start,
            vec![slot(3, 10_000, true), slot(4, 10_000, true)],
        )],
        vec![],
    );
    let mut player = Player::new(config(&[1]));
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&old));
    drain(&mut player, &mut log);
    run_until(&mut player, &mut log, start + HOUR);
    player.handle(Timestamp(start + HOUR), envelope(&new));
    drain(&mut player, &mut log);
    assert_eq!(log.fetches, vec![Sha256([3; 32]), Sha256([4; 32])]);
    assert_eq!(player.status().pending_version, Some(2));

    // Half the media arrives: still the old rotation.
    player.handle(
        Timestamp(start + HOUR + 1000),
        Input::MediaReady {
            media: Sha256([3; 32]),
        },
    );
    drain(&mut player, &mut log);
    run_until(&mut player, &mut log, start + 2 * HOUR);
    assert!(log.shows.iter().all(|s| media_of(s) == Some(1)));

    // All of it: switch at once, atomically.
    player.handle(
        Timestamp(start + 2 * HOUR),
        Input::MediaReady {
            media: Sha256([4; 32]),
        },
    );
    drain(&mut player, &mut log);
    assert_eq!(player.status().rotation_version, Some(2));
    assert_eq!(player.status().pending_version, None);
    let last = log.shows.last().unwrap();
    assert!(matches!(media_of(last), Some(3) | Some(4)));
    assert!(log
        .persisted
        .iter()
        .any(|p| matches!(p, Persist::CurrentRotation { .. })));
}

#[test]
fn forged_replayed_rolled_back_and_other_screen_rotations_change_nothing() {
    let start = 100 * DAY;
    let good = rotation(
        5,
        start,
        vec![all_day(start, vec![slot(1, 10_000, true)])],
        vec![],
    );
    let mut player = Player::new(config(&[1, 2]));
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&good));
    drain(&mut player, &mut log);
    let shows_before = log.shows.len();

    let attacker = SigningKey::from_bytes(&[9; 32]);
    let evil = rotation(
        6,
        start,
        vec![all_day(start, vec![slot(2, 10_000, false)])],
        vec![],
    );
    player.handle(
        Timestamp(start + 1),
        Input::Rotation {
            envelope: seal(&evil, &attacker),
            source: RotationSource::Mqtt,
        },
    );
    let mut older = evil.clone();
    older.version = 4;
    player.handle(Timestamp(start + 2), envelope(&older));
    let mut other_screen = evil.clone();
    other_screen.screen_id = ScreenId::new("door-2").unwrap();
    player.handle(Timestamp(start + 3), envelope(&other_screen));
    let mut expired = evil.clone();
    expired.issued_at = Timestamp(start - 10 * DAY);
    expired.expires_at = Timestamp(start - DAY);
    player.handle(Timestamp(start + 4), envelope(&expired));
    // A tampered payload under a valid signature.
    let mut bytes = seal(&evil, &server_key());
    let text = String::from_utf8(bytes.clone())
        .unwrap()
        .replace("\\\"version\\\":6", "\\\"version\\\":7");
    bytes = text.into_bytes();
    player.handle(
        Timestamp(start + 5),
        Input::Rotation {
            envelope: bytes,
            source: RotationSource::Mqtt,
        },
    );
    // A replay of the good one is silently ignored.
    player.handle(Timestamp(start + 6), envelope(&good));
    drain(&mut player, &mut log);

    assert_eq!(log.rejected.len(), 5, "{:?}", log.rejected);
    assert!(matches!(
        log.rejected[0],
        Refusal::Protocol(Rejected::UnknownKey { .. })
    ));
    assert!(matches!(
        log.rejected[1],
        Refusal::Protocol(Rejected::Rollback { .. })
    ));
    assert!(matches!(
        log.rejected[2],
        Refusal::Protocol(Rejected::WrongScreen { .. })
    ));
    assert!(matches!(
        log.rejected[3],
        Refusal::Protocol(Rejected::Expired { .. })
    ));
    assert!(matches!(
        log.rejected[4],
        Refusal::Protocol(Rejected::BadSignature)
    ));
    assert_eq!(log.shows.len(), shows_before, "screen unchanged");
    assert_eq!(player.status().rotation_version, Some(5));
    assert!(log.fetches.is_empty());
}

#[test]
fn boot_feeds_persisted_rotations_through_the_same_path() {
    let start = 200 * DAY;
    let current = rotation(
        3,
        start,
        vec![all_day(start, vec![slot(1, 10_000, true)])],
        vec![],
    );
    let pending = rotation(
        4,
        start,
        vec![all_day(start, vec![slot(2, 10_000, true)])],
        vec![],
    );
    let mut cfg = config(&[1]);
    cfg.highest_version_seen = Some(4);
    let mut player = Player::new(cfg);
    let mut log = Log::default();
    for r in [&current, &pending] {
        player.handle(
            Timestamp(start + 5),
            Input::Rotation {
                envelope: seal(r, &server_key()),
                source: RotationSource::Disk,
            },
        );
    }
    drain(&mut player, &mut log);
    assert!(log.rejected.is_empty(), "{:?}", log.rejected);
    assert_eq!(player.status().rotation_version, Some(3));
    assert_eq!(player.status().pending_version, Some(4));
    assert_eq!(media_of(log.shows.last().unwrap()), Some(1));
    // The retained copy of version 4 arriving from the broker is a replay now.
    player.handle(Timestamp(start + 6), envelope(&pending));
    drain(&mut player, &mut log);
    assert!(log.rejected.is_empty());
}

#[test]
fn expiry_falls_back_to_the_rotation_fallback_then_builtin_and_reports_stale() {
    let start = 300 * DAY;
    let r = rotation(
        1,
        start,
        vec![Block {
            from: Timestamp(start),
            until: Timestamp(start + HOUR),
            priority: 0,
            slots: vec![slot(1, 10_000, false)],
        }],
        vec![slot(8, 30_000, true)],
    );
    let mut player = Player::new(config(&[1, 8]));
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&r));
    drain(&mut player, &mut log);
    run_until(&mut player, &mut log, start + 2 * HOUR);
    // After the block, the rotation's own fallback plays.
    let after_block: Vec<&Showing> = log
        .shows
        .iter()
        .filter(|s| s.started_at.0 >= start + HOUR)
        .collect();
    assert!(!after_block.is_empty());
    assert!(after_block
        .iter()
        .all(|s| s.fallback && media_of(s) == Some(8)));
    assert!(
        !player.status().stale,
        "a gap covered by the rotation fallback is by design"
    );

    // Past expiry (3 days): stale, still never blank.
    run_until(&mut player, &mut log, start + 4 * DAY);
    assert!(player.status().stale);
    let last = log.shows.last().unwrap();
    assert!(last.fallback);
    // Continuity: every item starts where the previous ended.
    for pair in log.shows.windows(2) {
        assert_eq!(pair[0].ends_at, pair[1].started_at);
    }
}

#[test]
fn missing_or_corrupt_media_shows_a_fallback_and_is_refetched() {
    let start = 10 * DAY;
    let r = rotation(
        1,
        start,
        vec![all_day(
            start,
            vec![slot(1, 10_000, false), slot(2, 10_000, false)],
        )],
        vec![],
    );
    let mut player = Player::new(config(&[1, 2]));
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&r));
    drain(&mut player, &mut log);
    // Item 1 turns out corrupt at play time.
    player.handle(
        Timestamp(start + 100),
        Input::MediaGone {
            media: Sha256([1; 32]),
        },
    );
    drain(&mut player, &mut log);
    assert_eq!(log.fetches, vec![Sha256([1; 32])]);
    let now_showing = log.shows.last().unwrap();
    assert!(matches!(now_showing.content, Content::Builtin { .. }));
    assert_eq!(
        now_showing.ends_at,
        Timestamp(start + 10_000),
        "until the slot ends"
    );
    // Slot 2 plays normally; slot 1 again shows the fallback while missing.
    run_until(&mut player, &mut log, start + 25_000);
    let kinds: Vec<Option<u8>> = log.shows.iter().map(media_of).collect();
    assert_eq!(kinds, vec![Some(1), None, Some(2), None]);
    // Refetched: back to normal immediately.
    player.handle(
        Timestamp(start + 25_000),
        Input::MediaReady {
            media: Sha256([1; 32]),
        },
    );
    drain(&mut player, &mut log);
    assert_eq!(media_of(log.shows.last().unwrap()), Some(1));
}

#[test]
fn video_slots_without_a_sink_are_skipped_with_a_warning() {
    let start = 20 * DAY;
    let mut video = slot(5, 10_000, false);
    video.kind = SlotKind::Video;
    let r = rotation(
        1,
        start,
        vec![all_day(start, vec![video, slot(1, 10_000, true)])],
        vec![],
    );
    let mut player = Player::new(config(&[1, 5]));
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&r));
    drain(&mut player, &mut log);
    run_until(&mut player, &mut log, start + 40_000);
    assert!(log.shows.iter().all(|s| !matches!(
        s.content,
        Content::Media {
            kind: SlotKind::Video,
            ..
        }
    )));
    assert!(player.status().warnings.iter().any(|w| w.contains("video")));
}

#[test]
fn shutdown_ends_the_current_record_as_interrupted_and_clock_steps_are_flagged() {
    let start = 30 * DAY;
    let r = rotation(
        1,
        start,
        vec![all_day(start, vec![slot(1, 10_000, true)])],
        vec![],
    );
    let mut player = Player::new(config(&[1]));
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&r));
    run_until(&mut player, &mut log, start + 30_000);
    // The clock is set back by a year: the old rotation does not cover that
    // instant, so the built-in fallback plays and the record is flagged.
    player.handle(Timestamp(start - 365 * DAY), Input::Timer);
    drain(&mut player, &mut log);
    let last = log.starts.last().unwrap().clone();
    assert!(last.clock_suspect);
    assert!(player.status().warnings.iter().any(|w| w.contains("clock")));
    player.handle(Timestamp(start - 365 * DAY + 500), Input::Shutdown);
    drain(&mut player, &mut log);
    assert_eq!(log.ends.last().unwrap().2, PlayOutcome::Interrupted);
    assert_eq!(log.ends.last().unwrap().0, last.seq);
    assert_eq!(player.poll_timeout(), None);
}

#[test]
fn a_boot_with_the_clock_a_year_back_flags_records_and_plays_once_the_clock_is_set() {
    let real = 30 * DAY;
    let r = rotation(
        3,
        real,
        vec![all_day(real, vec![slot(1, 10_000, true)])],
        vec![],
    );
    let mut config = config(&[1]);
    config.highest_version_seen = Some(3);
    let mut player = Player::new(config);
    let mut log = Log::default();
    // The rotation on disk was signed a year after the clock's idea of now.
    let booted = real + 60_000 - 365 * DAY;
    player.handle(
        Timestamp(booted),
        Input::Rotation {
            envelope: seal(&r, &server_key()),
            source: RotationSource::Disk,
        },
    );
    drain(&mut player, &mut log);
    assert!(matches!(
        log.rejected.last(),
        Some(Refusal::Protocol(Rejected::IssuedInFuture { .. }))
    ));
    // An older rotation that would cover the wrong instant is refused too.
    let mut old = rotation(
        2,
        booted - 60_000,
        vec![all_day(booted - 60_000, vec![slot(2, 10_000, true)])],
        vec![],
    );
    old.expires_at = Timestamp(booted + DAY);
    player.handle(Timestamp(booted + 1), envelope(&old));
    drain(&mut player, &mut log);
    assert!(matches!(
        log.rejected.last(),
        Some(Refusal::Protocol(Rejected::Rollback { .. }))
    ));
    run_until(&mut player, &mut log, booted + 30_000);
    assert!(!log.starts.is_empty());
    assert!(log
        .starts
        .iter()
        .all(|s| s.clock_suspect && s.rotation_version.is_none()));
    assert!(player.status().warnings.iter().any(|w| w.contains("clock")));

    // NTP sets the clock: the deferred signed rotation plays without waiting
    // for the next version.
    player.handle(Timestamp(real + 120_000), Input::Timer);
    drain(&mut player, &mut log);
    let last = log.starts.last().unwrap();
    assert_eq!(last.rotation_version, Some(3));
    assert_eq!(media_of(log.shows.last().unwrap()), Some(1));
}

#[test]
fn commands_and_acks_are_verified() {
    let now = 40 * DAY;
    let mut player = Player::new(config(&[]));
    let mut log = Log::default();
    let command = |id: &str, expires_at: i64, action: CommandAction| Command {
        screen_id: screen(),
        command_id: id.into(),
        issued_at: Timestamp(now - 1000),
        expires_at: Timestamp(expires_at),
        action,
    };
    let send = |player: &mut Player, c: &Command, key: &SigningKey| {
        player.handle(
            Timestamp(now),
            Input::Command {
                envelope: seal(c, key),
            },
        )
    };
    send(
        &mut player,
        &command("c1", now + 1000, CommandAction::Screenshot),
        &server_key(),
    );
    send(
        &mut player,
        &command("c1", now + 1000, CommandAction::Screenshot),
        &server_key(),
    );
    send(
        &mut player,
        &command("c2", now - 1, CommandAction::Screenshot),
        &server_key(),
    );
    let attacker = SigningKey::from_bytes(&[9; 32]);
    send(
        &mut player,
        &command("c3", now + 1000, CommandAction::Resync),
        &attacker,
    );
    drain(&mut player, &mut log);
    assert_eq!(
        log.other
            .iter()
            .filter(|a| **a == Action::Screenshot)
            .count(),
        1
    );
    assert!(!log.other.contains(&Action::Resync));
    assert_eq!(log.rejected.len(), 3);

    // Key rotation signed by the current key; afterwards only the new key works.
    let new_key = SigningKey::from_bytes(&[11; 32]);
    let trusted_new = TrustedKey::new(new_key.verifying_key());
    send(
        &mut player,
        &command(
            "c4",
            now + 1000,
            CommandAction::TrustServerKey {
                key_id: trusted_new.key_id.clone(),
                public_key_hex: trusted_new.public_key_hex(),
            },
        ),
        &server_key(),
    );
    let ack = Ack {
        screen_id: screen(),
        boot_id: BootId::new("boot-0").unwrap(),
        upto_seq: 42,
        refused: vec![],
    };
    player.handle(
        Timestamp(now),
        Input::Ack {
            envelope: seal(&ack, &server_key()),
        },
    );
    player.handle(
        Timestamp(now),
        Input::Ack {
            envelope: seal(&ack, &new_key),
        },
    );
    drain(&mut player, &mut log);
    assert_eq!(log.acked, vec![(BootId::new("boot-0").unwrap(), 42)]);
    assert!(log
        .persisted
        .iter()
        .any(|p| matches!(p, Persist::ServerKey { key_id, .. } if *key_id == trusted_new.key_id)));
    assert_eq!(player.server_key().key_id, trusted_new.key_id);
    // A rotation re-signed with the new key may have come before the
    // hand-over (MQTT orders per topic only): the player asks again.
    assert!(log.other.contains(&Action::Resync));
}

#[test]
fn needed_media_covers_current_and_pending() {
    let start = 50 * DAY;
    let a = rotation(
        1,
        start,
        vec![all_day(start, vec![slot(1, 1000, true)])],
        vec![],
    );
    let b = rotation(
        2,
        start,
        vec![all_day(start, vec![slot(2, 1000, true)])],
        vec![],
    );
    let mut player = Player::new(config(&[1]));
    player.handle(Timestamp(start), envelope(&a));
    player.handle(Timestamp(start), envelope(&b));
    let needed: HashSet<Sha256> = player.needed_media();
    assert_eq!(
        needed,
        [Sha256([1; 32]), Sha256([2; 32])].into_iter().collect()
    );
}

#[test]
fn identify_shows_the_screen_id_for_its_seconds_without_a_play_record() {
    let start = 60 * DAY;
    let r = rotation(
        1,
        start,
        vec![all_day(start, vec![slot(1, 60_000, true)])],
        vec![],
    );
    let mut player = Player::new(config(&[1]));
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&r));
    drain(&mut player, &mut log);
    let starts_before = log.starts.len();
    let identify = Command {
        screen_id: screen(),
        command_id: "id-1".into(),
        issued_at: Timestamp(start),
        expires_at: Timestamp(start + 60_000),
        action: CommandAction::Identify { seconds: 5 },
    };
    player.handle(
        Timestamp(start + 1000),
        Input::Command {
            envelope: seal(&identify, &server_key()),
        },
    );
    drain(&mut player, &mut log);
    let shown = log.shows.last().unwrap();
    assert_eq!(
        shown.content,
        Content::Identify {
            text: "DOOR-1".into()
        }
    );
    assert_eq!(shown.ends_at, Timestamp(start + 6000));
    // The poster's record ended when identify took over; identify itself is not a play.
    assert_eq!(log.starts.len(), starts_before);
    run_until(&mut player, &mut log, start + 7000);
    assert_eq!(media_of(log.shows.last().unwrap()), Some(1));
    assert_eq!(log.starts.len(), starts_before + 1);
}

#[test]
fn an_ack_with_refused_records_acknowledges_them_too() {
    let mut player = Player::new(config(&[]));
    let mut log = Log::default();
    let refused = vec![v1::RefusedRecord {
        seq: 7,
        reason: v1::RecordRefusal::EndsBeforeStart,
    }];
    let ack = Ack {
        screen_id: screen(),
        boot_id: BootId::new("boot-0").unwrap(),
        upto_seq: 9,
        refused: refused.clone(),
    };
    player.handle(
        Timestamp(50 * DAY),
        Input::Ack {
            envelope: seal(&ack, &server_key()),
        },
    );
    drain(&mut player, &mut log);
    assert_eq!(log.acked, vec![(BootId::new("boot-0").unwrap(), 9)]);
    assert_eq!(log.refused, refused);
}

#[test]
fn a_video_that_fails_mid_slot_ends_its_record_and_the_fallback_is_recorded_as_such() {
    let start = 40 * DAY;
    let mut video = slot(5, 10_000, true);
    video.kind = SlotKind::Video;
    let r = rotation(
        1,
        start,
        vec![all_day(start, vec![video, slot(1, 10_000, true)])],
        vec![slot(9, 60_000, true)],
    );
    let mut cfg = config(&[1, 5, 9]);
    cfg.video_supported = true;
    let mut player = Player::new(cfg);
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&r));
    drain(&mut player, &mut log);
    let video_seq = log.starts.last().unwrap().seq;
    assert_eq!(log.starts.last().unwrap().material_id, "m5");

    // mpv exits 4 s into the 10 s slot.
    player.handle(
        Timestamp(start + 4_000),
        Input::ShowFailed {
            seq: video_seq,
            error: "mpv exited with status 1".into(),
        },
    );
    drain(&mut player, &mut log);
    assert_eq!(
        log.ends.last().unwrap(),
        &(
            video_seq,
            Timestamp(start + 4_000),
            PlayOutcome::Interrupted
        ),
        "the video's record says it was on the glass for 4 s"
    );
    let fallback = log.starts.last().unwrap();
    assert_eq!(fallback.material_id, "m9", "the rotation's fallback");
    assert_eq!(fallback.started_at, Timestamp(start + 4_000));
    let showing = log.shows.last().unwrap();
    assert!(showing.fallback);
    assert_eq!(
        showing.ends_at,
        Timestamp(start + 10_000),
        "until the slot ends"
    );
    assert!(player
        .status()
        .last_error
        .is_some_and(|e| e.contains("m5") && e.contains("mpv exited")));
    // A late report for the record already ended changes nothing.
    player.handle(
        Timestamp(start + 5_000),
        Input::ShowFailed {
            seq: video_seq,
            error: "again".into(),
        },
    );
    drain(&mut player, &mut log);
    assert_eq!(log.starts.len(), 2);

    // The next slot plays, and the video is tried again the next time round.
    run_until(&mut player, &mut log, start + 20_001);
    let materials: Vec<&str> = log.starts.iter().map(|r| r.material_id.as_str()).collect();
    assert_eq!(materials, vec!["m5", "m9", "m1", "m5"]);
    // Every record ends where the next begins: the glass is accounted for.
    for (record, next) in log.starts.iter().zip(log.starts.iter().skip(1)) {
        let end = log.ends.iter().find(|e| e.0 == record.seq).unwrap();
        assert_eq!(
            end.1, next.started_at,
            "{} ends as {} starts",
            record.material_id, next.material_id
        );
    }
}

#[test]
fn a_video_that_cannot_start_leaves_a_record_of_no_time_and_the_builtin_fills_the_slot() {
    let start = 41 * DAY;
    let mut video = slot(5, 10_000, true);
    video.kind = SlotKind::Video;
    let r = rotation(1, start, vec![all_day(start, vec![video])], vec![]);
    let mut cfg = config(&[5]);
    cfg.video_supported = true;
    let mut player = Player::new(cfg);
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&r));
    drain(&mut player, &mut log);
    let seq = log.starts.last().unwrap().seq;
    player.handle(
        Timestamp(start),
        Input::ShowFailed {
            seq,
            error: "cannot start mpv".into(),
        },
    );
    drain(&mut player, &mut log);
    assert_eq!(
        log.ends.last().unwrap(),
        &(seq, Timestamp(start), PlayOutcome::Interrupted)
    );
    let builtin = log.starts.last().unwrap();
    assert_eq!(builtin.rotation_version, None);
    assert!(builtin.material_id.starts_with("builtin:"));
    assert!(matches!(
        log.shows.last().unwrap().content,
        Content::Builtin { .. }
    ));
}

#[test]
fn without_a_display_nothing_is_journaled_until_it_comes_back() {
    let start = 42 * DAY;
    let r = rotation(
        1,
        start,
        vec![all_day(
            start,
            vec![slot(1, 10_000, true), slot(2, 10_000, true)],
        )],
        vec![],
    );
    let mut player = Player::new(config(&[1, 2]));
    let mut log = Log::default();
    player.handle(
        Timestamp(start),
        Input::DisplayLost {
            error: "/dev/fb0: No such file or directory".into(),
        },
    );
    player.handle(Timestamp(start), envelope(&r));
    drain(&mut player, &mut log);
    for t in (0..60_000).step_by(5_000) {
        player.handle(Timestamp(start + t), Input::Timer);
    }
    drain(&mut player, &mut log);
    assert!(log.starts.is_empty() && log.shows.is_empty(), "{log:?}");
    let status = player.status();
    assert!(status.display_missing);
    assert!(status.now_playing.is_none());
    assert!(status.last_error.is_some_and(|e| e.contains("/dev/fb0")));

    player.handle(Timestamp(start + 61_000), Input::DisplayBack);
    drain(&mut player, &mut log);
    assert_eq!(log.starts.len(), 1);
    assert_eq!(log.starts[0].started_at, Timestamp(start + 61_000));
    assert!(!player.status().display_missing);
    assert_eq!(player.status().last_error, None);

    // Lost while showing: the record ends then, and nothing follows.
    player.handle(
        Timestamp(start + 63_000),
        Input::DisplayLost {
            error: "write: Input/output error".into(),
        },
    );
    drain(&mut player, &mut log);
    run_until(&mut player, &mut log, start + 120_000);
    assert_eq!(
        log.ends,
        vec![(
            log.starts[0].seq,
            Timestamp(start + 63_000),
            PlayOutcome::Interrupted
        )]
    );
    assert_eq!(log.starts.len(), 1);
}

#[test]
fn a_night_window_dims_without_a_new_record_and_an_off_window_records_nothing() {
    let start = 1_000 * DAY;
    let mut r = rotation(
        1,
        start,
        vec![all_day(start, vec![slot(1, 60 * 60_000, true)])],
        vec![],
    );
    let window = |from: i64, until: i64, percent| v1::BrightnessWindow {
        from: Timestamp(start + from),
        until: Timestamp(start + until),
        percent,
    };
    // Dimmed from 0:30 to 1:10, off from 1:10 to 1:40, dimmed to 2:00.
    r.brightness = vec![
        window(30 * 60_000, 70 * 60_000, 30),
        window(70 * 60_000, 100 * 60_000, 0),
        window(100 * 60_000, 120 * 60_000, 30),
    ];
    let mut player = Player::new(config(&[1]));
    let mut log = Log::default();
    player.handle(Timestamp(start), envelope(&r));
    drain(&mut player, &mut log);
    run_until(&mut player, &mut log, start + 3 * HOUR);

    let brightness: Vec<u8> = log
        .other
        .iter()
        .filter_map(|a| match a {
            Action::Brightness { percent } => Some(*percent),
            _ => None,
        })
        .collect();
    assert_eq!(brightness, vec![30, 0, 30, 100]);
    // Records: 0:00–1:00 (dimming at 0:30 starts none), 1:00–1:10 (ends
    // as the panel goes off), nothing while off, 1:40–2:00, 2:00–3:00.
    let minutes = |t: Timestamp| (t.0 - start) / 60_000;
    let starts: Vec<i64> = log.starts.iter().map(|r| minutes(r.started_at)).collect();
    assert_eq!(starts, vec![0, 60, 100, 120]);
    let ends: Vec<(i64, PlayOutcome)> = log.ends.iter().map(|e| (minutes(e.1), e.2)).collect();
    assert_eq!(
        ends,
        vec![
            (60, PlayOutcome::Completed),
            (70, PlayOutcome::Completed),
            (120, PlayOutcome::Completed),
        ]
    );
    assert!(
        log.shows
            .iter()
            .all(|s| minutes(s.started_at) < 70 || minutes(s.started_at) >= 100),
        "nothing is shown while off"
    );
    // While off: nothing on screen, and the player wakes when it ends.
    let mut player = Player::new(config(&[1]));
    player.handle(Timestamp(start + 80 * 60_000), envelope(&r));
    assert!(player.showing().is_none());
    assert_eq!(player.status().brightness_percent, 0);
    assert_eq!(player.status().now_playing, None);
    assert_eq!(player.poll_timeout(), Some(Timestamp(start + 100 * 60_000)));
}
