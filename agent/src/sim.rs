//! A simulated screen for the fleet bench (`ledcast-tests --bin fleet`):
//! many of them run in one tokio runtime.
//!
//! Each one is the agent's real driver ([`crate::driver`]: topic dispatch
//! for rotations, commands, acks and its own `state`, the player core,
//! downloads with retries, acks, signed `state` and `plays` batches, the
//! MQTT task with its signed Last Will and reconnect backoff) over
//! in-memory `Parts` instead of the device's. This module holds only
//! those parts, the report channel the bench times, in-memory enrollment
//! and the fleet's shared media downloads; it has no loop, topic dispatch,
//! retry or batching logic of its own:
//!
//! - the glass is a null sink: a `Show` is only reported ([`SimEvent::Shown`]);
//! - media live in an in-memory store that checks SHA-256 and size when an
//!   item enters it and again each time it is shown; the bytes are fetched
//!   over HTTP once per item for the whole fleet ([`MediaPool`]), every
//!   screen verifies its own copy; there is no quota;
//! - the journal is in memory (what the player records, and the made-up
//!   records of the ingest scenario, [`SimCommand::SendPlays`], kept as an
//!   earlier run of the screen so they go out first, batched as the driver
//!   batches any journal);
//! - the state files (rotations, highest version, pinned key) are kept in
//!   memory for the run.
//!
//! Reports carry a monotonic timestamp so the bench can time fan-out, alerts
//! and reconnects.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ed25519_dalek::SigningKey;
use ledcast_protocol::v1::{
    BootId, EnrollRequest, MediaRef, PlayOutcome, PlayRecord, Sha256, Timestamp, TrustedKey,
};
use sha2::Digest;
use tokio::sync::{mpsc, OnceCell};

use crate::cache::CacheError;
use crate::clock;
use crate::config::{AgentConfig, HttpConfig, SinkKind};
use crate::display::ShowError;
use crate::driver::{
    self, BatchWaker, DownloadDone, Glass, MediaStore, Observer, Parts, PlayLog, StateFiles,
};
use crate::identity::{Identity, IdentityError, Loaded, PinnedKey};
use crate::journal::{Batch, JournalError, JournalStatus};
use crate::link::Link;
use crate::player::Showing;

/// Enrolls with `code` like [`crate::identity::enroll`] but keeps the
/// identity in memory.
pub fn enroll_in_memory(
    link: &Link,
    server_url: &str,
    code: &str,
) -> Result<Loaded, IdentityError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| IdentityError::Random(e.to_string()))?;
    let device_key = SigningKey::from_bytes(&seed);
    let request = EnrollRequest {
        code: code.trim().to_owned(),
        device_public_key_hex: hex::encode(device_key.verifying_key().as_bytes()),
    };
    let enrollment = link.enroll(server_url, &request)?;
    let server_key = TrustedKey::from_hex(&enrollment.server_public_key_hex).ok_or_else(|| {
        IdentityError::Invalid {
            path: format!("{server_url}/api/v1/enroll").into(),
            message: "server_public_key_hex is not an ed25519 key".to_owned(),
        }
    })?;
    Ok(Loaded {
        screen_id: enrollment.screen_id.clone(),
        identity: Identity {
            server_url: server_url.trim_end_matches('/').to_owned(),
            enrollment,
        },
        device_key,
        server_key,
    })
}

/// One pooled media item, filled by the first download that succeeds.
type Slot = OnceCell<Arc<Vec<u8>>>;

/// Media bytes shared by the simulated fleet: fetched over HTTP once per
/// item; screens asking while the download runs wait for it (asynchronously).
#[derive(Debug)]
pub struct MediaPool {
    link: Link,
    items: Mutex<HashMap<Sha256, Arc<Slot>>>,
}

impl MediaPool {
    /// An empty pool using `link`.
    pub fn new(link: Link) -> MediaPool {
        MediaPool {
            link,
            items: Mutex::new(HashMap::new()),
        }
    }

