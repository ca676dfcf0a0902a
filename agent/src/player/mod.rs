//! The player core: a sans-IO state machine that decides what the screen shows
//! at every instant, which rotation is trusted, which media to fetch and
//! which play records to write.
//!
//! Time arrives as `now`; bytes arrive as [`Input`]s; every effect leaves as
//! an [`Action`] for the driver to carry out in order (a `JournalStart` is
//! always queued before the `Show` it records, so the driver can fsync it
//! first). It deliberately does no I/O, reads no clock, spawns nothing and
//! never panics on input: anything it cannot use is reported as
//! [`Action::Rejected`] and the screen keeps what it had.
//!
//! Boot is an update: the driver feeds the persisted rotation through the same
//! [`Input::Rotation`] as a fresh one from the broker.

pub mod builtin;

use std::collections::{HashSet, VecDeque};

use ledcast_protocol::v1::{
    self, Ack, BootId, Command, CommandAction, MediaRef, NowPlaying, PlayOutcome, PlayRecord,
    Rejected, Rotation, ScreenId, Sha256, SlotKind, Timestamp, TrustedKey,
};

/// How far the wall clock may step back before records are flagged `clock_suspect`.
const CLOCK_BACKWARDS_TOLERANCE_MS: i64 = 2_000;
/// How many recent command ids are remembered to ignore replays.
const REMEMBERED_COMMANDS: usize = 64;

/// Everything the player needs to start.
#[derive(Clone, Debug)]
pub struct PlayerConfig {
    /// This screen; messages for others are refused.
    pub screen_id: ScreenId,
    /// This process run; play records carry it.
    pub boot_id: BootId,
    /// The pinned server key.
    pub server_key: TrustedKey,
    /// The highest rotation version ever accepted (persisted).
    pub highest_version_seen: Option<u64>,
    /// Whether a video sink exists; without one video slots are skipped.
    pub video_supported: bool,
    /// A new rotation is switched to once the media it needs within this
    /// window from `now` is cached and verified.
    pub switch_window_ms: i64,
    /// How long each built-in fallback message plays.
    pub builtin_slot_ms: u64,
    /// Media already in the cache, verified when it entered.
    pub cached: HashSet<Sha256>,
}

/// Where a rotation envelope came from (for logs only; all are treated alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RotationSource {
    /// The retained `rotation` topic.
    Mqtt,
    /// `GET /api/v1/screens/{id}/rotation`.
    Http,
    /// The copy persisted on disk at boot.
    Disk,
}

/// What happens to the player.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A signed rotation envelope.
    Rotation {
        /// The envelope bytes as received.
        envelope: Vec<u8>,
        /// Where it came from.
        source: RotationSource,
    },
    /// A signed command envelope.
    Command {
        /// The envelope bytes as received.
        envelope: Vec<u8>,
    },
    /// A signed ack envelope.
    Ack {
        /// The envelope bytes as received.
        envelope: Vec<u8>,
    },
    /// A media item is now in the cache, verified.
    MediaReady {
        /// Its content address.
        media: Sha256,
    },
    /// A download failed (the driver retries with backoff and says so).
    MediaFailed {
        /// Its content address.
        media: Sha256,
        /// What went wrong, for the state report.
        error: String,
    },
    /// A cached file was found corrupt at play time, or evicted: it is gone.
    MediaGone {
        /// Its content address.
        media: Sha256,
    },
    /// A timer set from [`Player::poll_timeout`] fired (or any wake-up).
    Timer,
    /// The driver's view of whether the wall clock can be trusted.
    ClockSuspect {
        /// True when the clock is suspect.
        suspect: bool,
    },
    /// What is on screen could not be shown, or stopped showing before its
    /// slot ended (the media does not decode, the video player failed to
    /// start or exited). The record ends now and a fallback fills the rest
    /// of the slot.
    ShowFailed {
        /// The record of what failed (inputs for an earlier record are ignored).
        seq: u64,
        /// What went wrong, for the state report.
        error: String,
    },
    /// The display device is missing or failing: nothing is on the glass,
    /// so the record on screen ends and none starts until [`Input::DisplayBack`].
    DisplayLost {
        /// What went wrong, for the state report.
        error: String,
    },
    /// The display device works again.
    DisplayBack,
    /// The process is stopping: end the current record.
    Shutdown,
}

/// What the player shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// A cached media item.
    Media {
        /// Its content address (the cache file name).
        media: Sha256,
        /// Still, scroll or video.
        kind: SlotKind,
    },
    /// A built-in warning (index into [`builtin::MESSAGES`]).
    Builtin {
        /// Which message.
        index: usize,
    },
    /// The screen id, for an installer (an `identify` command).
    Identify {
        /// The text to show.
        text: String,
    },
}

