//! Journal tests: crash recovery, torn tails, acks and capacity.

use ledcast_protocol::v1::Sha256;

use super::*;

fn limits(segment_records: u32) -> JournalLimits {
    JournalLimits {
        max_bytes: 128 * 1024 * 1024,
        alarm_percent: 80,
        segment_records,
    }
}

fn boot(name: &str) -> BootId {
    BootId::new(name).unwrap()
}

fn record(seq: u64) -> PlayRecord {
    PlayRecord {
        seq,
        media: Sha256([seq as u8; 32]),
        material_id: "county-pack-2026-w48-investment-poster".into(),
        rotation_version: Some(1_764_300_000_123),
        is_warning: true,
        started_at: Timestamp(1_764_300_000_000 + seq as i64 * 10_000),
        ended_at: None,
        outcome: PlayOutcome::Interrupted,
        clock_suspect: false,
        bridge: None,
    }
}

fn play(journal: &mut Journal, seq: u64) {
    journal.start(&record(seq)).unwrap();
    journal
        .end(
            seq,
            Timestamp(1_764_300_000_000 + seq as i64 * 10_000 + 9_999),
            PlayOutcome::Completed,
        )
        .unwrap();
}

#[test]
fn records_of_a_crashed_run_are_sent_under_their_own_boot_and_the_open_one_as_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut j = Journal::open(dir.path(), boot("run-1"), limits(1024)).unwrap();
        for seq in 1..=3 {
            play(&mut j, seq);
        }
        j.start(&record(4)).unwrap();
        // Crash: no end for 4.
    }
    let j = Journal::open(dir.path(), boot("run-2"), limits(1024)).unwrap();
    let batch = j.next_batch(100, None).unwrap().unwrap();
    assert_eq!(batch.boot_id, boot("run-1"));
    let seqs: Vec<u64> = batch.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert!(batch.records[..3]
        .iter()
        .all(|r| r.outcome == PlayOutcome::Completed && r.ended_at.is_some()));
    assert_eq!(batch.records[3].outcome, PlayOutcome::Interrupted);
    assert_eq!(batch.records[3].ended_at, None);
    assert_eq!(j.status().pending, 4);
}

#[test]
fn the_record_on_screen_and_everything_after_it_wait() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path(), boot("run-1"), limits(1024)).unwrap();
    play(&mut j, 1);
    j.start(&record(2)).unwrap();
    let batch = j.next_batch(100, Some(2)).unwrap().unwrap();
    assert_eq!(batch.records.len(), 1);
    j.ack(&boot("run-1"), 1).unwrap();
    assert!(j.next_batch(100, Some(2)).unwrap().is_none());
}

#[test]
fn every_possible_torn_tail_loses_only_the_torn_entry() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut j = Journal::open(dir.path(), boot("run-1"), limits(1024)).unwrap();
        for seq in 1..=5 {
            play(&mut j, seq);
        }
    }
    let path = segment_path(dir.path(), 1);
    let full = fs::read(&path).unwrap();
    let (entries, good) = decode(&full);
    assert_eq!((entries.len(), good), (10, full.len()));
    // Frame boundaries, to know how many entries a prefix keeps.
    let mut boundaries = vec![0];
    for e in &entries {
        boundaries.push(boundaries.last().unwrap() + frame(e).len());
    }
    // Every frame boundary, one byte either side, and the middle of each frame.
    let mut cuts: Vec<usize> = Vec::new();
    for pair in boundaries.windows(2) {
        cuts.extend([
            pair[0],
            pair[0] + 1,
            pair[0] + 4,
            pair[0] + 8,
            (pair[0] + pair[1]) / 2,
            pair[1] - 1,
        ]);
    }
    for cut in cuts {
        let case = tempfile::tempdir().unwrap();
        fs::write(segment_path(case.path(), 1), &full[..cut]).unwrap();
        let j = Journal::open(case.path(), boot("run-2"), limits(1024)).unwrap();
        let complete_entries = boundaries.iter().filter(|&&b| b > 0 && b <= cut).count();
        let starts = complete_entries.div_ceil(2) as u64;
        assert_eq!(j.status().pending, starts, "cut at {cut}");
        // A segment left with no record at all is simply deleted.
        let on_disk = fs::metadata(segment_path(case.path(), 1)).map_or(0, |m| m.len()) as usize;
        assert_eq!(
            on_disk, boundaries[complete_entries],
            "torn tail truncated at {cut}"
        );
        assert_eq!(j.repairs.is_empty(), cut == boundaries[complete_entries]);
    }
    // Flipped bits in the middle: everything from there on is dropped, never misread.
    let mut damaged = full.clone();
    damaged[boundaries[4] + 12] ^= 0x40;
    let case = tempfile::tempdir().unwrap();
    fs::write(segment_path(case.path(), 1), &damaged).unwrap();
    let j = Journal::open(case.path(), boot("run-2"), limits(1024)).unwrap();
    assert_eq!(j.status().pending, 2);
}