    /// How many items were downloaded.
    pub fn len(&self) -> usize {
        self.items
            .lock()
            .map(|i| i.values().filter(|c| c.initialized()).count())
            .unwrap_or(0)
    }

    /// True when nothing was downloaded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of `media`, at most the signed size. Not verified here:
    /// each screen verifies its copy. A failed download is not remembered.
    async fn fetch(&self, base_url: &str, media: &MediaRef) -> Result<Arc<Vec<u8>>, String> {
        let cell = {
            let mut items = self.items.lock().map_err(|e| e.to_string())?;
            items.entry(media.sha256).or_default().clone()
        };
        let (link, base, media) = (self.link.clone(), base_url.to_owned(), media.clone());
        cell.get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || {
                let (reader, _) = link
                    .open_media(&base, &media.sha256, 0)
                    .map_err(|e| e.to_string())?;
                let mut bytes = Vec::with_capacity(media.size_bytes as usize);
                reader
                    .take(media.size_bytes)
                    .read_to_end(&mut bytes)
                    .map_err(|e| e.to_string())?;
                Ok(Arc::new(bytes))
            })
            .await
            .map_err(|e| e.to_string())?
        })
        .await
        .cloned()
    }
}

/// What a simulated screen did, and when (monotonic clock).
#[derive(Clone, Debug)]
pub struct SimReport {
    /// Which screen (the index given to [`run`]).
    pub index: usize,
    /// When.
    pub at: Instant,
    /// What.
    pub event: SimEvent,
}

/// Events the bench times.
#[derive(Clone, Debug, PartialEq)]
pub enum SimEvent {
    /// The broker connection came up.
    Connected,
    /// The connection failed or dropped (one per failed attempt).
    Disconnected,
    /// A `state` report was queued for the broker with this playing version.
    StateSent {
        /// `rotation_version` in the report.
        version: Option<u64>,
    },
    /// Something went on the (null) screen.
    Shown {
        /// Its material.
        material_id: String,
        /// The rotation it came from.
        rotation_version: Option<u64>,
    },
    /// The server acknowledged made-up play records up to this sequence number.
    Acked {
        /// Highest acknowledged.
        upto_seq: u64,
    },
    /// A message or a media item was refused.
    Refused {
        /// Why.
        reason: String,
    },
}

/// What the bench asks of a simulated screen.
#[derive(Clone, Debug)]
pub enum SimCommand {
    /// Make up `count` completed play records and send them in batches
    /// (one in flight, as the driver does), until all are acknowledged.
    SendPlays {
        /// How many.
        count: u64,
    },
}

/// Sends [`SimReport`]s for one screen.
#[derive(Clone, Debug)]
struct Reporter {
    /// The screen's index.
    index: usize,
    /// The bench's channel.
    reports: mpsc::UnboundedSender<SimReport>,
}

impl Reporter {
    fn report(&self, event: SimEvent) {
        let _ = self.reports.send(SimReport {
            index: self.index,
            at: clock::monotonic(),
            event,
        });
    }
}

impl Observer for Reporter {
    fn connected(&mut self) {
        self.report(SimEvent::Connected);
    }
    fn disconnected(&mut self) {
        self.report(SimEvent::Disconnected);
    }
    fn state_sent(&mut self, rotation_version: Option<u64>) {
        self.report(SimEvent::StateSent {
            version: rotation_version,
        });
    }
    fn refused(&mut self, reason: &str) {
        self.report(SimEvent::Refused {
            reason: reason.to_owned(),
        });
    }
}

/// The null glass: reports what would be shown, draws nothing.
struct NullGlass {
    /// Where `Shown` goes.
    reporter: Reporter,
}

