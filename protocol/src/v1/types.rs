//! The messages of protocol v1. Field names are the wire names.
//!
//! Optional fields added after the first release carry `#[serde(default)]`
//! so that old messages still parse; nothing here denies unknown fields.

use serde::{Deserialize, Serialize};

use super::ids::{BootId, ScreenId, Sha256};
use super::time::Timestamp;

/// A compiled, per-screen timetable (DESIGN.md §4). Playback is a pure
/// function of the wall clock: see [`Rotation::slot_at`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rotation {
    /// The screen this rotation is for; an agent refuses any other.
    pub screen_id: ScreenId,
    /// Strictly increasing per screen; an agent refuses anything not above the highest it has seen.
    pub version: u64,
    /// When the server compiled it.
    pub issued_at: Timestamp,
    /// After this instant the agent plays the fallback and reports `stale`.
    pub expires_at: Timestamp,
    /// IANA time zone of the screen (e.g. `Asia/Shanghai`), for display and reports.
    pub timezone: String,
    /// Timed blocks; at any instant the highest-priority block containing it plays.
    pub blocks: Vec<Block>,
    /// What plays when no block covers the instant (signed, approved standard warnings).
    pub fallback: Vec<Slot>,
    /// Every media item the blocks and fallback reference, with its signed size.
    pub media: Vec<MediaRef>,
    /// The panel's brightness schedule, compiled into concrete windows in
    /// the screen's time zone over `[issued_at, expires_at)`: sorted, not
    /// overlapping. Outside every window the panel is at full brightness;
    /// see [`Rotation::brightness_at`]. Added after v1's first release:
    /// older servers send none and older agents ignore it (they play at
    /// full brightness, as before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brightness: Vec<BrightnessWindow>,
}

/// A stretch of time in which the panel is dimmed or switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BrightnessWindow {
    /// Start (inclusive).
    pub from: Timestamp,
    /// End (exclusive).
    pub until: Timestamp,
    /// Brightness in percent of full: 1–100 scales what is drawn; 0 means
    /// the panel is off (dark, and no play record: nothing is on the glass).
    /// Values above 100 are read as 100.
    pub percent: u8,
}

/// A half-open interval `[from, until)` that loops its slots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Block {
    /// Start of the block (inclusive); also the loop's phase origin.
    pub from: Timestamp,
    /// End of the block (exclusive).
    pub until: Timestamp,
    /// Higher wins where blocks overlap; overlapping blocks must differ in priority.
    pub priority: i32,
    /// The loop: slot `i` plays from `from + sum(durations[..i]) (mod loop length)`.
    pub slots: Vec<Slot>,
}

/// One item in a loop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Slot {
    /// The rendition to show (listed in [`Rotation::media`]).
    pub media: Sha256,
    /// How long the slot lasts, in milliseconds (> 0).
    pub duration_ms: u64,
    /// How the media is shown.
    pub kind: SlotKind,
    /// The material this rendition was made from (for play records and reports).
    pub material_id: String,
    /// Whether the slot counts as an anti-fraud warning for compliance rules.
    pub is_warning: bool,
}

/// How a slot's media is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SlotKind {
    /// A still image, shown for the slot's duration.
    Still,
    /// A video, played from its start.
    Video,
    /// A horizontal strip moved right-to-left across the screen at a fixed
    /// speed; where it stands and how long a pass lasts: [`super::scroll`].
    Scroll {
        /// Pixels per second.
        px_per_second: u32,
    },
}

/// A media item an agent must fetch over HTTP (`GET /media/{sha256}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MediaRef {
    /// Content address; the agent checks it before the file enters its cache.
    pub sha256: Sha256,
    /// Exact size; the agent stops reading at this many bytes.
    pub size_bytes: u64,
    /// MIME type (`image/png`, `video/mp4`).
    pub mime: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// What an agent reports on its retained `state` topic. Its Last Will is