/// One item on screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Showing {
    /// What to draw.
    pub content: Content,
    /// The play record's sequence number (0 for `Identify`, which is not recorded).
    pub seq: u64,
    /// When the slot began in its loop (the phase origin for scrolling).
    pub slot_started_at: Timestamp,
    /// When it went on screen.
    pub started_at: Timestamp,
    /// When the player will next change what is on screen (at the latest).
    pub ends_at: Timestamp,
    /// True when this comes from a fallback.
    pub fallback: bool,
    /// The material, for records and state.
    pub material_id: String,
    /// The rotation it came from, `None` for built-in content.
    pub rotation_version: Option<u64>,
    /// Whether it counts as an anti-fraud warning.
    pub is_warning: bool,
}

/// What was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A rotation envelope.
    Rotation,
    /// A command envelope.
    Command,
    /// An ack envelope.
    Ack,
}

/// Why an input was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The protocol refused it (signature, screen, version, expiry, structure).
    #[error("{0}")]
    Protocol(Rejected),
    /// A command past its `expires_at`.
    #[error("command {command_id} expired at {expires_at} ms")]
    CommandExpired {
        /// The command.
        command_id: String,
        /// When it expired.
        expires_at: Timestamp,
    },
    /// A command id already executed.
    #[error("command {command_id} already executed (replay)")]
    CommandReplay {
        /// The command.
        command_id: String,
    },
    /// A `trust_server_key` command whose key does not parse or match its id.
    #[error("trust_server_key carries an invalid key {key_id:?}; keeping the pinned key")]
    BadNewKey {
        /// The offered key id.
        key_id: String,
    },
}

/// Something to persist atomically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Persist {
    /// The highest accepted rotation version (write before using the rotation).
    HighestVersion(u64),
    /// The envelope of the rotation now playing.
    CurrentRotation {
        /// Envelope bytes.
        envelope: Vec<u8>,
    },
    /// The envelope of the rotation waiting for media; `None` removes it.
    PendingRotation {
        /// Envelope bytes.
        envelope: Option<Vec<u8>>,
    },
    /// A new pinned server key.
    ServerKey {
        /// Its id.
        key_id: String,
        /// Its public key, hex.
        public_key_hex: String,
    },
}

/// An effect for the driver, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Download and verify this media item (the driver dedupes and retries).
    Fetch {
        /// What to fetch, with its signed size.
        media: MediaRef,
    },
    /// Write and fsync a start record before the `Show` that follows.
    JournalStart(PlayRecord),
    /// Write the end record of `seq` of this boot.
    JournalEnd {
        /// The record.
        seq: u64,
        /// When it left the screen.
        ended_at: Timestamp,
        /// How it ended.
        outcome: PlayOutcome,
    },
    /// Put this on screen now.
    Show(Showing),
    /// The panel's brightness changed (the rotation's brightness windows):
    /// scale every frame drawn from now on, and the one on screen, to
    /// `percent` of full. 0 means off: draw black. No `Show` comes while
    /// off and the record on screen has ended before this action.
    Brightness {
        /// Percent of full brightness, 0 (off) to 100.
        percent: u8,
    },
    /// Persist this atomically.
    Persist(Persist),
    /// Something reported in `state` changed: publish it.
    PublishState,
    /// The server stored every record of `boot_id` up to `upto_seq`, except
    /// `refused` ones it will never store: all of them leave the journal.
    Acked {
        /// The run acknowledged.
        boot_id: BootId,
        /// Highest stored sequence number.
        upto_seq: u64,
        /// Records the server refused, with the reason (logged, not resent).
        refused: Vec<v1::RefusedRecord>,
    },
    /// Upload a screenshot of the current frame.
    Screenshot,
    /// Fetch the rotation over HTTP now.
    Resync,
    /// A message was refused; the screen keeps what it had.
    Rejected {
        /// Which kind of message.
        message: MessageKind,
        /// Why.
        refusal: Refusal,
    },
    /// A rotation was accepted (`switched` tells whether it plays already).
    Accepted {
        /// Its version.
        version: u64,
        /// True when it plays now; false when it waits for media.
        switched: bool,
    },
}

/// A rotation the player holds, with the envelope it came in.
#[derive(Clone, Debug)]
struct Held {
    /// The verified rotation.
    rotation: Rotation,
    /// Its envelope, for persisting.
    envelope: Vec<u8>,
}

