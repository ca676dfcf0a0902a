//! The driver's seams: what differs between the agent on a controller and a
//! simulated screen of the fleet bench ([`crate::sim`]), as small traits the
//! one event loop in [`crate::driver`] runs over, and the device's
//! implementations of them (the display [`Screen`], the disk [`Cache`] with
//! HTTP downloads, the on-disk [`Journal`], the files under `state/`).
//!
//! These traits carry I/O only: every decision (what to show, when to
//! fetch, retry, send a batch or publish state) stays in the driver and the
//! player, so both kinds of screen make them the same way.

use std::io;
use std::path::{Path, PathBuf};

use ledcast_protocol::v1::{MediaRef, PlayOutcome, PlayRecord, Sha256, Timestamp};

use crate::cache::{self, Cache, CacheError, MediaSource};
use crate::display::{Screen, ShowError};
use crate::fsutil;
use crate::identity::{self, PinnedKey};
use crate::journal::{Batch, Journal, JournalError, JournalStatus};
use crate::link::Link;
use crate::player::Showing;

/// Everything the driver drives that is not the network.
pub(crate) struct Parts {
    /// Where shown items go.
    pub glass: Box<dyn Glass>,
    /// Verified media and how they arrive.
    pub media: Box<dyn MediaStore>,
    /// Play records until the server acknowledges them.
    pub journal: Box<dyn PlayLog>,
    /// Small state that outlives a run (rotations, highest version, pinned key).
    pub files: Box<dyn StateFiles>,
    /// Told about transitions (the fleet bench times them; a device ignores them).
    pub observer: Box<dyn Observer>,
}

/// The glass: what the player shows ends up here ([`Screen`] on a device;
/// the simulator's null glass only reports it). Methods as on [`Screen`].
pub(crate) trait Glass: Send {
    /// Whether video slots can play.
    fn video_supported(&self) -> bool;
    /// Starts showing `showing` (`media`: verified bytes of a still or
    /// scroll; `media_path`: the cached file of a video).
    fn show(
        &mut self,
        showing: &Showing,
        media: Option<&[u8]>,
        media_path: Option<&Path>,
        now: Timestamp,
    ) -> Result<(), ShowError>;
    /// Sets the panel brightness.
    fn set_brightness(&mut self, percent: u8) -> Result<(), ShowError>;
    /// Why the display device is unusable, while it is.
    fn display_missing(&self) -> Option<&str>;
    /// Tries the missing device again; true when it is back.
    fn retry_display(&mut self) -> bool;
    /// Whether a video player runs.
    fn video_running(&self) -> bool;
    /// Why the video player stopped before it was told to, once.
    fn video_exited(&mut self) -> Option<String>;
    /// When the next frame of a scroll is due.
    fn next_frame_at(&self, now: Timestamp) -> Option<Timestamp>;
    /// Draws the frame due at `now`.
    fn tick(&mut self, now: Timestamp) -> Result<(), ShowError>;
    /// The last frame as PNG (`None` before the first).
    fn screenshot_png(&self) -> Option<io::Result<Vec<u8>>>;
    /// Stops a running video player.
    fn stop_video(&mut self);
}

impl Glass for Screen {
    fn video_supported(&self) -> bool {
        Screen::video_supported(self)
    }
    fn show(
        &mut self,
        showing: &Showing,
        media: Option<&[u8]>,
        media_path: Option<&Path>,
        now: Timestamp,
    ) -> Result<(), ShowError> {
        Screen::show(self, showing, media, media_path, now)
    }
    fn set_brightness(&mut self, percent: u8) -> Result<(), ShowError> {
        Screen::set_brightness(self, percent)
    }
    fn display_missing(&self) -> Option<&str> {
        Screen::display_missing(self)
    }
    fn retry_display(&mut self) -> bool {
        Screen::retry_display(self)
    }
    fn video_running(&self) -> bool {
        Screen::video_running(self)
    }
    fn video_exited(&mut self) -> Option<String> {
        Screen::video_exited(self)
    }
    fn next_frame_at(&self, now: Timestamp) -> Option<Timestamp> {
        Screen::next_frame_at(self, now)
    }
    fn tick(&mut self, now: Timestamp) -> Result<(), ShowError> {
        Screen::tick(self, now)
    }
    fn screenshot_png(&self) -> Option<io::Result<Vec<u8>>> {
        Screen::screenshot_png(self)
    }
    fn stop_video(&mut self) {
        Screen::stop_video(self)
    }
}