impl Glass for NullGlass {
    fn video_supported(&self) -> bool {
        false
    }
    fn show(
        &mut self,
        showing: &Showing,
        _media: Option<&[u8]>,
        _media_path: Option<&Path>,
        _now: Timestamp,
    ) -> Result<(), ShowError> {
        self.reporter.report(SimEvent::Shown {
            material_id: showing.material_id.clone(),
            rotation_version: showing.rotation_version,
        });
        Ok(())
    }
    fn set_brightness(&mut self, _percent: u8) -> Result<(), ShowError> {
        Ok(())
    }
    fn display_missing(&self) -> Option<&str> {
        None
    }
    fn retry_display(&mut self) -> bool {
        true
    }
    fn video_running(&self) -> bool {
        false
    }
    fn video_exited(&mut self) -> Option<String> {
        None
    }
    fn next_frame_at(&self, _now: Timestamp) -> Option<Timestamp> {
        None
    }
    fn tick(&mut self, _now: Timestamp) -> Result<(), ShowError> {
        Ok(())
    }
    fn screenshot_png(&self) -> Option<std::io::Result<Vec<u8>>> {
        None
    }
    fn stop_video(&mut self) {}
}

/// Bytes shared between a download task and the store.
type Landed = Arc<Mutex<HashMap<Sha256, Arc<Vec<u8>>>>>;

/// The in-memory media store of one screen.
struct MemoryMedia {
    /// The fleet's downloads.
    pool: Arc<MediaPool>,
    /// The enrollment's media base URL.
    base_url: String,
    /// Verified items (the index).
    items: HashMap<Sha256, Arc<Vec<u8>>>,
    /// Verified by a finished download, not yet indexed ([`MediaStore::insert`]).
    landed: Landed,
}

/// The SHA-256 of `bytes`.
fn digest(bytes: &[u8]) -> Sha256 {
    Sha256(sha2::Sha256::digest(bytes).into())
}

impl MediaStore for MemoryMedia {
    fn contains(&self, media: &Sha256) -> bool {
        self.items.contains_key(media)
    }
    fn ids(&self) -> HashSet<Sha256> {
        self.items.keys().copied().collect()
    }
    fn usage(&self) -> (u64, u64) {
        let bytes = self.items.values().map(|b| b.len() as u64).sum();
        (self.items.len() as u64, bytes)
    }
    fn make_room(
        &mut self,
        _media: &MediaRef,
        _protected: &HashSet<Sha256>,
    ) -> Result<Vec<Sha256>, CacheError> {
        Ok(Vec::new())
    }
    fn download(&mut self, media: MediaRef, done: DownloadDone) {
        let (pool, base, landed) = (
            self.pool.clone(),
            self.base_url.clone(),
            self.landed.clone(),
        );
        tokio::spawn(async move {
            let sha = media.sha256;
            let result = match pool.fetch(&base, &media).await {
                Err(message) => Err(CacheError::Source {
                    media: sha,
                    message,
                }),
                Ok(bytes) if (bytes.len() as u64) < media.size_bytes => {
                    Err(CacheError::Incomplete {
                        media: sha,
                        got: bytes.len() as u64,
                        expected: media.size_bytes,
                    })
                }
                Ok(bytes) => {
                    let actual = digest(&bytes);
                    if actual != sha {
                        Err(CacheError::ChecksumMismatch { media: sha, actual })
                    } else {
                        if let Ok(mut landed) = landed.lock() {
                            landed.insert(sha, bytes);
                        }
                        Ok(())
                    }
                }
            };
            done(result);
        });
    }
    fn insert(&mut self, media: Sha256, _size: u64) {
        let bytes = self.landed.lock().ok().and_then(|mut l| l.remove(&media));
        if let Some(bytes) = bytes {
            self.items.insert(media, bytes);
        }
    }
    fn read_verified(&mut self, media: &Sha256) -> Result<Vec<u8>, CacheError> {
        let bytes = self
            .items
            .get(media)
            .ok_or(CacheError::Missing { media: *media })?;
        if digest(bytes) != *media {
            self.items.remove(media);
            return Err(CacheError::Corrupt { media: *media });
        }
        Ok(bytes.to_vec())
    }
    fn verify_streaming(&mut self, media: &Sha256) -> Result<(), CacheError> {
        self.read_verified(media).map(drop)
    }
    fn path(&self, _media: &Sha256) -> Option<PathBuf> {
        None
    }
}