/// the same message with `status = offline`, signed at connect time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentState {
    /// The reporting screen.
    pub screen_id: ScreenId,
    /// The agent process run that reports.
    pub boot_id: BootId,
    /// Online, or offline (the Last Will).
    pub status: Presence,
    /// When the agent produced this report (its own clock).
    pub reported_at: Timestamp,
    /// Version of the rotation in use, if any.
    pub rotation_version: Option<u64>,
    /// Version received but waiting for its media, if any.
    #[serde(default)]
    pub pending_version: Option<u64>,
    /// What is on the screen now.
    #[serde(default)]
    pub now_playing: Option<NowPlaying>,
    /// True when the agent plays the fallback because nothing valid covers now.
    pub stale: bool,
    /// Media cache figures.
    #[serde(default)]
    pub cache: CacheStatus,
    /// Play records written but not yet acknowledged by the server.
    #[serde(default)]
    pub journal_pending: u64,
    /// True when the journal is close to full.
    #[serde(default)]
    pub journal_alarm: bool,
    /// The last error, in words an operator can act on.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Warnings that do not stop playback (e.g. "video slots skipped: no mpv").
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Agent build version.
    #[serde(default)]
    pub agent_version: String,
    /// What the LED controller card reports, when the agent drives one
    /// through a vendor bridge instead of drawing frames itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeState>,
    /// When the agent's current broker connection began (its own clock):
    /// every report of one connection, its Last Will included, carries the
    /// same instant, and a reconnect takes a later one. It orders reports,
    /// see [`AgentState::supersedes`]. Added after v1's first release;
    /// older agents leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Timestamp>,
    /// True while the agent distrusts its wall clock (it stepped back, or a
    /// signed rotation was issued after it): a board without a battery
    /// clock that booted before time sync refuses its saved rotation and
    /// shows the built-in warnings. Added after v1's first release.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clock_suspect: bool,
    /// True while the agent's display device is missing or fails (e.g. no
    /// `/dev/fb0`): nothing is on the glass and nothing is journaled as
    /// played; the agent retries. Added after v1's first release.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub display_missing: bool,
}

impl AgentState {
    /// Whether this report comes after `previous` (the last one the server
    /// kept for the screen), so that a replayed older report changes
    /// nothing. Within one agent run (`boot_id`) a later connection wins
    /// (`connected_at`; the agent signs each connection's Last Will anew,
    /// so a will of an ended connection is older than everything after
    /// it). Within one connection the presence may change (its will ends
    /// it; a broker that hands out the will of a connection still up is
    /// answered with a fresh online report); the same presence again is
    /// taken only with a later `reported_at` (an online resend that ties is
    /// taken: it changes nothing). Another run is taken only when it
    /// reports online, and from a connection that began later or while the
    /// screen is recorded offline (a device that boots with its clock
    /// behind still comes back). Reports without `connected_at` (older
    /// agents) cannot be ordered and are taken.
    pub fn supersedes(&self, previous: &AgentState) -> bool {
        let (Some(connected), Some(previous_connected)) =
            (self.connected_at, previous.connected_at)
        else {
            return true;
        };
        if self.boot_id != previous.boot_id {
            return self.status == Presence::Online
                && (connected > previous_connected || previous.status == Presence::Offline);
        }
        if connected != previous_connected {
            return connected > previous_connected;
        }
        if self.status != previous.status {
            return true;
        }
        self.reported_at > previous.reported_at
            || (self.reported_at == previous.reported_at && self.status == Presence::Online)
    }
}

