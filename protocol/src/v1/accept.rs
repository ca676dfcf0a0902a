//! Deciding whether an agent may switch to a rotation, and the one error type
//! for everything an agent or the server refuses to take off the wire.
//!
//! Pure: time arrives as `now`. This module decides; it does not log, store
//! or remember anything (the caller keeps `highest_version_seen`).

use std::collections::HashSet;
use std::fmt;

use super::ids::{ScreenId, Sha256};
use super::time::Timestamp;
use super::types::{Rotation, Slot};

/// Why a message was refused. Each variant says what an operator needs to act.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// The envelope is larger than the configured cap; it was not read.
    Oversize { size: usize, max: usize },
    /// The envelope or its payload is not the expected JSON.
    Malformed { detail: String },
    /// Signed by a key this verifier does not trust.
    UnknownKey { key_id: String, trusted: String },
    /// The signature does not verify against the trusted key.
    BadSignature,
    /// A message for another screen.
    WrongScreen { expected: ScreenId, got: ScreenId },
    /// The same version as the highest already seen (a replay).
    Replay { version: u64 },
    /// A version below the highest already seen (a rollback).
    Rollback { version: u64, highest_seen: u64 },
    /// Already expired (a frozen, withheld rotation).
    Expired {
        expires_at: Timestamp,
        now: Timestamp,
    },
    /// Issued further in the future than clock skew explains.
    IssuedInFuture {
        issued_at: Timestamp,
        now: Timestamp,
    },
    /// Expires before it was issued.
    ExpiresBeforeIssued {
        issued_at: Timestamp,
        expires_at: Timestamp,
    },
    /// A block whose `until` is not after its `from`.
    EmptyBlock { block: usize },
    /// A block with no slots.
    EmptyLoop { block: usize },
    /// A slot with a zero duration.
    ZeroDuration { block: Option<usize>, slot: usize },
    /// Two blocks of the same priority overlap, so playback would be ambiguous.
    AmbiguousOverlap {
        first: usize,
        second: usize,
        priority: i32,
    },
    /// A slot references media that `media` does not list (no signed size or hash).
    UnlistedMedia { media: Sha256 },
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Oversize { size, max } => {
                write!(f, "message of {size} bytes exceeds the {max}-byte limit; not read")
            }
            Rejected::Malformed { detail } => write!(f, "malformed message: {detail}"),
            Rejected::UnknownKey { key_id, trusted } => write!(
                f,
                "signed by unknown key {key_id:?} (trusted: {trusted:?}); re-enroll if the server key changed"
            ),
            Rejected::BadSignature => {
                write!(f, "signature does not verify: forged or corrupted message")
            }
            Rejected::WrongScreen { expected, got } => {
                write!(f, "message is for screen {got:?}, this is screen {expected:?}")
            }
            Rejected::Replay { version } => {
                write!(f, "rotation version {version} already seen (replay)")
            }
            Rejected::Rollback { version, highest_seen } => write!(
                f,
                "rotation version {version} is older than version {highest_seen} already seen (rollback)"
            ),
            Rejected::Expired { expires_at, now } => write!(
                f,
                "rotation expired at {} ms, {} s ago",
                expires_at.0,
                now.millis_since(*expires_at) / 1000
            ),
            Rejected::IssuedInFuture { issued_at, now } => write!(
                f,
                "rotation issued {} s in the future; check this device's clock",
                issued_at.millis_since(*now) / 1000
            ),
            Rejected::ExpiresBeforeIssued { issued_at, expires_at } => write!(
                f,
                "rotation expires ({} ms) before it was issued ({} ms)",
                expires_at.0, issued_at.0
            ),
            Rejected::EmptyBlock { block } => write!(f, "block {block} ends before it starts"),
            Rejected::EmptyLoop { block } => write!(f, "block {block} has no slots"),
            Rejected::ZeroDuration { block: Some(block), slot } => {
                write!(f, "slot {slot} of block {block} has zero duration")
            }
            Rejected::ZeroDuration { block: None, slot } => {
                write!(f, "fallback slot {slot} has zero duration")
            }
            Rejected::AmbiguousOverlap { first, second, priority } => write!(
                f,
                "blocks {first} and {second} overlap at the same priority {priority}"
            ),
            Rejected::UnlistedMedia { media } => {
                write!(f, "slot references media {media} that the rotation does not list")
            }
        }
    }
}