/// Figures for the `state` report.
#[derive(Clone, Debug, PartialEq)]
pub struct PlayerStatus {
    /// Version playing.
    pub rotation_version: Option<u64>,
    /// Version waiting for media.
    pub pending_version: Option<u64>,
    /// What is on screen.
    pub now_playing: Option<NowPlaying>,
    /// True when no valid rotation covers now.
    pub stale: bool,
    /// Media the current or pending rotation needs that is not cached.
    pub missing: u64,
    /// The last error.
    pub last_error: Option<String>,
    /// Non-fatal warnings.
    pub warnings: Vec<String>,
    /// Whether the wall clock is suspect.
    pub clock_suspect: bool,
    /// Whether the display device is missing (nothing on the glass).
    pub display_missing: bool,
    /// The panel's brightness now, percent (0: switched off by the schedule).
    pub brightness_percent: u8,
}

/// A slot whose media failed to show: a fallback fills it until it ends.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FailedSlot {
    /// The media that failed.
    media: Sha256,
    /// The slot's start in its loop.
    slot_started_at: Timestamp,
    /// Forget the failure then (the slot is over; the next time round the
    /// media is tried again).
    until: Timestamp,
}

/// The player state machine.
#[derive(Debug)]
pub struct Player {
    /// Start-up settings.
    config: PlayerConfig,
    /// The key server messages must be signed with.
    server_key: TrustedKey,
    /// Highest rotation version accepted.
    highest_version_seen: Option<u64>,
    /// The rotation playing.
    current: Option<Held>,
    /// A newer rotation waiting for its media.
    pending: Option<Held>,
    /// Verified media in the cache.
    cached: HashSet<Sha256>,
    /// Media asked for and not yet ready or failed.
    requested: HashSet<Sha256>,
    /// What is on screen.
    showing: Option<Showing>,
    /// An identify overlay and when it ends.
    identify_until: Option<Timestamp>,
    /// Next play-record sequence number of this boot.
    next_seq: u64,
    /// Whether the wall clock is suspect.
    clock_suspect: bool,
    /// The latest `now` seen, to notice the clock stepping back.
    latest_now: Option<Timestamp>,
    /// Whether the last evaluation found no valid rotation.
    stale: bool,
    /// The last error, reported in `state`.
    last_error: Option<String>,
    /// Recently executed command ids.
    recent_commands: VecDeque<String>,
    /// Effects waiting for the driver.
    actions: VecDeque<Action>,
    /// Set once shut down; nothing more is shown.
    stopped: bool,
    /// A signed rotation refused only because it was issued ahead of the
    /// clock: retried once the clock reaches it (e.g. NTP after a boot with
    /// the clock far back), so the screen does not wait for the next version.
    deferred: Option<Deferred>,
    /// Slots whose media failed to show, until they end.
    failed: Vec<FailedSlot>,
    /// The display device is missing: nothing is shown or journaled.
    display_missing: bool,
    /// The panel's brightness in percent as last told to the driver
    /// (0: off by the schedule, nothing is shown or journaled).
    brightness: u8,
    /// When the rotation's brightness next changes.
    brightness_changes_at: Option<Timestamp>,
}

/// A rotation waiting for the wall clock to catch up with its `issued_at`.
#[derive(Clone, Debug)]
struct Deferred {
    envelope: Vec<u8>,
    source: RotationSource,
    version: u64,
    issued_at: Timestamp,
}

impl Player {
    /// A player with no rotation yet (it shows the built-in fallback until
    /// one is fed in).
    pub fn new(config: PlayerConfig) -> Player {
        Player {
            server_key: config.server_key.clone(),
            highest_version_seen: config.highest_version_seen,
            cached: config.cached.clone(),
            config,
            current: None,
            pending: None,
            requested: HashSet::new(),
            showing: None,
            identify_until: None,
            next_seq: 1,
            clock_suspect: false,
            latest_now: None,
            stale: true,
            last_error: None,
            recent_commands: VecDeque::new(),
            actions: VecDeque::new(),
            stopped: false,
            deferred: None,
            failed: Vec::new(),
            display_missing: false,
            brightness: 100,
            brightness_changes_at: None,
        }
    }