/// What a bridged controller card reports (DESIGN.md §7), as of `checked_at`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BridgeState {
    /// Controller family, e.g. `huidu`.
    pub vendor: String,
    /// How the agent reaches it, e.g. `192.168.10.20:10001`.
    pub address: String,
    /// Whether the last conversation with the card succeeded.
    pub reachable: bool,
    /// The card's id, model and firmware, as it reports them.
    #[serde(default)]
    pub device: Option<BridgeDevice>,
    /// The loop the agent last uploaded and the card acknowledged.
    #[serde(default)]
    pub uploaded_loop: Option<String>,
    /// The program the card reports playing now.
    #[serde(default)]
    pub playing_program: Option<String>,
    /// True while the card confirms it plays the loop the agent's records
    /// describe; play records are evidence only while this holds.
    #[serde(default)]
    pub confirmed: bool,
    /// Brightness policy the card reports (`default`, `ploys`, `sensor`).
    #[serde(default)]
    pub brightness_mode: Option<String>,
    /// The fixed level in `default` mode (percent).
    #[serde(default)]
    pub brightness_percent: Option<u8>,
    /// The daily schedule in `ploys` mode, e.g. `07:00:00 80%, 19:30:00 30%`.
    #[serde(default)]
    pub brightness_schedule: Option<String>,
    /// The last problem, in words an operator can act on.
    #[serde(default)]
    pub last_error: Option<String>,
    /// When the card last answered (agent clock).
    #[serde(default)]
    pub checked_at: Option<Timestamp>,
    /// When the uploaded loop was acknowledged (agent clock).
    #[serde(default)]
    pub uploaded_at: Option<Timestamp>,
    /// When the card's last screenshot was taken (agent clock); it is
    /// uploaded as the screen's screenshot.
    #[serde(default)]
    pub screenshot_at: Option<Timestamp>,
}

/// A bridged card's identity.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BridgeDevice {
    /// Device id, e.g. `WF2-D00-A0001`.
    pub id: String,
    /// Model, e.g. `HD-WF2`.
    pub model: String,
    /// Firmware version.
    pub firmware: String,
    /// Panel width in pixels, as configured on the card.
    pub width: u32,
    /// Panel height in pixels, as configured on the card.
    pub height: u32,
}

/// Online or offline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Connected and playing.
    Online,
    /// Disconnected (Last Will) or shut down.
    Offline,
}

/// What a screen is showing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NowPlaying {
    /// The media shown.
    pub media: Sha256,
    /// Its material.
    pub material_id: String,
    /// Since when.
    pub since: Timestamp,
    /// True when this comes from the fallback.
    pub fallback: bool,
}

/// Cache figures for the state report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CacheStatus {
    /// Items in the cache.
    pub items: u64,
    /// Bytes in the cache.
    pub bytes: u64,
    /// Items the current or pending rotation needs that are not cached yet.
    pub missing: u64,
}

/// One thing a screen showed, from when to when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlayRecord {
    /// Sequence number, unique within `(screen, boot_id)`.
    pub seq: u64,
    /// The media shown.
    pub media: Sha256,
    /// Its material.
    pub material_id: String,
    /// The rotation it came from (`None` for the built-in fallback).
    pub rotation_version: Option<u64>,
    /// Whether it was an anti-fraud warning.
    pub is_warning: bool,
    /// When it went on screen (agent clock).
    pub started_at: Timestamp,
    /// When it left the screen; `None` if the agent died while showing it.
    pub ended_at: Option<Timestamp>,
    /// How it ended.
    pub outcome: PlayOutcome,
    /// True when the agent had reason to distrust its clock (e.g. it went backwards).
    #[serde(default)]
    pub clock_suspect: bool,
    /// Set when a controller card played this (the agent uploaded the loop
    /// through a vendor bridge and computed the record from its own clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<BridgeEvidence>,
}

/// How far a bridged play record is proven.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BridgeEvidence {
    /// Controller family, e.g. `huidu`.
    pub vendor: String,
    /// The card confirmed, from the record's start to its end, that it held
    /// and played this loop. When false the time is unproven, not compliant.
    pub confirmed: bool,
}