#[test]
fn acks_delete_whole_segments_and_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut j = Journal::open(dir.path(), boot("run-1"), limits(10)).unwrap();
        for seq in 1..=35 {
            play(&mut j, seq);
        }
        assert_eq!(j.status().pending, 35);
        let b = j.next_batch(20, Some(36)).unwrap().unwrap();
        assert_eq!(b.records.first().unwrap().seq, 1);
        assert_eq!(b.records.len(), 20);
        j.ack(&boot("run-1"), 20).unwrap();
        assert_eq!(j.status().pending, 15);
        // Segments 1 and 2 (seq 1..=20) are gone.
        assert!(!segment_path(dir.path(), 1).exists());
        assert!(!segment_path(dir.path(), 2).exists());
        assert!(segment_path(dir.path(), 3).exists());
    }
    let mut j = Journal::open(dir.path(), boot("run-2"), limits(10)).unwrap();
    assert_eq!(j.status().pending, 15);
    let b = j.next_batch(100, None).unwrap().unwrap();
    assert_eq!(b.records.first().unwrap().seq, 21);
    assert_eq!(b.records.last().unwrap().seq, 35);
    j.ack(&boot("run-1"), 35).unwrap();
    assert!(j.next_batch(100, None).unwrap().is_none());
    assert_eq!(j.status().pending, 0);
    // A duplicate or stale ack is harmless.
    j.ack(&boot("run-1"), 10).unwrap();
    let remaining = fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(remaining, 1, "only the active segment is left");
}

#[test]
fn thirty_days_offline_at_one_play_per_ten_seconds_fit_below_the_alarm() {
    let plays = 30 * 24 * 360u64;
    let per_play = frame(&Entry::Start {
        boot_id: BootId::from_random([0xab; 16]),
        record: record(999_999),
    })
    .len()
        + frame(&Entry::End {
            boot_id: BootId::from_random([0xab; 16]),
            seq: 999_999,
            ended_at: Timestamp(1_764_300_000_000),
            outcome: PlayOutcome::Completed,
            bridge_confirmed: Some(false),
        })
        .len();
    let needed = plays * per_play as u64;
    let defaults = crate::config::JournalConfig::default();
    assert!(
        needed < defaults.max_bytes / 100 * u64::from(defaults.alarm_percent),
        "{needed} bytes for 30 days"
    );
    // And the alarm does go off before the journal is full.
    let dir = tempfile::tempdir().unwrap();
    let small = JournalLimits {
        max_bytes: 20 * per_play as u64,
        alarm_percent: 80,
        segment_records: 1024,
    };
    let mut j = Journal::open(dir.path(), boot("run-1"), small).unwrap();
    let mut seq = 0;
    while !j.status().alarm {
        seq += 1;
        play(&mut j, seq);
        assert!(seq < 100, "the alarm never went off");
    }
    let bytes = j.status().bytes;
    assert!(bytes < small.max_bytes, "alarm before full: {bytes}");
    assert!(bytes >= small.max_bytes / 100 * 80);
}

#[test]
fn a_bridged_record_keeps_its_confirmation_unless_its_end_revokes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(dir.path(), boot("run-1"), limits(1024)).unwrap();
    let bridged = |seq: u64, confirmed: bool| PlayRecord {
        bridge: Some(ledcast_protocol::v1::BridgeEvidence {
            vendor: "huidu".into(),
            confirmed,
        }),
        ..record(seq)
    };
    let end = Timestamp(1_764_400_000_000);
    // Confirmed at start and at end.
    j.start(&bridged(1, true)).unwrap();
    j.end_bridged(1, end, PlayOutcome::Completed, Some(true))
        .unwrap();
    // Confirmed at start, lost before the end.
    j.start(&bridged(2, true)).unwrap();
    j.end_bridged(2, end, PlayOutcome::Completed, Some(false))
        .unwrap();
    // Never confirmed: an end cannot confirm it afterwards.
    j.start(&bridged(3, false)).unwrap();
    j.end_bridged(3, end, PlayOutcome::Completed, Some(true))
        .unwrap();
    let batch = j.next_batch(10, None).unwrap().unwrap();
    let confirmed: Vec<bool> = batch
        .records
        .iter()
        .map(|r| r.bridge.as_ref().unwrap().confirmed)
        .collect();
    assert_eq!(confirmed, vec![true, false, false]);
}