/// Called once when a download ends.
pub(crate) type DownloadDone = Box<dyn FnOnce(Result<(), CacheError>) + Send>;

/// The media cache as the driver uses it: an index of verified items, room
/// under a quota, reads that check SHA-256 again, and downloads that verify
/// before anything enters. Methods as on [`Cache`].
pub(crate) trait MediaStore: Send {
    /// Whether a verified copy is held.
    fn contains(&self, media: &Sha256) -> bool;
    /// Everything held.
    fn ids(&self) -> std::collections::HashSet<Sha256>;
    /// `(items, bytes)`.
    fn usage(&self) -> (u64, u64);
    /// Evicts unprotected items until `media` fits; returns the evicted.
    fn make_room(
        &mut self,
        media: &MediaRef,
        protected: &std::collections::HashSet<Sha256>,
    ) -> Result<Vec<Sha256>, CacheError>;
    /// Fetches `media` in the background (verifying it before it enters
    /// the store) and calls `done`; the driver then calls [`Self::insert`].
    fn download(&mut self, media: MediaRef, done: DownloadDone);
    /// Indexes an item a successful download brought in.
    fn insert(&mut self, media: Sha256, size: u64);
    /// The item's bytes, hashed again; a corrupt item is dropped.
    fn read_verified(&mut self, media: &Sha256) -> Result<Vec<u8>, CacheError>;
    /// Checks the item's hash without holding it (videos).
    fn verify_streaming(&mut self, media: &Sha256) -> Result<(), CacheError>;
    /// Where the item lies on disk, for a video player (`None` in memory).
    fn path(&self, media: &Sha256) -> Option<PathBuf>;
}

/// HTTP media source for [`cache::download`].
struct HttpMedia {
    link: Link,
    base_url: String,
}

impl MediaSource for HttpMedia {
    fn open(
        &self,
        media: &Sha256,
        offset: u64,
    ) -> Result<(Box<dyn std::io::Read + Send>, u64), String> {
        self.link
            .open_media(&self.base_url, media, offset)
            .map_err(|e| e.to_string())
    }
}

/// The device's media: the disk [`Cache`], downloads over HTTP on the
/// blocking pool.
pub(crate) struct DiskMedia {
    /// The cache.
    pub cache: Cache,
    /// HTTP.
    pub link: Link,
    /// The enrollment's media base URL.
    pub base_url: String,
}

impl MediaStore for DiskMedia {
    fn contains(&self, media: &Sha256) -> bool {
        self.cache.contains(media)
    }
    fn ids(&self) -> std::collections::HashSet<Sha256> {
        self.cache.ids()
    }
    fn usage(&self) -> (u64, u64) {
        self.cache.usage()
    }
    fn make_room(
        &mut self,
        media: &MediaRef,
        protected: &std::collections::HashSet<Sha256>,
    ) -> Result<Vec<Sha256>, CacheError> {
        self.cache.make_room(media, protected)
    }
    fn download(&mut self, media: MediaRef, done: DownloadDone) {
        let paths = self.cache.paths().clone();
        let source = HttpMedia {
            link: self.link.clone(),
            base_url: self.base_url.clone(),
        };
        tokio::task::spawn_blocking(move || done(cache::download(&paths, &media, &source)));
    }
    fn insert(&mut self, media: Sha256, size: u64) {
        self.cache.insert(media, size)
    }
    fn read_verified(&mut self, media: &Sha256) -> Result<Vec<u8>, CacheError> {
        self.cache.read_verified(media)
    }
    fn verify_streaming(&mut self, media: &Sha256) -> Result<(), CacheError> {
        self.cache.verify_streaming(media)
    }
    fn path(&self, media: &Sha256) -> Option<PathBuf> {
        Some(self.cache.paths().media_path(media))
    }
}