/// How a play ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlayOutcome {
    /// Shown for its whole slot (or until its block ended).
    Completed,
    /// It left the screen before its slot ended: the agent stopped (crash,
    /// power cut, shutdown), or what showed it failed (the video player
    /// exited, the display went away). `ended_at` says when; a record the
    /// agent could not show at all ends when it started.
    Interrupted,
}

/// A batch of play records on the `plays` topic. Ingest is idempotent on
/// `(screen, boot_id, seq)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PlayBatch {
    /// The reporting screen.
    pub screen_id: ScreenId,
    /// The run the records belong to.
    pub boot_id: BootId,
    /// Lowest `seq` in `records`.
    pub first_seq: u64,
    /// Highest `seq` in `records`.
    pub last_seq: u64,
    /// The records, in `seq` order.
    pub records: Vec<PlayRecord>,
}

/// The server's acknowledgement: every record of `boot_id` up to and
/// including `upto_seq` is stored and may be deleted from the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Ack {
    /// The screen acknowledged.
    pub screen_id: ScreenId,
    /// The run acknowledged.
    pub boot_id: BootId,
    /// Highest sequence number stored.
    pub upto_seq: u64,
    /// Records of the batch the server refused (stored nowhere) and why.
    /// They are acknowledged all the same: the agent drops them with the
    /// rest instead of resending them forever. Added after v1's first
    /// release; an old agent ignores it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<RefusedRecord>,
}

/// One play record the server refused, named by its `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RefusedRecord {
    /// The refused record's sequence number.
    pub seq: u64,
    /// Why it was refused.
    pub reason: RecordRefusal,
}

/// Why a play record was refused. New reasons may be added; an agent that
/// does not know one reads it as [`RecordRefusal::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecordRefusal {
    /// `seq` lies outside the batch's `first_seq..=last_seq`.
    SeqOutsideBatch,
    /// `seq` is above [`MAX_PLAY_SEQ`] (no store can keep it).
    SeqTooLarge,
    /// Another record of the same batch has the same `seq`.
    DuplicateSeq,
    /// `started_at` or `ended_at` lies outside [`PLAY_TIME_RANGE_MS`].
    TimeOutOfRange,
    /// `ended_at` is before `started_at`.
    EndsBeforeStart,
    /// The record lasts longer than [`MAX_PLAY_MS`].
    TooLong,
    /// `rotation_version` is above [`MAX_PLAY_SEQ`].
    VersionTooLarge,
    /// A reason this build does not know.
    #[serde(other)]
    Other,
}

impl RecordRefusal {
    /// The reason in words, Chinese then English, for logs and operators.
    pub fn describe(self) -> &'static str {
        match self {
            RecordRefusal::SeqOutsideBatch => {
                "序号不在本批次范围内 / seq outside the batch's first_seq..=last_seq"
            }
            RecordRefusal::SeqTooLarge => "序号过大 / seq too large to store",
            RecordRefusal::DuplicateSeq => "同一批次中序号重复 / seq repeated within the batch",
            RecordRefusal::TimeOutOfRange => "时间超出合理范围 / time outside 1970..9999",
            RecordRefusal::EndsBeforeStart => "结束时间早于开始时间 / ended before it started",
            RecordRefusal::TooLong => "单条播放时长超过 7 天 / one play longer than 7 days",
            RecordRefusal::VersionTooLarge => {
                "节目版本号过大 / rotation version too large to store"
            }
            RecordRefusal::Other => "其他原因 / another reason",
        }
    }
}

/// Highest `seq` (and `rotation_version`) a play record may carry: stores
/// keep them as signed 64-bit integers.
pub const MAX_PLAY_SEQ: u64 = i64::MAX as u64;

/// Instants a play record may name: 1970-01-01 up to the end of 9999 (UTC),
/// in milliseconds.
pub const PLAY_TIME_RANGE_MS: std::ops::RangeInclusive<i64> = 0..=253_402_300_799_999;

/// Longest one play record may last (7 days), in milliseconds.
pub const MAX_PLAY_MS: i64 = 7 * 24 * 3600 * 1000;

