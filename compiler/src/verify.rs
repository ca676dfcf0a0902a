//! Measures what a rotation would show over a time window, following the
//! protocol's own playback function (`Rotation::position_at`), so rules can
//! be checked against exactly what an agent plays.
//!
//! Used by the compiler's tests and usable by compliance reports; it does not
//! decide which windows matter (the caller passes opening hours).

use ledcast_protocol::v1 as protocol;
use protocol::Timestamp;

/// What a rotation shows within one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Airtime {
    /// Milliseconds of warnings on screen.
    pub warning_ms: i64,
    /// Milliseconds measured (the window's length).
    pub total_ms: i64,
    /// Longest stretch without a warning on screen (window edges count).
    pub longest_gap_ms: i64,
    /// Milliseconds with nothing to play (no block and no fallback).
    pub blank_ms: i64,
}

impl Airtime {
    /// Warning share of the window (0 for an empty window).
    pub fn warning_share(&self) -> f64 {
        if self.total_ms == 0 {
            0.0
        } else {
            self.warning_ms as f64 / self.total_ms as f64
        }
    }
}

/// Walks `rotation` slot by slot over `[from, until)`.
pub fn airtime(rotation: &protocol::Rotation, from: i64, until: i64) -> Airtime {
    let mut out = Airtime {
        total_ms: (until - from).max(0),
        ..Airtime::default()
    };
    let mut t = from;
    let mut gap = 0i64;
    while t < until {
        let (end, warning) = match rotation.position_at(Timestamp(t)) {
            Some(position) => {
                let warning = rotation.slot(&position).is_some_and(|s| s.is_warning);
                (position.slot_ends_at.0.min(until), warning)
            }
            None => {
                // Blank until the next block edge.
                let next = rotation
                    .blocks
                    .iter()
                    .flat_map(|b| [b.from.0, b.until.0])
                    .filter(|&e| e > t)
                    .min()
                    .unwrap_or(until)
                    .min(until);
                out.blank_ms += next - t;
                (next, false)
            }
        };
        let end = end.max(t + 1);
        if warning {
            out.warning_ms += end - t;
            gap = 0;
        } else {
            gap += end - t;
            out.longest_gap_ms = out.longest_gap_ms.max(gap);
        }
        t = end;
    }
    out
}