/// The play-record journal as the driver uses it. Methods as on [`Journal`].
pub(crate) trait PlayLog: Send {
    /// A record of this run went on screen (durable before it is shown).
    fn start(&mut self, record: &PlayRecord) -> Result<(), JournalError>;
    /// A record of this run left the screen.
    fn end_bridged(
        &mut self,
        seq: u64,
        ended_at: Timestamp,
        outcome: PlayOutcome,
        bridge_confirmed: Option<bool>,
    ) -> Result<(), JournalError>;
    /// The server stored `boot_id`'s records up to `upto_seq`.
    fn ack(
        &mut self,
        boot_id: &ledcast_protocol::v1::BootId,
        upto_seq: u64,
    ) -> Result<(), JournalError>;
    /// The oldest unacknowledged records of one run (see [`Journal::next_batch`]).
    fn next_batch(
        &self,
        max_records: usize,
        in_progress: Option<u64>,
    ) -> Result<Option<Batch>, JournalError>;
    /// Pending count, bytes and alarm.
    fn status(&self) -> JournalStatus;
}

impl PlayLog for Journal {
    fn start(&mut self, record: &PlayRecord) -> Result<(), JournalError> {
        Journal::start(self, record)
    }
    fn end_bridged(
        &mut self,
        seq: u64,
        ended_at: Timestamp,
        outcome: PlayOutcome,
        bridge_confirmed: Option<bool>,
    ) -> Result<(), JournalError> {
        Journal::end_bridged(self, seq, ended_at, outcome, bridge_confirmed)
    }
    fn ack(
        &mut self,
        boot_id: &ledcast_protocol::v1::BootId,
        upto_seq: u64,
    ) -> Result<(), JournalError> {
        Journal::ack(self, boot_id, upto_seq)
    }
    fn next_batch(
        &self,
        max_records: usize,
        in_progress: Option<u64>,
    ) -> Result<Option<Batch>, JournalError> {
        Journal::next_batch(self, max_records, in_progress)
    }
    fn status(&self) -> JournalStatus {
        Journal::status(self)
    }
}

/// Small files that outlive a run: `state/{name}` (the driver names them)
/// and the pinned server key.
pub(crate) trait StateFiles: Send {
    /// The checked contents of `name`, `None` when it does not exist.
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, String>;
    /// Replaces `name` atomically.
    fn write(&mut self, name: &str, bytes: &[u8]) -> io::Result<()>;
    /// Removes `name` durably.
    fn remove(&mut self, name: &str) -> io::Result<()>;
    /// Pins a rotated server key for the next start.
    fn pin_server_key(&mut self, pinned: &PinnedKey) -> io::Result<()>;
}

/// The device's state files under `{data_dir}/state/`.
pub(crate) struct DiskFiles {
    /// The agent's data directory.
    pub data_dir: PathBuf,
}

impl DiskFiles {
    fn path(&self, name: &str) -> PathBuf {
        self.data_dir.join("state").join(name)
    }
}

impl StateFiles for DiskFiles {
    fn read(&self, name: &str) -> Result<Option<Vec<u8>>, String> {
        fsutil::read_checked(&self.path(name)).map_err(|e| e.to_string())
    }
    fn write(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        fsutil::write_checked(&self.path(name), bytes, 0o600)
    }
    fn remove(&mut self, name: &str) -> io::Result<()> {
        fsutil::remove_durably(&self.path(name))
    }
    fn pin_server_key(&mut self, pinned: &PinnedKey) -> io::Result<()> {
        identity::store_pinned_key(&self.data_dir, pinned)
    }
}

/// Transitions the driver reports besides its log. Every method defaults
/// to doing nothing: the device's observer is `()`.
pub(crate) trait Observer: Send {
    /// The broker connection came up.
    fn connected(&mut self) {}
    /// A connection attempt failed or the connection dropped.
    fn disconnected(&mut self) {}
    /// A signed `online` state report was queued for the broker.
    fn state_sent(&mut self, _rotation_version: Option<u64>) {}
    /// A message or a media item was refused.
    fn refused(&mut self, _reason: &str) {}
}

impl Observer for () {}