impl PlayRecord {
    /// Why this record cannot be stored as evidence on its own terms (its
    /// place in a batch aside), or `None` when it can.
    pub fn refusal(&self) -> Option<RecordRefusal> {
        if self.seq > MAX_PLAY_SEQ {
            return Some(RecordRefusal::SeqTooLarge);
        }
        if self.rotation_version.is_some_and(|v| v > MAX_PLAY_SEQ) {
            return Some(RecordRefusal::VersionTooLarge);
        }
        let started = self.started_at.as_millis();
        if !PLAY_TIME_RANGE_MS.contains(&started) {
            return Some(RecordRefusal::TimeOutOfRange);
        }
        if let Some(ended) = self.ended_at.map(Timestamp::as_millis) {
            if !PLAY_TIME_RANGE_MS.contains(&ended) {
                return Some(RecordRefusal::TimeOutOfRange);
            }
            if ended < started {
                return Some(RecordRefusal::EndsBeforeStart);
            }
            if ended - started > MAX_PLAY_MS {
                return Some(RecordRefusal::TooLong);
            }
        }
        None
    }
}

impl PlayBatch {
    /// Removes every record that cannot be stored (see
    /// [`PlayRecord::refusal`], plus a `seq` outside `first_seq..=last_seq`
    /// or repeated within the batch) and returns them with their reasons,
    /// in batch order. What stays is safe to store.
    pub fn take_refused(&mut self) -> Vec<RefusedRecord> {
        let range = self.first_seq..=self.last_seq;
        let mut seen = std::collections::HashSet::new();
        let mut refused = Vec::new();
        self.records.retain(|record| {
            let reason = if !range.contains(&record.seq) {
                Some(RecordRefusal::SeqOutsideBatch)
            } else if let Some(reason) = record.refusal() {
                Some(reason)
            } else if !seen.insert(record.seq) {
                Some(RecordRefusal::DuplicateSeq)
            } else {
                None
            };
            if let Some(reason) = reason {
                refused.push(RefusedRecord {
                    seq: record.seq,
                    reason,
                });
            }
            reason.is_none()
        });
        refused
    }
}

/// A command from the server on the `command` topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Command {
    /// The screen commanded; an agent ignores commands for other screens.
    pub screen_id: ScreenId,
    /// Unique id, for logs and replay protection.
    pub command_id: String,
    /// When the server issued it.
    pub issued_at: Timestamp,
    /// An agent ignores the command after this instant.
    pub expires_at: Timestamp,
    /// What to do.
    pub action: CommandAction,
}

/// What a [`Command`] asks for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CommandAction {
    /// Upload a PNG of the frame on screen now.
    Screenshot,
    /// Fetch the current rotation over HTTP and re-report state.
    Resync,
    /// Show the screen's id for a while, so an installer can find it.
    Identify {
        /// How long to show it.
        seconds: u32,
    },
    /// Trust a new server key from now on (signed by the old one).
    TrustServerKey {
        /// The new key's id.
        key_id: String,
        /// The new ed25519 public key, 64 hex digits.
        public_key_hex: String,
    },
}

/// `POST /api/v1/enroll` request: a one-time code and the agent's own key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnrollRequest {
    /// The one-time enrollment code an admin created for the screen.
    pub code: String,
    /// The agent's ed25519 public key, 64 hex digits.
    pub device_public_key_hex: String,
}

