//! What a bridge uploads, independent of the vendor: one loop of items, each
//! an image file shown for a duration (still, or a strip moving left), plus
//! an optional brightness schedule. The agent builds a [`LoopPlan`] from the
//! loop of its signed rotation; each vendor module turns it into its
//! controller's program.

use md5::{Digest, Md5};

/// One loop to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopPlan {
    /// Stable id of the loop (screen, rotation version, block), used to name
    /// the controller's programs so that readback tells which loop plays.
    pub loop_id: String,
    /// Panel width in pixels.
    pub width: u32,
    /// Panel height in pixels.
    pub height: u32,
    /// The items, in playing order.
    pub items: Vec<PlanItem>,
    /// Every file the items name, once each.
    pub files: Vec<PlanFile>,
    /// A brightness schedule to hand to the controller, if one is configured.
    pub brightness: Option<Brightness>,
}

/// One item of the loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanItem {
    /// The file shown (a [`PlanFile::name`]).
    pub file_name: String,
    /// How long it plays, in milliseconds.
    pub duration_ms: u64,
    /// Still or moving strip.
    pub motion: Motion,
    /// The material it shows (for logs and readback).
    pub material_id: String,
    /// Whether it counts as an anti-fraud warning.
    pub is_warning: bool,
}

/// How an item moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Motion {
    /// Shown still, at the panel's size.
    Still,
    /// A strip at panel height moving right to left.
    ScrollLeft {
        /// Pixels per second.
        px_per_second: u32,
    },
}

/// A file to put on the controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanFile {
    /// Its name on the controller (unique per content).
    pub name: String,
    /// Its bytes (PNG).
    pub bytes: Vec<u8>,
}

impl PlanFile {
    /// A file named after the first 16 hex digits of its content address.
    pub fn new(sha256_hex: &str, bytes: Vec<u8>) -> PlanFile {
        PlanFile {
            name: format!("ledcast-{}.png", &sha256_hex[..sha256_hex.len().min(16)]),
            bytes,
        }
    }

    /// Lower-case hex MD5 of the bytes (how controllers name content).
    pub fn md5_hex(&self) -> String {
        md5_hex(&self.bytes)
    }
}

/// Lower-case hex MD5.
pub fn md5_hex(bytes: &[u8]) -> String {
    let digest = Md5::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A daily brightness schedule: from each `start` (local time) on, `percent`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Brightness {
    /// Entries; the last one of a day holds until the first of the next.
    pub entries: Vec<BrightnessEntry>,
}

impl Brightness {
    /// One level all day (a single entry at `00:00:00`): what the agent
    /// sends while it follows the rotation's brightness windows, changing
    /// it at each window edge, so the card needs no time zone. `percent` is
    /// clamped to the card's range, 1–100.
    pub fn all_day(percent: u8) -> Brightness {
        Brightness {
            entries: vec![BrightnessEntry {
                start: "00:00:00".to_owned(),
                percent: percent.clamp(1, 100),
            }],
        }
    }

    /// The level when the schedule is one level all day.
    pub fn all_day_percent(&self) -> Option<u8> {
        match self.entries.as_slice() {
            [only] if only.start.split(':').all(|p| p.parse::<u32>() == Ok(0)) => {
                Some(only.percent)
            }
            _ => None,
        }
    }
}

/// One brightness step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrightnessEntry {
    /// Local time of day, `hh:mm` or `hh:mm:ss`.
    pub start: String,
    /// Brightness, 1–100.
    pub percent: u8,
}

impl LoopPlan {
    /// The loop's length in milliseconds.
    pub fn loop_ms(&self) -> u64 {
        self.items.iter().map(|i| i.duration_ms).sum()
    }

    /// The file named `name`.
    pub fn file(&self, name: &str) -> Option<&PlanFile> {
        self.files.iter().find(|f| f.name == name)
    }
}
