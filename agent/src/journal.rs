//! The play-record journal: append-only segment files under `journal/`, one
//! CRC32-framed JSON entry per record (`start`, `end`, `ack`), every append
//! fsynced. A torn tail (power cut mid-write) is truncated on load; a
//! segment is deleted only once every record in it is acknowledged by the
//! server, oldest first.
//!
//! Memory stays small however long the agent is offline: only per-segment
//! `(boot, first seq, last seq)` ranges are kept; batches are read back from
//! disk when they are sent. It does not talk to the network: the driver
//! publishes what [`Journal::next_batch`] returns and feeds acks back.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use ledcast_protocol::v1::{BootId, PlayOutcome, PlayRecord, Timestamp};
use serde::{Deserialize, Serialize};

use crate::fsutil;

/// Frame header: payload length and CRC32, both little-endian u32.
const HEADER_BYTES: usize = 8;
/// No single entry is ever this large; a larger length means a torn header.
const MAX_ENTRY_BYTES: u32 = 64 * 1024;

/// Why the journal failed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed (disk full, permissions).
    #[error("journal {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Entry {
    /// An item went on screen (written and fsynced before it is shown).
    Start {
        /// The run.
        boot_id: BootId,
        /// The record, `ended_at = None`.
        record: PlayRecord,
    },
    /// An item left the screen.
    End {
        /// The run.
        boot_id: BootId,
        /// The record.
        seq: u64,
        /// When it left.
        ended_at: Timestamp,
        /// How.
        outcome: PlayOutcome,
        /// Bridged records: whether the controller card confirmed the loop
        /// until the end (a `false` here overrides the start's `confirmed`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bridge_confirmed: Option<bool>,
    },
    /// The server stored every record of `boot_id` up to `upto_seq`.
    Ack {
        /// The run.
        boot_id: BootId,
        /// Highest stored.
        upto_seq: u64,
    },
}

/// Journal limits.
#[derive(Clone, Copy, Debug)]
pub struct JournalLimits {
    /// Capacity for un-acknowledged records.
    pub max_bytes: u64,
    /// Alarm threshold, percent of `max_bytes`.
    pub alarm_percent: u8,
    /// Start records per segment.
    pub segment_records: u32,
}

/// What a segment holds.
#[derive(Clone, Debug)]
struct Segment {
    /// Its number (file `seg-{index}.log`).
    index: u64,
    /// Bytes on disk.
    bytes: u64,
    /// Start records in it.
    starts: u32,
    /// Per boot: the lowest and highest start seq in this segment.
    ranges: Vec<(BootId, u64, u64)>,
}

/// Records to publish: one boot, contiguous by seq.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// The run.
    pub boot_id: BootId,
    /// The records, in seq order, ends merged in.
    pub records: Vec<PlayRecord>,
}

/// Figures for `state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JournalStatus {
    /// Start records not yet acknowledged.
    pub pending: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// Above the alarm threshold.
    pub alarm: bool,
}

/// The journal.
#[derive(Debug)]
pub struct Journal {
    /// `journal/`.
    dir: PathBuf,
    /// Limits.
    limits: JournalLimits,
    /// This run.
    boot_id: BootId,
    /// Segments, oldest first; the last is the active one.
    segments: Vec<Segment>,
    /// The active segment, open for appending.
    active: File,
    /// Per boot, the highest acknowledged seq.
    acked: HashMap<BootId, u64>,
    /// What loading found wrong (torn tails), for logs.
    pub repairs: Vec<String>,
}