/// Records of one run, in seq order, ends merged in.
type Run = (BootId, VecDeque<PlayRecord>);

/// The in-memory journal's records.
#[derive(Debug, Default)]
struct Runs {
    /// Earlier runs (the bench's made-up records), oldest first.
    earlier: VecDeque<Run>,
    /// This run's records.
    live: VecDeque<PlayRecord>,
}

/// The in-memory journal of one screen: [`Journal`](crate::journal::Journal)'s
/// semantics (the oldest run's records first, this run's record on screen
/// and everything after it wait, acks drop records) without the disk.
struct MemoryJournal {
    /// This run.
    boot_id: BootId,
    /// The records, shared with the bench's command task.
    runs: Arc<Mutex<Runs>>,
    /// Where `Acked` for made-up records goes.
    reporter: Reporter,
}

impl MemoryJournal {
    fn runs(&self) -> std::sync::MutexGuard<'_, Runs> {
        // A panic while holding it leaves plain data: keep using it.
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PlayLog for MemoryJournal {
    fn start(&mut self, record: &PlayRecord) -> Result<(), JournalError> {
        self.runs().live.push_back(record.clone());
        Ok(())
    }
    fn end_bridged(
        &mut self,
        seq: u64,
        ended_at: Timestamp,
        outcome: PlayOutcome,
        bridge_confirmed: Option<bool>,
    ) -> Result<(), JournalError> {
        let mut runs = self.runs();
        if let Some(record) = runs.live.iter_mut().find(|r| r.seq == seq) {
            record.ended_at = Some(ended_at);
            record.outcome = outcome;
            if let (Some(evidence), Some(false)) = (record.bridge.as_mut(), bridge_confirmed) {
                evidence.confirmed = false;
            }
        }
        Ok(())
    }
    fn ack(&mut self, boot_id: &BootId, upto_seq: u64) -> Result<(), JournalError> {
        let mut runs = self.runs();
        let made_up = *boot_id != self.boot_id;
        let records = if made_up {
            match runs.earlier.iter_mut().find(|(boot, _)| boot == boot_id) {
                Some((_, records)) => records,
                None => return Ok(()),
            }
        } else {
            &mut runs.live
        };
        while records.front().is_some_and(|r| r.seq <= upto_seq) {
            records.pop_front();
        }
        runs.earlier.retain(|(_, records)| !records.is_empty());
        drop(runs);
        if made_up {
            self.reporter.report(SimEvent::Acked { upto_seq });
        }
        Ok(())
    }
    fn next_batch(
        &self,
        max_records: usize,
        in_progress: Option<u64>,
    ) -> Result<Option<Batch>, JournalError> {
        let runs = self.runs();
        let (boot_id, records, this_run) = match runs.earlier.front() {
            Some((boot, records)) => (boot.clone(), records, false),
            None => (self.boot_id.clone(), &runs.live, true),
        };
        let mut out = Vec::new();
        for record in records.iter().take(max_records) {
            let mut record = record.clone();
            if record.ended_at.is_none() {
                if this_run && in_progress.is_some_and(|p| record.seq >= p) {
                    break;
                }
                record.outcome = PlayOutcome::Interrupted;
            }
            out.push(record);
        }
        Ok((!out.is_empty()).then_some(Batch {
            boot_id,
            records: out,
        }))
    }
    fn status(&self) -> JournalStatus {
        let runs = self.runs();
        let earlier: usize = runs.earlier.iter().map(|(_, r)| r.len()).sum();
        JournalStatus {
            pending: (earlier + runs.live.len()) as u64,
            bytes: 0,
            alarm: false,
        }
    }
}

/// State files kept for the run.
#[derive(Debug, Default)]
struct MemoryFiles {
    /// By name.
    files: HashMap<String, Vec<u8>>,
}

impl StateFiles for MemoryFiles {
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.files.get(name).cloned())
    }
    fn write(&mut self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.files.insert(name.to_owned(), bytes.to_vec());
        Ok(())
    }
    fn remove(&mut self, name: &str) -> std::io::Result<()> {
        self.files.remove(name);
        Ok(())
    }
    fn pin_server_key(&mut self, _pinned: &PinnedKey) -> std::io::Result<()> {
        Ok(())
    }
}