/// `POST /api/v1/enroll` response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EnrollResponse {
    /// The screen this device now is.
    pub screen_id: ScreenId,
    /// MQTT broker URL, e.g. `mqtt://10.0.0.5:1883`.
    pub broker_url: String,
    /// Broker user name for this device.
    pub broker_username: String,
    /// Broker password for this device.
    pub broker_password: String,
    /// The server's signing key id to pin.
    pub server_key_id: String,
    /// The server's ed25519 public key to pin, 64 hex digits.
    pub server_public_key_hex: String,
    /// Base URL for `GET /media/{sha256}`.
    pub media_base_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_kind_wire_form_is_tagged() {
        let json = serde_json::to_string(&SlotKind::Scroll { px_per_second: 32 }).unwrap();
        assert_eq!(json, r#"{"type":"scroll","px_per_second":32}"#);
        assert_eq!(
            serde_json::from_str::<SlotKind>(r#"{"type":"still"}"#).unwrap(),
            SlotKind::Still
        );
    }

    fn record(seq: u64, started: i64, ended: Option<i64>) -> PlayRecord {
        PlayRecord {
            seq,
            media: Sha256([1; 32]),
            material_id: "m".into(),
            rotation_version: Some(1),
            is_warning: true,
            started_at: Timestamp(started),
            ended_at: ended.map(Timestamp),
            outcome: PlayOutcome::Completed,
            clock_suspect: false,
            bridge: None,
        }
    }

    #[test]
    fn absurd_records_are_refused_one_by_one() {
        let day = 1_800_000_000_000;
        let mut too_new = record(6, day, Some(day + 1));
        too_new.rotation_version = Some(u64::MAX);
        let mut batch = PlayBatch {
            screen_id: ScreenId::new("s1").unwrap(),
            boot_id: BootId::new("ab").unwrap(),
            first_seq: 1,
            last_seq: u64::MAX,
            records: vec![
                record(1, day, Some(day + 10_000)),
                record(2, day + 20_000, Some(day + 10_000)),
                record(3, -5, Some(day)),
                record(4, day, Some(i64::MAX)),
                record(5, day, None),
                too_new,
                record(5, day, Some(day + 1)),
                record(7, day, Some(day + MAX_PLAY_MS + 1)),
                record(u64::MAX, day, Some(day + 1)),
            ],
        };
        let refused = batch.take_refused();
        let seqs: Vec<u64> = batch.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![1, 5]);
        let reasons: Vec<(u64, RecordRefusal)> =
            refused.iter().map(|r| (r.seq, r.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (2, RecordRefusal::EndsBeforeStart),
                (3, RecordRefusal::TimeOutOfRange),
                (4, RecordRefusal::TimeOutOfRange),
                (6, RecordRefusal::VersionTooLarge),
                (5, RecordRefusal::DuplicateSeq),
                (7, RecordRefusal::TooLong),
                (u64::MAX, RecordRefusal::SeqTooLarge),
            ]
        );
        let mut narrow = PlayBatch {
            first_seq: 10,
            last_seq: 11,
            records: vec![record(9, day, None), record(10, day, None)],
            ..batch
        };
        let refused = narrow.take_refused();
        assert_eq!(refused[0].reason, RecordRefusal::SeqOutsideBatch);
        assert_eq!(narrow.records.len(), 1);
    }

    #[test]
    fn an_ack_without_refusals_reads_as_before_and_unknown_reasons_parse() {
        let json = r#"{"screen_id":"s1","boot_id":"ab","upto_seq":4}"#;
        let ack: Ack = serde_json::from_str(json).unwrap();
        assert!(ack.refused.is_empty());
        assert_eq!(serde_json::to_string(&ack).unwrap(), json);
        let json = r#"{"screen_id":"s1","boot_id":"ab","upto_seq":4,
                       "refused":[{"seq":3,"reason":"from_the_future"}]}"#;
        let ack: Ack = serde_json::from_str(json).unwrap();
        assert_eq!(ack.refused[0].reason, RecordRefusal::Other);
    }

    fn state(connected_at: Option<i64>, status: Presence, reported_at: i64) -> AgentState {
        let json = format!(
            r#"{{"screen_id":"s1","boot_id":"ab","status":"online","reported_at":{reported_at},
                "rotation_version":null,"stale":false}}"#
        );
        let mut state: AgentState = serde_json::from_str(&json).unwrap();
        state.status = status;
        state.connected_at = connected_at.map(Timestamp);
        state
    }

    #[test]
    fn state_reports_are_ordered_by_connection_then_presence_then_time() {
        use Presence::{Offline, Online};
        // A connection that began at 100: its will is signed at 100.
        let will = state(Some(100), Offline, 100);
        let online = state(Some(100), Online, 150);
        assert!(
            will.supersedes(&online),
            "the real Last Will ends the connection"
        );
        assert!(!will.supersedes(&will), "a replayed will ends it only once");
        assert!(
            online.supersedes(&will),
            "a will handed out while the connection is up is answered"
        );
        let next = state(Some(200), Online, 201);
        assert!(
            next.supersedes(&will),
            "a reconnect starts a new connection"
        );
        assert!(
            !will.supersedes(&next),
            "an old will replayed after a reconnect"
        );
        assert!(online.supersedes(&online), "an online resend is harmless");
        assert!(!state(Some(100), Online, 140).supersedes(&online));
        let shutdown = state(Some(200), Offline, 500);
        assert!(shutdown.supersedes(&next));
        // Another run: online from a later connection, or while offline.
        let mut reboot = state(Some(50), Online, 60);
        reboot.boot_id = BootId::new("cd").unwrap();
        assert!(
            !reboot.supersedes(&next),
            "an old run's online while this one is up"
        );
        assert!(
            reboot.supersedes(&shutdown),
            "a run with its clock behind comes back"
        );
        let mut old_will = state(Some(300), Offline, 300);
        old_will.boot_id = BootId::new("cd").unwrap();
        assert!(
            !old_will.supersedes(&next),
            "another run's will never ends this one"
        );
        // Older agents say nothing about their connection: taken as before.
        assert!(state(None, Offline, 1).supersedes(&next));
        assert!(next.supersedes(&state(None, Offline, 9_999)));
    }

    #[test]
    fn a_rotation_without_brightness_parses_and_is_sent_as_before() {
        // A rotation as servers sent it before brightness windows existed.
        let json = r#"{"screen_id":"s1","version":3,"issued_at":1000,"expires_at":9000,
            "timezone":"Asia/Shanghai","blocks":[],"fallback":[],"media":[]}"#;
        let rotation: Rotation = serde_json::from_str(json).unwrap();
        assert!(rotation.brightness.is_empty());
        assert_eq!(rotation.brightness_at(Timestamp(5000)).percent, 100);
        let sent = serde_json::to_string(&rotation).unwrap();
        assert!(!sent.contains("brightness"), "{sent}");
        // A newer rotation, as an old agent (which has no such field) reads
        // it: unknown fields are ignored, so it still parses.
        let mut dimmed = rotation.clone();
        dimmed.brightness = vec![BrightnessWindow {
            from: Timestamp(2000),
            until: Timestamp(3000),
            percent: 30,
        }];
        let sent = serde_json::to_string(&dimmed).unwrap();
        assert!(
            sent.contains(r#""brightness":[{"from":2000,"until":3000,"percent":30}]"#),
            "{sent}"
        );
        #[derive(Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[allow(dead_code)]
        struct OldRotation {
            screen_id: ScreenId,
            version: u64,
            blocks: Vec<Block>,
        }
        let old: OldRotation = serde_json::from_str(&sent).unwrap();
        assert_eq!(old.version, 3);
        assert_eq!(serde_json::from_str::<Rotation>(&sent).unwrap(), dimmed);
    }

    #[test]
    fn old_state_without_optional_fields_still_parses() {
        let json = r#"{"screen_id":"s1","boot_id":"ab","status":"online","reported_at":5,
                       "rotation_version":3,"stale":false,"field_from_the_future":1}"#;
        let state: AgentState = serde_json::from_str(json).unwrap();
        assert_eq!(state.rotation_version, Some(3));
        assert!(state.warnings.is_empty());
    }
}