fn segment_path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("seg-{index:010}.log"))
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Encodes one entry as a frame.
pub fn frame(entry: &Entry) -> Vec<u8> {
    let payload = serde_json::to_vec(entry).expect("journal entries always serialise");
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// Decodes frames until the first bad one; returns the entries and the
/// length of the good prefix.
pub fn decode(bytes: &[u8]) -> (Vec<Entry>, usize) {
    let mut entries = Vec::new();
    let mut at = 0;
    while bytes.len() - at >= HEADER_BYTES {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes"));
        if len > MAX_ENTRY_BYTES || bytes.len() - at - HEADER_BYTES < len as usize {
            break;
        }
        let payload = &bytes[at + HEADER_BYTES..at + HEADER_BYTES + len as usize];
        if crc32fast::hash(payload) != crc {
            break;
        }
        let Ok(entry) = serde_json::from_slice::<Entry>(payload) else {
            break;
        };
        entries.push(entry);
        at += HEADER_BYTES + len as usize;
    }
    (entries, at)
}

impl Journal {
    /// Opens the journal under `dir` for a new run `boot_id`: loads every
    /// segment, truncates torn tails, drops fully acknowledged segments and
    /// starts a fresh segment for this run.
    pub fn open(
        dir: &Path,
        boot_id: BootId,
        limits: JournalLimits,
    ) -> Result<Journal, JournalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut indices: Vec<u64> = fs::read_dir(dir)
            .map_err(io_err(dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix("seg-")?
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .collect();
        indices.sort_unstable();
        let mut segments = Vec::new();
        let mut acked: HashMap<BootId, u64> = HashMap::new();
        let mut repairs = Vec::new();
        for index in indices {
            let path = segment_path(dir, index);
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let (entries, good) = decode(&bytes);
            if good < bytes.len() {
                repairs.push(format!(
                    "{}: truncated {} damaged bytes at offset {good}",
                    path.display(),
                    bytes.len() - good
                ));
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                file.set_len(good as u64).map_err(io_err(&path))?;
                file.sync_all().map_err(io_err(&path))?;
            }
            let mut segment = Segment {
                index,
                bytes: good as u64,
                starts: 0,
                ranges: Vec::new(),
            };
            for entry in &entries {
                match entry {
                    Entry::Start { boot_id, record } => {
                        segment.starts += 1;
                        note_range(&mut segment.ranges, boot_id, record.seq);
                    }
                    Entry::Ack { boot_id, upto_seq } => {
                        let a = acked.entry(boot_id.clone()).or_insert(0);
                        *a = (*a).max(*upto_seq);
                    }
                    Entry::End { .. } => {}
                }
            }
            segments.push(segment);
        }
        let next_index = segments.last().map_or(1, |s| s.index + 1);
        let active = create_segment(dir, next_index)?;
        segments.push(Segment {
            index: next_index,
            bytes: 0,
            starts: 0,
            ranges: Vec::new(),
        });
        let mut journal = Journal {
            dir: dir.to_owned(),
            limits,
            boot_id,
            segments,
            active,
            acked,
            repairs,
        };
        journal.drop_acknowledged()?;
        Ok(journal)
    }

    /// This run's id.
    pub fn boot_id(&self) -> &BootId {
        &self.boot_id
    }

    /// Appends and fsyncs a start record of this run.
    pub fn start(&mut self, record: &PlayRecord) -> Result<(), JournalError> {
        if self
            .segments
            .last()
            .is_some_and(|s| s.starts >= self.limits.segment_records)
        {
            self.roll()?;
        }
        let entry = Entry::Start {
            boot_id: self.boot_id.clone(),
            record: record.clone(),
        };
        self.append(&entry)?;
        let boot_id = self.boot_id.clone();
        if let Some(segment) = self.segments.last_mut() {
            segment.starts += 1;
            note_range(&mut segment.ranges, &boot_id, record.seq);
        }
        Ok(())
    }

    /// Appends and fsyncs an end record of this run.
    pub fn end(
        &mut self,
        seq: u64,
        ended_at: Timestamp,
        outcome: PlayOutcome,
    ) -> Result<(), JournalError> {
        self.end_bridged(seq, ended_at, outcome, None)
    }

    /// [`Journal::end`] for a bridged record: `bridge_confirmed` says
    /// whether the controller card confirmed its loop up to the end.
    pub fn end_bridged(
        &mut self,
        seq: u64,
        ended_at: Timestamp,
        outcome: PlayOutcome,
        bridge_confirmed: Option<bool>,
    ) -> Result<(), JournalError> {
        let entry = Entry::End {
            boot_id: self.boot_id.clone(),
            seq,
            ended_at,
            outcome,
            bridge_confirmed,
        };
        self.append(&entry)
    }

    /// Appends records of this run that are already over (each a start
    /// with its end merged in, as [`Journal::next_batch`] returns them),
    /// syncing once per segment instead of once per entry. For a run
    /// replayed after the fact ([`crate::replay`]), never for live plays.
    pub fn record_finished(&mut self, records: &[PlayRecord]) -> Result<(), JournalError> {
        let mut pending: Vec<u8> = Vec::new();
        for record in records {
            if self
                .segments
                .last()
                .is_some_and(|s| s.starts >= self.limits.segment_records)
            {
                self.flush_synced(&mut pending)?;
                self.roll()?;
            }
            let start = frame(&Entry::Start {
                boot_id: self.boot_id.clone(),
                record: record.clone(),
            });
            let end = record.ended_at.map(|ended_at| {
                frame(&Entry::End {
                    boot_id: self.boot_id.clone(),
                    seq: record.seq,
                    ended_at,
                    outcome: record.outcome,
                    bridge_confirmed: record.bridge.as_ref().map(|b| b.confirmed),
                })
            });
            let boot_id = self.boot_id.clone();
            if let Some(segment) = self.segments.last_mut() {
                segment.starts += 1;
                segment.bytes += (start.len() + end.as_ref().map_or(0, Vec::len)) as u64;
                note_range(&mut segment.ranges, &boot_id, record.seq);
            }
            pending.extend_from_slice(&start);
            pending.extend(end.into_iter().flatten());
        }
        self.flush_synced(&mut pending)
    }

    /// Writes `bytes` to the active segment and fsyncs it (its size is
    /// already counted in the segment).
    fn flush_synced(&mut self, bytes: &mut Vec<u8>) -> Result<(), JournalError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let index = self.segments.last().map_or(0, |s| s.index);
        let path = segment_path(&self.dir, index);
        self.active.write_all(bytes).map_err(io_err(&path))?;
        self.active.sync_data().map_err(io_err(&path))?;
        bytes.clear();
        Ok(())
    }

    /// Records an acknowledgement and deletes fully acknowledged segments.
    pub fn ack(&mut self, boot_id: &BootId, upto_seq: u64) -> Result<(), JournalError> {
        if self.acked.get(boot_id).is_some_and(|&a| a >= upto_seq) {
            return Ok(());
        }
        self.append(&Entry::Ack {
            boot_id: boot_id.clone(),
            upto_seq,
        })?;
        self.acked.insert(boot_id.clone(), upto_seq);
        self.drop_acknowledged()
    }

    /// The oldest un-acknowledged records of one run, contiguous by seq, at
    /// most `max_records`. Records of earlier runs without an end are
    /// reported `Interrupted`; this run's record still on screen
    /// (`in_progress`) and everything after it waits.
    pub fn next_batch(
        &self,
        max_records: usize,
        in_progress: Option<u64>,
    ) -> Result<Option<Batch>, JournalError> {
        let acked = |boot: &BootId| self.acked.get(boot).copied().unwrap_or(0);
        let Some((first_segment, boot_id)) = self.segments.iter().enumerate().find_map(|(i, s)| {
            s.ranges
                .iter()
                .find(|(boot, _, max)| *max > acked(boot))
                .map(|(boot, _, _)| (i, boot.clone()))
        }) else {
            return Ok(None);
        };
        let floor = acked(&boot_id);
        let mut records: Vec<PlayRecord> = Vec::new();
        let mut ends: HashMap<u64, (Timestamp, PlayOutcome, Option<bool>)> = HashMap::new();
        for segment in &self.segments[first_segment..] {
            // An end is always written in the segment of its start (segments
            // roll only at a start), so whole segments suffice.
            if records.len() >= max_records {
                break;
            }
            let path = segment_path(&self.dir, segment.index);
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            let (entries, _) = decode(&bytes);
            for entry in entries {
                match entry {
                    Entry::Start { boot_id: b, record } if b == boot_id && record.seq > floor => {
                        records.push(record)
                    }
                    Entry::End {
                        boot_id: b,
                        seq,
                        ended_at,
                        outcome,
                        bridge_confirmed,
                    } if b == boot_id && seq > floor => {
                        ends.insert(seq, (ended_at, outcome, bridge_confirmed));
                    }
                    _ => {}
                }
            }
        }
        records.sort_by_key(|r| r.seq);
        records.dedup_by_key(|r| r.seq);
        let this_run = boot_id == self.boot_id;
        let mut out = Vec::new();
        for mut record in records {
            if out.len() >= max_records {
                break;
            }
            match ends.get(&record.seq) {
                Some(&(ended_at, outcome, bridge_confirmed)) => {
                    record.ended_at = Some(ended_at);
                    record.outcome = outcome;
                    if let (Some(evidence), Some(false)) =
                        (record.bridge.as_mut(), bridge_confirmed)
                    {
                        evidence.confirmed = false;
                    }
                }
                None if this_run && in_progress.is_some_and(|p| record.seq >= p) => break,
                None if this_run => {
                    // Started and never ended in this run without being on
                    // screen now: the end write failed. Report it interrupted.
                    record.ended_at = None;
                    record.outcome = PlayOutcome::Interrupted;
                }
                None => {
                    record.ended_at = None;
                    record.outcome = PlayOutcome::Interrupted;
                }
            }
            out.push(record);
        }
        if out.is_empty() {
            return Ok(None);
        }
        Ok(Some(Batch {
            boot_id,
            records: out,
        }))
    }

    /// Pending count, bytes and alarm.
    pub fn status(&self) -> JournalStatus {
        let acked = |boot: &BootId| self.acked.get(boot).copied().unwrap_or(0);
        let pending = self
            .segments
            .iter()
            .flat_map(|s| s.ranges.iter())
            .map(|(boot, min, max)| {
                let floor = acked(boot).max(min.saturating_sub(1));
                max.saturating_sub(floor)
            })
            .sum();
        let bytes: u64 = self.segments.iter().map(|s| s.bytes).sum();
        let threshold = self.limits.max_bytes / 100 * u64::from(self.limits.alarm_percent);
        JournalStatus {
            pending,
            bytes,
            alarm: bytes >= threshold,
        }
    }

    fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let mut bytes = frame(entry);
        if let Some(segment) = self.segments.last_mut() {
            segment.bytes += bytes.len() as u64;
        }
        self.flush_synced(&mut bytes)
    }

    fn roll(&mut self) -> Result<(), JournalError> {
        let next = self.segments.last().map_or(1, |s| s.index + 1);
        self.active = create_segment(&self.dir, next)?;
        self.segments.push(Segment {
            index: next,
            bytes: 0,
            starts: 0,
            ranges: Vec::new(),
        });
        Ok(())
    }

    /// Deletes the oldest segments while every record in them is acknowledged
    /// (never the active one).
    fn drop_acknowledged(&mut self) -> Result<(), JournalError> {
        while self.segments.len() > 1 {
            let acked = &self.acked;
            let done = self.segments[0]
                .ranges
                .iter()
                .all(|(boot, _, max)| acked.get(boot).is_some_and(|&a| a >= *max));
            if !done {
                break;
            }
            let segment = self.segments.remove(0);
            let path = segment_path(&self.dir, segment.index);
            fsutil::remove_durably(&path).map_err(io_err(&path))?;
        }
        Ok(())
    }
}

fn note_range(ranges: &mut Vec<(BootId, u64, u64)>, boot_id: &BootId, seq: u64) {
    match ranges.iter_mut().find(|(b, _, _)| b == boot_id) {
        Some((_, min, max)) => {
            *min = (*min).min(seq);
            *max = (*max).max(seq);
        }
        None => ranges.push((boot_id.clone(), seq, seq)),
    }
}

fn create_segment(dir: &Path, index: u64) -> Result<File, JournalError> {
    let path = segment_path(dir, index);
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io_err(&path))?;
    fsutil::sync_dir(dir).map_err(io_err(dir))?;
    Ok(file)
}

#[cfg(test)]
mod tests;