/// A random boot id.
fn random_boot_id() -> anyhow::Result<BootId> {
    let mut random = [0u8; 16];
    getrandom::getrandom(&mut random).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
    Ok(BootId::from_random(random))
}

/// `count` completed records of the made-up run `boot_id`, from `next_seq` on.
fn made_up_records(now: Timestamp, next_seq: &mut u64, count: u64) -> VecDeque<PlayRecord> {
    let media = digest(b"fleet-sim");
    (0..count)
        .map(|_| {
            let seq = *next_seq;
            *next_seq += 1;
            let started = Timestamp(now.0 - 10_000 + (seq % 1000) as i64);
            PlayRecord {
                seq,
                media,
                material_id: "fleet-sim".to_owned(),
                rotation_version: None,
                is_warning: true,
                started_at: started,
                ended_at: Some(Timestamp(started.0 + 1)),
                outcome: PlayOutcome::Completed,
                clock_suspect: false,
                bridge: None,
            }
        })
        .collect()
}

/// Runs one simulated screen until `shutdown` resolves; it reports to
/// `reports` and takes [`SimCommand`]s from `commands`. The driver is the
/// agent's ([`crate::driver`]); only its parts are in memory (module doc).
pub async fn run(
    index: usize,
    loaded: Loaded,
    mut config: AgentConfig,
    pool: Arc<MediaPool>,
    reports: mpsc::UnboundedSender<SimReport>,
    mut commands: mpsc::UnboundedReceiver<SimCommand>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let boot_id = random_boot_id()?;
    let made_up_boot = random_boot_id()?;
    // No display device and no controller card.
    config.display.sink = SinkKind::None;
    let reporter = Reporter { index, reports };
    let runs = Arc::new(Mutex::new(Runs::default()));
    let parts = Parts {
        glass: Box::new(NullGlass {
            reporter: reporter.clone(),
        }),
        media: Box::new(MemoryMedia {
            pool,
            base_url: loaded.identity.enrollment.media_base_url.clone(),
            items: HashMap::new(),
            landed: Arc::default(),
        }),
        journal: Box::new(MemoryJournal {
            boot_id: boot_id.clone(),
            runs: runs.clone(),
            reporter: reporter.clone(),
        }),
        files: Box::new(MemoryFiles::default()),
        observer: Box::new(reporter),
    };
    let mut feeder = None;
    let started = |waker: BatchWaker| {
        feeder = Some(tokio::spawn(async move {
            let mut next_seq = 1;
            while let Some(command) = commands.recv().await {
                match command {
                    SimCommand::SendPlays { count } => {
                        let records = made_up_records(clock::now(), &mut next_seq, count);
                        {
                            let mut runs = runs.lock().unwrap_or_else(|e| e.into_inner());
                            match runs.earlier.iter_mut().find(|(b, _)| *b == made_up_boot) {
                                Some((_, pending)) => pending.extend(records),
                                None => runs.earlier.push_back((made_up_boot.clone(), records)),
                            }
                        }
                        if !waker.wake() {
                            return;
                        }
                    }
                }
            }
        }));
    };
    let result = driver::run_with_parts(config, loaded, boot_id, parts, started, shutdown).await;
    if let Some(feeder) = feeder {
        feeder.abort();
    }
    result
}