    /// Takes one input at `now`, queueing the resulting actions.
    pub fn handle(&mut self, now: Timestamp, input: Input) {
        if self.stopped {
            return;
        }
        self.observe_clock(now);
        if let Some(deferred) = self.deferred.take_if(|d| {
            d.issued_at.millis_since(now) <= v1::AcceptLimits::default().max_issued_ahead_ms
        }) {
            self.on_rotation(now, deferred.envelope, deferred.source);
        }
        match input {
            Input::Rotation { envelope, source } => self.on_rotation(now, envelope, source),
            Input::Command { envelope } => self.on_command(now, &envelope),
            Input::Ack { envelope } => self.on_ack(&envelope),
            Input::MediaReady { media } => {
                self.requested.remove(&media);
                self.cached.insert(media);
                if self
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.contains(&media.to_hex()))
                {
                    self.last_error = None;
                    self.actions.push_back(Action::PublishState);
                }
            }
            Input::MediaFailed { media, error } => {
                self.requested.remove(&media);
                let message = format!("download of {media} failed: {error}");
                if self.last_error.as_deref() != Some(message.as_str()) {
                    self.last_error = Some(message);
                    self.actions.push_back(Action::PublishState);
                }
            }
            Input::MediaGone { media } => {
                self.cached.remove(&media);
                self.requested.remove(&media);
                if self.needed_media().contains(&media) {
                    self.request(media);
                }
            }
            Input::Timer => {}
            Input::ClockSuspect { suspect } => {
                if self.clock_suspect != suspect {
                    self.clock_suspect = suspect;
                    self.actions.push_back(Action::PublishState);
                }
            }
            Input::ShowFailed { seq, error } => self.on_show_failed(now, seq, error),
            Input::DisplayLost { error } => {
                if !self.display_missing {
                    self.display_missing = true;
                    self.end_showing(now, PlayOutcome::Interrupted);
                    self.last_error = Some(format!("display missing: {error}"));
                    self.actions.push_back(Action::PublishState);
                }
            }
            Input::DisplayBack => {
                if self.display_missing {
                    self.display_missing = false;
                    if self
                        .last_error
                        .as_deref()
                        .is_some_and(|e| e.starts_with("display missing"))
                    {
                        self.last_error = None;
                    }
                    self.actions.push_back(Action::PublishState);
                }
            }
            Input::Shutdown => {
                self.end_showing(now, PlayOutcome::Interrupted);
                self.stopped = true;
                return;
            }
        }
        self.evaluate(now);
    }

    /// The next effect, in order.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When the player next needs a [`Input::Timer`] (the end of what is
    /// shown, or the next brightness change).
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.stopped {
            return None;
        }
        let shown = self
            .showing
            .as_ref()
            .map(|s| s.ends_at)
            .or_else(|| self.failed.iter().map(|f| f.until).min());
        [shown, self.brightness_changes_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// What is on screen.
    pub fn showing(&self) -> Option<&Showing> {
        self.showing.as_ref()
    }

    /// The rotation playing (a bridge uploads its loops).
    pub fn current_rotation(&self) -> Option<&Rotation> {
        self.current.as_ref().map(|h| &h.rotation)
    }

    /// The pinned server key (changes on `trust_server_key`).
    pub fn server_key(&self) -> &TrustedKey {
        &self.server_key
    }

    /// Media of the current and pending rotations: never evicted.
    pub fn needed_media(&self) -> HashSet<Sha256> {
        self.current
            .iter()
            .chain(self.pending.iter())
            .flat_map(|h| h.rotation.media.iter().map(|m| m.sha256))
            .collect()
    }

    /// Figures for the `state` report.
    pub fn status(&self) -> PlayerStatus {
        let missing = self
            .needed_media()
            .iter()
            .filter(|m| !self.cached.contains(m))
            .count() as u64;
        let mut warnings = Vec::new();
        if !self.config.video_supported && self.has_video_slots() {
            warnings.push("video slots skipped: no video sink (mpv not found)".to_owned());
        }
        if self.clock_suspect {
            warnings.push("wall clock stepped back; play records flagged clock_suspect".to_owned());
        }
        PlayerStatus {
            rotation_version: self.current.as_ref().map(|h| h.rotation.version),
            pending_version: self.pending.as_ref().map(|h| h.rotation.version),
            now_playing: self.showing.as_ref().and_then(|s| match &s.content {
                Content::Media { media, .. } => Some(NowPlaying {
                    media: *media,
                    material_id: s.material_id.clone(),
                    since: s.started_at,
                    fallback: s.fallback,
                }),
                Content::Builtin { index } => Some(NowPlaying {
                    media: builtin::media(*index),
                    material_id: s.material_id.clone(),
                    since: s.started_at,
                    fallback: true,
                }),
                Content::Identify { .. } => None,
            }),
            stale: self.stale,
            missing,
            last_error: self.last_error.clone(),
            warnings,
            clock_suspect: self.clock_suspect,
            display_missing: self.display_missing,
            brightness_percent: self.brightness,
        }
    }

    /// The item `seq` failed on screen: its record ends now (what the glass
    /// really showed), and the rest of its slot goes to a fallback.
    fn on_show_failed(&mut self, now: Timestamp, seq: u64, error: String) {
        let Some(showing) = self
            .showing
            .as_ref()
            .filter(|s| s.seq == seq && seq != 0)
            .cloned()
        else {
            return;
        };
        let message = format!("cannot show {}: {error}", showing.material_id);
        // A failed built-in warning (nothing left to fall back to) leaves
        // the glass dark until its slot ends, then it is tried again.
        self.failed.push(FailedSlot {
            media: content_media(&showing.content),
            slot_started_at: showing.slot_started_at,
            until: showing.ends_at,
        });
        self.end_showing(now, PlayOutcome::Interrupted);
        if self.last_error.as_deref() != Some(message.as_str()) {
            self.last_error = Some(message);
        }
        self.actions.push_back(Action::PublishState);
    }

    fn has_video_slots(&self) -> bool {
        self.current.iter().chain(self.pending.iter()).any(|h| {
            h.rotation
                .blocks
                .iter()
                .flat_map(|b| b.slots.iter())
                .chain(h.rotation.fallback.iter())
                .any(|s| s.kind == SlotKind::Video)
        })
    }

    fn observe_clock(&mut self, now: Timestamp) {
        if let Some(latest) = self.latest_now {
            if latest.millis_since(now) > CLOCK_BACKWARDS_TOLERANCE_MS && !self.clock_suspect {
                self.clock_suspect = true;
                self.actions.push_back(Action::PublishState);
            }
        }
        if self.latest_now.is_none_or(|latest| now > latest) {
            self.latest_now = Some(now);
        }
    }

    fn reject(&mut self, message: MessageKind, refusal: Refusal) {
        self.actions
            .push_back(Action::Rejected { message, refusal });
    }

    fn holds_version(&self, version: u64) -> bool {
        self.current
            .iter()
            .chain(self.pending.iter())
            .any(|h| h.rotation.version == version)
    }

    fn on_rotation(&mut self, now: Timestamp, envelope: Vec<u8>, source: RotationSource) {
        let rotation: Rotation = match v1::open(&envelope, &self.server_key) {
            Ok(r) => r,
            Err(e) => return self.reject(MessageKind::Rotation, Refusal::Protocol(e)),
        };
        // A rotation the server signed is a lower bound on the real time: one
        // issued well after `now` proves the wall clock is behind (a device
        // booted with its clock a year back has no earlier `now` to compare).
        if rotation.issued_at.millis_since(now) > v1::AcceptLimits::default().max_issued_ahead_ms
            && !self.clock_suspect
        {
            self.clock_suspect = true;
            self.actions.push_back(Action::PublishState);
        }
        // The rotation we accepted before a restart arrives again (from disk
        // or the retained topic) with the highest version seen: take it back
        // unless we already hold it.
        // From disk, only what plays now bounds the version: the pending
        // copy may be newer than the current one.
        let highest = match (source, self.highest_version_seen) {
            (RotationSource::Disk, _) => self.current.as_ref().map(|h| h.rotation.version),
            (_, Some(h)) if h == rotation.version && !self.holds_version(h) => None,
            (_, other) => other,
        };
        if let Err(e) = v1::accept_rotation(&rotation, &self.config.screen_id, highest, now) {
            // The retained copy of what we play is re-delivered on every
            // reconnect: not worth a report.
            if matches!(e, Rejected::Replay { .. }) && source != RotationSource::Disk {
                return;
            }
            if let Rejected::IssuedInFuture { issued_at, .. } = e {
                if self
                    .deferred
                    .as_ref()
                    .is_none_or(|d| d.version <= rotation.version)
                {
                    self.deferred = Some(Deferred {
                        envelope: envelope.clone(),
                        source,
                        version: rotation.version,
                        issued_at,
                    });
                }
            }
            return self.reject(MessageKind::Rotation, Refusal::Protocol(e));
        }
        let version = rotation.version;
        self.deferred.take_if(|d| d.version <= version);
        if self.highest_version_seen.is_none_or(|h| version > h) {
            self.highest_version_seen = Some(version);
            self.actions
                .push_back(Action::Persist(Persist::HighestVersion(version)));
        }
        let held = Held { rotation, envelope };
        // A pending rotation older than this one is superseded.
        self.pending = None;
        if self.ready_to_switch(&held.rotation, now) {
            self.switch_to(held);
            self.actions
                .push_back(Action::Persist(Persist::PendingRotation { envelope: None }));
            self.actions.push_back(Action::Accepted {
                version,
                switched: true,
            });
        } else {
            self.actions
                .push_back(Action::Persist(Persist::PendingRotation {
                    envelope: Some(held.envelope.clone()),
                }));
            self.request_all(&held.rotation, now);
            self.pending = Some(held);
            self.actions.push_back(Action::Accepted {
                version,
                switched: false,
            });
        }
        self.actions.push_back(Action::PublishState);
    }

    fn switch_to(&mut self, held: Held) {
        self.actions
            .push_back(Action::Persist(Persist::CurrentRotation {
                envelope: held.envelope.clone(),
            }));
        let rotation = held.rotation.clone();
        self.current = Some(held);
        // Media outside the switch window is fetched in the background.
        for media in &rotation.media {
            if !self.cached.contains(&media.sha256) {
                self.request_ref(media.clone());
            }
        }
    }

    /// Every media item the rotation needs in `[now, now + window)`, plus its
    /// fallback (video slots excluded where no video sink exists).
    fn window_media(&self, rotation: &Rotation, now: Timestamp) -> HashSet<Sha256> {
        let window_end = now.plus_ms(self.config.switch_window_ms);
        let playable = |kind: SlotKind| self.config.video_supported || kind != SlotKind::Video;
        rotation
            .blocks
            .iter()
            .filter(|b| b.from < window_end && b.until > now)
            .flat_map(|b| b.slots.iter())
            .chain(rotation.fallback.iter())
            .filter(|s| playable(s.kind))
            .map(|s| s.media)
            .collect()
    }

    fn ready_to_switch(&self, rotation: &Rotation, now: Timestamp) -> bool {
        self.window_media(rotation, now)
            .iter()
            .all(|m| self.cached.contains(m))
    }

    fn request_all(&mut self, rotation: &Rotation, now: Timestamp) {
        // Window media first, so the switch happens as early as possible.
        let window = self.window_media(rotation, now);
        let (first, later): (Vec<&MediaRef>, Vec<&MediaRef>) = rotation
            .media
            .iter()
            .partition(|m| window.contains(&m.sha256));
        for media in first.into_iter().chain(later) {
            if !self.cached.contains(&media.sha256) {
                self.request_ref(media.clone());
            }
        }
    }

    fn request(&mut self, media: Sha256) {
        let found = self
            .current
            .iter()
            .chain(self.pending.iter())
            .flat_map(|h| h.rotation.media.iter())
            .find(|m| m.sha256 == media)
            .cloned();
        if let Some(media_ref) = found {
            self.request_ref(media_ref);
        }
    }

    fn request_ref(&mut self, media: MediaRef) {
        if self.requested.insert(media.sha256) {
            self.actions.push_back(Action::Fetch { media });
        }
    }

    fn on_command(&mut self, now: Timestamp, envelope: &[u8]) {
        let command: Command = match v1::open(envelope, &self.server_key) {
            Ok(c) => c,
            Err(e) => return self.reject(MessageKind::Command, Refusal::Protocol(e)),
        };
        if command.screen_id != self.config.screen_id {
            let refusal = Refusal::Protocol(Rejected::WrongScreen {
                expected: self.config.screen_id.clone(),
                got: command.screen_id,
            });
            return self.reject(MessageKind::Command, refusal);
        }
        if command.expires_at < now {
            let refusal = Refusal::CommandExpired {
                command_id: command.command_id,
                expires_at: command.expires_at,
            };
            return self.reject(MessageKind::Command, refusal);
        }
        if self.recent_commands.contains(&command.command_id) {
            let refusal = Refusal::CommandReplay {
                command_id: command.command_id,
            };
            return self.reject(MessageKind::Command, refusal);
        }
        self.recent_commands.push_back(command.command_id.clone());
        if self.recent_commands.len() > REMEMBERED_COMMANDS {
            self.recent_commands.pop_front();
        }
        match command.action {
            CommandAction::Screenshot => self.actions.push_back(Action::Screenshot),
            CommandAction::Resync => {
                self.actions.push_back(Action::Resync);
                self.actions.push_back(Action::PublishState);
            }
            CommandAction::Identify { seconds } => {
                self.identify_until = Some(now.plus_ms(i64::from(seconds.min(3600)) * 1000));
            }
            CommandAction::TrustServerKey {
                key_id,
                public_key_hex,
            } => match TrustedKey::from_hex(&public_key_hex) {
                Some(key) if key.key_id == key_id => {
                    self.server_key = key;
                    self.actions.push_back(Action::Persist(Persist::ServerKey {
                        key_id,
                        public_key_hex,
                    }));
                    // MQTT keeps order per topic only: the rotation the
                    // server re-signed with this key may have arrived first
                    // and been refused. Ask for the current one again.
                    self.actions.push_back(Action::Resync);
                }
                _ => self.reject(MessageKind::Command, Refusal::BadNewKey { key_id }),
            },
        }
    }

    fn on_ack(&mut self, envelope: &[u8]) {
        let ack: Ack = match v1::open(envelope, &self.server_key) {
            Ok(a) => a,
            Err(e) => return self.reject(MessageKind::Ack, Refusal::Protocol(e)),
        };
        if ack.screen_id != self.config.screen_id {
            let refusal = Refusal::Protocol(Rejected::WrongScreen {
                expected: self.config.screen_id.clone(),
                got: ack.screen_id,
            });
            return self.reject(MessageKind::Ack, refusal);
        }
        self.actions.push_back(Action::Acked {
            boot_id: ack.boot_id,
            upto_seq: ack.upto_seq,
            refused: ack.refused,
        });
    }

    /// Re-decides what plays at `now`: switch a ready pending rotation, drop
    /// an expired one, pick the slot or a fallback, and record transitions.
    fn evaluate(&mut self, now: Timestamp) {
        if let Some(pending) = &self.pending {
            if pending.rotation.expires_at <= now {
                self.pending = None;
                self.actions
                    .push_back(Action::Persist(Persist::PendingRotation { envelope: None }));
                self.actions.push_back(Action::PublishState);
            } else if self.ready_to_switch(&pending.rotation, now) {
                if let Some(held) = self.pending.take() {
                    let version = held.rotation.version;
                    self.switch_to(held);
                    self.actions
                        .push_back(Action::Persist(Persist::PendingRotation { envelope: None }));
                    self.actions.push_back(Action::Accepted {
                        version,
                        switched: true,
                    });
                    self.actions.push_back(Action::PublishState);
                }
            }
        }

        let stale = match &self.current {
            None => true,
            Some(h) => h.rotation.expires_at <= now,
        };
        if stale != self.stale {
            self.stale = stale;
            self.actions.push_back(Action::PublishState);
        }

        self.failed.retain(|f| f.until > now);
        let brightness = self.current.as_ref().map(|h| h.rotation.brightness_at(now));
        self.brightness_changes_at = brightness.and_then(|b| b.changes_at);
        let percent = brightness.map_or(100, |b| b.percent);
        if percent == 0 {
            // Off by the schedule: nothing is on the glass, so no record.
            self.end_showing(now, PlayOutcome::Completed);
        }
        if percent != self.brightness {
            self.brightness = percent;
            self.actions.push_back(Action::Brightness { percent });
            self.actions.push_back(Action::PublishState);
        }
        if percent == 0 {
            return;
        }
        if self.display_missing {
            self.end_showing(now, PlayOutcome::Interrupted);
            return;
        }
        let choice = self.choose(now);
        let media = content_media(&choice.content);
        if self
            .failed
            .iter()
            .any(|f| f.media == media && f.slot_started_at == choice.slot_started_at)
        {
            self.end_showing(now, PlayOutcome::Interrupted);
            return;
        }
        let same = self.showing.as_ref().is_some_and(|s| {
            s.content == choice.content
                && s.slot_started_at == choice.slot_started_at
                && s.rotation_version == choice.rotation_version
                && now < s.ends_at
        });
        if same {
            // The end may move (a block boundary appeared or media arrived).
            if let Some(s) = self.showing.as_mut() {
                s.ends_at = choice.ends_at;
            }
            return;
        }
        self.end_showing(now, PlayOutcome::Completed);
        self.start_showing(now, choice);
    }

    fn end_showing(&mut self, now: Timestamp, outcome: PlayOutcome) {
        if let Some(previous) = self.showing.take() {
            if previous.seq != 0 {
                self.actions.push_back(Action::JournalEnd {
                    seq: previous.seq,
                    ended_at: now.max(previous.started_at),
                    outcome,
                });
            }
        }
    }

    fn start_showing(&mut self, now: Timestamp, mut choice: Showing) {
        choice.started_at = now;
        if !matches!(choice.content, Content::Identify { .. }) {
            choice.seq = self.next_seq;
            self.next_seq += 1;
            let media = content_media(&choice.content);
            self.actions.push_back(Action::JournalStart(PlayRecord {
                seq: choice.seq,
                media,
                material_id: choice.material_id.clone(),
                rotation_version: choice.rotation_version,
                is_warning: choice.is_warning,
                started_at: now,
                ended_at: None,
                outcome: PlayOutcome::Interrupted,
                clock_suspect: self.clock_suspect,
                bridge: None,
            }));
        }
        self.actions.push_back(Action::Show(choice.clone()));
        self.showing = Some(choice);
    }

    /// What should be on screen at `now`.
    fn choose(&self, now: Timestamp) -> Showing {
        if let Some(until) = self.identify_until.filter(|&until| now < until) {
            return Showing {
                content: Content::Identify {
                    text: self.config.screen_id.as_str().to_uppercase(),
                },
                seq: 0,
                slot_started_at: now,
                started_at: now,
                ends_at: until,
                fallback: false,
                material_id: "identify".to_owned(),
                rotation_version: None,
                is_warning: false,
            };
        }
        let Some(held) = &self.current else {
            return self.builtin_at(now, None);
        };
        let rotation = &held.rotation;
        let expired = rotation.expires_at <= now;
        let limit = if expired {
            None
        } else {
            Some(rotation.expires_at)
        };
        if !expired {
            if let Some(position) = rotation.slot_at(now) {
                let ends_at = cap(position.slot_ends_at, limit);
                if let Some(slot) = rotation.slot(&position) {
                    if self.playable(slot.media, slot.kind, position.slot_started_at) {
                        return Showing {
                            content: Content::Media {
                                media: slot.media,
                                kind: slot.kind,
                            },
                            seq: 0,
                            slot_started_at: position.slot_started_at,
                            started_at: now,
                            ends_at,
                            fallback: false,
                            material_id: slot.material_id.clone(),
                            rotation_version: Some(rotation.version),
                            is_warning: slot.is_warning,
                        };
                    }
                }
                // The slot cannot play (media missing or corrupt, or video
                // without a sink): a fallback fills it until it ends.
                return self.fallback_at(rotation, now, Some(ends_at));
            }
        }
        self.fallback_at(rotation, now, limit)
    }

    fn playable(&self, media: Sha256, kind: SlotKind, slot_started_at: Timestamp) -> bool {
        self.cached.contains(&media)
            && (self.config.video_supported || kind != SlotKind::Video)
            && !self
                .failed
                .iter()
                .any(|f| f.media == media && f.slot_started_at == slot_started_at)
    }

    fn fallback_at(
        &self,
        rotation: &Rotation,
        now: Timestamp,
        limit: Option<Timestamp>,
    ) -> Showing {
        if let Some(position) = rotation.fallback_at(now) {
            if let Some(slot) = rotation.slot(&position) {
                if self.playable(slot.media, slot.kind, position.slot_started_at) {
                    return Showing {
                        content: Content::Media {
                            media: slot.media,
                            kind: slot.kind,
                        },
                        seq: 0,
                        slot_started_at: position.slot_started_at,
                        started_at: now,
                        ends_at: cap(position.slot_ends_at, limit),
                        fallback: true,
                        material_id: slot.material_id.clone(),
                        rotation_version: Some(rotation.version),
                        is_warning: slot.is_warning,
                    };
                }
            }
        }
        // The built-in warnings, cut where the rotation changes.
        let next_edge = rotation
            .blocks
            .iter()
            .flat_map(|b| [b.from, b.until])
            .chain(std::iter::once(rotation.expires_at))
            .filter(|&edge| edge > now)
            .min();
        let limit = match (limit, next_edge) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.builtin_at(now, limit)
    }

    fn builtin_at(&self, now: Timestamp, limit: Option<Timestamp>) -> Showing {
        let (index, started, ends) = builtin::position_at(now, self.config.builtin_slot_ms);
        Showing {
            content: Content::Builtin { index },
            seq: 0,
            slot_started_at: started,
            started_at: now,
            ends_at: cap(ends, limit),
            fallback: true,
            material_id: builtin::material_id(index),
            rotation_version: None,
            is_warning: true,
        }
    }
}

/// The media a play record names for `content`.
fn content_media(content: &Content) -> Sha256 {
    match content {
        Content::Media { media, .. } => *media,
        Content::Builtin { index } => builtin::media(*index),
        Content::Identify { .. } => builtin::media(0),
    }
}

fn cap(t: Timestamp, limit: Option<Timestamp>) -> Timestamp {
    match limit {
        Some(limit) => t.min(limit),
        None => t,
    }
}

#[cfg(test)]
mod tests;