impl std::error::Error for Rejected {}

/// Tunables of [`accept_rotation_with_limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptLimits {
    /// How far `issued_at` may lie ahead of the agent's clock.
    pub max_issued_ahead_ms: i64,
}

impl Default for AcceptLimits {
    fn default() -> Self {
        AcceptLimits {
            max_issued_ahead_ms: 15 * 60 * 1000,
        }
    }
}

/// Whether an agent for `screen_id`, having seen versions up to
/// `highest_version_seen`, may take `candidate` at `now` (default limits).
pub fn accept_rotation(
    candidate: &Rotation,
    screen_id: &ScreenId,
    highest_version_seen: Option<u64>,
    now: Timestamp,
) -> Result<(), Rejected> {
    accept_rotation_with_limits(
        candidate,
        screen_id,
        highest_version_seen,
        now,
        AcceptLimits::default(),
    )
}

/// [`accept_rotation`] with explicit limits.
pub fn accept_rotation_with_limits(
    candidate: &Rotation,
    screen_id: &ScreenId,
    highest_version_seen: Option<u64>,
    now: Timestamp,
    limits: AcceptLimits,
) -> Result<(), Rejected> {
    if &candidate.screen_id != screen_id {
        return Err(Rejected::WrongScreen {
            expected: screen_id.clone(),
            got: candidate.screen_id.clone(),
        });
    }
    if let Some(highest_seen) = highest_version_seen {
        if candidate.version == highest_seen {
            return Err(Rejected::Replay {
                version: candidate.version,
            });
        }
        if candidate.version < highest_seen {
            return Err(Rejected::Rollback {
                version: candidate.version,
                highest_seen,
            });
        }
    }
    if candidate.expires_at <= candidate.issued_at {
        return Err(Rejected::ExpiresBeforeIssued {
            issued_at: candidate.issued_at,
            expires_at: candidate.expires_at,
        });
    }
    if candidate.expires_at <= now {
        return Err(Rejected::Expired {
            expires_at: candidate.expires_at,
            now,
        });
    }
    if candidate.issued_at.millis_since(now) > limits.max_issued_ahead_ms {
        return Err(Rejected::IssuedInFuture {
            issued_at: candidate.issued_at,
            now,
        });
    }
    check_structure(candidate)
}

/// Structural checks that do not depend on the agent: block shapes, overlaps
/// and media listing. The server runs these before it signs.
pub fn check_structure(rotation: &Rotation) -> Result<(), Rejected> {
    let listed: HashSet<Sha256> = rotation.media.iter().map(|m| m.sha256).collect();
    let check_slots = |block: Option<usize>, slots: &[Slot]| -> Result<(), Rejected> {
        for (slot_index, slot) in slots.iter().enumerate() {
            if slot.duration_ms == 0 {
                return Err(Rejected::ZeroDuration {
                    block,
                    slot: slot_index,
                });
            }
            if !listed.contains(&slot.media) {
                return Err(Rejected::UnlistedMedia { media: slot.media });
            }
        }
        Ok(())
    };
    for (index, block) in rotation.blocks.iter().enumerate() {
        if block.until <= block.from {
            return Err(Rejected::EmptyBlock { block: index });
        }
        if block.slots.is_empty() {
            return Err(Rejected::EmptyLoop { block: index });
        }
        check_slots(Some(index), &block.slots)?;
    }
    check_slots(None, &rotation.fallback)?;

    let mut order: Vec<usize> = (0..rotation.blocks.len()).collect();
    order.sort_by_key(|&i| (rotation.blocks[i].priority, rotation.blocks[i].from));
    for pair in order.windows(2) {
        let (a, b) = (&rotation.blocks[pair[0]], &rotation.blocks[pair[1]]);
        if a.priority == b.priority && b.from < a.until {
            let (first, second) = (pair[0].min(pair[1]), pair[0].max(pair[1]));
            return Err(Rejected::AmbiguousOverlap {
                first,
                second,
                priority: a.priority,
            });
        }
    }
    Ok(())
}