/// The agent's HTTP client with default timeouts, for [`enroll_in_memory`]
/// and [`MediaPool::new`].
pub fn default_link() -> Link {
    Link::new(&HttpConfig::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reporter() -> (Reporter, mpsc::UnboundedReceiver<SimReport>) {
        let (reports, rx) = mpsc::unbounded_channel();
        (Reporter { index: 7, reports }, rx)
    }

    fn boot(byte: u8) -> BootId {
        BootId::from_random([byte; 16])
    }

    fn live_record(seq: u64) -> PlayRecord {
        let mut next = seq;
        let mut record = made_up_records(Timestamp(1_000_000), &mut next, 1)
            .pop_front()
            .expect("one record");
        record.ended_at = None;
        record.outcome = PlayOutcome::Interrupted;
        record
    }

    #[test]
    fn the_memory_journal_sends_an_earlier_run_first_and_holds_the_record_on_screen() {
        let (reporter, mut reports) = reporter();
        let runs = Arc::new(Mutex::new(Runs::default()));
        let mut journal = MemoryJournal {
            boot_id: boot(1),
            runs: runs.clone(),
            reporter,
        };
        for seq in 1..=3 {
            journal.start(&live_record(seq)).expect("start");
        }
        journal
            .end_bridged(1, Timestamp(1_000_500), PlayOutcome::Completed, None)
            .expect("end");
        let mut next_seq = 1;
        let made_up = made_up_records(Timestamp(1_000_000), &mut next_seq, 5);
        runs.lock()
            .expect("lock")
            .earlier
            .push_back((boot(2), made_up));
        assert_eq!(journal.status().pending, 8);

        // The earlier run goes first, in batches of at most max_records.
        let batch = journal
            .next_batch(4, Some(3))
            .expect("batch")
            .expect("some");
        assert_eq!(batch.boot_id, boot(2));
        assert_eq!(
            batch.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        journal.ack(&boot(2), 4).expect("ack");
        let report = reports.try_recv().expect("acked report");
        assert_eq!(report.index, 7);
        assert_eq!(report.event, SimEvent::Acked { upto_seq: 4 });
        journal.ack(&boot(2), 5).expect("ack");
        assert_eq!(
            reports.try_recv().map(|r| r.event).ok(),
            Some(SimEvent::Acked { upto_seq: 5 })
        );

        // Then this run: 1 ended, 2 never ended (interrupted), 3 on screen waits.
        let batch = journal
            .next_batch(200, Some(3))
            .expect("batch")
            .expect("some");
        assert_eq!(batch.boot_id, boot(1));
        let got: Vec<_> = batch.records.iter().map(|r| (r.seq, r.outcome)).collect();
        assert_eq!(
            got,
            [(1, PlayOutcome::Completed), (2, PlayOutcome::Interrupted)]
        );
        journal.ack(&boot(1), 2).expect("ack");
        assert!(
            reports.try_recv().is_err(),
            "acks of this run are not reported"
        );
        assert_eq!(journal.next_batch(200, Some(3)).expect("batch"), None);
        assert_eq!(journal.status().pending, 1);
    }

    #[test]
    fn the_memory_store_indexes_only_landed_bytes_and_refuses_corrupt_ones() {
        let mut store = MemoryMedia {
            pool: Arc::new(MediaPool::new(default_link())),
            base_url: String::new(),
            items: HashMap::new(),
            landed: Arc::default(),
        };
        let good = b"poster".to_vec();
        let sha = digest(&good);
        store.insert(sha, 6);
        assert!(!store.contains(&sha), "nothing landed, nothing indexed");
        store
            .landed
            .lock()
            .expect("lock")
            .insert(sha, Arc::new(good.clone()));
        store.insert(sha, 6);
        assert_eq!(store.read_verified(&sha).expect("verified"), good);
        assert_eq!(store.usage(), (1, 6));

        let other = digest(b"other");
        store.items.insert(other, Arc::new(b"not other".to_vec()));
        assert!(matches!(
            store.read_verified(&other),
            Err(CacheError::Corrupt { .. })
        ));
        assert!(!store.contains(&other), "a corrupt item is dropped");
    }
}
